//! ## What it does
//! Reports static hugepages (VMs with `hugepages="static"` plus `boot { hugepages … }`) that
//! would leave the host less than it needs: at least 2 GiB or an eighth of its memory,
//! whichever is larger.
//!
//! ## Why
//! Pages reserved at boot are gone for the host whether the VM runs or not. Reserve too much and
//! the host swaps, or the OOM killer ends the desktop — or the kernel cannot boot at all.
//!
//! ## Example
//! ```kdl
//! vm "win" { memory "30GiB" hugepages="static" }
//! ```
//! on a 32 GiB host: use `hugepages="dynamic"`, which takes the pages only while the VM runs,
//! or give the VM less memory.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::ByteSize;
use crate::spec::HugepageMode;

pub(super) const CODE: Code = Code("memory/static-too-large");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    let total = cx.host.memory.total;
    if total.0 == 0 {
        return;
    }
    let statics: Vec<_> = cx
        .spec
        .vms
        .iter()
        .filter(|vm| vm.memory.hugepages.value == HugepageMode::Static)
        .collect();
    let mut reserved: u64 = statics.iter().map(|vm| vm.memory.size.value.0).sum();
    if let Some(h) = &cx.spec.host.boot.hugepages {
        reserved = reserved.saturating_add(h.size.value.0.saturating_mul(h.count.value));
    }
    let keep = (2u64 << 30).max(total.0 / 8);
    if reserved == 0 || reserved.saturating_add(keep) <= total.0 {
        return;
    }
    let span = statics.first().map(|vm| vm.memory.hugepages.span).or(cx
        .spec
        .host
        .boot
        .hugepages
        .as_ref()
        .map(|h| h.count.span));
    let mut d = Diagnostic::error(CODE, format!("{} of static hugepages leaves the host less than {}", ByteSize(reserved).approx(), ByteSize(keep).approx()))
        .host(format!("MemTotal is {}", total.approx()))
        .help("use hugepages=\"dynamic\" (pages are taken only while the VM runs), or give the VMs less memory");
    if let Some(span) = span {
        d = d.at(span, "reserved at boot");
    }
    out.push(d);
}
