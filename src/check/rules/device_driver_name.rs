//! ## What it does
//! Reports a device the spec declares whose host driver, as the tree names it (the target of
//! sysfs's `driver` link), is not a kernel driver name: anything but lowercase letters, digits,
//! `_` and `-`, or longer than 64 characters.
//!
//! ## Why
//! passplan writes the host driver's name into `softdep DRIVER pre: vfio-pci` lines of
//! `/etc/modprobe.d/` and into the single-GPU handoff hook, both run as root. A tree prepared
//! by someone else (`--root` on a copied disk) can hold a `driver` link whose name carries a
//! newline and an `install vfio_pci …` line that modprobe would run. No real driver has such a
//! name, so it is refused rather than written.
//!
//! ## Example
//! ```text
//! /sys/bus/pci/devices/0000:0d:00.0/driver -> ../../../bus/pci/drivers/nvidia⏎install vfio_pci reboot
//! ```
//! Look at where the tree came from: the link is not the kernel's.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};

pub(super) const CODE: Code = Code("device/driver-name");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for device in &cx.spec.devices {
        for address in cx.host.slot_functions(device.pci.value) {
            let Some(driver) = cx.host.pci.get(&address).and_then(|d| d.driver.as_deref()) else {
                continue;
            };
            if crate::host::is_driver_name(driver) {
                continue;
            }
            out.push(
                Diagnostic::error(
                    CODE,
                    format!(
                        "the host driver of {} is named `{}`, which is not a kernel driver name",
                        address.short(),
                        driver.escape_debug()
                    ),
                )
                .at(device.pci.span, "its host driver would be written into root-run files")
                .host(format!(
                    "{}/driver links to `{}`",
                    address,
                    driver.escape_debug()
                ))
                .help(
                    "driver names are lowercase letters, digits, `_` and `-`: this tree's `driver` link is not the kernel's; check where the tree came from",
                ),
            );
        }
    }
}
