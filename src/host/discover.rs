//! Discovery orchestration: opens the root and asks each reader (CPU, PCI, memory, block, USB,
//! boot, pci.ids) for its part of [`HostFacts`]. Only an unusable root is an error; every
//! reader turns missing files into facts.

use std::path::Path;

use super::sysroot::Root;
use super::{HostFacts, KernelCmdline, block, boot, cpu, memory, pci, pciids, usb};

/// Why a host could not be read at all. Missing optional files are facts, not errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The root directory does not exist or cannot be listed.
    #[error("cannot read the host root `{root}`: {source}")]
    Root {
        /// The root given.
        root: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Discover the host under `root` (`/` on a live host). Reads only, spawns nothing, and never
/// follows a symlink out of `root`. The result is deterministic: every list is sorted.
pub fn discover(root: &Path) -> Result<HostFacts, HostError> {
    let tree = Root::open(root).map_err(|source| HostError::Root {
        root: root.display().to_string(),
        source,
    })?;

    let cmdline = tree
        .read("/proc/cmdline")
        .map(|t| KernelCmdline::parse(&t))
        .unwrap_or_default();
    let kernel_release = tree.read_value("/proc/sys/kernel/osrelease");
    let cpus = cpu::discover(&tree);
    let (pci, iommu_groups) = pci::discover(&tree);

    Ok(HostFacts {
        root: root.to_path_buf(),
        cpu: cpu::parse_cpuinfo(&tree.read("/proc/cpuinfo").unwrap_or_default()),
        cpus: cpus.cpus,
        numa_nodes: cpus.nodes,
        pci,
        iommu_groups,
        memory: memory::discover(&tree),
        cpufreq: cpus.cpufreq,
        core_kinds: cpus.core_kinds,
        kvm_device: tree.exists("/dev/kvm"),
        vfio_pci: boot::vfio_pci(&tree, kernel_release.as_deref()),
        kernel_release,
        block_devices: block::discover(&tree),
        usb: usb::discover(&tree),
        boot: boot::discover(&tree, &cmdline),
        cmdline,
        vtconsoles: vtconsoles(&tree),
        files: super::files::discover(&tree),
        pci_names: pciids::discover(&tree),
        oversized: tree
            .oversized()
            .into_iter()
            .map(|(path, limit)| super::OversizedFile { path, limit })
            .collect(),
    })
}

/// `name` of each `/sys/class/vtconsole/vtconN`, by N.
fn vtconsoles(tree: &Root) -> Vec<String> {
    const DIR: &str = "/sys/class/vtconsole";
    cpu::numbered(&tree.list(DIR), "vtcon")
        .into_iter()
        .filter_map(|n| tree.read_value(&format!("{DIR}/vtcon{n}/name")))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;
    use std::path::Path;

    use tempfile::TempDir;

    use super::discover;
    use crate::host::{CoreKind, CpuVendor, HostFacts, Initramfs, Loader, VfioPci};
    use crate::model::PciAddress;

    /// A fake host root built file by file.
    struct Tree(TempDir);

    impl Tree {
        fn new() -> Self {
            Self(tempfile::tempdir().unwrap())
        }

        fn path(&self, rel: &str) -> std::path::PathBuf {
            self.0.path().join(rel.trim_start_matches('/'))
        }

        fn file(&self, rel: &str, text: &str) -> &Self {
            let path = self.path(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
            self
        }

        fn bytes(&self, rel: &str, bytes: &[u8]) -> &Self {
            let path = self.path(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
            self
        }

        fn link(&self, rel: &str, target: &str) -> &Self {
            let path = self.path(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            symlink(target, path).unwrap();
            self
        }

        fn dir(&self, rel: &str) -> &Self {
            std::fs::create_dir_all(self.path(rel)).unwrap();
            self
        }

        /// A PCI function under `parent` (`pci0000:00` or a bridge path), linked from the bus.
        fn pci(
            &self,
            parent: &str,
            bdf: &str,
            id: (&str, &str),
            class: &str,
            driver: Option<&str>,
        ) -> &Self {
            let dir = format!("/sys/devices/{parent}/{bdf}");
            self.file(&format!("{dir}/vendor"), &format!("{}\n", id.0))
                .file(&format!("{dir}/device"), &format!("{}\n", id.1))
                .file(&format!("{dir}/class"), &format!("{class}\n"))
                .file(&format!("{dir}/numa_node"), "-1\n");
            let up = "../".repeat(parent.matches('/').count() + 2);
            self.link(
                &format!("/sys/bus/pci/devices/{bdf}"),
                &format!("../../../devices/{parent}/{bdf}"),
            );
            if let Some(driver) = driver {
                self.link(
                    &format!("{dir}/driver"),
                    &format!("{up}../bus/pci/drivers/{driver}"),
                );
            }
            self
        }

        fn group(&self, group: u32, bdf: &str, parent: &str) -> &Self {
            let up = "../".repeat(parent.matches('/').count() + 2);
            self.link(
                &format!("/sys/devices/{parent}/{bdf}/iommu_group"),
                &format!("{up}../kernel/iommu_groups/{group}"),
            )
            .link(
                &format!("/sys/kernel/iommu_groups/{group}/devices/{bdf}"),
                &format!("../../../../devices/{parent}/{bdf}"),
            )
        }

        fn discover(&self) -> HostFacts {
            discover(self.0.path()).unwrap()
        }
    }

    fn bdf(text: &str) -> PciAddress {
        text.parse().unwrap()
    }

    #[test]
    fn root_errors_and_empty_root() {
        assert!(discover(Path::new("/nonexistent/passplan-root")).is_err());
        let facts = Tree::new().discover();
        assert!(facts.cpus.is_empty() && facts.pci.is_empty() && facts.numa_nodes.is_empty());
        assert!(!facts.iommu_enabled());
        assert!(facts.cpufreq.is_none());
        assert_eq!(facts.cpu.vendor, CpuVendor::Unknown);
        assert_eq!(facts.vfio_pci, VfioPci::Unknown);
        assert!(facts.boot.loader.is_none() && facts.boot.initramfs.is_none());
    }

    #[test]
    fn pci_devices_groups_with_gaps_and_orphans() {
        let t = Tree::new();
        t.pci(
            "pci0000:00",
            "0000:00:03.1",
            ("0x1022", "0x1453"),
            "0x060400",
            Some("pcieport"),
        )
        .pci(
            "pci0000:00/0000:00:03.1",
            "0000:0d:00.0",
            ("0x10de", "0x2206"),
            "0x030000",
            Some("nvidia"),
        )
        .pci(
            "pci0000:00/0000:00:03.1",
            "0000:0d:00.1",
            ("0x10de", "0x1aef"),
            "0x040300",
            None,
        )
        .file(
            "/sys/devices/pci0000:00/0000:00:03.1/0000:0d:00.0/boot_vga",
            "0\n",
        )
        .file(
            "/sys/devices/pci0000:00/0000:00:03.1/0000:0d:00.0/subsystem_vendor",
            "0x3842\n",
        )
        .file(
            "/sys/devices/pci0000:00/0000:00:03.1/0000:0d:00.0/subsystem_device",
            "0x3885\n",
        )
        .file(
            "/sys/devices/pci0000:00/0000:00:03.1/0000:0d:00.0/numa_node",
            "1\n",
        )
        .group(2, "0000:00:03.1", "pci0000:00")
        .group(32, "0000:0d:00.0", "pci0000:00/0000:00:03.1")
        .group(32, "0000:0d:00.1", "pci0000:00/0000:00:03.1")
        // A member without a device directory, and an empty group.
        .link(
            "/sys/kernel/iommu_groups/32/devices/0000:0d:00.2",
            "../../../../devices/pci0000:00/gone",
        )
        .dir("/sys/kernel/iommu_groups/7/devices");
        let facts = t.discover();
        assert_eq!(
            facts.iommu_groups.keys().copied().collect::<Vec<_>>(),
            [2, 32]
        );
        assert_eq!(facts.iommu_groups[&32].len(), 3);
        for (group, members) in &facts.iommu_groups {
            for m in members {
                assert_eq!(facts.pci[m].iommu_group, Some(*group), "invariant for {m}");
            }
        }
        let gpu = &facts.pci[&bdf("0000:0d:00.0")];
        assert_eq!(gpu.id.to_string(), "10de:2206");
        assert_eq!(
            gpu.subsystem.map(|s| s.to_string()).as_deref(),
            Some("3842:3885")
        );
        assert_eq!(gpu.class, 0x03_0000);
        assert_eq!(gpu.driver.as_deref(), Some("nvidia"));
        assert_eq!(gpu.boot_vga, Some(false));
        assert_eq!(gpu.numa_node, Some(1));
        let audio = &facts.pci[&bdf("0000:0d:00.1")];
        assert_eq!(
            (audio.driver.as_deref(), audio.numa_node, audio.boot_vga),
            (None, None, None)
        );
        let orphan = &facts.pci[&bdf("0000:0d:00.2")];
        assert!(orphan.is_placeholder());
        assert_eq!(facts.group_peers(bdf("0000:0d:00.0")).len(), 2);
        assert!(facts.pci[&bdf("0000:00:03.1")].is_bridge());
    }

    #[test]
    fn cpus_with_irregular_siblings_offline_and_no_numa_or_cpufreq() {
        let t = Tree::new();
        // Meteor-Lake-like: CPU 0's SMT sibling is CPU 5; core ids have gaps; CPU 6 is an
        // E-core without L3; CPU 7 is offline and has no topology directory.
        let cpus = [
            (0, 0, "0,5"),
            (1, 8, "1"),
            (2, 16, "2"),
            (5, 0, "0,5"),
            (6, 40, "6"),
        ];
        for (cpu, core, sib) in cpus {
            let dir = format!("/sys/devices/system/cpu/cpu{cpu}");
            t.file(&format!("{dir}/topology/physical_package_id"), "0\n")
                .file(&format!("{dir}/topology/core_id"), &format!("{core}\n"))
                .file(
                    &format!("{dir}/topology/thread_siblings_list"),
                    &format!("{sib}\n"),
                )
                .file(&format!("{dir}/cache/index0/level"), "1\n")
                .file(
                    &format!("{dir}/cache/index0/shared_cpu_list"),
                    &format!("{cpu}\n"),
                );
            if cpu != 6 {
                t.file(&format!("{dir}/cache/index3/level"), "3\n")
                    .file(&format!("{dir}/cache/index3/shared_cpu_list"), "0-2,5\n");
            }
        }
        t.file("/sys/devices/system/cpu/cpu0/topology/core_cpus_list", "0,5\n")
            .dir("/sys/devices/system/cpu/cpu7")
            .dir("/sys/devices/system/cpu/cpufreq")
            .file("/sys/devices/system/cpu/online", "0-2,5-6\n")
            .file("/sys/devices/cpu_core/cpus", "0-2,5\n")
            .file("/sys/devices/cpu_atom/cpus", "6-7\n")
            .file("/proc/cpuinfo", "vendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Core(TM) Ultra 9 185H\nflags\t\t: fpu vmx\n");
        let facts = t.discover();
        assert_eq!(
            facts.cpus.iter().map(|c| c.id).collect::<Vec<_>>(),
            [0, 1, 2, 5, 6, 7]
        );
        let cpu0 = facts.cpu(0).unwrap();
        assert_eq!(cpu0.siblings.to_string(), "0,5");
        assert_eq!(facts.cpu(5).unwrap().siblings.to_string(), "0,5");
        assert_eq!(facts.cpu(2).unwrap().core, 16);
        assert_eq!(
            cpu0.l3.as_ref().map(ToString::to_string).as_deref(),
            Some("0-2,5")
        );
        assert!(facts.cpu(6).unwrap().l3.is_none());
        assert_eq!(facts.cpu(6).unwrap().kind, CoreKind::Efficiency);
        assert_eq!(cpu0.kind, CoreKind::Performance);
        let offline = facts.cpu(7).unwrap();
        assert!(!offline.online);
        assert_eq!(offline.siblings.to_string(), "7");
        assert_eq!(facts.online_cpus().to_string(), "0-2,5-6");
        assert!(facts.numa_nodes.is_empty() && facts.cpus.iter().all(|c| c.node.is_none()));
        assert!(facts.cpufreq.is_none());
        assert_eq!(facts.cpu.vendor, CpuVendor::Intel);
        assert!(facts.cpu.virtualization);
    }

    #[test]
    fn numa_node_gaps_memory_and_cpufreq() {
        let t = Tree::new();
        for cpu in 0..4 {
            t.file(
                &format!("/sys/devices/system/cpu/cpu{cpu}/topology/core_id"),
                "0\n",
            )
            .file(
                &format!("/sys/devices/system/cpu/cpu{cpu}/topology/physical_package_id"),
                &format!("{}\n", cpu % 2),
            )
            .file(
                &format!("/sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor"),
                "schedutil\n",
            );
        }
        t.file(
            "/sys/devices/system/cpu/cpu0/cpufreq/scaling_available_governors",
            "performance schedutil \n",
        )
        .file("/sys/devices/system/node/node0/cpulist", "0,2\n")
        .file(
            "/sys/devices/system/node/node0/meminfo",
            "Node 0 MemTotal:       32768000 kB\n",
        )
        .file("/sys/devices/system/node/node2/cpulist", "1,3\n")
        .file(
            "/proc/meminfo",
            "MemTotal:  65536000 kB\nMemAvailable: 1000 kB\nHugepagesize:    2048 kB\n",
        )
        .file(
            "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages",
            "8\n",
        )
        .file(
            "/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages",
            "8\n",
        )
        .file(
            "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages",
            "0\n",
        );
        let facts = t.discover();
        assert_eq!(
            facts.numa_nodes.iter().map(|n| n.id).collect::<Vec<_>>(),
            [0, 2]
        );
        assert_eq!(facts.cpu(3).unwrap().node, Some(2));
        assert_eq!(facts.cpu(3).unwrap().package, 1);
        assert_eq!(
            facts.numa_nodes[0].memory.map(crate::model::ByteSize::kib),
            Some(32_768_000)
        );
        assert!(facts.numa_nodes[1].memory.is_none());
        let freq = facts.cpufreq.unwrap();
        assert_eq!(freq.available, ["performance", "schedutil"]);
        assert_eq!(freq.current.len(), 4);
        assert_eq!(facts.memory.total.kib(), 65_536_000);
        let sizes: Vec<(u64, u64)> = facts
            .memory
            .hugepages
            .iter()
            .map(|p| (p.size.kib(), p.total))
            .collect();
        assert_eq!(sizes, [(2048, 0), (1_048_576, 8)]);
    }

    #[test]
    fn links_never_escape_the_root() {
        let t = Tree::new();
        // Each of these would read the real machine's files if the OS followed the link.
        t.link("/proc/cpuinfo", "/proc/cpuinfo")
            .link("/proc/meminfo", "../../../../../../../../proc/meminfo")
            .link("/proc/sys/kernel/osrelease", "/proc/sys/kernel/osrelease")
            .link("/sys/devices/system", "/sys/devices/system")
            .link("/usr/share/misc/pci.ids", "/usr/share/misc/pci.ids")
            .dir("/sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda")
            .file("/sys/devices/pci0000:00/0000:00:17.0/vendor", "0x8086\n")
            .file("/sys/devices/pci0000:00/0000:00:17.0/device", "0x7ae2\n")
            .link(
                "/sys/class/block/sda",
                "/sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda",
            )
            .link(
                "/sys/bus/pci/devices/0000:00:17.0",
                "../../../../../../../../../../sys/devices/pci0000:00/0000:00:17.0",
            )
            .link(
                "/sys/devices/pci0000:00/0000:00:17.0/driver",
                "/../../sys/bus/pci/drivers/ahci",
            );
        let facts = t.discover();
        assert_eq!(facts.cpu.vendor, CpuVendor::Unknown);
        assert_eq!(facts.memory.total.0, 0);
        assert!(facts.kernel_release.is_none());
        assert!(facts.cpus.is_empty());
        assert!(facts.pci_names.vendors.is_empty());
        let sata = &facts.pci[&bdf("0000:00:17.0")];
        assert_eq!(sata.id.to_string(), "8086:7ae2");
        assert_eq!(sata.driver.as_deref(), Some("ahci"));
        assert_eq!(facts.block_devices.len(), 1);
        assert_eq!(facts.block_devices[0].pci, [bdf("0000:00:17.0")]);
    }

    #[test]
    fn block_devices_mounts_swap_dm_and_multipath() {
        let t = Tree::new();
        let nvme0 = "/sys/devices/pci0000:00/0000:00:01.1/0000:01:00.0/nvme/nvme0";
        let nvme1 = "/sys/devices/pci0000:00/0000:00:01.2/0000:02:00.0/nvme/nvme1";
        t.dir(&format!("{nvme0}/nvme0n1/nvme0n1p1"))
            .file(&format!("{nvme0}/nvme0n1/nvme0n1p1/partition"), "1\n")
            .file(&format!("{nvme0}/nvme0n1/nvme0n1p2/partition"), "2\n")
            .file(&format!("{nvme0}/nvme0n1/nvme0n1p3/partition"), "3\n")
            .link("/sys/class/block/nvme0n1", &format!("../../..{nvme0}/nvme0n1"))
            .link("/sys/class/block/nvme0n1p1", &format!("../../..{nvme0}/nvme0n1/nvme0n1p1"))
            .link("/sys/class/block/nvme0n1p2", &format!("../../..{nvme0}/nvme0n1/nvme0n1p2"))
            .link("/sys/class/block/nvme0n1p3", &format!("../../..{nvme0}/nvme0n1/nvme0n1p3"))
            // LUKS root on nvme0n1p3.
            .file("/sys/devices/virtual/block/dm-0/dm/name", "cryptroot\n")
            .link("/sys/devices/virtual/block/dm-0/slaves/nvme0n1p3", &format!("../../../../..{nvme0}/nvme0n1/nvme0n1p3"))
            .link("/sys/class/block/dm-0", "../../devices/virtual/block/dm-0")
            .link("/sys/block/dm-0", "../devices/virtual/block/dm-0")
            // Native multipath namespace over two controllers.
            .dir(nvme1)
            .link("/sys/class/nvme/nvme0", &format!("../../..{nvme0}"))
            .link("/sys/class/nvme/nvme1", &format!("../../..{nvme1}"))
            .link(&format!("{nvme0}/device"), "../../../0000:01:00.0")
            .link(&format!("{nvme1}/device"), "../../../0000:02:00.0")
            .dir("/sys/devices/virtual/nvme-subsystem/nvme-subsys1/nvme1n1")
            .link("/sys/devices/virtual/nvme-subsystem/nvme-subsys1/nvme0", &format!("../../../..{nvme0}"))
            .link("/sys/devices/virtual/nvme-subsystem/nvme-subsys1/nvme1", &format!("../../../..{nvme1}"))
            .link("/sys/class/block/nvme1n1", "../../devices/virtual/nvme-subsystem/nvme-subsys1/nvme1n1")
            .dir("/sys/devices/virtual/block/zram0")
            .link("/sys/class/block/zram0", "../../devices/virtual/block/zram0")
            .link("/dev/disk/by-uuid/abcd", "../../nvme0n1p1")
            .file(
                "/proc/self/mountinfo",
                "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/cryptroot rw\n\
                 23 22 259:1 / /boot/efi rw,relatime shared:2 - vfat /dev/disk/by-uuid/abcd rw\n\
                 24 22 259:2 / /boot rw - ext4 /dev/nvme0n1p2 rw\n\
                 25 22 0:5 / /dev rw shared:3 - devtmpfs udev rw\n\
                 26 22 259:9 / /data rw - xfs /dev/nvme1n1 rw\n",
            )
            .file("/proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n/dev/zram0 partition 8000 0 100\n/swapfile file 1 0 -2\n");
        let facts = t.discover();
        let by_name = |n: &str| facts.block_devices.iter().find(|b| b.name == n).unwrap();
        let names: Vec<&str> = facts
            .block_devices
            .iter()
            .map(|b| b.name.as_str())
            .collect();
        assert_eq!(names, ["dm-0", "nvme0n1", "nvme1n1", "zram0"]);
        assert_eq!(by_name("dm-0").pci, [bdf("0000:01:00.0")]);
        assert_eq!(by_name("dm-0").mounts, ["/"]);
        assert_eq!(by_name("nvme0n1").mounts, ["/boot", "/boot/efi"]);
        assert_eq!(
            by_name("nvme1n1").pci,
            [bdf("0000:01:00.0"), bdf("0000:02:00.0")]
        );
        assert_eq!(by_name("nvme1n1").mounts, ["/data"]);
        assert!(by_name("zram0").swap && by_name("zram0").pci.is_empty());
        assert!(!by_name("nvme0n1").swap);
    }

    #[test]
    fn usb_devices_and_vtconsoles() {
        let t = Tree::new();
        let hub = "/sys/devices/pci0000:00/0000:00:14.0/usb1";
        t.file(&format!("{hub}/idVendor"), "1d6b\n")
            .file(&format!("{hub}/idProduct"), "0002\n")
            .file(&format!("{hub}/1-2/idVendor"), "046d\n")
            .file(&format!("{hub}/1-2/idProduct"), "c52b\n")
            .file(&format!("{hub}/1-2/product"), "USB Receiver\n")
            .dir(&format!("{hub}/1-2/1-2:1.0"))
            .link(
                "/sys/bus/usb/devices/usb1",
                "../../../devices/pci0000:00/0000:00:14.0/usb1",
            )
            .link(
                "/sys/bus/usb/devices/1-2",
                "../../../devices/pci0000:00/0000:00:14.0/usb1/1-2",
            )
            .link(
                "/sys/bus/usb/devices/1-2:1.0",
                "../../../devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0",
            )
            .file(
                "/sys/class/vtconsole/vtcon10/name",
                "(M) frame buffer device\n",
            )
            .file("/sys/class/vtconsole/vtcon0/name", "(S) dummy device\n");
        let facts = t.discover();
        assert_eq!(facts.usb.len(), 2);
        let receiver = &facts.usb[0];
        assert_eq!(
            (receiver.sysfs_name.as_str(), receiver.id.to_string()),
            ("1-2", "046d:c52b".to_owned())
        );
        assert_eq!(receiver.product.as_deref(), Some("USB Receiver"));
        assert_eq!(receiver.controller, Some(bdf("0000:00:14.0")));
        assert_eq!(
            facts.vtconsoles,
            ["(S) dummy device", "(M) frame buffer device"]
        );
    }

    #[test]
    fn kernelstub_beats_systemd_boot_files() {
        let t = Tree::new();
        t.file(
            "/etc/kernelstub/configuration",
            r#"{"user": {"kernel_options": ["quiet", "splash"]}}"#,
        )
        .file("/usr/bin/kernelstub", "")
        .file("/boot/efi/loader/loader.conf", "default Pop_OS-current\n")
        .file(
            "/proc/cmdline",
            "initrd=\\EFI\\Pop_OS\\initrd.img root=UUID=x ro quiet splash\n",
        )
        .dir("/etc/initramfs-tools")
        .file("/usr/sbin/update-initramfs", "");
        let facts = t.discover();
        assert_eq!(facts.boot.loader, Some(Loader::Kernelstub));
        assert_eq!(
            facts.boot.loader_evidence.as_deref(),
            Some("/etc/kernelstub/configuration")
        );
        assert_eq!(
            facts.boot.configured_cmdline.map(|c| c.tokens.len()),
            Some(2)
        );
        assert_eq!(facts.boot.initramfs, Some(Initramfs::InitramfsTools));
        assert_eq!(
            facts.boot.initramfs_evidence.as_deref(),
            Some("/usr/sbin/update-initramfs")
        );
        // Without the binary, the config alone is not kernelstub.
        std::fs::remove_file(t.path("/usr/bin/kernelstub")).unwrap();
        assert_eq!(t.discover().boot.loader, Some(Loader::SystemdBoot));
    }

    #[test]
    fn loader_info_and_systemd_boot_entry() {
        let t = Tree::new();
        let mut var = vec![6, 0, 0, 0];
        for u in "systemd-boot 255.4-1".encode_utf16().chain([0]) {
            var.extend(u.to_le_bytes());
        }
        t.bytes(
            "/sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f",
            &var,
        )
        // A leftover GRUB config must not win over what booted.
        .file("/etc/default/grub", "GRUB_CMDLINE_LINUX=\"stale\"\n")
        .file("/boot/grub/grub.cfg", "")
        .file(
            "/boot/loader/entries/arch.conf",
            "title Arch\noptions root=/dev/sda2 rw intel_iommu=on\n",
        )
        .file("/etc/mkinitcpio.conf", "MODULES=()\n")
        .dir("/etc/dracut.conf.d");
        let facts = t.discover();
        assert_eq!(facts.boot.loader, Some(Loader::SystemdBoot));
        assert!(
            facts
                .boot
                .loader_evidence
                .as_deref()
                .unwrap()
                .contains("LoaderInfo-")
        );
        let configured = facts.boot.configured_cmdline.unwrap();
        assert!(configured.has_key("intel_iommu"));
        assert_eq!(facts.boot.initramfs, Some(Initramfs::Mkinitcpio));
    }

    #[test]
    fn grub_debian_with_drop_in_and_grubby_fedora() {
        let debian = Tree::new();
        debian
            .file(
                "/etc/default/grub",
                "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n",
            )
            .file(
                "/etc/default/grub.d/50-vfio.cfg",
                "GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT iommu=pt\"\n",
            )
            .file(
                "/etc/default/grub.d/README",
                "GRUB_CMDLINE_LINUX_DEFAULT=ignored\n",
            )
            .file("/boot/grub/grub.cfg", "");
        let facts = debian.discover();
        assert_eq!(facts.boot.loader, Some(Loader::Grub));
        assert_eq!(
            facts.boot.loader_evidence.as_deref(),
            Some("/boot/grub/grub.cfg")
        );
        let keys: Vec<String> = facts
            .boot
            .configured_cmdline
            .unwrap()
            .tokens
            .into_iter()
            .map(|t| t.key)
            .collect();
        assert_eq!(keys, ["quiet", "iommu"]);

        let fedora = Tree::new();
        fedora
            .file(
                "/etc/default/grub",
                "GRUB_ENABLE_BLSCFG=true\nGRUB_CMDLINE_LINUX=\"rhgb quiet\"\n",
            )
            .file("/boot/grub2/grub.cfg", "")
            .file("/etc/kernel/cmdline", "rhgb quiet\n")
            .file(
                "/proc/cmdline",
                "BOOT_IMAGE=(hd0,gpt2)/vmlinuz-6.8 root=UUID=x ro rhgb quiet\n",
            )
            .file("/usr/bin/dracut", "");
        let facts = fedora.discover();
        assert_eq!(facts.boot.loader, Some(Loader::Grubby));
        assert_eq!(facts.boot.loader_evidence.as_deref(), Some("/proc/cmdline"));
        assert!(facts.boot.configured_cmdline.is_none());
        assert_eq!(facts.boot.initramfs, Some(Initramfs::Dracut));
    }

    #[test]
    fn vfio_pci_provisioning() {
        let t = Tree::new();
        t.file("/proc/sys/kernel/osrelease", "6.8.0-45-generic\n");
        assert_eq!(t.discover().vfio_pci, VfioPci::Unknown);
        t.dir("/sys/module/vfio_pci/parameters");
        assert_eq!(t.discover().vfio_pci, VfioPci::BuiltIn);
        t.file("/sys/module/vfio_pci/initstate", "live\n");
        assert_eq!(t.discover().vfio_pci, VfioPci::Module);
        t.file(
            "/lib/modules/6.8.0-45-generic/modules.builtin",
            "kernel/drivers/vfio/vfio.ko\nkernel/drivers/vfio/pci/vfio-pci.ko\n",
        );
        let facts = t.discover();
        assert_eq!(facts.vfio_pci, VfioPci::BuiltIn);
        assert_eq!(facts.kernel_release.as_deref(), Some("6.8.0-45-generic"));

        let arch = Tree::new();
        arch.file("/proc/sys/kernel/osrelease", "6.10.1-arch1-1\n")
            .dir("/usr/lib/modules/6.10.1-arch1-1")
            .link("/lib", "usr/lib")
            .file("/usr/lib/modules/6.10.1-arch1-1/modules.builtin", "kernel/drivers/vfio/vfio.ko\n")
            .file(
                "/usr/lib/modules/6.10.1-arch1-1/modules.dep",
                "kernel/drivers/vfio/pci/vfio-pci.ko.zst: kernel/drivers/vfio/pci/vfio-pci-core.ko.zst\n",
            )
            .file("/dev/kvm", "");
        let facts = arch.discover();
        assert_eq!(facts.vfio_pci, VfioPci::Module);
        assert!(facts.kvm_device);
    }

    #[test]
    fn odd_file_contents_are_tolerated() {
        let t = Tree::new();
        t.bytes(
            "/proc/cpuinfo",
            b"vendor_id\t: Authentic\xffAMD\nflags : svm\n",
        )
        .bytes("/proc/cmdline", b"quiet \xfe\xff root=/dev/sda1\n\n")
        .file("/sys/devices/system/cpu/online", "garbage")
        .file("/sys/devices/system/cpu/cpu0/topology/core_id", "  \n")
        .file(
            "/sys/devices/system/cpu/cpu0/topology/core_cpus_list",
            "3-1",
        )
        .file("/proc/meminfo", "MemTotal: 99999999999999999999999 kB\n")
        .file("/sys/devices/pci0000:00/0000:00:02.0/vendor", "nonsense")
        .link(
            "/sys/bus/pci/devices/0000:00:02.0",
            "../../../devices/pci0000:00/0000:00:02.0",
        )
        .link(
            "/sys/bus/pci/devices/not-a-bdf",
            "../../../devices/pci0000:00/0000:00:02.0",
        )
        .file("/usr/share/hwdata/pci.ids", "\t\t\n\tffff\nC\n");
        let facts = t.discover();
        assert_eq!(facts.cpu.vendor, CpuVendor::Unknown);
        assert!(facts.cpu.virtualization);
        assert_eq!(facts.cmdline.tokens.len(), 3);
        let cpu0 = facts.cpu(0).unwrap();
        assert!(
            cpu0.online,
            "an unreadable online list counts every CPU as online"
        );
        assert_eq!(cpu0.siblings.to_string(), "0");
        assert_eq!(facts.memory.total.0, 0);
        assert_eq!(facts.pci.len(), 1);
        assert!(facts.pci[&bdf("0000:00:02.0")].is_placeholder());
    }
}
