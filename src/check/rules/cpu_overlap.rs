//! ## What it does
//! Warns when the emulator or I/O-thread CPUs overlap the vCPU pins.
//!
//! ## Why
//! QEMU's emulator and I/O threads do work on the guest's behalf; on the vCPUs' own CPUs they
//! steal time from the guest exactly when it is busiest. Put them on host cores, near the guest.
//!
//! ## Example
//! ```kdl
//! pin cores="6-11"; emulator "6-7"
//! ```
//! Write `emulator "0-3"` (host cores).

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::CpuSet;

pub(super) const CODE: Code = Code("cpu/overlap");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for vm in &cx.spec.vms {
        let Some(pins) = cx.vm_pins(vm) else { continue };
        let pinned: CpuSet = pins.into_iter().collect();
        let mut others = Vec::new();
        if let Some(e) = &vm.cpu.emulator {
            others.push(("emulator", &e.value, e.span));
        }
        if let Some(c) = vm.cpu.iothreads.as_ref().and_then(|i| i.cpus.as_ref()) {
            others.push(("I/O thread", &c.value, c.span));
        }
        for (what, set, span) in others {
            let shared = set.intersection(&pinned);
            if shared.is_empty() {
                continue;
            }
            out.push(
                Diagnostic::warning(CODE, format!("{what} CPUs {shared} are also vCPU pins"))
                    .at(span, "overlaps the vCPUs")
                    .help(format!("use host CPUs outside {pinned}")),
            );
        }
    }
}
