//! ## What it does
//! Warns when a USB device given to a VM by `vendor:product` is not plugged into the host.
//!
//! ## Why
//! libvirt refuses to start a VM whose USB host device is missing (unless it is marked
//! optional), and a typo in the id looks exactly like an unplugged device.
//!
//! ## Example
//! ```kdl
//! vm "win10" { usb "046d:c52c" }
//! ```
//! where the Logitech receiver is `046d:c52b`: check the id with `passplan host` or `lsusb`.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};

pub(super) const CODE: Code = Code("usb/absent");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for vm in &cx.spec.vms {
        for usb in &vm.usb {
            if cx.host.usb.iter().any(|u| u.id == usb.value) {
                continue;
            }
            let same_vendor: Vec<String> = cx
                .host
                .usb
                .iter()
                .filter(|u| u.id.vendor == usb.value.vendor)
                .map(|u| u.id.to_string())
                .collect();
            let help = if same_vendor.is_empty() {
                "plug it in before starting the VM, or check the id with `passplan host`".to_owned()
            } else {
                format!(
                    "plugged-in devices of this vendor: {}; check the id",
                    same_vendor.join(", ")
                )
            };
            out.push(
                Diagnostic::warning(CODE, format!("no USB device {} is plugged in", usb.value))
                    .at(usb.span, "not found")
                    .host(format!(
                        "{} USB devices present, none with this id",
                        cx.host.usb.len()
                    ))
                    .help(help),
            );
        }
    }
}
