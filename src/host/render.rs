//! Views of host facts for people and machines: the listing that `passplan host` prints (IOMMU
//! groups with their devices, each GPU's isolation verdict, memory, boot setup, the CPU map) and
//! its JSON form (schema/host.schema.json). Pure: the command decides where they go.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use super::{CoreKind, CoreKindSource, Cpu, HostFacts, Loader, PciDevice, VfioPci};
use crate::model::{CpuSet, PciAddress};

/// Version of the JSON document; bumped on any incompatible change (schema/host.schema.json).
const FORMAT_VERSION: u32 = 1;

/// Write the host as JSON (one pretty-printed document and a newline).
pub fn json(host: &HostFacts, out: &mut dyn Write) -> std::io::Result<()> {
    let doc = HostJson::new(host);
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(std::io::Error::other)?;
    writeln!(out)
}

/// Whether a GPU can be given to a guest on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// Its group holds only its own slot's functions (and bridges).
    Isolated,
    /// Its group holds other endpoints.
    Shared(Vec<PciAddress>),
    /// The IOMMU is off.
    Unknown,
}

fn verdict(host: &HostFacts, gpu: &PciDevice) -> Verdict {
    if !host.iommu_enabled() || gpu.iommu_group.is_none() {
        return Verdict::Unknown;
    }
    let others = host.passing(gpu.address, true).group_peers;
    if others.is_empty() {
        Verdict::Isolated
    } else {
        Verdict::Shared(others)
    }
}

fn short_list(addresses: &[PciAddress]) -> String {
    addresses
        .iter()
        .map(PciAddress::short)
        .collect::<Vec<_>>()
        .join(", ")
}

fn loader_name(l: Loader) -> &'static str {
    match l {
        Loader::Grub => "GRUB",
        Loader::Grubby => "GRUB (grubby/BLS)",
        Loader::Kernelstub => "kernelstub",
        Loader::SystemdBoot => "systemd-boot",
    }
}

/// Text read from a tree as it may be shown on a terminal: every control character (a newline
/// that would forge a line, the escape that starts an ANSI sequence, C1 controls, DEL) written
/// as a Rust escape (`\n`, `\u{1b}`), everything else as it is.
pub fn shown(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_control) {
        Cow::Owned(
            text.chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

/// A writer that lets no control character but the newline through: the listing's own lines
/// end in newlines, and anything else that reached it from a tree is escaped as `\xNN` (a
/// second line of defence behind [`shown`]).
struct Plain<'a>(&'a mut dyn Write);

impl Write for Plain<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut start = 0;
        for (i, &b) in buf.iter().enumerate() {
            if (b < 0x20 && b != b'\n') || b == 0x7f {
                self.0.write_all(&buf[start..i])?;
                write!(self.0, "\\x{b:02x}")?;
                start = i + 1;
            }
        }
        self.0.write_all(&buf[start..])?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Write the host listing for people. Nothing read from the tree reaches `out` with a control
/// character in it ([`shown`]).
pub fn human(host: &HostFacts, out: &mut dyn Write) -> std::io::Result<()> {
    let mut plain = Plain(out);
    let out: &mut dyn Write = &mut plain;
    let model = shown(host.cpu.model_name.as_deref().unwrap_or("unknown CPU"));
    let virt = if host.cpu.virtualization {
        "virtualisation on"
    } else {
        "NO virtualisation flag"
    };
    writeln!(out, "Host {}", shown(&host.root.display().to_string()))?;
    writeln!(out, "  CPU       {model} ({virt})")?;
    writeln!(
        out,
        "  kernel    {}",
        shown(host.kernel_release.as_deref().unwrap_or("unknown"))
    )?;
    writeln!(
        out,
        "  KVM       {}",
        if host.kvm_device {
            "/dev/kvm present"
        } else {
            "/dev/kvm MISSING"
        }
    )?;
    let vfio = match host.vfio_pci {
        VfioPci::BuiltIn => "built into the kernel",
        VfioPci::Module => "a module",
        VfioPci::Unknown => "unknown",
    };
    writeln!(out, "  vfio-pci  {vfio}")?;
    let loader = host.boot.loader.map_or("not recognised".to_owned(), |l| {
        format!(
            "{} ({})",
            loader_name(l),
            shown(host.boot.loader_evidence.as_deref().unwrap_or("?"))
        )
    });
    writeln!(out, "  boot      {loader}")?;
    if let Some(i) = host.boot.initramfs {
        let name = serde_json::to_value(i)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        writeln!(
            out,
            "  initramfs {name} ({})",
            shown(host.boot.initramfs_evidence.as_deref().unwrap_or("?"))
        )?;
    }
    let tokens: Vec<String> = host
        .cmdline
        .tokens
        .iter()
        .map(|t| match &t.value {
            Some(v) => format!("{}={}", shown(&t.key), shown(v)),
            None => shown(&t.key).into_owned(),
        })
        .collect();
    writeln!(out, "  cmdline   {}", tokens.join(" "))?;
    for file in &host.oversized {
        writeln!(
            out,
            "  UNREAD    {}: larger than {}, the most passplan reads",
            shown(&file.path),
            crate::model::ByteSize(file.limit)
        )?;
    }
    let pools: Vec<String> = host
        .memory
        .hugepages
        .iter()
        .map(|p| format!("{} ×{}", p.size, p.total))
        .collect();
    writeln!(
        out,
        "  memory    {} total; hugepages {}",
        host.memory.total.approx(),
        if pools.is_empty() {
            "none".to_owned()
        } else {
            pools.join(", ")
        }
    )?;

    writeln!(out)?;
    let acs = host.acs_override();
    if host.iommu_enabled() {
        match &acs {
            Some(value) => {
                writeln!(
                    out,
                    "IOMMU groups ({}), all synthetic (*): the running kernel has pcie_acs_override={value}",
                    host.iommu_groups.len()
                )?;
                writeln!(
                    out,
                    "  the kernel splits these groups by assertion, not by the hardware: devices in different groups may still reach each other"
                )?;
            }
            None => writeln!(out, "IOMMU groups ({})", host.iommu_groups.len())?,
        }
        let mark = if acs.is_some() { "*" } else { "" };
        for (id, members) in &host.iommu_groups {
            for (i, address) in members.iter().enumerate() {
                let head = if i == 0 {
                    format!("{:>5}", format!("{id}{mark}"))
                } else {
                    " ".repeat(5)
                };
                writeln!(out, "  {head}  {}", device_line(host, *address))?;
            }
        }
    } else {
        writeln!(
            out,
            "IOMMU groups: none — the IOMMU is off (enable it in the firmware and with the spec's `iommu`)"
        )?;
    }

    writeln!(out)?;
    writeln!(out, "GPUs")?;
    let gpus: Vec<&PciDevice> = host.pci.values().filter(|d| d.is_gpu()).collect();
    if gpus.is_empty() {
        writeln!(out, "  none")?;
    }
    for gpu in gpus {
        let boot = if gpu.boot_vga == Some(true) {
            ", boot display"
        } else {
            ""
        };
        let synthetic = acs.as_ref().map_or_else(String::new, |value| {
            format!(" (synthetic: pcie_acs_override={value})")
        });
        let v = match verdict(host, gpu) {
            Verdict::Isolated => format!(
                "isolated in group {}{synthetic}",
                gpu.iommu_group.unwrap_or_default()
            ),
            Verdict::Shared(others) => format!(
                "shares its groups with {}{synthetic} — passing it takes them too",
                short_list(&others)
            ),
            Verdict::Unknown => "unknown until the IOMMU is on".to_owned(),
        };
        let passing = host.passing(gpu.address, true);
        let kind = if host.is_integrated_gpu(gpu.address) {
            ", integrated"
        } else {
            ""
        };
        writeln!(
            out,
            "  {} {}{kind}{boot}",
            gpu.address.short(),
            host.describe_pci(gpu)
        )?;
        writeln!(out, "      {v}")?;
        writeln!(
            out,
            "      passing it takes {}",
            short_list(&passing.functions)
        )?;
        for (address, why) in &passing.stays {
            writeln!(out, "      {} stays: {why}", address.short())?;
        }
    }

    writeln!(out)?;
    writeln!(
        out,
        "Devices: passing one takes its own function, and the other endpoints of its group"
    )?;
    for d in host
        .pci
        .values()
        .filter(|d| !d.is_gpu() && !d.is_bridge() && !d.is_placeholder())
    {
        let passing = host.passing(d.address, false);
        let takes = if passing.group_peers.is_empty() {
            "alone".to_owned()
        } else {
            format!("with {}", short_list(&passing.group_peers))
        };
        writeln!(
            out,
            "  {} {} — {takes}",
            d.address.short(),
            host.describe_pci(d)
        )?;
    }

    writeln!(out)?;
    write_cpu_map(host, out)
}

fn device_line(host: &HostFacts, address: PciAddress) -> String {
    match host.pci.get(&address) {
        Some(d) => {
            let driver = d
                .driver
                .as_deref()
                .map(|dr| format!(" ({})", shown(dr)))
                .unwrap_or_default();
            let boot = if d.boot_vga == Some(true) {
                " [boot display]"
            } else {
                ""
            };
            format!(
                "{} [{}] {}{driver}{boot}",
                address.short(),
                d.id,
                host.describe_pci(d)
            )
        }
        None => format!("{} (no device)", address.short()),
    }
}

/// A physical core: (package, die, core) → its CPUs.
pub(crate) fn cores(host: &HostFacts) -> BTreeMap<(u32, u32, u32), Vec<&Cpu>> {
    let mut map: BTreeMap<(u32, u32, u32), Vec<&Cpu>> = BTreeMap::new();
    for cpu in &host.cpus {
        map.entry((cpu.package, cpu.die, cpu.core))
            .or_default()
            .push(cpu);
    }
    map
}

/// L3 domain label → the physical cores in it (lowest CPU, CPUs, kind).
type Domains = BTreeMap<String, Vec<(u32, CpuSet, CoreKind)>>;

fn write_cpu_map(host: &HostFacts, out: &mut dyn Write) -> std::io::Result<()> {
    let online = host.online_cpus();
    let cores = cores(host);
    let packages: std::collections::BTreeSet<u32> = host.cpus.iter().map(|c| c.package).collect();
    writeln!(
        out,
        "CPUs: {} online of {} · {} package(s) · {} cores",
        online.len(),
        host.cpus.len(),
        packages.len(),
        cores.len()
    )?;
    match host.core_kinds {
        CoreKindSource::None => {}
        CoreKindSource::Pmu => writeln!(
            out,
            "  core kinds from /sys/devices/cpu_core and cpu_atom (the hybrid PMUs)"
        )?,
        CoreKindSource::Topology => writeln!(
            out,
            "  core kinds from the topology: SMT, L2 clusters and cpuinfo_max_freq classes (no cpu_core/cpu_atom PMU directories on this kernel)"
        )?,
    }
    // node → L3 domain → cores (by lowest CPU).
    let mut tree: BTreeMap<Option<u32>, Domains> = BTreeMap::new();
    for cpus in cores.values() {
        let Some(first) = cpus.first() else { continue };
        let set: CpuSet = cpus.iter().map(|c| c.id).collect();
        let l3 = first
            .l3
            .as_ref()
            .map_or_else(|| "no L3".to_owned(), |s| format!("L3 {s}"));
        tree.entry(first.node)
            .or_default()
            .entry(l3)
            .or_default()
            .push((set.first().unwrap_or(0), set, first.kind));
    }
    for (node, domains) in &tree {
        match node {
            Some(n) => writeln!(out, "  node {n}")?,
            None => writeln!(out, "  (no NUMA information)")?,
        }
        let mut domains: Vec<_> = domains.iter().collect();
        domains.sort_by_key(|(_, cores)| cores.iter().map(|c| c.0).min());
        for (l3, cores) in domains {
            let mut cores = cores.clone();
            cores.sort_by_key(|c| c.0);
            let list: Vec<String> = cores
                .iter()
                .map(|(_, set, kind)| {
                    let tag = match kind {
                        CoreKind::Performance => "P",
                        CoreKind::Efficiency => "E",
                        CoreKind::Uniform => "",
                    };
                    let offline = if set.iter().any(|c| !online.contains(c)) {
                        "!"
                    } else {
                        ""
                    };
                    format!("[{tag}{set}{offline}]")
                })
                .collect();
            writeln!(out, "    {l3:<18} {}", list.join(" "))?;
        }
    }
    writeln!(
        out,
        "  [a,b] = one physical core and its SMT siblings; P/E = performance/efficiency core; ! = offline"
    )
}

// ---- JSON ---------------------------------------------------------------------------------

#[derive(Serialize)]
struct HostJson<'a> {
    format_version: u32,
    cpu: &'a super::CpuInfo,
    kernel_release: Option<&'a str>,
    kvm_device: bool,
    vfio_pci: VfioPci,
    iommu_enabled: bool,
    acs_override: Option<String>,
    iommu_groups: Vec<GroupJson>,
    gpus: Vec<GpuJson>,
    cpus: Vec<CpuJson>,
    core_kinds: CoreKindSource,
    numa_nodes: &'a [super::NumaNode],
    memory: &'a crate::host::Memory,
    cpufreq: Option<&'a crate::host::CpuFreq>,
    cmdline: Vec<String>,
    boot: &'a crate::host::BootInfo,
    block_devices: &'a [crate::host::BlockDevice],
    usb: &'a [crate::host::UsbDevice],
}

#[derive(Serialize)]
struct GroupJson {
    id: u32,
    synthetic: bool,
    devices: Vec<DeviceJson>,
}

#[derive(Serialize)]
struct DeviceJson {
    address: String,
    vendor: String,
    device: String,
    subsystem: Option<String>,
    class: String,
    driver: Option<String>,
    name: Option<String>,
    boot_vga: Option<bool>,
    numa_node: Option<u32>,
    passing_takes: Vec<String>,
}

#[derive(Serialize)]
struct GpuJson {
    address: String,
    group: Option<u32>,
    boot_vga: bool,
    isolation: &'static str,
    shares_with: Vec<String>,
    integrated: bool,
    takes: Vec<String>,
    stays: Vec<StaysJson>,
}

#[derive(Serialize)]
struct StaysJson {
    address: String,
    reason: String,
}

#[derive(Serialize)]
struct CpuJson {
    cpu: u32,
    online: bool,
    package: u32,
    die: u32,
    core: u32,
    siblings: CpuSet,
    l3: Option<CpuSet>,
    node: Option<u32>,
    kind: CoreKind,
}

impl<'a> HostJson<'a> {
    fn new(host: &'a HostFacts) -> Self {
        let device = |d: &PciDevice| DeviceJson {
            address: d.address.to_string(),
            vendor: format!("{:04x}", d.id.vendor),
            device: format!("{:04x}", d.id.device),
            subsystem: d.subsystem.map(|s| s.to_string()),
            class: format!("{:06x}", d.class),
            driver: d.driver.clone(),
            name: host.pci_names.describe(d.id),
            boot_vga: d.boot_vga,
            numa_node: d.numa_node,
            passing_takes: {
                let p = host.passing(d.address, d.is_gpu());
                let mut all = p.functions;
                all.extend(p.group_peers);
                all.sort_unstable();
                all.iter().map(ToString::to_string).collect()
            },
        };
        let synthetic = host.acs_override().is_some();
        let iommu_groups = host
            .iommu_groups
            .iter()
            .map(|(id, members)| GroupJson {
                id: *id,
                synthetic,
                devices: members
                    .iter()
                    .filter_map(|a| host.pci.get(a))
                    .map(device)
                    .collect(),
            })
            .collect();
        let gpus = host
            .pci
            .values()
            .filter(|d| d.is_gpu())
            .map(|g| {
                let (isolation, shares_with) = match verdict(host, g) {
                    Verdict::Isolated => ("isolated", Vec::new()),
                    Verdict::Shared(others) => {
                        ("shared", others.iter().map(ToString::to_string).collect())
                    }
                    Verdict::Unknown => ("unknown", Vec::new()),
                };
                let passing = host.passing(g.address, true);
                GpuJson {
                    address: g.address.to_string(),
                    group: g.iommu_group,
                    boot_vga: g.boot_vga == Some(true),
                    isolation,
                    shares_with,
                    integrated: host.is_integrated_gpu(g.address),
                    takes: passing.functions.iter().map(ToString::to_string).collect(),
                    stays: passing
                        .stays
                        .into_iter()
                        .map(|(a, reason)| StaysJson {
                            address: a.to_string(),
                            reason,
                        })
                        .collect(),
                }
            })
            .collect();
        let cpus = host
            .cpus
            .iter()
            .map(|c| CpuJson {
                cpu: c.id,
                online: c.online,
                package: c.package,
                die: c.die,
                core: c.core,
                siblings: c.siblings.clone(),
                l3: c.l3.clone(),
                node: c.node,
                kind: c.kind,
            })
            .collect();
        let cmdline = host
            .cmdline
            .tokens
            .iter()
            .map(|t| match &t.value {
                Some(v) => format!("{}={v}", t.key),
                None => t.key.clone(),
            })
            .collect();
        Self {
            format_version: FORMAT_VERSION,
            cpu: &host.cpu,
            kernel_release: host.kernel_release.as_deref(),
            kvm_device: host.kvm_device,
            vfio_pci: host.vfio_pci,
            iommu_enabled: host.iommu_enabled(),
            acs_override: host.acs_override(),
            iommu_groups,
            gpus,
            cpus,
            core_kinds: host.core_kinds,
            numa_nodes: &host.numa_nodes,
            memory: &host.memory,
            cpufreq: host.cpufreq.as_ref(),
            cmdline,
            boot: &host.boot,
            block_devices: &host.block_devices,
            usb: &host.usb,
        }
    }
}
