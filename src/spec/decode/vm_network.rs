//! Decoding of a VM's `network` nodes: bridge or libvirt network, NIC model, MAC.

use super::{At, Decoder};
use crate::diag;
use crate::spec::{Network, NetworkSource, Spanned};

impl Decoder {
    pub(super) fn network(&mut self, at: &At<'_>) -> Option<Network> {
        let source = match (at.prop("bridge"), at.prop("network")) {
            (Some(b), None) => self
                .string(b, "bridge name")
                .map(|s| Spanned::new(NetworkSource::Bridge(s.value), s.span)),
            (None, Some(n)) => self
                .string(n, "network name")
                .map(|s| Spanned::new(NetworkSource::Network(s.value), s.span)),
            (Some(_), Some(_)) => {
                self.error(
                    diag::codes::CONFLICT,
                    at.span(),
                    "a NIC attaches to a bridge or a network, not both",
                    "conflicting",
                    "keep bridge= or network=",
                );
                None
            }
            (None, None) => Some(Spanned::new(
                NetworkSource::Network("default".to_owned()),
                at.span(),
            )),
        }?;
        let (NetworkSource::Bridge(n) | NetworkSource::Network(n)) = &source.value;
        if super::validate_name(n).is_err() {
            self.error(
                diag::codes::UNSAFE_NAME,
                source.span,
                format!("`{}` is not a bridge or network name", n.escape_debug()),
                "unsafe name",
                "use letters, digits, `.`, `_`, `-`",
            );
            return None;
        }
        let model = match at.prop("model") {
            Some(e) => self
                .choice(
                    e,
                    "NIC model",
                    &[
                        ("virtio", "virtio"),
                        ("e1000e", "e1000e"),
                        ("e1000", "e1000"),
                        ("rtl8139", "rtl8139"),
                    ],
                )
                .map(|s| Spanned::new(s.value.to_owned(), s.span))?,
            None => Spanned::new("virtio".to_owned(), at.span()),
        };
        let mac = at
            .prop("mac")
            .and_then(|e| self.string(e, "MAC address"))
            .filter(|m| {
                let ok = m.value.len() == 17
                    && m.value.split(':').count() == 6
                    && m.value
                        .split(':')
                        .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
                if !ok {
                    self.error(
                        diag::codes::INVALID_VALUE,
                        m.span,
                        format!("`{}` is not a MAC address", m.value.escape_debug()),
                        "not a MAC",
                        "write six hex pairs, like 52:54:00:12:34:56",
                    );
                }
                ok
            });
        Some(Network { source, model, mac })
    }
}
