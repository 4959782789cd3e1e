//! Which devices vfio-pci takes at boot, and how: by `vendor:device` id, or by address when an
//! id would also catch a device the host keeps. Shared by the kernel command line, modprobe and
//! initramfs emitters so they always agree.

use std::collections::BTreeSet;

use crate::check::Context;
use crate::model::{PciAddress, PciId};
use crate::spec::{BindBy, BindTime};

/// Boot-time binding, resolved against the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootBinding {
    /// Ids for `vfio-pci.ids=` / `options vfio-pci ids=`, sorted, unique.
    pub ids: Vec<PciId>,
    /// Functions bound by address (`driver_override`), sorted.
    pub by_address: Vec<PciAddress>,
    /// Host drivers of the bound functions, which must load after vfio-pci (`softdep`).
    pub drivers: BTreeSet<String>,
}

impl BootBinding {
    /// Whether anything is bound at boot.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.by_address.is_empty()
    }
}

/// Drivers that never need a softdep: bridges, and vfio itself.
const NO_SOFTDEP: &[&str] = &["pcieport", "vfio-pci", "vfio_pci", "pci-stub", "pci_stub"];

/// Resolve every `bind "boot"` device of the spec.
pub fn boot_binding(cx: &Context<'_>) -> BootBinding {
    let mut ids = BTreeSet::new();
    let mut by_address = BTreeSet::new();
    let mut drivers = BTreeSet::new();
    for device in cx
        .spec
        .devices
        .iter()
        .filter(|d| d.bind.value.when == BindTime::Boot && d.is_guest())
    {
        let functions = cx.device_functions(device);
        let ambiguous = functions.iter().any(|f| {
            let Some(fd) = cx.host.pci.get(f) else {
                return false;
            };
            cx.host.pci.values().any(|o| {
                o.id == fd.id
                    && !functions.contains(&o.address)
                    && !cx
                        .declared_at(o.address)
                        .is_some_and(|d| d.bind.value.when == BindTime::Boot && d.is_guest())
            })
        });
        let by_addr = match device.bind.value.by {
            BindBy::Address => true,
            BindBy::Ids => false,
            BindBy::Auto => ambiguous,
        };
        for f in &functions {
            let Some(fd) = cx.host.pci.get(f) else {
                continue;
            };
            if by_addr {
                by_address.insert(*f);
            } else {
                ids.insert(fd.id);
            }
            if let Some(driver) = fd
                .driver
                .as_deref()
                // `device/driver-name` refuses the others; never write one into modprobe.d.
                .filter(|d| !NO_SOFTDEP.contains(d) && crate::host::is_driver_name(d))
            {
                drivers.insert(driver.replace('-', "_"));
            }
        }
    }
    BootBinding {
        ids: ids.into_iter().collect(),
        by_address: by_address.into_iter().collect(),
        drivers,
    }
}

/// `10de:13c2,10de:0fbb` — the value of `ids=`.
pub fn ids_value(ids: &[PciId]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
