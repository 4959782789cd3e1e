//! Choosing whole cores for one VM among the free ones: one kind, then one L3 domain, else one
//! NUMA node (fullest domains first), else the fewest nodes.

use std::collections::{BTreeMap, BTreeSet};

use super::DeviceNode;
use super::cores::{Core, kind_rank};
use crate::model::{ByteSize, CpuSet};
use crate::spec::PinPrefer;

/// An L3 domain while choosing: its key and its free cores in preference order.
type DomainRef<'m, 'c> = (&'m &'c CpuSet, &'m Vec<usize>);

/// A NUMA node while choosing: id, domains fullest first, free CPUs, whether it holds CPU 0.
type NodeGroup<'m, 'c> = (Option<u32>, Vec<DomainRef<'m, 'c>>, u32, bool);

/// Cores picked for one VM, and how well they fit.
#[derive(Debug, Clone, Default)]
pub(super) struct Chosen {
    /// Indices into the core list, ascending.
    pub(super) cores: Vec<usize>,
    /// 0: one L3 domain; 1: one NUMA node; 2: several nodes.
    pub(super) tier: u8,
    /// Whether a more preferred kind lacked room (hybrid: E-cores because P-cores are full).
    pub(super) fell_back: bool,
    /// The device whose node came first, and whether the guest fits there.
    pub(super) device: Option<(DeviceNode, bool)>,
    /// Free CPUs of cores with an offline sibling, left out for a guest with SMT threads.
    pub(super) skipped: CpuSet,
}

/// Rank of an L3 domain under a preference (lower is better).
fn prefer_key(prefer: PinPrefer, size: Option<ByteSize>) -> i128 {
    let size = i128::from(size.map_or(0, |s| s.0));
    match prefer {
        PinPrefer::None => 0,
        PinPrefer::Vcache => -size,
        PinPrefer::Frequency => size,
    }
}

/// Take cores in order until they hold `n` CPUs.
fn fill(cores: &[Core], order: &[usize], n: u32) -> Option<Vec<usize>> {
    let mut got = 0;
    let mut out = Vec::new();
    for &c in order {
        if got >= n {
            break;
        }
        got += cores[c].width();
        out.push(c);
    }
    (got >= n).then(|| {
        out.sort_unstable();
        out
    })
}

/// The best whole cores for `n` vCPUs among `free`, one kind only.
pub(super) fn choose(cores: &[Core], free: &[usize], n: u32, prefer: PinPrefer) -> Option<Chosen> {
    let kinds: BTreeSet<u8> = free.iter().map(|&c| kind_rank(cores[c].kind)).collect();
    let best_kind = kinds.first().copied();
    for kind in kinds {
        let of_kind: Vec<usize> = free
            .iter()
            .copied()
            .filter(|&c| kind_rank(cores[c].kind) == kind)
            .collect();
        if let Some((picked, tier)) = choose_in_kind(cores, &of_kind, n, prefer) {
            return Some(Chosen {
                cores: picked,
                tier,
                fell_back: Some(kind) != best_kind,
                device: None,
                skipped: CpuSet::new(),
            });
        }
    }
    None
}

fn choose_in_kind(
    cores: &[Core],
    free: &[usize],
    n: u32,
    prefer: PinPrefer,
) -> Option<(Vec<usize>, u8)> {
    // Cores within a group: away from CPU 0's core first, then by number.
    let core_key = |c: &usize| (cores[*c].has_cpu0(), cores[*c].first);
    let mut domains: BTreeMap<&CpuSet, Vec<usize>> = BTreeMap::new();
    for &c in free {
        domains.entry(&cores[c].l3).or_default().push(c);
    }
    for list in domains.values_mut() {
        list.sort_by_key(core_key);
    }
    let width = |list: &[usize]| list.iter().map(|&c| cores[c].width()).sum::<u32>();
    // A domain's rank: preference, then away from CPU 0, then lowest CPU.
    let domain_key = |(l3, list): (&&CpuSet, &Vec<usize>)| {
        let head = &cores[list[0]];
        (prefer_key(prefer, head.l3_size), l3.contains(0), l3.first())
    };

    // Tier 0: one L3 domain.
    let mut fitting: Vec<(&&CpuSet, &Vec<usize>)> =
        domains.iter().filter(|(_, l)| width(l) >= n).collect();
    fitting.sort_by_key(|d| domain_key(*d));
    if let Some((_, list)) = fitting.first() {
        return fill(cores, list, n).map(|p| (p, 0));
    }

    // Tier 1 and 2: nodes, fullest first within; domains fullest first within a node.
    let mut nodes: BTreeMap<Option<u32>, Vec<(&&CpuSet, &Vec<usize>)>> = BTreeMap::new();
    for d in &domains {
        nodes.entry(cores[d.1[0]].node).or_default().push(d);
    }
    let order_domains = |list: &mut Vec<(&&CpuSet, &Vec<usize>)>| {
        list.sort_by_key(|d| (std::cmp::Reverse(width(d.1)), domain_key(*d)));
    };
    let flatten = |list: &[(&&CpuSet, &Vec<usize>)]| -> Vec<usize> {
        list.iter().flat_map(|d| d.1.iter().copied()).collect()
    };
    let mut node_list: Vec<NodeGroup<'_, '_>> = nodes
        .into_iter()
        .map(|(node, mut list)| {
            order_domains(&mut list);
            let total = list.iter().map(|d| width(d.1)).sum();
            let cpu0 = list.iter().any(|d| d.0.contains(0));
            (node, list, total, cpu0)
        })
        .collect();
    let mut fitting: Vec<&NodeGroup<'_, '_>> = node_list.iter().filter(|nd| nd.2 >= n).collect();
    fitting.sort_by_key(|nd| (nd.3, nd.0));
    if let Some(nd) = fitting.first() {
        return fill(cores, &flatten(&nd.1), n).map(|p| (p, 1));
    }
    node_list.sort_by_key(|nd| (std::cmp::Reverse(nd.2), nd.3, nd.0));
    let all: Vec<usize> = node_list.iter().flat_map(|nd| flatten(&nd.1)).collect();
    fill(cores, &all, n).map(|p| (p, 2))
}
