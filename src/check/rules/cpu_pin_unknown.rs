//! ## What it does
//! Reports vCPU, emulator or I/O-thread pins on CPUs that do not exist on the host or are
//! offline.
//!
//! ## Why
//! libvirt refuses to start a VM pinned to a CPU the host does not have, and a pin copied from
//! another machine's tutorial is the usual cause.
//!
//! ## Example
//! ```kdl
//! cpu { vcpus 12 threads=2; pin cores="6-11" }
//! ```
//! on an 8-core host (CPUs 0-15): pick cores that exist (`passplan host` shows the CPU map).

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::CpuSet;

pub(super) const CODE: Code = Code("cpu/pin-unknown");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    let online = cx.host.online_cpus();
    let present: CpuSet = cx.host.cpus.iter().map(|c| c.id).collect();
    for vm in &cx.spec.vms {
        let mut sets = Vec::new();
        if let (Some(pins), Some(pin)) = (cx.vm_pins(vm), &vm.cpu.pin) {
            // For `cores`, unknown CPUs are those named, not siblings that could not be found.
            sets.push((pins.into_iter().collect::<CpuSet>(), pin.span, "vCPU pin"));
        }
        if let Some(e) = &vm.cpu.emulator {
            sets.push((e.value.clone(), e.span, "emulator pin"));
        }
        if let Some(cpus) = vm.cpu.iothreads.as_ref().and_then(|i| i.cpus.as_ref()) {
            sets.push((cpus.value.clone(), cpus.span, "I/O thread pin"));
        }
        for (set, span, what) in sets {
            let missing = set.difference(&present);
            let offline = set.intersection(&present).difference(&online);
            if !missing.is_empty() {
                out.push(
                    Diagnostic::error(
                        CODE,
                        format!("{what} names CPUs {missing} that this host does not have"),
                    )
                    .at(span, "no such CPUs")
                    .host(format!("the host has CPUs {present}"))
                    .help("choose CPUs from `passplan host`'s CPU map"),
                );
            }
            if !offline.is_empty() {
                out.push(
                    Diagnostic::error(CODE, format!("{what} names CPUs {offline}, which are offline"))
                        .at(span, "offline")
                        .host(format!("online CPUs: {online}"))
                        .help("bring them online (echo 1 > /sys/devices/system/cpu/cpuN/online) or choose online CPUs"),
                );
            }
        }
    }
}
