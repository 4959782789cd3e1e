//! Automatic CPU pinning on real topologies, and properties over generated ones.
//!
//! Each fixture is written from the published facts of a real machine (core ids with gaps,
//! interleaved sockets, irregular sibling numbering, missing NUMA nodes, cores without L3),
//! laid out as a fake sysfs tree and read back by discovery, so the placement sees exactly
//! what it would see on that machine.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use passplan::host::{CoreKind, Cpu, HostFacts, NumaNode};
use passplan::model::CpuSet;
use passplan::pinning::{Demand, PlaceError, Placement, Request, place};
use passplan::spec::PinPrefer;
use proptest::prelude::*;

use crate::support::{FakeCpu, FakeHost, FakeHybrid, FakeNode, workstation, write_seed};

// ---- fixtures -----------------------------------------------------------------------------

/// One fake CPU.
pub(crate) fn cpu(
    id: u32,
    package: u32,
    core: u32,
    siblings: &[u32],
    l3: &[u32],
    node: u32,
) -> FakeCpu {
    FakeCpu {
        id,
        online: true,
        package,
        die: 0,
        core,
        siblings: siblings.to_vec(),
        l3: (!l3.is_empty()).then(|| l3.to_vec()),
        node: Some(node),
    }
}

/// A host of these CPUs with their nodes, read back through discovery.
pub(crate) fn discover(cpus: Vec<FakeCpu>, edit: impl FnOnce(&mut FakeHost)) -> HostFacts {
    let nodes: BTreeSet<u32> = cpus.iter().filter_map(|c| c.node).collect();
    let mut host = FakeHost {
        cpus,
        numa_nodes: nodes
            .into_iter()
            .map(|id| FakeNode {
                id,
                mem_total_kb: 16 << 20,
                mem_free_kb: 8 << 20,
            })
            .collect(),
        ..FakeHost::default()
    };
    edit(&mut host);
    let root = write_seed(&host);
    passplan::host::discover(root.path()).expect("discover the fixture")
}

/// AMD part with SMT sibling = cpu + `cores`, one node, L3 domains of consecutive cores.
pub(crate) fn amd_desktop(cores: u32, per_l3: u32, core_ids: impl Fn(u32) -> u32) -> Vec<FakeCpu> {
    (0..cores * 2)
        .map(|id| {
            let c = id % cores;
            let d = c / per_l3;
            let l3: Vec<u32> = (d * per_l3..(d + 1) * per_l3)
                .flat_map(|k| [k, k + cores])
                .collect();
            cpu(id, 0, core_ids(c), &[c, c + cores], &l3, 0)
        })
        .collect()
}

/// 2× EPYC 7451: 96 CPUs, sibling +48, 8 nodes of 2 CCXs, CCX = 3 cores, `core_id` per package
/// with a hole after every CCX (0,1,2,4,5,6,…).
fn epyc_7451() -> HostFacts {
    let cpus = (0..96)
        .map(|id| {
            let c = id % 48;
            let ccx = c / 3;
            let l3: Vec<u32> = (ccx * 3..ccx * 3 + 3).flat_map(|k| [k, k + 48]).collect();
            let core_id = (c % 24) / 3 * 4 + c % 3;
            cpu(id, c / 24, core_id, &[c, c + 48], &l3, c / 6)
        })
        .collect();
    discover(cpus, |_| {})
}

/// Ryzen 5 1600: 6 cores, two CCXs (L3 0-2,6-8 / 3-5,9-11), `core_id` 0,1,2,4,5,6.
fn ryzen_1600() -> HostFacts {
    discover(amd_desktop(6, 3, |c| c + c / 3), |_| {})
}

/// Ryzen 9 5900X: two CCDs of 6 cores (L3 0-5,12-17 / 6-11,18-23).
fn ryzen_5900x() -> HostFacts {
    discover(amd_desktop(12, 6, |c| c), |_| {})
}

/// Ryzen 9 9950X3D: two CCDs of 8 cores; CCD 0 (0-7,16-23) carries the 96 MiB V-Cache L3,
/// CCD 1 has 32 MiB.
fn ryzen_9950x3d() -> HostFacts {
    discover(amd_desktop(16, 8, |c| c), |h| {
        h.caches.l3_kb = 32 * 1024;
        for id in (0..8).chain(16..24) {
            h.l3_kb_by_cpu.insert(id, 96 * 1024);
        }
    })
}

/// Hybrid Intel: `p` P-cores as (siblings, `core_id`), `e` E-cores as (cpu, `core_id`), some E
/// CPUs without L3; one L3 over everything else.
fn intel_hybrid(p: &[(&[u32], u32)], e: &[(u32, u32)], no_l3: &[u32]) -> HostFacts {
    let mut l3: Vec<u32> = p.iter().flat_map(|(s, _)| s.iter().copied()).collect();
    l3.extend(e.iter().map(|(c, _)| *c).filter(|c| !no_l3.contains(c)));
    let mut cpus = Vec::new();
    for (siblings, core) in p {
        for &id in *siblings {
            cpus.push(cpu(id, 0, *core, siblings, &l3, 0));
        }
    }
    for &(id, core) in e {
        let shared: &[u32] = if no_l3.contains(&id) { &[] } else { &l3 };
        cpus.push(cpu(id, 0, core, &[id], shared, 0));
    }
    let core_cpus: Vec<u32> = p.iter().flat_map(|(s, _)| s.iter().copied()).collect();
    let atom_cpus: Vec<u32> = e.iter().map(|(c, _)| *c).collect();
    discover(cpus, |h| {
        h.hybrid = Some(FakeHybrid {
            core_cpus,
            atom_cpus,
        });
    })
}

/// Core Ultra 9 185H (Meteor Lake): CPU 0's sibling is CPU 5; 8 E-cores 12-19; LP E-cores
/// 20-21 have no L3.
fn meteor_lake() -> HostFacts {
    intel_hybrid(
        &[
            (&[0, 5], 16),
            (&[1, 2], 8),
            (&[3, 4], 12),
            (&[6, 7], 20),
            (&[8, 9], 24),
            (&[10, 11], 28),
        ],
        &[
            (12, 0),
            (13, 1),
            (14, 2),
            (15, 3),
            (16, 4),
            (17, 5),
            (18, 6),
            (19, 7),
            (20, 32),
            (21, 33),
        ],
        &[20, 21],
    )
}

/// i7-1270P (Alder Lake): 4 P-cores with adjacent siblings, `core_id` 0,4,8,12; 8 E-cores.
fn alder_lake() -> HostFacts {
    intel_hybrid(
        &[(&[0, 1], 0), (&[2, 3], 4), (&[4, 5], 8), (&[6, 7], 12)],
        &(8..16).map(|c| (c, c + 8)).collect::<Vec<_>>(),
        &[],
    )
}

/// i9-14900K (Raptor Lake): 8 P-cores 0-15 in adjacent pairs, 16 E-cores 16-31.
fn raptor_lake() -> HostFacts {
    let p: Vec<[u32; 2]> = (0..8).map(|k| [2 * k, 2 * k + 1]).collect();
    let p: Vec<(&[u32], u32)> = p.iter().zip(0u32..).map(|(s, k)| (&s[..], k * 4)).collect();
    intel_hybrid(&p, &(16..32).map(|c| (c, c + 16)).collect::<Vec<_>>(), &[])
}

/// 2× Xeon L5640: even CPUs are package 1 / node 0, odd CPUs package 0 / node 1; sibling +12;
/// `core_id` 0,1,2,8,9,10 in both packages.
fn xeon_l5640() -> HostFacts {
    let ids = [0, 1, 2, 8, 9, 10];
    let cpus = (0..24)
        .map(|id| {
            let c = id % 12;
            let l3: Vec<u32> = (0..24).filter(|k| k % 2 == id % 2).collect();
            cpu(
                id,
                1 - id % 2,
                ids[c as usize / 2],
                &[c, c + 12],
                &l3,
                id % 2,
            )
        })
        .collect();
    discover(cpus, |_| {})
}

/// 4× Xeon X7550: sockets interleaved per CPU (package 0,2,1,3 for cpu%4 = 0..3), sibling
/// +32, one L3 per package; packages 0 and 1 share node 0, node 1 is missing.
fn xeon_x7550() -> HostFacts {
    let package = [0, 2, 1, 3];
    let node = [0, 2, 0, 3];
    let core_ids = [0, 8, 2, 10, 1, 9, 3, 11];
    let cpus = (0..64)
        .map(|id| {
            let c = id % 32;
            let l3: Vec<u32> = (0..64).filter(|k| k % 4 == id % 4).collect();
            cpu(
                id,
                package[id as usize % 4],
                core_ids[c as usize / 4],
                &[c, c + 32],
                &l3,
                node[id as usize % 4],
            )
        })
        .collect();
    discover(cpus, |_| {})
}

/// The seed workstation (Ryzen 9 3900X: four CCXs of three cores).
fn ryzen_3900x() -> HostFacts {
    let root = write_seed(&workstation());
    passplan::host::discover(root.path()).expect("discover the workstation")
}

// ---- helpers ------------------------------------------------------------------------------

pub(crate) fn auto(name: &str, vcpus: u32) -> Request {
    Request {
        name: name.to_owned(),
        vcpus,
        sockets: 1,
        threads: 2,
        pin: Demand::Auto {
            reserve: 1,
            prefer: PinPrefer::None,
        },
        iothreads: 1,
        emulator: None,
        iothread_cpus: None,
        devices: Vec::new(),
    }
}

fn preferring(mut r: Request, prefer: PinPrefer) -> Request {
    if let Demand::Auto { reserve, .. } = r.pin {
        r.pin = Demand::Auto { reserve, prefer };
    }
    r
}

pub(crate) fn one(host: &HostFacts, request: Request) -> Placement {
    place(host, &[request])
        .pop()
        .expect("one result")
        .expect("placed")
}

pub(crate) fn set(cpus: &[u32]) -> CpuSet {
    cpus.iter().copied().collect()
}

pub(crate) fn kinds(host: &HostFacts, p: &Placement) -> BTreeSet<String> {
    p.vcpus
        .iter()
        .map(|c| format!("{:?}", host.cpu(*c).unwrap().kind))
        .collect()
}

// ---- real topologies ----------------------------------------------------------------------

#[test]
fn epyc_7451_keeps_a_small_vm_in_one_ccx_and_a_larger_one_in_one_node() {
    let host = epyc_7451();
    let small = one(&host, auto("small", 6));
    // CCX 0 holds CPU 0's core (the reserve); CCX 1 is the next whole domain.
    assert_eq!(small.vcpus, vec![3, 51, 4, 52, 5, 53]);
    assert_eq!(small.node, Some(0));
    assert_eq!(small.emulator, set(&[1, 49]), "{:?}", small.reasons);

    let big = one(&host, auto("big", 12));
    // Node 0 lost a core to the reserve: node 1's two CCXs are whole.
    assert_eq!(
        big.cores,
        set(&[6, 7, 8, 9, 10, 11, 54, 55, 56, 57, 58, 59])
    );
    assert_eq!(big.node, Some(1));
    assert_eq!(
        (
            big.topology.cores,
            big.topology.threads,
            big.cache_passthrough
        ),
        (6, 2, true)
    );
}

#[test]
fn epyc_7451_repeated_core_ids_across_packages_are_distinct_cores() {
    let host = epyc_7451();
    // All 47 non-reserved cores (94 CPUs) go to one guest: packages never merge on core_id.
    let p = one(&host, auto("all", 94));
    assert_eq!(p.cores.len(), 94);
    assert_eq!(p.node, None);
    assert!(!p.cores.contains(0) && !p.cores.contains(48));
}

#[test]
fn ryzen_1600_fills_the_second_ccx_then_spans_within_the_node() {
    let host = ryzen_1600();
    assert_eq!(one(&host, auto("a", 6)).vcpus, vec![3, 9, 4, 10, 5, 11]);
    let p = one(&host, auto("b", 8));
    // The fuller CCX first, then the nearest free core of the other.
    assert_eq!(p.cores, set(&[1, 3, 4, 5, 7, 9, 10, 11]));
    assert!(p.reasons.iter().any(|r| r.contains("spans 2 L3 domains")));
}

#[test]
fn ryzen_3900x_gives_two_vms_disjoint_ccxs() {
    let host = ryzen_3900x();
    let results = place(&host, &[auto("a", 6), auto("b", 6)]);
    let a = results[0].as_ref().unwrap();
    let b = results[1].as_ref().unwrap();
    assert!(!a.cores.intersects(&b.cores));
    for p in [a, b] {
        let l3: BTreeSet<String> = p
            .vcpus
            .iter()
            .map(|c| host.cpu(*c).unwrap().l3.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(l3.len(), 1, "{:?}", p.vcpus);
        assert!(!p.cores.contains(0) && !p.cores.contains(12));
    }
}

#[test]
fn ryzen_5900x_takes_the_ccd_without_cpu_0() {
    let p = one(&ryzen_5900x(), auto("g", 12));
    assert_eq!(p.cores, set(&[6, 7, 8, 9, 10, 11, 18, 19, 20, 21, 22, 23]));
    // The emulator stays on the host's CCD.
    assert_eq!(p.emulator, set(&[1, 13]));
}

#[test]
fn ryzen_9950x3d_prefers_the_vcache_or_the_frequency_ccd_when_asked() {
    let host = ryzen_9950x3d();
    let v = one(&host, preferring(auto("g", 8), PinPrefer::Vcache));
    assert_eq!(v.vcpus, vec![1, 17, 2, 18, 3, 19, 4, 20]);
    let f = one(&host, preferring(auto("g", 8), PinPrefer::Frequency));
    assert_eq!(f.vcpus, vec![8, 24, 9, 25, 10, 26, 11, 27]);
    // Fitting one L3 outranks the preference: the V-Cache CCD lost a core to the host.
    let big = one(&host, preferring(auto("g", 16), PinPrefer::Vcache));
    assert_eq!(big.cores, set(&(8..16).chain(24..32).collect::<Vec<_>>()));
}

#[test]
fn meteor_lake_pairs_irregular_siblings_and_keeps_p_and_e_apart() {
    let host = meteor_lake();
    let p = one(&host, auto("g", 8));
    // CPU 0's core is {0,5}: CPU 5 stays with the host too.
    assert_eq!(p.vcpus, vec![1, 2, 3, 4, 6, 7, 8, 9]);
    assert_eq!(kinds(&host, &p).len(), 1);
    assert_eq!(
        (p.topology.cores, p.topology.threads, p.cache_passthrough),
        (4, 2, true)
    );

    let results = place(&host, &[auto("big", 10), auto("small", 6)]);
    let big = results[0].as_ref().unwrap();
    let small = results[1].as_ref().unwrap();
    assert_eq!(
        kinds(&host, big),
        BTreeSet::from(["Performance".to_owned()])
    );
    assert_eq!(
        kinds(&host, small),
        BTreeSet::from(["Efficiency".to_owned()])
    );
    // The six E-cores sharing the L3, not the L3-less LP E-cores.
    assert_eq!(small.vcpus, vec![12, 13, 14, 15, 16, 17]);
    assert_eq!(small.topology.threads, 1);

    // 12 vCPUs fit neither the 10 free P-CPUs nor the 10 E-CPUs: never mixed.
    let err = place(&host, &[auto("g", 12)]).pop().unwrap().unwrap_err();
    assert_eq!(err.available, 10);
}

#[test]
fn alder_lake_uses_p_cores_and_runs_the_emulator_on_an_e_core() {
    let host = alder_lake();
    let p = one(&host, auto("g", 6));
    assert_eq!(p.vcpus, vec![2, 3, 4, 5, 6, 7]);
    assert_eq!(p.emulator, set(&[8]));
    assert_eq!(p.iothreads, set(&[8]));
}

#[test]
fn raptor_lake_falls_back_to_e_cores_whole_and_says_so() {
    let host = raptor_lake();
    let p = one(&host, auto("g", 14));
    assert_eq!(kinds(&host, &p), BTreeSet::from(["Performance".to_owned()]));
    let e = one(&host, auto("g", 16));
    assert_eq!(e.cores, set(&(16..32).collect::<Vec<_>>()));
    assert!(e.reasons.iter().any(|r| r.contains("efficiency cores")));
}

#[test]
fn xeon_l5640_follows_nodes_not_package_ids() {
    let host = xeon_l5640();
    // CPU 0 is package 1 / node 0, so the guest goes to the other L3: node 1, package 0.
    let small = one(&host, auto("a", 6));
    assert_eq!(small.vcpus, vec![1, 13, 3, 15, 5, 17]);
    assert_eq!(small.node, Some(1));
    assert_eq!(host.cpu(1).unwrap().package, 0);
    let big = one(&host, auto("b", 12));
    assert_eq!(big.node, Some(1));
    assert_eq!(
        big.cores,
        set(&(0..24).filter(|c| c % 2 == 1).collect::<Vec<_>>())
    );
    // Two VMs: the second fits beside the host on node 0.
    let both = place(&host, &[auto("a", 12), auto("b", 10)]);
    let b = both[1].as_ref().unwrap();
    assert_eq!(b.node, Some(0));
    assert!(!b.cores.contains(0) && !b.cores.contains(12));
}

#[test]
fn xeon_x7550_handles_a_missing_numa_node_and_two_packages_per_node() {
    let host = xeon_x7550();
    assert_eq!(
        host.numa_nodes.iter().map(|n| n.id).collect::<Vec<_>>(),
        vec![0, 2, 3]
    );
    // Three whole packages away from CPU 0: package 2 (node 2), package 1 — which shares
    // node 0 with CPU 0's package — and package 3 (node 3).
    let three = place(&host, &[auto("a", 16), auto("b", 16), auto("c", 16)]);
    let got: Vec<(u32, Option<u32>)> = three
        .iter()
        .map(|r| {
            let p = r.as_ref().unwrap();
            let residues: BTreeSet<u32> = p.vcpus.iter().map(|c| c % 4).collect();
            assert_eq!(residues.len(), 1, "one package: {:?}", p.vcpus);
            (host.cpu(p.vcpus[0]).unwrap().package, p.node)
        })
        .collect();
    assert_eq!(got, vec![(2, Some(2)), (1, Some(0)), (3, Some(3))]);
    let wide = one(&host, auto("b", 40));
    assert_eq!(wide.node, None);
    assert!(wide.reasons.iter().any(|r| r.contains("spans 2 nodes")));
}

#[test]
fn explicit_pins_are_taken_first_and_kept() {
    let host = ryzen_3900x();
    let explicit = Request {
        pin: Demand::Explicit(vec![3, 15, 4, 16, 5, 17]),
        ..auto("pinned", 6)
    };
    let results = place(&host, &[auto("a", 6), explicit]);
    let a = results[0].as_ref().unwrap();
    let pinned = results[1].as_ref().unwrap();
    assert_eq!(pinned.vcpus, vec![3, 15, 4, 16, 5, 17]);
    assert!(!a.cores.intersects(&pinned.cores));
}

#[test]
fn reserve_zero_still_uses_cpu_0_last() {
    let host = ryzen_5900x();
    let r = Request {
        pin: Demand::Auto {
            reserve: 0,
            prefer: PinPrefer::None,
        },
        ..auto("g", 24)
    };
    let p = one(&host, r);
    assert_eq!(p.cores.len(), 24);
    assert!(p.emulator.is_empty());
    let small = Request {
        pin: Demand::Auto {
            reserve: 0,
            prefer: PinPrefer::None,
        },
        ..auto("g", 4)
    };
    assert!(!one(&host, small).cores.contains(0));
}

#[test]
fn odd_vcpu_counts_leave_a_sibling_idle_rather_than_split_a_core() {
    let p = one(&ryzen_5900x(), auto("g", 5));
    assert_eq!(p.vcpus.len(), 5);
    assert_eq!(p.cores.len(), 6);
    assert_eq!((p.topology.cores, p.topology.threads), (5, 1));
}

#[test]
fn host_spec_prints_the_cpu_map() {
    let root = write_seed(&workstation());
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("host.kdl");
    std::fs::write(
        &spec,
        r#"vm "win10" {
    memory "8GiB"
    cpu { vcpus 6 threads=2; pin policy="auto" prefer="vcache"; iothreads 1 }
}
vm "linux" {
    memory "4GiB"
    cpu { vcpus 4 threads=2; pin cores="9-10" }
}
"#,
    )
    .unwrap();
    let config = passplan::cli::parse([
        "passplan",
        "host",
        "--root",
        root.path().to_str().unwrap(),
        "--spec",
        spec.to_str().unwrap(),
    ])
    .unwrap();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let outcome = passplan::commands::execute(&config, &mut out, &mut err).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(
        outcome,
        passplan::commands::Outcome::Success,
        "{out}{}",
        String::from_utf8_lossy(&err)
    );
    let map = &out[out.find("CPU placement").expect("a placement section")..];
    let map = map.replace(&spec.display().to_string(), "host.kdl");
    insta::with_settings!({ snapshot_path => "snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("host_spec_cpu_map", map);
    });
}

// ---- properties ---------------------------------------------------------------------------

/// A generated topology's shape.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    packages: u32,
    nodes_per_package: u32,
    l3_per_node: u32,
    cores_per_l3: u32,
    smt: bool,
    /// Siblings numbered `cpu + N` (AMD, older Xeon) or adjacent (Intel hybrid P-cores).
    plus_n: bool,
    /// `core_id` spacing (gaps) and whether ids restart per package.
    core_stride: u32,
    /// The last `e_cores` cores are single-thread efficiency cores (hybrid).
    e_cores: u32,
    /// Offline CPUs (never given to anyone).
    offline: Vec<u32>,
}

fn base_facts() -> &'static HostFacts {
    static BASE: OnceLock<HostFacts> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        passplan::host::discover(dir.path()).expect("an empty root discovers")
    })
}

pub(crate) fn build(shape: &Shape) -> HostFacts {
    let total_cores =
        shape.packages * shape.nodes_per_package * shape.l3_per_node * shape.cores_per_l3;
    let e_cores = shape.e_cores.min(total_cores.saturating_sub(1));
    let p_cores = total_cores - e_cores;
    let threads = if shape.smt { 2 } else { 1 };
    // CPU ids of core k: SMT cores first, then E-cores.
    let cpus_of = |k: u32| -> Vec<u32> {
        if k >= p_cores {
            vec![p_cores * threads + (k - p_cores)]
        } else if threads == 1 {
            vec![k]
        } else if shape.plus_n {
            vec![k, k + p_cores]
        } else {
            vec![2 * k, 2 * k + 1]
        }
    };
    let per_package = total_cores / shape.packages;
    let per_node = shape.l3_per_node * shape.cores_per_l3;
    let hybrid = e_cores > 0;
    let mut cpus = Vec::new();
    let mut nodes: Vec<NumaNode> = Vec::new();
    for k in 0..total_cores {
        let siblings: CpuSet = cpus_of(k).into_iter().collect();
        let l3_index = k / shape.cores_per_l3;
        let l3: CpuSet = (l3_index * shape.cores_per_l3..(l3_index + 1) * shape.cores_per_l3)
            .flat_map(&cpus_of)
            .collect();
        let node = k / per_node;
        let kind = match (hybrid, k >= p_cores) {
            (false, _) => CoreKind::Uniform,
            (true, false) => CoreKind::Performance,
            (true, true) => CoreKind::Efficiency,
        };
        for id in siblings.iter() {
            cpus.push(Cpu {
                id,
                online: !shape.offline.contains(&id),
                package: k / per_package,
                die: 0,
                core: (k % per_package) * shape.core_stride,
                siblings: siblings.clone(),
                l3: Some(l3.clone()),
                l3_size: None,
                node: Some(node),
                kind,
            });
            match nodes.iter_mut().find(|n| n.id == node) {
                Some(n) => {
                    n.cpus.insert(id);
                }
                None => nodes.push(NumaNode {
                    id: node,
                    cpus: [id].into_iter().collect(),
                    memory: None,
                }),
            }
        }
    }
    cpus.sort_by_key(|c| c.id);
    let mut host = base_facts().clone();
    host.cpus = cpus;
    host.numa_nodes = nodes;
    host
}

pub(crate) fn shape() -> impl Strategy<Value = Shape> {
    (
        1u32..=2,
        1u32..=2,
        1u32..=2,
        1u32..=4,
        any::<bool>(),
        any::<bool>(),
        1u32..=3,
        0u32..=4,
        proptest::collection::vec(0u32..40, 0..3),
    )
        .prop_map(
            |(
                packages,
                nodes_per_package,
                l3_per_node,
                cores_per_l3,
                smt,
                plus_n,
                core_stride,
                e_cores,
                offline,
            )| Shape {
                packages,
                nodes_per_package,
                l3_per_node,
                cores_per_l3,
                smt,
                plus_n,
                core_stride,
                e_cores,
                offline,
            },
        )
}

fn requests() -> impl Strategy<Value = Vec<Request>> {
    let prefer = prop_oneof![
        Just(PinPrefer::None),
        Just(PinPrefer::Vcache),
        Just(PinPrefer::Frequency)
    ];
    proptest::collection::vec((1u32..=10, 0u32..=2, prefer, 0u32..=2), 1..=3).prop_map(|vms| {
        vms.into_iter()
            .enumerate()
            .map(|(i, (vcpus, reserve, prefer, iothreads))| Request {
                name: format!("vm{i}"),
                vcpus,
                sockets: 1,
                threads: 2,
                pin: Demand::Auto { reserve, prefer },
                iothreads,
                emulator: None,
                iothread_cpus: None,
                devices: Vec::new(),
            })
            .collect()
    })
}

fn placed(results: &[Result<Placement, PlaceError>]) -> Vec<&Placement> {
    results.iter().filter_map(|r| r.as_ref().ok()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn placements_keep_their_promises(shape in shape(), requests in requests()) {
        let host = build(&shape);
        let results = place(&host, &requests);
        prop_assert_eq!(results.len(), requests.len());
        let ok = placed(&results);
        let online = host.online_cpus();

        // The same input always gives the same answer.
        prop_assert_eq!(&results, &place(&host, &requests));

        let mut seen = CpuSet::new();
        for (p, req) in results.iter().zip(&requests).filter_map(|(r, q)| Some((r.as_ref().ok()?, q))) {
            prop_assert_eq!(u32::try_from(p.vcpus.len()).unwrap(), req.vcpus);
            for &c in &p.vcpus {
                // No CPU twice, within or across guests; only online CPUs.
                prop_assert!(seen.insert(c), "CPU {} given twice", c);
                prop_assert!(online.contains(c));
                // Siblings never split: a guest owns every online sibling of its CPUs.
                let siblings = host.cpu(c).unwrap().siblings.intersection(&online);
                prop_assert!(siblings.is_subset(&p.cores), "{} split from {}", c, siblings);
            }
            // One core kind per guest.
            let kinds: BTreeSet<String> = p.vcpus.iter().map(|c| format!("{:?}", host.cpu(*c).unwrap().kind)).collect();
            prop_assert_eq!(kinds.len(), 1);
            // The topology multiplies out.
            let t = p.topology;
            prop_assert_eq!(t.sockets * t.cores * t.threads, req.vcpus);
            // Emulator and I/O threads never run on any guest's cores.
            for q in &ok {
                prop_assert!(!p.emulator.intersects(&q.cores));
                prop_assert!(!p.iothreads.intersects(&q.cores));
            }
        }
        for (i, p) in ok.iter().enumerate() {
            for q in &ok[i + 1..] {
                prop_assert!(!p.cores.intersects(&q.cores), "guests share a core");
            }
        }

        // The host reserve is kept: that many whole online cores belong to no guest.
        let reserve = requests.iter().filter_map(|r| match r.pin {
            Demand::Auto { reserve, .. } => Some(reserve),
            Demand::Explicit(_) => None,
        }).max().unwrap_or(0);
        let owned: CpuSet = ok.iter().flat_map(|p| p.cores.iter()).collect();
        let mut free_cores = BTreeSet::new();
        for c in &host.cpus {
            if c.online && !owned.contains(c.id) {
                free_cores.insert(c.siblings.intersection(&online));
            }
        }
        let all_cores: BTreeSet<CpuSet> = host.cpus.iter().filter(|c| c.online).map(|c| c.siblings.intersection(&online)).collect();
        prop_assert!(free_cores.len() >= (reserve as usize).min(all_cores.len()));
        // CPU 0's core is the host's first reserved core.
        if reserve > 0 && online.contains(0) {
            prop_assert!(!owned.contains(0));
        }
    }

    #[test]
    fn a_vm_that_fits_alone_is_placed(shape in shape(), vcpus in 1u32..=8) {
        let host = build(&shape);
        let request = Request { pin: Demand::Auto { reserve: 0, prefer: PinPrefer::None }, ..auto("g", vcpus) };
        // The largest group of free whole cores of one kind.
        // A threads=2 guest takes no core that lost a sibling (narrower than its kind's widest).
        let mut by_kind = std::collections::BTreeMap::<String, BTreeSet<CpuSet>>::new();
        let online = host.online_cpus();
        for c in host.cpus.iter().filter(|c| c.online) {
            by_kind.entry(format!("{:?}", c.kind)).or_default().insert(c.siblings.intersection(&online));
        }
        let most = by_kind
            .values()
            .map(|cores| {
                let widest = cores.iter().map(CpuSet::len).max().unwrap_or(0);
                cores.iter().map(CpuSet::len).filter(|w| *w == widest).sum::<usize>()
            })
            .max()
            .unwrap_or(0);
        let result = place(&host, &[request]).pop().unwrap();
        prop_assert_eq!(result.is_ok(), vcpus as usize <= most, "{:?}", result);
    }
}
