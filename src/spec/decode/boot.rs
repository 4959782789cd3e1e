//! Decoding of the host's `boot` node: loader, initramfs, IOMMU, ACS override, kernel
//! parameters and boot-time hugepages.

use super::{At, Decoder};
use crate::diag::{self, Diagnostic};
use crate::model::{ByteSize, PciId};
use crate::spec::{Boot, BootHugepages, InitramfsChoice, IommuMode, LoaderChoice, Spanned};

impl Decoder {
    pub(super) fn boot(&mut self, at: &At<'_>) -> Boot {
        let mut boot = Boot::default();
        if let Some(l) = self.child(at, "loader") {
            let choices = [
                ("auto", None),
                ("grub", Some(LoaderChoice::Grub)),
                ("grubby", Some(LoaderChoice::Grubby)),
                ("kernelstub", Some(LoaderChoice::Kernelstub)),
                ("systemd-boot", Some(LoaderChoice::SystemdBoot)),
            ];
            boot.loader = l
                .arg(0)
                .and_then(|e| self.choice(e, "loader", &choices))
                .and_then(|s| s.value.map(|v| Spanned::new(v, s.span)));
        }
        if let Some(i) = self.child(at, "initramfs") {
            let choices = [
                ("auto", None),
                ("initramfs-tools", Some(InitramfsChoice::InitramfsTools)),
                ("dracut", Some(InitramfsChoice::Dracut)),
                ("mkinitcpio", Some(InitramfsChoice::Mkinitcpio)),
                ("booster", Some(InitramfsChoice::Booster)),
            ];
            boot.initramfs = i
                .arg(0)
                .and_then(|e| self.choice(e, "initramfs generator", &choices))
                .and_then(|s| s.value.map(|v| Spanned::new(v, s.span)));
        }
        if let Some(i) = self.child(at, "iommu") {
            match i.prop("mode") {
                Some(e) => {
                    boot.iommu = self.choice(
                        e,
                        "IOMMU mode",
                        &[("on", IommuMode::On), ("pt", IommuMode::Passthrough)],
                    );
                }
                None => boot.iommu = Some(Spanned::new(IommuMode::On, i.span())),
            }
        }
        if let Some(a) = self.child(at, "acs-override") {
            let mut values = Vec::new();
            for entry in a.args() {
                if let Some(s) = self.string(entry, "ACS override value") {
                    let ok = matches!(s.value.as_str(), "downstream" | "multifunction")
                        || s.value
                            .strip_prefix("id:")
                            .is_some_and(|id| id.parse::<PciId>().is_ok());
                    if ok {
                        values.push(s.value);
                    } else {
                        self.error(
                            diag::codes::INVALID_VALUE,
                            s.span,
                            format!("`{}` is not an ACS override value", s.value),
                            "unknown value",
                            "write downstream, multifunction, or id:vvvv:dddd",
                        );
                    }
                }
            }
            self.diags.push(
                Diagnostic::warning(diag::codes::ACS_OVERRIDE, "the ACS override weakens isolation between PCI devices")
                    .at(a.span(), "asked for here")
                    .help("it works only on kernels with the out-of-tree ACS patch, and a guest may reach devices left with the host; prefer another slot or passing the whole IOMMU group"),
            );
            boot.acs_override = Some(Spanned::new(values, a.span()));
        }
        for node in at.children_named("param") {
            if let Some(p) = self.sub(node, at) {
                for entry in p.args() {
                    if let Some(s) = self.string(entry, "kernel parameter") {
                        if s.value.is_empty()
                            || s.value
                                .chars()
                                .any(|c| c.is_whitespace() || c.is_control() || c == '"')
                        {
                            self.error(diag::codes::INVALID_VALUE, s.span, format!("`{}` is not a single kernel parameter", s.value.escape_debug()), "one token expected", "give each parameter as its own string, without spaces or quotes: param \"video=efifb:off\" \"nowatchdog\"");
                        } else if s.value == "--" {
                            // The editors would read it as the end of the kernel's part and drop it.
                            self.error(diag::codes::INVALID_VALUE, s.span, "`--` is not a kernel parameter: it ends the kernel's part of the command line", "not a parameter", "remove it: what follows `--` goes to init, and passplan writes kernel parameters only");
                        } else {
                            boot.params.push(s);
                        }
                    }
                }
            }
        }
        if let Some(h) = self.child(at, "hugepages") {
            let size = h
                .prop("size")
                .and_then(|e| self.parsed::<ByteSize>(e, "page size"));
            let count = h
                .prop("count")
                .and_then(|e| self.integer(e, "page count", 1, 1 << 32));
            match (size, count) {
                (Some(size), Some(count)) => boot.hugepages = Some(BootHugepages { size, count }),
                _ => {
                    if h.prop("size").is_none() || h.prop("count").is_none() {
                        self.error(
                            diag::codes::MISSING_VALUE,
                            h.span(),
                            "`hugepages` needs size and count",
                            "incomplete",
                            "write: hugepages size=\"1GiB\" count=16",
                        );
                    }
                }
            }
        }
        boot
    }
}
