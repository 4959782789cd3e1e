//! Automatic placement on the published sysfs trees (read in place from `shared/realworld/`)
//! and with the VM's devices on NUMA nodes: the dual E5-2670 with GPUs on both sockets, guest
//! NUMA cells for a VM that must span nodes, cores with an offline SMT sibling.

use passplan::host::{CoreKind, HostFacts};
use passplan::model::CpuSet;
use passplan::pinning::{Demand, DeviceNode, Request, place};
use passplan::spec::PinPrefer;
use proptest::prelude::*;
use std::collections::BTreeSet;

use crate::pinning::{amd_desktop, auto, build, cpu, discover, kinds, one, set, shape};

// ---- the published sysfs trees, read in place --------------------------------------------

/// A published sysfs dump from `shared/realworld/sysfs-dumps/`, unpacked into a temporary
/// directory and discovered; `None` (the test prints SKIPPED) when the shared data is not beside
/// the project. `inner` is the dump's own top directory, if it has one.
fn real_tree(archive: &str, inner: &str) -> Option<(tempfile::TempDir, HostFacts)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/realworld/sysfs-dumps")
        .join(archive);
    if !path.exists() {
        println!("SKIPPED: {} is not here", path.display());
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&path)
        .arg("-C")
        .arg(dir.path())
        .status()
        .expect("tar runs");
    assert!(status.success(), "unpack {archive}");
    let host = passplan::host::discover(&dir.path().join(inner)).expect("discover the dump");
    Some((dir, host))
}

#[test]
fn i7_1370p_without_pmu_directories_keeps_p_and_e_apart() {
    let Some((_dir, host)) = real_tree(
        "hwloc_20em64t-hybrid-1p6c2t+2ca4co1t_i7-1370P.tar.bz2",
        "20em64t-hybrid-1p6c2t+2ca4co1t",
    ) else {
        return;
    };
    // The dump has no /sys/devices/cpu_core: kinds come from the topology.
    assert_eq!(host.core_kinds, passplan::host::CoreKindSource::Topology);
    for cpu in &host.cpus {
        let want = if cpu.id < 12 {
            CoreKind::Performance
        } else {
            CoreKind::Efficiency
        };
        assert_eq!(cpu.kind, want, "CPU {}", cpu.id);
    }
    // 16 vCPUs used to take 5 P-cores and 6 E-cores; kinds are never mixed, and neither kind
    // has 16 free CPUs.
    let err = place(&host, &[auto("g", 16)]).pop().unwrap().unwrap_err();
    assert_eq!(err.available, 10);
    let p = one(&host, auto("g", 8));
    assert_eq!(kinds(&host, &p), BTreeSet::from(["Performance".to_owned()]));
    assert_eq!((p.topology.cores, p.topology.threads), (4, 2));
    // The emulator goes to an E-core, which the guest does not need.
    assert!(p.emulator.iter().all(|c| c >= 12), "{}", p.emulator);
}

#[test]
fn i7_1270p_clusters_of_four_e_cores_are_efficiency_cores() {
    let Some((_dir, host)) = real_tree(
        "ghw_linux-amd64-415ee03b8c4d1c4f07ae2e9d8b3d3d6d_intel-alderlake-i7-1270P-laptop.tar.gz",
        "",
    ) else {
        return;
    };
    // No cpufreq in this dump: the L2 clusters and SMT decide.
    assert_eq!(host.core_kinds, passplan::host::CoreKindSource::Topology);
    let e: CpuSet = host
        .cpus
        .iter()
        .filter(|c| c.kind == CoreKind::Efficiency)
        .map(|c| c.id)
        .collect();
    assert_eq!(e, set(&(8..16).collect::<Vec<_>>()));
    let p = one(&host, auto("g", 6));
    assert_eq!(p.vcpus, vec![2, 3, 4, 5, 6, 7]);
}

#[test]
fn real_uniform_trees_have_no_core_kinds_and_keep_their_shapes() {
    let cases = [
        (
            "util-linux_x86_64-epyc_7451.tar.gz",
            "x86_64-epyc_7451",
            96,
            8,
        ),
        (
            "ghw_linux-amd64-8581cf3a529e5d8b97ea876eade2f60d_intel-2x-xeon-L5640.tar.gz",
            "",
            24,
            2,
        ),
        ("util-linux_x86_64-64cpu.tar.gz", "x86_64-64cpu", 64, 3),
        (
            "ghw_linux-amd64-61797caf7c0b6bca1725ad7975ed4773_amd-ryzen5-1600-2ccx.tar.gz",
            "",
            12,
            1,
        ),
    ];
    for (archive, inner, cpus, nodes) in cases {
        let Some((_dir, host)) = real_tree(archive, inner) else {
            return;
        };
        assert_eq!(
            host.core_kinds,
            passplan::host::CoreKindSource::None,
            "{archive}"
        );
        assert_eq!(host.cpus.len(), cpus, "{archive}");
        assert_eq!(host.numa_nodes.len(), nodes, "{archive}");
        // The placements the hand-written fixtures above promise hold on the real trees too.
        match cpus {
            96 => {
                let p = one(&host, auto("small", 6));
                assert_eq!(p.vcpus, vec![3, 51, 4, 52, 5, 53], "{archive}");
            }
            24 => assert_eq!(one(&host, auto("a", 6)).node, Some(1), "{archive}"),
            64 => {
                let wide = one(&host, auto("b", 40));
                assert_eq!(wide.node, None, "{archive}");
                assert_eq!(wide.cells.len(), 2, "{archive}");
            }
            _ => assert_eq!(
                one(&host, auto("a", 6)).vcpus,
                vec![3, 9, 4, 10, 5, 11],
                "{archive}"
            ),
        }
    }
}

// ---- devices' nodes, offline siblings, guest NUMA cells ----------------------------------

/// 2× Xeon E5-2670 (the `4gamers1pc` build): 8 cores per socket with HT, CPUs 0-7 and their
/// siblings 16-23 on socket/node 0, 8-15 and 24-31 on socket/node 1, one L3 per socket.
fn dual_e5_2670() -> HostFacts {
    let cpus = (0..32)
        .map(|id| {
            let c = id % 16;
            let socket = c / 8;
            let l3: Vec<u32> = (socket * 8..socket * 8 + 8)
                .flat_map(|k| [k, k + 16])
                .collect();
            cpu(id, socket, c % 8, &[c, c + 16], &l3, socket)
        })
        .collect();
    discover(cpus, |_| {})
}

fn with_device(mut r: Request, name: &str, node: u32) -> Request {
    r.devices = vec![DeviceNode {
        name: name.to_owned(),
        node,
    }];
    r
}

/// The GPUs' nodes as the listing shows them: the GTX 1070 (04:00.0) and 770 (05:00.0) on
/// socket 0's root ports, the GTX 970 at bus 0x82, behind socket 1.
const E5_2670_GPUS: [(&str, &str, u32); 3] = [
    ("gtx1070", "04:00.0", 0),
    ("gtx770", "05:00.0", 0),
    ("gtx970", "82:00.0", 1),
];

#[test]
fn dual_xeon_e5_2670_three_vms_land_on_their_gpus_sockets() {
    let listing = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/realworld/iommu/dual-xeon-e5-2670_asrock-ep2c602_4gamers1pc_J4nsen.txt");
    if let Ok(text) = std::fs::read_to_string(&listing) {
        for (_, address, _) in E5_2670_GPUS {
            assert!(
                text.lines()
                    .any(|l| l.contains(address) && l.contains("VGA compatible controller")),
                "the listing has a GPU at {address}"
            );
        }
    }
    let host = dual_e5_2670();
    // The GTX 970's VM first in the spec: order must not matter.
    let requests: Vec<Request> = [2, 0, 1]
        .into_iter()
        .map(|i| {
            let (gpu, _, node) = E5_2670_GPUS[i];
            Request {
                threads: 2,
                ..with_device(auto(&format!("vm-{gpu}"), 6), gpu, node)
            }
        })
        .collect();
    let results = place(&host, &requests);
    for (r, req) in results.iter().zip(&requests) {
        let p = r.as_ref().unwrap();
        let want = req.devices[0].node;
        assert_eq!(p.node, Some(want), "{}: {:?}", req.name, p.vcpus);
        assert!(
            p.emulator
                .iter()
                .all(|c| host.cpu(c).unwrap().node == Some(want))
        );
        assert!(
            p.reasons
                .iter()
                .any(|l| l.contains(&format!("the node of `{}`", req.devices[0].name))),
            "{:?}",
            p.reasons
        );
    }
}

#[test]
fn a_vm_whose_gpu_node_is_full_goes_elsewhere_and_says_so() {
    let host = dual_e5_2670();
    let results = place(
        &host,
        &[
            with_device(auto("a", 12), "gtx970", 1),
            with_device(auto("b", 8), "gtx970b", 1),
        ],
    );
    let a = results[0].as_ref().unwrap();
    let b = results[1].as_ref().unwrap();
    assert_eq!(a.node, Some(1));
    assert_eq!(b.node, Some(0));
    assert!(
        b.reasons.iter().any(|l| l.contains("cpu/remote-device")),
        "{:?}",
        b.reasons
    );
}

#[test]
fn a_vm_that_must_span_nodes_gets_one_cell_per_node() {
    let host = dual_e5_2670();
    let p = one(&host, auto("wide", 20));
    assert_eq!(p.node, None);
    assert_eq!(p.cells.len(), 2);
    // Cells are runs of consecutive vCPUs, node by node, and each cell's host CPUs are on it.
    let mut next = 0;
    for cell in &p.cells {
        for v in cell.vcpus.iter() {
            assert_eq!(v, next);
            next += 1;
            let host_cpu = p.vcpus[v as usize];
            assert_eq!(host.cpu(host_cpu).unwrap().node, Some(cell.node));
        }
    }
    assert_eq!(next, 20);
    assert!(p.reasons.iter().any(|l| l.contains("NUMA cells")));
}

#[test]
fn a_core_with_an_offline_sibling_is_skipped_and_threads_stay_two() {
    // Ryzen 9 5900X with CPU 20 (core 8's sibling) offline.
    let mut cpus = amd_desktop(12, 6, |c| c);
    for c in &mut cpus {
        if c.id == 20 {
            c.online = false;
        }
        if c.id == 8 {
            c.siblings = vec![8];
        }
    }
    let host = discover(cpus, |_| {});
    let p = one(&host, auto("g", 10));
    assert!(!p.cores.contains(8), "{:?}", p.vcpus);
    assert_eq!((p.topology.cores, p.topology.threads), (5, 2));
    assert!(p.cache_passthrough);
    assert!(
        p.reasons.iter().any(|l| l.contains("CPU(s) 8 skipped")),
        "{:?}",
        p.reasons
    );
    // A single-thread guest may still use it when nothing else fits.
    let all = Request {
        threads: 1,
        pin: Demand::Auto {
            reserve: 0,
            prefer: PinPrefer::None,
        },
        ..auto("g", 23)
    };
    assert_eq!(one(&host, all).vcpus.len(), 23);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn devices_node_first(shape in shape(), vcpus in 1u32..=8, pick in 0usize..4) {
        let host = build(&shape);
        let nodes: Vec<u32> = host.numa_nodes.iter().map(|n| n.id).collect();
        let node = nodes[pick % nodes.len()];
        let request = Request {
            threads: 1,
            pin: Demand::Auto { reserve: 0, prefer: PinPrefer::None },
            ..with_device(auto("g", vcpus), "gpu", node)
        };
        // Room on the device's node: free CPUs of one kind there, in whole cores.
        let online = host.online_cpus();
        let mut by_kind = std::collections::BTreeMap::<String, BTreeSet<CpuSet>>::new();
        for c in host.cpus.iter().filter(|c| c.online && c.node == Some(node)) {
            by_kind.entry(format!("{:?}", c.kind)).or_default().insert(c.siblings.intersection(&online));
        }
        let room = by_kind.values().map(|cores| cores.iter().map(CpuSet::len).sum::<usize>()).max().unwrap_or(0);
        let result = place(&host, &[request]).pop().unwrap();
        if vcpus as usize <= room {
            let p = result.expect("fits on the device's node");
            for c in &p.vcpus {
                prop_assert_eq!(host.cpu(*c).unwrap().node, Some(node), "{:?} {:?}", p.vcpus, p.reasons);
            }
            prop_assert_eq!(p.node, Some(node));
        } else if let Ok(p) = result {
            prop_assert!(p.reasons.iter().any(|r| r.contains("cpu/remote-device")), "{:?}", p.reasons);
        }
    }
}

/// The i9-14900K as its owner's `lscpu --all --extended` shows it
/// (`shared/realworld/lscpu/intel-i9-14900K_lscpu-all-extended_unknown-repo.txt`): 8 P-cores
/// with SMT as CPUs 0-15 (cores 0-7, each its own L2; 5.7 GHz, 6.0 GHz on cores 4-5), 16 E-cores
/// as CPUs 16-31 (cores 8-23, one L2 per four, 4.4 GHz), one L3, one node — and, as on older
/// kernels, no `/sys/devices/cpu_core` or `cpu_atom`.
fn i9_14900k() -> HostFacts {
    let all: Vec<u32> = (0..32).collect();
    let mut cpus = Vec::new();
    for id in 0..32u32 {
        let (core, siblings) = if id < 16 {
            (id / 2, vec![id & !1, id | 1])
        } else {
            (id - 8, vec![id])
        };
        cpus.push(cpu(id, 0, core, &siblings, &all, 0));
    }
    discover(cpus, |host| {
        host.hybrid = None;
        host.topology_cluster = true;
        for id in 0..32u32 {
            let (cluster, khz) = if id < 16 {
                let mhz = if (8..12).contains(&id) { 6000 } else { 5700 };
                (vec![id & !1, id | 1], mhz * 1000)
            } else {
                let first = 16 + (id - 16) / 4 * 4;
                ((first..first + 4).collect(), 4_400_000)
            };
            host.cluster_by_cpu.insert(id, cluster);
            host.max_khz_by_cpu.insert(id, khz);
        }
    })
}

#[test]
fn i9_14900k_without_pmu_directories_keeps_p_and_e_apart() {
    let host = i9_14900k();
    assert_eq!(host.core_kinds, passplan::host::CoreKindSource::Topology);
    for cpu in &host.cpus {
        let want = if cpu.id < 16 {
            CoreKind::Performance
        } else {
            CoreKind::Efficiency
        };
        assert_eq!(cpu.kind, want, "CPU {}", cpu.id);
    }
    // Eight vCPUs as four SMT pairs: P-cores only, never an E-core among them; the emulator
    // goes to an E-core the guest does not use.
    let p = one(&host, auto("g", 8));
    assert_eq!(kinds(&host, &p), BTreeSet::from(["Performance".to_owned()]));
    assert_eq!((p.topology.cores, p.topology.threads), (4, 2));
    assert!(p.emulator.iter().all(|c| c >= 16), "{}", p.emulator);
}
