//! ## What it does
//! Warns when a VM asks for a cpufreq governor the host does not offer, or the host has no
//! cpufreq at all.
//!
//! ## Why
//! The prepare hook writes the governor to every CPU's `scaling_governor`; an unknown one is
//! rejected by the kernel and the hook would fail the VM's start.
//!
//! ## Example
//! ```kdl
//! governor "ondemand"
//! ```
//! on an `amd-pstate-epp` host, which offers only `performance` and `powersave`.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};

pub(super) const CODE: Code = Code("cpu/governor-unavailable");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for vm in &cx.spec.vms {
        let Some(governor) = &vm.cpu.governor else {
            continue;
        };
        match &cx.host.cpufreq {
            None => out.push(
                Diagnostic::warning(
                    CODE,
                    "this host has no cpufreq, so the governor cannot be set",
                )
                .at(governor.span, "no cpufreq")
                .host("/sys/devices/system/cpu/cpu0/cpufreq does not exist")
                .help("remove `governor`"),
            ),
            Some(freq) if !freq.available.iter().any(|g| g == &governor.value) => out.push(
                Diagnostic::warning(
                    CODE,
                    format!("the host does not offer the `{}` governor", governor.value),
                )
                .at(governor.span, "not available")
                .host(format!("available governors: {}", freq.available.join(" ")))
                .help("choose one of the available governors"),
            ),
            Some(_) => {}
        }
    }
}
