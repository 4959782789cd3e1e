//! ## What it does
//! Reports a GPU with `role "host"` that a VM is given (directly, or as another function of a
//! passed slot).
//!
//! ## Why
//! The host would lose its display the moment the VM starts. If that is the intent, the GPU
//! is a guest GPU with single-GPU handoff.
//!
//! ## Example
//! ```kdl
//! gpu "rx5700" { pci "0c:00.0"; role "host" }
//! vm "win10" { passthrough "rx5700" }
//! ```
//! Pass the guest GPU instead, or make this one `role "guest"` with `handoff "single-gpu"`.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::spec::GpuRole;

pub(super) const CODE: Code = Code("device/host-gpu-passed");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for vm in &cx.spec.vms {
        for (reference, device) in cx.vm_devices(vm) {
            if device
                .role
                .as_ref()
                .is_some_and(|r| r.value == GpuRole::Host)
            {
                out.push(
                    Diagnostic::error(CODE, format!("`{}` is the host's GPU, but VM `{}` is given it", device.name.value, vm.name.value))
                        .at(reference.span, "a host GPU")
                        .host(cx.describe(device.pci.value))
                        .help("pass the guest's GPU instead, or make this GPU role \"guest\" with handoff \"single-gpu\""),
                );
            }
        }
    }
}
