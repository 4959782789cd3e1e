//! ## What it does
//! Warns when a guest GPU is the firmware's boot display (`boot_vga` = 1) and the host has
//! another display, without single-GPU handoff.
//!
//! ## Why
//! The firmware, the boot console and the EFI framebuffer live on the boot display. Giving it
//! to a guest while they still hold it makes the VM's start fail or the guest show a garbled
//! screen; and the firmware's VBIOS shadow can leave the card unusable for the guest.
//!
//! ## Example
//! ```kdl
//! gpu "rtx3080" { pci "0d:00.0"; role "guest" }
//! ```
//! where `0d:00.0` has `boot_vga` 1: choose the host GPU (or the iGPU) as the primary display in
//! the firmware setup, or move the cards; if the host has no other display, see
//! `display/none-left`.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};

pub(super) const CODE: Code = Code("display/boot-gpu-to-guest");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for device in cx
        .spec
        .devices
        .iter()
        .filter(|d| d.is_gpu && d.is_guest() && d.handoff.is_none())
    {
        let Some(found) = cx.host_device(device) else {
            continue;
        };
        if found.boot_vga != Some(true) {
            continue;
        }
        let other_display = cx.host.pci.values().any(|d| {
            d.is_gpu() && !d.address.same_slot(&device.pci.value) && cx.takers(d.address).is_empty()
        });
        if !other_display {
            continue; // display/none-left reports this case as an error.
        }
        out.push(
            Diagnostic::warning(CODE, format!("guest GPU `{}` is the firmware's boot display", device.name.value))
                .at(device.pci.span, "boot display")
                .host(format!("{} has boot_vga 1", device.pci.value.short()))
                .help("set the host's GPU as the primary display in the firmware setup; or add handoff \"single-gpu\" to release it before the VM starts"),
        );
    }
}
