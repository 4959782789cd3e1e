//! ## What it does
//! Warns when a VM's pins take every online CPU of the host.
//!
//! ## Why
//! The host still has work while the guest runs — QEMU's own threads, interrupts, the disk and
//! network back ends, the desktop. With no CPU of its own it competes with every vCPU, and the
//! guest stutters under exactly the load pinning was meant to shield it from. `isolate` then has
//! nothing to keep for the host, so passplan writes no isolation hooks for the VM.
//!
//! ## Example
//! On an 8-thread host:
//! ```kdl
//! cpu { vcpus 8 threads=2; pin cores="0-3" }
//! ```
//! Give the VM 6 vCPUs (`pin cores="1-3"`), leaving CPU 0's core to the host.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::CpuSet;

pub(super) const CODE: Code = Code("cpu/no-host-cpu");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    let online = cx.host.online_cpus();
    if online.is_empty() {
        return;
    }
    for vm in &cx.spec.vms {
        let (Some(pins), Some(pin)) = (cx.vm_pins(vm), &vm.cpu.pin) else {
            continue;
        };
        let pinned: CpuSet = pins.into_iter().collect();
        if !online.is_subset(&pinned) {
            continue;
        }
        out.push(
            Diagnostic::warning(
                CODE,
                format!(
                    "VM `{}` takes every online CPU: nothing is left for the host",
                    vm.name.value
                ),
            )
            .at(pin.span, "every CPU")
            .host(format!("online CPUs: {online}"))
            .help("leave the host at least one core (CPU 0's); `isolate` has nothing to keep otherwise"),
        );
    }
}
