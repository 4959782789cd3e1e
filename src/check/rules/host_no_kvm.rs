//! ## What it does
//! Reports a host without `/dev/kvm` although its CPU supports virtualisation.
//!
//! ## Why
//! libvirt starts KVM guests through `/dev/kvm`; it appears when the `kvm_intel` or `kvm_amd`
//! module is loaded. Without it, guests fall back to slow emulation or fail to start.
//!
//! ## Example
//! A host where `kvm_amd` is blacklisted: load it with `modprobe kvm_amd` (and remove the
//! blacklist entry), then check again.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::host::CpuVendor;
use crate::spec::Accel;

pub(super) const CODE: Code = Code("host/no-kvm");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    // Without the CPU flag, host/no-virtualization already explains why /dev/kvm is missing.
    if cx.host.kvm_device
        || !cx.host.cpu.virtualization
        || !cx.spec.vms.iter().any(|v| v.accel.value == Accel::Kvm)
    {
        return;
    }
    let module = match cx.host.cpu.vendor {
        CpuVendor::Amd => "kvm_amd",
        _ => "kvm_intel",
    };
    // A TCG guest needs neither; name the first that needs KVM.
    let Some(vm) = cx.spec.vms.iter().find(|v| v.accel.value == Accel::Kvm) else {
        return;
    };
    out.push(
        Diagnostic::error(CODE, "/dev/kvm is missing, so VMs cannot use KVM")
            .at(vm.name.span, "needs KVM")
            .host("/dev/kvm does not exist")
            .help(format!("load the module with `modprobe {module}` and make sure it is not blacklisted under /etc/modprobe.d")),
    );
}
