//! Decoding of a VM's `memory` node: size and hugepage backing.

use super::{At, Decoder};
use crate::diag;
use crate::model::ByteSize;
use crate::spec::{HugepageMode, Memory, Spanned};

impl Decoder {
    pub(super) fn memory(&mut self, at: &At<'_>) -> Option<Memory> {
        let size = at
            .arg(0)
            .and_then(|e| self.parsed::<ByteSize>(e, "memory size"));
        if let Some(s) = &size
            && (s.value.0 == 0 || s.value.0 % (1 << 20) != 0)
        {
            self.error(
                diag::codes::INVALID_VALUE,
                s.span,
                "memory must be a positive whole number of MiB",
                "not whole MiB",
                "write a size like \"16GiB\" or \"12288MiB\"",
            );
        }
        let hugepages = match at.prop("hugepages") {
            Some(e) => self.choice(
                e,
                "hugepages mode",
                &[
                    ("none", HugepageMode::None),
                    ("dynamic", HugepageMode::Dynamic),
                    ("static", HugepageMode::Static),
                ],
            ),
            None => Some(Spanned::new(HugepageMode::None, at.span())),
        };
        let page_size = at
            .prop("page-size")
            .and_then(|e| self.parsed::<ByteSize>(e, "page size"));
        if let (Some(ps), Some(hp)) = (&page_size, &hugepages)
            && hp.value == HugepageMode::None
        {
            self.error(
                diag::codes::CONFLICT,
                ps.span,
                "page-size applies only to hugepage-backed memory",
                "conflicts with hugepages=\"none\"",
                "add hugepages=\"dynamic\" or hugepages=\"static\", or remove page-size",
            );
        }
        Some(Memory {
            size: size?,
            hugepages: hugepages?,
            page_size,
        })
    }
}
