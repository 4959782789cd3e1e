//! ## What it does
//! Reports a disk or CD-ROM path that is not absolute.
//!
//! ## Why
//! libvirt refuses a relative source path when the domain is defined, so `apply` would fail
//! half-way; and relative to what — the spec's directory, libvirt's working directory? An image
//! path says where the image is, from `/`.
//!
//! ## Example
//! ```kdl
//! disk "images/win10.qcow2" format="qcow2"
//! ```
//! Write `disk "/var/lib/libvirt/images/win10.qcow2" format="qcow2"`.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};

pub(super) const CODE: Code = Code("storage/relative-path");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for vm in &cx.spec.vms {
        let paths = vm
            .disks
            .iter()
            .map(|d| ("disk", &d.path))
            .chain(vm.cdroms.iter().map(|c| ("CD-ROM", c)));
        for (what, path) in paths {
            if path.value.starts_with('/') {
                continue;
            }
            out.push(
                Diagnostic::error(
                    CODE,
                    format!(
                        "{what} path `{}` of VM `{}` is relative",
                        path.value, vm.name.value
                    ),
                )
                .at(path.span, "not absolute")
                .help("write the full path from /; libvirt rejects a relative one at define"),
            );
        }
    }
}
