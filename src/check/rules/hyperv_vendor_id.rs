//! ## What it does
//! Reports a Hyper-V `vendor-id` longer than 12 characters or outside printable ASCII.
//!
//! ## Why
//! The vendor id is a 12-byte CPUID field. libvirt rejects longer values, and the NVIDIA
//! error-43 workaround depends on it being accepted.
//!
//! ## Example
//! ```kdl
//! hyperv vendor-id="my-very-own-hypervisor"
//! ```
//! Write at most 12 characters: `vendor-id="kvm hyperv"`.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};

pub(super) const CODE: Code = Code("hyperv/vendor-id-length");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for vm in &cx.spec.vms {
        let Some(id) = vm.hyperv.as_ref().and_then(|h| h.vendor_id.as_ref()) else {
            continue;
        };
        let printable = id.value.chars().all(|c| c.is_ascii_graphic() || c == ' ');
        let len = id.value.chars().count();
        if len == 0 || len > 12 || !printable {
            out.push(
                Diagnostic::error(CODE, format!("the Hyper-V vendor id must be 1 to 12 printable ASCII characters; this one has {len}"))
                    .at(id.span, "too long or not ASCII")
                    .help("write at most 12 characters, like vendor-id=\"kvm hyperv\""),
            );
        }
    }
}
