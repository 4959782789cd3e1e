//! The spec: KDL 2 text → [`Spec`], every user value [`Spanned`] so later stages can point
//! back into the text.
//!
//! Decoding happens once ([`parse`]); it collects every problem instead of stopping at the
//! first, and returns a `Spec` only when there were no errors. A `Spec` is syntactically valid
//! and internally consistent (names are safe and unique, references resolve, values have the
//! right types); whether it fits the host is the checker's question.

mod decode;
mod depth;
pub mod grammar;
mod names;

use miette::SourceSpan;

use crate::model::{ByteSize, CpuSet, PciAddress, PciId, UsbId};

pub use decode::parse;
pub use names::{NAME_RULE, NameError, validate_name};

/// A value with the span of the text it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: SourceSpan,
}

impl<T> Spanned<T> {
    /// Wrap a value.
    pub fn new(value: T, span: SourceSpan) -> Self {
        Self { value, span }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// A decoded spec. Invariant: names are safe and unique, every reference resolves to a
/// declared device or bridge, enum values are valid; nothing here has been compared with a host.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The `host` block (defaults when absent).
    pub host: HostBlock,
    /// GPUs and other devices, in spec order.
    pub devices: Vec<Device>,
    /// VMs, in spec order.
    pub vms: Vec<Vm>,
}

impl Spec {
    /// The device with this name.
    pub fn device(&self, name: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.name.value == name)
    }
}

/// The `host` block.
#[derive(Debug, Clone, Default)]
pub struct HostBlock {
    /// Optional label for the host.
    pub name: Option<Spanned<String>>,
    /// Boot configuration.
    pub boot: Boot,
    /// libvirt connection URI.
    pub libvirt_uri: Option<Spanned<String>>,
    /// Host bridges.
    pub bridges: Vec<Bridge>,
    /// The host needs no display of its own (a headless server).
    pub headless: Option<SourceSpan>,
}

/// Boot configuration.
#[derive(Debug, Clone, Default)]
pub struct Boot {
    /// Loader mechanism; `None` = auto-detect.
    pub loader: Option<Spanned<LoaderChoice>>,
    /// Initramfs generator; `None` = auto-detect.
    pub initramfs: Option<Spanned<InitramfsChoice>>,
    /// IOMMU mode, when the spec manages it.
    pub iommu: Option<Spanned<IommuMode>>,
    /// ACS override values (`downstream`, `multifunction`, `id:…`), when asked for.
    pub acs_override: Option<Spanned<Vec<String>>>,
    /// Extra kernel parameters.
    pub params: Vec<Spanned<String>>,
    /// Extra boot-time hugepages.
    pub hugepages: Option<BootHugepages>,
}

/// A loader named in the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoaderChoice {
    /// GRUB via `/etc/default/grub`.
    Grub,
    /// grubby (BLS).
    Grubby,
    /// kernelstub.
    Kernelstub,
    /// systemd-boot.
    SystemdBoot,
}

/// An initramfs generator named in the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitramfsChoice {
    /// initramfs-tools.
    InitramfsTools,
    /// dracut.
    Dracut,
    /// mkinitcpio.
    Mkinitcpio,
    /// booster.
    Booster,
}

/// IOMMU mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IommuMode {
    /// Enable the IOMMU.
    On,
    /// Enable it with identity mapping for host devices (`iommu=pt`).
    Passthrough,
}

/// Boot-time hugepage reservation.
#[derive(Debug, Clone)]
pub struct BootHugepages {
    /// Page size.
    pub size: Spanned<ByteSize>,
    /// Number of pages.
    pub count: Spanned<u64>,
}

/// A host bridge.
#[derive(Debug, Clone)]
pub struct Bridge {
    /// Bridge interface name (`br0`).
    pub name: Spanned<String>,
    /// The physical interface enslaved to it.
    pub interface: Spanned<String>,
    /// Which network stack writes it.
    pub backend: Spanned<BridgeBackend>,
    /// Whether the bridge takes an address by DHCP (default yes).
    pub dhcp: bool,
}

/// Network configuration backend for a bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeBackend {
    /// systemd-networkd `.netdev` / `.network` files.
    Networkd,
    /// NetworkManager keyfiles.
    NetworkManager,
}

/// A GPU or other PCI device.
#[derive(Debug, Clone)]
pub struct Device {
    /// The name used in references.
    pub name: Spanned<String>,
    /// Whether it was declared with `gpu`.
    pub is_gpu: bool,
    /// Where the device is.
    pub pci: Spanned<PciAddress>,
    /// What it should be, when stated.
    pub id: Option<Spanned<PciId>>,
    /// Subsystem id, when stated.
    pub subsystem: Option<Spanned<PciId>>,
    /// GPU role (`None` for non-GPU devices, which are guest devices).
    pub role: Option<Spanned<GpuRole>>,
    /// When vfio-pci takes the device.
    pub bind: Spanned<Bind>,
    /// Single-GPU handoff.
    pub handoff: Option<Handoff>,
    /// Function numbers of the slot the guest takes (`functions "0" "1"`), when the spec says;
    /// `None`: the default (a GPU's card, a device's own function).
    pub functions: Option<Spanned<Vec<u8>>>,
    /// The whole declaration.
    pub span: SourceSpan,
}

impl Device {
    /// Whether the device is meant for a guest.
    pub fn is_guest(&self) -> bool {
        self.role.as_ref().is_none_or(|r| r.value == GpuRole::Guest)
    }
}

/// Who uses a GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuRole {
    /// The host keeps it.
    Host,
    /// A guest gets it.
    Guest,
}

/// When vfio-pci takes a device, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bind {
    /// At boot or at VM start.
    pub when: BindTime,
    /// How a boot binding selects the device.
    pub by: BindBy,
}

/// When vfio-pci takes a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindTime {
    /// libvirt detaches it when the VM starts (`managed='yes'`) and gives it back after.
    VmStart,
    /// vfio-pci claims it at boot.
    Boot,
}

/// How a boot-time binding selects devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindBy {
    /// By vendor:device when that is unambiguous on the host, else by address.
    Auto,
    /// By vendor:device (`vfio-pci.ids=`).
    Ids,
    /// By address (`driver_override`).
    Address,
}

/// Single-GPU handoff settings.
#[derive(Debug, Clone)]
pub struct Handoff {
    /// Where `handoff` was written.
    pub span: SourceSpan,
    /// The display manager unit to stop, when not auto-detected.
    pub display_manager: Option<Spanned<String>>,
}

/// A guest.
#[derive(Debug, Clone)]
pub struct Vm {
    /// Domain name.
    pub name: Spanned<String>,
    /// Memory size and backing.
    pub memory: Memory,
    /// CPU configuration.
    pub cpu: CpuBlock,
    /// Firmware.
    pub firmware: Spanned<Firmware>,
    /// Machine type.
    pub machine: Spanned<String>,
    /// Accelerator: KVM, or TCG emulation.
    pub accel: Spanned<Accel>,
    /// Devices passed through, by name, with each reference's span.
    pub passthrough: Vec<Spanned<String>>,
    /// USB devices by id.
    pub usb: Vec<Spanned<UsbId>>,
    /// USB controllers passed whole, by device name.
    pub usb_controllers: Vec<Spanned<String>>,
    /// Virtual disks.
    pub disks: Vec<Disk>,
    /// CD-ROM images.
    pub cdroms: Vec<Spanned<String>>,
    /// Network interfaces.
    pub networks: Vec<Network>,
    /// Hyper-V enlightenments.
    pub hyperv: Option<Hyperv>,
    /// Hide KVM from the guest.
    pub hide_kvm: Option<SourceSpan>,
    /// SMBIOS identity.
    pub smbios: Option<Spanned<Smbios>>,
    /// Clock.
    pub clock: Clock,
    /// The user's hook scripts.
    pub hooks: Vec<UserHook>,
    /// The whole declaration.
    pub span: SourceSpan,
}

impl Vm {
    /// Every device reference of the VM: passthrough and USB controllers.
    pub fn device_refs(&self) -> impl Iterator<Item = &Spanned<String>> {
        self.passthrough.iter().chain(&self.usb_controllers)
    }
}

/// Guest memory.
#[derive(Debug, Clone)]
pub struct Memory {
    /// Size.
    pub size: Spanned<ByteSize>,
    /// Backing.
    pub hugepages: Spanned<HugepageMode>,
    /// Hugepage size; `None` = the host's default hugepage size.
    pub page_size: Option<Spanned<ByteSize>>,
}

/// How guest memory is backed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HugepageMode {
    /// Normal pages.
    None,
    /// Hugepages allocated in the prepare hook and freed on release.
    Dynamic,
    /// Hugepages reserved at boot.
    Static,
}

/// CPU configuration of a VM.
#[derive(Debug, Clone)]
pub struct CpuBlock {
    /// vCPU count.
    pub vcpus: Spanned<u32>,
    /// Threads per guest core.
    pub threads: Spanned<u32>,
    /// Guest sockets.
    pub sockets: Spanned<u32>,
    /// Pinning.
    pub pin: Option<Spanned<Pin>>,
    /// Emulator thread CPUs.
    pub emulator: Option<Spanned<CpuSet>>,
    /// I/O threads.
    pub iothreads: Option<IoThreads>,
    /// cpufreq governor while running.
    pub governor: Option<Spanned<String>>,
    /// Host CPU isolation.
    pub isolate: Spanned<Isolation>,
    /// Where the `cpu` block is (or the VM, when absent).
    pub span: SourceSpan,
}

/// How vCPUs are pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// Whole physical cores named by any of their CPUs; SMT siblings are added.
    Cores(CpuSet),
    /// An explicit ordered CPU list, one per vCPU.
    Cpus(Vec<u32>),
    /// Chosen by passplan from the topology (`crate::pinning`).
    Auto {
        /// Physical cores kept for the host.
        reserve: u32,
        /// Which L3 domain to favour when several fit.
        prefer: PinPrefer,
    },
}

/// Which L3 domain `pin policy="auto"` favours when the guest fits in several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PinPrefer {
    /// No preference: the lowest-numbered domain that fits.
    None,
    /// The domain with the largest L3: the V-Cache CCD on X3D parts.
    Vcache,
    /// The domain with the smallest L3: on X3D parts the CCD without V-Cache, which clocks higher.
    Frequency,
}

/// I/O threads.
#[derive(Debug, Clone)]
pub struct IoThreads {
    /// How many.
    pub count: Spanned<u32>,
    /// Where they run.
    pub cpus: Option<Spanned<CpuSet>>,
}

/// Host CPU isolation while a VM runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// None.
    None,
    /// systemd `AllowedCPUs` from the hook tree while the VM runs.
    Dynamic,
    /// `isolcpus`/`nohz_full`/`rcu_nocbs` at boot.
    Boot,
}

/// How the guest CPU runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualisation through `/dev/kvm` (`<domain type='kvm'>`).
    Kvm,
    /// QEMU's TCG emulation (`<domain type='qemu'>`): no `/dev/kvm` or CPU flags needed, no
    /// host-passthrough CPU.
    Tcg,
}

/// Guest firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firmware {
    /// OVMF.
    Uefi {
        /// Secure boot.
        secure_boot: bool,
    },
    /// SeaBIOS.
    Bios,
}

/// A virtual disk.
#[derive(Debug, Clone)]
pub struct Disk {
    /// Backing file or block device.
    pub path: Spanned<String>,
    /// The guest cannot write it (`<readonly/>`).
    pub readonly: bool,
    /// Several guests may write it at once, the image's own format coordinating them
    /// (`<shareable/>`: a cluster filesystem).
    pub shareable: bool,
    /// Bus.
    pub bus: Spanned<DiskBus>,
    /// Cache mode (`none`, `writeback`, …).
    pub cache: Option<Spanned<String>>,
    /// I/O mode (`threads`, `native`, `io_uring`).
    pub io: Option<Spanned<String>>,
    /// Discard (`unmap`, `ignore`).
    pub discard: Option<Spanned<String>>,
    /// Queues.
    pub queues: Option<Spanned<u32>>,
    /// I/O thread number.
    pub iothread: Option<Spanned<u32>>,
    /// Image format (`raw`, `qcow2`).
    pub format: Option<Spanned<String>>,
}

/// A disk bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskBus {
    /// virtio-blk.
    VirtioBlk,
    /// virtio-scsi.
    VirtioScsi,
    /// SATA.
    Sata,
}

/// A network interface.
#[derive(Debug, Clone)]
pub struct Network {
    /// What it attaches to.
    pub source: Spanned<NetworkSource>,
    /// NIC model (default virtio).
    pub model: Spanned<String>,
    /// MAC address, when fixed by the spec.
    pub mac: Option<Spanned<String>>,
}

/// What a NIC attaches to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkSource {
    /// A host bridge by interface name.
    Bridge(String),
    /// A libvirt network by name.
    Network(String),
}

/// Hyper-V enlightenments.
#[derive(Debug, Clone)]
pub struct Hyperv {
    /// Where `hyperv` was written.
    pub span: SourceSpan,
    /// `vendor_id` value (at most 12 characters).
    pub vendor_id: Option<Spanned<String>>,
    /// Added to the default set.
    pub enable: Vec<Spanned<String>>,
    /// Removed from the default set.
    pub disable: Vec<Spanned<String>>,
}

/// SMBIOS identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Smbios {
    /// `<smbios mode='host'/>`.
    Host,
    /// Explicit values.
    Values {
        /// Type 0 entries, name → value, in spec order.
        bios: Vec<(String, String)>,
        /// Type 1 entries.
        system: Vec<(String, String)>,
    },
    /// Nothing added.
    None,
}

/// Guest clock.
#[derive(Debug, Clone)]
pub struct Clock {
    /// `utc` or `localtime`.
    pub offset: Spanned<ClockOffset>,
    /// Whether the HPET timer is present (default no).
    pub hpet: bool,
}

/// Clock offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockOffset {
    /// UTC (Linux guests, Windows with `RealTimeIsUniversal`).
    Utc,
    /// Local time (Windows default).
    Localtime,
}

/// A user's hook script.
#[derive(Debug, Clone)]
pub struct UserHook {
    /// Phase (`prepare/begin`, …).
    pub phase: Spanned<HookPhase>,
    /// Script path, relative to the spec's directory or absolute.
    pub script: Spanned<String>,
}

/// A libvirt hook phase that passplan's hook tree dispatches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HookPhase {
    /// `prepare begin`: before resources are allocated.
    PrepareBegin,
    /// `start begin`.
    StartBegin,
    /// `started begin`.
    StartedBegin,
    /// `stopped end`.
    StoppedEnd,
    /// `release end`.
    ReleaseEnd,
}

impl HookPhase {
    /// All phases in the order libvirt runs them.
    pub const ALL: [Self; 5] = [
        Self::PrepareBegin,
        Self::StartBegin,
        Self::StartedBegin,
        Self::StoppedEnd,
        Self::ReleaseEnd,
    ];

    /// `op/subop` as the hook tree's directories spell it.
    pub fn as_path(self) -> &'static str {
        match self {
            Self::PrepareBegin => "prepare/begin",
            Self::StartBegin => "start/begin",
            Self::StartedBegin => "started/begin",
            Self::StoppedEnd => "stopped/end",
            Self::ReleaseEnd => "release/end",
        }
    }
}
