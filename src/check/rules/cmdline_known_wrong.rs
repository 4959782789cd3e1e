//! ## What it does
//! Warns about kernel parameters in the host's current configuration (the running kernel's
//! `/proc/cmdline` and the loader's configured command line) that are known to be wrong:
//! `amd_iommu=on` (not a valid value), the other vendor's IOMMU flag, typos of the isolation
//! parameters (`rcb_nocbs`), and several `vfio-pci.ids=` tokens (only one wins). On an Intel
//! CPU, `amd_iommu=…` and `kvm_amd.*` are the other vendor's parameters. (An ACS override is
//! `iommu/groups-synthetic`'s finding.)
//!
//! ## Why
//! Tutorials spread these. The kernel ignores them with at most a log line, so they look like
//! they work. `amd_iommu=on` is the classic: the AMD IOMMU is on by default when the firmware
//! enables it, and the kernel logs "Unknown option" for `on`.
//!
//! ## Example
//! A Pop!_OS host configured with `kernelstub --add-options "amd_iommu=on"`: remove it
//! (`kernelstub -d amd_iommu=on`); write `iommu mode="pt"` in the spec if you want `iommu=pt`.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::host::{CpuVendor, KernelCmdline, param_names_equal};

pub(super) const CODE: Code = Code("cmdline/known-wrong");

/// Misspellings seen in real configurations, with the intended name.
const TYPOS: &[(&str, &str)] = &[
    ("rcb_nocbs", "rcu_nocbs"),
    ("rcu_nocb", "rcu_nocbs"),
    ("isolcpu", "isolcpus"),
    ("nohzfull", "nohz_full"),
    ("intel_iommu_on", "intel_iommu=on"),
    ("vfio-pci.id", "vfio-pci.ids"),
    ("hugepage", "hugepages"),
];

fn findings(cmdline: &KernelCmdline, vendor: CpuVendor) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for t in &cmdline.tokens {
        let key = t.key.as_str();
        let value = t.value.as_deref();
        let amd_param =
            param_names_equal(key, "amd_iommu") || key.replace('-', "_").starts_with("kvm_amd.");
        if amd_param && vendor == CpuVendor::Intel {
            let shown = value.map_or_else(|| key.to_owned(), |v| format!("{key}={v}"));
            out.push((
                format!("`{shown}` is a parameter for AMD CPUs; this is an Intel CPU, where it does nothing"),
                "remove it; passplan writes intel_iommu=on when the spec asks for the IOMMU"
                    .to_owned(),
            ));
        } else if param_names_equal(key, "amd_iommu") && value == Some("on") {
            out.push(("`amd_iommu=on` is not a valid value; the kernel ignores it".to_owned(), "remove it: the AMD IOMMU is on by default when the firmware enables it (use `iommu mode=\"pt\"` in the spec for iommu=pt)".to_owned()));
        } else if param_names_equal(key, "intel_iommu") && vendor == CpuVendor::Amd {
            out.push((
                format!("`{key}` is for Intel CPUs; this is an AMD CPU"),
                "remove it; the AMD IOMMU needs no flag".to_owned(),
            ));
        }
        if let Some((_, right)) = TYPOS
            .iter()
            .find(|(wrong, _)| param_names_equal(key, wrong))
        {
            out.push((
                format!("`{key}` is not a kernel parameter"),
                format!("did you mean `{right}`?"),
            ));
        }
    }
    if cmdline.values("vfio-pci.ids").count() > 1 {
        out.push((
            "`vfio-pci.ids=` appears more than once; only one of them takes effect".to_owned(),
            "list every id in a single vfio-pci.ids=… (passplan writes one)".to_owned(),
        ));
    }
    out
}

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    let span = cx.spec.host.boot.iommu.as_ref().map(|i| i.span);
    let mut seen = Vec::new();
    let sources = [
        ("/proc/cmdline (the running kernel)", Some(&cx.host.cmdline)),
        (
            "the configured command line",
            cx.host.boot.configured_cmdline.as_ref(),
        ),
    ];
    for (source, cmdline) in sources {
        let Some(cmdline) = cmdline else { continue };
        for (message, help) in findings(cmdline, cx.host.cpu.vendor) {
            if seen.contains(&message) {
                continue;
            }
            let mut d = Diagnostic::warning(CODE, message.clone())
                .host(format!("found in {source}"))
                .help(help);
            if let Some(span) = span {
                d = d.at(span, "the spec's IOMMU setting");
            }
            out.push(d);
            seen.push(message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(line: &str, vendor: CpuVendor) -> Vec<String> {
        findings(&KernelCmdline::parse(line), vendor)
            .into_iter()
            .map(|(m, _)| m)
            .collect()
    }

    /// droserasprout's systemd-boot entry (`grub/systemd-boot-entry_arch-lts_skylake-r7-360…`):
    /// `nohz_full` is right, `rcb_nocbs` is the typo.
    #[test]
    fn nohz_full_is_no_typo_and_rcb_nocbs_is() {
        let found = messages(
            "intremap=no_x2apic_optout isolcpus=2-3 nohz_full=2-3 rcb_nocbs=2-3",
            CpuVendor::Intel,
        );
        assert_eq!(found, ["`rcb_nocbs` is not a kernel parameter"]);
        assert!(messages("nohz-full=2-3", CpuVendor::Amd).is_empty());
    }

    /// The Atom C3558 NAS (`iommu/atom-c3558-supermicro-a2sdi-4c-hln4f…`): an Intel CPU whose
    /// command line carries `amd_iommu=on` and `kvm_amd.*` beside `intel_iommu=on`.
    #[test]
    fn amd_parameters_on_intel_are_foreign_not_defaults() {
        let found = messages(
            "BOOT_IMAGE=/ROOT/23.10.2@/boot/vmlinuz-6.1.74-production+truenas root=ZFS=boot-pool/ROOT/23.10.2 ro libata.allow_tpm=1 amd_iommu=on iommu=pt kvm_amd.npt=1 kvm_amd.avic=1 intel_iommu=on zfsforce=1 nvme_core.multipath=N",
            CpuVendor::Intel,
        );
        assert_eq!(
            found,
            [
                "`amd_iommu=on` is a parameter for AMD CPUs; this is an Intel CPU, where it does nothing",
                "`kvm_amd.npt=1` is a parameter for AMD CPUs; this is an Intel CPU, where it does nothing",
                "`kvm_amd.avic=1` is a parameter for AMD CPUs; this is an Intel CPU, where it does nothing",
            ]
        );
        // On AMD the same `amd_iommu=on` is the invalid value.
        assert_eq!(
            messages("amd_iommu=on iommu=pt", CpuVendor::Amd),
            ["`amd_iommu=on` is not a valid value; the kernel ignores it"]
        );
    }
}
