//! The kernel command line end to end: each example compiled (spec → host → check → the
//! `kernel` and `loader` emitters), the edited file read back the way its real consumer reads
//! it (`sh` sourcing `/etc/default/grub`, a JSON parser for kernelstub, the kernel's splitting
//! for `/etc/kernel/cmdline`), and the edit shown to change nothing but passplan's tokens.

use std::path::Path;
use std::process::Command;

use passplan::check::{Checked, check};
use passplan::desired::{Desired, Input, Ownership, SpecSource, Trigger};
use passplan::emit::{kernel, loader};
use passplan::host::{CmdlineToken, KernelCmdline, discover, param_names_equal};

/// An example's spec and host, checked.
fn checked(example: &str) -> (Checked, SpecSource) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(example);
    let text = std::fs::read_to_string(dir.join("host.kdl")).expect("read the spec");
    let (spec, diags) = passplan::spec::parse(&text);
    let spec = spec.unwrap_or_else(|| panic!("{example}: spec does not parse: {diags:?}"));
    let host = discover(&dir.join("root")).expect("discover the example root");
    let (checked, diags) = check(spec, host);
    let checked = checked.unwrap_or_else(|| panic!("{example}: check failed: {diags:?}"));
    let source = SpecSource {
        name: "host.kdl".into(),
        text,
        dir: None,
    };
    (checked, source)
}

/// The two emitters on their own.
fn emit(checked: &Checked, source: &SpecSource) -> Desired {
    let input = Input {
        checked,
        source,
        owned_tokens: &[],
    };
    let mut out = Desired::default();
    kernel::emit(&input, &mut out).expect("kernel tokens");
    loader::emit(&input, &mut out).expect("loader edit");
    out
}

fn rendered(tokens: &[CmdlineToken]) -> Vec<String> {
    tokens
        .iter()
        .map(|t| match &t.value {
            Some(v) => format!("{}={v}", t.key),
            None => t.key.clone(),
        })
        .collect()
}

/// Every wanted token is the last occurrence of its name in what the consumer reads.
fn assert_wins(read: &KernelCmdline, want: &[CmdlineToken]) {
    for w in want {
        let last = read
            .tokens
            .iter()
            .rev()
            .find(|t| param_names_equal(&t.key, &w.key));
        assert_eq!(last, Some(w), "{} in {:?}", w.key, rendered(&read.tokens));
    }
}

/// The text's words with every word naming an owned parameter removed, and quotes and commas
/// around words dropped: two versions of a file that differ only in passplan's tokens give
/// the same result.
fn without_owned(text: &str, owned: &[CmdlineToken]) -> Vec<String> {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c| matches!(c, '"' | '\'' | ',' | '[' | ']')))
        .filter(|w| {
            let key = w.split('=').next().unwrap_or_default();
            !owned.iter().any(|o| param_names_equal(&o.key, key))
        })
        .map(str::to_owned)
        .collect()
}

/// The artifact at `path`, its edit checked for ownership, triggers, and "nothing else changed".
fn edited<'d>(checked: &Checked, out: &'d Desired, path: &str) -> &'d str {
    let artifact = out
        .artifacts
        .iter()
        .find(|a| a.path == path)
        .unwrap_or_else(|| panic!("no artifact for {path}: {:?}", out.artifacts));
    assert_eq!(artifact.ownership, Ownership::Edited);
    assert_eq!(artifact.triggers, [Trigger::Bootloader, Trigger::Reboot]);
    assert_eq!(artifact.mode, 0o644);
    let before = checked.host.files.get(path).map_or("", String::as_str);
    assert_eq!(
        without_owned(before, &out.kernel_tokens),
        without_owned(&artifact.content, &out.kernel_tokens),
        "{path}: only passplan's tokens may change"
    );
    &artifact.content
}

/// Compiling again against the edited file gives it back byte for byte.
fn assert_idempotent(checked: &Checked, source: &SpecSource, path: &str, content: &str) {
    let mut again = checked.clone();
    again.host.files.insert(path.to_owned(), content.to_owned());
    let out = emit(&again, source);
    let second = out
        .artifacts
        .iter()
        .find(|a| a.path == path)
        .expect("artifact");
    assert_eq!(
        second.content, content,
        "{path}: a second edit changes nothing"
    );
}

/// What `/etc/default/grub` sets `GRUB_CMDLINE_LINUX_DEFAULT` to when a shell sources it, as
/// grub-mkconfig does.
fn sourced_grub(content: &str) -> String {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("grub");
    std::fs::write(&file, content).expect("write the edited file");
    let output = Command::new("sh")
        .args([
            "-c",
            ". \"$1\"; printf %s \"$GRUB_CMDLINE_LINUX_DEFAULT\"",
            "sh",
        ])
        .arg(&file)
        .output()
        .expect("run sh");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).expect("utf-8")
}

#[test]
fn grub_seed_003_reads_back_through_sh() {
    let (checked, source) = checked("seed-003");
    let out = emit(&checked, &source);
    assert_eq!(
        rendered(&out.kernel_tokens),
        [
            "intel_iommu=on",
            "default_hugepagesz=2M",
            "hugepagesz=2M",
            "hugepages=4096"
        ],
        "Intel IOMMU, 8 GiB of static 2 MiB pages; vfio-pci is a module here, so no ids"
    );
    let content = edited(&checked, &out, "/etc/default/grub");
    let read = KernelCmdline::parse(&sourced_grub(content));
    assert_wins(&read, &out.kernel_tokens);
    assert_eq!(
        rendered(&read.tokens),
        [
            "quiet",
            "splash",
            "intel_iommu=on",
            "default_hugepagesz=2M",
            "hugepagesz=2M",
            "hugepages=4096"
        ]
    );
    assert_eq!(
        out.steps
            .iter()
            .map(|s| s.argv.join(" "))
            .collect::<Vec<_>>(),
        ["update-grub"]
    );
    assert_idempotent(&checked, &source, "/etc/default/grub", content);
}

#[test]
fn grub_tricky_file_reads_back_through_sh() {
    let (mut checked, source) = checked("seed-003");
    let tricky = "# comment GRUB_CMDLINE_LINUX_DEFAULT=\"nope\"\n\
        GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n\
        GRUB_CMDLINE_LINUX_DEFAULT='quiet intel_iommu=off'  \n\
        GRUB_CMDLINE_LINUX=\"iommu=1\"\n\
        GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT splash hugepages=10\"   # ours now\n";
    checked
        .host
        .files
        .insert("/etc/default/grub".into(), tricky.into());
    let out = emit(&checked, &source);
    let content = edited(&checked, &out, "/etc/default/grub");
    let read = KernelCmdline::parse(&sourced_grub(content));
    assert_wins(&read, &out.kernel_tokens);
    assert_eq!(
        content
            .lines()
            .filter(|l| l.contains("intel_iommu=off"))
            .count(),
        1,
        "the earlier assignment is not the one that wins, and it is the user's"
    );
    assert_idempotent(&checked, &source, "/etc/default/grub", content);
}

#[test]
fn kernelstub_workstation_drops_the_invalid_amd_flag_its_spec_owns() {
    // Issue 11: the spec declares the IOMMU, so passplan owns the IOMMU keys and removes the
    // invalid amd_iommu=on (before, it kept it as the user's).
    let (checked, source) = checked("workstation");
    let out = emit(&checked, &source);
    assert_eq!(
        rendered(&out.kernel_tokens),
        ["iommu=pt"],
        "no amd_iommu=on"
    );
    let path = "/etc/kernelstub/configuration";
    let content = &out
        .artifacts
        .iter()
        .find(|a| a.path == path)
        .expect("kernelstub edited")
        .content;
    let json: serde_json::Value = serde_json::from_str(content).expect("valid JSON");
    let options: Vec<&str> = json["user"]["kernel_options"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_str().expect("strings"))
        .collect();
    assert_eq!(
        options,
        [
            "quiet",
            "loglevel=0",
            "systemd.show_status=false",
            "splash",
            "iommu=pt"
        ]
    );
    assert_eq!(json["default"], {
        let before: serde_json::Value =
            serde_json::from_str(&checked.host.files[path]).expect("valid JSON");
        before["default"].clone()
    });
    assert!(
        out.artifacts.iter().all(|a| !a.path.contains("Pop_OS")),
        "kernelstub's loader entry is its own output"
    );
    assert_eq!(
        out.steps
            .iter()
            .map(|s| s.argv.join(" "))
            .collect::<Vec<_>>(),
        ["kernelstub"]
    );
    assert_idempotent(&checked, &source, path, content);
}

#[test]
fn kernelstub_seed_001_is_already_right() {
    let (checked, source) = checked("seed-001");
    let out = emit(&checked, &source);
    assert_eq!(rendered(&out.kernel_tokens), ["intel_iommu=on"]);
    let path = "/etc/kernelstub/configuration";
    assert_eq!(edited(&checked, &out, path), checked.host.files[path]);
}

#[test]
fn systemd_boot_seed_004_edits_kernel_cmdline() {
    let (checked, source) = checked("seed-004");
    let out = emit(&checked, &source);
    assert_eq!(rendered(&out.kernel_tokens), ["iommu=pt"]);
    let path = "/etc/kernel/cmdline";
    let content = edited(&checked, &out, path);
    assert_eq!(
        content,
        "root=UUID=d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6 ro quiet iommu=pt\n"
    );
    assert_wins(&KernelCmdline::parse(content), &out.kernel_tokens);
    assert!(
        out.artifacts
            .iter()
            .all(|a| !a.path.contains("/loader/entries/")),
        "kernel-install writes the entries"
    );
    assert_eq!(
        out.steps
            .iter()
            .map(|s| s.argv.join(" "))
            .collect::<Vec<_>>(),
        ["update-initramfs -u -k all"]
    );
    assert_idempotent(&checked, &source, path, content);
}

#[test]
fn every_kind_of_token_in_order() {
    let (base, _) = checked("seed-003");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seed-003/host.kdl"),
    )
    .expect("read the spec")
    .replace(
        "iommu mode=\"on\"",
        "iommu mode=\"pt\"\n        acs-override \"downstream\" \"multifunction\"\n        \
         param \"video=efifb:off\"\n        hugepages size=\"2MiB\" count=16",
    )
    .replace(
        "emulator \"0,4\"",
        "emulator \"0,4\"\n        isolate \"boot\"",
    );
    let (spec, diags) = passplan::spec::parse(&text);
    let spec = spec.unwrap_or_else(|| panic!("{diags:?}"));
    let mut host = base.host.clone();
    // Ubuntu's kernels build vfio-pci in: the ids must go on the command line.
    host.vfio_pci = passplan::host::VfioPci::BuiltIn;
    let (checked, diags) = check(spec, host);
    let checked = checked.unwrap_or_else(|| panic!("{diags:?}"));
    let source = SpecSource {
        name: "host.kdl".into(),
        text,
        dir: None,
    };
    let out = emit(&checked, &source);
    // Ids are listed sorted (emit::binding::boot_binding), whatever the function order.
    let mut ids: Vec<String> = checked
        .host
        .slot_functions(checked.spec.devices[0].pci.value)
        .iter()
        .map(|a| checked.host.pci[a].id.to_string())
        .collect();
    ids.sort();
    assert!(ids.len() >= 2, "the GTX 970 and its audio function");
    assert_eq!(
        rendered(&out.kernel_tokens),
        [
            "intel_iommu=on".to_owned(),
            "iommu=pt".to_owned(),
            format!("vfio-pci.ids={}", ids.join(",")),
            "default_hugepagesz=2M".to_owned(),
            "hugepagesz=2M".to_owned(),
            "hugepages=4112".to_owned(),
            "isolcpus=1-3,5-7".to_owned(),
            "nohz_full=1-3,5-7".to_owned(),
            "rcu_nocbs=1-3,5-7".to_owned(),
            "pcie_acs_override=downstream,multifunction".to_owned(),
            "video=efifb:off".to_owned(),
        ]
    );
    assert!(
        out.notes
            .iter()
            .any(|n| n.contains("built into this kernel"))
    );
    let content = edited(&checked, &out, "/etc/default/grub");
    assert_wins(
        &KernelCmdline::parse(&sourced_grub(content)),
        &out.kernel_tokens,
    );
    assert_idempotent(&checked, &source, "/etc/default/grub", content);
}
