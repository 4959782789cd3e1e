//! Issue 11: systemd-boot with several hand-written entries converges or refuses, never silently
//! does nothing. The three entries are real users' (`shared/realworld/grub/systemd-boot-entry_*`:
//! droserasprout's `arch-lts.conf`, eduxstad's `vfio.conf`, the-ashh's archinstall `arch.conf`),
//! side by side on the seed 004 host without `/etc/kernel/cmdline`.

use passplan::desired::{CompileError, Desired, SpecSource};

use crate::support::{FakeHost, seed004, write_seed};

const ENTRIES: &str = "boot/efi/loader/entries";

fn host(loader_conf: &str) -> FakeHost {
    let mut host = seed004();
    host.files.remove("etc/kernel/cmdline");
    host.files.retain(|path, _| !path.starts_with(ENTRIES));
    host.set_file(
        &format!("{ENTRIES}/arch-lts.conf"),
        "title\tArch Linux LTS\nlinux\t/vmlinuz-linux-lts\ninitrd\t/initramfs-linux-lts.img\noptions\troot=/dev/md0 rw intel_iommu=on intremap=no_x2apic_optout isolcpus=2-3 nohz_full=2-3 rcb_nocbs=2-3\n",
    );
    host.set_file(
        &format!("{ENTRIES}/vfio.conf"),
        "title\t\tArch Linux VFIO\nlinux\t\t/vmlinuz-linux\ninitrd\t\t/linux-custom.img\noptions\t\troot=LABEL=arch_os rw amd_iommu=on iommu=pt hugepages=6144\n",
    );
    host.set_file(
        &format!("{ENTRIES}/arch.conf"),
        "# Created by: archinstall\n# Created on: 2021-04-28_04-27-28\ntitle Arch Linux\nlinux /vmlinuz-linux-zen\ninitrd /initramfs-linux-zen.img\n# options root=PARTUUID=92917cbc-39c4-40ca-b059-aeed3f661afd rw intel_pstate=no_hwp intel_iommu=on  iommu=pt\noptions root=PARTUUID=92917cbc-39c4-40ca-b059-aeed3f661afd rw intel_pstate=no_hwp intel_iommu=on vfio-pci.ids=1002:687f,1002:aaf8 iommu=pt\n",
    );
    host.set_file("boot/efi/loader/loader.conf", loader_conf);
    host
}

/// seed 004's spec reserving boot hugepages, so the entries need a token none of them has.
fn compile(host: &FakeHost) -> Result<Desired, CompileError> {
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/seed-004/host.kdl"
    ))
    .unwrap()
    .replace("hugepages=\"dynamic\"", "hugepages=\"static\"");
    let root = write_seed(host);
    let (decoded, _) = passplan::spec::parse(&spec);
    let facts = passplan::host::discover(root.path()).expect("discover");
    let (checked, found) = passplan::check::check(decoded.expect("decodes"), facts);
    let checked = checked.unwrap_or_else(|| {
        panic!(
            "check: {:?}",
            found.iter().map(|d| &d.message).collect::<Vec<_>>()
        )
    });
    let source = SpecSource {
        name: "host.kdl".into(),
        text: spec,
        dir: None,
    };
    passplan::compile::compile(&checked, &source)
}

fn edited(desired: &Desired) -> Vec<String> {
    desired
        .artifacts
        .iter()
        .filter(|a| a.path.contains("/loader/entries/"))
        .map(|a| {
            assert!(a.content.contains("hugepages=12"), "{}", a.content);
            a.path.rsplit('/').next().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn issue_11_a_glob_default_edits_every_entry_it_matches() {
    let desired = compile(&host("timeout 3\ndefault arch*\n")).expect("compiles");
    assert_eq!(edited(&desired), ["arch-lts.conf", "arch.conf"]);
}

#[test]
fn issue_11_a_saved_default_edits_every_entry() {
    let desired = compile(&host("default @saved\n")).expect("compiles");
    assert_eq!(
        edited(&desired),
        ["arch-lts.conf", "arch.conf", "vfio.conf"]
    );
}

#[test]
fn issue_11_an_exact_default_edits_that_entry_only() {
    let desired = compile(&host("default vfio.conf\n")).expect("compiles");
    assert_eq!(edited(&desired), ["vfio.conf"]);
}

/// Bad input: a glob that matches nothing, and no `default` at all, are errors naming
/// loader.conf (and the line): nothing is compiled, so nothing is written.
#[test]
fn issue_11_a_default_selecting_nothing_is_an_error_naming_the_file_and_line() {
    match compile(&host("#timeout 3\n#console-mode keep\ndefault windows*\n")) {
        Err(CompileError::Edit { path, why }) => {
            assert_eq!(path, "/boot/efi/loader/loader.conf");
            assert!(why.contains("line 3") && why.contains("windows*"), "{why}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    match compile(&host("timeout 3\n")) {
        Err(CompileError::Edit { path, why }) => {
            assert_eq!(path, "/boot/efi/loader/loader.conf");
            assert!(why.contains("no `default`"), "{why}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}
