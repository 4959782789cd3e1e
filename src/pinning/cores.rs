//! Physical cores as placement sees them: the host's online CPUs grouped into cores (by
//! package, die and `core_id`, or by sibling lists), each with its L3 domain, node and kind.

use std::collections::BTreeMap;

use crate::host::{CoreKind, HostFacts};
use crate::model::{ByteSize, CpuSet};

/// A physical core: its online CPUs and where it sits.
#[derive(Debug, Clone)]
pub(super) struct Core {
    /// Online CPUs, ascending.
    pub(super) cpus: CpuSet,
    /// Lowest CPU: the core's stable name and sort key.
    pub(super) first: u32,
    /// L3 domain key: the shared CPU list, or the core's own CPUs when it has no L3.
    pub(super) l3: CpuSet,
    /// L3 size, when known.
    pub(super) l3_size: Option<ByteSize>,
    /// NUMA node.
    pub(super) node: Option<u32>,
    /// Core kind.
    pub(super) kind: CoreKind,
    /// Fewer online CPUs than the other cores of its kind: an SMT sibling is offline.
    pub(super) degraded: bool,
}

impl Core {
    pub(super) fn width(&self) -> u32 {
        u32::try_from(self.cpus.len()).unwrap_or(u32::MAX)
    }

    pub(super) fn has_cpu0(&self) -> bool {
        self.cpus.contains(0)
    }
}

/// Preference order of core kinds for guests: P-cores, then uniform, then E-cores.
pub(super) fn kind_rank(kind: CoreKind) -> u8 {
    match kind {
        CoreKind::Performance => 0,
        CoreKind::Uniform => 1,
        CoreKind::Efficiency => 2,
    }
}

pub(super) fn kind_name(kind: CoreKind) -> &'static str {
    match kind {
        CoreKind::Performance => "performance",
        CoreKind::Uniform => "",
        CoreKind::Efficiency => "efficiency",
    }
}

/// The host's physical cores, ascending by lowest CPU. CPUs join one core when they share
/// (package, die, core) or list each other as siblings, so no sibling pair is ever split even
/// when the two facts disagree.
pub(super) fn physical_cores(host: &HostFacts) -> Vec<Core> {
    let online: Vec<&crate::host::Cpu> = host.cpus.iter().filter(|c| c.online).collect();
    // Union-find over positions in `online`.
    let mut parent: Vec<usize> = (0..online.len()).collect();
    let index: BTreeMap<u32, usize> = online.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
    let mut by_key: BTreeMap<(u32, u32, u32), usize> = BTreeMap::new();
    for (i, cpu) in online.iter().enumerate() {
        let join = |j: usize, parent: &mut Vec<usize>| {
            let (a, b) = (root(parent, i), root(parent, j));
            // The lower position wins, so the result does not depend on visiting order.
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            parent[hi] = lo;
        };
        if let Some(&j) = by_key.get(&(cpu.package, cpu.die, cpu.core)) {
            join(j, &mut parent);
        } else {
            by_key.insert((cpu.package, cpu.die, cpu.core), i);
        }
        for s in cpu.siblings.iter() {
            if let Some(&j) = index.get(&s) {
                join(j, &mut parent);
            }
        }
    }
    let mut groups: BTreeMap<usize, CpuSet> = BTreeMap::new();
    for (i, cpu) in online.iter().enumerate() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().insert(cpu.id);
    }
    let mut cores: Vec<Core> = groups
        .into_values()
        .filter_map(|cpus| {
            let first = cpus.first()?;
            let head = host.cpu(first)?;
            Some(Core {
                l3: head.l3.clone().unwrap_or_else(|| cpus.clone()),
                l3_size: head.l3_size,
                node: head.node,
                kind: head.kind,
                first,
                cpus,
                degraded: false,
            })
        })
        .collect();
    cores.sort_by_key(|c| c.first);
    // A core narrower than the widest of its kind lost a sibling: the kernel drops an offline
    // CPU from its sibling's lists, so width is the only trace it leaves.
    let mut widest: BTreeMap<u8, u32> = BTreeMap::new();
    for core in &cores {
        let w = widest.entry(kind_rank(core.kind)).or_default();
        *w = (*w).max(core.width());
    }
    for core in &mut cores {
        core.degraded = core.width() < widest[&kind_rank(core.kind)];
    }
    cores
}

/// Union-find: the representative of `i`, compressing the path on the way.
fn root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}
