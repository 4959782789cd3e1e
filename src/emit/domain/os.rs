//! `<sysinfo>` (SMBIOS values) and `<os>` (machine type, firmware, boot).

use super::xml::Xml;
use crate::spec::{Firmware, Smbios, Vm};

pub(super) fn sysinfo(x: &mut Xml, vm: &Vm) {
    let Some(Smbios::Values { bios, system }) = vm.smbios.as_ref().map(|s| &s.value) else {
        return;
    };
    let entries = |x: &mut Xml, block: &str, list: &[(String, String)]| {
        if list.is_empty() {
            return;
        }
        x.open(block, &[], |x| {
            for (name, value) in list {
                x.text("entry", &[("name", name)], value);
            }
        });
    };
    x.open("sysinfo", &[("type", "smbios")], |x| {
        entries(x, "bios", bios);
        entries(x, "system", system);
    });
}

pub(super) fn os(x: &mut Xml, vm: &Vm) {
    let firmware = vm.firmware.value;
    // Firmware autoselection (`firmware='efi'`) lets libvirt pick the OVMF build and vars
    // template from the distribution's descriptors, so no path is hard-coded here.
    let attrs: &[(&str, &str)] = match firmware {
        Firmware::Uefi { .. } => &[("firmware", "efi")],
        Firmware::Bios => &[],
    };
    x.open("os", attrs, |x| {
        x.text(
            "type",
            &[("arch", "x86_64"), ("machine", &vm.machine.value)],
            "hvm",
        );
        if let Firmware::Uefi { secure_boot } = firmware {
            // Both features stated either way: left open, libvirt may pick a secure-boot build
            // with Microsoft keys enrolled on one distribution and a plain one on another.
            let on = if secure_boot { "yes" } else { "no" };
            x.open("firmware", &[], |x| {
                x.empty("feature", &[("enabled", on), ("name", "enrolled-keys")]);
                x.empty("feature", &[("enabled", on), ("name", "secure-boot")]);
            });
            if secure_boot {
                x.empty("loader", &[("secure", "yes")]);
            }
        }
        match vm.smbios.as_ref().map(|s| &s.value) {
            Some(Smbios::Host) => x.empty("smbios", &[("mode", "host")]),
            Some(Smbios::Values { .. }) => x.empty("smbios", &[("mode", "sysinfo")]),
            Some(Smbios::None) | None => {}
        }
    });
}
