//! Host discovery: sysfs, procfs and `/etc` under a root directory → [`HostFacts`].
//!
//! Discovery reads each file once, spawns nothing (no `lspci`, no `lscpu`), and never writes.
//! The root is `/` on a live machine and a directory tree in tests and examples, laid out
//! exactly as the kernel and the distribution lay out the real files. A missing or odd file
//! is a fact about the host (no IOMMU, no cpufreq, no NUMA), not an error: only an unreadable
//! root is an error.

mod block;
mod boot;
mod cmdline;
mod cpu;
mod discover;
mod files;
mod memory;
mod pci;
mod pciids;
pub mod render;
mod sysroot;
mod takes;
mod usb;
mod vfio_config;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::model::{ByteSize, CpuSet, PciAddress, PciId, UsbId};

pub use cmdline::{is_loader_injected, token_spans};
pub use discover::{HostError, discover};
pub use takes::Passing;
pub use vfio_config::{Directive, VfioLine, alias_matches, glob as fnmatch, parse_modprobe};

/// Everything passplan knows about a host. Invariant: internally consistent — every address in
/// `iommu_groups` is a key of `pci`, and every `Cpu::siblings` contains the CPU itself.
#[derive(Debug, Clone, Serialize)]
pub struct HostFacts {
    /// The root the facts were read from (`/` on a live host).
    pub root: PathBuf,
    /// CPU vendor, model and virtualisation support, from `/proc/cpuinfo`.
    pub cpu: CpuInfo,
    /// Every logical CPU present (online or not), ascending by id.
    pub cpus: Vec<Cpu>,
    /// NUMA nodes, ascending by id (ids may have gaps); empty when the kernel exposes none.
    pub numa_nodes: Vec<NumaNode>,
    /// PCI functions by address.
    pub pci: BTreeMap<PciAddress, PciDevice>,
    /// IOMMU groups by number (numbers may have gaps); empty when the IOMMU is off.
    pub iommu_groups: BTreeMap<u32, Vec<PciAddress>>,
    /// Memory and hugepages.
    pub memory: Memory,
    /// cpufreq governors; `None` when cpufreq is absent (common in VMs).
    pub cpufreq: Option<CpuFreq>,
    /// Where [`Cpu::kind`] came from.
    pub core_kinds: CoreKindSource,
    /// The running kernel's command line, `/proc/cmdline`.
    pub cmdline: KernelCmdline,
    /// The running kernel's release (`/proc/sys/kernel/osrelease`), when known.
    pub kernel_release: Option<String>,
    /// Whether `/dev/kvm` exists.
    pub kvm_device: bool,
    /// How vfio-pci is provided by the running kernel.
    pub vfio_pci: VfioPci,
    /// Block devices with the PCI function behind them and what they hold.
    pub block_devices: Vec<BlockDevice>,
    /// USB devices.
    pub usb: Vec<UsbDevice>,
    /// The boot loader mechanism and initramfs generator in use.
    pub boot: BootInfo,
    /// Virtual consoles (`/sys/class/vtconsole`), for single-GPU handoff.
    pub vtconsoles: Vec<String>,
    /// The configuration files passplan edits or owns, as read: absolute path → text. Compile
    /// computes target contents from these, so it never reads the disk itself.
    #[serde(skip)]
    pub files: BTreeMap<String, String>,
    /// Names from a pci.ids database, when the host has one. Display only.
    #[serde(skip)]
    pub pci_names: PciNames,
    /// Files discovery left unread because they are over its size limit, sorted by path: the
    /// facts they hold are unknown, not absent (`host/file-too-large`).
    #[serde(skip)]
    pub oversized: Vec<OversizedFile>,
}

/// A host file over discovery's size limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OversizedFile {
    /// Root-relative path, as the host spells it (`/usr/share/misc/pci.ids`).
    pub path: String,
    /// The limit it is over, in bytes.
    pub limit: u64,
}

/// CPU vendor as `/proc/cpuinfo` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CpuVendor {
    /// `GenuineIntel`.
    Intel,
    /// `AuthenticAMD`.
    Amd,
    /// Anything else, or unreadable.
    Unknown,
}

/// Facts from `/proc/cpuinfo`.
#[derive(Debug, Clone, Serialize)]
pub struct CpuInfo {
    /// The vendor.
    pub vendor: CpuVendor,
    /// `model name`, when present.
    pub model_name: Option<String>,
    /// Whether `flags` has `vmx` (Intel VT-x) or `svm` (AMD-V).
    pub virtualization: bool,
}

/// Performance class of a core on hybrid CPUs, from `/sys/devices/cpu_core` and `cpu_atom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CoreKind {
    /// Not a hybrid CPU, or unknown.
    Uniform,
    /// Intel P-core.
    Performance,
    /// Intel E-core.
    Efficiency,
}

/// Where the hybrid core kinds were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CoreKindSource {
    /// No kinds: the CPU is not hybrid, or nothing shows it (every core is `Uniform`).
    None,
    /// The hybrid PMU directories, `/sys/devices/cpu_core/cpus` and `cpu_atom/cpus`.
    Pmu,
    /// The tree without them: SMT, L2 clusters and `cpuinfo_max_freq` classes.
    Topology,
}

/// One logical CPU.
#[derive(Debug, Clone, Serialize)]
pub struct Cpu {
    /// Logical CPU number (`cpuN`).
    pub id: u32,
    /// Whether the CPU is online (`/sys/devices/system/cpu/online`).
    pub online: bool,
    /// `physical_package_id`.
    pub package: u32,
    /// `die_id` (0 when absent).
    pub die: u32,
    /// `core_id`: not unique across packages and may have gaps — key on (package, die, core).
    /// An offline CPU without a topology directory gets package 0, die 0 and its own id here
    /// (so it merges with no real core); don't group offline CPUs by core.
    pub core: u32,
    /// SMT siblings including this CPU (`core_cpus_list` or `thread_siblings_list`).
    pub siblings: CpuSet,
    /// CPUs sharing this CPU's L3 (`cache/index*/level == 3`), `None` when it has no L3.
    pub l3: Option<CpuSet>,
    /// Size of that L3 (`cache/index*/size`), when readable. The V-Cache CCD of an X3D part is
    /// the domain with the larger L3; nothing else tells the two CCDs apart in sysfs.
    pub l3_size: Option<ByteSize>,
    /// NUMA node holding the CPU, when the kernel exposes nodes.
    pub node: Option<u32>,
    /// P-core / E-core on hybrid Intel CPUs.
    pub kind: CoreKind,
}

/// A NUMA node.
#[derive(Debug, Clone, Serialize)]
pub struct NumaNode {
    /// Node id (`nodeN`).
    pub id: u32,
    /// CPUs of the node (`cpulist`).
    pub cpus: CpuSet,
    /// `MemTotal` of the node, when readable.
    pub memory: Option<ByteSize>,
}

/// One PCI function from `/sys/bus/pci/devices/<BDF>`.
#[derive(Debug, Clone, Serialize)]
pub struct PciDevice {
    /// Address.
    pub address: PciAddress,
    /// `vendor:device`.
    pub id: PciId,
    /// `subsystem_vendor:subsystem_device`, when present.
    pub subsystem: Option<PciId>,
    /// 24-bit class code (`0x030000`).
    pub class: u32,
    /// Bound driver name, `None` when unbound.
    pub driver: Option<String>,
    /// `boot_vga`: `Some(true)` on the firmware's boot display; `None` when the file is absent.
    pub boot_vga: Option<bool>,
    /// `numa_node`, `None` for `-1`.
    pub numa_node: Option<u32>,
    /// IOMMU group number, `None` when the IOMMU is off.
    pub iommu_group: Option<u32>,
}

/// Whether a driver name read from a tree (the `driver` link's target) is a kernel module or
/// driver name: 1 to 64 of `a-z`, `0-9`, `_` and `-`. Real names have hyphens (`vfio-pci`,
/// `ehci-pci`, `sof-audio-pci-intel-tgl`, `intel-lpss`) and underscores (`snd_hda_intel`,
/// `xhci_hcd`); modprobe reads `-` and `_` alike. Anything else (a newline, a blank, a quote)
/// is never written into modprobe configuration or a hook script (`device/driver-name`).
pub fn is_driver_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl PciDevice {
    /// Class code base and sub-class (`0x0300` VGA).
    pub fn class_prefix(&self) -> u16 {
        u16::try_from(self.class >> 8).unwrap_or(u16::MAX)
    }

    /// A display controller: VGA (`0x0300`), XGA (`0x0301`), 3D (`0x0302`) or other display.
    pub fn is_gpu(&self) -> bool {
        self.class >> 16 == 0x03
    }

    /// A function discovery could not read (a group member without a device directory, or
    /// unreadable `vendor`/`device`): its id is `ffff:ffff`, what config space reads back for
    /// an absent function. It is kept so its IOMMU group is never shown smaller than it is.
    pub fn is_placeholder(&self) -> bool {
        self.id.vendor == 0xffff && self.id.device == 0xffff
    }

    /// A PCI-to-PCI bridge or root port (`0x0604`), which does not block group viability.
    pub fn is_bridge(&self) -> bool {
        matches!(self.class_prefix(), 0x0604 | 0x0600)
    }
}

/// Memory and hugepage facts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Memory {
    /// `MemTotal`.
    pub total: ByteSize,
    /// `MemAvailable`, when present.
    pub available: Option<ByteSize>,
    /// `Hugepagesize`, the default hugepage size.
    pub default_hugepage: Option<ByteSize>,
    /// Supported hugepage sizes with their current pools, ascending by size.
    pub hugepages: Vec<HugepagePool>,
}

/// A hugepage size the kernel supports (`/sys/kernel/mm/hugepages/hugepages-<size>kB`).
#[derive(Debug, Clone, Serialize)]
pub struct HugepagePool {
    /// Page size.
    pub size: ByteSize,
    /// `nr_hugepages`.
    pub total: u64,
    /// `free_hugepages`.
    pub free: u64,
}

/// cpufreq facts.
#[derive(Debug, Clone, Serialize)]
pub struct CpuFreq {
    /// Governors available on CPU 0 (`scaling_available_governors`).
    pub available: Vec<String>,
    /// The current governor per CPU.
    pub current: BTreeMap<u32, String>,
}

/// A kernel command line split into tokens the way the kernel does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KernelCmdline {
    /// Tokens in order, quotes removed; `--` and what follows (init's arguments) excluded.
    pub tokens: Vec<CmdlineToken>,
}

/// One command-line token: `key` or `key=value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CmdlineToken {
    /// The parameter name as written.
    pub key: String,
    /// The value, `None` for a bare flag.
    pub value: Option<String>,
}

/// How the running kernel provides vfio-pci.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VfioPci {
    /// Built into the kernel: modprobe options do nothing; ids go on the cmdline.
    BuiltIn,
    /// A loadable module.
    Module,
    /// Could not tell (no modules.builtin for the running kernel).
    Unknown,
}

/// A block device and the PCI function behind it.
#[derive(Debug, Clone, Serialize)]
pub struct BlockDevice {
    /// Kernel name (`nvme0n1`, `sda`, `dm-0`).
    pub name: String,
    /// Every `/dev` path naming the disk or one of its partitions (`/dev/nvme0n1p2`,
    /// `/dev/mapper/root`, udev's `/dev/disk/by-id/…` links), sorted.
    pub links: Vec<String>,
    /// The PCI function the device hangs off (through `NVMe` multipath and `dm` slaves).
    pub pci: Vec<PciAddress>,
    /// Mount points of filesystems on it or its partitions (`/`, `/home`).
    pub mounts: Vec<String>,
    /// Whether it or a partition is active swap.
    pub swap: bool,
}

/// A USB device (`/sys/bus/usb/devices/*` with `idVendor`).
#[derive(Debug, Clone, Serialize)]
pub struct UsbDevice {
    /// sysfs name (`1-2.3`).
    pub sysfs_name: String,
    /// `idVendor:idProduct`.
    pub id: UsbId,
    /// `product`, when present.
    pub product: Option<String>,
    /// The PCI USB controller it hangs off, when resolvable.
    pub controller: Option<PciAddress>,
}

/// The boot-loader mechanism that owns the kernel command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loader {
    /// GRUB configured through `/etc/default/grub`.
    Grub,
    /// GRUB with BLS entries managed by grubby (Fedora, RHEL).
    Grubby,
    /// Pop!_OS kernelstub.
    Kernelstub,
    /// systemd-boot (kernel-install or hand-written entries).
    SystemdBoot,
}

/// The initramfs generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Initramfs {
    /// Debian/Ubuntu initramfs-tools.
    InitramfsTools,
    /// dracut.
    Dracut,
    /// Arch mkinitcpio.
    Mkinitcpio,
    /// booster.
    Booster,
}

/// What discovery found about booting.
#[derive(Debug, Clone, Serialize)]
pub struct BootInfo {
    /// The loader mechanism, when recognised.
    pub loader: Option<Loader>,
    /// Which file or variable decided it (shown to the user).
    pub loader_evidence: Option<String>,
    /// The initramfs generator, when recognised.
    pub initramfs: Option<Initramfs>,
    /// Which file decided it.
    pub initramfs_evidence: Option<String>,
    /// The kernel command line as configured for the next boot (from the loader's source of
    /// truth), when it could be read; compare with [`HostFacts::cmdline`] for a pending reboot.
    pub configured_cmdline: Option<KernelCmdline>,
}

/// Vendor and device names from a pci.ids database. Display only: never used for decisions.
#[derive(Debug, Clone, Default)]
pub struct PciNames {
    /// Vendor names by id.
    pub vendors: BTreeMap<u16, String>,
    /// Device names by (vendor, device).
    pub devices: BTreeMap<(u16, u16), String>,
}

impl PciNames {
    /// `Vendor Device` for an id, when known.
    pub fn describe(&self, id: PciId) -> Option<String> {
        let vendor = self.vendors.get(&id.vendor)?;
        Some(match self.devices.get(&(id.vendor, id.device)) {
            Some(device) => format!("{vendor} {device}"),
            None => vendor.clone(),
        })
    }
}

impl HostFacts {
    /// Whether the IOMMU is on (any group exists).
    pub fn iommu_enabled(&self) -> bool {
        !self.iommu_groups.is_empty()
    }

    /// The CPU with this id.
    pub fn cpu(&self, id: u32) -> Option<&Cpu> {
        self.cpus
            .binary_search_by_key(&id, |c| c.id)
            .ok()
            .map(|i| &self.cpus[i])
    }

    /// All online CPUs.
    pub fn online_cpus(&self) -> CpuSet {
        self.cpus
            .iter()
            .filter(|c| c.online)
            .map(|c| c.id)
            .collect()
    }

    /// The other functions in `address`'s IOMMU group.
    pub fn group_peers(&self, address: PciAddress) -> Vec<PciAddress> {
        let Some(group) = self.pci.get(&address).and_then(|d| d.iommu_group) else {
            return Vec::new();
        };
        self.iommu_groups
            .get(&group)
            .map(|members| members.iter().copied().filter(|a| *a != address).collect())
            .unwrap_or_default()
    }

    /// The ACS override on the running kernel's command line (`pcie_acs_override=`), with its
    /// value as written (empty for a bare flag): the IOMMU groups are then synthetic, split by
    /// the kernel's assertion rather than by the hardware.
    pub fn acs_override(&self) -> Option<String> {
        self.cmdline
            .values("pcie_acs_override")
            .next()
            .map(|v| v.unwrap_or_default().to_owned())
    }

    /// Every function of the slot `address` belongs to, ascending.
    pub fn slot_functions(&self, address: PciAddress) -> Vec<PciAddress> {
        self.pci
            .keys()
            .copied()
            .filter(|a| a.same_slot(&address))
            .collect()
    }

    /// A human name for a PCI function: pci.ids name when known, else the class.
    /// Names from `pci.ids` are the tree's text: control characters come out escaped
    /// ([`render::shown`]), so no listing or report carries a terminal escape from it.
    pub fn describe_pci(&self, device: &PciDevice) -> String {
        self.pci_names.describe(device.id).map_or_else(
            || class_name(device.class).to_owned(),
            |name| render::shown(&name).into_owned(),
        )
    }
}

impl KernelCmdline {
    /// Whether a parameter with this name is present (`-` and `_` are the same in names).
    pub fn has_key(&self, key: &str) -> bool {
        self.tokens.iter().any(|t| param_names_equal(&t.key, key))
    }

    /// The values of every occurrence of `key`.
    pub fn values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = Option<&'a str>> + 'a {
        self.tokens
            .iter()
            .filter(move |t| param_names_equal(&t.key, key))
            .map(|t| t.value.as_deref())
    }
}

/// Kernel parameter names treat `-` and `_` alike (`vfio-pci.ids` = `vfio_pci.ids`).
pub fn param_names_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| {
            let norm = |c: u8| if c == b'-' { b'_' } else { c };
            norm(x) == norm(y)
        })
}

/// A short name for a PCI class code, for display when no pci.ids is present.
pub fn class_name(class: u32) -> &'static str {
    match class >> 8 {
        0x0300 => "VGA compatible controller",
        0x0302 => "3D controller",
        0x0380 => "Display controller",
        0x0403 => "Audio device",
        0x0401 => "Multimedia audio controller",
        0x0c03 => "USB controller",
        0x0c80 => "Serial bus controller",
        0x0108 => "Non-Volatile memory controller",
        0x0106 => "SATA controller",
        0x0604 => "PCI bridge",
        0x0600 => "Host bridge",
        0x0601 => "ISA bridge",
        0x0200 => "Ethernet controller",
        0x0280 => "Network controller",
        0x0c05 => "SMBus",
        0x1080 => "Encryption controller",
        0x1300 => "Non-Essential Instrumentation",
        _ => "PCI device",
    }
}
