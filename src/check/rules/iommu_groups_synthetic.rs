//! ## What it does
//! Warns once when the running kernel carries the ACS override (`pcie_acs_override=` on
//! `/proc/cmdline`): every IOMMU group `check` relies on is then synthetic. Also warns when the
//! configured command line carries it but the spec does not ask for it. The suggested fix keeps
//! every value the host has (`downstream,multifunction`).
//!
//! ## Why
//! The out-of-tree ACS override patch makes the kernel split IOMMU groups by assertion, not by
//! the hardware: two devices in "different" groups may still reach each other by peer-to-peer
//! DMA. Every "isolated" verdict on such a host is the kernel's word, not the hardware's, and a
//! spec that does not say so would drop the parameter (and the groups it relies on) silently.
//!
//! ## Example
//! A Proxmox host booted with `pcie_acs_override=downstream,multifunction`, where every
//! function of the Cezanne iGPU sits alone in a group. State it in the spec so the plan keeps
//! it, knowing the risk:
//! ```kdl
//! host { boot { acs-override "downstream" "multifunction" } }
//! ```

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::host::KernelCmdline;

pub(super) const CODE: Code = Code("iommu/groups-synthetic");

/// The value of `pcie_acs_override=` on a command line (empty for a bare flag).
fn acs_value(cmdline: &KernelCmdline) -> Option<String> {
    cmdline
        .values("pcie_acs_override")
        .next()
        .map(|v| v.unwrap_or_default().to_owned())
}

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    let spec = cx.spec.host.boot.acs_override.as_ref();
    // The spec's own ACS override, else its IOMMU setting: what the finding is about.
    let span = spec
        .map(|s| s.span)
        .or_else(|| cx.spec.host.boot.iommu.as_ref().map(|i| i.span));
    if let Some(value) = acs_value(&cx.host.cmdline) {
        let help = if spec.is_some() {
            "nothing to do if you accept the risk; prefer a slot with its own group, and remove the override when nothing needs it".to_owned()
        } else {
            format!(
                "to keep it, state it in the spec (knowing the risk): {}; or remove it from the command line and pass whole IOMMU groups",
                cx.acs_override_fix()
            )
        };
        let mut d = Diagnostic::warning(
            CODE,
            format!(
                "every IOMMU group is synthetic: the running kernel has pcie_acs_override={value}"
            ),
        )
        .host("/proc/cmdline carries pcie_acs_override: the kernel splits groups by assertion, not by the hardware, and devices in different groups may still reach each other")
        .help(help);
        if let Some(span) = span {
            d = d.at(span, "IOMMU groups relied on here");
        }
        out.push(d);
        return;
    }
    if spec.is_some() {
        return;
    }
    if let Some(value) = cx.host.boot.configured_cmdline.as_ref().and_then(acs_value) {
        out.push(
            Diagnostic::warning(
                CODE,
                format!("the configured command line has pcie_acs_override={value}, but the spec does not ask for it"),
            )
            .host("found in the configured command line (the next boot)")
            .help(format!(
                "remove it, or state it in the spec (knowing the risk): {}",
                cx.acs_override_fix()
            )),
        );
    }
}
