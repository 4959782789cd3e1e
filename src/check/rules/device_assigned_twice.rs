//! ## What it does
//! Compares the PCI functions each VM takes, not the names it lists. The same declaration given
//! to two VMs is a warning; two declarations that give the same host function to two VMs (a
//! `gpu` whose card includes the audio function another VM takes as a `device`) are an error;
//! two declarations of the same address are an error too.
//!
//! ## Why
//! A PCI function can belong to one running guest at a time: the second VM fails to start while
//! the first runs. That is fine for VMs you never run together (two Windows installs sharing a
//! GPU), which is why the same declaration in two VMs is only a warning. Two declarations that
//! overlap are a mistake: the spec then says two different things about one function (how it
//! is bound, which VM owns it).
//!
//! ## Example
//! ```kdl
//! gpu "rtx3080" { pci "0d:00.0"; role "guest" }
//! device "hdmi-audio" { pci "0d:00.1" }
//! vm "win10" { passthrough "rtx3080" }
//! vm "linux" { passthrough "hdmi-audio" }
//! ```
//! The card `rtx3080` already takes its audio function `0d:00.1`: give the card to one VM, or
//! limit it with `functions "0"`.

use std::collections::BTreeMap;

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::PciAddress;
use crate::spec::{Device, Vm};

pub(super) const CODE: Code = Code("device/assigned-twice");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    same_address(cx, out);
    // Function → the first VM and declaration that take it.
    let mut first: BTreeMap<PciAddress, (&Vm, &Device)> = BTreeMap::new();
    for vm in &cx.spec.vms {
        let mut in_this_vm: Vec<&str> = Vec::new();
        for (reference, device) in cx.vm_devices(vm) {
            let name = device.name.value.as_str();
            if in_this_vm.contains(&name) {
                continue;
            }
            in_this_vm.push(name);
            let functions = cx.device_functions(device);
            let mut reported = false;
            for f in &functions {
                match first.get(f) {
                    Some((other_vm, other)) if other_vm.name.value != vm.name.value => {
                        if reported {
                            continue;
                        }
                        reported = true;
                        if other.name.value == device.name.value {
                            out.push(
                                Diagnostic::warning(CODE, format!("`{name}` is also given to VM `{}`; the two VMs cannot run at the same time", other_vm.name.value))
                                    .at(reference.span, "given again")
                                    .host(cx.describe(device.pci.value))
                                    .help("run them one at a time, or give each VM its own device"),
                            );
                        } else if other.pci.value != device.pci.value {
                            out.push(
                                Diagnostic::error(CODE, format!("`{name}` gives {} to VM `{}`, which VM `{}` already takes through `{}`", f.short(), vm.name.value, other_vm.name.value, other.name.value))
                                    .at(reference.span, "the same function again")
                                    .host(cx.describe(*f))
                                    .help(format!("give {} to one VM only: drop `{name}` from one of them, or narrow `{}` with `functions`", f.short(), other.name.value)),
                            );
                        }
                    }
                    Some(_) => {}
                    None => {
                        first.insert(*f, (vm, device));
                    }
                }
            }
        }
    }
}

/// Two declarations of one address.
fn same_address(cx: &Context<'_>, out: &mut Diagnostics) {
    let mut seen: BTreeMap<PciAddress, &Device> = BTreeMap::new();
    for device in &cx.spec.devices {
        match seen.get(&device.pci.value) {
            Some(first) => out.push(
                Diagnostic::error(
                    CODE,
                    format!(
                        "`{}` and `{}` both declare {}",
                        first.name.value,
                        device.name.value,
                        device.pci.value.short()
                    ),
                )
                .at(device.pci.span, "declared again")
                .host(cx.describe(device.pci.value))
                .help(format!(
                    "declare each PCI function once: remove `{}` and refer to `{}` instead",
                    device.name.value, first.name.value
                )),
            ),
            None => {
                seen.insert(device.pci.value, device);
            }
        }
    }
}
