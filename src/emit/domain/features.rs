//! `<features>`: ACPI/APIC, Hyper-V enlightenments in libvirt's order, KVM hiding, the I/O APIC.

use std::collections::BTreeSet;

use super::xml::Xml;
use crate::spec::{Accel, Firmware, Vm};

/// Hyper-V enlightenments in the order libvirt formats them (its `virDomainHyperv` enum), with
/// `vendor_id` between `reset` and `frequencies` where libvirt puts it. Every name the decoder
/// accepts is here; a name that is not would be emitted after these, never dropped.
const HYPERV_ORDER: &[&str] = &[
    "relaxed",
    "vapic",
    "spinlocks",
    "vpindex",
    "runtime",
    "synic",
    "stimer",
    "reset",
    "vendor_id",
    "frequencies",
    "reenlightenment",
    "tlbflush",
    "ipi",
    "evmcs",
    "avic",
];

/// The default enlightenments: the seed tutorial's set, which every Windows guest since 7 uses.
const HYPERV_DEFAULT: &[&str] = &[
    "relaxed",
    "vapic",
    "spinlocks",
    "vpindex",
    "synic",
    "stimer",
    "reset",
    "frequencies",
];

/// Spinlock retries before the guest notifies the hypervisor: the value Hyper-V and every seed
/// use.
const SPINLOCK_RETRIES: &str = "8191";

pub(super) fn features(x: &mut Xml, vm: &Vm) {
    x.open("features", &[], |x| {
        x.empty("acpi", &[]);
        x.empty("apic", &[]);
        if let Some(hv) = &vm.hyperv {
            let mut set: BTreeSet<&str> = HYPERV_DEFAULT.iter().copied().collect();
            set.extend(hv.enable.iter().map(|e| e.value.as_str()));
            // Disable wins over enable: it is the explicit removal of something.
            for d in &hv.disable {
                set.remove(d.value.as_str());
            }
            let vendor_id = hv.vendor_id.as_ref().map(|v| v.value.as_str());
            let known = HYPERV_ORDER.iter().copied();
            let unknown: Vec<&str> = set
                .iter()
                .copied()
                .filter(|n| !HYPERV_ORDER.contains(n))
                .collect();
            // `mode='custom'` is what libvirt writes back, so the live tree diff stays quiet.
            x.open("hyperv", &[("mode", "custom")], |x| {
                for name in known.chain(unknown) {
                    match name {
                        "vendor_id" => {
                            if let Some(v) = vendor_id {
                                x.empty("vendor_id", &[("state", "on"), ("value", v)]);
                            }
                        }
                        "spinlocks" if set.contains(name) => x.empty(
                            "spinlocks",
                            &[("state", "on"), ("retries", SPINLOCK_RETRIES)],
                        ),
                        _ if set.contains(name) => x.empty(name, &[("state", "on")]),
                        _ => {}
                    }
                }
            });
        }
        if vm.hide_kvm.is_some() {
            x.open("kvm", &[], |x| x.empty("hidden", &[("state", "on")]));
        }
        // OVMF's secure-boot builds need SMM to protect their variable store; libvirt adds it
        // at start when the firmware descriptor asks, stating it keeps define and dumpxml equal.
        if matches!(vm.firmware.value, Firmware::Uefi { secure_boot: true }) {
            x.empty("smm", &[("state", "on")]);
        }
        // q35 with a passed-through GPU needs the in-kernel IOAPIC (QEMU 4.0's default changed);
        // there is no kernel IOAPIC without KVM.
        if vm.accel.value == Accel::Kvm {
            x.empty("ioapic", &[("driver", "kvm")]);
        }
    });
}
