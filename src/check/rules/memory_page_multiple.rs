//! ## What it does
//! Reports hugepage-backed guest memory that is not a whole number of pages.
//!
//! ## Why
//! libvirt backs the whole of guest memory with hugepages; a remainder cannot be backed and the
//! VM fails to start. With 1 GiB pages, memory must be whole GiB.
//!
//! ## Example
//! ```kdl
//! memory "12800MiB" hugepages="dynamic" page-size="1GiB"
//! ```
//! Write "12GiB" or "13GiB".

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::ByteSize;

pub(super) const CODE: Code = Code("memory/page-multiple");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for vm in &cx.spec.vms {
        let Some(page) = cx.page_size(vm) else {
            continue;
        };
        let size = vm.memory.size.value;
        if page.0 == 0 || size.0 % page.0 == 0 {
            continue;
        }
        let down = ByteSize(size.0 / page.0 * page.0);
        let up = ByteSize(down.0 + page.0);
        out.push(
            Diagnostic::error(
                CODE,
                format!("{size} is not a whole number of {page} pages"),
            )
            .at(vm.memory.size.span, "not a page multiple")
            .help(format!("write \"{down}\" or \"{up}\"")),
        );
    }
}
