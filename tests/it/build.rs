//! `passplan build` as golden trees: every example compiles into exactly the committed files
//! under `tests/golden/build/<case>/` (plus a MANIFEST of modes, kernel tokens, commands and
//! notes), and every emitted file is accepted by its real consumer. Bless with
//! `PASSPLAN_BLESS=1` (`scripts/bless`).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use passplan::desired::{Desired, SpecSource};

use crate::support::{FakeHost, seed003, tools, workstation, write_seed};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compile `spec` against `host` (written to a temporary root).
fn compile(name: &str, host: &FakeHost, spec: &str) -> Desired {
    let root = write_seed(host);
    let (decoded, diags) = passplan::spec::parse(spec);
    let decoded = decoded.unwrap_or_else(|| {
        panic!(
            "{name}: spec does not decode: {:?}",
            diags.iter().map(|d| &d.message).collect::<Vec<_>>()
        )
    });
    let facts = passplan::host::discover(root.path()).expect("discover");
    let (checked, found) = passplan::check::check(decoded, facts);
    let checked = checked.unwrap_or_else(|| {
        panic!(
            "{name}: check failed: {:?}",
            found.iter().map(|d| &d.message).collect::<Vec<_>>()
        )
    });
    let source = SpecSource {
        name: format!("{name}/host.kdl"),
        text: spec.to_owned(),
        dir: None,
    };
    passplan::compile::compile(&checked, &source).expect("compile")
}

fn example(name: &str) -> String {
    std::fs::read_to_string(manifest_dir().join(format!("examples/{name}/host.kdl"))).unwrap()
}

/// The golden view of a build: path → bytes, with the MANIFEST.
fn golden_view(desired: &Desired) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut manifest = String::new();
    for a in &desired.artifacts {
        let _ = writeln!(manifest, "{:o} {:?} {}", a.mode, a.ownership, a.path);
        files.insert(a.path.trim_start_matches('/').to_owned(), a.content.clone());
    }
    let tokens: Vec<String> = desired
        .kernel_tokens
        .iter()
        .map(|t| {
            t.value
                .as_ref()
                .map_or_else(|| t.key.clone(), |v| format!("{}={v}", t.key))
        })
        .collect();
    let _ = writeln!(manifest, "kernel: {}", tokens.join(" "));
    // The commands these files set off (a step no file sets off runs only when a removal does).
    for s in desired.steps.iter().filter(|s| {
        desired
            .artifacts
            .iter()
            .any(|a| a.triggers.contains(&s.trigger))
    }) {
        let _ = writeln!(manifest, "run ({:?}): {}", s.trigger, s.argv.join(" "));
    }
    for n in &desired.notes {
        let _ = writeln!(manifest, "note: {n}");
    }
    files.insert("MANIFEST".to_owned(), manifest);
    files
}

fn read_tree(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let e = e.unwrap();
        let name = format!("{prefix}{}", e.file_name().to_string_lossy());
        if e.file_type().unwrap().is_dir() {
            read_tree(&e.path(), &format!("{name}/"), out);
        } else {
            out.insert(name, std::fs::read_to_string(e.path()).unwrap());
        }
    }
}

/// Compare with (or, with `PASSPLAN_BLESS=1`, rewrite) `tests/golden/build/<case>`.
fn golden(case: &str, desired: &Desired) {
    let dir = manifest_dir().join("tests/golden/build").join(case);
    let want = golden_view(desired);
    if std::env::var("PASSPLAN_BLESS").as_deref() == Ok("1") {
        let _ = std::fs::remove_dir_all(&dir);
        for (path, text) in &want {
            let target = dir.join(path);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, text).unwrap();
        }
        return;
    }
    let mut have = BTreeMap::new();
    read_tree(&dir, "", &mut have);
    let mut problems = Vec::new();
    for (path, text) in &want {
        match have.get(path) {
            None => problems.push(format!("missing golden file {path}")),
            Some(old) if old != text => problems.push(format!(
                "{path} differs:\n--- golden\n{old}\n--- now\n{text}"
            )),
            Some(_) => {}
        }
    }
    for path in have.keys().filter(|p| !want.contains_key(*p)) {
        problems.push(format!("golden file {path} is no longer produced"));
    }
    assert!(
        problems.is_empty(),
        "{case}: build output differs from tests/golden/build/{case} (bless with scripts/bless):\n{}",
        problems.join("\n")
    );
}

/// Write the artifacts to a temporary tree, for tools that read files.
fn materialise(desired: &Desired) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for a in &desired.artifacts {
        let target = dir.path().join(a.path.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, &a.content).unwrap();
    }
    dir
}

/// Every consumer check that applies to the artifacts passplan owns as scripts and configs.
fn consumers_accept(case: &str, desired: &Desired) {
    let tree = materialise(desired);
    let modprobe_dir = tree.path().join("etc/modprobe.d");
    if modprobe_dir.is_dir()
        && let Some(modprobe) = tools::tool("modprobe")
    {
        let out = tools::run(
            &modprobe,
            &[
                OsStr::new("-C"),
                modprobe_dir.as_os_str(),
                OsStr::new("--showconfig"),
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("ERROR"),
            "{case}: kmod rejects the modprobe file:\n{stderr}"
        );
        let shown = String::from_utf8_lossy(&out.stdout);
        let ours = std::fs::read_to_string(modprobe_dir.join("passplan-vfio.conf")).unwrap();
        for line in ours.lines().filter(|l| l.starts_with("options ")) {
            // kmod prints module names with `_`.
            let normalised = line.replacen("vfio-pci", "vfio_pci", 1);
            assert!(
                shown.contains(&normalised),
                "{case}: kmod did not read `{line}`:\n{shown}"
            );
        }
        for line in ours.lines().filter(|l| l.starts_with("softdep ")) {
            assert!(shown.contains(line), "{case}: kmod did not read `{line}`");
        }
    }
    for a in desired
        .artifacts
        .iter()
        .filter(|a| a.content.starts_with("#!/bin/sh"))
    {
        let file = tree.path().join(a.path.trim_start_matches('/'));
        let sh = tools::tool("sh").expect("sh is everywhere");
        let out = tools::run(&sh, &[OsStr::new("-n"), file.as_os_str()]);
        assert!(
            out.status.success(),
            "{case}: sh -n rejects {}: {}",
            a.path,
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(shellcheck) = tools::tool("shellcheck") {
            let out = tools::run(
                &shellcheck,
                &[
                    OsStr::new("-s"),
                    OsStr::new("sh"),
                    OsStr::new("-S"),
                    OsStr::new("warning"),
                    file.as_os_str(),
                ],
            );
            assert!(
                out.status.success(),
                "{case}: shellcheck rejects {}:\n{}",
                a.path,
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}

#[test]
fn every_example_builds_into_its_golden_tree() {
    for (name, host) in crate::support::all_seeds() {
        let desired = compile(name, &host, &example(name));
        consumers_accept(name, &desired);
        golden(name, &desired);
    }
}

/// A per-address binding on a modular vfio-pci (seed 003 with two identical GTX 970s).
#[test]
fn identical_cards_are_bound_by_address_through_modprobe() {
    let mut host = seed003();
    let mut twin = host.pci_device("06:00.0").unwrap().clone();
    twin.address = "0000:07:00.0".into();
    twin.group = Some(40);
    twin.boot_vga = Some(false);
    host.pci.push(twin);
    let desired = compile("twin-970", &host, &example("seed-003"));
    let conf = &desired
        .artifacts
        .iter()
        .find(|a| a.path == "/etc/modprobe.d/passplan-vfio.conf")
        .unwrap()
        .content;
    assert!(conf.contains("install vfio-pci /bin/sh /etc/passplan/vfio-override.sh"));
    assert!(
        !conf.contains("options vfio-pci ids=10de:13c2"),
        "the ambiguous id is not bound by id:\n{conf}"
    );
    consumers_accept("twin-970", &desired);
    golden("twin-970", &desired);
}

/// Each initramfs generator gets its own configuration and regeneration command.
#[test]
fn every_initramfs_generator_is_configured() {
    for (generator, file, command) in [
        (
            "dracut",
            "/etc/dracut.conf.d/passplan-vfio.conf",
            "dracut -f --regenerate-all",
        ),
        (
            "mkinitcpio",
            "/etc/mkinitcpio.conf.d/passplan-vfio.conf",
            "mkinitcpio -P",
        ),
        (
            "booster",
            "/etc/booster.yaml",
            "/usr/lib/booster/regenerate_images",
        ),
    ] {
        let spec = example("seed-003").replace(
            "initramfs \"initramfs-tools\"",
            &format!("initramfs \"{generator}\""),
        );
        let desired = compile(generator, &seed003(), &spec);
        assert!(
            desired.artifacts.iter().any(|a| a.path == file),
            "{generator}: {file}"
        );
        assert!(
            desired.steps.iter().any(|s| s.argv.join(" ") == command),
            "{generator}: {command}"
        );
        consumers_accept(generator, &desired);
        golden(&format!("seed-003-{generator}"), &desired);
    }
}

/// A built-in vfio-pci with a per-address device: an init-top script sets the override.
#[test]
fn builtin_vfio_with_identical_nvme_uses_an_init_top_script() {
    let spec = example("workstation").replace(
        "device \"guest-nvme\" {\n    pci \"04:00.0\" id=\"144d:a808\"\n}",
        "device \"guest-nvme\" {\n    pci \"04:00.0\" id=\"144d:a808\"\n    bind \"boot\"\n}",
    );
    assert!(
        spec.contains("bind \"boot\""),
        "the example's guest-nvme block has the expected shape"
    );
    let desired = compile("workstation-nvme-at-boot", &workstation(), &spec);
    let paths: Vec<&str> = desired.artifacts.iter().map(|a| a.path.as_str()).collect();
    assert!(
        paths.contains(&"/etc/initramfs-tools/scripts/init-top/passplan-vfio"),
        "{paths:?}"
    );
    assert!(
        !paths.contains(&"/etc/modprobe.d/passplan-vfio.conf"),
        "built-in vfio-pci reads no modprobe options"
    );
    consumers_accept("workstation-nvme-at-boot", &desired);
    golden("workstation-nvme-at-boot", &desired);
}

#[test]
fn network_manager_bridges_are_keyfiles_only_root_can_read() {
    let spec = example("seed-003").replace("backend=\"networkd\"", "backend=\"networkmanager\"");
    let desired = compile("seed-003-nm", &seed003(), &spec);
    let keyfiles: Vec<_> = desired
        .artifacts
        .iter()
        .filter(|a| a.path.ends_with(".nmconnection"))
        .collect();
    assert_eq!(keyfiles.len(), 2);
    assert!(
        keyfiles.iter().all(|a| a.mode == 0o600),
        "NetworkManager ignores keyfiles others can read"
    );
    golden("seed-003-networkmanager", &desired);
}

/// The override script really sets `driver_override`, unbinds the current driver and asks the
/// kernel to probe again — run against a fake sysfs.
#[test]
fn the_override_script_binds_by_address_in_a_fake_sysfs() {
    let spec = example("workstation").replace(
        "device \"guest-nvme\" {\n    pci \"04:00.0\" id=\"144d:a808\"\n}",
        "device \"guest-nvme\" {\n    pci \"04:00.0\" id=\"144d:a808\"\n    bind \"boot\"\n}",
    );
    let desired = compile("override-run", &workstation(), &spec);
    let script = &desired
        .artifacts
        .iter()
        .find(|a| a.path == "/etc/passplan/vfio-override.sh")
        .unwrap()
        .content;
    let sysfs = tempfile::tempdir().unwrap();
    let dev = sysfs.path().join("bus/pci/devices/0000:04:00.0");
    let driver = sysfs.path().join("bus/pci/drivers/nvme");
    std::fs::create_dir_all(&dev).unwrap();
    std::fs::create_dir_all(&driver).unwrap();
    std::fs::write(driver.join("unbind"), "").unwrap();
    std::fs::write(sysfs.path().join("bus/pci/drivers_probe"), "").unwrap();
    std::os::unix::fs::symlink(&driver, dev.join("driver")).unwrap();
    let script_path = sysfs.path().join("override.sh");
    std::fs::write(&script_path, script).unwrap();
    let out = std::process::Command::new("sh")
        .arg(&script_path)
        .env("PASSPLAN_SYSFS", sysfs.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dev.join("driver_override")).unwrap(),
        "vfio-pci\n"
    );
    assert_eq!(
        std::fs::read_to_string(driver.join("unbind")).unwrap(),
        "0000:04:00.0\n"
    );
    assert_eq!(
        std::fs::read_to_string(sysfs.path().join("bus/pci/drivers_probe")).unwrap(),
        "0000:04:00.0\n"
    );
}

/// SMBIOS values written in KDL (children, no mode) reach the domain as `<sysinfo>`, and libvirt's
/// schema accepts the result.
#[test]
fn smbios_values_from_kdl_reach_the_domain() {
    let spec = "vm \"smb\" {\n    memory \"4GiB\"\n    cpu { vcpus 2 }\n    smbios {\n        bios vendor=\"American Megatrends, Inc.\" version=\"0812\"\n        system manufacturer=\"ASUS\" serial=\"It's <&> \\\"quoted\\\"\"\n    }\n}\n";
    let desired = compile("smbios", &workstation(), spec);
    let xml = &desired
        .artifacts
        .iter()
        .find(|a| a.path == "/etc/libvirt/qemu/smb.xml")
        .unwrap()
        .content;
    assert!(xml.contains("<smbios mode=\"sysinfo\"/>"), "{xml}");
    assert!(
        xml.contains("<entry name=\"manufacturer\">ASUS</entry>"),
        "{xml}"
    );
    assert!(
        xml.contains("It&apos;s &lt;&amp;&gt;") || xml.contains("It's &lt;&amp;&gt;"),
        "escaped, not injected: {xml}"
    );
    if let Some(validator) = tools::tool("virt-xml-validate") {
        let tree = materialise(&desired);
        let file = tree.path().join("etc/libvirt/qemu/smb.xml");
        let out = tools::run(&validator, &[file.as_os_str(), OsStr::new("domain")]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
