//! Automatic CPU placement: the host topology × every VM's CPU request → which host CPUs run
//! each guest's vCPUs, emulator and I/O threads, and the guest topology that matches.
//!
//! Pure and deterministic: no I/O, no hash maps, every choice ranked by stable keys, so the same
//! host and spec always give the same placement. [`place`] sees all VMs at once because their
//! cores must be disjoint; the checker calls it once and every rule and emitter reads the result
//! through `Context::vm_pins` and `Context::placement`.
//!
//! The algorithm, in the order its preferences apply:
//!
//! 1. Physical cores are the unit: CPUs sharing (package, die, `core_id`) — or listed as each
//!    other's SMT siblings — form one core (`core_id` repeats across packages and has gaps, so
//!    it is never a key on its own). Only online CPUs count. A guest always gets whole cores; a
//!    core is never shared with the host or another guest, even when a vCPU count leaves one
//!    sibling idle.
//! 2. Explicit pins (`pin cores=`/`pin cpus=`) are taken first, whole cores.
//! 3. The host keeps `reserve` cores (the largest reserve any automatic VM asks for): CPU 0's
//!    core first — interrupts and housekeeping land there — then the cores nearest it.
//! 4. Automatic VMs are placed — those with passed devices on a known NUMA node first, then
//!    largest first, ties in spec order — each in one core *kind*: performance cores, else
//!    uniform ones, else efficiency cores — P- and E-cores are never mixed in one guest, since a
//!    guest scheduler assumes its cores are alike.
//! 5. The node of the VM's passed devices (sysfs `numa_node`; the GPU's when they differ) comes
//!    first: the guest is placed there when it fits, else anywhere (and `cpu/remote-device`
//!    says so). A guest asking for `threads=2` or more skips cores whose SMT sibling is offline
//!    (it would get half a core); other guests take them last.
//! 6. Within a kind: one L3 domain (CCX/CCD) if one has enough free cores; else one NUMA node,
//!    filling its fullest L3 domains first; else the fewest nodes — and then the guest gets one
//!    NUMA cell per host node, its vCPUs laid out node by node, so it sees the truth. Among
//!    domains that fit, the spec's preference decides (`vcache`: the largest L3, `frequency`:
//!    the smallest), then domains away from CPU 0, then the lowest CPU numbers.
//! 7. Emulator and I/O threads, after every guest has its cores: one free host core sharing
//!    the guest's L3, else its NUMA node, else the host reserve. Explicit `emulator`/`iothreads
//!    cpus=` in the spec win.
//! 8. The guest topology follows the host cores: threads = the cores' SMT width when the vCPU
//!    count fills whole cores (the spec's `threads=` only fixes the count), so guest sibling
//!    pairs are host sibling pairs, and cache passthrough is then truthful.

mod choose;
mod cores;
pub mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use choose::{Chosen, choose};
use cores::{Core, kind_name, kind_rank, physical_cores};

use crate::host::{CoreKind, HostFacts};
use crate::model::{ByteSize, CpuSet};
use crate::spec::PinPrefer;

pub use render::Placements;

/// One VM's CPU request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// VM name, for reasons and errors.
    pub name: String,
    /// vCPU count.
    pub vcpus: u32,
    /// Guest sockets (from the spec).
    pub sockets: u32,
    /// Guest threads per core the spec asks for.
    pub threads: u32,
    /// Explicit pins or the automatic policy.
    pub pin: Demand,
    /// I/O thread count (0 = none).
    pub iothreads: u32,
    /// Emulator CPUs fixed by the spec.
    pub emulator: Option<CpuSet>,
    /// I/O-thread CPUs fixed by the spec.
    pub iothread_cpus: Option<CpuSet>,
    /// The VM's passed devices whose NUMA node the host knows, the GPU first: the first one's
    /// node is where the VM is placed when it fits.
    pub devices: Vec<DeviceNode>,
}

/// A passed device and the NUMA node it hangs off (sysfs `numa_node`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    /// The device's name in the spec.
    pub name: String,
    /// Its NUMA node.
    pub node: u32,
}

/// How a VM's vCPUs are pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Demand {
    /// Host CPUs named by the spec, one per vCPU in order; taken before any automatic VM.
    Explicit(Vec<u32>),
    /// Chosen here.
    Auto {
        /// Physical cores kept for the host.
        reserve: u32,
        /// Which L3 domain to favour.
        prefer: PinPrefer,
    },
}

/// Where one VM runs. Invariant: `vcpus` has one host CPU per vCPU, in guest order, thread
/// pairs on sibling pairs; an automatic placement's CPUs belong to no other VM and to no core of
/// the host reserve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Host CPU per vCPU, in guest order.
    pub vcpus: Vec<u32>,
    /// Every CPU of the cores the guest owns (a sibling may be idle, but it is the guest's).
    pub cores: CpuSet,
    /// Where QEMU's emulator threads run; empty = not pinned.
    pub emulator: CpuSet,
    /// Where the I/O threads run; empty when the VM has none.
    pub iothreads: CpuSet,
    /// The NUMA node holding every vCPU, to bind guest memory to (`<numatune>`); `None` when
    /// the vCPUs span nodes or the host exposes none.
    pub node: Option<u32>,
    /// Guest NUMA cells, one per host node, when an automatic placement spans nodes (empty
    /// otherwise). Invariant: cells hold consecutive vCPUs, in node order, and together every
    /// vCPU once.
    pub cells: Vec<NumaCell>,
    /// The guest topology that matches the host cores.
    pub topology: Topology,
    /// Whether `<cache mode='passthrough'/>` tells the guest the truth: its cores are whole host
    /// cores with the same thread count.
    pub cache_passthrough: bool,
    /// Why, one line each, for `passplan host --spec`.
    pub reasons: Vec<String>,
}

/// A guest NUMA cell: the vCPUs whose host CPUs sit on one host node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumaCell {
    /// The host node, where the cell's memory is bound (`<numatune><memnode>`).
    pub node: u32,
    /// Guest vCPU numbers, consecutive.
    pub vcpus: CpuSet,
}

/// Guest CPU topology: `sockets × cores × threads` = vCPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topology {
    /// Sockets.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
}

/// Why a VM could not be placed automatically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceError {
    /// vCPUs asked for.
    pub vcpus: u32,
    /// The most CPUs free in whole cores of one kind.
    pub available: u32,
    /// CPUs the host reserve keeps.
    pub reserved: CpuSet,
    /// CPUs other VMs already own.
    pub taken: CpuSet,
}

impl fmt::Display for PlaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} vCPUs need whole cores, but only {} CPUs of one core kind are free",
            self.vcpus, self.available
        )?;
        if !self.reserved.is_empty() {
            write!(f, "; the host reserve keeps {}", self.reserved)?;
        }
        if !self.taken.is_empty() {
            write!(f, "; other VMs own {}", self.taken)?;
        }
        Ok(())
    }
}

/// Place every VM. Results are in request order; automatic placements are disjoint from each
/// other, from explicit pins and from the host reserve.
pub fn place(host: &HostFacts, requests: &[Request]) -> Vec<Result<Placement, PlaceError>> {
    let cores = physical_cores(host);
    let cpu0_core = cores.iter().find(|c| c.has_cpu0()).cloned();

    // Explicit pins take their whole cores first.
    let mut owner: BTreeMap<usize, usize> = BTreeMap::new(); // core index → request index
    for (r, req) in requests.iter().enumerate() {
        if let Demand::Explicit(list) = &req.pin {
            for (c, core) in cores.iter().enumerate() {
                if list.iter().any(|cpu| core.cpus.contains(*cpu)) {
                    owner.entry(c).or_insert(r);
                }
            }
        }
    }

    // The host reserve: CPU 0's core, then the cores sharing its L3, then its node, by number.
    let reserve = requests
        .iter()
        .filter_map(|r| match r.pin {
            Demand::Auto { reserve, .. } => Some(reserve),
            Demand::Explicit(_) => None,
        })
        .max()
        .unwrap_or(0);
    let mut by_nearness: Vec<usize> = (0..cores.len())
        .filter(|c| !owner.contains_key(c))
        .collect();
    by_nearness.sort_by_key(|&c| {
        let core = &cores[c];
        let near = cpu0_core.as_ref();
        (
            !core.has_cpu0(),
            near.is_none_or(|z| z.l3 != core.l3),
            near.is_none_or(|z| z.node != core.node),
            core.first,
        )
    });
    let reserved: BTreeSet<usize> = by_nearness
        .into_iter()
        .take(usize::try_from(reserve).unwrap_or(usize::MAX))
        .collect();
    let reserved_cpus: CpuSet = reserved
        .iter()
        .flat_map(|&c| cores[c].cpus.iter())
        .collect();

    // Automatic VMs: those tied to a device's node first, so a VM without devices never takes
    // the cores beside another VM's GPU; then largest first so small ones fill the gaps; ties
    // in spec order.
    let nodes_present: BTreeSet<u32> = cores.iter().filter_map(|c| c.node).collect();
    let device_node = |req: &Request| {
        req.devices
            .iter()
            .find(|d| nodes_present.contains(&d.node))
            .cloned()
    };
    let mut order: Vec<usize> = requests
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r.pin, Demand::Auto { .. }))
        .map(|(i, _)| i)
        .collect();
    order.sort_by_key(|&i| {
        (
            device_node(&requests[i]).is_none(),
            std::cmp::Reverse(requests[i].vcpus),
            i,
        )
    });

    let mut chosen: BTreeMap<usize, Chosen> = BTreeMap::new();
    let mut failed: BTreeMap<usize, PlaceError> = BTreeMap::new();
    for &r in &order {
        let req = &requests[r];
        let Demand::Auto { prefer, .. } = req.pin else {
            continue;
        };
        let free: Vec<usize> = (0..cores.len())
            .filter(|c| !owner.contains_key(c) && !reserved.contains(c))
            .collect();
        // A guest with SMT threads needs whole sibling pairs: cores with an offline sibling
        // are never its. Others take them only when nothing else fits.
        let whole: Vec<usize> = free
            .iter()
            .copied()
            .filter(|&c| !cores[c].degraded)
            .collect();
        let pools: Vec<&[usize]> = if req.threads >= 2 {
            vec![&whole]
        } else {
            vec![&whole, &free]
        };
        let near = device_node(req);
        // The device's node first (whole cores, then any), then anywhere.
        let mut tries: Vec<(Vec<usize>, bool)> = Vec::new();
        if let Some(d) = &near {
            for pool in &pools {
                let local: Vec<usize> = pool
                    .iter()
                    .copied()
                    .filter(|&c| cores[c].node == Some(d.node))
                    .collect();
                tries.push((local, true));
            }
        }
        for pool in &pools {
            tries.push((pool.to_vec(), near.is_none()));
        }
        let pick = tries.iter().find_map(|(pool, local)| {
            choose(&cores, pool, req.vcpus, prefer).map(|mut pick| {
                pick.device = near.clone().map(|d| (d, *local));
                pick
            })
        });
        match pick {
            Some(mut pick) => {
                for &c in &pick.cores {
                    owner.insert(c, r);
                }
                if req.threads >= 2 {
                    pick.skipped = free
                        .iter()
                        .filter(|&&c| cores[c].degraded)
                        .flat_map(|&c| cores[c].cpus.iter())
                        .collect();
                }
                chosen.insert(r, pick);
            }
            None => {
                let pool = pools.last().copied().unwrap_or_default();
                let available = [
                    CoreKind::Performance,
                    CoreKind::Uniform,
                    CoreKind::Efficiency,
                ]
                .into_iter()
                .map(|k| {
                    pool.iter()
                        .filter(|&&c| cores[c].kind == k)
                        .map(|&c| cores[c].width())
                        .sum::<u32>()
                })
                .max()
                .unwrap_or(0);
                let taken: CpuSet = owner
                    .iter()
                    .filter(|(_, o)| **o != r)
                    .flat_map(|(&c, _)| cores[c].cpus.iter())
                    .collect();
                failed.insert(
                    r,
                    PlaceError {
                        vcpus: req.vcpus,
                        available,
                        reserved: reserved_cpus.clone(),
                        taken,
                    },
                );
            }
        }
    }

    // Every guest has its cores: what is left is the host's, for emulator and I/O threads.
    let guest_cpus: CpuSet = owner.keys().flat_map(|&c| cores[c].cpus.iter()).collect();
    requests
        .iter()
        .enumerate()
        .map(|(r, req)| {
            if let Some(e) = failed.remove(&r) {
                return Err(e);
            }
            Ok(match &req.pin {
                Demand::Explicit(list) => explicit(host, req, list),
                Demand::Auto { reserve, prefer } => {
                    let pick = chosen.remove(&r).unwrap_or_default();
                    finish(
                        &cores,
                        req,
                        &pick,
                        &Context {
                            reserve: *reserve,
                            prefer: *prefer,
                            reserved: &reserved,
                            guest_cpus: &guest_cpus,
                        },
                    )
                }
            })
        })
        .collect()
}

/// Placement-wide facts [`finish`] needs.
struct Context<'a> {
    reserve: u32,
    prefer: PinPrefer,
    reserved: &'a BTreeSet<usize>,
    guest_cpus: &'a CpuSet,
}

/// The placement of an explicitly pinned VM: the spec's pins, echoed for the CPU map.
fn explicit(host: &HostFacts, req: &Request, list: &[u32]) -> Placement {
    let nodes: BTreeSet<Option<u32>> = list
        .iter()
        .map(|c| host.cpu(*c).and_then(|c| c.node))
        .collect();
    let node = match nodes.into_iter().collect::<Vec<_>>().as_slice() {
        [Some(n)] => Some(*n),
        _ => None,
    };
    let sockets = req.sockets.max(1);
    let threads = req.threads.max(1);
    Placement {
        vcpus: list.to_vec(),
        cores: list.iter().copied().collect(),
        emulator: req.emulator.clone().unwrap_or_default(),
        iothreads: if req.iothreads > 0 {
            req.iothread_cpus.clone().unwrap_or_default()
        } else {
            CpuSet::new()
        },
        node,
        cells: Vec::new(),
        topology: Topology {
            sockets,
            cores: req.vcpus / (sockets * threads).max(1),
            threads,
        },
        cache_passthrough: false,
        reasons: vec!["pinned explicitly by the spec".to_owned()],
    }
}

/// Lay out an automatic VM on its chosen cores and place its emulator and I/O threads.
fn finish(cores: &[Core], req: &Request, pick: &Chosen, cx: &Context<'_>) -> Placement {
    let n = req.vcpus;
    let owned: CpuSet = pick
        .cores
        .iter()
        .flat_map(|&c| cores[c].cpus.iter())
        .collect();
    let nodes: BTreeSet<Option<u32>> = pick.cores.iter().map(|&c| cores[c].node).collect();
    let node = match nodes.iter().collect::<Vec<_>>().as_slice() {
        [Some(n)] => Some(*n),
        _ => None,
    };
    // Core by core, so guest thread pairs land on host sibling pairs; node by node when the
    // guest spans nodes, so each guest NUMA cell is a run of consecutive vCPUs.
    let mut layout = pick.cores.clone();
    layout.sort_by_key(|&c| (cores[c].node, cores[c].first));
    let vcpus: Vec<u32> = layout
        .iter()
        .flat_map(|&c| cores[c].cpus.iter())
        .take(usize::try_from(n).unwrap_or(usize::MAX))
        .collect();
    let domains: BTreeSet<&CpuSet> = pick.cores.iter().map(|&c| &cores[c].l3).collect();
    let cells: Vec<NumaCell> = if nodes.len() > 1 && nodes.iter().all(Option::is_some) {
        let mut cells: Vec<NumaCell> = Vec::new();
        for (guest, host) in (0u32..).zip(&vcpus) {
            let on = cores
                .iter()
                .find(|c| c.cpus.contains(*host))
                .and_then(|c| c.node)
                .unwrap_or_default();
            match cells.last_mut() {
                Some(cell) if cell.node == on => {
                    cell.vcpus.insert(guest);
                }
                _ => cells.push(NumaCell {
                    node: on,
                    vcpus: [guest].into_iter().collect(),
                }),
            }
        }
        cells
    } else {
        Vec::new()
    };
    let widths: BTreeSet<u32> = pick.cores.iter().map(|&c| cores[c].width()).collect();
    let kind = pick
        .cores
        .first()
        .map_or(CoreKind::Uniform, |&c| cores[c].kind);

    let mut reasons = Vec::new();
    let kind_word = kind_name(kind);
    let kind_word = if kind_word.is_empty() {
        String::new()
    } else {
        format!("{kind_word} ")
    };
    reasons.push(format!(
        "{n} vCPUs on {} whole {kind_word}core(s) with their SMT siblings ({owned})",
        pick.cores.len()
    ));
    if u32::try_from(owned.len()).unwrap_or(u32::MAX) > n {
        let idle: CpuSet = owned.difference(&vcpus.iter().copied().collect());
        reasons.push(format!(
            "{n} vCPUs do not fill whole cores: CPU(s) {idle} stay idle rather than split a core"
        ));
    }
    match kind {
        CoreKind::Performance => {
            reasons.push("performance cores only: P- and E-cores are never mixed".to_owned());
        }
        CoreKind::Efficiency if pick.fell_back => reasons.push(
            "efficiency cores: the free performance cores are too few, and kinds are never mixed"
                .to_owned(),
        ),
        _ => {}
    }
    match pick.tier {
        0 => {
            let l3 = domains.first().map(ToString::to_string).unwrap_or_default();
            let size = pick
                .cores
                .first()
                .and_then(|&c| cores[c].l3_size)
                .map(|s| format!(", {}", s.approx()))
                .unwrap_or_default();
            reasons.push(format!("fits one L3 domain (L3 {l3}{size})"));
            // A preference only decides something when L3 sizes differ (X3D parts).
            let sizes: BTreeSet<Option<ByteSize>> = cores.iter().map(|c| c.l3_size).collect();
            let prefer = if sizes.len() > 1 {
                cx.prefer
            } else {
                PinPrefer::None
            };
            match prefer {
                PinPrefer::Vcache => reasons.push(
                    "prefer=\"vcache\": the largest L3 that fits (the V-Cache CCD on X3D parts)"
                        .to_owned(),
                ),
                PinPrefer::Frequency => reasons.push(
                    "prefer=\"frequency\": the smallest L3 that fits (the higher-clocked CCD)"
                        .to_owned(),
                ),
                PinPrefer::None => {}
            }
        }
        1 if node.is_some() => reasons.push(format!(
            "no single L3 domain has {n} free CPUs: spans {} L3 domains within one NUMA node",
            domains.len()
        )),
        1 => reasons.push(format!(
            "no single L3 domain has {n} free CPUs: spans {} L3 domains",
            domains.len()
        )),
        _ => reasons.push(format!(
            "no NUMA node has {n} free CPUs of one kind: spans {} nodes",
            nodes.len()
        )),
    }
    if !cells.is_empty() {
        let list: Vec<String> = cells
            .iter()
            .map(|c| format!("vCPUs {} on node {}", c.vcpus, c.node))
            .collect();
        reasons.push(format!(
            "the guest sees {} NUMA cells ({}), each cell's memory bound to its node (cpu/cross-numa)",
            cells.len(),
            list.join(", ")
        ));
    }
    match &pick.device {
        Some((d, true)) => reasons.push(format!(
            "on node {}, the node of `{}` (its numa_node): DMA and interrupts stay on one socket",
            d.node, d.name
        )),
        Some((d, false)) => {
            let on: Vec<String> = nodes.iter().flatten().map(u32::to_string).collect();
            reasons.push(format!(
                "node {} of `{}` has too few free cores: placed on node {} (cpu/remote-device)",
                d.node,
                d.name,
                on.join(", ")
            ));
        }
        None => {}
    }
    if !pick.skipped.is_empty() {
        reasons.push(format!(
            "CPU(s) {} skipped: their cores' SMT siblings are offline, and threads={} needs whole pairs",
            pick.skipped, req.threads
        ));
    }
    if let Some(node) = node {
        reasons.push(format!("guest memory bound to NUMA node {node} (numatune)"));
    }
    if cx.reserve > 0 && !cx.reserved.is_empty() {
        let kept: CpuSet = cx
            .reserved
            .iter()
            .flat_map(|&c| cores[c].cpus.iter())
            .collect();
        reasons.push(format!(
            "host keeps {kept} (reserve={}: CPU 0's core first)",
            cx.reserve
        ));
    }

    // Emulator and I/O threads.
    let near = |c: &Core| -> u8 {
        if domains.contains(&c.l3) {
            0
        } else if node.is_some() && c.node == node {
            1
        } else {
            2
        }
    };
    let host_cores: Vec<usize> = (0..cores.len())
        .filter(|&c| !cores[c].cpus.intersects(cx.guest_cpus))
        .collect();
    let free_near = host_cores
        .iter()
        .copied()
        .filter(|c| !cx.reserved.contains(c) && near(&cores[*c]) < 2)
        .min_by_key(|&c| {
            let core = &cores[c];
            // E-cores first: the emulator needs little, P-cores stay free for guests.
            (near(core), 2 - kind_rank(core.kind).min(2), core.first)
        });
    let (auto_set, why) = if let Some(c) = free_near {
        let where_ = if near(&cores[c]) == 0 {
            "a free host core sharing the guest's L3"
        } else {
            "a free host core on the guest's NUMA node"
        };
        (cores[c].cpus.clone(), where_)
    } else {
        let reserve: CpuSet = cx
            .reserved
            .iter()
            .flat_map(|&c| cores[c].cpus.iter())
            .collect();
        if reserve.is_empty() {
            (CpuSet::new(), "")
        } else {
            (
                reserve,
                "the host reserve (no free host core near the guest)",
            )
        }
    };
    let emulator = match &req.emulator {
        Some(set) => {
            reasons.push(format!("emulator on {set}, from the spec"));
            set.clone()
        }
        None if auto_set.is_empty() => {
            reasons.push("emulator not pinned: every core is taken and reserve=0".to_owned());
            CpuSet::new()
        }
        None => {
            reasons.push(format!("emulator on {auto_set}: {why}"));
            auto_set.clone()
        }
    };
    let iothreads = if req.iothreads == 0 {
        CpuSet::new()
    } else if let Some(set) = &req.iothread_cpus {
        reasons.push(format!("I/O threads on {set}, from the spec"));
        set.clone()
    } else {
        if !auto_set.is_empty() {
            reasons.push(format!("I/O threads on {auto_set}, with the emulator"));
        }
        auto_set
    };

    // Guest topology.
    let sockets = req.sockets.max(1);
    let topology = match widths.iter().collect::<Vec<_>>().as_slice() {
        [w] if n.is_multiple_of(**w * sockets) => Topology {
            sockets,
            cores: n / (**w * sockets),
            threads: **w,
        },
        _ if n.is_multiple_of(sockets) => Topology {
            sockets,
            cores: n / sockets,
            threads: 1,
        },
        _ => Topology {
            sockets: 1,
            cores: n,
            threads: 1,
        },
    };
    let width = widths.first().copied().unwrap_or(1);
    let cache_passthrough = widths.len() == 1 && topology.threads == width;
    if topology.threads != req.threads.max(1) {
        reasons.push(format!(
            "the spec says threads={}, the host cores have {width}: the guest sees {} socket(s) × {} cores × {} threads so its siblings are real ones",
            req.threads,
            topology.sockets,
            topology.cores,
            topology.threads
        ));
    }
    Placement {
        vcpus,
        cores: owned,
        emulator,
        iothreads,
        node,
        cells,
        topology,
        cache_passthrough,
        reasons,
    }
}
