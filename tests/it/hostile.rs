//! Hostile values and hostile trees. Names that would become paths or shell words (`../`,
//! `$()`, backticks, quotes, newlines, spaces, unicode) are refused by the decoder; free text that
//! does reach a script or a file (disk and ISO paths, hook script paths, SMBIOS strings, the
//! Hyper-V vendor id) is quoted so that the real consumers read it back as written; a spec read
//! through a symlink is fine, but a root whose managed directories are links elsewhere is
//! refused before anything is written; discovery never reads through a link out of its root.

use std::fs;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use passplan::desired::{Desired, SpecSource};

use crate::support::tools::tool;
use crate::support::{seed003, workstation, write_seed};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn passplan(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_passplan"))
        .args(args)
        .output()
        .expect("run passplan")
}

/// Every regular file and link under `dir`, relative.
fn everything(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                todo.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Names no VM, device, bridge or unit may have: each would be a path, a shell word or a
/// libvirt name.
const HOSTILE_NAMES: [&str; 14] = [
    "../x",
    "a/../../etc",
    "$(reboot)",
    "`id`",
    "a\"b",
    "it's",
    "a\nb",
    "a b",
    "naïve",
    "",
    ".hidden",
    "-rf",
    "a;b",
    "win10\0",
];

/// KDL 2 quoted string of `s`: the fuzzing harness's quoting, so both build specs alike.
fn kdl(s: &str) -> String {
    passplan::fuzzing::kdl_string(s)
}

#[test]
fn hostile_names_are_refused_by_the_decoder() {
    let too_long = "a".repeat(65);
    let names = HOSTILE_NAMES.iter().copied().chain([too_long.as_str()]);
    for name in names {
        let q = kdl(name);
        let specs = [
            ("vm", format!("vm {q} {{ memory \"4GiB\" }}")),
            ("device", format!("device {q} {{ pci \"04:00.0\" }}")),
            (
                "gpu",
                format!("gpu {q} {{ pci \"0d:00.0\"; role \"guest\" }}"),
            ),
            (
                "bridge",
                format!("host {{ bridge {q} interface=\"enp5s0\" backend=\"networkd\" }}"),
            ),
            (
                "display manager",
                format!(
                    "gpu \"g\" {{ pci \"0d:00.0\"; role \"guest\"; handoff \"single-gpu\" display-manager={q} }}"
                ),
            ),
        ];
        for (what, spec) in specs {
            let (decoded, diags) = passplan::spec::parse(&spec);
            let codes: Vec<&str> = diags.iter().map(|d| d.code.0).collect();
            assert!(
                decoded.is_none() && codes.contains(&"spec/unsafe-name"),
                "{what} {name:?}: {codes:?}"
            );
        }
    }
}

/// The example workstation spec with hostile free text wherever the language takes free text
/// that ends up in a file: a disk, an ISO, SMBIOS strings, a Hyper-V vendor id, and a hook
/// script at `hook`.
fn hostile_workstation(hook: &Path) -> String {
    let spec = fs::read_to_string(crate_dir().join("examples/workstation/host.kdl")).unwrap();
    let hostile = format!(
        r#"disk "/var/lib/libvirt/images/my disk $(reboot) `id` it's \"x\" <&>.img" bus="virtio-scsi"
    cdrom "/home/user/ISOs/win'10 $(id) \"&amp;\".iso"
    hyperv vendor-id="$(id)'`x`"
    smbios {{
        bios vendor="</entry><evil/>" version="$(reboot)"
        system manufacturer="A'B\"C" product="`id` $HOME" serial="x\ny"
    }}
    hook "prepare/begin" script={}"#,
        kdl(&hook.display().to_string())
    );
    let spec = spec
        .replace(
            r#"disk "/var/lib/libvirt/images/pool/win10.img" bus="virtio-scsi" cache="none" io="threads" discard="unmap" queues=8 iothread=1"#,
            &hostile,
        )
        .replace("    cdrom \"/home/user/.iso/Win10.iso\"\n", "")
        .replace("    hyperv vendor-id=\"kvm hyperv\"\n", "")
        .replace("    smbios \"host\"\n", "");
    assert!(spec.contains("$(reboot)"), "the base spec changed: {spec}");
    spec
}

fn compile(spec: &str, name: &str) -> Desired {
    let (decoded, diags) = passplan::spec::parse(spec);
    let decoded = decoded
        .unwrap_or_else(|| panic!("{:?}", diags.iter().map(|d| &d.message).collect::<Vec<_>>()));
    let host = passplan::host::discover(&crate_dir().join("examples/workstation/root")).unwrap();
    let (checked, found) = passplan::check::check(decoded, host);
    let checked = checked
        .unwrap_or_else(|| panic!("{:?}", found.iter().map(|d| &d.message).collect::<Vec<_>>()));
    passplan::compile::compile(
        &checked,
        &SpecSource {
            name: name.to_owned(),
            text: spec.to_owned(),
            dir: None,
        },
    )
    .unwrap()
}

/// A directory whose name holds every shell metacharacter, with a script in it that records
/// its arguments; `$(touch pwned)` and `` `touch pwned` `` in the name would create `pwned` in
/// the working directory if any shell ever evaluated the path.
fn hostile_hook(dir: &Path) -> (PathBuf, PathBuf) {
    let hook_dir = dir.join("my hooks $(touch pwned) `touch pwned` it's \"q\" ; & | é");
    fs::create_dir_all(&hook_dir).unwrap();
    let hook = hook_dir.join("run me $(touch pwned).sh");
    let seen = dir.join("seen");
    fs::write(
        &hook,
        format!(
            "#!/bin/bash\nprintf '%s\\n' \"$0\" \"$@\" > '{}'\n",
            seen.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    (hook, seen)
}

/// Spec paths as they reach headers (`# From PATH:LINE`) of root-run scripts and modprobe
/// files: a newline would end the comment and start a line of its own.
const HOSTILE_SPEC_PATHS: [&str; 4] = [
    "/etc/passplan/host.kdl",
    "/etc/pass plan/$(touch pwned) `touch pwned` it's \"q\".kdl",
    "/tmp/x\ninstall vfio_pci reboot\ntouch pwned\n#.kdl",
    "/tmp/\r\x1b[2J\u{85}\u{2028}host.kdl",
];

#[test]
fn hostile_free_text_is_quoted_in_every_artifact() {
    for spec_path in HOSTILE_SPEC_PATHS {
        hostile_free_text_is_quoted(spec_path);
    }
}

/// The hostile workstation compiled from a spec named `spec_path`: every artifact safe.
fn hostile_free_text_is_quoted(spec_path: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (hook, seen) = hostile_hook(dir.path());
    let desired = compile(&hostile_workstation(&hook), spec_path);
    // The spec's path shows in headers, with no line of its own and no control character.
    for a in &desired.artifacts {
        for line in a.content.lines() {
            assert!(
                !line.starts_with("install ") && !line.starts_with("touch "),
                "{spec_path:?} put a line of its own into {}:\n{}",
                a.path,
                a.content
            );
        }
        let controls: Vec<char> = a
            .content
            .chars()
            .filter(|c| c.is_control() && *c != '\n' && *c != '\t')
            .collect();
        assert!(
            controls.is_empty(),
            "{spec_path:?} in {}: {controls:?}",
            a.path
        );
    }

    // Shell scripts parse, and pass shellcheck.
    let scripts: Vec<_> = desired
        .artifacts
        .iter()
        .filter(|a| a.content.starts_with("#!/bin/bash"))
        .collect();
    assert!(scripts.len() > 3, "the hook tree is there");
    let shellcheck = tool("shellcheck");
    for a in &scripts {
        let file = dir.path().join("script.sh");
        fs::write(&file, &a.content).unwrap();
        let out = Command::new("bash").arg("-n").arg(&file).output().unwrap();
        assert!(out.status.success(), "{} does not parse", a.path);
        if let Some(sc) = &shellcheck {
            let out = Command::new(sc)
                .args(["-s", "bash", "-S", "warning"])
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}:\n{}",
                a.path,
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }

    // The domain XML is well-formed and holds the values as written (virt-xml-validate is the
    // domain suite's job; well-formedness is what escaping decides).
    let xml = &desired.domains[0].xml;
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("malformed domain XML ({e}):\n{xml}"),
        }
    }
    assert!(!xml.contains("<evil"), "markup in a value stays text");
    assert!(xml.contains("&lt;/entry&gt;&lt;evil/&gt;"), "{xml}");
    assert!(
        xml.contains("my disk $(reboot) `id` it&apos;s &quot;x&quot; &lt;&amp;&gt;.img")
            || xml.contains("my disk $(reboot) `id` it's &quot;x&quot; &lt;&amp;&gt;.img"),
        "{xml}"
    );

    // The user wrapper, run: it executes exactly the hostile path, and no shell ever evaluated it.
    let wrapper = desired
        .artifacts
        .iter()
        .find(|a| a.path.contains("/prepare/begin/50-user-"))
        .expect("the user hook wrapper");
    let file = dir.path().join("wrapper.sh");
    fs::write(&file, &wrapper.content).unwrap();
    let work = dir.path().join("cwd");
    fs::create_dir(&work).unwrap();
    let mut child = Command::new("bash")
        .arg(&file)
        .args(["win10", "prepare", "begin", "-"])
        .current_dir(&work)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fs::read_to_string(&seen).unwrap(),
        format!("{}\nwin10\nprepare\nbegin\n-\n", hook.display()),
        "the wrapper runs exactly the hostile path, with libvirt's arguments"
    );
    assert!(
        everything(&work).is_empty(),
        "nothing was evaluated: {:?}",
        everything(&work)
    );
    assert!(!dir.path().join("pwned").exists());
}

#[test]
fn a_spec_reached_through_a_symlink_writes_only_under_the_root() {
    let root = write_seed(&workstation());
    let elsewhere = tempfile::tempdir().unwrap();
    let real = elsewhere.path().join("real");
    fs::create_dir(&real).unwrap();
    fs::copy(
        crate_dir().join("examples/workstation/host.kdl"),
        real.join("host.kdl"),
    )
    .unwrap();
    let link = elsewhere.path().join("link.kdl");
    symlink(real.join("host.kdl"), &link).unwrap();
    let before_elsewhere = everything(elsewhere.path());
    let before_root = everything(root.path());
    let out = passplan(&[
        "apply".as_ref(),
        link.as_os_str(),
        "--yes".as_ref(),
        "--root".as_ref(),
        root.path().as_os_str(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        everything(elsewhere.path()),
        before_elsewhere,
        "nothing written beside the spec or its link"
    );
    let after_root = everything(root.path());
    assert!(
        after_root.len() > before_root.len(),
        "the artifacts are under the root"
    );
}

/// `passplan apply --yes` on a copy of `host` whose `dir` (relative to the root) is a symlink to
/// a directory outside: refused with a message naming the link, nothing written through it.
fn refuses_a_linked_directory(host: &crate::support::FakeHost, example: &str, dir: &str) {
    let root = write_seed(host);
    let outside = tempfile::tempdir().unwrap();
    let link = root.path().join(dir);
    if link.exists() {
        fs::remove_dir_all(&link).unwrap();
    }
    fs::create_dir_all(link.parent().unwrap()).unwrap();
    symlink(outside.path(), &link).unwrap();
    let spec = crate_dir().join(format!("examples/{example}/host.kdl"));
    let out = passplan(&[
        "apply".as_ref(),
        spec.as_os_str(),
        "--yes".as_ref(),
        "--root".as_ref(),
        root.path().as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{dir}: {stderr}");
    assert!(
        stderr.contains("symbolic link") && stderr.contains(dir),
        "{dir}: the message names the link: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{dir}: {stderr}");
    assert_eq!(
        everything(outside.path()),
        Vec::<String>::new(),
        "{dir}: nothing written through the link"
    );
}

#[test]
fn a_root_whose_hook_directory_is_a_link_elsewhere_is_refused() {
    refuses_a_linked_directory(&workstation(), "workstation", "etc/libvirt/hooks");
}

#[test]
fn a_root_whose_modprobe_directory_is_a_link_elsewhere_is_refused() {
    refuses_a_linked_directory(&seed003(), "seed-003", "etc/modprobe.d");
}

#[test]
fn discovery_reads_nothing_through_links_out_of_the_root() {
    let root = write_seed(&workstation());
    let outside = tempfile::tempdir().unwrap();
    let marker = "PASSPLAN-OUTSIDE-MARKER";
    fs::write(outside.path().join("cmdline"), format!("{marker}=1\n")).unwrap();
    fs::write(
        outside.path().join("grub"),
        format!("GRUB_CMDLINE_LINUX=\"{marker}\"\n"),
    )
    .unwrap();
    let r = root.path();
    // Files discovery reads, replaced by links out of the root: absolute, and climbing.
    fs::remove_file(r.join("proc/cmdline")).unwrap();
    symlink(outside.path().join("cmdline"), r.join("proc/cmdline")).unwrap();
    fs::create_dir_all(r.join("etc/default")).unwrap();
    let climb = format!(
        "../../../../../../../../../..{}",
        outside.path().join("grub").display()
    );
    symlink(&climb, r.join("etc/default/grub")).unwrap();
    // A directory link to `/` and one to `../../..`: listing them must stay inside.
    fs::create_dir_all(r.join("etc/modprobe.d")).unwrap();
    symlink("/", r.join("etc/modprobe.d/root")).unwrap();
    symlink(outside.path(), r.join("etc/default/grub.d")).unwrap();
    symlink("../../..", r.join("sys/kernel/up")).unwrap();
    let out = passplan(&[
        "host".as_ref(),
        "--json".as_ref(),
        "--root".as_ref(),
        r.as_os_str(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !stdout.contains(marker),
        "a file outside the root was read: {stdout}"
    );
    // Through the library too: no file text discovery keeps holds the marker.
    let facts = passplan::host::discover(r).unwrap();
    assert!(facts.files.values().all(|t| !t.contains(marker)));
    assert!(facts.cmdline.tokens.iter().all(|t| !t.key.contains(marker)));
    // The link resolved inside the root finds nothing there, and the rest is still discovered.
    assert!(stdout.contains("\"pci\""), "{stdout}");
}

/// A `driver` link name no kernel gives, with a newline and an `install` line that modprobe
/// would run as root the next time vfio-pci loads.
const CRAFTED_DRIVER: &str = "nouveau pre: x\ninstall vfio_pci reboot";

#[test]
fn a_crafted_driver_name_is_refused_and_never_written() {
    let mut host = seed003();
    host.pci_mut("06:00.0").driver = Some(CRAFTED_DRIVER.to_owned());
    let root = write_seed(&host);
    let spec = crate_dir().join("examples/seed-003/host.kdl");
    let out = passplan(&[
        "apply".as_ref(),
        spec.as_os_str(),
        "--yes".as_ref(),
        "--root".as_ref(),
        root.path().as_os_str(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("device/driver-name"), "{stdout}");
    assert!(
        !stdout.contains("\ninstall vfio_pci"),
        "the report shows the name escaped: {stdout}"
    );
    assert!(
        !root
            .path()
            .join("etc/modprobe.d/passplan-vfio.conf")
            .exists(),
        "nothing was written"
    );
    // The real names of real machines pass, hyphens and underscores alike: every driver in use
    // in the real `lspci -k` listings (`vfio-pci`, `intel-lpss`, `snd_hda_intel`, …), and
    // names from real sysfs dumps' `driver` links.
    let listings = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/realworld/iommu"
    ));
    let mut real: Vec<String> = [
        "sof-audio-pci-intel-tgl",
        "ehci-pci",
        "xhci_hcd",
        "pcieport",
    ]
    .map(str::to_owned)
    .to_vec();
    for entry in fs::read_dir(listings).into_iter().flatten().flatten() {
        if !entry.path().is_file() {
            continue;
        }
        let text = String::from_utf8_lossy(&fs::read(entry.path()).unwrap()).into_owned();
        real.extend(text.lines().filter_map(|l| {
            l.split_once("Kernel driver in use:")
                .map(|(_, d)| d.trim().to_owned())
        }));
    }
    assert!(real.len() > 10, "the real listings are there: {real:?}");
    for name in &real {
        assert!(passplan::host::is_driver_name(name), "{name}");
    }
    assert!(!passplan::host::is_driver_name(CRAFTED_DRIVER));
}

/// Every byte of `text` a terminal would act on, other than the newlines that end lines.
fn control_characters(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect()
}

#[test]
fn the_host_listing_prints_no_control_characters_from_the_tree() {
    let mut host = seed003();
    host.pci_mut("06:00.0").driver = Some("nvidia\x1b[2J\x1b]0;owned\x07".to_owned());
    host.cpuinfo.model_name = "Intel\x1b[31m Xeon\u{9b}2J".to_owned();
    host.kernel_release = "6.1.0\x1b[5m".to_owned();
    host.cmdline = format!("{} \"quiet=\x1b[8m\"", host.cmdline);
    let ids = host.pci_ids.take().unwrap_or_default();
    host.pci_ids = Some(ids.replacen("\t13c2  ", "\t13c2  \x1b[41mEVIL\x1b[0m ", 1));
    let root = write_seed(&host);
    let out = passplan(&["host".as_ref(), "--root".as_ref(), root.path().as_os_str()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("EVIL"),
        "the pci.ids name is shown: {stdout}"
    );
    assert_eq!(control_characters(&stdout), Vec::<char>::new(), "{stdout}");
    assert!(
        stdout.contains("nvidia\\u{1b}[2J"),
        "escaped, not dropped: {stdout}"
    );
}

#[test]
fn a_huge_sparse_host_file_is_reported_and_never_read() {
    // A 1.5 GB sparse pci.ids once took 3 GB of memory to discover; now its size is checked
    // first, and it is a finding that names the file and the limit, not an absent file.
    let root = write_seed(&seed003());
    let ids = root.path().join("usr/share/misc/pci.ids");
    fs::create_dir_all(ids.parent().unwrap()).unwrap();
    let file = fs::File::create(&ids).unwrap();
    file.set_len(1_500_000_000).unwrap();
    drop(file);
    let facts = passplan::host::discover(root.path()).unwrap();
    assert_eq!(
        facts.oversized,
        [passplan::host::OversizedFile {
            path: "/usr/share/misc/pci.ids".to_owned(),
            limit: 16 << 20,
        }]
    );
    assert!(facts.pci_names.vendors.is_empty());
    let out = passplan(&["host".as_ref(), "--root".as_ref(), root.path().as_os_str()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("UNREAD    /usr/share/misc/pci.ids: larger than 16MiB"),
        "{stdout}"
    );
    let spec = crate_dir().join("examples/seed-003/host.kdl");
    let out = passplan(&[
        "check".as_ref(),
        spec.as_os_str(),
        "--root".as_ref(),
        root.path().as_os_str(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("host/file-too-large") && stdout.contains("pci.ids"),
        "{stdout}"
    );
}

/// Every Rust source file under `dir`, recursively.
fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `docs/security.md` names the test behind each promise (`hostile::name`,
/// `src/spec/names.rs::tests::name`, `loader::*`): each must exist, so a renamed or deleted
/// test cannot leave a promise standing on nothing.
#[test]
fn every_test_named_in_the_security_doc_exists() {
    let doc = fs::read_to_string(crate_dir().join("docs/security.md")).unwrap();
    let mut sources = Vec::new();
    rust_sources(&crate_dir().join("src"), &mut sources);
    let has_fn = |file: &Path, name: &str| {
        fs::read_to_string(file).is_ok_and(|text| text.contains(&format!("fn {name}(")))
    };
    let mut checked = 0;
    let mut missing = Vec::new();
    for reference in doc.split('`').skip(1).step_by(2) {
        let Some((head, name)) = reference.rsplit_once("::") else {
            continue;
        };
        let name_ok = name == "*"
            || name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !name_ok || reference.contains(' ') {
            continue;
        }
        let found = if let Some((file, _)) = head.split_once(".rs") {
            // `src/x/y.rs::tests::name`, `src/x/y.rs::tests`, or `hooks/shell.rs::quote`.
            let file = format!("{file}.rs");
            let Some(path) = sources
                .iter()
                .find(|p| p.ends_with(file.trim_start_matches("src/")))
            else {
                missing.push(format!("{reference} (no file {file})"));
                continue;
            };
            if name == "tests" {
                fs::read_to_string(path).is_ok_and(|t| t.contains("mod tests"))
            } else {
                has_fn(path, name)
            }
        } else {
            // `module::name`: a file of this test binary; other `a::b` are items, not tests.
            let file = crate_dir().join(format!("tests/it/{head}.rs"));
            if !file.is_file() {
                continue;
            }
            name == "*" || has_fn(&file, name)
        };
        checked += 1;
        if !found {
            missing.push(reference.to_owned());
        }
    }
    assert!(
        checked > 30,
        "only {checked} test references found in docs/security.md"
    );
    assert!(
        missing.is_empty(),
        "docs/security.md names tests that do not exist: {missing:?}"
    );
}

/// Programs discovery could be tempted to run instead of reading files, and the shells and
/// tools anything would go through.
const TRACED_PROGRAMS: [&str; 24] = [
    "lspci",
    "lscpu",
    "lsusb",
    "lsblk",
    "lsmod",
    "dmidecode",
    "udevadm",
    "modinfo",
    "modprobe",
    "uname",
    "systemctl",
    "findmnt",
    "blkid",
    "virsh",
    "kernelstub",
    "bootctl",
    "efibootmgr",
    "grub-mkconfig",
    "dracut",
    "mkinitcpio",
    "sh",
    "bash",
    "cat",
    "readlink",
];

#[test]
fn discovery_spawns_nothing() {
    // A PATH of nothing but shims that record their own name: anything discovery ran by name
    // (`lspci`, a shell) would leave a line in the log.
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let log = dir.path().join("spawned");
    for program in TRACED_PROGRAMS {
        let shim = bin.join(program);
        fs::write(
            &shim,
            format!("#!/bin/sh\necho {program} >> '{}'\n", log.display()),
        )
        .unwrap();
        fs::set_permissions(&shim, fs::Permissions::from_mode(0o755)).unwrap();
    }
    // The shims work: a program started by name is recorded.
    let out = Command::new("/usr/bin/env")
        .env("PATH", &bin)
        .arg("lspci")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(fs::read_to_string(&log).unwrap(), "lspci\n");
    fs::remove_file(&log).unwrap();

    let root = write_seed(&seed003());
    let spec = crate_dir().join("examples/seed-003/host.kdl");
    let runs: [Vec<&std::ffi::OsStr>; 3] = [
        vec!["host".as_ref(), "--root".as_ref(), root.path().as_os_str()],
        vec![
            "host".as_ref(),
            "--json".as_ref(),
            "--root".as_ref(),
            root.path().as_os_str(),
        ],
        vec![
            "check".as_ref(),
            spec.as_os_str(),
            "--root".as_ref(),
            root.path().as_os_str(),
        ],
    ];
    for args in runs {
        let out = Command::new(env!("CARGO_BIN_EXE_passplan"))
            .args(&args)
            .env("PATH", &bin)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !log.exists(),
            "{args:?} ran {:?}",
            fs::read_to_string(&log).unwrap_or_default()
        );
    }
}

fn apply_args<'a>(spec: &'a Path, root: &'a Path) -> Vec<&'a std::ffi::OsStr> {
    vec![
        "apply".as_ref(),
        spec.as_os_str(),
        "--yes".as_ref(),
        "--root".as_ref(),
        root.as_os_str(),
    ]
}

#[test]
fn a_lock_planted_as_a_link_is_refused_by_apply_and_plan() {
    let spec = crate_dir().join("examples/seed-003/host.kdl");
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("shadow");
    fs::write(&victim, "root:secret\n").unwrap();
    for planted in ["the lock", "its directory"] {
        let root = write_seed(&seed003());
        fs::create_dir_all(root.path().join("var/lib")).unwrap();
        let lock = root.path().join(passplan::apply::lock::LOCK_PATH);
        if planted == "the lock" {
            fs::create_dir_all(lock.parent().unwrap()).unwrap();
            symlink(&victim, &lock).unwrap();
        } else {
            symlink(outside.path(), lock.parent().unwrap()).unwrap();
        }
        let before = everything(root.path());
        let plan = passplan(&[
            "plan".as_ref(),
            spec.as_os_str(),
            "--root".as_ref(),
            root.path().as_os_str(),
        ]);
        for (command, out) in [
            ("apply", passplan(&apply_args(&spec, root.path()))),
            ("plan", plan),
        ] {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{planted}, {command}: {stderr}");
            assert!(
                stderr.contains("symbolic link") && stderr.contains("var/lib/passplan"),
                "{planted}, {command}: the message names the link: {stderr}"
            );
        }
        assert_eq!(
            everything(root.path()),
            before,
            "{planted}: nothing written"
        );
        assert_eq!(
            fs::read_to_string(&victim).unwrap(),
            "root:secret\n",
            "{planted}"
        );
        assert_eq!(
            everything(outside.path()),
            vec!["shadow".to_owned()],
            "{planted}: nothing made outside the root"
        );
    }
}

#[test]
fn apply_refuses_a_target_that_is_not_a_regular_file_before_taking_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let zero = dir.path().join("zero.kdl");
    symlink("/dev/zero", &zero).unwrap();
    let fifo = dir.path().join("fifo.kdl");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let huge = dir.path().join("huge.kdl");
    fs::write(&huge, vec![b' '; (1 << 20) + 1]).unwrap();
    for (target, why) in [
        (&zero, "not a regular file"),
        (&fifo, "not a regular file"),
        (&huge, "larger than 1 MiB"),
    ] {
        let root = write_seed(&seed003());
        let out = passplan(&apply_args(target, root.path()));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {stderr}", target.display());
        assert!(stderr.contains(why), "{}: {stderr}", target.display());
        assert!(
            !root.path().join("var/lib/passplan").exists(),
            "{}: refused before the lock was taken",
            target.display()
        );
    }
}

#[test]
fn build_out_never_writes_through_links() {
    let spec = crate_dir().join("examples/seed-003/host.kdl");
    let root = write_seed(&seed003());
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("shadow");
    let file = "etc/modprobe.d/passplan-vfio.conf";
    for planted in ["a directory link", "a file link", "a hard link"] {
        fs::write(&victim, "root:secret\n").unwrap();
        fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).unwrap();
        let out_dir = tempfile::tempdir().unwrap();
        let target = out_dir.path().join(file);
        fs::create_dir_all(out_dir.path().join("etc")).unwrap();
        match planted {
            "a directory link" => symlink(outside.path(), target.parent().unwrap()).unwrap(),
            "a file link" => {
                fs::create_dir_all(target.parent().unwrap()).unwrap();
                symlink(&victim, &target).unwrap();
            }
            _ => {
                fs::create_dir_all(target.parent().unwrap()).unwrap();
                fs::hard_link(&victim, &target).unwrap();
            }
        }
        let out = passplan(&[
            "build".as_ref(),
            spec.as_os_str(),
            "--root".as_ref(),
            root.path().as_os_str(),
            "--out".as_ref(),
            out_dir.path().as_os_str(),
            // OUT holds files no build wrote (the planted links): without --force build
            // refuses before writing anything (`convergence::build_out_is_a_fresh_read_only_view`);
            // with it, links are still never followed.
            "--force".as_ref(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if planted == "a hard link" {
            // The file is replaced by a rename: the link is broken, never written into.
            assert_eq!(out.status.code(), Some(0), "{planted}: {stderr}");
            assert_ne!(fs::read_to_string(&target).unwrap(), "root:secret\n");
        } else {
            assert_eq!(out.status.code(), Some(1), "{planted}: {stderr}");
            assert!(stderr.contains("symbolic link"), "{planted}: {stderr}");
        }
        assert_eq!(
            fs::read_to_string(&victim).unwrap(),
            "root:secret\n",
            "{planted}: the file behind the link is untouched"
        );
        assert_eq!(
            fs::metadata(&victim).unwrap().permissions().mode() & 0o777,
            0o600,
            "{planted}: and keeps its mode"
        );
        assert_eq!(
            everything(outside.path()),
            vec!["shadow".to_owned()],
            "{planted}: nothing made outside OUT"
        );
    }
}

/// Every directory and file under `dir` (itself included) that a group or others may write.
fn writable_by_others(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let meta = fs::symlink_metadata(&d).unwrap();
        if meta.permissions().mode() & 0o022 != 0 {
            found.push(format!("{} {:o}", d.display(), meta.permissions().mode()));
        }
        if meta.is_dir() {
            todo.extend(fs::read_dir(&d).unwrap().map(|e| e.unwrap().path()));
        }
    }
    found
}

#[test]
fn permissions_never_depend_on_the_callers_umask() {
    let spec = crate_dir().join("examples/workstation/host.kdl");
    let root = write_seed(&workstation());
    let hooks = root.path().join("etc/libvirt/hooks");
    assert!(!hooks.exists(), "the hooks directory is made by the apply");
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 000 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_passplan"))
        .args(apply_args(&spec, root.path()))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(hooks.join("qemu").exists(), "the apply wrote the hooks");
    // A saved plan is trusted as root: only its owner may write it.
    let saved = root.path().join("saved-plan.json");
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 000 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_passplan"))
        .args(["plan".as_ref(), spec.as_os_str(), "--root".as_ref()])
        .arg(root.path())
        .arg("-o")
        .arg(&saved)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fs::metadata(&saved).unwrap().permissions().mode() & 0o777,
        0o600,
        "the saved plan"
    );
    for dir in [hooks, root.path().join("var/lib/passplan")] {
        assert_eq!(
            writable_by_others(&dir),
            Vec::<String>::new(),
            "written under umask 000"
        );
    }
}

#[test]
fn applying_to_the_running_machine_without_root_is_refused() {
    use std::os::unix::process::CommandExt as _;
    let spec = crate_dir().join("examples/workstation/host.kdl");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_passplan"));
    cmd.args([
        "apply".as_ref(),
        spec.as_os_str(),
        "--yes".as_ref(),
        "--root".as_ref(),
        "/".as_ref(),
    ]);
    if rustix::process::geteuid().is_root() {
        // Drop to nobody for this one process.
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("needs root") && stderr.contains("sudo"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("lock"),
        "refused before the lock: {stderr}"
    );
}
