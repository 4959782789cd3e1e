//! End to end against a real libvirtd with the QEMU driver (`scripts/e2e` installs and starts
//! it, then runs this binary with `PASSPLAN_E2E=1`). Without that variable every test prints
//! SKIPPED and passes, so `cargo test` on a machine without a daemon stays green.
//!
//! Only domains named `passplan-test-*` are created, and only this suite installs hooks under
//! `/etc/libvirt/hooks`; `scripts/e2e` removes both afterwards whatever happens here.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const URI: &str = "qemu:///system";
const VM: &str = "passplan-test-e2e";

fn enabled(test: &str) -> bool {
    let on = std::env::var_os("PASSPLAN_E2E").is_some_and(|v| v == "1");
    if !on {
        eprintln!(
            "\n*** SKIPPED e2e test `{test}`: set PASSPLAN_E2E=1 (scripts/e2e does, after starting libvirtd) ***\n"
        );
    }
    on
}

fn passplan(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_passplan"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run passplan");
    eprintln!(
        "$ passplan {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn virsh(args: &[&str]) -> Output {
    Command::new("virsh")
        .arg("-c")
        .arg(URI)
        .args(args)
        .output()
        .expect("run virsh")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The test spec: a TCG guest (these machines have no usable KVM), BIOS, no passthrough, a
/// 16 MiB qcow2 disk, and a user hook in every phase that appends the phase to a marker file.
fn spec(dir: &Path, memory: &str, pins: &str) -> String {
    let hook = dir.join("hook.sh");
    let disk = dir.join("disk.qcow2");
    let phases = [
        "prepare/begin",
        "start/begin",
        "started/begin",
        "stopped/end",
        "release/end",
    ];
    let mut hooks = String::new();
    for p in phases {
        let _ = writeln!(hooks, "    hook \"{p}\" script=\"{}\"", hook.display());
    }
    format!(
        "vm \"{VM}\" {{\n    memory \"{memory}\"\n    cpu {{ vcpus 2; pin cpus=\"{pins}\" }}\n    firmware \"bios\"\n    accel \"tcg\"\n    disk \"{}\" format=\"qcow2\"\n{hooks}}}\n",
        disk.display()
    )
}

/// Removes the domain and the hook tree even when an assertion fails half-way.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = virsh(&["destroy", VM]);
        let _ = virsh(&["undefine", VM]);
        let _ = std::fs::remove_dir_all(format!("/etc/libvirt/hooks/qemu.d/{VM}"));
    }
}

#[test]
fn apply_defines_converges_follows_spec_changes_and_runs_every_hook() {
    if !enabled("apply_defines_converges_follows_spec_changes_and_runs_every_hook") {
        return;
    }
    let started = Instant::now();
    let _cleanup = Cleanup;
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("marker");
    std::fs::write(
        dir.path().join("hook.sh"),
        format!("#!/bin/sh\necho \"$2\" >> '{}'\n", marker.display()),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["755", &dir.path().join("hook.sh").display().to_string()])
        .status()
        .unwrap();
    let img = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(dir.path().join("disk.qcow2"))
        .arg("16M")
        .status()
        .unwrap();
    assert!(img.success());
    let spec_path = dir.path().join("host.kdl");
    let spec_file = spec_path.to_str().unwrap();

    // 1. apply defines the domain and installs its hooks.
    std::fs::write(&spec_path, spec(dir.path(), "128MiB", "0,1")).unwrap();
    let out = passplan(&["apply", "--yes", spec_file]);
    assert!(out.status.success());
    assert!(Path::new(&format!("/etc/libvirt/hooks/qemu.d/{VM}/prepare/begin")).is_dir());
    let xml = stdout(&virsh(&["dumpxml", "--inactive", VM]));
    for managed in [
        "<domain type='qemu'",
        "<memory unit='KiB'>131072</memory>",
        "<vcpupin vcpu='0' cpuset='0'/>",
        "<vcpupin vcpu='1' cpuset='1'/>",
        "<model fallback='forbid'>qemu64</model>",
        "disk.qcow2",
    ] {
        assert!(xml.contains(managed), "{managed} missing from\n{xml}");
    }

    // 2. A second plan shows no changes.
    let out = passplan(&["plan", "--detailed-exitcode", spec_file]);
    assert_eq!(out.status.code(), Some(0), "a converged domain plans clean");
    assert!(stdout(&out).contains("No changes."));

    // 3. Changing memory and pins gives exactly that diff, and converges.
    std::fs::write(&spec_path, spec(dir.path(), "256MiB", "1,0")).unwrap();
    let out = passplan(&["plan", "--detailed-exitcode", spec_file]);
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    let diff: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    assert_eq!(
        diff,
        [
            "-  <memory unit='KiB'>131072</memory>",
            "-  <currentMemory unit='KiB'>131072</currentMemory>",
            "+  <memory unit='KiB'>262144</memory>",
            "+  <currentMemory unit='KiB'>262144</currentMemory>",
            "-    <vcpupin cpuset='0' vcpu='0'/>",
            "-    <vcpupin cpuset='1' vcpu='1'/>",
            "+    <vcpupin cpuset='1' vcpu='0'/>",
            "+    <vcpupin cpuset='0' vcpu='1'/>",
        ],
        "{text}"
    );
    assert!(passplan(&["apply", "--yes", spec_file]).status.success());
    let out = passplan(&["plan", "--detailed-exitcode", spec_file]);
    assert_eq!(out.status.code(), Some(0), "converged after the change");

    // 4. The VM starts and stops, and every generated hook phase runs, in order.
    let out = virsh(&["start", VM]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = passplan(&["plan", spec_file]);
    assert!(out.status.success());
    let out = virsh(&["destroy", VM]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let want = "prepare\nstart\nstarted\nstopped\nrelease\n";
    while std::fs::read_to_string(&marker).unwrap_or_default() != want && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(std::fs::read_to_string(&marker).unwrap_or_default(), want);

    // 5. Removing the VM from the spec undefines it only on request.
    std::fs::write(&spec_path, "host\n").unwrap();
    let out = passplan(&["plan", spec_file]);
    assert!(stdout(&out).contains("--prune"), "removal is only noted");
    assert!(
        passplan(&["apply", "--yes", "--prune", spec_file])
            .status
            .success()
    );
    assert!(!virsh(&["dominfo", VM]).status.success(), "undefined");
    eprintln!("e2e took {:?}", started.elapsed());
}

const ADOPTED: &str = "passplan-test-adopt";

/// Removes the adoption test's domain, with its UEFI variable store, whatever happened.
struct CleanupAdopted;

impl Drop for CleanupAdopted {
    fn drop(&mut self) {
        let _ = virsh(&["destroy", ADOPTED]);
        if !virsh(&["undefine", "--nvram", ADOPTED]).status.success() {
            let _ = virsh(&["undefine", ADOPTED]);
        }
        // Kept by passplan's prune (it keeps NVRAM unless --prune-nvram).
        let _ = std::fs::remove_file(format!("/var/lib/libvirt/qemu/nvram/{ADOPTED}_VARS.fd"));
    }
}

/// Issue 13, item 6: a domain made outside passplan (here with `virsh define`, as virt-manager
/// would) is left alone until `--adopt`, then converges; and `--prune` undefines a UEFI guest
/// whose firmware libvirt chose itself, after a start gave it a variable store that its
/// inactive XML does not name.
#[test]
fn a_domain_made_outside_passplan_is_adopted_only_on_request_and_prunes_with_its_nvram() {
    if !enabled(
        "a_domain_made_outside_passplan_is_adopted_only_on_request_and_prunes_with_its_nvram",
    ) {
        return;
    }
    let _cleanup = CleanupAdopted;
    let dir = tempfile::tempdir().unwrap();

    // 1. Someone else's UEFI guest (firmware chosen by libvirt, no secure boot, so no SMM),
    //    started once so that libvirt creates its variable store.
    let xml = format!(
        "<domain type='qemu'>\n  <name>{ADOPTED}</name>\n  <memory unit='MiB'>128</memory>\n  \
         <vcpu>1</vcpu>\n  <os firmware='efi'>\n    <type arch='x86_64' machine='q35'>hvm</type>\n    \
         <firmware>\n      <feature enabled='no' name='enrolled-keys'/>\n      \
         <feature enabled='no' name='secure-boot'/>\n    </firmware>\n  </os>\n  \
         <features><acpi/><apic/></features>\n  \
         <cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>\n  \
         <devices/>\n</domain>\n"
    );
    let xml_path = dir.path().join("adopt.xml");
    std::fs::write(&xml_path, xml).unwrap();
    let out = virsh(&["define", xml_path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in ["start", "destroy"] {
        let out = virsh(&[step, ADOPTED]);
        assert!(
            out.status.success(),
            "virsh {step}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let theirs = stdout(&virsh(&["dumpxml", "--inactive", ADOPTED]));
    assert!(
        theirs.contains("<memory unit='KiB'>131072</memory>"),
        "{theirs}"
    );

    // 2. The spec has a VM of that name: plan shows it, changes nothing, and apply leaves it.
    let spec_path = dir.path().join("host.kdl");
    let spec_file = spec_path.to_str().unwrap();
    std::fs::write(
        &spec_path,
        format!("vm \"{ADOPTED}\" {{\n    memory \"256MiB\"\n    cpu {{ vcpus 1 }}\n    firmware \"uefi\"\n    accel \"tcg\"\n}}\n"),
    )
    .unwrap();
    let out = passplan(&["plan", "--detailed-exitcode", spec_file]);
    assert_eq!(out.status.code(), Some(0), "nothing passplan may change");
    assert!(
        stdout(&out).contains(&format!(
            "~ domain:{ADOPTED} (not managed by passplan: pass --adopt {ADOPTED} to take it over)"
        )),
        "the plan names the domain and the flag"
    );
    assert!(passplan(&["apply", "--yes", spec_file]).status.success());
    assert_eq!(
        stdout(&virsh(&["dumpxml", "--inactive", ADOPTED])),
        theirs,
        "untouched"
    );

    // 3. --adopt takes it over; the next plan (without the flag) is empty.
    assert!(
        passplan(&["apply", "--yes", "--adopt", ADOPTED, spec_file])
            .status
            .success()
    );
    let ours = stdout(&virsh(&["dumpxml", "--inactive", ADOPTED]));
    assert!(
        ours.contains("<memory unit='KiB'>262144</memory>"),
        "{ours}"
    );
    let out = passplan(&["plan", "--detailed-exitcode", spec_file]);
    assert_eq!(out.status.code(), Some(0), "an adopted domain converges");
    assert!(stdout(&out).contains("No changes. The host matches the spec."));

    // 4. Out of the spec and pruned: libvirt has a variable store for it, so the undefine must
    //    say what to do with it (keep it, by default).
    std::fs::write(&spec_path, "host\n").unwrap();
    let out = passplan(&["apply", "--yes", "--prune", spec_file]);
    assert!(out.status.success(), "prune undefines a UEFI guest");
    assert!(!virsh(&["dominfo", ADOPTED]).status.success(), "undefined");
}
