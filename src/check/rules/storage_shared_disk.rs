//! ## What it does
//! Reports one disk image or block device given to two VMs that may run at the same time,
//! unless both disks are marked `readonly=#true` or `shareable=#true`. VMs that take a common
//! passed device never run together (libvirt refuses the second), so they may share a disk.
//!
//! ## Why
//! Two guests writing one filesystem each believe they own it: their caches disagree, metadata
//! is overwritten, and the image is corrupted within minutes — silently, until the next boot.
//! libvirt only refuses this when it holds a lock manager, which most desktops do not run.
//!
//! ## Example
//! ```kdl
//! vm "win"  { disk "/var/lib/libvirt/images/data.img" }
//! vm "work" { disk "/var/lib/libvirt/images/data.img" }
//! ```
//! Give each VM its own image, or mark both `readonly=#true` (or `shareable=#true` for a cluster
//! filesystem that coordinates its writers).

use std::collections::BTreeMap;

use crate::check::Context;
use crate::check::together::Together;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::spec::Disk;

pub(super) const CODE: Code = Code("storage/shared-disk");

/// A path with repeated and trailing slashes and `.` components removed, so that two spellings
/// of one file compare equal. `..` is kept: without the file system it cannot be resolved.
pub(super) fn normal(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let lead = if path.starts_with('/') { "/" } else { "" };
    format!("{lead}{}", parts.join("/"))
}

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    let together = Together::new(cx);
    // Normalised path → every (VM index, disk) that names it, in spec order.
    let mut by_path: BTreeMap<String, Vec<(usize, &Disk)>> = BTreeMap::new();
    for (v, vm) in cx.spec.vms.iter().enumerate() {
        for disk in &vm.disks {
            // Two spellings of one host disk (`/dev/sda`, a by-id link) are one disk.
            let key = match super::storage_in_use::block_at(cx, &disk.path.value) {
                Some(block) => format!("/dev/{}", block.name),
                None => normal(&disk.path.value),
            };
            by_path.entry(key).or_default().push((v, disk));
        }
    }
    for (path, users) in &by_path {
        for (j, (b, disk_b)) in users.iter().enumerate() {
            let Some((a, _)) = users[..j]
                .iter()
                .find(|(a, disk_a)| together.may(*a, *b) && !(safe(disk_a) && safe(disk_b)))
            else {
                continue;
            };
            let (va, vb) = (&cx.spec.vms[*a], &cx.spec.vms[*b]);
            out.push(
                Diagnostic::error(
                    CODE,
                    format!(
                        "`{path}` is given to VMs `{}` and `{}`, which may run at the same time",
                        va.name.value, vb.name.value
                    ),
                )
                .at(disk_b.path.span, format!("also a disk of `{}`", va.name.value))
                .host("two writers on one disk corrupt it; the VMs share no passed device, so nothing stops both from starting")
                .help("give each VM its own image, or mark the disk readonly=#true (or shareable=#true) in both VMs"),
            );
        }
    }
}

/// Whether a disk may be shared: the guest cannot write it, or it is declared shareable.
fn safe(disk: &Disk) -> bool {
    disk.readonly || disk.shareable
}

#[cfg(test)]
mod tests {
    use super::normal;

    #[test]
    fn spellings_of_one_path_compare_equal() {
        assert_eq!(normal("/var//lib/./x.img"), "/var/lib/x.img");
        assert_eq!(normal("/dev/sda/"), "/dev/sda");
        assert_eq!(normal("images/x.img"), "images/x.img");
        assert_eq!(normal("/a/../b"), "/a/../b");
    }
}
