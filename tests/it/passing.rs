//! Issue 11: a VM takes exactly what the user named, on real machines' facts. A `device` is
//! its own function (joe-p's X570, seed 004: the Matisse rear USB controller without the PSP
//! and audio of its slot); a `gpu` is its card (the RTX 2070 SUPER's four functions, a Navi
//! card's audio in a group of its own); an APU takes its display function and its audio only
//! when no CPU function shares the audio's group (Raven Ridge stock; Cezanne and Lucienne
//! under the ACS override, which `host` and `check` call synthetic). Hosts are the seeds with
//! PCI rows copied from the listings under `shared/realworld/iommu/`.

use std::collections::BTreeSet;

use passplan::desired::{Desired, SpecSource};
use passplan::diag::{Diagnostic, Severity};

use crate::support::{FakeHost, FakePci, seed004, workstation, write_seed};

/// A PCI row: `(address, parent, vendor, device, class, driver, group)`.
type Row = (&'static str, &'static str, u16, u16, u32, &'static str, u32);

fn add_rows(host: &mut FakeHost, rows: &[Row]) {
    for &(address, parent, vendor, device, class, driver, group) in rows {
        host.remove_pci(address);
        host.pci.push(FakePci {
            address: crate::support::seeds::bdf(address),
            parent: (!parent.is_empty()).then(|| crate::support::seeds::bdf(parent)),
            vendor,
            device,
            subsystem: Some((vendor, 0x0001)),
            class,
            revision: 0,
            driver: (!driver.is_empty()).then(|| driver.to_owned()),
            driver_override: None,
            boot_vga: (class >> 8 == 0x0300).then_some(false),
            numa_node: -1,
            group: Some(group),
            drm_card: None,
        });
    }
}

/// What `check` and `compile` made of a spec on a host.
struct Outcome {
    findings: Vec<Diagnostic>,
    desired: Option<Desired>,
}

impl Outcome {
    fn errors(&self) -> Vec<String> {
        self.findings
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| format!("{}: {}", d.code.0, d.message))
            .collect()
    }

    fn with_code(&self, code: &str) -> Vec<&Diagnostic> {
        self.findings.iter().filter(|d| d.code.0 == code).collect()
    }

    fn desired(&self) -> &Desired {
        self.desired
            .as_ref()
            .unwrap_or_else(|| panic!("check failed: {:?}", self.errors()))
    }

    /// The PCI hostdev addresses (`bus:slot.function`, lspci's short form) of a VM's domain.
    fn hostdevs(&self, vm: &str) -> BTreeSet<String> {
        let xml = &self
            .desired()
            .domains
            .iter()
            .find(|d| d.name == vm)
            .expect("the VM's domain")
            .xml;
        let mut out = BTreeSet::new();
        for chunk in xml.split("<hostdev").skip(1) {
            let chunk = chunk.split("</hostdev>").next().unwrap_or_default();
            if !chunk.contains("type=\"pci\"") {
                continue;
            }
            let attr = |name: &str| {
                let start = chunk
                    .find(&format!("{name}=\"0x"))
                    .expect("address attribute")
                    + name.len()
                    + 4;
                let end = start + chunk[start..].find('"').expect("closing quote");
                u32::from_str_radix(&chunk[start..end], 16).expect("hex")
            };
            out.insert(format!(
                "{:02x}:{:02x}.{:x}",
                attr("bus"),
                attr("slot"),
                attr("function")
            ));
        }
        out
    }

    fn kernel_line(&self) -> String {
        self.desired()
            .kernel_tokens
            .iter()
            .map(|t| {
                t.value
                    .as_ref()
                    .map_or_else(|| t.key.clone(), |v| format!("{}={v}", t.key))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn run(host: &FakeHost, spec: &str) -> Outcome {
    let root = write_seed(host);
    let (decoded, diags) = passplan::spec::parse(spec);
    let decoded = decoded.unwrap_or_else(|| {
        panic!(
            "spec does not decode: {:?}",
            diags.iter().map(|d| &d.message).collect::<Vec<_>>()
        )
    });
    let facts = passplan::host::discover(root.path()).expect("discover");
    let (checked, found) = passplan::check::check(decoded, facts);
    let desired = checked.map(|c| {
        let source = SpecSource {
            name: "host.kdl".to_owned(),
            text: spec.to_owned(),
            dir: None,
        };
        passplan::compile::compile(&c, &source).expect("compile")
    });
    Outcome {
        findings: found.iter().cloned().collect(),
        desired,
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// `passplan host --root` on a fake host.
fn host_listing(host: &FakeHost, json: bool) -> String {
    let root = write_seed(host);
    let facts = passplan::host::discover(root.path()).expect("discover");
    let mut out = Vec::new();
    if json {
        passplan::host::render::json(&facts, &mut out).unwrap();
    } else {
        passplan::host::render::human(&facts, &mut out).unwrap();
    }
    String::from_utf8(out).unwrap()
}

// ---- a device is its own function -------------------------------------------------------------

/// joe-p's X570 AORUS PRO WIFI (`iommu/x570-aorus-pro-wifi_3900x_joe-p.txt`): the Matisse
/// functions 0e:00.0 (SPP), .1 (PSP), .3 (USB), .4 (HD audio) each in their own group 33-36.
fn joe_p_x570() -> FakeHost {
    let mut host = workstation();
    // The seed numbers this bus differently (it has one more NVMe); take joe-p's rows instead.
    for a in ["0e:00.0", "0f:00.0", "0f:00.1", "0f:00.3", "0f:00.4"] {
        host.remove_pci(a);
    }
    host.usb.retain(|u| !u.controller.ends_with("0f:00.3"));
    #[rustfmt::skip]
    add_rows(&mut host, &[
        ("0e:00.0", "00:08.1", 0x1022, 0x1485, 0x13_0000, "",              33),
        ("0e:00.1", "00:08.1", 0x1022, 0x1486, 0x10_8000, "ccp",           34),
        ("0e:00.3", "00:08.1", 0x1022, 0x149c, 0x0c_0330, "xhci_hcd",      35),
        ("0e:00.4", "00:08.1", 0x1022, 0x1487, 0x04_0300, "snd_hda_intel", 36),
    ]);
    host
}

const JOE_P_SPEC: &str = r#"host { boot { loader "kernelstub"; iommu mode="pt" } }
gpu "gtx1080ti" { pci "0d:00.0"; role "guest" }
gpu "host-gpu" { pci "0c:00.0"; role "host" }
device "usb" { pci "0e:00.3" id="1022:149c"; bind "boot" }
vm "win10" {
    memory "8GiB"
    cpu { vcpus 4 }
    passthrough "gtx1080ti"
    usb-controller "usb"
}
"#;

#[test]
fn issue_11_x570_rear_usb_controller_is_passed_and_bound_alone() {
    let found = run(&joe_p_x570(), JOE_P_SPEC);
    assert_eq!(found.errors(), Vec::<String>::new());
    let hostdevs = found.hostdevs("win10");
    assert!(hostdevs.contains("0e:00.3"), "{hostdevs:?}");
    for other in ["0e:00.0", "0e:00.1", "0e:00.4"] {
        assert!(
            !hostdevs.contains(other),
            "{other} is not the user's: {hostdevs:?}"
        );
    }
    // Bound at boot. The X570 chipset has USB controllers with the same id (1022:149c at
    // 07:00.1/.3), so the controller is bound by address: only 0e:00.3, never the PSP or the
    // host's audio, by address or by id.
    let bound: String = found
        .desired()
        .artifacts
        .iter()
        .map(|a| a.content.clone())
        .chain([found.kernel_line()])
        .collect();
    assert!(bound.contains("'0000:0e:00.3'"), "{bound}");
    for foreign in ["0000:0e:00.0", "0000:0e:00.1", "0000:0e:00.4"] {
        assert!(!bound.contains(foreign), "{foreign} bound: {bound}");
    }
    for foreign in ["1022:1485", "1022:1486", "1022:1487"] {
        assert!(!bound.contains(foreign), "{foreign} bound: {bound}");
    }
}

#[test]
fn issue_11_seed_004_usb_rear_takes_only_0b_00_3() {
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/seed-004/host.kdl"
    ))
    .unwrap();
    let found = run(&seed004(), &spec);
    assert_eq!(
        found.hostdevs("gamevm"),
        set(&["01:00.0", "01:00.1", "0b:00.3"])
    );
}

#[test]
fn issue_11_functions_override_takes_the_listed_functions_and_checks_them() {
    let spec = r#"host { boot { loader "kernelstub" } }
gpu "gtx1080ti" { pci "0d:00.0"; role "guest" }
gpu "host-gpu" { pci "0c:00.0"; role "host" }
device "usb" { pci "0e:00.3"; functions "3" "4" }
vm "win10" { memory "8GiB"; cpu { vcpus 4 }; usb-controller "usb" }
"#;
    let found = run(&joe_p_x570(), spec);
    assert_eq!(found.errors(), Vec::<String>::new());
    assert_eq!(found.hostdevs("win10"), set(&["0e:00.3", "0e:00.4"]));

    let absent = run(&joe_p_x570(), &spec.replace("\"3\" \"4\"", "\"3\" \"5\""));
    let d = absent.with_code("device/absent");
    assert_eq!(d.len(), 1, "{:?}", absent.errors());
    assert!(d[0].message.contains("0e:00.5"), "{}", d[0].message);
}

// ---- a GPU is its card ------------------------------------------------------------------------

/// MSI MAG B550M Mortar with the RTX 2070 SUPER (`iommu/b550m-mortar_matisse_rtx2070s+gt710`):
/// VGA, HDMI audio, USB 3.1 xHCI and USB-C UCSI, all four in group 14.
#[test]
fn issue_11_rtx_2070_super_takes_all_four_functions() {
    let mut host = seed004();
    #[rustfmt::skip]
    add_rows(&mut host, &[
        ("2b:00.0", "00:03.1", 0x10de, 0x1e84, 0x03_0000, "nvidia",        40),
        ("2b:00.1", "00:03.1", 0x10de, 0x10f8, 0x04_0300, "snd_hda_intel", 40),
        ("2b:00.2", "00:03.1", 0x10de, 0x1ad8, 0x0c_0330, "xhci_hcd",      40),
        ("2b:00.3", "00:03.1", 0x10de, 0x1ad9, 0x0c_8000, "nvidia-gpu",    40),
        ("00:03.1", "",        0x1022, 0x1483, 0x06_0400, "pcieport",      41),
    ]);
    let spec = r#"host { boot { loader "systemd-boot" } }
gpu "host" { pci "01:00.0"; role "host" }
gpu "rtx2070s" { pci "2b:00.0" id="10de:1e84"; role "guest" }
vm "win10" { memory "8GiB"; cpu { vcpus 4 }; passthrough "rtx2070s" }
"#;
    let found = run(&host, spec);
    assert_eq!(found.errors(), Vec::<String>::new());
    assert_eq!(
        found.hostdevs("win10"),
        set(&["2b:00.0", "2b:00.1", "2b:00.2", "2b:00.3"])
    );
}

/// Gigabyte B550 Aorus Pro with an RX 6950 XT behind its Navi switch
/// (`iommu/b550-gigabyte-aorus-pro_3900x_rx6950xt+rx550_MapManagement.txt`): VGA in group
/// 18, HDMI audio in group 19. Both go, and no group is incomplete.
#[test]
fn issue_11_navi_card_takes_its_audio_from_a_separate_group() {
    let mut host = seed004();
    #[rustfmt::skip]
    add_rows(&mut host, &[
        ("00:03.1", "",        0x1022, 0x1483, 0x06_0400, "pcieport",      15 + 30),
        ("06:00.0", "00:03.1", 0x1002, 0x1478, 0x06_0400, "pcieport",      16 + 30),
        ("07:00.0", "06:00.0", 0x1002, 0x1479, 0x06_0400, "pcieport",      17 + 30),
        ("08:00.0", "07:00.0", 0x1002, 0x73a5, 0x03_0000, "amdgpu",        18 + 30),
        ("08:00.1", "07:00.0", 0x1002, 0xab28, 0x04_0300, "snd_hda_intel", 19 + 30),
    ]);
    let spec = r#"host { boot { loader "systemd-boot" } }
gpu "host" { pci "01:00.0"; role "host" }
gpu "rx6950xt" { pci "08:00.0" id="1002:73a5"; role "guest" }
vm "win10" { memory "8GiB"; cpu { vcpus 4 }; passthrough "rx6950xt" }
"#;
    let found = run(&host, spec);
    assert_eq!(found.errors(), Vec::<String>::new());
    assert_eq!(found.hostdevs("win10"), set(&["08:00.0", "08:00.1"]));
}

// ---- an integrated GPU is not a card ----------------------------------------------------------

/// MSI B450M Mortar with a Raven Ridge APU (`iommu/b450m-mortar_raven-ridge_rx580_64kram.txt`):
/// the iGPU 38:00.0 alone in group 11; its HDMI audio 38:00.1 in group 12 with the PSP 38:00.2,
/// the USB controllers 38:00.3/.4 and the ACP audio 38:00.6.
fn raven_ridge() -> FakeHost {
    let mut host = seed004();
    #[rustfmt::skip]
    add_rows(&mut host, &[
        ("38:00.0", "00:08.1", 0x1002, 0x15dd, 0x03_0000, "amdgpu",        51),
        ("38:00.1", "00:08.1", 0x1002, 0x15de, 0x04_0300, "snd_hda_intel", 52),
        ("38:00.2", "00:08.1", 0x1022, 0x15df, 0x10_8000, "ccp",           52),
        ("38:00.3", "00:08.1", 0x1022, 0x15e0, 0x0c_0330, "xhci_hcd",      52),
        ("38:00.4", "00:08.1", 0x1022, 0x15e1, 0x0c_0330, "xhci_hcd",      52),
        ("38:00.6", "00:08.1", 0x1022, 0x15e3, 0x04_0300, "snd_hda_intel", 52),
    ]);
    host
}

const APU_SPEC: &str = r#"host { boot { loader "systemd-boot" } }
gpu "host" { pci "01:00.0"; role "host" }
gpu "vega" { pci "38:00.0"; role "guest" }
vm "win10" { memory "8GiB"; cpu { vcpus 4 }; passthrough "vega" }
"#;

#[test]
fn issue_11_raven_ridge_igpu_leaves_its_audio_with_the_psp_and_says_why() {
    let host = raven_ridge();
    let found = run(&host, APU_SPEC);
    assert_eq!(found.errors(), Vec::<String>::new());
    assert_eq!(found.hostdevs("win10"), set(&["38:00.0"]));
    let stays = found.with_code("device/function-stays");
    assert_eq!(stays.len(), 1);
    assert_eq!(stays[0].severity, Severity::Notice);
    let fact = stays[0].host_fact.as_deref().unwrap_or_default();
    assert!(
        fact.contains("38:00.2 the platform security processor") && fact.contains("38:00.3"),
        "{fact}"
    );

    let listing = host_listing(&host, false);
    assert!(listing.contains("passing it takes 38:00.0\n"), "{listing}");
    assert!(listing.contains("38:00.1 stays:"), "{listing}");
    let json: serde_json::Value = serde_json::from_str(&host_listing(&host, true)).unwrap();
    let vega = json["gpus"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["address"] == "0000:38:00.0")
        .unwrap();
    assert_eq!(vega["integrated"], true);
    assert_eq!(vega["takes"], serde_json::json!(["0000:38:00.0"]));
    assert_eq!(vega["stays"][0]["address"], "0000:38:00.1");
}

/// Taking the audio anyway (`functions "0" "1"`) means taking its group: the group rule names
/// the PSP and the USB controllers.
#[test]
fn issue_11_raven_ridge_audio_by_override_needs_its_whole_group() {
    let spec = APU_SPEC.replace(
        "gpu \"vega\" { pci \"38:00.0\";",
        "gpu \"vega\" { pci \"38:00.0\"; functions \"0\" \"1\";",
    );
    let found = run(&raven_ridge(), &spec);
    let incomplete = found.with_code("iommu/group-incomplete");
    assert_eq!(incomplete.len(), 1, "{:?}", found.errors());
    assert!(
        incomplete[0].message.contains("38:00.2"),
        "{}",
        incomplete[0].message
    );
}

/// The `ASRock` B550 Phantom Gaming-ITX/ax with a Ryzen 7 5700G, booted with
/// `pcie_acs_override=downstream,multifunction`
/// (`iommu/b550-phantom-itx_5700g_ACS-override_naunter.txt`): every Cezanne function alone.
fn cezanne_acs() -> FakeHost {
    let mut host = seed004();
    #[rustfmt::skip]
    add_rows(&mut host, &[
        ("05:00.0", "00:08.1", 0x1002, 0x1638, 0x03_0000, "amdgpu",        54),
        ("05:00.1", "00:08.1", 0x1002, 0x1637, 0x04_0300, "snd_hda_intel", 55),
        ("05:00.2", "00:08.1", 0x1022, 0x15df, 0x10_8000, "ccp",           56),
        ("05:00.3", "00:08.1", 0x1022, 0x1639, 0x0c_0330, "xhci_hcd",      57),
        ("05:00.4", "00:08.1", 0x1022, 0x1639, 0x0c_0330, "xhci_hcd",      58),
        ("05:00.6", "00:08.1", 0x1022, 0x15e3, 0x04_0300, "snd_hda_intel", 59),
    ]);
    host.cmdline = format!(
        "{} pcie_acs_override=downstream,multifunction",
        host.cmdline
    );
    host
}

#[test]
fn issue_11_cezanne_under_acs_override_takes_vga_and_audio_and_groups_are_synthetic() {
    let host = cezanne_acs();
    let spec = APU_SPEC.replace("38:00.0", "05:00.0");
    let found = run(&host, &spec);
    assert_eq!(found.errors(), Vec::<String>::new());
    assert_eq!(found.hostdevs("win10"), set(&["05:00.0", "05:00.1"]));
    assert!(found.with_code("device/function-stays").is_empty());
    let synthetic = found.with_code("iommu/groups-synthetic");
    assert_eq!(synthetic.len(), 1, "warned once");
    assert_eq!(synthetic[0].severity, Severity::Warning);
    assert!(
        synthetic[0]
            .message
            .contains("pcie_acs_override=downstream,multifunction")
    );
    let help = synthetic[0].help.as_deref().unwrap_or_default();
    assert!(
        help.contains("acs-override \"downstream\" \"multifunction\""),
        "the fix keeps the user's values: {help}"
    );

    let listing = host_listing(&host, false);
    assert!(
        listing.contains("all synthetic (*)") && listing.contains("   54*  05:00.0"),
        "{listing}"
    );
    assert!(
        listing.contains(
            "isolated in group 54 (synthetic: pcie_acs_override=downstream,multifunction)"
        ),
        "{listing}"
    );
    let json: serde_json::Value = serde_json::from_str(&host_listing(&host, true)).unwrap();
    assert_eq!(json["acs_override"], "downstream,multifunction");
    assert!(
        json["iommu_groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["synthetic"] == true)
    );
}

/// The Ryzen 5 5700U mini-PC (`iommu/ryzen5700U-minipc_*_gammaman88.txt`): Lucienne, booted with
/// `pcie_acs_override=downstream`, its eight functions in groups 15-22.
#[test]
fn issue_11_lucienne_under_acs_override_takes_vga_and_audio() {
    let mut host = seed004();
    #[rustfmt::skip]
    add_rows(&mut host, &[
        ("05:00.0", "00:08.1", 0x1002, 0x164c, 0x03_0000, "amdgpu",        65),
        ("05:00.1", "00:08.1", 0x1002, 0x1637, 0x04_0300, "snd_hda_intel", 66),
        ("05:00.2", "00:08.1", 0x1022, 0x15df, 0x10_8000, "ccp",           67),
        ("05:00.3", "00:08.1", 0x1022, 0x1639, 0x0c_0330, "xhci_hcd",      68),
        ("05:00.4", "00:08.1", 0x1022, 0x1639, 0x0c_0330, "xhci_hcd",      69),
        ("05:00.5", "00:08.1", 0x1022, 0x15e2, 0x04_8000, "",              70),
        ("05:00.6", "00:08.1", 0x1022, 0x15e3, 0x04_0300, "snd_hda_intel", 71),
        ("05:00.7", "00:08.1", 0x1022, 0x15e4, 0x11_8000, "",              72),
    ]);
    host.cmdline = format!("{} pcie_acs_override=downstream", host.cmdline);
    let found = run(&host, &APU_SPEC.replace("38:00.0", "05:00.0"));
    assert_eq!(found.errors(), Vec::<String>::new());
    assert_eq!(found.hostdevs("win10"), set(&["05:00.0", "05:00.1"]));
    let help = found.with_code("iommu/groups-synthetic")[0]
        .help
        .clone()
        .unwrap_or_default();
    assert!(help.contains("acs-override \"downstream\" }"), "{help}");
}

/// A stock Cezanne (no ACS override) puts the iGPU, its audio, the PSP and the USB controllers
/// in one group (the `IdeaPad` 14ACN6 of INDEX.md's leads): the audio stays, and the group rule
/// names what passing the iGPU would take.
#[test]
fn issue_11_stock_cezanne_group_is_reported_whole() {
    let mut host = cezanne_acs();
    host.cmdline = seed004().cmdline;
    for f in [
        "05:00.0", "05:00.1", "05:00.2", "05:00.3", "05:00.4", "05:00.6",
    ] {
        host.pci_mut(f).group = Some(54);
    }
    let found = run(&host, &APU_SPEC.replace("38:00.0", "05:00.0"));
    assert!(found.with_code("iommu/groups-synthetic").is_empty());
    assert_eq!(found.with_code("device/function-stays").len(), 1);
    let incomplete = found.with_code("iommu/group-incomplete");
    assert_eq!(incomplete.len(), 1);
    assert!(incomplete[0].message.contains("05:00.2"));
}

// ---- assigned twice compares functions ---------------------------------------------------------

#[test]
fn issue_11_assigned_twice_compares_functions_and_names_a_repeated_address() {
    let base = r#"host { boot { loader "kernelstub" } }
gpu "gtx1080ti" { pci "0d:00.0"; role "guest" }
gpu "host-gpu" { pci "0c:00.0"; role "host" }
"#;
    // The card takes its audio function; another declaration gives it to another VM.
    let audio = format!(
        "{base}device \"hdmi\" {{ pci \"0d:00.1\" }}
vm \"a\" {{ memory \"4GiB\"; cpu {{ vcpus 2 }}; passthrough \"gtx1080ti\" }}
vm \"b\" {{ memory \"4GiB\"; cpu {{ vcpus 2 }}; passthrough \"hdmi\" }}
"
    );
    let found = run(&joe_p_x570(), &audio);
    let twice = found.with_code("device/assigned-twice");
    assert_eq!(twice.len(), 1);
    assert_eq!(twice[0].severity, Severity::Error);
    assert!(twice[0].message.contains("0d:00.1"), "{}", twice[0].message);

    // Two declarations of one address: an error that says so, not the ACS override.
    let same = format!(
        "{base}device \"usb\" {{ pci \"0e:00.3\" }}
device \"usb-again\" {{ pci \"0e:00.3\" }}
vm \"a\" {{ memory \"4GiB\"; cpu {{ vcpus 2 }}; usb-controller \"usb\" }}
vm \"b\" {{ memory \"4GiB\"; cpu {{ vcpus 2 }}; usb-controller \"usb-again\" }}
"
    );
    let found = run(&joe_p_x570(), &same);
    let twice = found.with_code("device/assigned-twice");
    assert_eq!(twice.len(), 1, "{:?}", found.errors());
    assert_eq!(twice[0].severity, Severity::Error);
    assert!(
        twice[0].message.contains("both declare 0e:00.3"),
        "{}",
        twice[0].message
    );
    assert!(found.findings.iter().all(|d| {
        !d.help
            .as_deref()
            .unwrap_or_default()
            .contains("acs-override")
    }));

    // The same declaration in two VMs stays a warning.
    let shared = format!(
        "{base}vm \"a\" {{ memory \"4GiB\"; cpu {{ vcpus 2 }}; passthrough \"gtx1080ti\" }}
vm \"b\" {{ memory \"4GiB\"; cpu {{ vcpus 2 }}; passthrough \"gtx1080ti\" }}
"
    );
    let found = run(&joe_p_x570(), &shared);
    let twice = found.with_code("device/assigned-twice");
    assert_eq!(twice.len(), 1);
    assert_eq!(twice[0].severity, Severity::Warning);
}
