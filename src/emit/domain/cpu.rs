//! `<vcpu>`/`<cputune>` (vCPU, emulator and I/O-thread pinning) and `<cpu>` (mode, topology,
//! cache, vendor-specific features).

use super::xml::Xml;
use crate::check::Context;
use crate::host::CpuVendor;
use crate::pinning::NumaCell;
use crate::spec::{Accel, Pin, Vm};

pub(super) fn cpu_tuning(x: &mut Xml, vm: &Vm, cx: &Context<'_>) {
    let cpu = &vm.cpu;
    x.text(
        "vcpu",
        &[("placement", "static")],
        &cpu.vcpus.value.to_string(),
    );
    let iothreads = cpu.iothreads.as_ref().filter(|i| i.count.value > 0);
    if let Some(io) = iothreads {
        x.text("iothreads", &[], &io.count.value.to_string());
    }
    let pins = cx.vm_pins(vm);
    // Where the spec does not place the emulator and I/O threads, an automatic placement does.
    let auto = cx
        .placement(vm)
        .and_then(|p| p.as_ref().ok())
        .filter(|_| matches!(cpu.pin.as_ref().map(|p| &p.value), Some(Pin::Auto { .. })));
    let emulator = cpu
        .emulator
        .as_ref()
        .map(|e| e.value.clone())
        .or_else(|| auto.map(|p| p.emulator.clone()).filter(|e| !e.is_empty()));
    let iothread_cpus = iothreads.and_then(|io| {
        io.cpus
            .as_ref()
            .map(|c| c.value.clone())
            .or_else(|| auto.map(|p| p.iothreads.clone()).filter(|s| !s.is_empty()))
            .map(|c| (io.count.value, c))
    });
    if pins.is_none() && emulator.is_none() && iothread_cpus.is_none() {
        return;
    }
    x.open("cputune", &[], |x| {
        for (vcpu, host) in pins.iter().flatten().enumerate() {
            x.empty(
                "vcpupin",
                &[("vcpu", &vcpu.to_string()), ("cpuset", &host.to_string())],
            );
        }
        if let Some(set) = &emulator {
            x.empty("emulatorpin", &[("cpuset", &set.to_string())]);
        }
        // One set for all I/O threads: the spec gives them a pool, not one CPU each.
        if let Some((count, set)) = iothread_cpus {
            let set = set.to_string();
            for id in 1..=count {
                x.empty(
                    "iothreadpin",
                    &[("iothread", &id.to_string()), ("cpuset", &set)],
                );
            }
        }
    });
}

pub(super) fn cpu(x: &mut Xml, vm: &Vm, cx: &Context<'_>) {
    let c = &vm.cpu;
    let auto = cx
        .placement(vm)
        .and_then(|p| p.as_ref().ok())
        .filter(|_| matches!(c.pin.as_ref().map(|p| &p.value), Some(Pin::Auto { .. })));
    let (sockets, cores, threads) = match auto {
        // An automatic placement chose whole host cores; the guest sees them as they are.
        Some(p) => (p.topology.sockets, p.topology.cores, p.topology.threads),
        None => {
            let sockets = c.sockets.value.max(1);
            let threads = c.threads.value.max(1);
            // The checker (`cpu/vcpu-count`) guarantees vcpus = sockets × cores × threads.
            (
                sockets,
                (c.vcpus.value / (sockets * threads)).max(1),
                threads,
            )
        }
    };
    let topology = [
        ("sockets", sockets.to_string()),
        ("cores", cores.to_string()),
        ("threads", threads.to_string()),
    ];
    let topology: Vec<(&str, &str)> = topology.iter().map(|(k, v)| (*k, v.as_str())).collect();
    if vm.accel.value == Accel::Tcg {
        // TCG cannot pass the host CPU through; qemu64 is the model every QEMU emulates.
        x.open(
            "cpu",
            &[("mode", "custom"), ("match", "exact"), ("check", "none")],
            |x| {
                x.text("model", &[("fallback", "forbid")], "qemu64");
                x.empty("topology", &topology);
                if let Some(p) = auto.filter(|p| !p.cells.is_empty()) {
                    numa_cells(x, vm, cx, &p.cells);
                }
            },
        );
        return;
    }
    let cache_passthrough = auto.is_none_or(|p| p.cache_passthrough);
    x.open(
        "cpu",
        &[
            ("mode", "host-passthrough"),
            ("check", "none"),
            ("migratable", "on"),
        ],
        |x| {
            x.empty("topology", &topology);
            if cache_passthrough {
                x.empty("cache", &[("mode", "passthrough")]);
            }
            // Without topoext an AMD guest sees no SMT and schedules threads as whole cores.
            if cx.host.cpu.vendor == CpuVendor::Amd {
                x.empty("feature", &[("policy", "require"), ("name", "topoext")]);
            }
            if let Some(p) = auto.filter(|p| !p.cells.is_empty()) {
                numa_cells(x, vm, cx, &p.cells);
            }
        },
    );
}

/// `<numa>`: one guest cell per host node an automatic placement spans, so the guest knows
/// which of its CPUs are near which memory (`<numatune>` binds each cell to its node).
fn numa_cells(x: &mut Xml, vm: &Vm, cx: &Context<'_>, cells: &[NumaCell]) {
    let memory = super::memory::cell_memory_kib(vm, cx, cells);
    x.open("numa", &[], |x| {
        for (id, (cell, kib)) in cells.iter().zip(memory).enumerate() {
            x.empty(
                "cell",
                &[
                    ("id", &id.to_string()),
                    ("cpus", &cell.vcpus.to_string()),
                    ("memory", &kib.to_string()),
                    ("unit", "KiB"),
                ],
            );
        }
    });
}
