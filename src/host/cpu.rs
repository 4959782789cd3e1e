//! CPUs: `/proc/cpuinfo`, per-CPU topology and L3 sharing, NUMA nodes, hybrid core kinds and
//! cpufreq governors, from `/sys/devices/system/{cpu,node}` and `/sys/devices/cpu_{core,atom}`.
//!
//! Core kinds come from the hybrid PMU directories (`/sys/devices/cpu_core/cpus`,
//! `cpu_atom/cpus`) when the kernel registers them. Older kernels and some builds do not; then
//! the tree still shows the split, and [`fallback_kinds`] reads it: E-cores are single-thread
//! cores sharing an L2 cluster (`topology/cluster_cpus_list`) with other cores, P-cores the rest
//! (SMT only on P-cores), and the per-CPU `cpufreq/cpuinfo_max_freq` classes must agree (every
//! E-core slower than every P-core). [`CoreKindSource`] records which source was used.
//!
//! Nothing here guesses a numbering pattern: SMT siblings, L3 domains and node membership are
//! read from the kernel's lists, because real CPUs number them in every way (sibling = cpu+N on
//! AMD, adjacent on Intel hybrid P-cores, CPU 0 with CPU 5 on Meteor Lake).

use std::collections::BTreeMap;

use super::sysroot::Root;
use super::{CoreKind, CoreKindSource, Cpu, CpuFreq, CpuInfo, CpuVendor, NumaNode};
use crate::model::{ByteSize, CpuSet};

const CPU_DIR: &str = "/sys/devices/system/cpu";
const NODE_DIR: &str = "/sys/devices/system/node";

/// `/proc/cpuinfo` text → vendor, model and virtualisation support. The first processor's
/// `vendor_id` and `model name` speak for all (a machine has one vendor); `flags` of any
/// processor with `vmx` or `svm` means hardware virtualisation.
pub(super) fn parse_cpuinfo(text: &str) -> CpuInfo {
    let mut vendor = None;
    let mut model_name = None;
    let mut virtualization = false;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "vendor_id" if vendor.is_none() => {
                vendor = Some(match value {
                    "GenuineIntel" => CpuVendor::Intel,
                    "AuthenticAMD" => CpuVendor::Amd,
                    _ => CpuVendor::Unknown,
                });
            }
            "model name" if model_name.is_none() && !value.is_empty() => {
                model_name = Some(value.to_owned());
            }
            "flags" => {
                virtualization |= value.split_whitespace().any(|f| f == "vmx" || f == "svm");
            }
            _ => {}
        }
    }
    CpuInfo {
        vendor: vendor.unwrap_or(CpuVendor::Unknown),
        model_name,
        virtualization,
    }
}

/// A node's `meminfo` (`Node 0 MemTotal:       32768000 kB`) → its `MemTotal`.
pub(super) fn parse_node_memtotal(text: &str) -> Option<ByteSize> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        if !key.trim_end().ends_with("MemTotal") {
            return None;
        }
        kib_value(value)
    })
}

/// `   32768000 kB` → bytes; overflow or garbage is `None`.
pub(super) fn kib_value(value: &str) -> Option<ByteSize> {
    let number = value.trim().trim_end_matches("kB").trim();
    let kib: u64 = number.parse().ok()?;
    kib.checked_mul(1024).map(ByteSize)
}

/// `cpuN`/`nodeN` directory names → `N`, ascending; ids from [`CpuSet::LIMIT`] up are no
/// machine's (a planted `cpu4294967295` would print as a CPU list no parser reads back).
pub(super) fn numbered(names: &[String], prefix: &str) -> Vec<u32> {
    let mut ids: Vec<u32> = names
        .iter()
        .filter_map(|n| n.strip_prefix(prefix))
        .filter(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|rest| rest.parse().ok())
        .filter(|id| *id < CpuSet::LIMIT)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// A sysfs CPU list file, `None` when absent or malformed.
fn read_list(root: &Root, path: &str) -> Option<CpuSet> {
    CpuSet::parse(&root.read(path)?).ok()
}

/// CPUs, NUMA nodes and cpufreq.
pub(super) struct CpuFacts {
    pub(super) cpus: Vec<Cpu>,
    pub(super) nodes: Vec<NumaNode>,
    pub(super) cpufreq: Option<CpuFreq>,
    pub(super) core_kinds: CoreKindSource,
}

/// Read every logical CPU under `cpuN` (online or not) and the NUMA nodes.
pub(super) fn discover(root: &Root) -> CpuFacts {
    let ids = numbered(&root.list(CPU_DIR), "cpu");
    // Without an `online` list (old kernels, some dumps) every present CPU counts as online.
    let online = read_list(root, &format!("{CPU_DIR}/online"));

    let nodes: Vec<NumaNode> = numbered(&root.list(NODE_DIR), "node")
        .into_iter()
        .map(|id| NumaNode {
            id,
            cpus: node_cpus(root, &format!("{NODE_DIR}/node{id}")),
            memory: root
                .read(&format!("{NODE_DIR}/node{id}/meminfo"))
                .and_then(|t| parse_node_memtotal(&t)),
        })
        .collect();

    // Hybrid kinds exist only when the kernel registers the split PMUs.
    let p_cores = read_list(root, "/sys/devices/cpu_core/cpus");
    let e_cores = read_list(root, "/sys/devices/cpu_atom/cpus");

    let mut governors = BTreeMap::new();
    let cpus = ids
        .into_iter()
        .map(|id| {
            let dir = format!("{CPU_DIR}/cpu{id}");
            if let Some(g) = root.read_value(&format!("{dir}/cpufreq/scaling_governor")) {
                governors.insert(id, g);
            }
            let topo = format!("{dir}/topology");
            let mut siblings = read_list(root, &format!("{topo}/core_cpus_list"))
                .or_else(|| read_list(root, &format!("{topo}/thread_siblings_list")))
                .unwrap_or_default();
            // Invariant of `Cpu::siblings`; also covers offline CPUs without a topology dir.
            siblings.insert(id);
            let kind = if p_cores.as_ref().is_some_and(|s| s.contains(id)) {
                CoreKind::Performance
            } else if e_cores.as_ref().is_some_and(|s| s.contains(id)) {
                CoreKind::Efficiency
            } else {
                CoreKind::Uniform
            };
            let l3 = l3_of(root, &dir);
            Cpu {
                id,
                online: online.as_ref().is_none_or(|s| s.contains(id)),
                package: root
                    .read_u32(&format!("{topo}/physical_package_id"))
                    .unwrap_or(0),
                die: root.read_u32(&format!("{topo}/die_id")).unwrap_or(0),
                // An offline CPU may have no topology: its id keeps it from merging with a
                // real core 0 when consumers group by (package, die, core).
                core: root.read_u32(&format!("{topo}/core_id")).unwrap_or(id),
                siblings,
                l3: l3.as_ref().map(|(set, _)| set.clone()),
                l3_size: l3.and_then(|(_, size)| size),
                node: nodes.iter().find(|n| n.cpus.contains(id)).map(|n| n.id),
                kind,
            }
        })
        .collect();

    let available: Vec<String> = root
        .read(&format!(
            "{CPU_DIR}/cpu0/cpufreq/scaling_available_governors"
        ))
        .map(|t| t.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let cpufreq = (!available.is_empty() || !governors.is_empty()).then_some(CpuFreq {
        available,
        current: governors,
    });

    let mut cpus: Vec<Cpu> = cpus;
    let core_kinds = if p_cores.is_some() || e_cores.is_some() {
        CoreKindSource::Pmu
    } else {
        let shape: Vec<CpuShape> = cpus
            .iter()
            .filter(|c| c.online)
            .map(|c| {
                let dir = format!("{CPU_DIR}/cpu{}", c.id);
                CpuShape {
                    id: c.id,
                    siblings: c.siblings.clone(),
                    cluster: read_list(root, &format!("{dir}/topology/cluster_cpus_list")),
                    max_khz: root.read_u64(&format!("{dir}/cpufreq/cpuinfo_max_freq")),
                }
            })
            .collect();
        match fallback_kinds(&shape) {
            Some(kinds) => {
                for cpu in &mut cpus {
                    if let Some(kind) = kinds.get(&cpu.id) {
                        cpu.kind = *kind;
                    }
                }
                CoreKindSource::Topology
            }
            None => CoreKindSource::None,
        }
    };

    CpuFacts {
        cpus,
        nodes,
        cpufreq,
        core_kinds,
    }
}

/// What [`fallback_kinds`] reads of one online CPU.
#[derive(Debug, Clone)]
pub(super) struct CpuShape {
    pub(super) id: u32,
    /// SMT siblings, itself included.
    pub(super) siblings: CpuSet,
    /// CPUs sharing its L2 cluster (`cluster_cpus_list`), when the kernel shows it.
    pub(super) cluster: Option<CpuSet>,
    /// `cpufreq/cpuinfo_max_freq` in kHz, when readable.
    pub(super) max_khz: Option<u64>,
}

/// Hybrid core kinds from the tree alone, for kernels without the PMU directories; `None` when
/// the tree does not show two kinds that agree with each other.
///
/// - With L2 clusters: an E-core is a single-thread core whose cluster holds other cores (Intel
///   groups E-cores by four on one L2); every other core is a P-core.
/// - Without them: an E-core is a single-thread core slower than every SMT core (a P-core whose
///   sibling is offline is single-thread too, but as fast as the others).
/// - Either way every E-core must be slower than every P-core when `cpuinfo_max_freq` is known
///   (favoured P-cores may differ among themselves), and without frequencies some P-core must
///   have SMT. Otherwise the host is taken as uniform.
pub(super) fn fallback_kinds(cpus: &[CpuShape]) -> Option<BTreeMap<u32, CoreKind>> {
    /// A core: its first CPU's shape, SMT, clustered with other cores, fastest max frequency.
    type Shape<'a> = (&'a CpuShape, bool, bool, Option<u64>);
    // Cores by lowest CPU: (siblings, smt, clustered, max frequency).
    let mut cores: BTreeMap<u32, Shape<'_>> = BTreeMap::new();
    let known: CpuSet = cpus.iter().map(|c| c.id).collect();
    for cpu in cpus {
        let first = cpu.siblings.intersection(&known).first().unwrap_or(cpu.id);
        let smt = cpu.siblings.intersection(&known).len() > 1;
        let clustered = cpu
            .cluster
            .as_ref()
            .is_some_and(|c| !c.difference(&cpu.siblings).is_empty());
        let entry = cores
            .entry(first)
            .or_insert((cpu, smt, clustered, cpu.max_khz));
        entry.3 = entry.3.max(cpu.max_khz);
    }
    let all_clusters = cpus.iter().all(|c| c.cluster.is_some());
    let all_freqs = cpus.iter().all(|c| c.max_khz.is_some());
    let slowest_smt = cores.values().filter(|c| c.1).filter_map(|c| c.3).min();
    let is_e = |core: &Shape<'_>| -> bool {
        if core.1 {
            return false;
        }
        if all_clusters {
            core.2
        } else {
            matches!((core.3, slowest_smt), (Some(f), Some(s)) if all_freqs && f < s)
        }
    };
    let (e, p): (Vec<&Shape<'_>>, Vec<&Shape<'_>>) = cores.values().partition(|c| is_e(c));
    if e.is_empty() || p.is_empty() {
        return None;
    }
    if all_freqs {
        let fastest_e = e.iter().filter_map(|c| c.3).max()?;
        let slowest_p = p.iter().filter_map(|c| c.3).min()?;
        if fastest_e >= slowest_p {
            return None;
        }
    } else if !p.iter().any(|c| c.1) {
        return None;
    }
    let mut kinds = BTreeMap::new();
    for (list, kind) in [(&e, CoreKind::Efficiency), (&p, CoreKind::Performance)] {
        for core in list {
            for id in core.0.siblings.iter() {
                kinds.insert(id, kind);
            }
        }
    }
    Some(kinds)
}

/// A node's CPUs: `cpulist`, else the older hex `cpumap`, else its `cpuN` links (seen in
/// dumps of old kernels and in copied trees that kept only one of them).
fn node_cpus(root: &Root, dir: &str) -> CpuSet {
    read_list(root, &format!("{dir}/cpulist"))
        .or_else(|| {
            root.read(&format!("{dir}/cpumap"))
                .and_then(|t| parse_cpumap(&t))
        })
        .unwrap_or_else(|| numbered(&root.list(dir), "cpu").into_iter().collect())
}

/// The kernel's hex CPU mask (`00000000,003f0000,0000003f`: 32-bit words, most significant
/// first) → the CPUs whose bits are set. `None` on anything but hex digits and commas, or a
/// mask wider than any machine.
pub(super) fn parse_cpumap(text: &str) -> Option<CpuSet> {
    let digits: Vec<u32> = text
        .trim()
        .chars()
        .filter(|c| *c != ',')
        .map(|c| c.to_digit(16))
        .collect::<Option<_>>()?;
    // 65536 CPUs, the same bound `CpuSet` puts on a range.
    if digits.is_empty() || digits.len() > 16_384 {
        return None;
    }
    let mut set = CpuSet::new();
    for (position, digit) in (0u32..).zip(digits.iter().rev()) {
        for bit in 0..4 {
            if digit & (1 << bit) != 0 {
                set.insert(position * 4 + bit);
            }
        }
    }
    Some(set)
}

/// CPUs sharing `cpuN`'s level-3 cache with its size, `None` when it has none (Meteor Lake LP
/// E-cores).
fn l3_of(root: &Root, cpu_dir: &str) -> Option<(CpuSet, Option<ByteSize>)> {
    let cache = format!("{cpu_dir}/cache");
    numbered(&root.list(&cache), "index")
        .into_iter()
        .find_map(|m| {
            let index = format!("{cache}/index{m}");
            (root.read_u32(&format!("{index}/level")) == Some(3))
                .then(|| read_list(root, &format!("{index}/shared_cpu_list")))
                .flatten()
                .map(|set| {
                    let size = root
                        .read_value(&format!("{index}/size"))
                        .and_then(|t| parse_cache_size(&t));
                    (set, size)
                })
        })
}

/// A cache `size` file (`32768K`; the kernel prints KiB with a `K`) → bytes.
pub(super) fn parse_cache_size(text: &str) -> Option<ByteSize> {
    let text = text.trim();
    let (number, unit) = match text.strip_suffix('K') {
        Some(n) => (n, 1024),
        None => match text.strip_suffix('M') {
            Some(n) => (n, 1 << 20),
            None => (text, 1),
        },
    };
    number.parse::<u64>().ok()?.checked_mul(unit).map(ByteSize)
}

#[cfg(test)]
mod tests {
    use super::{
        CpuVendor, numbered, parse_cache_size, parse_cpuinfo, parse_cpumap, parse_node_memtotal,
    };
    use crate::model::ByteSize;

    #[test]
    fn cache_sizes() {
        assert_eq!(parse_cache_size("32768K\n"), Some(ByteSize(32 << 20)));
        assert_eq!(parse_cache_size("96M"), Some(ByteSize(96 << 20)));
        assert_eq!(parse_cache_size("big"), None);
    }

    #[test]
    fn cpuinfo_vendor_model_and_flags() {
        let text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7451 24-Core Processor\n\
                    flags\t\t: fpu vme de pse svm extapic\n\nprocessor\t: 1\nvendor_id\t: AuthenticAMD\n";
        let info = parse_cpuinfo(text);
        assert_eq!(info.vendor, CpuVendor::Amd);
        assert_eq!(
            info.model_name.as_deref(),
            Some("AMD EPYC 7451 24-Core Processor")
        );
        assert!(info.virtualization);

        let intel = parse_cpuinfo("vendor_id : GenuineIntel\nflags : fpu vmxx\n");
        assert_eq!(intel.vendor, CpuVendor::Intel);
        assert!(!intel.virtualization, "vmxx is not vmx");
        let empty = parse_cpuinfo("garbage\n:::\n");
        assert_eq!(empty.vendor, CpuVendor::Unknown);
        assert!(empty.model_name.is_none());
    }

    #[test]
    fn cpumap_masks() {
        let set = parse_cpumap("00000000,003f0000,0000003f\n").unwrap();
        assert_eq!(set.to_string(), "0-5,48-53");
        assert_eq!(parse_cpumap("0").unwrap().to_string(), "");
        assert!(parse_cpumap("xyz").is_none());
        assert!(parse_cpumap("").is_none());
    }

    #[test]
    fn node_meminfo() {
        let text = "Node 0 MemTotal:       32768000 kB\nNode 0 MemFree:         1000 kB\n";
        assert_eq!(
            parse_node_memtotal(text).map(|b| b.0),
            Some(32_768_000 * 1024)
        );
        assert_eq!(parse_node_memtotal("Node 0 MemTotal: lots kB"), None);
        assert_eq!(
            parse_node_memtotal("Node 0 MemTotal: 99999999999999999999 kB"),
            None
        );
    }

    #[test]
    fn numbered_dirs() {
        let names: Vec<String> = [
            "cpu10", "cpu2", "cpufreq", "cpuidle", "cpu", "online", "cpu0",
        ]
        .map(String::from)
        .into();
        assert_eq!(numbered(&names, "cpu"), vec![0, 2, 10]);
    }
}
