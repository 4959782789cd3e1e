//! Issue 11: the host's own vfio configuration is read and never silently wins or loses. Each
//! case writes a real user's `/etc/modprobe.d` file (`shared/realworld/modprobe/`, same lines
//! in the same places) onto the seed 001 host (modular vfio-pci, RTX 2080 Ti guest, RX 590 on
//! amdgpu for the host) whose spec binds the RTX 2080 Ti at boot.

use passplan::diag::{Diagnostic, Severity};

use crate::support::{FakeHost, seed001, write_seed};

const CODE: &str = "binding/host-config";

/// seed-001's spec with the guest card bound at boot.
fn spec() -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/seed-001/host.kdl"
    ))
    .unwrap();
    let from = "pci \"01:00.0\" id=\"10de:1e07\"";
    assert!(text.contains(from));
    text.replacen(from, &format!("{from}\n    bind \"boot\""), 1)
}

/// The findings of `check`, and whether it let the spec through (a plan is made, and so
/// anything written, only then).
fn check(host: &FakeHost) -> (Vec<Diagnostic>, bool) {
    let root = write_seed(host);
    let (decoded, _) = passplan::spec::parse(&spec());
    let facts = passplan::host::discover(root.path()).expect("discover");
    let (checked, found) = passplan::check::check(decoded.expect("spec decodes"), facts);
    (
        found.iter().filter(|d| d.code.0 == CODE).cloned().collect(),
        checked.is_some(),
    )
}

fn with_file(path: &str, text: &str) -> FakeHost {
    let mut host = seed001();
    host.set_file(path, text);
    host
}

#[test]
fn issue_11_without_host_config_nothing_is_reported() {
    let (found, ok) = check(&seed001());
    assert!(found.is_empty(), "{found:?}");
    assert!(ok);
}

/// smartperson's X570 AORUS MASTER `vfio.conf`: an RX 5700 XT's ids, and a misspelt option.
/// `vfio.conf` sorts after `passplan-vfio.conf`, so its `ids=` would win and leave the RTX
/// 2080 Ti on nvidia.
#[test]
fn issue_11_smartperson_vfio_conf_would_win_over_the_spec() {
    let host = with_file(
        "etc/modprobe.d/vfio.conf",
        "options vfio-pci ids=1002:731f,1002:ab38\noptions vfio-pci diable_vga=1\n",
    );
    let (found, ok) = check(&host);
    assert!(!ok, "check refuses: nothing is planned or written");
    assert_eq!(found.len(), 1, "{found:?}");
    let d = &found[0];
    assert_eq!(d.severity, Severity::Error);
    assert!(
        d.message.contains("/etc/modprobe.d/vfio.conf:1"),
        "{}",
        d.message
    );
    assert!(
        d.message.contains("10de:1e07"),
        "names what loses: {}",
        d.message
    );
    assert!(
        d.help
            .as_deref()
            .unwrap_or_default()
            .contains("remove the line")
    );
}

/// iroger's TRX40 `vfio.conf`: five `options vfio-pci ids=` lines between comments; kmod keeps
/// the last `ids=` (line 14), so the four before it do nothing.
#[test]
fn issue_11_iroger_five_ids_lines_only_the_last_wins() {
    let text = "# Radeon VII\n\
options vfio-pci ids=1002:66af,1002:ab20 disable_vga=1\n\
# MP600 NVME controller\n\
options vfio-pci ids=1987:5016\n\
# Incompatible USB controllers options vfio-pci ids=1022:148c\n\
# Incompatible Audio options vfio-pci ids=1022:1487\n\
# Compatible USB controllers options vfio-pci ids=1022:149c\n\
# SATA controller\n\
options vfio-pci ids=1022:7901\n\
# USB-C 2x2 controller (rear) options vfio-pci ids=1b21:3242\n\
# Aquantia ethernet controller\n\
options vfio-pci ids=1d6a:07b1\n\
# WiFi PCI broadcom\n\
options vfio-pci ids=14e4:43a0";
    let (found, ok) = check(&with_file("etc/modprobe.d/vfio.conf", text));
    assert!(!ok);
    let at = |line: usize| {
        found
            .iter()
            .find(|d| {
                d.message
                    .starts_with(&format!("/etc/modprobe.d/vfio.conf:{line} "))
            })
            .unwrap_or_else(|| panic!("nothing at line {line}: {found:?}"))
    };
    for line in [2, 4, 9, 12] {
        assert_eq!(at(line).severity, Severity::Warning);
        assert!(at(line).message.contains("does nothing"));
        assert!(
            at(line).message.contains("vfio.conf:14"),
            "{}",
            at(line).message
        );
    }
    assert_eq!(at(14).severity, Severity::Error);
    assert_eq!(found.len(), 5, "{found:?}");
}

/// iroger's Proxmox `blacklist.conf` blacklists amdgpu (line 8): on this host that is the
/// driver of the RX 590 that drives the host's display.
#[test]
fn issue_11_blacklisting_the_host_gpu_driver_is_an_error() {
    let text = "# This file contains a list of modules which are not supported by Proxmox VE \n\
# nvidiafb see bugreport https://bugzilla.proxmox.com/show_bug.cgi?id=701\n\
blacklist snd_hda_codec_hdmi\n\
blacklist snd_hda_intel\n\
blacklist snd_hda_codec\n\
blacklist snd_hda_core\n\
blacklist radeon\n\
blacklist amdgpu\n\
blacklist btusb\n\
blacklist snd-usb-audio\n\
blacklist bcma\n";
    let (found, ok) = check(&with_file("etc/modprobe.d/blacklist.conf", text));
    assert!(!ok);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]
            .message
            .contains("blacklist.conf:8 blacklists amdgpu")
            && found[0].message.contains("02:00.0"),
        "{}",
        found[0].message
    );
}

/// Skeen's two-GTX-480 host: `install vfio-pci /usr/sbin/vfio-pci-override` never loads the
/// module itself, so nothing the spec binds at boot would be bound.
#[test]
fn issue_11_an_install_override_that_never_loads_vfio_pci_is_reported() {
    let (found, ok) = check(&with_file(
        "etc/modprobe.d/vfio.conf",
        "install vfio-pci /usr/sbin/vfio-pci-override\n",
    ));
    assert!(!ok);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].message.contains("never loads the module"));
    // One that ends by loading the module is fine.
    let (found, _) = check(&with_file(
        "etc/modprobe.d/vfio.conf",
        "install vfio-pci /usr/sbin/vfio-pci-override; /sbin/modprobe --ignore-install vfio-pci\n",
    ));
    assert!(found.is_empty(), "{found:?}");
}

/// matsto641's identical RX 580s: a subsystem-qualified modalias for an XFX RX 580. Here the
/// host's own RX 590 carries that modalias, so the alias would take the host's display.
#[test]
fn issue_11_a_modalias_that_matches_the_host_gpu_is_an_error() {
    let mut host = with_file(
        "etc/modprobe.d/vfio.conf",
        "alias pci:v00001002d000067DFsv00001682sd00009587bc03sc00i00 vfio-pci\n",
    );
    host.pci_mut("02:00.0").subsystem = Some((0x1682, 0x9587));
    let (found, ok) = check(&host);
    assert!(!ok);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].message.contains("host's GPU"),
        "{}",
        found[0].message
    );
}

/// Bad input: a line kmod cannot parse is named by file and line, and nothing is planned.
#[test]
fn issue_11_a_malformed_modprobe_line_is_named_and_refused() {
    let (found, ok) = check(&with_file(
        "etc/modprobe.d/vfio.conf",
        "# vfio\noptoins vfio-pci ids=10de:1e07\n",
    ));
    assert!(!ok);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].message.contains("/etc/modprobe.d/vfio.conf:2"),
        "{}",
        found[0].message
    );
}
