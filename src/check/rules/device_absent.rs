//! ## What it does
//! Reports a `gpu` or `device` whose PCI address has no device on the host. When a device with
//! the stated id sits at another address, it says where.
//!
//! ## Why
//! Addresses change when cards move between slots, when an NVMe drive is added (buses shift),
//! or after a firmware update. Passing a stale address hands the guest the wrong device or
//! nothing at all.
//!
//! ## Example
//! ```kdl
//! gpu "rtx3080" { pci "0e:00.0" id="10de:2206"; role "guest" }
//! ```
//! on a host where the RTX 3080 is at `0d:00.0`: change the address to `0d:00.0`. A function
//! listed in `functions` that the slot lacks is reported the same way.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::spec::Device;

pub(super) const CODE: Code = Code("device/absent");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for device in &cx.spec.devices {
        if cx.host_device(device).is_some() {
            absent_functions(cx, device, out);
            continue;
        }
        let address = device.pci.value;
        let moved: Vec<String> = device
            .id
            .as_ref()
            .map(|id| {
                cx.host
                    .pci
                    .values()
                    .filter(|d| d.id == id.value)
                    .map(|d| d.address.short())
                    .collect()
            })
            .unwrap_or_default();
        let help = if moved.is_empty() {
            "run `passplan host` to list the host's devices and correct the address".to_owned()
        } else {
            format!(
                "a device with this id is at {}: did the card move? change the address",
                moved.join(", ")
            )
        };
        out.push(
            Diagnostic::error(CODE, format!("no PCI device at {}", address.short()))
                .at(device.pci.span, "nothing here")
                .host(format!("/sys/bus/pci/devices/{address} does not exist"))
                .help(help),
        );
    }
}

/// Functions named by `functions` that the host's slot lacks.
fn absent_functions(cx: &Context<'_>, device: &Device, out: &mut Diagnostics) {
    let Some(list) = &device.functions else {
        return;
    };
    let missing: Vec<String> = cx
        .device_functions(device)
        .into_iter()
        .filter(|a| !cx.host.pci.contains_key(a))
        .map(|a| a.short())
        .collect();
    if missing.is_empty() {
        return;
    }
    let present: Vec<String> = cx
        .host
        .slot_functions(device.pci.value)
        .iter()
        .map(|a| a.function.to_string())
        .collect();
    out.push(
        Diagnostic::error(CODE, format!("no PCI function at {}", missing.join(", ")))
            .at(list.span, "not on this host")
            .host(format!(
                "the slot {} has functions {}",
                device.pci.value.slot().short(),
                present.join(", ")
            ))
            .help("list only functions the slot has (`passplan host` shows them)"),
    );
}
