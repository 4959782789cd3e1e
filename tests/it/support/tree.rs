//! `FakeHost`: a data description of a Linux KVM host, and the writer that lays it out as a
//! root directory shaped exactly like the real sysfs, procfs, `/lib/modules`, `/dev` and `/etc`.
//!
//! The structs are plain data with public fields so a test can take a seed host, change one
//! fact (`host.pci[3].group = Some(7)`, `host.cmdline.push_str(" iommu=pt")`) and write it.
//! The writer follows the kernel's own formats independently of passplan's reader, so a
//! disagreement between the two shows up as a failing test rather than a shared mistake:
//!
//! * PCI functions live at `sys/devices/pci0000:00/<bridge>/…/<BDF>/` with `vendor`, `device`,
//!   `subsystem_*` (`0x%04x`), `class` (`0x%06x`), `revision`, `numa_node`, `driver_override`,
//!   `modalias`, `boot_vga` (only when set); `sys/bus/pci/devices/<BDF>`, `driver`, `iommu_group`
//!   and the group's `devices/<BDF>` are **relative** symlinks, as short as the kernel makes them.
//! * Offline CPUs have no `topology/` or `cache/` directory, as on a real kernel.
//! * `cpuN/cpufreq` is a symlink to `cpufreq/policyN`; `scaling_available_governors` ends in a
//!   space before the newline for governor-based drivers (the kernel prints `"%s "` per governor).
//! * Device nodes (`/dev/kvm`, `/dev/nvme0n1`) are empty regular files.
//!
//! Writing is deterministic: the whole tree is first built as a sorted map of entries
//! ([`FakeHost::entries`]) and then written in order.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io;
use std::path::{Component, Path, PathBuf};

/// One node of a written tree, keyed by its path relative to the root (no leading `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A regular file with its bytes; `exec` sets mode 0755 instead of 0644.
    File {
        /// The content.
        bytes: Vec<u8>,
        /// Whether the file is executable.
        exec: bool,
    },
    /// A symbolic link with its (relative) target, stored verbatim.
    Link(String),
    /// A directory that must exist even when empty.
    Dir,
}

/// A fake host. Every field is public; see the module docs for what is written where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeHost {
    /// `/proc/cpuinfo` model facts shared by every CPU.
    pub cpuinfo: FakeCpuInfo,
    /// Logical CPUs, any order (written sorted by id).
    pub cpus: Vec<FakeCpu>,
    /// Cache sizes for `cache/index{0..3}/size`.
    pub caches: FakeCaches,
    /// Per-CPU L3 sizes in KiB overriding `caches.l3_kb` (the V-Cache CCD of an X3D part).
    pub l3_kb_by_cpu: BTreeMap<u32, u32>,
    /// Whether `topology/core_cpus_list` and `die_cpus_list` exist (kernel ≥ 5.5). When false
    /// only the older `thread_siblings_list` / `core_siblings_list` are written.
    pub topology_core_cpus: bool,
    /// Whether `topology/cluster_id` and `cluster_cpus_list` exist (kernel ≥ 5.16).
    pub topology_cluster: bool,
    /// Per-CPU L2 clusters overriding the default (the CPU's own siblings) when
    /// `topology_cluster` is set: Intel E-cores share one L2 by four.
    pub cluster_by_cpu: BTreeMap<u32, Vec<u32>>,
    /// Per-CPU `cpuinfo_max_freq` in kHz overriding `cpufreq.max_khz` (hybrid P/E classes,
    /// favoured cores).
    pub max_khz_by_cpu: BTreeMap<u32, u64>,
    /// Intel hybrid P-core / E-core lists (`sys/devices/cpu_core/cpus`, `cpu_atom/cpus`).
    pub hybrid: Option<FakeHybrid>,
    /// `sys/devices/system/cpu/isolated` (an empty line when empty).
    pub isolated: Vec<u32>,
    /// NUMA nodes; their CPU lists come from [`FakeCpu::node`]. Empty: no `node/` directory.
    pub numa_nodes: Vec<FakeNode>,
    /// cpufreq policies; `None` writes no `cpufreq` anywhere (as in most VMs).
    pub cpufreq: Option<FakeCpuFreq>,
    /// `/proc/meminfo` and the hugepage pools.
    pub memory: FakeMemory,
    /// PCI functions. Bridges must be listed for every `parent` named.
    pub pci: Vec<FakePci>,
    /// USB devices, root hubs included (`usb3`).
    pub usb: Vec<FakeUsb>,
    /// Block devices behind PCI functions, with partitions, mounts and swap.
    pub block: Vec<FakeBlock>,
    /// Swap files (not partitions) for `/proc/swaps`, e.g. Ubuntu's `/swap.img`.
    pub swap_files: Vec<FakeSwapFile>,
    /// `/proc/cmdline` without the trailing newline.
    pub cmdline: String,
    /// `/proc/sys/kernel/osrelease` and the `lib/modules/<release>` directory name.
    pub kernel_release: String,
    /// How vfio-pci ships with the running kernel.
    pub vfio_pci: FakeVfioPci,
    /// Whether `/dev/kvm` exists.
    pub kvm: bool,
    /// Whether the host booted through UEFI (`sys/firmware/efi/efivars` exists).
    pub uefi: bool,
    /// The `LoaderInfo` EFI variable's text (`systemd-boot 249.11-0ubuntu3.11`, `GRUB 2.12`).
    pub loader_info: Option<String>,
    /// `sys/class/vtconsole/vtconN`, numbered by position.
    pub vtconsoles: Vec<FakeVtConsole>,
    /// A pci.ids database written to `usr/share/misc/pci.ids`.
    pub pci_ids: Option<String>,
    /// Arbitrary files by path (`etc/default/grub`); they replace generated files of the same path.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Paths of files that are executable (created empty when not in `files`).
    pub executables: BTreeSet<String>,
    /// Arbitrary symlinks, path → target (`etc/os-release` → `../usr/lib/os-release`).
    pub links: BTreeMap<String, String>,
    /// Directories that must exist even when empty (`etc/default/grub.d`).
    pub dirs: BTreeSet<String>,
    /// Paths to leave out of the generated tree, with everything below them
    /// (`lib/modules`, `sys/kernel/iommu_groups`): for "file missing" tests.
    pub omit: BTreeSet<String>,
}

/// `/proc/cpuinfo` fields that are the same on every CPU of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCpuInfo {
    /// `GenuineIntel` or `AuthenticAMD`.
    pub vendor_id: String,
    /// `cpu family`.
    pub family: u32,
    /// `model`.
    pub model: u32,
    /// `model name`.
    pub model_name: String,
    /// `stepping`.
    pub stepping: u32,
    /// `microcode`, e.g. `0x8701021`.
    pub microcode: String,
    /// `cpu MHz`, e.g. `3800.000`.
    pub mhz: String,
    /// `cache size` in KB (L2 on AMD, L3 on Intel, as the kernel reports it).
    pub cache_size_kb: u32,
    /// `cpuid level`.
    pub cpuid_level: u32,
    /// `flags`, space-separated (`vmx` / `svm` decide virtualisation support).
    pub flags: String,
    /// `bugs`, space-separated.
    pub bugs: String,
    /// `bogomips`, e.g. `7585.50`.
    pub bogomips: String,
    /// `TLB size` (AMD only), e.g. `3072 4K pages`.
    pub tlb_size: Option<String>,
    /// `address sizes`, e.g. `43 bits physical, 48 bits virtual`.
    pub address_sizes: String,
    /// `power management`.
    pub power_management: String,
}

/// One logical CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCpu {
    /// `cpuN`.
    pub id: u32,
    /// Online; offline CPUs get only an `online` file containing `0`.
    pub online: bool,
    /// `physical_package_id`.
    pub package: u32,
    /// `die_id`.
    pub die: u32,
    /// `core_id` (not unique across packages; may have gaps).
    pub core: u32,
    /// SMT siblings including this CPU (`core_cpus_list`, `thread_siblings_list`).
    pub siblings: Vec<u32>,
    /// CPUs sharing this CPU's L3; `None` writes no `index3`.
    pub l3: Option<Vec<u32>>,
    /// NUMA node (`nodeN` link under the CPU, and the node's `cpulist`).
    pub node: Option<u32>,
}

/// Cache sizes in KiB (the `_kb` suffix is the unit); `cache/indexN/id` is the core id for L1/L2 and the L3 domain's rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(
    clippy::struct_field_names,
    reason = "the shared suffix is the unit, KiB"
)]
pub struct FakeCaches {
    /// L1 data.
    pub l1d_kb: u32,
    /// L1 instruction.
    pub l1i_kb: u32,
    /// L2 (per core).
    pub l2_kb: u32,
    /// L3 (per L3 domain).
    pub l3_kb: u32,
}

/// P-core and E-core CPU lists of an Intel hybrid CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeHybrid {
    /// `sys/devices/cpu_core/cpus`.
    pub core_cpus: Vec<u32>,
    /// `sys/devices/cpu_atom/cpus`.
    pub atom_cpus: Vec<u32>,
}

/// A NUMA node. Hugepages of every size are reported on the lowest-numbered node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FakeNode {
    /// `nodeN`.
    pub id: u32,
    /// `Node N MemTotal`.
    pub mem_total_kb: u64,
    /// `Node N MemFree`.
    pub mem_free_kb: u64,
}

/// cpufreq: one policy per CPU (`cpufreq/policyN`), as `acpi-cpufreq` and `intel_pstate` do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCpuFreq {
    /// `scaling_driver` (`acpi-cpufreq`, `intel_pstate`).
    pub driver: String,
    /// `scaling_available_governors`, in the kernel's order.
    pub available: Vec<String>,
    /// `scaling_governor` of every CPU not in `overrides`.
    pub governor: String,
    /// Per-CPU governors that differ.
    pub overrides: BTreeMap<u32, String>,
    /// `cpuinfo_min_freq` in kHz.
    pub min_khz: u64,
    /// `cpuinfo_max_freq` in kHz.
    pub max_khz: u64,
}

/// `/proc/meminfo` and hugepages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMemory {
    /// `MemTotal` in kB.
    pub total_kb: u64,
    /// `MemFree` in kB.
    pub free_kb: u64,
    /// `MemAvailable` in kB.
    pub available_kb: u64,
    /// `Hugepagesize` in kB (the default size).
    pub hugepage_default_kb: u64,
    /// One `sys/kernel/mm/hugepages/hugepages-<kB>kB` per supported size.
    pub hugepages: Vec<FakeHugePool>,
}

/// A hugepage pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FakeHugePool {
    /// Page size in kB (2048, 1048576).
    pub size_kb: u64,
    /// `nr_hugepages`.
    pub total: u64,
    /// `free_hugepages`.
    pub free: u64,
}

/// A PCI function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePci {
    /// Full address, `0000:0d:00.0`.
    pub address: String,
    /// The upstream bridge's address (another entry of [`FakeHost::pci`]); `None` on the root bus.
    pub parent: Option<String>,
    /// `vendor`.
    pub vendor: u16,
    /// `device`.
    pub device: u16,
    /// `(subsystem_vendor, subsystem_device)`; `None` writes neither file.
    pub subsystem: Option<(u16, u16)>,
    /// 24-bit `class`.
    pub class: u32,
    /// `revision`.
    pub revision: u8,
    /// Bound driver (`driver` symlink into `sys/bus/pci/drivers/<name>`); `None` when unbound.
    pub driver: Option<String>,
    /// `driver_override`; `None` reads `(null)` as on the kernel.
    pub driver_override: Option<String>,
    /// `boot_vga`, written only when `Some` (the kernel has it on VGA-class devices only).
    pub boot_vga: Option<bool>,
    /// `numa_node` (`-1` = none).
    pub numa_node: i32,
    /// IOMMU group; `None` writes no `iommu_group` link.
    pub group: Option<u32>,
    /// DRM card number (`sys/class/drm/cardN`), for GPUs with a bound DRM driver.
    pub drm_card: Option<u32>,
}

/// A USB device or root hub. Its place under the controller comes from the name:
/// `usb3` is bus 3's root hub, `3-2` port 2 on bus 3, `3-2.1` port 1 of the hub at `3-2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUsb {
    /// sysfs name.
    pub name: String,
    /// The PCI address of the host controller.
    pub controller: String,
    /// `idVendor`.
    pub vendor: u16,
    /// `idProduct`.
    pub product: u16,
    /// `product` string.
    pub product_name: Option<String>,
    /// `manufacturer` string.
    pub manufacturer: Option<String>,
    /// `devnum`.
    pub devnum: u32,
}

/// A block device (whole disk) hanging off a PCI function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeBlock {
    /// Kernel name: `nvme0n1` (`NVMe` layout) or `sda` (AHCI layout).
    pub name: String,
    /// The PCI function (`NVMe` controller or SATA controller).
    pub pci: String,
    /// `size` in 512-byte sectors.
    pub sectors: u64,
    /// Model string (`NVMe`: controller `model`, padded to 40 columns as the kernel does).
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// Names under `dev/disk/by-id/` pointing at the disk.
    pub by_id: Vec<String>,
    /// Partitions.
    pub partitions: Vec<FakePartition>,
    /// A filesystem on the whole disk.
    pub mount: Option<FakeMount>,
    /// Swap on the whole disk.
    pub swap: bool,
}

/// A partition of a [`FakeBlock`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePartition {
    /// Partition number (`partition` file; `nvme0n1p<N>`, `sda<N>`).
    pub number: u32,
    /// `start` in sectors.
    pub start: u64,
    /// `size` in sectors.
    pub sectors: u64,
    /// Its mounted filesystem.
    pub mount: Option<FakeMount>,
    /// Active swap.
    pub swap: bool,
}

/// A mounted filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMount {
    /// Mount point (`/`, `/boot/efi`).
    pub path: String,
    /// Filesystem type (`ext4`, `vfat`).
    pub fstype: String,
    /// Mount options (`rw,relatime`).
    pub options: String,
    /// Super-block options (`rw,errors=remount-ro`).
    pub super_options: String,
}

/// A swap file listed in `/proc/swaps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSwapFile {
    /// Path (`/swap.img`).
    pub path: String,
    /// File size in KiB (`/proc/swaps` shows 4 KiB less: the header page).
    pub size_kb: u64,
}

/// How the running kernel ships vfio-pci.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeVfioPci {
    /// Listed in `modules.builtin`.
    BuiltIn,
    /// A module in `modules.dep`.
    Module,
    /// Neither (a kernel without vfio-pci).
    Absent,
}

/// A virtual console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeVtConsole {
    /// `name`: `(S) dummy device`, `(M) frame buffer device`.
    pub name: String,
    /// `bind`.
    pub bind: bool,
}

impl Default for FakeHost {
    /// An empty UEFI host: no CPUs, no devices, cmdline empty. Seeds fill it in.
    fn default() -> Self {
        Self {
            cpuinfo: FakeCpuInfo {
                vendor_id: String::new(),
                family: 0,
                model: 0,
                model_name: String::new(),
                stepping: 0,
                microcode: "0x0".into(),
                mhz: "0.000".into(),
                cache_size_kb: 0,
                cpuid_level: 0,
                flags: String::new(),
                bugs: String::new(),
                bogomips: "0.00".into(),
                tlb_size: None,
                address_sizes: "39 bits physical, 48 bits virtual".into(),
                power_management: String::new(),
            },
            cpus: Vec::new(),
            caches: FakeCaches {
                l1d_kb: 32,
                l1i_kb: 32,
                l2_kb: 256,
                l3_kb: 8192,
            },
            l3_kb_by_cpu: BTreeMap::new(),
            cluster_by_cpu: BTreeMap::new(),
            max_khz_by_cpu: BTreeMap::new(),
            topology_core_cpus: true,
            topology_cluster: false,
            hybrid: None,
            isolated: Vec::new(),
            numa_nodes: Vec::new(),
            cpufreq: None,
            memory: FakeMemory {
                total_kb: 0,
                free_kb: 0,
                available_kb: 0,
                hugepage_default_kb: 2048,
                hugepages: Vec::new(),
            },
            pci: Vec::new(),
            usb: Vec::new(),
            block: Vec::new(),
            swap_files: Vec::new(),
            cmdline: String::new(),
            kernel_release: String::new(),
            vfio_pci: FakeVfioPci::Module,
            kvm: true,
            uefi: true,
            loader_info: None,
            vtconsoles: Vec::new(),
            pci_ids: None,
            files: BTreeMap::new(),
            executables: BTreeSet::new(),
            links: BTreeMap::new(),
            dirs: BTreeSet::new(),
            omit: BTreeSet::new(),
        }
    }
}

/// The kernel's list format for CPU sets: ascending, runs of two or more as `a-b`.
pub fn cpu_list(cpus: &[u32]) -> String {
    let mut sorted = cpus.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            let _ = write!(out, "{start}");
        } else {
            let _ = write!(out, "{start}-{end}");
        }
        i += 1;
    }
    out
}

/// The relative symlink target the kernel would write for a link at `link` pointing to
/// `target` (both tree-relative): up from the link's directory to the common ancestor, then down.
pub fn relative_target(link: &str, target: &str) -> String {
    let link_dir: Vec<&str> = link.split('/').collect();
    let link_dir = &link_dir[..link_dir.len() - 1];
    let target_parts: Vec<&str> = target.split('/').collect();
    let common = link_dir
        .iter()
        .zip(&target_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut parts: Vec<&str> = vec![".."; link_dir.len() - common];
    parts.extend(&target_parts[common..]);
    parts.join("/")
}

/// `0d:00.0` → `0000:0d:00.0`; full addresses pass through.
pub fn full_address(address: &str) -> String {
    if address.len() == 7 {
        format!("0000:{address}")
    } else {
        address.to_owned()
    }
}

/// Strips a leading `/` so user-given paths and generated paths share one key space.
fn key(path: &str) -> String {
    path.trim_start_matches('/').to_owned()
}

/// `0000:0d:00.0` → (domain, bus); panics on a malformed address (a bug in the fixture).
fn domain_bus(address: &str) -> (&str, &str) {
    let mut parts = address.split(':');
    let domain = parts.next().expect("pci domain");
    let bus = parts.next().expect("pci bus");
    (domain, bus)
}

/// The block device naming rule for partition `n` of `disk`.
pub fn partition_name(disk: &str, n: u32) -> String {
    if disk.ends_with(|c: char| c.is_ascii_digit()) {
        format!("{disk}p{n}")
    } else {
        format!("{disk}{n}")
    }
}

/// Collects entries; later inserts replace earlier ones (so `files` can override).
#[derive(Default)]
struct Builder {
    entries: BTreeMap<String, Entry>,
}

impl Builder {
    fn file(&mut self, path: &str, content: impl Into<Vec<u8>>) {
        self.entries.insert(
            key(path),
            Entry::File {
                bytes: content.into(),
                exec: false,
            },
        );
    }

    /// A sysfs attribute: the value plus the newline the kernel prints.
    fn attr(&mut self, path: &str, value: impl std::fmt::Display) {
        self.file(path, format!("{value}\n"));
    }

    /// A relative symlink at `link` to the tree path `target`.
    fn link(&mut self, link: &str, target: &str) {
        self.entries
            .insert(key(link), Entry::Link(relative_target(link, target)));
    }

    fn dir(&mut self, path: &str) {
        self.entries.insert(key(path), Entry::Dir);
    }
}

impl FakeHost {
    /// The PCI function with this address (`0000:0d:00.0` or short `0d:00.0`), if listed.
    pub fn pci_device(&self, address: &str) -> Option<&FakePci> {
        let address = full_address(address);
        self.pci.iter().find(|d| d.address == address)
    }

    /// Mutable access to the PCI function with this address (full or short); panics when
    /// absent.
    pub fn pci_mut(&mut self, address: &str) -> &mut FakePci {
        let full = full_address(address);
        self.pci
            .iter_mut()
            .find(|d| d.address == full)
            .unwrap_or_else(|| panic!("no PCI function {address} in the fake host"))
    }

    /// Removes a PCI function (and nothing else: children keep their `parent`).
    pub fn remove_pci(&mut self, address: &str) {
        let address = full_address(address);
        self.pci.retain(|d| d.address != address);
    }

    /// Sets a file's content (path with or without the leading `/`).
    pub fn set_file(&mut self, path: &str, content: impl Into<Vec<u8>>) {
        self.files.insert(key(path), content.into());
    }

    /// The sysfs directory of a PCI function, following `parent` links up to the root bus.
    pub fn pci_dir(&self, address: &str) -> String {
        let mut chain = vec![address.to_owned()];
        let mut current = self.pci_device(address);
        while let Some(parent) = current.and_then(|d| d.parent.clone()) {
            assert!(
                !chain.contains(&parent),
                "PCI parent cycle through {parent}"
            );
            current = self.pci_device(&parent);
            chain.push(parent);
        }
        chain.reverse();
        let (domain, bus) = domain_bus(&chain[0]);
        format!("sys/devices/pci{domain}:{bus}/{}", chain.join("/"))
    }

    /// Every path → entry of the tree, sorted. [`FakeHost::write`] writes exactly this.
    pub fn entries(&self) -> BTreeMap<String, Entry> {
        let mut b = Builder::default();
        self.build_cpus(&mut b);
        self.build_nodes(&mut b);
        self.build_memory(&mut b);
        self.build_pci(&mut b);
        self.build_usb(&mut b);
        self.build_block(&mut b);
        self.build_kernel(&mut b);
        self.build_misc(&mut b);
        for (path, bytes) in &self.files {
            b.file(path, bytes.clone());
        }
        for path in &self.executables {
            let bytes = self.files.get(&key(path)).cloned().unwrap_or_default();
            b.entries
                .insert(key(path), Entry::File { bytes, exec: true });
        }
        for (path, target) in &self.links {
            b.entries.insert(key(path), Entry::Link(target.clone()));
        }
        for dir in &self.dirs {
            b.dir(dir);
        }
        let mut entries = b.entries;
        for omitted in &self.omit {
            let omitted = key(omitted);
            let below = format!("{omitted}/");
            entries.retain(|path, _| *path != omitted && !path.starts_with(&below));
        }
        entries
    }

    /// Writes the tree under `root` (created if missing). Existing files are overwritten;
    /// nothing else is removed.
    pub fn write(&self, root: &Path) -> io::Result<()> {
        std::fs::create_dir_all(root)?;
        let mut made: BTreeSet<PathBuf> = BTreeSet::new();
        let mut mkdir = |dir: &Path| -> io::Result<()> {
            if !made.contains(dir) {
                std::fs::create_dir_all(dir)?;
                made.insert(dir.to_path_buf());
            }
            Ok(())
        };
        for (path, entry) in self.entries() {
            let full = safe_join(root, &path)?;
            if let Some(parent) = full.parent() {
                mkdir(parent)?;
            }
            match entry {
                Entry::Dir => mkdir(&full)?,
                Entry::File { bytes, exec } => {
                    std::fs::write(&full, bytes)?;
                    // Only the executable bit matters (it is all git keeps).
                    if exec {
                        set_exec(&full)?;
                    }
                }
                Entry::Link(target) => {
                    if full.symlink_metadata().is_ok() {
                        std::fs::remove_file(&full)?;
                    }
                    std::os::unix::fs::symlink(target, &full)?;
                }
            }
        }
        Ok(())
    }

    fn build_cpus(&self, b: &mut Builder) {
        let base = "sys/devices/system/cpu";
        let mut cpus: Vec<&FakeCpu> = self.cpus.iter().collect();
        cpus.sort_by_key(|c| c.id);
        let all: Vec<u32> = cpus.iter().map(|c| c.id).collect();
        let online: Vec<u32> = cpus.iter().filter(|c| c.online).map(|c| c.id).collect();
        b.attr(&format!("{base}/present"), cpu_list(&all));
        b.attr(&format!("{base}/possible"), cpu_list(&all));
        b.attr(&format!("{base}/online"), cpu_list(&online));
        b.attr(&format!("{base}/offline"), {
            let offline: Vec<u32> = cpus.iter().filter(|c| !c.online).map(|c| c.id).collect();
            cpu_list(&offline)
        });
        b.attr(&format!("{base}/isolated"), cpu_list(&self.isolated));

        // L3 domain ids: rank of the domain's lowest CPU among all domains.
        let mut l3_domains: Vec<Vec<u32>> = cpus
            .iter()
            .filter_map(|c| c.l3.as_ref())
            .map(|l3| {
                let mut l3 = l3.clone();
                l3.sort_unstable();
                l3
            })
            .collect();
        l3_domains.sort();
        l3_domains.dedup();

        for cpu in &cpus {
            let dir = format!("{base}/cpu{}", cpu.id);
            if cpu.id != 0 {
                b.attr(&format!("{dir}/online"), u8::from(cpu.online));
            }
            if let Some(node) = cpu.node {
                b.link(
                    &format!("{dir}/node{node}"),
                    &format!("sys/devices/system/node/node{node}"),
                );
            }
            if !cpu.online {
                b.dir(&dir);
                continue;
            }
            let package_cpus: Vec<u32> = cpus
                .iter()
                .filter(|c| c.package == cpu.package)
                .map(|c| c.id)
                .collect();
            let die_cpus: Vec<u32> = cpus
                .iter()
                .filter(|c| c.package == cpu.package && c.die == cpu.die)
                .map(|c| c.id)
                .collect();
            let topo = format!("{dir}/topology");
            b.attr(&format!("{topo}/physical_package_id"), cpu.package);
            b.attr(&format!("{topo}/die_id"), cpu.die);
            b.attr(&format!("{topo}/core_id"), cpu.core);
            b.attr(
                &format!("{topo}/thread_siblings_list"),
                cpu_list(&cpu.siblings),
            );
            b.attr(
                &format!("{topo}/core_siblings_list"),
                cpu_list(&package_cpus),
            );
            b.attr(
                &format!("{topo}/package_cpus_list"),
                cpu_list(&package_cpus),
            );
            if self.topology_core_cpus {
                b.attr(&format!("{topo}/core_cpus_list"), cpu_list(&cpu.siblings));
                b.attr(&format!("{topo}/die_cpus_list"), cpu_list(&die_cpus));
            }
            if self.topology_cluster {
                let cluster = self.cluster_by_cpu.get(&cpu.id).unwrap_or(&cpu.siblings);
                let first = cluster.iter().min().copied().unwrap_or(cpu.id);
                let id = cpus
                    .iter()
                    .find(|c| c.id == first)
                    .map_or(cpu.core, |c| c.core);
                b.attr(&format!("{topo}/cluster_id"), id);
                b.attr(&format!("{topo}/cluster_cpus_list"), cpu_list(cluster));
            }

            let cache = format!("{dir}/cache");
            let mut index =
                |n: u32, level: u32, kind: &str, shared: &[u32], size: u32, id: usize| {
                    let d = format!("{cache}/index{n}");
                    b.attr(&format!("{d}/level"), level);
                    b.attr(&format!("{d}/type"), kind);
                    b.attr(&format!("{d}/shared_cpu_list"), cpu_list(shared));
                    b.attr(&format!("{d}/size"), format!("{size}K"));
                    b.attr(&format!("{d}/id"), id);
                    b.attr(&format!("{d}/coherency_line_size"), 64);
                };
            let core = cpu.core as usize;
            index(0, 1, "Data", &cpu.siblings, self.caches.l1d_kb, core);
            index(1, 1, "Instruction", &cpu.siblings, self.caches.l1i_kb, core);
            index(2, 2, "Unified", &cpu.siblings, self.caches.l2_kb, core);
            if let Some(l3) = &cpu.l3 {
                let mut sorted = l3.clone();
                sorted.sort_unstable();
                let id = l3_domains.iter().position(|d| *d == sorted).unwrap_or(0);
                let size = self
                    .l3_kb_by_cpu
                    .get(&cpu.id)
                    .copied()
                    .unwrap_or(self.caches.l3_kb);
                index(3, 3, "Unified", l3, size, id);
            }

            if let Some(freq) = &self.cpufreq {
                let policy = format!("{base}/cpufreq/policy{}", cpu.id);
                b.link(&format!("{dir}/cpufreq"), &policy);
                let governor = freq.overrides.get(&cpu.id).unwrap_or(&freq.governor);
                b.attr(&format!("{policy}/scaling_governor"), governor);
                b.attr(&format!("{policy}/scaling_driver"), &freq.driver);
                let available = if freq.driver == "intel_pstate" {
                    // intel_pstate's setpolicy branch prints a fixed string.
                    freq.available.join(" ")
                } else {
                    // Governor drivers print "%s " per governor: note the trailing space.
                    freq.available.iter().fold(String::new(), |mut out, g| {
                        let _ = write!(out, "{g} ");
                        out
                    })
                };
                b.attr(&format!("{policy}/scaling_available_governors"), available);
                b.attr(&format!("{policy}/affected_cpus"), cpu.id);
                b.attr(&format!("{policy}/related_cpus"), cpu.id);
                b.attr(&format!("{policy}/cpuinfo_min_freq"), freq.min_khz);
                let max = self
                    .max_khz_by_cpu
                    .get(&cpu.id)
                    .copied()
                    .unwrap_or(freq.max_khz);
                b.attr(&format!("{policy}/cpuinfo_max_freq"), max);
                b.attr(&format!("{policy}/scaling_min_freq"), freq.min_khz);
                b.attr(&format!("{policy}/scaling_max_freq"), max);
            }
        }

        if let Some(hybrid) = &self.hybrid {
            b.attr("sys/devices/cpu_core/cpus", cpu_list(&hybrid.core_cpus));
            b.attr("sys/devices/cpu_atom/cpus", cpu_list(&hybrid.atom_cpus));
        }

        b.file("proc/cpuinfo", self.cpuinfo_text());
    }

    /// `/proc/cpuinfo`: one stanza per online CPU, each ending in a blank line.
    fn cpuinfo_text(&self) -> String {
        let info = &self.cpuinfo;
        let mut cpus: Vec<&FakeCpu> = self.cpus.iter().filter(|c| c.online).collect();
        cpus.sort_by_key(|c| c.id);
        let mut out = String::new();
        for cpu in &cpus {
            let in_package: Vec<&&FakeCpu> =
                cpus.iter().filter(|c| c.package == cpu.package).collect();
            let mut cores: Vec<(u32, u32)> = in_package.iter().map(|c| (c.die, c.core)).collect();
            cores.sort_unstable();
            cores.dedup();
            let thread = cpu.siblings.iter().filter(|s| **s < cpu.id).count();
            let apicid = cpu.core * 2 + u32::try_from(thread).unwrap_or(0);
            let _ = write!(
                out,
                "processor\t: {}\n\
                 vendor_id\t: {}\n\
                 cpu family\t: {}\n\
                 model\t\t: {}\n\
                 model name\t: {}\n\
                 stepping\t: {}\n\
                 microcode\t: {}\n\
                 cpu MHz\t\t: {}\n\
                 cache size\t: {} KB\n\
                 physical id\t: {}\n\
                 siblings\t: {}\n\
                 core id\t\t: {}\n\
                 cpu cores\t: {}\n\
                 apicid\t\t: {apicid}\n\
                 initial apicid\t: {apicid}\n\
                 fpu\t\t: yes\n\
                 fpu_exception\t: yes\n\
                 cpuid level\t: {}\n\
                 wp\t\t: yes\n\
                 flags\t\t: {}\n\
                 bugs\t\t: {}\n\
                 bogomips\t: {}\n\
                 {}\
                 clflush size\t: 64\n\
                 cache_alignment\t: 64\n\
                 address sizes\t: {}\n\
                 power management: {}\n\n",
                cpu.id,
                info.vendor_id,
                info.family,
                info.model,
                info.model_name,
                info.stepping,
                info.microcode,
                info.mhz,
                info.cache_size_kb,
                cpu.package,
                in_package.len(),
                cpu.core,
                cores.len(),
                info.cpuid_level,
                info.flags,
                info.bugs,
                info.bogomips,
                info.tlb_size
                    .as_ref()
                    .map_or(String::new(), |t| format!("TLB size\t: {t}\n")),
                info.address_sizes,
                info.power_management,
            );
        }
        out
    }

    fn build_nodes(&self, b: &mut Builder) {
        if self.numa_nodes.is_empty() {
            return;
        }
        let base = "sys/devices/system/node";
        let mut nodes = self.numa_nodes.clone();
        nodes.sort_by_key(|n| n.id);
        let ids: Vec<u32> = nodes.iter().map(|n| n.id).collect();
        b.attr(&format!("{base}/online"), cpu_list(&ids));
        b.attr(&format!("{base}/possible"), cpu_list(&ids));
        b.attr(&format!("{base}/has_memory"), cpu_list(&ids));
        let with_cpus: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|id| self.cpus.iter().any(|c| c.node == Some(*id)))
            .collect();
        b.attr(&format!("{base}/has_cpu"), cpu_list(&with_cpus));
        for (i, node) in nodes.iter().enumerate() {
            let dir = format!("{base}/node{}", node.id);
            let cpus: Vec<u32> = self
                .cpus
                .iter()
                .filter(|c| c.node == Some(node.id))
                .map(|c| c.id)
                .collect();
            b.attr(&format!("{dir}/cpulist"), cpu_list(&cpus));
            let first = i == 0;
            let pool = |size_kb: u64| {
                self.memory
                    .hugepages
                    .iter()
                    .find(|p| p.size_kb == size_kb)
                    .filter(|_| first)
                    .copied()
            };
            let default_pool = pool(self.memory.hugepage_default_kb);
            let id = node.id;
            let used = node.mem_total_kb.saturating_sub(node.mem_free_kb);
            let mut text = String::new();
            let _ = write!(
                text,
                "Node {id} MemTotal:       {:>8} kB\n\
                 Node {id} MemFree:        {:>8} kB\n\
                 Node {id} MemUsed:        {used:>8} kB\n\
                 Node {id} HugePages_Total: {:>5}\n\
                 Node {id} HugePages_Free:  {:>5}\n\
                 Node {id} HugePages_Surp:  {:>5}\n",
                node.mem_total_kb,
                node.mem_free_kb,
                default_pool.map_or(0, |p| p.total),
                default_pool.map_or(0, |p| p.free),
                0,
            );
            b.file(&format!("{dir}/meminfo"), text);
            for hp in &self.memory.hugepages {
                let p = pool(hp.size_kb);
                let d = format!("{dir}/hugepages/hugepages-{}kB", hp.size_kb);
                b.attr(&format!("{d}/nr_hugepages"), p.map_or(0, |p| p.total));
                b.attr(&format!("{d}/free_hugepages"), p.map_or(0, |p| p.free));
                b.attr(&format!("{d}/surplus_hugepages"), 0);
            }
        }
    }

    fn build_memory(&self, b: &mut Builder) {
        let m = &self.memory;
        let default_pool = m
            .hugepages
            .iter()
            .find(|p| p.size_kb == m.hugepage_default_kb);
        let hugetlb: u64 = m.hugepages.iter().map(|p| p.size_kb * p.total).sum();
        let swap_total: u64 = self.swap_entries().iter().map(|s| s.2).sum();
        let kb = |label: &str, value: u64| format!("{:<16}{value:>8} kB\n", format!("{label}:"));
        // `HugePages_*` counts are "%5lu" after a label padded to 19 columns: 24 in all.
        let count = |label: &str, value: u64| format!("{:<16}{value:>8}\n", format!("{label}:"));
        let mut text = String::new();
        text += &kb("MemTotal", m.total_kb);
        text += &kb("MemFree", m.free_kb);
        text += &kb("MemAvailable", m.available_kb);
        text += &kb("Buffers", m.total_kb / 100);
        text += &kb("Cached", m.total_kb / 10);
        text += &kb("SwapCached", 0);
        text += &kb("SwapTotal", swap_total);
        text += &kb("SwapFree", swap_total);
        text += &kb("Shmem", m.total_kb / 200);
        text += &count("HugePages_Total", default_pool.map_or(0, |p| p.total));
        text += &count("HugePages_Free", default_pool.map_or(0, |p| p.free));
        text += &count("HugePages_Rsvd", 0);
        text += &count("HugePages_Surp", 0);
        text += &kb("Hugepagesize", m.hugepage_default_kb);
        text += &kb("Hugetlb", hugetlb);
        b.file("proc/meminfo", text);
        for pool in &m.hugepages {
            let d = format!("sys/kernel/mm/hugepages/hugepages-{}kB", pool.size_kb);
            b.attr(&format!("{d}/nr_hugepages"), pool.total);
            b.attr(&format!("{d}/free_hugepages"), pool.free);
            b.attr(&format!("{d}/resv_hugepages"), 0);
            b.attr(&format!("{d}/surplus_hugepages"), 0);
            b.attr(&format!("{d}/nr_overcommit_hugepages"), 0);
        }
    }

    fn build_pci(&self, b: &mut Builder) {
        let mut devices: Vec<&FakePci> = self.pci.iter().collect();
        devices.sort_by(|a, b| a.address.cmp(&b.address));
        for dev in devices {
            let dir = self.pci_dir(&dev.address);
            b.attr(&format!("{dir}/vendor"), format!("0x{:04x}", dev.vendor));
            b.attr(&format!("{dir}/device"), format!("0x{:04x}", dev.device));
            let (sv, sd) = dev.subsystem.unwrap_or((0, 0));
            if dev.subsystem.is_some() {
                b.attr(&format!("{dir}/subsystem_vendor"), format!("0x{sv:04x}"));
                b.attr(&format!("{dir}/subsystem_device"), format!("0x{sd:04x}"));
            }
            b.attr(&format!("{dir}/class"), format!("0x{:06x}", dev.class));
            b.attr(
                &format!("{dir}/revision"),
                format!("0x{:02x}", dev.revision),
            );
            b.attr(&format!("{dir}/numa_node"), dev.numa_node);
            b.attr(
                &format!("{dir}/driver_override"),
                dev.driver_override.as_deref().unwrap_or("(null)"),
            );
            b.attr(
                &format!("{dir}/modalias"),
                format!(
                    "pci:v{:08X}d{:08X}sv{:08X}sd{:08X}bc{:02X}sc{:02X}i{:02X}",
                    dev.vendor,
                    dev.device,
                    sv,
                    sd,
                    dev.class >> 16,
                    (dev.class >> 8) & 0xff,
                    dev.class & 0xff
                ),
            );
            if let Some(boot_vga) = dev.boot_vga {
                b.attr(&format!("{dir}/boot_vga"), u8::from(boot_vga));
            }
            b.link(&format!("sys/bus/pci/devices/{}", dev.address), &dir);
            if let Some(driver) = &dev.driver {
                let drv = format!("sys/bus/pci/drivers/{driver}");
                b.link(&format!("{dir}/driver"), &drv);
                b.link(&format!("{drv}/{}", dev.address), &dir);
            }
            if let Some(group) = dev.group {
                let g = format!("sys/kernel/iommu_groups/{group}");
                b.link(&format!("{dir}/iommu_group"), &g);
                b.link(&format!("{g}/devices/{}", dev.address), &dir);
            }
            if let Some(card) = dev.drm_card {
                let card_dir = format!("{dir}/drm/card{card}");
                b.link(&format!("{card_dir}/device"), &dir);
                b.link(&format!("sys/class/drm/card{card}"), &card_dir);
            }
        }
    }

    /// The sysfs directory of a USB device from its name and controller.
    fn usb_dir(&self, usb: &FakeUsb) -> String {
        let controller = self.pci_dir(&usb.controller);
        if let Some(bus) = usb.name.strip_prefix("usb") {
            return format!("{controller}/usb{bus}");
        }
        let (bus, ports) = usb.name.split_once('-').expect("usb name bus-port");
        let mut path = format!("{controller}/usb{bus}");
        let mut name = format!("{bus}-");
        for (i, port) in ports.split('.').enumerate() {
            if i > 0 {
                name.push('.');
            }
            name.push_str(port);
            path = format!("{path}/{name}");
        }
        path
    }

    fn build_usb(&self, b: &mut Builder) {
        for usb in &self.usb {
            let dir = self.usb_dir(usb);
            b.attr(&format!("{dir}/idVendor"), format!("{:04x}", usb.vendor));
            b.attr(&format!("{dir}/idProduct"), format!("{:04x}", usb.product));
            let bus = usb
                .name
                .trim_start_matches("usb")
                .split('-')
                .next()
                .unwrap_or("0");
            b.attr(&format!("{dir}/busnum"), bus);
            b.attr(&format!("{dir}/devnum"), usb.devnum);
            if let Some(product) = &usb.product_name {
                b.attr(&format!("{dir}/product"), product);
            }
            if let Some(manufacturer) = &usb.manufacturer {
                b.attr(&format!("{dir}/manufacturer"), manufacturer);
            }
            b.link(&format!("sys/bus/usb/devices/{}", usb.name), &dir);
        }
    }

    /// `(major, minor)` for each block device and partition, in the order the kernel would
    /// hand them out: `NVMe` namespaces and partitions share major 259 sequentially by name;
    /// SCSI disks take major 8 and 16 minors per disk.
    pub fn block_numbers(&self) -> BTreeMap<String, (u32, u32)> {
        let mut numbers = BTreeMap::new();
        let mut disks: Vec<&FakeBlock> = self.block.iter().collect();
        disks.sort_by(|a, b| a.name.cmp(&b.name));
        let mut next_ext = 0;
        for disk in disks {
            if let Some(letter) = disk.name.strip_prefix("sd") {
                let index = u32::from(letter.as_bytes()[0] - b'a');
                numbers.insert(disk.name.clone(), (8, index * 16));
                for p in &disk.partitions {
                    numbers.insert(
                        partition_name(&disk.name, p.number),
                        (8, index * 16 + p.number),
                    );
                }
            } else {
                numbers.insert(disk.name.clone(), (259, next_ext));
                next_ext += 1;
                let mut parts: Vec<&FakePartition> = disk.partitions.iter().collect();
                parts.sort_by_key(|p| p.number);
                for p in parts {
                    numbers.insert(partition_name(&disk.name, p.number), (259, next_ext));
                    next_ext += 1;
                }
            }
        }
        numbers
    }

    /// The sysfs directory of a whole disk.
    fn block_dir(&self, disk: &FakeBlock) -> String {
        let pci = self.pci_dir(&disk.pci);
        if let Some(rest) = disk.name.strip_prefix("nvme") {
            let controller = rest.split('n').next().unwrap_or("0");
            format!("{pci}/nvme/nvme{controller}/{}", disk.name)
        } else {
            let letter = disk.name.trim_start_matches("sd").as_bytes()[0];
            let host = u32::from(letter - b'a');
            format!(
                "{pci}/ata{}/host{host}/target{host}:0:0/{host}:0:0:0/block/{}",
                host + 1,
                disk.name
            )
        }
    }

    fn build_block(&self, b: &mut Builder) {
        let numbers = self.block_numbers();
        for disk in &self.block {
            let dir = self.block_dir(disk);
            let (major, minor) = numbers[&disk.name];
            b.attr(&format!("{dir}/dev"), format!("{major}:{minor}"));
            b.attr(&format!("{dir}/size"), disk.sectors);
            b.attr(&format!("{dir}/removable"), 0);
            b.attr(&format!("{dir}/ro"), 0);
            b.link(&format!("sys/class/block/{}", disk.name), &dir);
            b.link(&format!("sys/block/{}", disk.name), &dir);
            b.link(&format!("sys/dev/block/{major}:{minor}"), &dir);
            b.file(&format!("dev/{}", disk.name), Vec::new());
            if disk.name.starts_with("nvme") {
                // The controller directory: model and serial are space-padded by the kernel.
                let ctrl = dir.rsplit_once('/').map_or(dir.as_str(), |(c, _)| c);
                b.attr(&format!("{ctrl}/model"), format!("{:<40}", disk.model));
                b.attr(&format!("{ctrl}/serial"), format!("{:<20}", disk.serial));
                b.link(&format!("{ctrl}/device"), &self.pci_dir(&disk.pci));
                let ctrl_name = ctrl.rsplit('/').next().unwrap_or("nvme0");
                b.link(&format!("sys/class/nvme/{ctrl_name}"), ctrl);
            } else {
                let device = dir.trim_end_matches(&format!("/block/{}", disk.name));
                b.attr(&format!("{device}/model"), format!("{:<16}", disk.model));
                b.attr(&format!("{device}/vendor"), "ATA     ");
            }
            for id in &disk.by_id {
                b.link(
                    &format!("dev/disk/by-id/{id}"),
                    &format!("dev/{}", disk.name),
                );
            }
            for p in &disk.partitions {
                let name = partition_name(&disk.name, p.number);
                let pdir = format!("{dir}/{name}");
                let (major, minor) = numbers[&name];
                b.attr(&format!("{pdir}/partition"), p.number);
                b.attr(&format!("{pdir}/dev"), format!("{major}:{minor}"));
                b.attr(&format!("{pdir}/start"), p.start);
                b.attr(&format!("{pdir}/size"), p.sectors);
                b.link(&format!("sys/class/block/{name}"), &pdir);
                b.link(&format!("sys/dev/block/{major}:{minor}"), &pdir);
                b.file(&format!("dev/{name}"), Vec::new());
            }
        }
        b.file("proc/self/mountinfo", self.mountinfo_text());
        b.file("proc/self/mounts", self.mounts_text());
        b.file("proc/swaps", self.swaps_text());
    }

    /// Block-backed mounts as `(mount, device name, major, minor)`, root first then by path.
    fn block_mounts(&self) -> Vec<(&FakeMount, String, u32, u32)> {
        let numbers = self.block_numbers();
        let mut mounts = Vec::new();
        for disk in &self.block {
            if let Some(m) = &disk.mount {
                let (ma, mi) = numbers[&disk.name];
                mounts.push((m, disk.name.clone(), ma, mi));
            }
            for p in &disk.partitions {
                if let Some(m) = &p.mount {
                    let name = partition_name(&disk.name, p.number);
                    let (ma, mi) = numbers[&name];
                    mounts.push((m, name, ma, mi));
                }
            }
        }
        mounts.sort_by(|a, b| (a.0.path != "/", &a.0.path).cmp(&(b.0.path != "/", &b.0.path)));
        mounts
    }

    /// The pseudo filesystems every host mounts, as `(mount point, fstype, source, options)`.
    const PSEUDO_MOUNTS: [(&'static str, &'static str, &'static str, &'static str); 6] = [
        ("/sys", "sysfs", "sysfs", "rw,nosuid,nodev,noexec,relatime"),
        ("/proc", "proc", "proc", "rw,nosuid,nodev,noexec,relatime"),
        ("/dev", "devtmpfs", "udev", "rw,nosuid,relatime"),
        ("/run", "tmpfs", "tmpfs", "rw,nosuid,nodev,noexec,relatime"),
        ("/dev/hugepages", "hugetlbfs", "hugetlbfs", "rw,relatime"),
        (
            "/sys/firmware/efi/efivars",
            "efivarfs",
            "efivarfs",
            "rw,nosuid,nodev,noexec,relatime",
        ),
    ];

    /// `/proc/self/mountinfo`: `ID PARENT MAJ:MIN ROOT POINT OPTS SHARED - TYPE SOURCE SUPER`.
    fn mountinfo_text(&self) -> String {
        let mut out = String::new();
        let mounts = self.block_mounts();
        let root_id = 26;
        let mut id = root_id;
        let mut shared = 1;
        let mut minor = 20;
        let mut emit_pseudo = |out: &mut String, id: &mut u32, shared: &mut u32| {
            for (point, fstype, source, opts) in Self::PSEUDO_MOUNTS {
                if point.contains("efivars") && !self.uefi {
                    continue;
                }
                let parent = if point == "/sys/firmware/efi/efivars" {
                    root_id + 1
                } else if point == "/dev/hugepages" {
                    root_id + 3
                } else {
                    root_id
                };
                *id += 1;
                *shared += 1;
                minor += 1;
                let _ = writeln!(
                    out,
                    "{id} {parent} 0:{minor} / {point} {opts} shared:{shared} - {fstype} {source} rw"
                );
            }
        };
        let mut pseudo_done = false;
        for (m, dev, major, mi) in &mounts {
            let parent = if m.path == "/" { 1 } else { root_id };
            let this_id = if m.path == "/" { root_id } else { id + 1 };
            if m.path != "/" {
                id += 1;
                shared += 1;
            }
            let _ = writeln!(
                out,
                "{this_id} {parent} {major}:{mi} / {} {} shared:{} - {} /dev/{dev} {}",
                m.path,
                m.options,
                if m.path == "/" { 1 } else { shared },
                m.fstype,
                m.super_options
            );
            if m.path == "/" && !pseudo_done {
                emit_pseudo(&mut out, &mut id, &mut shared);
                pseudo_done = true;
            }
        }
        if !pseudo_done {
            emit_pseudo(&mut out, &mut id, &mut shared);
        }
        out
    }

    /// `/proc/self/mounts`: `SOURCE POINT TYPE OPTS 0 0`, same order as mountinfo.
    fn mounts_text(&self) -> String {
        let mut out = String::new();
        for line in self.mountinfo_text().lines() {
            let (left, right) = line.split_once(" - ").expect("mountinfo separator");
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            let _ = writeln!(out, "{} {} {} {} 0 0", right[1], left[4], right[0], left[5]);
        }
        out
    }

    /// Swap areas as `(path, kind, size_kb)` with the size the kernel reports (the header
    /// page does not count), partitions before files.
    fn swap_entries(&self) -> Vec<(String, &'static str, u64)> {
        let mut out = Vec::new();
        for disk in &self.block {
            if disk.swap {
                out.push((
                    format!("/dev/{}", disk.name),
                    "partition",
                    disk.sectors / 2 - 4,
                ));
            }
            for p in &disk.partitions {
                if p.swap {
                    let name = partition_name(&disk.name, p.number);
                    out.push((format!("/dev/{name}"), "partition", p.sectors / 2 - 4));
                }
            }
        }
        for f in &self.swap_files {
            out.push((f.path.clone(), "file", f.size_kb - 4));
        }
        out
    }

    /// `/proc/swaps` in the kernel's layout (`swap_show` in mm/swapfile.c): the path padded
    /// to 40 columns, `file` followed by a tab, extra tabs after small numbers.
    fn swaps_text(&self) -> String {
        let mut out = String::from("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
        for (path, kind, size) in self.swap_entries() {
            let pad = if path.len() < 40 { 40 - path.len() } else { 1 };
            let kind = if kind == "file" { "file\t" } else { kind };
            let used = 0u64;
            let _ = writeln!(
                out,
                "{path}{:pad$}{kind}\t{size}\t{}{used}\t{}-2",
                "",
                if size < 10_000_000 { "\t" } else { "" },
                if used < 10_000_000 { "\t" } else { "" },
            );
        }
        out
    }

    fn build_kernel(&self, b: &mut Builder) {
        b.attr("proc/cmdline", &self.cmdline);
        b.attr("proc/sys/kernel/osrelease", &self.kernel_release);
        let modules = format!("lib/modules/{}", self.kernel_release);
        // vfio-pci-core split out in 5.15; vfio_virqfd merged into vfio in 6.2.
        let version: Vec<u32> = self
            .kernel_release
            .split(['.', '-'])
            .take(2)
            .filter_map(|p| p.parse().ok())
            .collect();
        let at_least = |major: u32, minor: u32| version.as_slice() >= [major, minor].as_slice();
        let mut vfio = vec!["kernel/drivers/vfio/vfio.ko".to_owned()];
        if !at_least(6, 2) {
            vfio.push("kernel/drivers/vfio/vfio_virqfd.ko".to_owned());
        }
        vfio.push("kernel/drivers/vfio/vfio_iommu_type1.ko".to_owned());
        if at_least(5, 15) {
            vfio.push("kernel/drivers/vfio/pci/vfio-pci-core.ko".to_owned());
        }
        let vfio_pci = "kernel/drivers/vfio/pci/vfio-pci.ko";
        let mut builtin = vec![
            "kernel/drivers/pci/pcie/portdrv.ko".to_owned(),
            "kernel/drivers/usb/host/xhci-hcd.ko".to_owned(),
            "kernel/fs/ext4/ext4.ko".to_owned(),
        ];
        let mut dep = vec![
            "kernel/drivers/nvme/host/nvme-core.ko:".to_owned(),
            "kernel/drivers/nvme/host/nvme.ko: kernel/drivers/nvme/host/nvme-core.ko".to_owned(),
            "kernel/virt/lib/irqbypass.ko:".to_owned(),
        ];
        match self.vfio_pci {
            FakeVfioPci::BuiltIn => {
                builtin.extend(vfio.iter().cloned());
                builtin.push(vfio_pci.to_owned());
            }
            FakeVfioPci::Module => {
                for m in &vfio {
                    dep.push(format!("{m}:"));
                }
                let mut deps: Vec<&str> = vfio.iter().map(String::as_str).collect();
                deps.retain(|m| !m.ends_with("vfio_iommu_type1.ko"));
                deps.reverse();
                deps.push("kernel/virt/lib/irqbypass.ko");
                dep.push(format!("{vfio_pci}: {}", deps.join(" ")));
            }
            FakeVfioPci::Absent => {}
        }
        builtin.sort();
        dep.sort();
        b.file(&format!("{modules}/modules.builtin"), lines(&builtin));
        b.file(&format!("{modules}/modules.dep"), lines(&dep));
    }

    fn build_misc(&self, b: &mut Builder) {
        if self.kvm {
            b.file("dev/kvm", Vec::new());
        }
        for (n, vt) in self.vtconsoles.iter().enumerate() {
            let dir = format!("sys/devices/virtual/vtconsole/vtcon{n}");
            b.attr(&format!("{dir}/name"), &vt.name);
            b.attr(&format!("{dir}/bind"), u8::from(vt.bind));
            b.link(&format!("sys/class/vtconsole/vtcon{n}"), &dir);
        }
        if self.uefi {
            let vars = "sys/firmware/efi/efivars";
            b.dir(vars);
            if let Some(info) = &self.loader_info {
                b.file(
                    &format!("{vars}/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"),
                    efi_string(info),
                );
            }
        }
        if let Some(ids) = &self.pci_ids {
            b.file("usr/share/misc/pci.ids", ids.clone());
        }
    }
}

/// An EFI variable holding a string: the attribute word (BOOTSERVICE|RUNTIME = 6, little
/// endian) then UTF-16LE text with a NUL terminator, as systemd-boot and GRUB ≥ 2.12 write it.
pub fn efi_string(text: &str) -> Vec<u8> {
    let mut bytes = vec![0x06, 0x00, 0x00, 0x00];
    for unit in text.encode_utf16().chain(std::iter::once(0)) {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    bytes
}

/// Lines joined with a newline after each.
fn lines(items: &[String]) -> String {
    items.iter().fold(String::new(), |mut out, l| {
        let _ = writeln!(out, "{l}");
        out
    })
}

/// `root/path`, refusing paths that would escape the root.
fn safe_join(root: &Path, path: &str) -> io::Result<PathBuf> {
    let rel = Path::new(path);
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("fake host path `{path}` must be relative and plain"),
        ));
    }
    Ok(root.join(rel))
}

fn set_exec(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}
