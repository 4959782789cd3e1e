//! ## What it does
//! Warns when a VM's vCPUs are pinned across L3 cache domains (CCXs/CCDs on AMD) although they
//! would fit in one.
//!
//! ## Why
//! Threads on different L3 domains do not share cache; traffic between them crosses the
//! Infinity Fabric. Games are sensitive to exactly this latency. A VM larger than one domain
//! must span several — then the warning does not fire.
//!
//! ## Example
//! A Ryzen 9 3900X has four CCXs of three cores (L3 0-2,12-14 / 3-5,15-17 / …):
//! ```kdl
//! cpu { vcpus 6 threads=2; pin cores="4-6" }   // cores 4,5 on one CCX, 6 on the next
//! ```
//! Write `pin cores="6-8"`, which stays on one CCX.

use std::collections::BTreeSet;

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::CpuSet;
use crate::spec::Pin;

pub(super) const CODE: Code = Code("cpu/cross-l3");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for vm in &cx.spec.vms {
        let (Some(pins), Some(pin)) = (cx.vm_pins(vm), &vm.cpu.pin) else {
            continue;
        };
        if matches!(pin.value, Pin::Auto { .. }) {
            continue; // Automatic placement spans only when it must, and says why.
        }
        let domains: BTreeSet<CpuSet> = pins
            .iter()
            .filter_map(|c| cx.host.cpu(*c).and_then(|c| c.l3.clone()))
            .collect();
        if domains.len() < 2 {
            continue;
        }
        let largest = cx
            .host
            .cpus
            .iter()
            .filter_map(|c| c.l3.as_ref().map(CpuSet::len))
            .max()
            .unwrap_or(0);
        if pins.len() > largest {
            continue; // Cannot fit in one domain anyway.
        }
        let list: Vec<String> = domains.iter().map(|d| format!("L3 {d}")).collect();
        out.push(
            Diagnostic::warning(
                CODE,
                format!(
                    "VM `{}` is pinned across {} L3 cache domains but would fit in one",
                    vm.name.value,
                    domains.len()
                ),
            )
            .at(pin.span, "spans L3 domains")
            .host(list.join("; "))
            .help("pin cores that share one L3 (one CCX/CCD); `passplan host` shows the domains"),
        );
    }
}
