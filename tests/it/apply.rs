//! Plan and apply against copies of the example hosts: convergence (apply, then plan shows no
//! changes), the golden build trees as the expected result, saved and stale plans, drift,
//! removal, rollback, the lock, and fault injection — a failing command (owed until it
//! succeeds), a full disk at every write, and a crash after every single step.

use std::io;
use std::path::Path;
use std::process::Command;

use passplan::apply::{self, ApplyError, Options};
use passplan::desired::SpecSource;
use passplan::plan::{self, Plan};
use passplan::system::state::{STATE_PATH, State};
use passplan::system::{CommandOutput, FileState, Offline, RealSystem, System};

use crate::support::{all_seeds, write_seed};

/// Plan `spec` against `root` through the library, as `passplan plan` does.
fn plan_for(root: &Path, spec: &str) -> Plan {
    plan_named(root, spec, "host.kdl")
}

/// The same, with the spec named as headers show it (the golden build trees use `<example>/host.kdl`).
fn plan_named(root: &Path, spec: &str, name: &str) -> Plan {
    let (decoded, diags) = passplan::spec::parse(spec);
    let decoded = decoded
        .unwrap_or_else(|| panic!("{:?}", diags.iter().map(|d| &d.message).collect::<Vec<_>>()));
    let host = passplan::host::discover(root).unwrap();
    let (checked, found) = passplan::check::check(decoded, host);
    let checked = checked
        .unwrap_or_else(|| panic!("{:?}", found.iter().map(|d| &d.message).collect::<Vec<_>>()));
    let sys = RealSystem::new(root);
    let state = State::load(&sys).unwrap();
    let owned: Vec<String> = state.kernel_tokens.iter().cloned().collect();
    let desired = passplan::compile::compile_with(
        &checked,
        &SpecSource {
            name: name.into(),
            text: spec.into(),
            dir: None,
        },
        &owned,
    )
    .unwrap();
    let observed = plan::observe(&sys, &desired, state).unwrap();
    plan::plan(&desired, &observed, &checked.host)
}

fn example_spec(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/examples/{name}/host.kdl",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn apply_offline(root: &Path, plan: &Plan, force: bool) -> Result<apply::Report, ApplyError> {
    let mut sys = Offline::new(RealSystem::new(root));
    apply::apply(&mut sys, plan, Options { force }, &mut io::sink())
}

/// Every regular file under `dir`, path → bytes (the machine's whole state, for comparisons).
fn snapshot(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, base: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            let rel = e.path().strip_prefix(base).unwrap().display().to_string();
            if meta.is_dir() {
                walk(&e.path(), base, out);
            } else if meta.is_file() {
                out.insert(rel, std::fs::read(e.path()).unwrap());
            } else {
                out.insert(
                    rel,
                    std::fs::read_link(e.path())
                        .unwrap()
                        .display()
                        .to_string()
                        .into_bytes(),
                );
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The machine as the user sees it: everything but passplan's own bookkeeping.
fn user_files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    snapshot(dir)
        .into_iter()
        .filter(|(p, _)| !p.starts_with("var/lib/passplan"))
        .collect()
}

#[test]
fn every_example_converges_to_its_golden_tree_and_replans_clean() {
    for (name, host) in all_seeds() {
        let root = write_seed(&host);
        let spec = example_spec(name);
        let first = plan_named(root.path(), &spec, &format!("{name}/host.kdl"));
        assert!(first.has_changes(), "{name}: a fresh host needs changes");
        apply_offline(root.path(), &first, false).unwrap();
        // The applied files are exactly the golden build output.
        let golden = format!("{}/tests/golden/build/{name}", env!("CARGO_MANIFEST_DIR"));
        for change in &first.changes {
            let applied =
                std::fs::read_to_string(root.path().join(change.path.trim_start_matches('/')))
                    .unwrap();
            let want = std::fs::read_to_string(format!("{golden}{}", change.path)).unwrap();
            assert_eq!(
                applied, want,
                "{name}: {} differs from the golden build",
                change.path
            );
        }
        let second = plan_named(root.path(), &spec, &format!("{name}/host.kdl"));
        assert!(
            !second.has_changes(),
            "{name}: re-plan after apply must be empty, got {:?}",
            second.changes.iter().map(|c| &c.path).collect::<Vec<_>>()
        );
        // A second apply writes nothing and runs nothing.
        let before = snapshot(root.path());
        let report = apply_offline(root.path(), &second, false).unwrap();
        assert_eq!((report.files, report.commands, report.skipped), (0, 0, 0));
        assert_eq!(
            snapshot(root.path()),
            before,
            "{name}: a no-op apply touched files"
        );
    }
}

#[test]
fn the_plan_is_rendered_for_people_and_machines() {
    let (name, host) = all_seeds().remove(2); // seed-003: GRUB, modprobe, initramfs, bridge
    let root = write_seed(&host);
    let plan = plan_for(root.path(), &example_spec(name));
    let mut human = Vec::new();
    plan::render::human(&plan, &mut human, false).unwrap();
    let human = String::from_utf8(human).unwrap();
    assert!(!human.contains('\u{1b}'));
    insta::with_settings!({ snapshot_path => "snapshots/plan", prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!("seed-003-human", human);
    });
    let mut json = Vec::new();
    plan::render::json(&plan, &mut json).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(value["format_version"], 1);
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/schema/plan.schema.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "plan JSON does not match schema/plan.schema.json: {errors:?}"
    );
}

#[test]
fn commands_are_ordered_initramfs_then_bootloader_with_reasons() {
    let (name, host) = all_seeds().remove(2);
    let root = write_seed(&host);
    let plan = plan_for(root.path(), &example_spec(name));
    let commands: Vec<String> = plan.steps.iter().map(|s| s.argv.join(" ")).collect();
    let initramfs = commands
        .iter()
        .position(|c| c.starts_with("update-initramfs"))
        .unwrap();
    let grub = commands
        .iter()
        .position(|c| c.starts_with("update-grub"))
        .unwrap();
    assert!(initramfs < grub, "{commands:?}");
    assert!(plan.reboot_required);
    assert!(
        plan.order
            .iter()
            .any(|(a, b, why)| a.starts_with("update-initramfs")
                && b.starts_with("update-grub")
                && why.contains("initramfs")),
        "{:?}",
        plan.order
    );
}

#[test]
fn a_saved_plan_applies_exactly_and_a_stale_one_is_refused() {
    let (name, host) = all_seeds().remove(0);
    let root = write_seed(&host);
    let plan = plan_for(root.path(), &example_spec(name));
    let saved: Plan = serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
    assert_eq!(saved, plan, "a saved plan round-trips");
    // Someone edits a file the plan read.
    let path = plan
        .observed
        .keys()
        .find(|p| p.starts_with("/etc/kernelstub"))
        .unwrap()
        .clone();
    std::fs::write(root.path().join(path.trim_start_matches('/')), "{}").unwrap();
    let before = user_files(root.path());
    match apply_offline(root.path(), &saved, false) {
        Err(ApplyError::Stale { path: stale }) => assert_eq!(stale, path),
        other => panic!("expected a stale plan to be refused, got {other:?}"),
    }
    assert_eq!(
        user_files(root.path()),
        before,
        "a refused plan changes nothing"
    );
}

#[test]
fn a_hand_edited_managed_file_is_drift_and_needs_force() {
    let (name, host) = all_seeds().remove(2);
    let root = write_seed(&host);
    let spec = example_spec(name);
    apply_offline(root.path(), &plan_for(root.path(), &spec), false).unwrap();
    let file = root.path().join("etc/modprobe.d/passplan-vfio.conf");
    std::fs::write(&file, "options vfio-pci ids=dead:beef\n").unwrap();
    let plan = plan_for(root.path(), &spec);
    let change = plan
        .changes
        .iter()
        .find(|c| c.path == "/etc/modprobe.d/passplan-vfio.conf")
        .expect("the edit shows in the plan");
    assert!(change.drift);
    assert!(matches!(
        apply_offline(root.path(), &plan, false),
        Err(ApplyError::Drift { .. })
    ));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "options vfio-pci ids=dead:beef\n",
        "not overwritten without --force"
    );
    apply_offline(root.path(), &plan, true).unwrap();
    assert!(!plan_for(root.path(), &spec).has_changes());
}

#[test]
fn removing_a_vm_from_the_spec_removes_what_passplan_made_for_it() {
    let (name, host) = all_seeds().remove(0);
    let root = write_seed(&host);
    let spec = example_spec(name);
    apply_offline(root.path(), &plan_for(root.path(), &spec), false).unwrap();
    assert!(root.path().join("etc/libvirt/hooks/qemu.d/win10").exists());
    let without_vm = spec[..spec.find("vm \"win10\"").unwrap()].to_owned();
    let plan = plan_for(root.path(), &without_vm);
    let deleted: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| c.action == plan::Action::Delete)
        .map(|c| c.path.as_str())
        .collect();
    assert!(
        deleted
            .iter()
            .any(|p| p.starts_with("/etc/libvirt/hooks/qemu.d/win10/")),
        "{deleted:?}"
    );
    assert!(
        deleted.contains(&"/etc/libvirt/qemu/win10.xml"),
        "{deleted:?}"
    );
    apply_offline(root.path(), &plan, false).unwrap();
    assert!(!root.path().join("etc/libvirt/qemu/win10.xml").exists());
    assert!(!plan_for(root.path(), &without_vm).has_changes());
}

#[test]
fn rollback_restores_what_the_last_apply_changed() {
    let (name, host) = all_seeds().remove(2);
    let root = write_seed(&host);
    let before = user_files(root.path());
    apply_offline(
        root.path(),
        &plan_for(root.path(), &example_spec(name)),
        false,
    )
    .unwrap();
    assert_ne!(user_files(root.path()), before);
    let mut sys = RealSystem::new(root.path());
    let n = apply::rollback(&mut sys, &mut io::sink()).unwrap();
    assert!(n > 0);
    assert_eq!(
        user_files(root.path()),
        before,
        "every file as it was before the apply"
    );
    assert_eq!(
        State::load(&sys).unwrap().files.len(),
        0,
        "the state is as before too"
    );
    assert_eq!(
        apply::rollback(&mut sys, &mut io::sink()).unwrap(),
        0,
        "a second rollback does nothing"
    );
}

/// A `System` that fails on purpose: the n-th write, every command, or — to simulate a crash —
/// every operation after the n-th (including the rollback's own writes).
struct Faulty<S> {
    inner: S,
    ops: usize,
    fail_write_at: Option<usize>,
    fail_commands: bool,
    crash_after: Option<usize>,
}

impl<S: System> Faulty<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            ops: 0,
            fail_write_at: None,
            fail_commands: false,
            crash_after: None,
        }
    }
    fn tick(&mut self) -> io::Result<()> {
        self.ops += 1;
        if self.crash_after.is_some_and(|n| self.ops > n) {
            return Err(io::Error::other("simulated crash"));
        }
        Ok(())
    }
}

impl<S: System> System for Faulty<S> {
    fn read(&self, path: &str) -> io::Result<Option<FileState>> {
        if self.crash_after.is_some_and(|n| self.ops > n) {
            return Err(io::Error::other("simulated crash"));
        }
        self.inner.read(path)
    }
    fn write(&mut self, path: &str, bytes: &[u8], mode: u32) -> io::Result<()> {
        self.tick()?;
        if self.fail_write_at == Some(self.ops) {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "No space left on device (simulated)",
            ));
        }
        self.inner.write(path, bytes, mode)
    }
    fn remove(&mut self, path: &str) -> io::Result<()> {
        self.tick()?;
        self.inner.remove(path)
    }
    fn run(&mut self, argv: &[String]) -> io::Result<CommandOutput> {
        self.tick()?;
        if self.fail_commands {
            return Ok(CommandOutput {
                status: Some(1),
                output: format!("{}: simulated failure", argv[0]),
                skipped: false,
            });
        }
        self.inner.run(argv)
    }
}

#[test]
fn a_failing_command_stops_with_files_in_place_and_the_journal_kept() {
    let (name, host) = all_seeds().remove(2);
    let root = write_seed(&host);
    let spec = example_spec(name);
    let plan = plan_for(root.path(), &spec);
    assert!(!plan.steps.is_empty(), "the example runs commands");
    let mut sys = Faulty::new(RealSystem::new(root.path()));
    sys.fail_commands = true;
    let err = apply::apply(&mut sys, &plan, Options::default(), &mut io::sink()).unwrap_err();
    assert!(matches!(err, ApplyError::Command { .. }), "{err}");
    assert!(
        err.to_string().contains("passplan rollback"),
        "the message names the way back: {err}"
    );
    let state = State::load(&RealSystem::new(root.path())).unwrap();
    assert_eq!(
        state.files.len(),
        plan.changes.len(),
        "the state records the files that are in place"
    );
    // The failed command (and those after it) are owed: recorded in the state…
    let failed = &plan.steps[0].argv;
    assert_eq!(
        state.pending.iter().map(|p| &p.step).collect::<Vec<_>>(),
        plan.steps.iter().collect::<Vec<_>>(),
        "every command not yet succeeded is pending"
    );
    assert!(state.pending.iter().all(|p| p.since == state.last_apply));
    // …shown by the next plan, which runs them again though the files are in place…
    let again = plan_for(root.path(), &spec);
    assert!(again.changes.is_empty(), "files are already in place");
    assert_eq!(again.steps, plan.steps, "the owed commands come back");
    let mut shown = Vec::new();
    passplan::plan::render::human(&again, &mut shown, false).unwrap();
    let shown = String::from_utf8(shown).unwrap();
    assert!(
        shown.contains(&format!(
            "! pending since apply {}: `{}` failed",
            state.last_apply,
            failed.join(" ")
        )),
        "{shown}"
    );
    // …stay owed while they keep failing…
    let mut sys = Faulty::new(RealSystem::new(root.path()));
    sys.fail_commands = true;
    let err = apply::apply(&mut sys, &again, Options::default(), &mut io::sink()).unwrap_err();
    assert!(matches!(err, ApplyError::Command { .. }), "{err}");
    assert_eq!(plan_for(root.path(), &spec).steps, plan.steps);
    // …and are done once they succeed (here: recorded as run, the root being offline).
    let mut sys = Faulty::new(Offline::new(RealSystem::new(root.path())));
    let report = apply::apply(&mut sys, &again, Options::default(), &mut io::sink()).unwrap();
    assert_eq!(report.files, 0);
    assert_eq!(report.skipped, plan.steps.len(), "every owed command ran");
    assert!(
        State::load(&RealSystem::new(root.path()))
            .unwrap()
            .pending
            .is_empty()
    );
    assert!(!plan_for(root.path(), &spec).has_changes(), "converged");
}

#[test]
fn a_full_disk_at_any_write_is_contained() {
    let (name, host) = all_seeds().remove(2);
    let spec = example_spec(name);
    let probe = write_seed(&host);
    let plan = plan_for(probe.path(), &spec);
    // Count the operations of a whole apply, then make each write in turn fail as on a full
    // disk: backups, journal entries, the files, the state, the final journal write, and the
    // bookkeeping of the commands after it.
    let mut counter = Faulty::new(Offline::new(RealSystem::new(probe.path())));
    apply::apply(&mut counter, &plan, Options::default(), &mut io::sink()).unwrap();
    let mut failed = 0;
    for n in 1..=counter.ops {
        let root = write_seed(&host);
        let before = user_files(root.path());
        let plan = plan_for(root.path(), &spec);
        let mut sys = Faulty::new(Offline::new(RealSystem::new(root.path())));
        sys.fail_write_at = Some(n);
        match apply::apply(&mut sys, &plan, Options::default(), &mut io::sink()) {
            // The n-th operation was a command or a removal, not a write.
            Ok(_) => {}
            Err(ApplyError::Rolledback { what, unrestored }) => {
                failed += 1;
                assert!(
                    unrestored.is_empty(),
                    "write {n}: every file was restored, none claimed lost: {unrestored:?}"
                );
                assert!(
                    what.contains("No space left") && what.contains('/'),
                    "write {n}: the message names the file and the cause: {what}"
                );
                assert_eq!(
                    user_files(root.path()),
                    before,
                    "write {n}: the machine is as it was"
                );
                assert!(
                    !apply::recover(&mut RealSystem::new(root.path())).unwrap(),
                    "write {n}: nothing left to recover"
                );
            }
            Err(ApplyError::State(e)) => {
                // After the files are done: only the record of the commands that ran failed,
                // so they are still owed and run again next time.
                failed += 1;
                assert!(e.to_string().contains("No space left"), "write {n}: {e}");
                let journal = apply::journal::Journal::load(&RealSystem::new(root.path()))
                    .unwrap()
                    .unwrap();
                assert!(journal.files_done, "write {n}");
            }
            Err(e) => panic!("write {n}: not contained: {e}"),
        }
        State::load(&RealSystem::new(root.path())).expect("the state file is never corrupt");
        apply_offline(root.path(), &plan_for(root.path(), &spec), false)
            .unwrap_or_else(|e| panic!("write {n}: the next apply fails: {e}"));
        assert!(
            !plan_for(root.path(), &spec).has_changes(),
            "write {n}: does not converge"
        );
    }
    assert!(
        failed > plan.changes.len(),
        "every write was a failure point"
    );
}

#[test]
fn a_crash_after_any_step_is_recovered_by_the_next_apply() {
    let (name, host) = all_seeds().remove(2);
    let spec = example_spec(name);
    let probe = write_seed(&host);
    let plan = plan_for(probe.path(), &spec);
    // Count the operations of a whole apply, then crash after each of them in turn.
    let mut counter = Faulty::new(Offline::new(RealSystem::new(probe.path())));
    apply::apply(&mut counter, &plan, Options::default(), &mut io::sink()).unwrap();
    let total = counter.ops;
    assert!(
        total > plan.changes.len(),
        "every change costs at least a backup or journal write"
    );
    for crash_after in 0..total {
        let root = write_seed(&host);
        let before = user_files(root.path());
        let plan = plan_for(root.path(), &spec);
        let mut sys = Faulty::new(Offline::new(RealSystem::new(root.path())));
        sys.crash_after = Some(crash_after);
        let _ = apply::apply(&mut sys, &plan, Options::default(), &mut io::sink());
        // After the crash: the state file is readable, and a new plan + apply converges.
        let state = State::load(&RealSystem::new(root.path()));
        assert!(
            state.is_ok(),
            "crash after {crash_after}: corrupt state: {:?}",
            state.err()
        );
        let mut recover_sys = RealSystem::new(root.path());
        let recovered = apply::recover(&mut recover_sys).unwrap();
        if recovered {
            assert_eq!(
                user_files(root.path()),
                before,
                "crash after {crash_after}: recovery restores the machine"
            );
        }
        apply_offline(root.path(), &plan_for(root.path(), &spec), false)
            .unwrap_or_else(|e| panic!("crash after {crash_after}: re-apply failed: {e}"));
        assert!(
            !plan_for(root.path(), &spec).has_changes(),
            "crash after {crash_after}: does not converge"
        );
    }
}

#[test]
fn a_damaged_state_file_is_a_clear_error() {
    let (name, host) = all_seeds().remove(2);
    let root = write_seed(&host);
    std::fs::create_dir_all(root.path().join("var/lib/passplan")).unwrap();
    std::fs::write(
        root.path().join(STATE_PATH.trim_start_matches('/')),
        "{ not json",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_passplan"))
        .args([
            "plan",
            &format!("{}/examples/{name}/host.kdl", env!("CARGO_MANIFEST_DIR")),
            "--root",
        ])
        .arg(root.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("damaged") && stderr.contains("move it aside"),
        "{stderr}"
    );
}

#[test]
fn cli_plan_exit_codes_confirmation_and_lock() {
    let (name, host) = all_seeds().remove(3);
    let root = write_seed(&host);
    let spec = format!("{}/examples/{name}/host.kdl", env!("CARGO_MANIFEST_DIR"));
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_passplan"))
            .args(args)
            .arg("--root")
            .arg(root.path())
            .output()
            .unwrap()
    };
    assert_eq!(
        run(&["plan", &spec, "--detailed-exitcode"]).status.code(),
        Some(2)
    );
    assert_eq!(run(&["plan", &spec]).status.code(), Some(0));
    // Without a terminal, apply refuses to ask and changes nothing.
    let refused = run(&["apply", &spec]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    // A live lock holder (this test process) blocks a second apply.
    let held = passplan::apply::lock::Lock::acquire(root.path()).unwrap();
    let blocked = run(&["apply", &spec, "--yes"]);
    assert_eq!(blocked.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&blocked.stderr).contains("another passplan apply"),
        "{}",
        String::from_utf8_lossy(&blocked.stderr)
    );
    drop(held);
    let applied = run(&["apply", &spec, "--yes"]);
    assert_eq!(
        applied.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let lock = root.path().join(passplan::apply::lock::LOCK_PATH);
    assert!(!lock.exists(), "the lock is released cleanly");
    passplan::apply::lock::Lock::acquire(root.path()).expect("and can be taken again");
    // Saved plans: -o then apply FILE.
    let plan_file = root.path().join("plan.json");
    assert_eq!(
        run(&["plan", &spec, "--detailed-exitcode"]).status.code(),
        Some(0),
        "converged"
    );
    assert_eq!(
        run(&["plan", &spec, "-o", plan_file.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(&["apply", plan_file.to_str().unwrap(), "--yes"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn without_the_iommu_the_plan_has_a_second_phase_after_the_reboot() {
    let mut host = crate::support::seed001();
    for pci in &mut host.pci {
        pci.group = None;
    }
    host.cmdline = host.cmdline.replace("intel_iommu=on", "");
    let root = write_seed(&host);
    let plan = plan_for(root.path(), &example_spec("seed-001"));
    assert!(
        plan.pending_tokens.iter().any(|t| t == "intel_iommu=on"),
        "{:?}",
        plan.pending_tokens
    );
    assert!(
        plan.after_reboot.iter().any(|s| s.contains("IOMMU groups")),
        "{:?}",
        plan.after_reboot
    );
    assert!(
        plan.after_reboot.iter().any(|s| s.contains("win10")),
        "{:?}",
        plan.after_reboot
    );
    let mut human = Vec::new();
    plan::render::human(&plan, &mut human, false).unwrap();
    assert!(
        String::from_utf8(human)
            .unwrap()
            .contains("After the reboot (phase 2):")
    );
}

#[test]
fn the_plan_shows_where_automatic_pinning_put_each_vm() {
    let root = write_seed(&crate::support::workstation());
    let spec_path = root.path().join("auto.kdl");
    std::fs::write(
        &spec_path,
        r#"vm "auto" { memory "8GiB"; cpu { vcpus 6 threads=2; pin policy="auto" } }"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_passplan"))
        .arg("plan")
        .arg(&spec_path)
        .arg("--root")
        .arg(root.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("CPU placement for"), "{stdout}");
    assert!(
        stdout.contains("[0,12 host]") || stdout.contains("0,12 host"),
        "CPU 0's core stays with the host:\n{stdout}"
    );
}

#[test]
fn a_kernel_parameter_dropped_from_the_spec_is_removed_and_others_are_kept() {
    let root = write_seed(&crate::support::seed003());
    let spec = example_spec("seed-003");
    let with_param = spec.replace(
        "iommu mode=\"on\"",
        "iommu mode=\"on\"\n        param \"nowatchdog\"",
    );
    assert_ne!(with_param, spec, "the example has the expected iommu line");
    apply_offline(root.path(), &plan_for(root.path(), &with_param), false).unwrap();
    let grub = root.path().join("etc/default/grub");
    assert!(
        std::fs::read_to_string(&grub)
            .unwrap()
            .contains("nowatchdog")
    );
    let state = State::load(&RealSystem::new(root.path())).unwrap();
    assert!(
        state.kernel_tokens.contains("nowatchdog"),
        "{:?}",
        state.kernel_tokens
    );
    // The spec stops asking for it: the plan removes it, and only it.
    let plan = plan_for(root.path(), &spec);
    let change = plan
        .changes
        .iter()
        .find(|c| c.path == "/etc/default/grub")
        .expect("GRUB changes");
    assert!(!change.after.as_ref().unwrap().contains("nowatchdog"));
    apply_offline(root.path(), &plan, false).unwrap();
    let text = std::fs::read_to_string(&grub).unwrap();
    assert!(!text.contains("nowatchdog"), "{text}");
    assert!(
        text.contains("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash intel_iommu=on"),
        "the user's own tokens stay: {text}"
    );
    assert!(!plan_for(root.path(), &spec).has_changes(), "converged");
}
