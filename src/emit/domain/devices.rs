//! `<devices>`: disks and their controllers, network interfaces, passed PCI and USB devices,
//! and the fixed devices every VM gets.

use super::xml::Xml;
use crate::check::Context;
use crate::spec::{Disk, DiskBus, NetworkSource, Vm};

pub(super) fn devices(x: &mut Xml, vm: &Vm, cx: &Context<'_>) {
    // Target names are deterministic from spec order: virtio-blk disks take vda, vdb…; SCSI and
    // SATA disks, then CD-ROMs, share the sd sequence (libvirt wants target names unique, and
    // derives a SATA/SCSI disk's drive address from its letter).
    let mut vd = 0;
    let mut sd = 0;
    for d in &vm.disks {
        let (prefix, n) = match d.bus.value {
            DiskBus::VirtioBlk => ("vd", &mut vd),
            DiskBus::VirtioScsi | DiskBus::Sata => ("sd", &mut sd),
        };
        let target = format!("{prefix}{}", disk_letters(*n));
        *n += 1;
        disk(x, d, &target);
    }
    for iso in &vm.cdroms {
        let target = format!("sd{}", disk_letters(sd));
        sd += 1;
        x.open("disk", &[("type", "file"), ("device", "cdrom")], |x| {
            x.empty("driver", &[("name", "qemu"), ("type", "raw")]);
            x.empty("source", &[("file", &iso.value)]);
            x.empty("target", &[("dev", &target), ("bus", "sata")]);
            x.empty("readonly", &[]);
        });
    }
    scsi_controller(x, vm);
    for net in &vm.networks {
        let (kind, attr, name) = match &net.source.value {
            NetworkSource::Bridge(b) => ("bridge", "bridge", b),
            NetworkSource::Network(n) => ("network", "network", n),
        };
        x.open("interface", &[("type", kind)], |x| {
            if let Some(mac) = &net.mac {
                x.empty("mac", &[("address", &mac.value)]);
            }
            x.empty("source", &[(attr, name)]);
            x.empty("model", &[("type", &net.model.value)]);
        });
    }
    // managed='yes' for every function, boot-bound ones too: libvirt's detach is a no-op for a
    // device already on vfio-pci, and its reattach at shutdown is what returns a VM-start device.
    for a in cx.vm_functions(vm) {
        x.open(
            "hostdev",
            &[("mode", "subsystem"), ("type", "pci"), ("managed", "yes")],
            |x| {
                x.open("source", &[], |x| {
                    x.empty(
                        "address",
                        &[
                            ("domain", &format!("0x{:04x}", a.domain)),
                            ("bus", &format!("0x{:02x}", a.bus)),
                            ("slot", &format!("0x{:02x}", a.device)),
                            ("function", &format!("0x{:x}", a.function)),
                        ],
                    );
                });
            },
        );
    }
    for id in &vm.usb {
        x.open(
            "hostdev",
            &[("mode", "subsystem"), ("type", "usb"), ("managed", "yes")],
            |x| {
                x.open("source", &[], |x| {
                    x.empty("vendor", &[("id", &format!("0x{:04x}", id.value.vendor))]);
                    x.empty("product", &[("id", &format!("0x{:04x}", id.value.product))]);
                });
            },
        );
    }
}

fn disk(x: &mut Xml, d: &Disk, target: &str) {
    // A block device must be `type='block'` with `source dev`; `type='file'` with a `/dev` path
    // works by accident in QEMU and loses discard and native I/O.
    let block = d.path.value.starts_with("/dev/");
    let (kind, source) = if block {
        ("block", "dev")
    } else {
        ("file", "file")
    };
    let bus = match d.bus.value {
        DiskBus::VirtioBlk => "virtio",
        DiskBus::VirtioScsi => "scsi",
        DiskBus::Sata => "sata",
    };
    let mut driver: Vec<(&str, String)> = vec![
        ("name", "qemu".to_owned()),
        (
            "type",
            d.format
                .as_ref()
                .map_or_else(|| "raw".to_owned(), |f| f.value.clone()),
        ),
    ];
    for (key, value) in [("cache", &d.cache), ("io", &d.io), ("discard", &d.discard)] {
        if let Some(v) = value {
            driver.push((key, v.value.clone()));
        }
    }
    // libvirt takes `iothread` and `queues` on the disk only for virtio-blk; for virtio-scsi they
    // belong to the controller (see `scsi_controller`), and SATA has neither.
    if d.bus.value == DiskBus::VirtioBlk {
        if let Some(t) = &d.iothread {
            driver.push(("iothread", t.value.to_string()));
        }
        if let Some(q) = &d.queues {
            driver.push(("queues", q.value.to_string()));
        }
    }
    let driver: Vec<(&str, &str)> = driver.iter().map(|(k, v)| (*k, v.as_str())).collect();
    x.open("disk", &[("type", kind), ("device", "disk")], |x| {
        x.empty("driver", &driver);
        x.empty("source", &[(source, &d.path.value)]);
        x.empty("target", &[("dev", target), ("bus", bus)]);
        if d.readonly {
            x.empty("readonly", &[]);
        }
        if d.shareable {
            x.empty("shareable", &[]);
        }
    });
}

/// One virtio-scsi controller for all virtio-scsi disks. libvirt puts a disk without an
/// `<address>` on controller 0, so more controllers would need guest addresses, which passplan
/// leaves to libvirt. The controller takes the first I/O thread a virtio-scsi disk names and
/// the most queues any asks for.
fn scsi_controller(x: &mut Xml, vm: &Vm) {
    let scsi: Vec<&Disk> = vm
        .disks
        .iter()
        .filter(|d| d.bus.value == DiskBus::VirtioScsi)
        .collect();
    if scsi.is_empty() {
        return;
    }
    let iothread = scsi
        .iter()
        .find_map(|d| d.iothread.as_ref().map(|t| t.value));
    let queues = scsi
        .iter()
        .filter_map(|d| d.queues.as_ref().map(|q| q.value))
        .max();
    let mut driver = Vec::new();
    if let Some(t) = iothread {
        driver.push(("iothread", t.to_string()));
    }
    if let Some(q) = queues {
        driver.push(("queues", q.to_string()));
    }
    let driver: Vec<(&str, &str)> = driver.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let attrs = [("type", "scsi"), ("index", "0"), ("model", "virtio-scsi")];
    if driver.is_empty() {
        x.empty("controller", &attrs);
    } else {
        x.open("controller", &attrs, |x| x.empty("driver", &driver));
    }
}

/// libvirt's disk suffixes: 0 → `a`, 25 → `z`, 26 → `aa`, 701 → `zz`, 702 → `aaa`.
fn disk_letters(index: usize) -> String {
    let mut letters = Vec::new();
    let mut i = index;
    loop {
        // `i % 26` is below 26, so the narrowing cannot truncate.
        letters.push(char::from(b'a' + u8::try_from(i % 26).unwrap_or(0)));
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    letters.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::disk_letters;

    #[test]
    fn disk_letters_match_libvirt() {
        for (i, want) in [
            (0, "a"),
            (25, "z"),
            (26, "aa"),
            (51, "az"),
            (701, "zz"),
            (702, "aaa"),
        ] {
            assert_eq!(disk_letters(i), want, "{i}");
        }
    }
}
