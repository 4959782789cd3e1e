//! Decoding of the top-level `gpu` and `device` nodes: PCI address, role, binding and handoff.

use super::{At, Decoder};
use kdl::KdlValue;

use crate::diag;
use crate::model::{PciAddress, PciId};
use crate::spec::{Bind, BindBy, BindTime, Device, GpuRole, Handoff, Spanned};

impl Decoder {
    pub(super) fn device(&mut self, at: &At<'_>, is_gpu: bool) -> Option<Device> {
        let kind = if is_gpu { "GPU name" } else { "device name" };
        let name = self.name_arg(at, kind);
        let pci_node = self.child(at, "pci");
        let mut pci = None;
        let mut id = None;
        let mut subsystem = None;
        match &pci_node {
            Some(p) => {
                pci = p
                    .arg(0)
                    .and_then(|e| self.parsed::<PciAddress>(e, "PCI address"));
                id = p
                    .prop("id")
                    .and_then(|e| self.parsed::<PciId>(e, "vendor:device id"));
                subsystem = p
                    .prop("subsystem")
                    .and_then(|e| self.parsed::<PciId>(e, "subsystem id"));
            }
            None => {
                let noun = if is_gpu { "gpu" } else { "device" };
                self.error(
                    diag::codes::MISSING_VALUE,
                    at.span(),
                    format!("`{noun}` needs a PCI address"),
                    "where is it?",
                    "add: pci \"0d:00.0\" (the address `passplan host` or lspci shows)",
                );
            }
        }
        let role = if is_gpu {
            match self.child(at, "role") {
                Some(r) => r.arg(0).and_then(|e| {
                    self.choice(
                        e,
                        "GPU role",
                        &[("host", GpuRole::Host), ("guest", GpuRole::Guest)],
                    )
                }),
                None => {
                    self.error(
                        diag::codes::MISSING_VALUE,
                        at.span(),
                        "a `gpu` needs a role",
                        "role missing",
                        "add: role \"guest\" (a VM gets it) or role \"host\" (the host keeps it)",
                    );
                    None
                }
            }
        } else {
            None
        };
        let mut bind = Spanned::new(
            Bind {
                when: BindTime::VmStart,
                by: BindBy::Auto,
            },
            at.span(),
        );
        if let Some(b) = self.child(at, "bind") {
            if let Some(when) = b.arg(0).and_then(|e| {
                self.choice(
                    e,
                    "bind time",
                    &[("vm-start", BindTime::VmStart), ("boot", BindTime::Boot)],
                )
            }) {
                let by = match b.prop("by") {
                    Some(e) => self
                        .choice(
                            e,
                            "binding method",
                            &[
                                ("auto", BindBy::Auto),
                                ("ids", BindBy::Ids),
                                ("address", BindBy::Address),
                            ],
                        )
                        .map_or(BindBy::Auto, |s| s.value),
                    None => BindBy::Auto,
                };
                if by != BindBy::Auto && when.value == BindTime::VmStart {
                    self.error(
                        diag::codes::CONFLICT,
                        b.span(),
                        "`by` only applies to binding at boot",
                        "conflicting",
                        "remove `by`, or write bind \"boot\" by=\"address\"",
                    );
                }
                bind = Spanned::new(
                    Bind {
                        when: when.value,
                        by,
                    },
                    when.span,
                );
            }
            if role.as_ref().is_some_and(|r| r.value == GpuRole::Host) {
                self.error(
                    diag::codes::CONFLICT,
                    b.span(),
                    "a host GPU is never bound to vfio-pci",
                    "conflicts with role \"host\"",
                    "remove `bind`, or make the GPU role \"guest\"",
                );
            }
        }
        let functions = self
            .child(at, "functions")
            .and_then(|f| self.functions(&f, pci.as_ref()));
        // The grammar has `handoff` under `gpu` only, so a `device` never gets here.
        let handoff = if let Some(h) = self.child(at, "handoff") {
            {
                let _ = h
                    .arg(0)
                    .and_then(|e| self.choice(e, "handoff", &[("single-gpu", ())]));
                let display_manager = h
                    .prop("display-manager")
                    .and_then(|e| self.string(e, "display manager unit"));
                if let Some(dm) = &display_manager
                    && super::validate_name(dm.value.trim_end_matches(".service")).is_err()
                {
                    self.error(
                        diag::codes::UNSAFE_NAME,
                        dm.span,
                        format!("`{}` is not a systemd unit name", dm.value.escape_debug()),
                        "not a unit name",
                        "write the unit as systemctl shows it, like gdm.service",
                    );
                }
                if role.as_ref().is_some_and(|r| r.value == GpuRole::Host) {
                    self.error(diag::codes::CONFLICT, h.span(), "handoff gives the host's display to a guest, but this GPU stays with the host", "conflicts with role \"host\"", "make the GPU role \"guest\", or remove `handoff`");
                }
                Some(Handoff {
                    span: h.span(),
                    display_manager,
                })
            }
        } else {
            None
        };
        Some(Device {
            name: name?,
            is_gpu,
            pci: pci?,
            id,
            subsystem,
            role: if is_gpu { Some(role?) } else { None },
            bind,
            handoff,
            functions,
            span: at.node.span(),
        })
    }

    /// `functions "0" "1"`: function numbers of the slot at `pci` (its own always included).
    fn functions(
        &mut self,
        at: &At<'_>,
        pci: Option<&Spanned<PciAddress>>,
    ) -> Option<Spanned<Vec<u8>>> {
        let mut list = Vec::new();
        for entry in at.args() {
            let n = match entry.value() {
                KdlValue::String(s) => s.parse::<u8>().ok(),
                KdlValue::Integer(n) => u8::try_from(*n).ok(),
                _ => None,
            };
            match n.filter(|n| *n <= 7) {
                Some(n) if !list.contains(&n) => list.push(n),
                Some(_) => {}
                None => self.error(
                    diag::codes::INVALID_VALUE,
                    entry.span(),
                    "a PCI function number is 0 to 7",
                    "not a function number",
                    "write the function digits of the slot's addresses, like functions \"0\" \"1\"",
                ),
            }
        }
        // The function `pci` names always goes with the ones listed.
        if let Some(own) = pci.map(|p| p.value.function)
            && !list.is_empty()
            && !list.contains(&own)
        {
            list.push(own);
        }
        list.sort_unstable();
        (!list.is_empty()).then(|| Spanned::new(list, at.span()))
    }
}
