//! The domain XML emitter against the committed examples and against libvirt's own schema.
//!
//! Every example's domains are parsed back, validated with the real `virt-xml-validate` (libvirt
//! 9.0's Relax NG schema, package `libvirt-clients`); their exact bytes are golden files in
//! `tests/golden/build/<example>/etc/libvirt/qemu/` (tests/it/build.rs). Extra specs written
//! here exercise every option the emitter has, so each element it can produce has been through
//! the validator.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;
use std::process::Command;

use passplan::check::Checked;
use passplan::emit::domain::domain_xml;
use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};

/// Set by CI: a missing validator is a failure there, not a skip.
const REQUIRE_TOOLS: &str = "PASSPLAN_REQUIRE_TOOLS";

/// libvirt's schema validator.
const VALIDATOR: &str = "virt-xml-validate";

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every committed example with a spec and a host root, by directory name, sorted.
fn examples() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(manifest().join("examples"))
        .expect("read examples/")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.join("host.kdl").is_file() && p.join("root").is_dir())
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no examples found");
    names
}

/// `spec` decoded and checked against the example host `example`; panics with the
/// diagnostics when either fails, since every spec here is meant to be valid.
fn checked(example: &str, spec: &str) -> Checked {
    let (decoded, diags) = passplan::spec::parse(spec);
    let decoded = decoded.unwrap_or_else(|| panic!("{example}: spec does not decode: {diags:#?}"));
    let root = manifest().join("examples").join(example).join("root");
    let host = passplan::host::discover(&root).expect("discover the example host");
    let (checked, diags) = passplan::check::check(decoded, host);
    checked.unwrap_or_else(|| panic!("{example}: spec does not check: {diags:#?}"))
}

fn example(name: &str) -> Checked {
    let path = manifest().join("examples").join(name).join("host.kdl");
    checked(name, &fs::read_to_string(&path).expect("read host.kdl"))
}

/// Each VM's name and domain XML.
fn domains(checked: &Checked) -> Vec<(String, String)> {
    let cx = checked.context();
    checked
        .spec
        .vms
        .iter()
        .map(|vm| (vm.name.value.clone(), domain_xml(vm, &cx)))
        .collect()
}

/// An element read back: its `/`-joined path from the root, attributes and text.
#[derive(Debug)]
struct Element {
    path: String,
    attrs: Vec<(String, String)>,
    text: String,
}

impl Element {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Every element in document order, with escapes resolved; panics on malformed XML.
fn read_back(xml: &str) -> Vec<Element> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut out: Vec<Element> = Vec::new();
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("malformed XML ({e}):\n{xml}"));
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                stack.push(e.name().as_ref().to_owned());
                let attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.expect("well-formed attribute");
                        let value = a
                            .normalized_value(XmlVersion::Implicit1_0)
                            .expect("attribute value");
                        (a.key.as_ref().to_owned(), value.into_owned())
                    })
                    .collect();
                out.push(Element {
                    path: stack.join("/"),
                    attrs,
                    text: String::new(),
                });
                if matches!(event, Event::Empty(_)) {
                    stack.pop();
                } else {
                    open.push(out.len() - 1);
                }
            }
            Event::End(_) => {
                stack.pop();
                open.pop();
            }
            Event::Text(t) => {
                if let Some(&i) = open.last() {
                    out[i].text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let text = match r.resolve_char_ref().expect("character reference") {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&r)
                        .expect("predefined entity")
                        .to_owned(),
                };
                if let Some(&i) = open.last() {
                    out[i].text.push_str(&text);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(stack.is_empty(), "unclosed elements {stack:?}");
    // Between child elements the text is the writer's indentation, not content.
    for e in &mut out {
        if e.text.trim().is_empty() {
            e.text.clear();
        }
    }
    out
}

fn at<'a>(tree: &'a [Element], path: &str) -> Vec<&'a Element> {
    tree.iter().filter(|e| e.path == path).collect()
}

/// Runs `virt-xml-validate` on `xml`. Returns `false` (after saying so loudly) when the tool is
/// not installed and CI did not require it; panics with the validator's output when it rejects.
fn validate(label: &str, xml: &str) -> bool {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("domain.xml");
    fs::write(&file, xml).expect("write the domain XML");
    let output = match Command::new(VALIDATOR).arg(&file).arg("domain").output() {
        Ok(output) => output,
        Err(e) if e.kind() == ErrorKind::NotFound => return missing(label, "libvirt-clients"),
        Err(e) => panic!("run {VALIDATOR}: {e}"),
    };
    // The validator is a shell script around `xmllint` (package libxml2-utils), which
    // libvirt-clients only recommends; the shell reports a missing command with status 127.
    if output.status.code() == Some(127) {
        return missing(label, "libxml2-utils");
    }
    assert!(
        output.status.success(),
        "{label}: libvirt's schema rejects the domain XML\n--- {VALIDATOR} stderr:\n{}\n--- stdout:\n{}\n--- XML:\n{xml}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout),
    );
    true
}

/// A missing validator: a failure under `PASSPLAN_REQUIRE_TOOLS=1` (CI), else a loud skip.
fn missing(label: &str, package: &str) -> bool {
    assert!(
        std::env::var_os(REQUIRE_TOOLS).is_none_or(|v| v != "1"),
        "{VALIDATOR} cannot run and {REQUIRE_TOOLS}=1 requires it (apt-get install {package})"
    );
    eprintln!(
        "SKIPPED: {VALIDATOR} not installed (scripts/test installs it; needs {package}) — \
         {label} was not validated against libvirt's schema"
    );
    false
}

#[test]
fn example_domains_read_back_with_their_key_elements() {
    for name in examples() {
        let checked = example(&name);
        let cx = checked.context();
        for vm in &checked.spec.vms {
            let label = format!("{name}/{}", vm.name.value);
            let tree = read_back(&domain_xml(vm, &cx));
            assert_eq!(tree[0].path, "domain", "{label}");
            assert_eq!(tree[0].attr("type"), Some("kvm"), "{label}");
            assert_eq!(at(&tree, "domain/name")[0].text, vm.name.value, "{label}");
            assert_eq!(
                at(&tree, "domain/memory")[0].text,
                (vm.memory.size.value.0 / 1024).to_string(),
                "{label}: memory in KiB"
            );
            assert_eq!(
                at(&tree, "domain/vcpu")[0].text,
                vm.cpu.vcpus.value.to_string(),
                "{label}"
            );
            let pins = cx.vm_pins(vm).unwrap_or_default();
            let pinned: Vec<String> = at(&tree, "domain/cputune/vcpupin")
                .iter()
                .map(|e| e.attr("cpuset").expect("cpuset").to_owned())
                .collect();
            let want: Vec<String> = pins.iter().map(u32::to_string).collect();
            assert_eq!(pinned, want, "{label}: one vcpupin per vCPU, in order");
            assert_eq!(
                at(&tree, "domain/cpu")[0].attr("mode"),
                Some("host-passthrough"),
                "{label}"
            );
            let pci: Vec<&Element> = at(&tree, "domain/devices/hostdev")
                .into_iter()
                .filter(|e| e.attr("type") == Some("pci"))
                .collect();
            assert_eq!(
                pci.len(),
                cx.vm_functions(vm).len(),
                "{label}: one hostdev per function"
            );
            assert!(pci.iter().all(|e| e.attr("managed") == Some("yes")));
            assert_eq!(
                at(&tree, "domain/devices/hostdev/source/vendor").len(),
                vm.usb.len(),
                "{label}: USB hostdevs"
            );
            assert_eq!(
                at(&tree, "domain/devices/disk").len(),
                vm.disks.len() + vm.cdroms.len(),
                "{label}: disks and CD-ROMs"
            );
            assert_eq!(
                at(&tree, "domain/devices/interface").len(),
                vm.networks.len(),
                "{label}"
            );
            assert_eq!(
                at(&tree, "domain/features/kvm/hidden").len(),
                usize::from(vm.hide_kvm.is_some()),
                "{label}"
            );
            assert!(
                at(&tree, "domain/devices/emulator").is_empty()
                    && at(&tree, "domain/uuid").is_empty()
                    && !tree.iter().any(|e| e.path.ends_with("/address")
                        && e.path != "domain/devices/hostdev/source/address"),
                "{label}: uuid, emulator and guest addresses are libvirt's"
            );
        }
    }
}

#[test]
fn example_domains_pass_libvirts_schema() {
    for name in examples() {
        for (vm, xml) in domains(&example(&name)) {
            if !validate(&format!("{name}/{vm}"), &xml) {
                return;
            }
        }
    }
}

/// The workstation (Ryzen 9 3900X, AMD) with every option the emitter has: all three disk
/// buses, block and file disks, qcow2, CD-ROMs, secure boot, a bridge and a libvirt network with
/// a fixed MAC, USB, hyperv with changes to the default set, HPET and UTC.
const EVERY_OPTION_UEFI: &str = r#"
host "workstation" {
    bridge "br0" interface="enp5s0" backend="networkd"
}
gpu "rtx3080" { pci "0d:00.0" id="10de:2206"; role "guest"; bind "boot" }
gpu "rx5700" { pci "0c:00.0" id="1002:731f"; role "host" }
device "guest-nvme" { pci "04:00.0" id="144d:a808" }

vm "every-option" {
    memory "16GiB" hugepages="static" page-size="1GiB"
    cpu {
        vcpus 12 threads=2
        pin cores="6-11"
        emulator "0-3"
        iothreads 2 cpus="4-5,12-17"
    }
    firmware "uefi" secure-boot=#true
    machine "pc-q35-7.2"
    passthrough "rtx3080" "guest-nvme"
    usb "046d:c52b"
    disk "/var/lib/libvirt/images/it's & <odd>.img" bus="virtio-scsi" cache="none" io="threads" discard="unmap" queues=8 iothread=1
    disk "/var/lib/libvirt/images/data.qcow2" bus="virtio-blk" format="qcow2" cache="writeback" io="io_uring" discard="ignore" queues=4 iothread=2
    disk "/dev/disk/by-id/ata-Old_Disk" bus="sata" cache="directsync" io="native"
    cdrom "/iso/Win11.iso"
    cdrom "/iso/virtio-win.iso"
    network bridge="br0" model="virtio" mac="52:54:00:12:34:56"
    network network="default" model="e1000e"
    hyperv vendor-id="AuthenticAMD" {
        enable "runtime" "reenlightenment" "tlbflush" "ipi" "evmcs" "avic"
        disable "frequencies"
    }
    hide-kvm
    smbios "host"
    clock "utc" hpet=#true
}
"#;

/// seed-001's host (i7-8700K, Intel) with SeaBIOS, unpinned vCPUs, no hyperv, local time, a
/// plain SATA disk, and SMBIOS values filled in after decoding.
const EVERY_OPTION_BIOS: &str = r#"
gpu "rtx2080ti" { pci "01:00.0" id="10de:1e07"; role "guest" }
gpu "rx590" { pci "02:00.0" id="1002:67df"; role "host" }

vm "bios" {
    memory "4GiB"
    cpu { vcpus 4 threads=1 sockets=2 }
    firmware "bios"
    disk "/var/lib/libvirt/images/bios.img" bus="sata"
    network
    clock "localtime"
}
"#;

#[test]
fn every_option_passes_libvirts_schema() {
    let uefi = checked("workstation", EVERY_OPTION_UEFI);
    let (_, xml) = &domains(&uefi)[0];
    let tree = read_back(xml);
    let names = |path: &str| -> Vec<String> {
        tree.iter()
            .filter_map(|e| e.path.strip_prefix(path).map(str::to_owned))
            .filter(|rest| !rest.contains('/'))
            .collect()
    };
    assert_eq!(
        names("domain/features/hyperv/"),
        [
            "relaxed",
            "vapic",
            "spinlocks",
            "vpindex",
            "runtime",
            "synic",
            "stimer",
            "reset",
            "vendor_id",
            "reenlightenment",
            "tlbflush",
            "ipi",
            "evmcs",
            "avic"
        ]
    );
    assert_eq!(
        at(&tree, "domain/devices/disk/source")[0].attr("file"),
        Some("/var/lib/libvirt/images/it's & <odd>.img")
    );
    assert_eq!(at(&tree, "domain/os/loader")[0].attr("secure"), Some("yes"));
    assert_eq!(at(&tree, "domain/features/smm").len(), 1);
    assert_eq!(
        at(&tree, "domain/devices/interface/mac")[0].attr("address"),
        Some("52:54:00:12:34:56")
    );
    assert_eq!(
        at(&tree, "domain/clock/timer")
            .iter()
            .map(|e| e.attr("present").unwrap_or("-"))
            .collect::<Vec<_>>(),
        ["-", "-", "yes", "yes"],
        "hpet present, hypervclock present"
    );
    let uefi_xml = xml.clone();

    let mut bios = checked("seed-001", EVERY_OPTION_BIOS);
    bios.spec.vms[0].smbios = Some(passplan::spec::Spanned::new(
        passplan::spec::Smbios::Values {
            bios: vec![
                ("vendor".into(), "American Megatrends Inc.".into()),
                ("version".into(), "0812".into()),
                ("date".into(), "02/24/2023".into()),
                ("release".into(), "8.12".into()),
            ],
            system: vec![
                ("manufacturer".into(), "ASUS & Co <test>".into()),
                ("product".into(), "System Product Name".into()),
                ("version".into(), "System Version".into()),
                ("serial".into(), "System Serial Number".into()),
                ("sku".into(), "SKU".into()),
                ("family".into(), "To be filled by O.E.M.".into()),
            ],
        },
        (0, 0).into(),
    ));
    let (_, xml) = &domains(&bios)[0];
    let tree = read_back(xml);
    assert!(at(&tree, "domain/os")[0].attr("firmware").is_none());
    assert_eq!(
        at(&tree, "domain/os/smbios")[0].attr("mode"),
        Some("sysinfo")
    );
    assert_eq!(
        at(&tree, "domain/sysinfo/system/entry")[0].text,
        "ASUS & Co <test>"
    );
    assert!(
        at(&tree, "domain/cpu/feature").is_empty(),
        "topoext is AMD only"
    );
    assert!(at(&tree, "domain/cputune").is_empty());

    // Validated last, so the assertions above run even where the validator is missing.
    if validate("every-option (UEFI)", &uefi_xml) {
        validate("every-option (BIOS, SMBIOS values)", xml);
    }
}

#[test]
fn compile_defines_each_domain_and_keeps_a_readable_copy() {
    let checked = example("workstation");
    let source = passplan::desired::SpecSource {
        name: "specs/--odd--/host.kdl".to_owned(),
        text: fs::read_to_string(manifest().join("examples/workstation/host.kdl"))
            .expect("read host.kdl"),
        dir: None,
    };
    let desired = passplan::compile::compile(&checked, &source).expect("compile");
    let names: Vec<&str> = desired.domains.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["win10"]);
    let copy = desired
        .artifacts
        .iter()
        .find(|a| a.path == "/etc/libvirt/qemu/win10.xml")
        .expect("the readable copy");
    assert_eq!(copy.mode, 0o600);
    assert_eq!(copy.ownership, passplan::desired::Ownership::Owned);
    assert!(copy.triggers.is_empty());
    assert!(
        copy.content.ends_with(&desired.domains[0].xml),
        "the copy is the definition under a header"
    );
    // The header names the spec node, never the spec's path (here full of `--`, which would
    // end the comment early) or a line.
    let header = copy.content.lines().next().expect("header line");
    assert!(
        header.starts_with("<!--") && header.ends_with("-->"),
        "{header}"
    );
    assert!(!header[4..header.len() - 3].contains("--"), "{header}");
    assert!(header.contains("from vm \"win10\"."), "{header}");
    assert!(
        !header.contains("host.kdl") && !header.contains("odd"),
        "{header}"
    );
    let tree = read_back(&copy.content);
    assert_eq!(tree[0].path, "domain");
}

/// `pin policy="auto"` on a two-node host: vCPUs on one node's whole cores, the emulator near
/// them, guest memory bound to that node — and libvirt's schema accepts it.
#[test]
fn auto_placement_pins_binds_memory_and_validates() {
    let mut host = crate::support::workstation();
    let half = host.memory.total_kb / 2;
    host.numa_nodes = vec![
        crate::support::FakeNode {
            id: 0,
            mem_total_kb: half,
            mem_free_kb: half / 2,
        },
        crate::support::FakeNode {
            id: 1,
            mem_total_kb: half,
            mem_free_kb: half / 2,
        },
    ];
    for cpu in &mut host.cpus {
        cpu.node = Some(u32::from(cpu.id % 12 >= 6));
    }
    let root = crate::support::write_seed(&host);
    let spec =
        r#"vm "auto" { memory "8GiB"; cpu { vcpus 6 threads=2; pin policy="auto"; iothreads 1 } }"#;
    let (decoded, diags) = passplan::spec::parse(spec);
    let decoded = decoded.unwrap_or_else(|| panic!("{diags:#?}"));
    let (checked, diags) =
        passplan::check::check(decoded, passplan::host::discover(root.path()).unwrap());
    let checked = checked.unwrap_or_else(|| panic!("{diags:#?}"));
    let (_, xml) = domains(&checked).remove(0);
    let tree = read_back(&xml);
    let pins: Vec<u32> = at(&tree, "domain/cputune/vcpupin")
        .iter()
        .map(|e| e.attr("cpuset").unwrap().parse().unwrap())
        .collect();
    assert_eq!(pins.len(), 6);
    let node_of = |cpu: u32| u32::from(cpu % 12 >= 6);
    assert!(
        pins.iter().all(|c| node_of(*c) == node_of(pins[0])),
        "one node: {pins:?}"
    );
    let nodeset = at(&tree, "domain/numatune/memory")[0]
        .attr("nodeset")
        .unwrap();
    assert_eq!(
        nodeset,
        node_of(pins[0]).to_string(),
        "memory bound to the vCPUs' node"
    );
    assert_eq!(
        at(&tree, "domain/cputune/emulatorpin").len(),
        1,
        "the emulator is placed too"
    );
    assert_eq!(
        at(&tree, "domain/cputune/iothreadpin").len(),
        1,
        "and the I/O thread"
    );
    validate("auto placement", &xml);
}
