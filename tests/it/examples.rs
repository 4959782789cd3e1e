//! The committed example roots (`examples/<name>/root`) are exactly what the seed constructors
//! write, plus sanity checks that the written trees carry a few well-known facts in the
//! kernel's layout.
//!
//! Regenerate the committed trees after changing a seed or the writer with
//! `PASSPLAN_BLESS=1 cargo test --test it examples`. Git cannot hold empty directories, so the
//! bless step drops a `.gitkeep` into each one, and the comparison ignores `.gitkeep` files.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::support::{self, FakeHost};

/// The environment variable that turns the comparison into a rewrite of the committed trees.
const BLESS: &str = "PASSPLAN_BLESS";

/// One node of a tree on disk, for comparison.
#[derive(Debug, PartialEq, Eq)]
enum Node {
    File { bytes: Vec<u8>, exec: bool },
    Link(PathBuf),
    EmptyDir,
}

/// Every path under `root` (relative, `/`-separated) with what is there. Directories appear
/// only when empty; `.gitkeep` files are skipped and do not make a directory non-empty.
fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Node>) {
        let mut empty = true;
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.file_name().is_some_and(|n| n == ".gitkeep") {
                continue;
            }
            empty = false;
            let rel = path
                .strip_prefix(root)
                .expect("inside root")
                .to_string_lossy()
                .into_owned();
            let meta = fs::symlink_metadata(&path).expect("metadata");
            if meta.file_type().is_symlink() {
                out.insert(rel, Node::Link(fs::read_link(&path).expect("read link")));
            } else if meta.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(
                    rel,
                    Node::File {
                        bytes: fs::read(&path).expect("read file"),
                        exec: meta.permissions().mode() & 0o111 != 0,
                    },
                );
            }
        }
        if empty && dir != root {
            let rel = dir.strip_prefix(root).expect("inside root");
            out.insert(rel.to_string_lossy().into_owned(), Node::EmptyDir);
        }
    }
    let mut out = BTreeMap::new();
    if root.is_dir() {
        walk(root, root, &mut out);
    }
    out
}

/// Paths whose presence or content differ between two snapshots.
fn differences(expected: &BTreeMap<String, Node>, actual: &BTreeMap<String, Node>) -> Vec<String> {
    let mut diffs = Vec::new();
    for (path, node) in expected {
        match actual.get(path) {
            None => diffs.push(format!("only in the seed's tree:    {path}")),
            Some(other) if other != node => {
                diffs.push(format!("differs:                    {path}"));
            }
            Some(_) => {}
        }
    }
    for path in actual.keys() {
        if !expected.contains_key(path) {
            diffs.push(format!("only in the committed tree: {path}"));
        }
    }
    diffs
}

/// Replaces the committed tree with a fresh write of `host`, keeping empty directories.
fn bless(host: &FakeHost, committed: &Path) {
    if committed.exists() {
        fs::remove_dir_all(committed).expect("remove the old committed tree");
    }
    host.write(committed).expect("write the committed tree");
    for (path, node) in snapshot(committed) {
        if node == Node::EmptyDir {
            fs::write(committed.join(path).join(".gitkeep"), b"").expect("write .gitkeep");
        }
    }
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

#[test]
fn example_roots_match_their_seed_description() {
    let blessing = std::env::var_os(BLESS).is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for (name, host) in support::all_seeds() {
        let committed = examples_dir().join(name).join("root");
        if blessing {
            bless(&host, &committed);
            continue;
        }
        let fresh = support::write_seed(&host);
        let diffs = differences(&snapshot(fresh.path()), &snapshot(&committed));
        if !diffs.is_empty() {
            failures.push(format!(
                "examples/{name}/root differs from `{name}` in tests/it/support/seeds.rs:\n  {}",
                diffs.join("\n  ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n\nIf the seed change is intended, rewrite the committed trees with\n    \
         {BLESS}=1 cargo test --test it examples\nand review the diff before committing.",
        failures.join("\n\n")
    );
}

#[test]
fn every_symlink_is_relative_and_stays_inside_the_tree() {
    for (name, host) in support::all_seeds() {
        for (path, entry) in host.entries() {
            let support::Entry::Link(target) = entry else {
                continue;
            };
            assert!(
                !target.starts_with('/'),
                "{name}: {path} -> {target} is absolute"
            );
            let mut depth: isize = path.matches('/').count().try_into().expect("small");
            for part in target.split('/') {
                depth += if part == ".." { -1 } else { 1 };
                assert!(depth >= 0, "{name}: {path} -> {target} leaves the root");
            }
        }
    }
}

#[test]
fn writing_twice_gives_the_same_tree() {
    let host = support::workstation();
    let a = support::write_seed(&host);
    let b = support::write_seed(&host);
    assert_eq!(snapshot(a.path()), snapshot(b.path()));
}

/// Reads a file of a written tree as text.
fn read(root: &Path, path: &str) -> String {
    fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

#[test]
fn workstation_guest_gpu_is_in_group_32_in_the_kernels_layout() {
    let root = support::write_seed(&support::workstation());
    let root = root.path();
    let member = root.join("sys/kernel/iommu_groups/32/devices/0000:0d:00.0");
    let link = fs::read_link(&member).expect("group member is a symlink");
    assert!(link.is_relative(), "{}", link.display());
    let device = fs::canonicalize(&member).expect("group member resolves");
    assert!(device.starts_with(fs::canonicalize(root).expect("root")));
    assert!(device.ends_with("sys/devices/pci0000:00/0000:00:03.2/0000:0d:00.0"));
    assert_eq!(
        fs::read_to_string(device.join("vendor")).expect("vendor"),
        "0x10de\n"
    );
    assert_eq!(
        fs::read_to_string(device.join("device")).expect("device"),
        "0x2206\n"
    );
    assert_eq!(
        fs::read_to_string(device.join("class")).expect("class"),
        "0x030000\n"
    );
    assert_eq!(
        fs::read_link(device.join("driver")).expect("driver link"),
        Path::new("../../../../bus/pci/drivers/nvidia")
    );
    assert!(
        device.join("driver").is_dir(),
        "driver link resolves to the driver directory"
    );
    assert_eq!(
        fs::canonicalize(device.join("iommu_group")).expect("group link"),
        fs::canonicalize(root.join("sys/kernel/iommu_groups/32")).expect("group dir")
    );
    let mut members: Vec<String> = fs::read_dir(root.join("sys/kernel/iommu_groups/32/devices"))
        .expect("group devices")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    members.sort();
    assert_eq!(
        members,
        [
            "0000:0d:00.0",
            "0000:0d:00.1",
            "0000:0d:00.2",
            "0000:0d:00.3"
        ]
    );
    assert_eq!(
        read(root, "sys/bus/pci/devices/0000:0c:00.0/boot_vga"),
        "1\n"
    );
    assert_eq!(
        read(root, "sys/bus/pci/devices/0000:0d:00.0/boot_vga"),
        "0\n"
    );
    assert!(
        !root
            .join("sys/bus/pci/devices/0000:0d:00.1/boot_vga")
            .exists()
    );
}

#[test]
fn workstation_cpu_topology_matches_the_seeds_lscpu() {
    let root = support::write_seed(&support::workstation());
    let root = root.path();
    let cpu = |n: u32, file: &str| read(root, &format!("sys/devices/system/cpu/cpu{n}/{file}"));
    assert_eq!(read(root, "sys/devices/system/cpu/online"), "0-23\n");
    assert_eq!(cpu(6, "topology/core_id"), "6\n");
    assert_eq!(cpu(18, "topology/core_id"), "6\n");
    assert_eq!(cpu(18, "topology/core_cpus_list"), "6,18\n");
    assert_eq!(cpu(7, "cache/index3/shared_cpu_list"), "6-8,18-20\n");
    assert_eq!(cpu(7, "cache/index3/level"), "3\n");
    assert_eq!(cpu(7, "cache/index3/id"), "2\n");
    assert_eq!(
        cpu(3, "cpufreq/scaling_available_governors"),
        "conservative ondemand userspace powersave performance schedutil \n"
    );
    assert_eq!(
        read(root, "sys/devices/system/node/node0/cpulist"),
        "0-23\n"
    );
    assert!(read(root, "proc/cpuinfo").contains("vendor_id\t: AuthenticAMD\n"));
}

#[test]
fn workstation_host_disk_holds_root_and_the_guest_disk_holds_nothing() {
    let root = support::write_seed(&support::workstation());
    let root = root.path();
    let host_disk = fs::canonicalize(root.join("sys/class/block/nvme0n1p3")).expect("p3");
    assert!(
        host_disk
            .to_string_lossy()
            .contains("/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p3")
    );
    assert_eq!(read(root, "sys/class/block/nvme0n1p3/partition"), "3\n");
    let guest_disk = fs::canonicalize(root.join("sys/class/block/nvme1n1")).expect("guest disk");
    assert!(
        guest_disk
            .to_string_lossy()
            .contains("/0000:04:00.0/nvme/nvme1/nvme1n1")
    );
    let mountinfo = read(root, "proc/self/mountinfo");
    let rootfs = mountinfo.lines().next().expect("a root mount");
    assert_eq!(
        rootfs,
        "26 1 259:3 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p3 rw,errors=remount-ro"
    );
    assert_eq!(read(root, "sys/class/block/nvme0n1p3/dev"), "259:3\n");
    assert!(mountinfo.contains(" /boot/efi rw,relatime "));
    assert!(!mountinfo.contains("nvme1n1"));
    assert!(read(root, "proc/swaps").contains("/dev/nvme0n1p4"));
}

#[test]
fn usb_ids_are_lowercase_hex_without_prefix() {
    let root = support::write_seed(&support::workstation());
    let root = root.path();
    assert_eq!(read(root, "sys/bus/usb/devices/3-2/idVendor"), "046d\n");
    assert_eq!(read(root, "sys/bus/usb/devices/3-2/idProduct"), "c52b\n");
    let receiver = fs::canonicalize(root.join("sys/bus/usb/devices/3-2")).expect("usb device");
    assert!(
        receiver.ends_with("0000:07:00.3/usb3/3-2"),
        "{}",
        receiver.display()
    );
    let hub_port = fs::canonicalize(root.join("sys/bus/usb/devices/7-1.4")).expect("usb device");
    assert!(
        hub_port.ends_with("0000:0f:00.3/usb7/7-1/7-1.4"),
        "{}",
        hub_port.display()
    );
}

#[test]
fn boot_loader_and_vfio_evidence_is_where_discovery_looks() {
    let ws = support::write_seed(&support::workstation());
    let ws = ws.path();
    assert!(read(ws, "etc/kernelstub/configuration").contains("\"amd_iommu=on\""));
    let meta = fs::metadata(ws.join("usr/bin/kernelstub")).expect("kernelstub binary");
    assert_ne!(
        meta.permissions().mode() & 0o111,
        0,
        "kernelstub is executable"
    );
    assert!(
        read(ws, "lib/modules/5.8.0-7642-generic/modules.builtin")
            .contains("kernel/drivers/vfio/pci/vfio-pci.ko\n")
    );
    assert_eq!(fs::metadata(ws.join("dev/kvm")).expect("/dev/kvm").len(), 0);

    let s3 = support::write_seed(&support::seed003());
    let s3 = s3.path();
    assert!(
        read(s3, "proc/cmdline").starts_with("BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=")
    );
    assert!(
        read(s3, "etc/default/grub")
            .contains("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash intel_iommu=on\"\n")
    );
    assert!(s3.join("etc/default/grub.d").is_dir());
    assert!(
        !s3.join("sys/firmware/efi").exists(),
        "seed 003 boots in BIOS mode"
    );
    let dep = read(s3, "lib/modules/6.1.0-18-amd64/modules.dep");
    assert!(
        dep.lines()
            .any(|l| l.starts_with("kernel/drivers/vfio/pci/vfio-pci.ko: "))
    );
    assert!(!read(s3, "lib/modules/6.1.0-18-amd64/modules.builtin").contains("vfio-pci"));

    let s4 = support::write_seed(&support::seed004());
    let s4 = s4.path();
    let info = fs::read(
        s4.join("sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"),
    )
    .expect("LoaderInfo");
    assert_eq!(&info[..4], &[6, 0, 0, 0]);
    let text: Vec<u16> = info[4..]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(text.last(), Some(&0), "NUL-terminated");
    assert_eq!(
        String::from_utf16(&text[..text.len() - 1]).expect("utf-16"),
        "systemd-boot 249.11-0ubuntu3.11"
    );
    assert_eq!(
        read(s4, "sys/class/vtconsole/vtcon1/name"),
        "(M) frame buffer device\n"
    );
    assert_eq!(read(s4, "sys/class/vtconsole/vtcon1/bind"), "1\n");
}

#[test]
fn mutations_show_up_in_the_written_tree() {
    let mut host = support::workstation();
    host.pci_mut("0000:0d:00.1").group = Some(33);
    host.pci_mut("0d:00.0").driver = Some("vfio-pci".into());
    host.cmdline.push_str(" iommu=pt");
    host.omit.insert("lib/modules".into());
    let root = support::write_seed(&host);
    let root = root.path();
    assert!(
        root.join("sys/kernel/iommu_groups/33/devices/0000:0d:00.1")
            .exists()
    );
    assert!(
        !root
            .join("sys/kernel/iommu_groups/32/devices/0000:0d:00.1")
            .exists()
    );
    assert!(
        root.join("sys/bus/pci/drivers/vfio-pci/0000:0d:00.0")
            .exists()
    );
    assert!(read(root, "proc/cmdline").ends_with(" amd_iommu=on iommu=pt\n"));
    assert!(!root.join("lib/modules").exists());
}

#[test]
fn hybrid_lists_and_offline_cpus_follow_the_kernel() {
    let mut host = support::seed003();
    host.hybrid = Some(support::FakeHybrid {
        core_cpus: vec![0, 1, 2, 3],
        atom_cpus: vec![4, 5, 6, 7],
    });
    host.cpus
        .iter_mut()
        .find(|c| c.id == 7)
        .expect("cpu7")
        .online = false;
    host.isolated = vec![2, 6];
    let root = support::write_seed(&host);
    let root = root.path();
    assert_eq!(read(root, "sys/devices/cpu_core/cpus"), "0-3\n");
    assert_eq!(read(root, "sys/devices/cpu_atom/cpus"), "4-7\n");
    assert_eq!(read(root, "sys/devices/system/cpu/online"), "0-6\n");
    assert_eq!(read(root, "sys/devices/system/cpu/isolated"), "2,6\n");
    assert_eq!(read(root, "sys/devices/system/cpu/cpu7/online"), "0\n");
    assert!(!root.join("sys/devices/system/cpu/cpu7/topology").exists());
    assert!(!root.join("sys/devices/system/cpu/cpu0/online").exists());
    assert_eq!(
        read(root, "proc/cpuinfo").matches("processor\t:").count(),
        7
    );
}
