//! The configuration files passplan edits or owns, read as text so the compile stage can
//! compute their target content without touching the disk.
//!
//! Only files under the directories passplan manages are read: the kernel command-line sources
//! of each loader, module and initramfs configuration, network configuration for bridges, and
//! libvirt's hook directory. Each file is read once, through the same root as everything else.

use std::collections::BTreeMap;

use super::sysroot::Root;

/// Single files passplan may edit.
const FILES: &[&str] = &[
    "/etc/default/grub",
    "/etc/kernelstub/configuration",
    "/etc/kernel/cmdline",
    "/etc/kernel/install.conf",
    "/etc/mkinitcpio.conf",
    "/etc/booster.yaml",
    "/etc/initramfs-tools/modules",
    "/etc/modules",
    "/etc/dracut.conf",
    "/etc/libvirt/hooks/qemu",
    "/boot/loader/loader.conf",
    "/boot/efi/loader/loader.conf",
    "/efi/loader/loader.conf",
];

/// Directories whose regular files passplan may edit or own (one level, sorted).
const DIRS: &[&str] = &[
    "/etc/default/grub.d",
    "/etc/modprobe.d",
    "/etc/dracut.conf.d",
    "/etc/mkinitcpio.conf.d",
    "/etc/initramfs-tools/scripts/init-top",
    "/etc/initramfs-tools/hooks",
    "/etc/systemd/network",
    "/etc/NetworkManager/system-connections",
    "/boot/loader/entries",
    "/boot/efi/loader/entries",
    "/efi/loader/entries",
];

/// The largest file read here; configuration files are small, and a huge one is not ours. One
/// over it is not read, and is reported (`host/file-too-large`) rather than taken as absent,
/// which would make passplan write a new one over it.
const MAX_BYTES: u64 = 1 << 20;

/// Read the managed configuration files that exist: path → text.
pub(super) fn discover(root: &Root) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut add = |path: String| {
        if let Some(bytes) = root.read_bytes_within(&path, MAX_BYTES) {
            out.insert(path, String::from_utf8_lossy(&bytes).into_owned());
        }
    };
    for path in FILES {
        add((*path).to_owned());
    }
    for dir in DIRS {
        for name in root.list(dir) {
            add(format!("{dir}/{name}"));
        }
    }
    out
}
