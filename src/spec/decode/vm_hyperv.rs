//! Decoding of a VM's `hyperv` node, and the Hyper-V enlightenments the spec knows.

use super::{At, Decoder};
use crate::spec::{Hyperv, Spanned};

impl Decoder {
    pub(super) fn hyperv(&mut self, at: &At<'_>) -> Hyperv {
        let vendor_id = at
            .prop("vendor-id")
            .and_then(|e| self.string(e, "vendor id"));
        let mut enable = Vec::new();
        let mut disable = Vec::new();
        for node in at.children() {
            let Some(child) = self.sub_known(node, at) else {
                continue;
            };
            let list: Vec<Spanned<String>> = child
                .args()
                .filter_map(|e| self.choice(e, "Hyper-V enlightenment", HYPERV_FEATURES))
                .map(|s| Spanned::new(s.value.to_owned(), s.span))
                .collect();
            match child.name() {
                "enable" => enable.extend(list),
                "disable" => disable.extend(list),
                _ => {}
            }
        }
        Hyperv {
            span: at.span(),
            vendor_id,
            enable,
            disable,
        }
    }
}

/// Hyper-V enlightenments libvirt knows, as the spec spells them.
pub(crate) const HYPERV_FEATURES: &[(&str, &str)] = &[
    ("relaxed", "relaxed"),
    ("vapic", "vapic"),
    ("spinlocks", "spinlocks"),
    ("vpindex", "vpindex"),
    ("runtime", "runtime"),
    ("synic", "synic"),
    ("stimer", "stimer"),
    ("reset", "reset"),
    ("frequencies", "frequencies"),
    ("reenlightenment", "reenlightenment"),
    ("tlbflush", "tlbflush"),
    ("ipi", "ipi"),
    ("evmcs", "evmcs"),
    ("avic", "avic"),
];
