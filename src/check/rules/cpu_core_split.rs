//! ## What it does
//! Warns when an explicit pin list takes one SMT sibling of a physical core but leaves the
//! other to the host — and, for a guest with `threads=2` or more, when the vCPUs the guest sees
//! as one core (vCPUs `2k` and `2k+1`) are pinned to CPUs of different host cores.
//!
//! ## Why
//! Siblings share a core's execution units and caches. A guest thread sharing a core with host
//! work stutters whenever the host is busy — the very thing pinning is meant to prevent. Pin
//! whole cores (`pin cores="…"` adds the siblings for you). A guest told that two vCPUs are
//! siblings schedules them as one core's threads; if they are really two host cores, its
//! scheduler packs work onto what it thinks is one core and leaves real cores idle.
//!
//! ## Example
//! ```kdl
//! pin cpus="6,7,8,9"   // on a 3900X, 6's sibling is 18
//! ```
//! Write `pin cores="6-7"` (CPUs 6,18,7,19) instead. On a 4-core, 8-thread host whose siblings
//! are 0/4, 1/5, 2/6, 3/7:
//! ```kdl
//! cpu { vcpus 6 threads=2; pin cpus="1,2,3,5,6,7" }   // guest core 0 = CPUs 1 and 2
//! ```
//! Write `pin cpus="1,5,2,6,3,7"`, or `pin cores="1-3"`.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::CpuSet;
use crate::spec::{Pin, Vm};

pub(super) const CODE: Code = Code("cpu/core-split");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for vm in &cx.spec.vms {
        guest_siblings(cx, vm, out);
    }
    for vm in &cx.spec.vms {
        let (Some(pins), Some(pin)) = (cx.vm_pins(vm), &vm.cpu.pin) else {
            continue;
        };
        let pinned: CpuSet = pins.into_iter().collect();
        let mut split = Vec::new();
        for cpu in pinned.iter() {
            let Some(c) = cx.host.cpu(cpu) else { continue };
            let left = c.siblings.difference(&pinned);
            if !left.is_empty() && !split.iter().any(|(_, s): &(u32, CpuSet)| s.contains(cpu)) {
                split.push((cpu, c.siblings.clone()));
            }
        }
        if split.is_empty() {
            continue;
        }
        let facts: Vec<String> = split
            .iter()
            .map(|(cpu, sib)| {
                format!(
                    "CPU {cpu} shares a core with {}",
                    sib.difference(&[*cpu].into_iter().collect())
                )
            })
            .collect();
        out.push(
            Diagnostic::warning(
                CODE,
                format!(
                    "{} physical core(s) are split between VM `{}` and the host",
                    split.len(),
                    vm.name.value
                ),
            )
            .at(pin.span, "splits cores")
            .host(facts.join("; "))
            .help("pin whole cores: pin cores=\"…\" adds each core's siblings"),
        );
    }
}

/// An explicit CPU list with `threads` ≥ 2: each group of `threads` consecutive vCPUs is one
/// guest core and must sit on one host core.
fn guest_siblings(cx: &Context<'_>, vm: &Vm, out: &mut Diagnostics) {
    let Some(pin) = &vm.cpu.pin else { return };
    let Pin::Cpus(list) = &pin.value else { return };
    let threads = usize::try_from(vm.cpu.threads.value).unwrap_or(1);
    if threads < 2 {
        return;
    }
    let mut wrong = Vec::new();
    for (k, group) in list.chunks(threads).enumerate() {
        let Some(first) = group.first().and_then(|c| cx.host.cpu(*c)) else {
            continue;
        };
        if group.iter().any(|c| !first.siblings.contains(*c)) {
            let cpus: Vec<String> = group.iter().map(u32::to_string).collect();
            let first_vcpu = k * threads;
            wrong.push(format!(
                "vCPUs {first_vcpu}-{} on CPUs {}",
                first_vcpu + group.len() - 1,
                cpus.join(",")
            ));
        }
    }
    if wrong.is_empty() {
        return;
    }
    out.push(
        Diagnostic::warning(
            CODE,
            format!(
                "VM `{}` is told {} guest core(s) have {threads} threads, but their vCPUs run on different host cores",
                vm.name.value,
                wrong.len()
            ),
        )
        .at(pin.span, "pairs CPUs that are not siblings")
        .host(wrong.join("; "))
        .help("list each host core's siblings one after the other (`passplan host` shows them), or write pin cores=\"…\""),
    );
}
