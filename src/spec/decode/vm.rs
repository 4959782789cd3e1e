//! Decoding of a `vm` node: its single-value children (firmware, machine, accel, clock, …)
//! read here, each larger part handed to its own `vm_*` module.

use super::{At, Decoder};
use crate::diag;
use crate::model::UsbId;
use crate::spec::{Accel, Clock, ClockOffset, Firmware, Spanned, Vm};

impl Decoder {
    pub(super) fn vm(&mut self, at: &At<'_>) -> Option<Vm> {
        let name = self.name_arg(at, "VM name");
        let memory = match self.child(at, "memory") {
            Some(m) => self.memory(&m),
            None => {
                self.error(
                    diag::codes::MISSING_VALUE,
                    at.span(),
                    "a `vm` needs memory",
                    "memory missing",
                    "add: memory \"16GiB\"",
                );
                None
            }
        };
        let cpu = match self.child(at, "cpu") {
            Some(c) => self.cpu(&c),
            None => {
                self.error(
                    diag::codes::MISSING_VALUE,
                    at.span(),
                    "a `vm` needs a cpu block",
                    "cpu missing",
                    "add: cpu { vcpus 8 threads=2 }",
                );
                None
            }
        };
        let firmware = match self.child(at, "firmware") {
            Some(f) => {
                let kind = f
                    .arg(0)
                    .and_then(|e| self.choice(e, "firmware", &[("uefi", true), ("bios", false)]));
                let secure_boot = f
                    .prop("secure-boot")
                    .and_then(|e| self.boolean(e, "secure-boot"))
                    .unwrap_or(false);
                kind.map(|k| {
                    Spanned::new(
                        if k.value {
                            Firmware::Uefi { secure_boot }
                        } else {
                            Firmware::Bios
                        },
                        k.span,
                    )
                })
            }
            None => Some(Spanned::new(
                Firmware::Uefi { secure_boot: false },
                at.span(),
            )),
        };
        let machine = match self.child(at, "machine") {
            Some(m) => m
                .arg(0)
                .and_then(|e| self.string(e, "machine type"))
                .filter(|s| {
                    let ok = !s.value.is_empty()
                        && s.value
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
                    if !ok {
                        self.error(
                            diag::codes::INVALID_VALUE,
                            s.span,
                            format!("`{}` is not a machine type", s.value.escape_debug()),
                            "not a machine type",
                            "write q35, or a versioned type like pc-q35-7.2",
                        );
                    }
                    ok
                }),
            None => Some(Spanned::new("q35".to_owned(), at.span())),
        };
        let accel = match self.child(at, "accel") {
            Some(a) => a.arg(0).and_then(|e| {
                self.choice(
                    e,
                    "accelerator",
                    &[("kvm", Accel::Kvm), ("tcg", Accel::Tcg)],
                )
            }),
            None => Some(Spanned::new(Accel::Kvm, at.span())),
        };
        let mut passthrough = Vec::new();
        let mut usb_controllers = Vec::new();
        let mut usb = Vec::new();
        let mut disks = Vec::new();
        let mut cdroms = Vec::new();
        let mut networks = Vec::new();
        let mut hooks = Vec::new();
        for node in at.children() {
            let Some(child) = self.sub_known(node, at) else {
                continue;
            };
            match child.name() {
                "passthrough" => passthrough.extend(
                    child
                        .args()
                        .filter_map(|e| self.string(e, "device name"))
                        .collect::<Vec<_>>(),
                ),
                "usb-controller" => usb_controllers.extend(
                    child
                        .args()
                        .filter_map(|e| self.string(e, "device name"))
                        .collect::<Vec<_>>(),
                ),
                "usb" => usb.extend(
                    child
                        .args()
                        .filter_map(|e| self.parsed::<UsbId>(e, "USB vendor:product id"))
                        .collect::<Vec<_>>(),
                ),
                "disk" => disks.extend(self.disk(&child)),
                "cdrom" => cdroms.extend(child.arg(0).and_then(|e| self.path(e, "ISO path"))),
                "network" => networks.extend(self.network(&child)),
                "hook" => hooks.extend(self.hook(&child)),
                _ => {}
            }
        }
        let hyperv = self.child(at, "hyperv").map(|h| self.hyperv(&h));
        let hide_kvm = self.child(at, "hide-kvm").map(|h| h.span());
        let smbios = self.child(at, "smbios").and_then(|s| self.smbios(&s));
        let clock = match self.child(at, "clock") {
            Some(c) => {
                let offset = c.arg(0).and_then(|e| {
                    self.choice(
                        e,
                        "clock offset",
                        &[
                            ("utc", ClockOffset::Utc),
                            ("localtime", ClockOffset::Localtime),
                        ],
                    )
                });
                let hpet = c
                    .prop("hpet")
                    .and_then(|e| self.boolean(e, "hpet"))
                    .unwrap_or(false);
                offset.map(|offset| Clock { offset, hpet })
            }
            None => Some(Clock {
                offset: Spanned::new(ClockOffset::Localtime, at.span()),
                hpet: false,
            }),
        };
        Some(Vm {
            name: name?,
            memory: memory?,
            cpu: cpu?,
            firmware: firmware?,
            machine: machine?,
            accel: accel?,
            passthrough,
            usb,
            usb_controllers,
            disks,
            cdroms,
            networks,
            hyperv,
            hide_kvm,
            smbios,
            clock: clock?,
            hooks,
            span: at.node.span(),
        })
    }
}
