//! ## What it does
//! Warns when a VM's vCPUs run on another NUMA node than a device passed to it (a GPU, an NVMe
//! drive, a NIC), for explicit pins and for `pin policy="auto"` alike. The device's node is its
//! sysfs `numa_node`.
//!
//! ## Why
//! On a multi-socket host (and first-generation Threadripper/EPYC) every `PCIe` slot hangs off one
//! node. A guest on the other node reaches its GPU across the inter-socket link: every DMA
//! transfer and interrupt pays the hop, and frame times suffer. `pin policy="auto"` puts a VM on
//! its devices' node whenever enough cores are free there; this warning says when they were not,
//! or when explicit pins chose the far node.
//!
//! ## Example
//! A dual Xeon E5-2670 (node 0: CPUs 0-7,16-23; node 1: CPUs 8-15,24-31) with a GTX 970 at
//! `82:00.0` on node 1:
//! ```kdl
//! vm "gamer3" { cpu { vcpus 6 threads=2; pin cpus="2,18,3,19,4,20" }; passthrough "gtx970" }
//! ```
//! Pin CPUs of node 1 instead (`pin cores="9-11"`), or let `pin policy="auto"` choose.

use std::collections::BTreeSet;

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::CpuSet;

pub(super) const CODE: Code = Code("cpu/remote-device");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    if cx.host.numa_nodes.len() < 2 {
        return;
    }
    for vm in &cx.spec.vms {
        let (Some(pins), Some(pin)) = (cx.vm_pins(vm), &vm.cpu.pin) else {
            continue;
        };
        let mut seen = BTreeSet::new();
        for (reference, device) in cx.vm_devices(vm) {
            let Some(node) = cx.host_device(device).and_then(|d| d.numa_node) else {
                continue;
            };
            if !seen.insert(&device.name.value) {
                continue;
            }
            let Some(home) = cx.host.numa_nodes.iter().find(|n| n.id == node) else {
                continue;
            };
            let far: Vec<u32> = pins
                .iter()
                .copied()
                .filter(|c| cx.host.cpu(*c).and_then(|c| c.node) != Some(node))
                .collect();
            // A VM larger than the device's node must reach beyond it: `cpu/cross-numa` says so.
            let room = home.cpus.intersection(&cx.host.online_cpus()).len();
            if far.is_empty() || pins.len() > room {
                continue;
            }
            let far_nodes: BTreeSet<u32> = far
                .iter()
                .filter_map(|c| cx.host.cpu(*c).and_then(|c| c.node))
                .collect();
            let far_nodes: Vec<String> = far_nodes.iter().map(u32::to_string).collect();
            let far: CpuSet = far.into_iter().collect();
            let help = if matches!(pin.value, crate::spec::Pin::Auto { .. }) {
                format!(
                    "free cores on node {node} (a smaller VM, another VM's cores, a smaller reserve), or pass a device on node {}",
                    far_nodes.join(", ")
                )
            } else {
                format!(
                    "pin CPUs of node {node} ({}), or let pin policy=\"auto\" choose",
                    home.cpus
                )
            };
            out.push(
                Diagnostic::warning(
                    CODE,
                    format!(
                        "VM `{}` runs {} of its {} vCPUs on node {} while `{}` is on node {node}",
                        vm.name.value,
                        far.len(),
                        pins.len(),
                        far_nodes.join(", "),
                        device.name.value
                    ),
                )
                .at(reference.span, format!("on node {node}"))
                .host(format!(
                    "{} is on NUMA node {node} (CPUs {}); CPUs {far} are not",
                    device.pci.value.short(),
                    home.cpus
                ))
                .help(help),
            );
        }
    }
}
