//! The kernel command-line tokens passplan owns, computed from the checked spec and host into
//! [`Desired::kernel_tokens`]. Which file carries them is the loader editors' business
//! ([`super::loader`]); this module only decides *what* goes on the command line, in a fixed
//! order: IOMMU, vfio-pci ids, hugepages, CPU isolation, ACS override, then the spec's own
//! `param`s.

use std::collections::BTreeMap;

use crate::check::Context;
use crate::desired::{CompileError, Desired, Input};
use crate::host::{CmdlineToken, CpuVendor, HostFacts, KernelCmdline, VfioPci};
use crate::model::{ByteSize, CpuSet};
use crate::spec::{HugepageMode, IommuMode, Isolation};

/// Compute the kernel tokens and note what was chosen.
pub fn emit(input: &Input<'_>, out: &mut Desired) -> Result<(), CompileError> {
    let cx = input.checked.context();
    let mut tokens = Vec::new();
    iommu(&cx, &mut tokens, &mut out.notes);
    vfio_ids(&cx, &mut tokens, &mut out.notes);
    hugepages(&cx, &mut tokens, &mut out.notes);
    isolation(&cx, &mut tokens, &mut out.notes);
    let boot = &cx.spec.host.boot;
    if let Some(acs) = &boot.acs_override {
        tokens.push(token("pcie_acs_override", Some(acs.value.join(","))));
        out.notes.push(
            "pcie_acs_override= splits IOMMU groups by assertion, not by hardware: devices in one \
             real group can then reach each other's memory (and it works only on kernels with the \
             out-of-tree ACS patch)"
                .to_owned(),
        );
    }
    for param in &boot.params {
        tokens.extend(KernelCmdline::parse(&param.value).tokens);
    }
    out.kernel_tokens.extend(tokens);
    Ok(())
}

fn token(key: &str, value: Option<String>) -> CmdlineToken {
    CmdlineToken {
        key: key.to_owned(),
        value,
    }
}

/// `intel_iommu=on` on Intel; nothing on AMD, whose IOMMU is on by default (`amd_iommu=on` is
/// not a valid value — FACTS §1); `iommu=pt` for passthrough mode on either.
fn iommu(cx: &Context<'_>, tokens: &mut Vec<CmdlineToken>, notes: &mut Vec<String>) {
    let Some(mode) = &cx.spec.host.boot.iommu else {
        return;
    };
    match cx.host.cpu.vendor {
        CpuVendor::Intel => tokens.push(token("intel_iommu", Some("on".into()))),
        CpuVendor::Amd => notes.push(
            "the AMD IOMMU is on by default when the firmware enables it: no amd_iommu= token \
             (amd_iommu=on is not a valid value)"
                .to_owned(),
        ),
        CpuVendor::Unknown => notes.push(
            "the CPU vendor is unknown: no IOMMU enable flag is added to the kernel command line"
                .to_owned(),
        ),
    }
    if mode.value == IommuMode::Passthrough {
        tokens.push(token("iommu", Some("pt".into())));
    }
    if invalid_amd_iommu(cx.host) {
        notes.push(
            "amd_iommu=on is not a valid value (the kernel ignores it): the spec declares the \
             IOMMU, so passplan owns the IOMMU parameters and removes it"
                .to_owned(),
        );
    }
}

/// Whether the configured command line (else the running one) carries `amd_iommu=` only with
/// the invalid value `on` (FACTS §1): passplan removes it when the spec declares the IOMMU.
pub(crate) fn invalid_amd_iommu(host: &HostFacts) -> bool {
    let cmdline = host
        .boot
        .configured_cmdline
        .as_ref()
        .unwrap_or(&host.cmdline);
    let mut values = cmdline.values("amd_iommu").peekable();
    values.peek().is_some() && values.all(|v| v == Some("on"))
}

/// `vfio-pci.ids=` for devices bound at boot by id, when vfio-pci is built into the kernel
/// (a module takes its ids from modprobe.d instead, which another emitter writes). Which devices
/// go by id is `emit::binding::boot_binding`'s decision, shared with the modprobe and initramfs
/// emitters and the same test as the `binding/ids-ambiguous` rule.
fn vfio_ids(cx: &Context<'_>, tokens: &mut Vec<CmdlineToken>, notes: &mut Vec<String>) {
    let ids = crate::emit::binding::boot_binding(cx).ids;
    if ids.is_empty() {
        return;
    }
    let list: Vec<String> = ids.iter().map(ToString::to_string).collect();
    match cx.host.vfio_pci {
        VfioPci::BuiltIn => {
            tokens.push(token("vfio-pci.ids", Some(list.join(","))));
            notes.push(
                "vfio-pci is built into this kernel: vfio-pci.ids goes on the kernel command line"
                    .to_owned(),
            );
        }
        VfioPci::Module | VfioPci::Unknown => notes.push(format!(
            "vfio-pci is a module here: its ids ({}) go to modprobe.d, not the kernel command line",
            list.join(",")
        )),
    }
}

/// The kernel's spelling of a page size: `2M`, `1G` (`memparse` suffixes).
fn kernel_size(size: ByteSize) -> String {
    const K: u64 = 1024;
    for (unit, mult) in [("G", K * K * K), ("M", K * K), ("K", K)] {
        if size.0 >= mult && size.0.is_multiple_of(mult) {
            return format!("{}{unit}", size.0 / mult);
        }
    }
    size.0.to_string()
}

/// Boot-time hugepages: every VM with `hugepages="static"` needs its memory in pages of its
/// size, plus the spec's extra `boot { hugepages }`; one `hugepagesz= hugepages=` pair per
/// size, ascending, and the largest size as the default (the one `hugetlbfs` mounts get).
fn hugepages(cx: &Context<'_>, tokens: &mut Vec<CmdlineToken>, notes: &mut Vec<String>) {
    let mut pages: BTreeMap<ByteSize, u64> = BTreeMap::new();
    for vm in cx
        .spec
        .vms
        .iter()
        .filter(|vm| vm.memory.hugepages.value == HugepageMode::Static)
    {
        let Some(size) = cx.page_size(vm).filter(|s| s.0 > 0) else {
            continue;
        };
        *pages.entry(size).or_default() += vm.memory.size.value.0.div_ceil(size.0);
    }
    let static_vms = !pages.is_empty();
    if let Some(extra) = &cx.spec.host.boot.hugepages {
        *pages.entry(extra.size.value).or_default() += extra.count.value;
    }
    let Some(largest) = pages.keys().next_back().copied() else {
        return;
    };
    tokens.push(token("default_hugepagesz", Some(kernel_size(largest))));
    for (size, count) in &pages {
        tokens.push(token("hugepagesz", Some(kernel_size(*size))));
        tokens.push(token("hugepages", Some(count.to_string())));
    }
    if static_vms {
        notes.push(
            "hugepages are reserved at boot for every VM with hugepages=\"static\" together, so \
             they can all run at once; that memory is not available to the host"
                .to_owned(),
        );
    }
}

/// `isolcpus nohz_full rcu_nocbs` over the pinned CPUs of every VM isolated at boot.
///
/// Plain `isolcpus=<cpus>` (the `domain` flag) rather than `managed_irq,domain,<cpus>`:
/// the `managed_irq` flag exists only since Linux 5.6, and an older kernel rejects the whole
/// parameter on an unknown flag, silently isolating nothing (the seed hosts run 5.3).
fn isolation(cx: &Context<'_>, tokens: &mut Vec<CmdlineToken>, notes: &mut Vec<String>) {
    let mut cpus = CpuSet::new();
    for vm in cx
        .spec
        .vms
        .iter()
        .filter(|vm| vm.cpu.isolate.value == Isolation::Boot)
    {
        match cx.vm_pins(vm) {
            Some(pins) => cpus = cpus.union(&pins.into_iter().collect()),
            None => notes.push(format!(
                "VM `{}` asks for boot isolation but its CPUs are chosen by passplan: nothing is \
                 isolated at boot for it",
                vm.name.value
            )),
        }
    }
    if cpus.is_empty() {
        return;
    }
    let list = cpus.to_string();
    for key in ["isolcpus", "nohz_full", "rcu_nocbs"] {
        tokens.push(token(key, Some(list.clone())));
    }
    notes.push(format!(
        "CPUs {list} are isolated at boot: the host scheduler keeps off them even when no VM runs"
    ));
}

#[cfg(test)]
mod tests {
    use super::kernel_size;
    use crate::model::ByteSize;

    #[test]
    fn sizes_as_the_kernel_spells_them() {
        assert_eq!(kernel_size(ByteSize(2 << 20)), "2M");
        assert_eq!(kernel_size(ByteSize(1 << 30)), "1G");
        assert_eq!(kernel_size(ByteSize(64 << 10)), "64K");
        assert_eq!(kernel_size(ByteSize(3 << 29)), "1536M");
    }
}
