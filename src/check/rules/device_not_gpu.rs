//! ## What it does
//! Reports a `gpu` whose address holds something that is not a display controller — usually
//! the card's audio function (`.1`) instead of its graphics function (`.0`).
//!
//! ## Why
//! passplan treats a `gpu` specially: boot-display and handoff checks, driver softdeps. Those
//! would be computed for the wrong function.
//!
//! ## Example
//! ```kdl
//! gpu "rtx3080" { pci "0d:00.1"; role "guest" }   // 0d:00.1 is the HDMI audio function
//! ```
//! Write `pci "0d:00.0"`: the other functions of the slot go with it.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};

pub(super) const CODE: Code = Code("device/not-a-gpu");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for device in cx.spec.devices.iter().filter(|d| d.is_gpu) {
        let Some(found) = cx.host_device(device) else {
            continue;
        };
        if found.is_gpu() {
            continue;
        }
        let gpu_in_slot = cx
            .host
            .slot_functions(device.pci.value)
            .into_iter()
            .find(|a| {
                cx.host
                    .pci
                    .get(a)
                    .is_some_and(crate::host::PciDevice::is_gpu)
            });
        let help = match gpu_in_slot {
            Some(a) => format!(
                "the display function of this slot is {}: write pci \"{}\"",
                a.short(),
                a.short()
            ),
            None => "declare it with `device` instead of `gpu`, or correct the address".to_owned(),
        };
        out.push(
            Diagnostic::error(
                CODE,
                format!("{} is not a display controller", device.pci.value.short()),
            )
            .at(device.pci.span, "not a GPU")
            .host(cx.describe(device.pci.value))
            .help(help),
        );
    }
}
