//! Decoding of a VM's `smbios` node: copied from the host, none, or explicit values.

use super::{At, Decoder};
use crate::diag;
use crate::spec::{Smbios, Spanned};

impl Decoder {
    pub(super) fn smbios(&mut self, at: &At<'_>) -> Option<Spanned<Smbios>> {
        let mode = at.arg(0).and_then(|e| {
            self.choice(e, "SMBIOS mode", &[("host", true), ("none", false)])
                .map(|s| Spanned::new(if s.value { Smbios::Host } else { Smbios::None }, s.span))
        });
        let has_children = at.children().next().is_some();
        match (mode, has_children) {
            (Some(_), true) => {
                self.error(
                    diag::codes::CONFLICT,
                    at.span(),
                    "`smbios` takes a mode or explicit values, not both",
                    "conflicting",
                    "write smbios \"host\", or smbios { system manufacturer=\"…\" }",
                );
                None
            }
            (Some(m), false) => Some(m),
            (None, true) => {
                let read = |d: &mut Self, name: &str| -> Vec<(String, String)> {
                    let Some(block) = d.child(at, name) else {
                        return Vec::new();
                    };
                    block
                        .def
                        .props
                        .iter()
                        .filter_map(|p| {
                            block
                                .prop(p)
                                .and_then(|e| d.string(e, "SMBIOS value"))
                                .map(|v| ((*p).to_owned(), v.value))
                        })
                        .collect()
                };
                let bios = read(self, "bios");
                let system = read(self, "system");
                Some(Spanned::new(Smbios::Values { bios, system }, at.span()))
            }
            (None, false) => None,
        }
    }
}
