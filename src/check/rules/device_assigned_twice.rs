//! ## What it does
//! Warns when two VMs are given the same device (or functions of the same slot).
//!
//! ## Why
//! A PCI device can belong to one running guest at a time: the second VM fails to start while
//! the first runs. That is fine for VMs you never run together (two Windows installs sharing a
//! GPU), which is why this is a warning.
//!
//! ## Example
//! ```kdl
//! vm "win10" { passthrough "rtx3080" }
//! vm "linux" { passthrough "rtx3080" }
//! ```
//! Run them one at a time, or give each its own device.

use std::collections::BTreeMap;

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};

pub(super) const CODE: Code = Code("device/assigned-twice");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    let mut first: BTreeMap<&str, &str> = BTreeMap::new();
    for vm in &cx.spec.vms {
        let mut in_this_vm = Vec::new();
        for (reference, device) in cx.vm_devices(vm) {
            let name = device.name.value.as_str();
            if in_this_vm.contains(&name) {
                continue;
            }
            in_this_vm.push(name);
            match first.get(name) {
                Some(other) if *other != vm.name.value => out.push(
                    Diagnostic::warning(CODE, format!("`{name}` is also given to VM `{other}`; the two VMs cannot run at the same time"))
                        .at(reference.span, "given again")
                        .host(cx.describe(device.pci.value))
                        .help("run them one at a time, or give each VM its own device"),
                ),
                _ => {
                    first.insert(name, &vm.name.value);
                }
            }
        }
    }
}
