//! ## What it does
//! Reports a hugepage size the host does not support.
//!
//! ## Why
//! The kernel publishes one directory per supported size under `/sys/kernel/mm/hugepages`.
//! 1 GiB pages need the `pdpe1gb` CPU flag; other architectures have other sizes.
//!
//! ## Example
//! ```kdl
//! memory "16GiB" hugepages="dynamic" page-size="1GiB"
//! ```
//! on a host offering only 2048 kB pages: write `page-size="2MiB"`.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};

pub(super) const CODE: Code = Code("memory/page-size-unsupported");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for vm in &cx.spec.vms {
        let Some(page) = cx.page_size(vm) else {
            continue;
        };
        let sizes: Vec<String> = cx
            .host
            .memory
            .hugepages
            .iter()
            .map(|p| p.size.to_string())
            .collect();
        if cx.host.memory.hugepages.iter().any(|p| p.size == page) {
            continue;
        }
        let span = vm
            .memory
            .page_size
            .as_ref()
            .map_or(vm.memory.hugepages.span, |p| p.span);
        let (fact, help) = if sizes.is_empty() {
            (
                "/sys/kernel/mm/hugepages is empty: the kernel offers no hugepages".to_owned(),
                "use hugepages=\"none\", or a kernel with hugetlbfs".to_owned(),
            )
        } else {
            (
                format!("supported sizes: {}", sizes.join(", ")),
                format!("write page-size=\"{}\"", sizes[0]),
            )
        };
        out.push(
            Diagnostic::error(CODE, format!("the host does not support {page} hugepages"))
                .at(span, "unsupported size")
                .host(fact)
                .help(help),
        );
    }
}
