//! ## What it does
//! For devices bound at boot, checks whether binding by `vendor:device` would also catch a
//! device the host keeps (identical GPUs, a boot NVMe of the same model). With `by="ids"` that
//! is an error; with the default `by="auto"` passplan binds those devices by address instead,
//! and says so.
//!
//! ## Why
//! `vfio-pci.ids=` binds *every* device with the id. Two identical GTX 480s, one for the host
//! and one for the guest, or a guest NVMe of the same model as the boot drive, need per-address
//! binding (`driver_override`, set early by an initramfs hook).
//!
//! ## Example
//! ```kdl
//! gpu "guest-480" { pci "02:00.0"; role "guest"; bind "boot" by="ids" }
//! ```
//! with a second `10de:06c0` at `01:00.0` for the host: write `by="address"` (or leave `by` out).

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::spec::{BindBy, BindTime};

pub(super) const CODE: Code = Code("binding/ids-ambiguous");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for device in cx
        .spec
        .devices
        .iter()
        .filter(|d| d.bind.value.when == BindTime::Boot)
    {
        let functions = cx.device_functions(device);
        let mut clashes = Vec::new();
        for f in &functions {
            let Some(fd) = cx.host.pci.get(f) else {
                continue;
            };
            for other in cx
                .host
                .pci
                .values()
                .filter(|o| o.id == fd.id && !functions.contains(&o.address))
            {
                let bound_too = cx
                    .declared_at(other.address)
                    .is_some_and(|d| d.bind.value.when == BindTime::Boot && d.is_guest());
                if !bound_too {
                    clashes.push((fd.id, other.address));
                }
            }
        }
        if clashes.is_empty() {
            continue;
        }
        let facts: Vec<String> = clashes
            .iter()
            .map(|(id, a)| format!("{id} is also {}", cx.describe(*a)))
            .collect();
        let d = match device.bind.value.by {
            BindBy::Ids => Diagnostic::error(CODE, format!("binding `{}` by id would also take devices the host keeps", device.name.value))
                .at(device.bind.span, "by ids")
                .help("write bind \"boot\" by=\"address\" (or leave `by` out) so only this address is bound"),
            BindBy::Auto => Diagnostic::notice(CODE, format!("`{}` will be bound by address, since its id also matches devices the host keeps", device.name.value))
                .at(device.bind.span, "bound by address")
                .help("nothing to do; passplan sets driver_override for this address early in boot"),
            BindBy::Address => continue,
        };
        out.push(d.host(facts.join("; ")));
    }
}
