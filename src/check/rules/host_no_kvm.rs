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

pub(super) const CODE: Code = Code("host/no-kvm");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    // Without the CPU flag, host/no-virtualization already explains why /dev/kvm is missing.
    if cx.host.kvm_device || !cx.host.cpu.virtualization || cx.spec.vms.is_empty() {
        return;
    }
    let module = match cx.host.cpu.vendor {
        CpuVendor::Amd => "kvm_amd",
        _ => "kvm_intel",
    };
    let vm = &cx.spec.vms[0];
    out.push(
        Diagnostic::error(CODE, "/dev/kvm is missing, so VMs cannot use KVM")
            .at(vm.name.span, "needs KVM")
            .host("/dev/kvm does not exist")
            .help(format!("load the module with `modprobe {module}` and make sure it is not blacklisted under /etc/modprobe.d")),
    );
}
