//! ## What it does
//! Reports an IOMMU group given to a VM incompletely: another endpoint in the group of any
//! function the VM takes is not given to the same VM. PCI bridges and root ports are excepted (since Linux 5.19 they do not
//! block a group). It names the other devices and the ways out.
//!
//! ## Why
//! The IOMMU isolates groups, not devices. QEMU refuses a group whose other endpoints are still
//! bound to host drivers ("group N is not viable"), and handing a guest half a group would let
//! it reach the other half by DMA.
//!
//! ## Example
//! ```kdl
//! vm "win10" { passthrough "rtx3080" }
//! ```
//! where group 13 also holds the chipset USB controller `00:14.0`. Fixes: pass the other
//! devices too (declare them with `device` and add them to `passthrough`); move the card to a
//! slot with its own group (usually the CPU-attached x16 slot); or, knowing the risk, ask for
//! the ACS override (`boot { acs-override "downstream" }`), which makes the kernel pretend the
//! devices are isolated.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::spec::GpuRole;

pub(super) const CODE: Code = Code("iommu/group-incomplete");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    if !cx.host.iommu_enabled() {
        return;
    }
    for vm in &cx.spec.vms {
        let taken = cx.vm_functions(vm);
        let mut reported_groups = Vec::new();
        // Every group a device touches: a Navi card's audio, or functions named by `functions`,
        // may sit in a group of their own.
        let touched = cx.vm_devices(vm).flat_map(|(reference, device)| {
            let mut groups: Vec<u32> = cx
                .device_functions(device)
                .iter()
                .filter_map(|a| cx.host.pci.get(a).and_then(|d| d.iommu_group))
                .collect();
            groups.dedup();
            groups.into_iter().map(move |g| (reference, g))
        });
        for (reference, group) in touched {
            if reported_groups.contains(&group) {
                continue;
            }
            let missing: Vec<_> = cx
                .host
                .iommu_groups
                .get(&group)
                .into_iter()
                .flatten()
                .copied()
                .filter(|a| {
                    let Some(d) = cx.host.pci.get(a) else {
                        return false;
                    };
                    // Host GPUs in the group are iommu/host-gpu-shares-group's finding.
                    let host_gpu = cx.declared_at(*a).is_some_and(|dev| {
                        dev.role.as_ref().is_some_and(|r| r.value == GpuRole::Host)
                    });
                    !taken.contains(a) && !d.is_bridge() && !host_gpu
                })
                .collect();
            if missing.is_empty() {
                continue;
            }
            reported_groups.push(group);
            let list: Vec<String> = missing.iter().map(|a| cx.describe(*a)).collect();
            let names: Vec<String> = missing
                .iter()
                .map(crate::model::PciAddress::short)
                .collect();
            out.push(
                Diagnostic::error(CODE, format!("IOMMU group {group} is given to `{}` only in part: {} {} with the host", vm.name.value, names.join(", "), if names.len() == 1 { "stays" } else { "stay" }))
                    .at(reference.span, format!("group {group}"))
                    .host(list.join("; "))
                    .help(format!("pass them too (declare each with `device` and add it to `passthrough`); or move the card to a slot with its own group; or, accepting weaker isolation, {}", cx.acs_override_fix())),
            );
        }
    }
}
