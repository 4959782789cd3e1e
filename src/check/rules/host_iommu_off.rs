//! ## What it does
//! Notices a host whose IOMMU is off (no `/sys/kernel/iommu_groups`). The checks that need
//! IOMMU groups are reported as pending; when the spec does not turn the IOMMU on, it is an
//! error.
//!
//! ## Why
//! Passthrough needs the IOMMU. Until it is on, the kernel publishes no groups, so whether a
//! device can be passed alone cannot be known. The IOMMU flag takes effect only after a reboot.
//!
//! ## Example
//! ```kdl
//! host { boot { iommu mode="pt" } }
//! ```
//! On an Intel host booted without `intel_iommu=on`: a notice that group checks wait for the
//! reboot after `passplan apply`. On AMD the IOMMU is on by default when the firmware enables
//! it: no groups there means AMD-Vi / IOMMU is off in the firmware setup.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::host::CpuVendor;

pub(super) const CODE: Code = Code("host/iommu-off");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    if cx.host.iommu_enabled() {
        return;
    }
    let passed: Vec<&str> = cx
        .spec
        .devices
        .iter()
        .filter(|d| d.is_guest())
        .map(|d| d.name.value.as_str())
        .collect();
    if passed.is_empty() {
        return;
    }
    let pending = format!(
        "pending until the IOMMU is on: group checks for {}",
        passed.join(", ")
    );
    let firmware_hint = match cx.host.cpu.vendor {
        CpuVendor::Amd => {
            "the AMD IOMMU is on by default when the firmware enables it: turn on AMD-Vi / IOMMU in the firmware setup"
        }
        _ => "turn on VT-d in the firmware setup too",
    };
    match &cx.spec.host.boot.iommu {
        Some(iommu) => out.push(
            Diagnostic::notice(CODE, format!("the IOMMU is not on yet; {pending}"))
                .at(iommu.span, "takes effect after a reboot")
                .host("/sys/kernel/iommu_groups is empty")
                .help(format!("run `passplan apply`, reboot, and check again; if groups still do not appear, {firmware_hint}")),
        ),
        None => {
            let dev = cx.spec.devices.iter().find(|d| d.is_guest()).map_or(cx.spec.vms.first().map(|v| v.name.span), |d| Some(d.name.span));
            let mut d = Diagnostic::error(CODE, format!("passthrough needs the IOMMU, which is off and not turned on by the spec; {pending}"))
                .host("/sys/kernel/iommu_groups is empty")
                .help(format!("add `iommu mode=\"on\"` (or \"pt\") to `host {{ boot {{ … }} }}`; {firmware_hint}"));
            if let Some(span) = dev {
                d = d.at(span, "needs the IOMMU");
            }
            out.push(d);
        }
    }
}
