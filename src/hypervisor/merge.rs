//! Reconcile by merge: passplan's domain XML over the live inactive definition.
//!
//! passplan owns a fixed set of a domain's elements ([`OWNED`]: memory, CPU tuning, `os`,
//! `features`, `cpu`, `clock`, the lifecycle actions) and three kinds of device (disks,
//! interfaces, hostdevs, plus the virtio-scsi controller when it emits one). Everything else in
//! the live definition is kept as libvirt or the user left it: `uuid`, `metadata`, `emulator`,
//! the controllers, inputs, graphics, video, audio and memballoon libvirt added, serial
//! consoles, TPMs, channels…
//!
//! Inside what passplan owns, libvirt's guest-visible data is carried over from the live
//! definition, because a guest that sees it change sees new hardware (and Windows licences
//! break): the `<address>` of every device (matched: hostdevs by their host source, disks by
//! target, interfaces by MAC, else by source, else by order; controllers by type and index),
//! NIC `<mac>`s, the firmware `loader` and `nvram` paths (while the firmware kind is the same),
//! `boot` order, and the versioned machine type libvirt fixed at define (`pc-q35-7.2` for `q35`).

use super::tree::Element;

/// Top-level elements passplan owns whole, whether or not the spec currently asks for them (a
/// `cputune` left from an earlier spec with pins must go when the pins go).
pub const OWNED: &[&str] = &[
    "name",
    "memory",
    "currentMemory",
    "memoryBacking",
    "vcpu",
    "iothreads",
    "cputune",
    "numatune",
    "sysinfo",
    "os",
    "features",
    "cpu",
    "clock",
    "on_poweroff",
    "on_reboot",
    "on_crash",
];

/// Device kinds passplan owns as a whole list: the spec's disks, NICs and passed-through
/// devices are all of them.
const OWNED_DEVICES: &[&str] = &["disk", "interface", "hostdev"];

/// Children of a device that libvirt generates and passplan never writes.
const CARRIED_DEVICE_CHILDREN: &[&str] = &["address", "mac", "alias"];

/// Attributes libvirt fills in on `<cpu>` when they are left out.
const CPU_DEFAULTED: &[&str] = &["check", "match", "migratable"];

/// The part of a definition passplan owns: the [`OWNED`] top-level elements and the devices of
/// the [`OWNED_DEVICES`] kinds, in their order. Comparing this part of two definitions tells a
/// change to passplan's elements (drift) from one to everything else, which is the user's.
pub fn owned_part(domain: &Element) -> Element {
    let mut out = Element {
        children: Vec::new(),
        ..domain.clone()
    };
    for c in &domain.children {
        if OWNED.contains(&c.name.as_str()) {
            out.children.push(c.clone());
        } else if c.name == "devices" {
            out.children.push(Element {
                children: c
                    .children
                    .iter()
                    .filter(|d| OWNED_DEVICES.contains(&d.name.as_str()))
                    .cloned()
                    .collect(),
                ..c.clone()
            });
        }
    }
    out
}

/// The definition to give libvirt: `desired` (passplan's XML) merged over `live` (the current
/// inactive definition, if the domain exists).
pub fn merge(desired: &Element, live: Option<&Element>) -> Element {
    let Some(live) = live else {
        return desired.clone();
    };
    let mut out = live.clone();
    // The domain type (kvm, or qemu for TCG) is the spec's; other attributes (namespaces) stay.
    for (k, v) in &desired.attrs {
        out.attrs.insert(k.clone(), v.clone());
    }
    let owned =
        |name: &str| OWNED.contains(&name) || (name != "devices" && desired.child(name).is_some());
    out.children.retain(|c| !owned(&c.name));
    for d in desired.children.iter().filter(|c| owned(&c.name)) {
        let mut d = d.clone();
        match d.name.as_str() {
            "os" => {
                if let Some(l) = live.child("os") {
                    carry_os(&mut d, l);
                }
            }
            "cpu" => {
                if let Some(l) = live.child("cpu") {
                    for key in CPU_DEFAULTED {
                        if let (None, Some(v)) = (d.attrs.get(*key), l.attrs.get(*key)) {
                            d.attrs.insert((*key).to_owned(), v.clone());
                        }
                    }
                }
            }
            _ => {}
        }
        out.children.push(d);
    }
    let empty = Element::new("devices");
    let live_devices = live.child("devices").unwrap_or(&empty);
    let merged = merge_devices(desired.child("devices").unwrap_or(&empty), live_devices);
    match out.child_mut("devices") {
        Some(devices) => *devices = merged,
        None => out.children.push(merged),
    }
    out
}

fn carry_os(d: &mut Element, live: &Element) {
    // libvirt resolves a machine alias at define (`q35` → `pc-q35-7.2`) and keeps that
    // version, so the guest does not see a new chipset after a QEMU upgrade.
    if let (Some(dt), Some(lt)) = (d.child_mut("type"), live.child("type"))
        && let (Some(want), Some(have)) = (dt.attr("machine"), lt.attr("machine"))
    {
        let versioned = match want {
            "q35" => Some("pc-q35-"),
            "pc" => Some("pc-i440fx-"),
            _ => None,
        };
        if versioned.is_some_and(|p| have.starts_with(p)) {
            let have = have.to_owned();
            dt.attrs.insert("machine".into(), have);
        }
    }
    // The firmware files libvirt chose, and the guest's UEFI variables, belong to this
    // firmware kind: carried while it stays, dropped when the spec switches BIOS ↔ UEFI.
    if d.attr("firmware") == live.attr("firmware") {
        for name in ["loader", "nvram"] {
            let Some(l) = live.child(name) else { continue };
            match d.child_mut(name) {
                Some(el) => {
                    let mut merged = l.clone();
                    merged.attrs.extend(el.attrs.clone());
                    if !el.text.is_empty() {
                        merged.text.clone_from(&el.text);
                    }
                    *el = merged;
                }
                None => d.children.push(l.clone()),
            }
        }
    }
    if d.child("boot").is_none() {
        d.children
            .extend(live.children.iter().filter(|c| c.name == "boot").cloned());
    }
    // os children have a fixed order in libvirt's output (type, firmware, loader, nvram, boot…).
    let order = [
        "type", "firmware", "loader", "nvram", "boot", "bootmenu", "smbios",
    ];
    d.children.sort_by_key(|c| {
        order
            .iter()
            .position(|n| *n == c.name)
            .unwrap_or(order.len())
    });
}

/// The key a device is matched on, between the desired and the live definition.
fn device_key(dev: &Element) -> Option<String> {
    let canonical = |e: &Element| e.canonical().to_xml();
    match dev.name.as_str() {
        "hostdev" => dev.child("source").map(|s| {
            format!(
                "hostdev {} {}",
                dev.attr("type").unwrap_or(""),
                canonical(s)
            )
        }),
        "disk" => dev
            .child("target")
            .and_then(|t| t.attr("dev"))
            .map(|t| format!("disk {t}")),
        "controller" => Some(format!(
            "controller {} {}",
            dev.attr("type").unwrap_or(""),
            dev.attr("index").unwrap_or("0")
        )),
        "interface" => dev
            .child("mac")
            .and_then(|m| m.attr("address"))
            .map(|m| format!("interface mac {}", m.to_ascii_lowercase())),
        _ => None,
    }
}

fn merge_devices(desired: &Element, live: &Element) -> Element {
    let mut out = Element {
        children: Vec::new(),
        ..live.clone()
    };
    let mut used = vec![false; live.children.len()];
    let mut merged = Vec::new();
    for d in &desired.children {
        let key = device_key(d);
        let mut found = key.as_ref().and_then(|k| {
            live.children
                .iter()
                .enumerate()
                .find(|(i, l)| !used[*i] && device_key(l).as_ref() == Some(k))
                .map(|(i, _)| i)
        });
        if found.is_none() && d.name == "interface" {
            // Without a MAC in the spec: the live NIC on the same source, else the next in order.
            let same_source = |l: &Element| {
                l.attr("type") == d.attr("type")
                    && l.child("source").map(Element::canonical)
                        == d.child("source").map(Element::canonical)
            };
            found = live
                .children
                .iter()
                .enumerate()
                .find(|(i, l)| !used[*i] && l.name == "interface" && same_source(l))
                .or_else(|| {
                    live.children
                        .iter()
                        .enumerate()
                        .find(|(i, l)| !used[*i] && l.name == "interface")
                })
                .map(|(i, _)| i);
        }
        let mut d = d.clone();
        if let Some(i) = found {
            used[i] = true;
            let l = &live.children[i];
            for name in CARRIED_DEVICE_CHILDREN {
                if d.child(name).is_none()
                    && let Some(c) = l.child(name)
                {
                    // Where libvirt writes them: a NIC's MAC first, alias and address last.
                    if *name == "mac" {
                        d.children.insert(0, c.clone());
                    } else {
                        d.children.push(c.clone());
                    }
                }
            }
        }
        merged.push(d);
    }
    // What passplan does not own stays as it is; owned kinds not matched are no longer wanted.
    for (i, l) in live.children.iter().enumerate() {
        if !used[i] && !OWNED_DEVICES.contains(&l.name.as_str()) {
            out.children.push(l.clone());
        }
    }
    out.children.extend(merged);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(xml: &str) -> Element {
        Element::parse(xml).unwrap()
    }

    /// What passplan emits for a small VM with a GPU, a disk and a NIC.
    const OURS: &str = r#"<domain type="kvm">
      <name>w</name>
      <memory unit="KiB">8388608</memory>
      <currentMemory unit="KiB">8388608</currentMemory>
      <vcpu placement="static">4</vcpu>
      <cputune><vcpupin vcpu="0" cpuset="2"/></cputune>
      <os firmware="efi"><type arch="x86_64" machine="q35">hvm</type></os>
      <features><acpi/><apic/></features>
      <cpu mode="host-passthrough" check="none" migratable="on"><topology sockets="1" cores="2" threads="2"/></cpu>
      <on_poweroff>destroy</on_poweroff>
      <devices>
        <disk type="file" device="disk"><driver name="qemu" type="raw"/><source file="/a.img"/><target dev="vda" bus="virtio"/></disk>
        <interface type="bridge"><source bridge="br0"/><model type="virtio"/></interface>
        <hostdev mode="subsystem" type="pci" managed="yes"><source><address domain="0x0000" bus="0x0d" slot="0x00" function="0x0"/></source></hostdev>
      </devices>
    </domain>"#;

    /// What libvirt stores after defining it, plus a hand-added serial console and metadata.
    const LIVE: &str = "<domain type='kvm'>
      <name>w</name>
      <uuid>5b3c5a9e-1111-2222-3333-444455556666</uuid>
      <metadata><x:app xmlns:x='urn:x'/></metadata>
      <memory unit='KiB'>8388608</memory>
      <currentMemory unit='KiB'>8388608</currentMemory>
      <vcpu placement='static'>4</vcpu>
      <cputune><vcpupin vcpu='0' cpuset='2'/></cputune>
      <os firmware='efi'><type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
        <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>
        <nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'>/var/lib/libvirt/qemu/nvram/w_VARS.fd</nvram>
        <boot dev='hd'/></os>
      <features><acpi/><apic/></features>
      <cpu mode='host-passthrough' check='none' migratable='on'><topology sockets='1' cores='2' threads='2'/></cpu>
      <on_poweroff>destroy</on_poweroff>
      <devices>
        <emulator>/usr/bin/qemu-system-x86_64</emulator>
        <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/a.img'/><target dev='vda' bus='virtio'/>
          <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/></disk>
        <controller type='usb' index='0' model='qemu-xhci'><address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></controller>
        <interface type='bridge'><mac address='52:54:00:aa:bb:cc'/><source bridge='br0'/><model type='virtio'/>
          <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></interface>
        <serial type='pty'><target type='isa-serial' port='0'/></serial>
        <hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x0d' slot='0x00' function='0x0'/></source>
          <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/></hostdev>
        <memballoon model='virtio'/>
      </devices>
    </domain>";

    #[test]
    fn a_converged_domain_merges_to_itself() {
        let live = el(LIVE);
        let merged = merge(&el(OURS), Some(&live));
        assert_eq!(merged.canonical().to_xml(), live.canonical().to_xml());
    }

    #[test]
    fn a_change_touches_only_what_the_spec_changed() {
        let live = el(LIVE);
        let ours = OURS
            .replace("8388608", "4194304")
            .replace(r#"cpuset="2""#, r#"cpuset="3""#);
        let merged = merge(&el(&ours), Some(&live)).canonical().to_xml();
        let before = live.canonical().to_xml();
        let diff: Vec<String> = similar::TextDiff::from_lines(&before, &merged)
            .iter_all_changes()
            .filter(|c| c.tag() != similar::ChangeTag::Equal)
            .map(|c| format!("{}{}", c.tag(), c.value().trim()))
            .collect();
        assert_eq!(
            diff,
            [
                "-<memory unit='KiB'>8388608</memory>",
                "-<currentMemory unit='KiB'>8388608</currentMemory>",
                "+<memory unit='KiB'>4194304</memory>",
                "+<currentMemory unit='KiB'>4194304</currentMemory>",
                "-<vcpupin cpuset='2' vcpu='0'/>",
                "+<vcpupin cpuset='3' vcpu='0'/>",
            ]
        );
    }

    #[test]
    fn guest_visible_values_and_unmanaged_elements_are_kept() {
        let merged = merge(&el(OURS), Some(&el(LIVE))).to_xml();
        for kept in [
            "5b3c5a9e-1111-2222-3333-444455556666",
            "52:54:00:aa:bb:cc",
            "bus='0x05'",
            "bus='0x04'",
            "qemu-xhci",
            "isa-serial",
            "memballoon",
            "pc-q35-7.2",
            "/var/lib/libvirt/qemu/nvram/w_VARS.fd",
            "<boot dev='hd'/>",
            "urn:x",
            "/usr/bin/qemu-system-x86_64",
        ] {
            assert!(merged.contains(kept), "{kept} missing from\n{merged}");
        }
    }

    #[test]
    fn owned_elements_and_devices_the_spec_dropped_go() {
        let ours = OURS
            .replace(r#"<cputune><vcpupin vcpu="0" cpuset="2"/></cputune>"#, "")
            .replace(r#"<hostdev mode="subsystem" type="pci" managed="yes"><source><address domain="0x0000" bus="0x0d" slot="0x00" function="0x0"/></source></hostdev>"#, "")
            .replace(r#"os firmware="efi""#, "os");
        let merged = merge(&el(&ours), Some(&el(LIVE))).to_xml();
        for gone in ["cputune", "hostdev", "nvram", "loader"] {
            assert!(!merged.contains(gone), "{gone} kept in\n{merged}");
        }
        assert!(merged.contains("isa-serial"));
    }

    #[test]
    fn a_new_domain_is_the_desired_xml() {
        assert_eq!(merge(&el(OURS), None), el(OURS));
    }
}
