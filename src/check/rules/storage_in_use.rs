//! ## What it does
//! Reports a disk of the host given to a guest while it holds the host's root filesystem,
//! another mounted filesystem, or active swap: a PCI device passed through (an NVMe drive, a
//! SATA controller) with such a disk behind it, or a block device used as a VM's `disk` (by its
//! kernel name, a partition, a `/dev/mapper` name or a `/dev/disk/by-*` link).
//!
//! ## Why
//! Passing the controller pulls the disk out from under the running host: at best the VM fails
//! to start, at worst the host loses its root filesystem and corrupts what was in flight. Giving
//! the guest a mounted block device as its disk lets two kernels write one filesystem, which
//! corrupts it. Identical NVMe drives make this easy to get wrong.
//!
//! ## Example
//! ```kdl
//! device "guest-nvme" { pci "01:00.0" }
//! ```
//! where `01:00.0` holds `/`: pass the other drive (check the addresses with `passplan host`).
//! Likewise `disk "/dev/nvme0n1"` when `/` is on `nvme0n1p2`.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::host::BlockDevice;

pub(super) const CODE: Code = Code("storage/in-use");

/// What the host uses a disk for: its mount points and swap.
fn uses(block: &BlockDevice) -> Vec<String> {
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
    uses
}

/// The host disk a `/dev` path names, through any of its links.
pub(super) fn block_at<'a>(cx: &Context<'a>, path: &str) -> Option<&'a BlockDevice> {
    let path = super::storage_shared_disk::normal(path);
    cx.host
        .block_devices
        .iter()
        .find(|b| b.links.contains(&path) || path == format!("/dev/{}", b.name))
}

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for vm in &cx.spec.vms {
        for disk in &vm.disks {
            let Some(block) = block_at(cx, &disk.path.value) else {
                continue;
            };
            let uses = uses(block);
            if uses.is_empty() {
                continue;
            }
            out.push(
                Diagnostic::error(
                    CODE,
                    format!(
                        "disk `{}` of VM `{}` holds {} of the running host",
                        disk.path.value,
                        vm.name.value,
                        uses.join(", ")
                    ),
                )
                .at(disk.path.span, "in use by the host")
                .host(format!("{} is /dev/{} ({})", disk.path.value, block.name, uses.join(", ")))
                .help("give the guest another disk or an image file, or move these filesystems off it first"),
            );
        }
    }
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
                let uses = uses(block);
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
