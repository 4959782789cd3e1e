//! ## What it does
//! Warns when a VM's vCPUs are pinned across NUMA nodes.
//!
//! ## Why
//! Memory on the other node is slower, and the guest does not know which of its CPUs are far
//! from which memory. On multi-socket machines and first-generation Threadripper/EPYC this costs
//! more than the extra cores bring. Keep a VM within one node when it fits.
//!
//! ## Example
//! On a dual-socket Xeon whose CPUs alternate between sockets (even → node 0, odd → node 1):
//! ```kdl
//! pin cpus="0,1,2,3"
//! ```
//! spans both nodes; `pin cpus="0,2,4,6"` stays on node 0.

use std::collections::BTreeSet;

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::spec::Pin;

pub(super) const CODE: Code = Code("cpu/cross-numa");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for vm in &cx.spec.vms {
        let (Some(pins), Some(pin)) = (cx.vm_pins(vm), &vm.cpu.pin) else {
            continue;
        };
        if matches!(pin.value, Pin::Auto { .. }) {
            continue; // Automatic placement spans only when it must, and says why.
        }
        let nodes: BTreeSet<u32> = pins
            .iter()
            .filter_map(|c| cx.host.cpu(*c).and_then(|c| c.node))
            .collect();
        if nodes.len() < 2 {
            continue;
        }
        let list: Vec<String> = nodes
            .iter()
            .map(|n| {
                let cpus: crate::model::CpuSet = pins
                    .iter()
                    .copied()
                    .filter(|c| cx.host.cpu(*c).and_then(|c| c.node) == Some(*n))
                    .collect();
                format!("node {n}: {cpus}")
            })
            .collect();
        out.push(
            Diagnostic::warning(
                CODE,
                format!(
                    "VM `{}` is pinned across {} NUMA nodes",
                    vm.name.value,
                    nodes.len()
                ),
            )
            .at(pin.span, "spans nodes")
            .host(list.join("; "))
            .help("pin CPUs of one node when the VM fits in it (`passplan host` shows the nodes)"),
        );
    }
}
