//! ## What it does
//! Warns when an explicit pin list takes one SMT sibling of a physical core but leaves the
//! other to the host.
//!
//! ## Why
//! Siblings share a core's execution units and caches. A guest thread sharing a core with host
//! work stutters whenever the host is busy — the very thing pinning is meant to prevent. Pin
//! whole cores (`pin cores="…"` adds the siblings for you).
//!
//! ## Example
//! ```kdl
//! pin cpus="6,7,8,9"   // on a 3900X, 6's sibling is 18
//! ```
//! Write `pin cores="6-7"` (CPUs 6,18,7,19) instead.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::CpuSet;

pub(super) const CODE: Code = Code("cpu/core-split");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
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
