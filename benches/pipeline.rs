//! Benchmarks of the whole `plan` pipeline (spec → host → check → compile → observe → plan) and
//! of host discovery and of the automatic placement alone, on the largest example and on a
//! generated large host: 2 sockets × 64 cores × 2 threads, 400 PCI functions in 64 IOMMU
//! groups, 16 GPUs (8 per socket), 8 VMs; and `passplan host` (discovery and its listing) on a
//! tree whose CPU lists are 16 KB of overlapping ranges.
//! Figures, machine and method: docs/performance.md. Run with `cargo bench --bench pipeline`.

#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

// The test suite's fake host writer (it carries its own lint allowances).
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use passplan::desired::SpecSource;
use passplan::system::RealSystem;
use passplan::system::state::State;

use support::{FakeCpu, FakeHost, FakeNode};

/// The large host and its spec.
fn large() -> (FakeHost, String) {
    let mut host = support::workstation();
    // 2 packages × 64 cores × 2 threads; sibling = cpu + 128; an L3 per 8 cores; node = package.
    let cores = 128u32;
    host.cpus = (0..cores * 2)
        .map(|id| {
            let core = id % cores;
            let package = core / 64;
            let l3_first = core / 8 * 8;
            let l3: Vec<u32> = (l3_first..l3_first + 8)
                .flat_map(|c| [c, c + cores])
                .collect();
            FakeCpu {
                id,
                online: true,
                package,
                die: 0,
                core: core % 64,
                siblings: vec![core, core + cores],
                l3: Some(l3),
                node: Some(package),
            }
        })
        .collect();
    host.memory.total_kb = 512 * 1024 * 1024;
    host.memory.available_kb = 480 * 1024 * 1024;
    host.numa_nodes = (0..2)
        .map(|id| FakeNode {
            id,
            mem_total_kb: 256 * 1024 * 1024,
            mem_free_kb: 200 * 1024 * 1024,
        })
        .collect();
    host.cpufreq = None;
    // 400 functions: 16 GPUs (VGA + audio, one group each), 368 others in 48 groups.
    let template = host
        .pci_device("0000:0d:00.0")
        .expect("a GPU to copy")
        .clone();
    host.pci.clear();
    host.block.clear();
    host.usb.clear();
    let mut n = 0;
    for gpu in 0..16u32 {
        for (function, class, device, driver) in [
            (0, 0x03_0000, 0x2206, "nvidia"),
            (1, 0x04_0300, 0x1aef, "snd_hda_intel"),
        ] {
            let mut f = template.clone();
            f.address = format!("0000:{:02x}:00.{function}", 0x40 + gpu);
            f.parent = None;
            f.class = class;
            f.device = device;
            f.driver = Some(driver.to_owned());
            f.boot_vga = (class == 0x03_0000).then_some(false);
            f.group = Some(gpu);
            f.drm_card = None;
            // GPUs 0-7 hang off socket 0, 8-15 off socket 1: automatic VMs follow them.
            f.numa_node = i32::from(gpu >= 8);
            host.pci.push(f);
            n += 1;
        }
    }
    let mut i = 0u32;
    while n < 400 {
        let mut f = template.clone();
        f.address = format!("0000:{:02x}:{:02x}.{}", 0x80 + i / 64, (i / 8) % 8, i % 8);
        f.parent = None;
        f.class = 0x0c_0330;
        f.vendor = 0x1022;
        f.device = 0x149c;
        f.driver = Some("xhci_hcd".to_owned());
        f.boot_vga = None;
        f.group = Some(16 + i % 48);
        f.drm_card = None;
        host.pci.push(f);
        i += 1;
        n += 1;
    }
    host.pci_mut("0000:40:00.0").boot_vga = Some(true);
    let mut spec = String::from(
        "host \"big\" { boot { loader \"kernelstub\"; iommu mode=\"pt\" }; headless }\n",
    );
    for gpu in 0..16u32 {
        let _ = writeln!(
            spec,
            "gpu \"gpu{gpu}\" {{ pci \"{:02x}:00.0\" id=\"10de:2206\"; role \"guest\" }}",
            0x40 + gpu
        );
    }
    for vm in 0..8u32 {
        let pin = if vm % 2 == 0 {
            format!("pin cores=\"{}-{}\"", 8 + vm * 12, 8 + vm * 12 + 7)
        } else {
            "pin policy=\"auto\"".to_owned()
        };
        let _ = writeln!(
            spec,
            "vm \"vm{vm}\" {{\n    memory \"32GiB\" hugepages=\"dynamic\"\n    cpu {{ vcpus 16 threads=2; {pin}; iothreads 1 }}\n    passthrough \"gpu{}\" \"gpu{}\"\n    disk \"/var/lib/libvirt/images/vm{vm}.img\" bus=\"virtio-scsi\" iothread=1\n    hyperv vendor-id=\"kvm hyperv\"\n    hide-kvm\n}}",
            vm * 2,
            vm * 2 + 1
        );
    }
    (host, spec)
}

/// Everything `passplan plan` does, from text to `Plan`.
fn plan(root: &Path, spec: &str) -> passplan::plan::Plan {
    let (decoded, diags) = passplan::spec::parse(spec);
    let decoded = decoded
        .unwrap_or_else(|| panic!("{:?}", diags.iter().map(|d| &d.message).collect::<Vec<_>>()));
    let host = passplan::host::discover(root).expect("discover");
    let (checked, found) = passplan::check::check(decoded, host);
    let checked = checked
        .unwrap_or_else(|| panic!("{:?}", found.iter().map(|d| &d.message).collect::<Vec<_>>()));
    let desired = passplan::compile::compile(
        &checked,
        &SpecSource {
            name: "host.kdl".into(),
            text: spec.into(),
            dir: None,
        },
    )
    .expect("compile");
    let sys = RealSystem::new(root);
    let observed = passplan::plan::observe(&sys, &desired, State::load(&sys).expect("state"))
        .expect("observe");
    passplan::plan::plan(&desired, &observed, &checked.host)
}

fn benches(c: &mut Criterion) {
    let workstation_spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/workstation/host.kdl"
    ))
    .expect("example spec");
    let workstation_root = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/workstation/root"
    ));
    let (large_host, large_spec) = large();
    let large_root = support::write_seed(&large_host);
    // The generated host must be a valid one, or the benchmark measures an error path.
    assert!(plan(large_root.path(), &large_spec).has_changes());

    let mut group = c.benchmark_group("plan");
    group.sample_size(20);
    group.bench_function("workstation", |b| {
        b.iter(|| black_box(plan(workstation_root, &workstation_spec)));
    });
    group.bench_function("large", |b| {
        b.iter(|| black_box(plan(large_root.path(), &large_spec)));
    });
    group.finish();

    let mut group = c.benchmark_group("discover");
    group.sample_size(20);
    group.bench_function("workstation", |b| {
        b.iter(|| black_box(passplan::host::discover(workstation_root).expect("discover")));
    });
    group.bench_function("large", |b| {
        b.iter(|| black_box(passplan::host::discover(large_root.path()).expect("discover")));
    });
    group.finish();

    // `passplan host` on a hostile tree: the workstation with a 16 KB `cpu/online` and 16 KB
    // sibling lists of overlapping ranges (once 50 s and 780 MB; the issue asks for well
    // under a second).
    let hostile_root = support::write_seed(&support::workstation());
    let pathological = "0-16383,".repeat(2048);
    assert_eq!(pathological.len(), 16 * 1024);
    let cpu_dir = hostile_root.path().join("sys/devices/system/cpu");
    std::fs::write(cpu_dir.join("online"), &pathological).expect("write cpu/online");
    for entry in std::fs::read_dir(&cpu_dir).expect("cpu dir").flatten() {
        let topology = entry.path().join("topology");
        if topology.is_dir() {
            std::fs::write(topology.join("core_cpus_list"), &pathological).expect("siblings");
        }
    }
    let mut group = c.benchmark_group("host");
    group.sample_size(20);
    group.bench_function("pathological-cpu-lists", |b| {
        b.iter(|| {
            let facts = passplan::host::discover(hostile_root.path()).expect("discover");
            let mut out = Vec::new();
            passplan::host::render::human(&facts, &mut out).expect("render");
            black_box(out)
        });
    });
    group.finish();

    let (decoded, _) = passplan::spec::parse(&large_spec);
    let decoded = decoded.expect("large spec");
    let facts = passplan::host::discover(large_root.path()).expect("discover");
    let mut group = c.benchmark_group("placement");
    group.sample_size(20);
    group.bench_function("large", |b| {
        b.iter(|| black_box(passplan::check::placements(&decoded, &facts)));
    });
    group.finish();

    let mut group = c.benchmark_group("check+compile");
    group.sample_size(20);
    group.bench_function("large", |b| {
        b.iter(|| {
            let (checked, _) = passplan::check::check(decoded.clone(), facts.clone());
            let checked = checked.expect("checks");
            black_box(
                passplan::compile::compile(
                    &checked,
                    &SpecSource {
                        name: "host.kdl".into(),
                        text: large_spec.clone(),
                        dir: None,
                    },
                )
                .expect("compile"),
            )
        });
    });
    group.finish();
}

criterion_group!(pipeline, benches);
criterion_main!(pipeline);
