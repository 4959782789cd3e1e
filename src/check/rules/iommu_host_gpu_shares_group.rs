//! ## What it does
//! Reports a host GPU (`role "host"`) in the same IOMMU group as a device given to a guest.
//!
//! ## Why
//! A group goes to a guest whole, so the host would lose its display when the VM starts — or
//! the VM cannot start at all. This is the situation of the seed tutorial's first listing,
//! where both GPUs sat in group 30.
//!
//! ## Example
//! ```kdl
//! gpu "rx5700" { pci "0c:00.0"; role "host" }
//! gpu "rtx3080" { pci "0d:00.0"; role "guest" }
//! ```
//! with both in group 30: move one card to another slot (check `passplan host` after), or,
//! knowing the risk, ask for the ACS override.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::spec::GpuRole;

pub(super) const CODE: Code = Code("iommu/host-gpu-shares-group");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    if !cx.host.iommu_enabled() {
        return;
    }
    for host_gpu in cx
        .spec
        .devices
        .iter()
        .filter(|d| d.role.as_ref().is_some_and(|r| r.value == GpuRole::Host))
    {
        let Some(group) = cx.host_device(host_gpu).and_then(|d| d.iommu_group) else {
            continue;
        };
        for vm in &cx.spec.vms {
            for (reference, device) in cx.vm_devices(vm) {
                if device.name.value == host_gpu.name.value {
                    continue;
                }
                if cx.host_device(device).and_then(|d| d.iommu_group) == Some(group) {
                    out.push(
                        Diagnostic::error(CODE, format!("host GPU `{}` shares IOMMU group {group} with `{}`, which VM `{}` is given", host_gpu.name.value, device.name.value, vm.name.value))
                            .at(reference.span, format!("group {group}"))
                            .host(format!("{}; {}", cx.describe(host_gpu.pci.value), cx.describe(device.pci.value)))
                            .help(format!("move one of the cards to another slot so each has its own group; or, accepting weaker isolation, {}", cx.acs_override_fix())),
                    );
                }
            }
        }
    }
}
