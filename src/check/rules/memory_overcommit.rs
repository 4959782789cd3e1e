//! ## What it does
//! Compares the memory of the VMs that may run at the same time (normal pages or dynamic
//! hugepages) with what the host can give: above `MemTotal` less the host's share (what static
//! hugepages take, and at least 2 GiB or an eighth of the memory for the host itself) it is an
//! error; above the `MemAvailable` seen now, a warning. VMs that take a common passed device
//! never run together, so only the largest set that can is counted.
//!
//! ## Why
//! QEMU allocates guest memory as the guest touches it. A guest larger than the host's free
//! memory starts fine, then pushes the host into swap or wakes the OOM killer when it boots its
//! desktop — which kills the largest process: the VM, or the host's session. Dynamic hugepages
//! fail earlier: the prepare hook cannot find enough contiguous memory, and the VM does not
//! start.
//!
//! ## Example
//! On a 16 GiB host:
//! ```kdl
//! vm "win"   { memory "12GiB" }
//! vm "linux" { memory "8GiB" }
//! ```
//! Give the VMs less memory, or make them share a device so they never run together.

use crate::check::Context;
use crate::check::together::Together;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::ByteSize;
use crate::spec::{HugepageMode, Vm};

pub(super) const CODE: Code = Code("memory/overcommit");

/// What the host keeps for itself: 2 GiB or an eighth of its memory, whichever is larger (the
/// same share `memory/static-too-large` leaves it).
fn host_share(total: u64) -> u64 {
    (2u64 << 30).max(total / 8)
}

/// Memory a VM takes from the pool while it runs (static hugepages are taken at boot).
fn running(vm: &Vm) -> u64 {
    if vm.memory.hugepages.value == HugepageMode::Static {
        0
    } else {
        vm.memory.size.value.0
    }
}

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    let total = cx.host.memory.total.0;
    if total == 0 {
        return;
    }
    let together = Together::new(cx);
    let set = together.heaviest(running);
    let demand: u64 = set.iter().map(|&i| running(&cx.spec.vms[i])).sum();
    if demand == 0 {
        return;
    }
    let mut statics: u64 = cx
        .spec
        .vms
        .iter()
        .filter(|vm| vm.memory.hugepages.value == HugepageMode::Static)
        .map(|vm| vm.memory.size.value.0)
        .sum();
    if let Some(h) = &cx.spec.host.boot.hugepages {
        statics = statics.saturating_add(h.size.value.0.saturating_mul(h.count.value));
    }
    let keep = host_share(total);
    let limit = total.saturating_sub(statics).saturating_sub(keep);
    let names: Vec<String> = set
        .iter()
        .map(|&i| {
            let vm = &cx.spec.vms[i];
            format!("`{}` {}", vm.name.value, vm.memory.size.value.0.human())
        })
        .collect();
    let who = if set.len() == 1 {
        format!("VM {}", names.join(""))
    } else {
        format!("VMs {} (they may run together)", names.join(" + "))
    };
    // The finding points at the largest VM of the set, the one most worth shrinking.
    let Some(largest) = set
        .iter()
        .map(|&i| &cx.spec.vms[i])
        .max_by_key(|vm| (running(vm), std::cmp::Reverse(vm.span.offset())))
    else {
        return;
    };
    let statics_text = if statics > 0 {
        format!(", static hugepages take {}", statics.human())
    } else {
        String::new()
    };
    if demand > limit {
        out.push(
            Diagnostic::error(
                CODE,
                format!(
                    "{who} need {} of memory; the host can give {} at most",
                    demand.human(),
                    limit.human()
                ),
            )
            .at(largest.memory.size.span, "more than the host has")
            .host(format!(
                "MemTotal is {}{statics_text}, the host keeps {}",
                total.human(),
                keep.human()
            ))
            .help("give the VMs less memory, or make VMs that cannot all fit share a device so they never run together"),
        );
    } else if let Some(available) = cx.host.memory.available.filter(|a| demand > a.0) {
        out.push(
            Diagnostic::warning(
                CODE,
                format!(
                    "{who} need {} of memory, more than the {} available now",
                    demand.human(),
                    available.0.human()
                ),
            )
            .at(largest.memory.size.span, "more than is free")
            .host(format!(
                "MemAvailable is {} of {} MemTotal",
                available.0.human(),
                total.human()
            ))
            .help("close programs before starting the VMs, or give them less memory"),
        );
    }
}

/// Bytes in human units (`3.9 GiB`), never a raw byte count.
trait Human {
    fn human(self) -> String;
}

impl Human for u64 {
    fn human(self) -> String {
        ByteSize(self).approx()
    }
}
