//! ## What it does
//! Warns when two VMs that may run at the same time have explicit pins on the same host CPUs:
//! the vCPUs of one on the vCPUs, emulator or I/O-thread CPUs of the other. VMs that take a
//! common passed device never run together (libvirt refuses the second), so they may share.
//!
//! ## Why
//! Pinning promises a guest its CPUs. Two guests pinned to one CPU take turns on it, each
//! stalling whenever the other is busy — worse than no pinning at all, and invisible in either
//! domain's XML alone. Emulator threads of several VMs may share the host's housekeeping CPUs;
//! that is what they are for, so that alone is not reported.
//!
//! ## Example
//! ```kdl
//! vm "win"   { cpu { vcpus 4; pin cpus="4-7" }; passthrough "rtx3080" }
//! vm "linux" { cpu { vcpus 4; pin cpus="6-9" }; passthrough "rx6600" }
//! ```
//! Give each VM its own cores, or let `pin policy="auto"` keep them apart.

use crate::check::Context;
use crate::check::together::Together;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::CpuSet;
use crate::spec::{Pin, Vm};

pub(super) const CODE: Code = Code("cpu/shared-pins");

/// A VM's explicit vCPU pins, and its explicit emulator and I/O-thread CPUs.
fn explicit(cx: &Context<'_>, vm: &Vm) -> (CpuSet, CpuSet) {
    let vcpus = match vm.cpu.pin.as_ref().map(|p| &p.value) {
        Some(Pin::Auto { .. }) | None => CpuSet::new(),
        Some(_) => cx.vm_pins(vm).unwrap_or_default().into_iter().collect(),
    };
    let mut helpers = vm
        .cpu
        .emulator
        .as_ref()
        .map(|e| e.value.clone())
        .unwrap_or_default();
    if let Some(io) = vm.cpu.iothreads.as_ref().and_then(|i| i.cpus.as_ref()) {
        helpers = helpers.union(&io.value);
    }
    (vcpus, helpers)
}

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    let vms = &cx.spec.vms;
    let pins: Vec<(CpuSet, CpuSet)> = vms.iter().map(|vm| explicit(cx, vm)).collect();
    if pins.iter().filter(|(v, _)| !v.is_empty()).count() == 0 {
        return;
    }
    let together = Together::new(cx);
    for b in 0..vms.len() {
        for a in 0..b {
            if !together.may(a, b) {
                continue;
            }
            let (va, ha) = &pins[a];
            let (vb, hb) = &pins[b];
            let shared = va
                .intersection(vb)
                .union(&va.intersection(hb))
                .union(&vb.intersection(ha));
            if shared.is_empty() {
                continue;
            }
            let Some(span) = vms[b]
                .cpu
                .pin
                .as_ref()
                .filter(|_| !vb.is_empty())
                .map(|p| p.span)
                .or_else(|| vms[b].cpu.emulator.as_ref().map(|e| e.span))
                .or_else(|| {
                    vms[b]
                        .cpu
                        .iothreads
                        .as_ref()
                        .and_then(|i| i.cpus.as_ref())
                        .map(|c| c.span)
                })
            else {
                continue;
            };
            out.push(
                Diagnostic::warning(
                    CODE,
                    format!(
                        "VMs `{}` and `{}` are both pinned to CPUs {shared}",
                        vms[a].name.value, vms[b].name.value
                    ),
                )
                .at(span, format!("also used by `{}`", vms[a].name.value))
                .host(format!(
                    "`{}`: {}; `{}`: {}; they share no passed device, so both may run at once",
                    vms[a].name.value,
                    uses(va, ha),
                    vms[b].name.value,
                    uses(vb, hb)
                ))
                .help("give each VM its own cores, or let pin policy=\"auto\" keep them apart"),
            );
        }
    }
}

/// `vCPUs on 4-7, emulator/I/O threads on 0-1`.
fn uses(vcpus: &CpuSet, helpers: &CpuSet) -> String {
    let mut parts = Vec::new();
    if !vcpus.is_empty() {
        parts.push(format!("vCPUs on {vcpus}"));
    }
    if !helpers.is_empty() {
        parts.push(format!("emulator/I/O threads on {helpers}"));
    }
    parts.join(", ")
}
