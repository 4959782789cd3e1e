//! Block devices: which PCI function each whole disk sits behind, and what it holds (mounts from
//! `/proc/self/mountinfo`, swap from `/proc/swaps`).
//!
//! The PCI function is the last `dddd:bb:dd.f` component of the device's resolved sysfs path.
//! Two layouts need a detour: `NVMe` native multipath namespaces live under
//! `/sys/devices/virtual/nvme-subsystem/`, so their functions come from the subsystem's
//! controllers (`/sys/class/nvme/nvmeM/device`); and stacked devices (dm for LUKS/LVM, md) take
//! the union of their `slaves/`. Mounts and swap are attributed to the device named by the
//! source (a partition counts for its disk, `/dev/mapper/NAME` for its `dm-N`); they are not
//! pushed down to the disks under a dm device, whose `pci` already names those disks' functions.

use std::collections::{BTreeMap, BTreeSet};

use super::BlockDevice;
use super::sysroot::{Root, last_bdf};
use crate::model::PciAddress;

const CLASS_BLOCK: &str = "/sys/class/block";
const NVME_SUBSYSTEMS: &str = "/devices/virtual/nvme-subsystem/";
/// How deep stacked devices may nest (dm on dm on md …) before we assume a cycle.
const MAX_STACK: usize = 8;

/// Replace mountinfo's octal escapes (`\040` for a space) with the bytes they stand for.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        if let (b'\\', Some(d)) = (b, octal) {
            let value = d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
            out.push(u8::try_from(value).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One mountinfo line → (mount point, source). Field 5 is the mount point; after the ` - `
/// separator come the filesystem type and the source.
pub(super) fn parse_mountinfo_line(line: &str) -> Option<(String, String)> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let mount_point = fields.get(4)?;
    // Optional fields sit between field 6 and the separator, so search for it from there.
    let sep = fields.iter().skip(6).position(|f| *f == "-")? + 6;
    let source = fields.get(sep + 2)?;
    Some((unescape(mount_point), unescape(source)))
}

/// `/proc/swaps` text → the swap areas' file names (header skipped).
pub(super) fn parse_swaps(text: &str) -> Vec<String> {
    text.lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next())
        .map(unescape)
        .collect()
}

/// Every whole disk with its PCI functions, mounts and swap.
pub(super) fn discover(root: &Root) -> Vec<BlockDevice> {
    let names = root.list(CLASS_BLOCK);
    let dm_names: BTreeMap<String, String> = names
        .iter()
        .filter_map(|n| {
            Some((
                root.read_value(&format!("/sys/block/{n}/dm/name"))?,
                n.clone(),
            ))
        })
        .collect();

    let mut mounts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in root
        .read("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
    {
        let Some((mount_point, source)) = parse_mountinfo_line(line) else {
            continue;
        };
        if let Some(disk) = disk_of_source(root, &dm_names, &source) {
            mounts.entry(disk).or_default().insert(mount_point);
        }
    }
    let swap: BTreeSet<String> = parse_swaps(&root.read("/proc/swaps").unwrap_or_default())
        .iter()
        .filter_map(|s| disk_of_source(root, &dm_names, s))
        .collect();

    // Every /dev path that names a disk or one of its partitions: kernel names, dm names and
    // udev's /dev/disk/by-*/ links, so a spec's disk path can be matched without I/O later.
    let mut links: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for name in &names {
        if let Some(disk) = disk_of_source(root, &dm_names, &format!("/dev/{name}")) {
            links
                .entry(disk)
                .or_default()
                .insert(format!("/dev/{name}"));
        }
    }
    for (dm, name) in &dm_names {
        links
            .entry(name.clone())
            .or_default()
            .insert(format!("/dev/mapper/{dm}"));
    }
    for kind in root.list("/dev/disk") {
        let dir = format!("/dev/disk/{kind}");
        for link in root.list(&dir) {
            let path = format!("{dir}/{link}");
            if let Some(disk) = disk_of_source(root, &dm_names, &path) {
                links.entry(disk).or_default().insert(path);
            }
        }
    }

    names
        .iter()
        .filter(|n| !is_partition(root, n))
        .map(|name| BlockDevice {
            name: name.clone(),
            links: links
                .get(name)
                .map(|l| l.iter().cloned().collect())
                .unwrap_or_default(),
            pci: pci_of(root, name, 0).into_iter().collect(),
            mounts: mounts
                .get(name)
                .map(|m| m.iter().cloned().collect())
                .unwrap_or_default(),
            swap: swap.contains(name),
        })
        .collect()
}

fn is_partition(root: &Root, name: &str) -> bool {
    root.exists(&format!("{CLASS_BLOCK}/{name}/partition"))
}

/// A mount or swap source (`/dev/nvme0n1p2`, `/dev/mapper/root`, `/dev/disk/by-uuid/…`) → the
/// whole disk's kernel name; `None` for anything that is not a block device of this host.
fn disk_of_source(
    root: &Root,
    dm_names: &BTreeMap<String, String>,
    source: &str,
) -> Option<String> {
    let rest = source.strip_prefix("/dev/")?;
    let name = match rest.strip_prefix("mapper/").and_then(|m| dm_names.get(m)) {
        Some(dm) => dm.clone(),
        // udev's links (`/dev/disk/by-uuid/…`, `/dev/mapper/x -> ../dm-0`) resolve to the node.
        None => root.resolve_text(source)?.rsplit('/').next()?.to_owned(),
    };
    if !root.exists(&format!("{CLASS_BLOCK}/{name}")) {
        return None;
    }
    if !is_partition(root, &name) {
        return Some(name);
    }
    // A partition's sysfs directory sits inside its disk's.
    let path = root.resolve_text(&format!("{CLASS_BLOCK}/{name}"))?;
    let (parent, _) = path.rsplit_once('/')?;
    parent.rsplit('/').next().map(str::to_owned)
}

/// The PCI functions behind a block device (or partition).
fn pci_of(root: &Root, name: &str, depth: usize) -> BTreeSet<PciAddress> {
    if depth > MAX_STACK {
        return BTreeSet::new();
    }
    let slaves = root.list(&format!("/sys/block/{name}/slaves"));
    if !slaves.is_empty() {
        return slaves
            .iter()
            .flat_map(|s| pci_of(root, s, depth + 1))
            .collect();
    }
    let Some(path) = root.resolve_text(&format!("{CLASS_BLOCK}/{name}")) else {
        return BTreeSet::new();
    };
    if path.contains(NVME_SUBSYSTEMS) {
        let Some((subsystem, _)) = path.rsplit_once('/') else {
            return BTreeSet::new();
        };
        return root
            .list(subsystem)
            .iter()
            .filter(|c| {
                c.strip_prefix("nvme")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
            .filter_map(|c| last_bdf(&root.resolve_text(&format!("/sys/class/nvme/{c}/device"))?))
            .collect();
    }
    last_bdf(&path).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::{parse_mountinfo_line, parse_swaps, unescape};

    #[test]
    fn mountinfo_lines() {
        let line = "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue";
        assert_eq!(
            parse_mountinfo_line(line),
            Some(("/mnt2".to_owned(), "/dev/root".to_owned()))
        );
        let no_optional = "29 1 259:2 / / rw,relatime - btrfs /dev/nvme0n1p2 rw,ssd,subvol=/@";
        assert_eq!(
            parse_mountinfo_line(no_optional),
            Some(("/".to_owned(), "/dev/nvme0n1p2".to_owned()))
        );
        let spaced = "40 29 8:1 / /mnt/my\\040disk rw shared:5 master:2 - ext4 /dev/sda1 rw";
        assert_eq!(
            parse_mountinfo_line(spaced),
            Some(("/mnt/my disk".to_owned(), "/dev/sda1".to_owned()))
        );
        assert_eq!(parse_mountinfo_line("garbage"), None);
        assert_eq!(parse_mountinfo_line("1 2 3 4 5 6 - ext4"), None);
    }

    #[test]
    fn swaps_file() {
        let text = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
                    /dev/nvme0n1p3                          partition\t16777212\t0\t\t-2\n\
                    /swap\\040file file 100 0 -3\n";
        assert_eq!(
            parse_swaps(text),
            vec!["/dev/nvme0n1p3".to_owned(), "/swap file".to_owned()]
        );
        assert!(parse_swaps("").is_empty());
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape("a\\040b\\011c"), "a b\tc");
        assert_eq!(unescape("trailing\\04"), "trailing\\04");
        assert_eq!(unescape("\\777"), "?");
    }
}
