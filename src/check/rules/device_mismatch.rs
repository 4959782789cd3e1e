//! ## What it does
//! Reports a device whose stated `id` (or `subsystem`) differs from the device found at its
//! address.
//!
//! ## Why
//! An address says where, an id says what. When they disagree, a card moved or another one
//! took its slot, and passing the address would hand the guest the wrong device — perhaps the
//! host's own disk controller.
//!
//! ## Example
//! ```kdl
//! device "guest-nvme" { pci "04:00.0" id="144d:a808" }
//! ```
//! where `04:00.0` is now a SATA controller `1022:7901`: find the NVMe drive's new address
//! with `passplan host`.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};

pub(super) const CODE: Code = Code("device/mismatch");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for device in &cx.spec.devices {
        let Some(found) = cx.host_device(device) else {
            continue;
        };
        let address = device.pci.value;
        if let Some(id) = device.id.as_ref().filter(|id| id.value != found.id) {
            let elsewhere: Vec<String> = cx
                .host
                .pci
                .values()
                .filter(|d| d.id == id.value)
                .map(|d| d.address.short())
                .collect();
            let help = if elsewhere.is_empty() {
                format!(
                    "if the device at {} is the one you mean, write id=\"{}\"; otherwise correct the address",
                    address.short(),
                    found.id
                )
            } else {
                format!(
                    "a {} is at {}: the card probably moved; change the address",
                    id.value,
                    elsewhere.join(", ")
                )
            };
            out.push(
                Diagnostic::error(
                    CODE,
                    format!("the device at {} is not a {}", address.short(), id.value),
                )
                .at(id.span, "expected identity")
                .host(cx.describe(address))
                .help(help),
            );
        }
        if let Some(sub) = device
            .subsystem
            .as_ref()
            .filter(|s| Some(s.value) != found.subsystem)
        {
            let actual = found
                .subsystem
                .map_or_else(|| "none".to_owned(), |s| s.to_string());
            out.push(
                Diagnostic::error(
                    CODE,
                    format!(
                        "the device at {} has subsystem {actual}, not {}",
                        address.short(),
                        sub.value
                    ),
                )
                .at(sub.span, "expected subsystem")
                .host(cx.describe(address))
                .help(format!(
                    "write subsystem=\"{actual}\" if this is the right card, or correct the address"
                )),
            );
        }
    }
}
