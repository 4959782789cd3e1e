//! ## What it does
//! Reports a device given to a guest that holds the host's root filesystem, another mounted
//! filesystem, or active swap.
//!
//! ## Why
//! Passing the controller pulls the disk out from under the running host: at best the VM fails
//! to start, at worst the host loses its root filesystem and corrupts what was in flight.
//! Identical NVMe drives make this easy to get wrong.
//!
//! ## Example
//! ```kdl
//! device "guest-nvme" { pci "01:00.0" }
//! ```
//! where `01:00.0` holds `/`: pass the other drive (check the addresses with `passplan host`).

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};

pub(super) const CODE: Code = Code("storage/in-use");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for vm in &cx.spec.vms {
        for (reference, device) in cx.vm_devices(vm) {
            let functions = cx.device_functions(device);
            for block in &cx.host.block_devices {
                if !block
                    .pci
                    .iter()
                    .any(|a| functions.contains(a) || *a == device.pci.value)
                {
                    continue;
                }
                let mut uses: Vec<String> = block
                    .mounts
                    .iter()
                    .map(|m| {
                        if m == "/" {
                            "/ (the root filesystem)".to_owned()
                        } else {
                            m.clone()
                        }
                    })
                    .collect();
                if block.swap {
                    uses.push("swap".to_owned());
                }
                if uses.is_empty() {
                    continue;
                }
                out.push(
                    Diagnostic::error(
                        CODE,
                        format!(
                            "`{}` holds {} of the running host",
                            device.name.value,
                            uses.join(", ")
                        ),
                    )
                    .at(reference.span, "in use by the host")
                    .host(format!(
                        "{} is behind /dev/{} ({})",
                        device.pci.value.short(),
                        block.name,
                        uses.join(", ")
                    ))
                    .help("pass the other drive, or move these filesystems off it first"),
                );
            }
        }
    }
}
