//! ## What it does
//! Warns when a VM's vCPUs are pinned across NUMA nodes — by explicit pins, or by
//! `pin policy="auto"` when no node had room for the whole VM.
//!
//! ## Why
//! Memory on the other node is slower, and a guest that is not told which of its CPUs are far
//! from which memory schedules as if all were near. On multi-socket machines and
//! first-generation Threadripper/EPYC this costs more than the extra cores bring. Keep a VM
//! within one node when it fits. When an automatic placement must span nodes, passplan gives the
//! guest one NUMA cell per host node (`<cpu><numa>`) and binds each cell's memory to its node
//! (`<numatune><memnode>`), so the guest sees the truth; the warning still tells you the VM
//! pays for the hop.
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
        let auto = matches!(pin.value, Pin::Auto { .. });
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
        let (message, help) = if auto {
            (
                format!(
                    "VM `{}` is placed across {} NUMA nodes: no node has {} free CPUs of one kind",
                    vm.name.value,
                    nodes.len(),
                    pins.len()
                ),
                "the guest gets one NUMA cell per node; to keep it on one node, give it fewer vCPUs or free cores there (`passplan host --spec` shows the map)",
            )
        } else {
            (
                format!(
                    "VM `{}` is pinned across {} NUMA nodes",
                    vm.name.value,
                    nodes.len()
                ),
                "pin CPUs of one node when the VM fits in it (`passplan host` shows the nodes)",
            )
        };
        out.push(
            Diagnostic::warning(CODE, message)
                .at(pin.span, "spans nodes")
                .host(list.join("; "))
                .help(help),
        );
    }
}
