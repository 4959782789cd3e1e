//! ## What it does
//! Reports a VM with `pin policy="auto"` that passplan cannot place: there are not enough
//! whole free physical cores of one kind left after the host reserve and the other VMs.
//!
//! ## Why
//! Automatic pinning gives each guest whole cores with their SMT siblings, never shares a core
//! with the host or another guest, and never mixes performance and efficiency cores. When the
//! cores run out it refuses rather than overlap two guests or split a core: either would cost
//! the latency the pinning exists to save.
//!
//! ## Example
//! A Ryzen 9 3900X has 12 cores (24 CPUs); the host keeps CPU 0's core:
//! ```kdl
//! vm "a" { cpu { vcpus 16 threads=2; pin policy="auto" } }
//! vm "b" { cpu { vcpus 8 threads=2; pin policy="auto" } }   // 16 + 8 > 22 free CPUs
//! ```
//! Give one VM fewer vCPUs, lower `reserve`, or pin one VM explicitly.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};

pub(super) const CODE: Code = Code("cpu/auto-unsatisfiable");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for vm in &cx.spec.vms {
        let (Some(Err(e)), Some(pin)) = (cx.placement(vm), &vm.cpu.pin) else {
            continue;
        };
        let shrink = if e.available > 0 {
            format!("give the VM at most {} vCPUs, ", e.available)
        } else {
            String::new()
        };
        out.push(
            Diagnostic::error(
                CODE,
                format!(
                    "cannot place VM `{}` automatically: {} vCPUs do not fit",
                    vm.name.value, e.vcpus
                ),
            )
            .at(pin.span, "no room")
            .host(e.to_string())
            .help(format!(
                "{shrink}lower `reserve`, give the other VMs fewer vCPUs, or pin it explicitly with pin cores=\"…\""
            )),
        );
    }
}
