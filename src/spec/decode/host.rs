//! Decoding of the `host` node and its `libvirt`, `headless` and `bridge` children.

use super::{At, Decoder};
use crate::diag;
use crate::spec::{Bridge, BridgeBackend, HostBlock, Spanned};

impl Decoder {
    pub(super) fn host(&mut self, at: &At<'_>) -> HostBlock {
        let name = self.name_arg(at, "host name");
        let boot = self
            .child(at, "boot")
            .map(|b| self.boot(&b))
            .unwrap_or_default();
        let libvirt_uri = self.child(at, "libvirt").and_then(|l| {
            let entry = l.prop("uri");
            if entry.is_none() {
                self.error(
                    diag::codes::MISSING_VALUE,
                    l.span(),
                    "`libvirt` needs a uri",
                    "uri missing",
                    "write: libvirt uri=\"qemu:///system\"",
                );
            }
            entry.and_then(|e| self.string(e, "libvirt URI"))
        });
        let headless = self.child(at, "headless").map(|h| h.span());
        let mut bridges = Vec::new();
        for node in at.children_named("bridge") {
            if let Some(b) = self.sub(node, at) {
                bridges.extend(self.bridge(&b));
            }
        }
        HostBlock {
            name,
            boot,
            libvirt_uri,
            bridges,
            headless,
        }
    }

    fn bridge(&mut self, at: &At<'_>) -> Option<Bridge> {
        let name = self.name_arg(at, "bridge name")?;
        let Some(interface) = at.prop("interface") else {
            self.error(
                diag::codes::MISSING_VALUE,
                at.span(),
                "`bridge` needs the physical interface it bridges",
                "interface missing",
                "write: bridge \"br0\" interface=\"enp5s0\"",
            );
            return None;
        };
        let interface = self.string(interface, "interface name")?;
        if super::validate_name(&interface.value).is_err() || interface.value.len() > 15 {
            self.error(
                diag::codes::UNSAFE_NAME,
                interface.span,
                format!(
                    "`{}` is not a network interface name",
                    interface.value.escape_debug()
                ),
                "not an interface name",
                "interface names are at most 15 characters of letters, digits, `.`, `_`, `-`",
            );
            return None;
        }
        let backend = match at.prop("backend") {
            Some(e) => self.choice(
                e,
                "bridge backend",
                &[
                    ("networkd", BridgeBackend::Networkd),
                    ("networkmanager", BridgeBackend::NetworkManager),
                ],
            )?,
            None => Spanned::new(BridgeBackend::Networkd, at.span()),
        };
        let dhcp = match at.prop("dhcp") {
            Some(e) => self.boolean(e, "dhcp")?,
            None => true,
        };
        Some(Bridge {
            name,
            interface,
            backend,
            dhcp,
        })
    }
}
