//! ## What it does
//! Reports an explicit pin list (`pin cpus="…"`) that names the same host CPU twice.
//!
//! ## Why
//! Two vCPUs on one host thread halve each other's speed, and another CPU meant for the guest
//! goes unused. Real configurations have this bug (vCPU 1 and 11 both on CPU 20, CPU 25 unused).
//!
//! ## Example
//! ```kdl
//! pin cpus="4,20,5,21,6,22,7,23,8,24,9,20"
//! ```
//! The last one was meant to be 25.

use std::collections::BTreeSet;

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::spec::Pin;

pub(super) const CODE: Code = Code("cpu/pin-duplicate");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for vm in &cx.spec.vms {
        let Some(pin) = &vm.cpu.pin else { continue };
        let Pin::Cpus(list) = &pin.value else {
            continue;
        };
        let mut seen = BTreeSet::new();
        let dups: BTreeSet<u32> = list.iter().copied().filter(|c| !seen.insert(*c)).collect();
        if dups.is_empty() {
            continue;
        }
        let dups: Vec<String> = dups.iter().map(u32::to_string).collect();
        out.push(
            Diagnostic::error(
                CODE,
                format!("CPU {} is pinned to more than one vCPU", dups.join(", ")),
            )
            .at(pin.span, "repeated CPU")
            .help("give each vCPU its own host CPU"),
        );
    }
}
