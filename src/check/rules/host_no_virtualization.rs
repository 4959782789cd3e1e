//! ## What it does
//! Reports a CPU whose `/proc/cpuinfo` flags lack `vmx` (Intel VT-x) or `svm` (AMD-V).
//!
//! ## Why
//! Without hardware virtualisation KVM cannot run guests at all; the flag is missing either
//! because the CPU has none or, far more often, because it is switched off in the firmware.
//!
//! ## Example
//! A host whose firmware has "SVM Mode" disabled: every `vm` in the spec is reported.
//! Enable SVM (AMD) or VT-x (Intel) in the firmware setup and boot again.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::host::CpuVendor;
use crate::spec::Accel;

pub(super) const CODE: Code = Code("host/no-virtualization");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    if cx.host.cpu.virtualization || !cx.spec.vms.iter().any(|v| v.accel.value == Accel::Kvm) {
        return;
    }
    let (flag, setting) = match cx.host.cpu.vendor {
        CpuVendor::Amd => ("svm", "SVM Mode (AMD-V)"),
        CpuVendor::Intel => ("vmx", "Intel Virtualization Technology (VT-x)"),
        CpuVendor::Unknown => ("vmx or svm", "hardware virtualisation"),
    };
    // A TCG guest needs neither; name the first that needs KVM.
    let Some(vm) = cx.spec.vms.iter().find(|v| v.accel.value == Accel::Kvm) else {
        return;
    };
    out.push(
        Diagnostic::error(
            CODE,
            "the CPU does not offer hardware virtualisation, so no VM can run",
        )
        .at(vm.name.span, "needs KVM")
        .host(format!("/proc/cpuinfo flags lack `{flag}`"))
        .help(format!(
            "enable {setting} in the firmware setup, then boot again"
        )),
    );
}
