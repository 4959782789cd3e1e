//! The libvirt hook tree: inline specs for every feature, the real consumers (`bash -n`,
//! `shellcheck`) on every script, and the scripts *run* — the dispatcher in a temporary tree, the
//! state-keeping scripts against a fake sysfs/procfs/run with fake `systemctl` and `modprobe` on
//! `PATH`. The examples' trees are golden files in `tests/golden/build/` (tests/it/build.rs).

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use passplan::desired::{Artifact, Desired, Input, SpecSource};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `spec::parse` → `host::discover` → `check::check` → `hooks::emit`, the way `compile` will.
fn emit(spec: &str, root: &Path, name: &str) -> Desired {
    let (decoded, diags) = passplan::spec::parse(spec);
    let decoded = decoded.unwrap_or_else(|| panic!("spec does not decode: {diags:?}"));
    let facts = passplan::host::discover(root).expect("discover the host");
    let (checked, found) = passplan::check::check(decoded, facts);
    let checked = checked.unwrap_or_else(|| panic!("spec does not check: {found:?}"));
    let source = SpecSource {
        name: name.to_owned(),
        text: spec.to_owned(),
        dir: None,
    };
    let mut out = Desired::default();
    passplan::emit::hooks::emit(
        &Input {
            checked: &checked,
            source: &source,
            owned_tokens: &[],
        },
        &mut out,
    )
    .expect("emit the hook tree");
    out
}

fn example(name: &str) -> Desired {
    let dir = crate_dir().join("examples").join(name);
    let spec = fs::read_to_string(dir.join("host.kdl")).expect("read the example spec");
    emit(
        &spec,
        &dir.join("root"),
        &format!("examples/{name}/host.kdl"),
    )
}

const EXAMPLES: [&str; 4] = ["seed-001", "seed-003", "seed-004", "workstation"];

fn workstation_spec() -> String {
    fs::read_to_string(crate_dir().join("examples/workstation/host.kdl")).expect("read spec")
}

fn seed004_spec() -> String {
    fs::read_to_string(crate_dir().join("examples/seed-004/host.kdl")).expect("read spec")
}

/// `text` with `from` (which must occur) replaced by `to`.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in the spec");
    text.replacen(from, to, 1)
}

/// The inline specs, each exercising features the examples leave out: (label, spec, root,
/// spec name).
fn inline_cases() -> Vec<(&'static str, String, PathBuf, &'static str)> {
    let ws_root = crate_dir().join("examples/workstation/root");
    let s4_root = crate_dir().join("examples/seed-004/root");
    let ws = workstation_spec();
    let s4 = seed004_spec();
    vec![
        (
            "1G pages, isolation, user hooks",
            edit(
                &edit(
                    &edit(
                        &ws,
                        "memory \"16GiB\" hugepages=\"dynamic\"",
                        "memory \"16GiB\" hugepages=\"dynamic\" page-size=\"1GiB\"",
                    ),
                    "governor \"performance\"",
                    "governor \"performance\"\n        isolate \"dynamic\"",
                ),
                "clock \"localtime\"",
                "clock \"localtime\"\n    hook \"prepare/begin\" script=\"hooks/notify.sh\"\n    \
                 hook \"release/end\" script=\"/opt/my hooks/it's.sh\"\n    \
                 hook \"release/end\" script=\"../shared/./it's.sh\"\n    \
                 hook \"started/begin\" script=\"/opt/$(reboot)/`id`.sh\"",
            ),
            ws_root.clone(),
            "/home/user/vfio/host.kdl",
        ),
        (
            "2M pages",
            edit(
                &ws,
                "memory \"16GiB\" hugepages=\"dynamic\"",
                "memory \"16GiB\" hugepages=\"dynamic\" page-size=\"2MiB\"",
            ),
            ws_root,
            "host.kdl",
        ),
        (
            "handoff with a named display manager",
            edit(
                &s4,
                "handoff \"single-gpu\"",
                "handoff \"single-gpu\" display-manager=\"gdm.service\"",
            ),
            s4_root,
            "host.kdl",
        ),
    ]
}

/// Every tree under test: the examples and the inline specs.
fn all_trees() -> Vec<(String, Desired)> {
    let mut out: Vec<(String, Desired)> = EXAMPLES
        .iter()
        .map(|e| ((*e).to_owned(), example(e)))
        .collect();
    for (label, spec, root, name) in inline_cases() {
        out.push((label.to_owned(), emit(&spec, &root, name)));
    }
    out
}

fn artifact<'a>(d: &'a Desired, path: &str) -> &'a Artifact {
    d.artifacts
        .iter()
        .find(|a| a.path == path)
        .unwrap_or_else(|| {
            let paths: Vec<_> = d.artifacts.iter().map(|a| &a.path).collect();
            panic!("no artifact {path}; have {paths:#?}")
        })
}

// ---- golden trees -----------------------------------------------------------------------------

#[test]
fn the_examples_get_the_trees_their_specs_ask_for() {
    let paths =
        |d: &Desired| -> Vec<String> { d.artifacts.iter().map(|a| a.path.clone()).collect() };
    // Seed 003 reserves its hugepages at boot and has nothing to do at VM start.
    assert!(example("seed-003").artifacts.is_empty());
    let ws = example("workstation");
    let q = "/etc/libvirt/hooks/qemu.d/win10";
    for p in [
        "/etc/libvirt/hooks/qemu".to_owned(),
        format!("{q}/prepare/begin/10-passplan-hugepages.sh"),
        format!("{q}/prepare/begin/20-passplan-governor.sh"),
        format!("{q}/release/end/30-passplan-governor.sh"),
        format!("{q}/release/end/40-passplan-hugepages.sh"),
    ] {
        assert!(paths(&ws).contains(&p), "workstation lacks {p}");
    }
    let hp = artifact(&ws, &format!("{q}/prepare/begin/10-passplan-hugepages.sh"));
    // 16 GiB of the host's default 2 MiB pages.
    assert!(hp.content.contains("page_kb='2048'\npages='8192'\n"));
    assert!(hp.content.contains(
        "# From vm \"win10\" › memory hugepages=\"dynamic\" (dynamic hugepages for VM win10)\n"
    ));
    let s4 = example("seed-004");
    let handoff = artifact(
        &s4,
        "/etc/libvirt/hooks/qemu.d/gamevm/prepare/begin/30-passplan-handoff.sh",
    );
    assert!(
        handoff
            .content
            .contains("display_manager='display-manager.service'\n")
    );
    assert!(
        handoff
            .content
            .contains("modules=('nvidia_drm' 'nvidia_modeset' 'nvidia_uvm' 'nvidia')\n")
    );
    for d in [&ws, &s4] {
        for a in &d.artifacts {
            assert_eq!(a.mode, 0o755, "{}", a.path);
            assert!(
                !a.path.starts_with("/etc/libvirt/hooks/qemu.d/")
                    || a.path.matches('/').count() == 8,
                "nothing directly in qemu.d/ or too deep: {}",
                a.path
            );
        }
    }
}

/// Issue 13, item 8: the plan of a single-GPU host says once that the host has no display
/// while the VM runs; other hosts do not hear it.
#[test]
fn a_single_gpu_host_is_told_once_it_has_no_display_while_the_vm_runs() {
    let said = |d: &Desired| {
        d.notes
            .iter()
            .filter(|n| n.contains("this host has no display"))
            .count()
    };
    let s4 = example("seed-004");
    assert_eq!(said(&s4), 1, "{:#?}", s4.notes);
    assert!(
        s4.notes
            .iter()
            .any(|n| n.contains("VM gamevm runs") && n.contains("passplan handback VM"))
    );
    assert_eq!(said(&example("workstation")), 0);
}

#[test]
fn inline_specs_emit_every_feature() {
    let cases = inline_cases();
    let (_, spec, root, name) = &cases[0];
    let d = emit(spec, root, name);
    let q = "/etc/libvirt/hooks/qemu.d/win10";
    let hp = artifact(&d, &format!("{q}/prepare/begin/10-passplan-hugepages.sh"));
    assert!(hp.content.contains("page_kb='1048576'\npages='16'\n"));
    let iso = artifact(&d, &format!("{q}/started/begin/40-passplan-isolation.sh"));
    // Pinned: cores 6-11 and siblings 18-23 of 0-23.
    assert!(
        iso.content
            .contains("vm_cpus='6-11,18-23'\nall_cpus='0-23'\n")
    );
    artifact(&d, &format!("{q}/release/end/10-passplan-isolation.sh"));
    let user = artifact(&d, &format!("{q}/prepare/begin/50-user-notify.sh"));
    assert!(
        user.content
            .contains("script='/home/user/vfio/hooks/notify.sh'\n")
    );
    let odd = artifact(&d, &format!("{q}/release/end/50-user-it_s.sh"));
    assert!(odd.content.contains(r"script='/opt/my hooks/it'\''s.sh'"));
    let second = artifact(&d, &format!("{q}/release/end/50-user-it_s-2.sh"));
    assert!(
        second
            .content
            .contains(r"script='/home/user/shared/it'\''s.sh'")
    );
    let hostile = artifact(&d, &format!("{q}/started/begin/50-user-_id_.sh"));
    assert!(
        hostile
            .content
            .contains("script='/opt/$(reboot)/`id`.sh'\n")
    );

    let (_, spec, root, name) = &cases[1];
    let d = emit(spec, root, name);
    let hp = artifact(&d, &format!("{q}/prepare/begin/10-passplan-hugepages.sh"));
    assert!(hp.content.contains("page_kb='2048'\npages='8192'\n"));

    let (_, spec, root, name) = &cases[2];
    let d = emit(spec, root, name);
    let h = artifact(
        &d,
        "/etc/libvirt/hooks/qemu.d/gamevm/prepare/begin/30-passplan-handoff.sh",
    );
    assert!(h.content.contains("display_manager='gdm.service'\n"));
}

#[test]
fn a_relative_hook_in_a_relatively_named_spec_is_refused() {
    let spec = edit(
        &workstation_spec(),
        "clock \"localtime\"",
        "clock \"localtime\"\n    hook \"prepare/begin\" script=\"hooks/x.sh\"",
    );
    let (decoded, _) = passplan::spec::parse(&spec);
    let facts =
        passplan::host::discover(&crate_dir().join("examples/workstation/root")).expect("discover");
    let (checked, _) = passplan::check::check(decoded.expect("decodes"), facts);
    let checked = checked.expect("checks");
    let source = SpecSource {
        name: "host.kdl".into(),
        text: spec,
        dir: None,
    };
    let err = passplan::emit::hooks::emit(
        &Input {
            checked: &checked,
            source: &source,
            owned_tokens: &[],
        },
        &mut Desired::default(),
    )
    .expect_err("the script's location is unknown");
    assert!(err.to_string().contains("hooks/x.sh"), "{err}");
}

// ---- the real consumers -----------------------------------------------------------------------

/// Every emitted script, written to a temporary directory: (label, artifact path, file).
fn written_scripts(dir: &Path) -> Vec<(String, String, PathBuf)> {
    let mut out = Vec::new();
    for (i, (label, d)) in all_trees().into_iter().enumerate() {
        for (j, a) in d.artifacts.iter().enumerate() {
            let file = dir.join(format!("{i}-{j}.sh"));
            fs::write(&file, &a.content).expect("write script");
            out.push((label.clone(), a.path.clone(), file));
        }
    }
    out
}

#[test]
fn every_script_parses_in_bash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scripts = written_scripts(dir.path());
    assert!(scripts.len() > 20, "the trees are not empty");
    for (label, path, file) in scripts {
        let out = Command::new("bash")
            .arg("-n")
            .arg(&file)
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "{label}: {path} does not parse:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_script_passes_shellcheck() {
    let available = Command::new("shellcheck")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        assert!(
            std::env::var("PASSPLAN_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "shellcheck is required (PASSPLAN_REQUIRE_TOOLS=1) but not installed"
        );
        println!("SKIPPED: shellcheck not installed (scripts/test installs it)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for (label, path, file) in written_scripts(dir.path()) {
        let out = Command::new("shellcheck")
            .args(["-s", "bash", "-S", "warning"])
            .arg(&file)
            .output()
            .expect("shellcheck");
        assert!(
            out.status.success(),
            "{label}: {path}:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn no_script_calls_back_into_libvirt() {
    for (label, d) in all_trees() {
        for a in &d.artifacts {
            for word in ["virsh", "virt-", "virt_", "libvirt-client", "nodedev"] {
                assert!(
                    !a.content.contains(word),
                    "{label}: {} mentions {word}: a hook that calls libvirt deadlocks",
                    a.path
                );
            }
            assert!(a.content.starts_with(
                "#!/bin/bash\n# Managed by passplan — do not edit; changes are overwritten.\n# From "
            ));
            assert!(a.content.contains("\nset -euo pipefail\n"), "{}", a.path);
        }
    }
}

// ---- running the scripts ----------------------------------------------------------------------

/// Run `script` with bash, `args`, `stdin`, and extra environment.
fn run(script: &Path, args: &[&str], stdin: &str, env: &[(&str, &std::ffi::OsStr)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn bash");
    // A script that never reads its stdin (it failed early) closes the pipe: not an error.
    if let Err(e) = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
    {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
    }
    child.wait_with_output().expect("wait")
}

fn write_exec(path: &Path, content: &str) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, content).expect("write");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn write(path: &Path, content: &str) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, content).expect("write");
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

const XML: &str = "<domain type='kvm'>\n  <name>vm1</name>\n</domain>\n";

/// A temporary hooks directory with the real dispatcher and a fake per-VM tree whose scripts
/// append `<tag> <args> <stdin>` to `log`.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let ws = example("workstation");
        write_exec(
            &dir.path().join("hooks/qemu"),
            &artifact(&ws, "/etc/libvirt/hooks/qemu").content,
        );
        Self { dir }
    }

    fn hooks(&self) -> PathBuf {
        self.dir.path().join("hooks")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    /// A hook at `rel` (under hooks/) that logs and exits with `status`.
    fn hook(&self, rel: &str, tag: &str, status: i32) {
        let log = self.log();
        write_exec(
            &self.hooks().join(rel),
            &format!(
                "#!/bin/bash\nprintf '%s %s [%s]\\n' {tag} \"$*\" \"$(tr '\\n' '|')\" >> '{}'\nexit {status}\n",
                log.display()
            ),
        );
    }

    fn dispatch(&self, args: &[&str]) -> Output {
        run(&self.hooks().join("qemu"), args, XML, &[])
    }

    /// Dispatch with `mktemp` unable to create anything (a full `/tmp`).
    fn dispatch_without_tmp(&self, args: &[&str]) -> Output {
        let tmp = self.dir.path().join("no-such-tmp");
        run(
            &self.hooks().join("qemu"),
            args,
            XML,
            &[("TMPDIR", tmp.as_os_str())],
        )
    }

    fn logged(&self) -> Vec<String> {
        fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[test]
fn the_dispatcher_runs_the_phase_in_order_with_arguments_and_xml() {
    let t = Tree::new();
    t.hook("qemu.d/vm1/prepare/begin/20-b.sh", "b", 0);
    t.hook("qemu.d/vm1/prepare/begin/10-a.sh", "a", 0);
    t.hook("qemu.d/vm1/prepare/begin/15-old.sh.bak", "bak", 0);
    t.hook("qemu.d/vm1/prepare/begin/16-edit.sh~", "tilde", 0);
    t.hook("qemu.d/vm1/prepare/begin/.17-hidden.sh", "hidden", 0);
    t.hook("qemu.d/vm1/release/end/10-r.sh", "release", 0);
    write(
        &t.hooks().join("qemu.d/vm1/prepare/begin/18-not-exec.sh"),
        "exit 9\n",
    );
    fs::create_dir_all(t.hooks().join("qemu.d/vm1/prepare/begin/19-dir")).expect("mkdir");
    // A stray file directly in qemu.d/: libvirt itself would run it, the dispatcher never does.
    t.hook("qemu.d/x.bak", "stray", 0);
    let out = t.dispatch(&["vm1", "prepare", "begin", "-"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = XML.replace('\n', "|");
    assert_eq!(
        t.logged(),
        [
            format!("a vm1 prepare begin - [{xml}]"),
            format!("b vm1 prepare begin - [{xml}]"),
        ]
    );
    assert!(out.stdout.is_empty(), "hooks' stdout never reaches libvirt");
}

#[test]
fn a_failing_prepare_hook_stops_the_dispatch_and_fails() {
    let t = Tree::new();
    t.hook("qemu.d/vm1/prepare/begin/10-a.sh", "a", 3);
    t.hook("qemu.d/vm1/prepare/begin/20-b.sh", "b", 0);
    let out = t.dispatch(&["vm1", "prepare", "begin", "-"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(t.logged().len(), 1, "b must not run: {:?}", t.logged());
    assert!(String::from_utf8_lossy(&out.stderr).contains("aborted"));
}

#[test]
fn a_failing_release_hook_lets_the_others_run_and_fails_at_the_end() {
    let t = Tree::new();
    t.hook("qemu.d/vm1/release/end/10-a.sh", "a", 4);
    t.hook("qemu.d/vm1/release/end/20-b.sh", "b", 0);
    let out = t.dispatch(&["vm1", "release", "end", "-"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(t.logged().len(), 2, "{:?}", t.logged());
    assert!(String::from_utf8_lossy(&out.stderr).contains("10-a.sh failed with exit status 4"));
}

#[test]
fn the_dispatcher_ignores_unmanaged_vms_and_hostile_names() {
    let t = Tree::new();
    // What `../x` would reach from qemu.d/, and a dot-named VM's tree.
    t.hook("x/prepare/begin/10-evil.sh", "evil", 0);
    t.hook("qemu.d/.hidden/prepare/begin/10-evil.sh", "evil", 0);
    for vm in ["../x", ".hidden", "-x", "a/../../x", ""] {
        let out = t.dispatch(&[vm, "prepare", "begin", "-"]);
        assert!(out.status.success(), "{vm:?}");
    }
    assert!(t.logged().is_empty(), "{:?}", t.logged());
    // No qemu.d/ at all (a VM passplan does not manage on a host without the tree).
    let out = t.dispatch(&["other", "prepare", "begin", "-"]);
    assert!(out.status.success());
    fs::create_dir_all(t.hooks().join("qemu.d/vm1")).expect("mkdir");
    let out = t.dispatch(&["vm1", "migrate", "begin", "-"]);
    assert!(out.status.success() && out.stdout.is_empty());
}

#[test]
fn the_dispatcher_dispatches_exactly_the_names_the_decoder_accepts() {
    // `win..10` passed the decoder while the dispatcher refused every name holding `..` and
    // exited 0: the VM started without its hugepages, governor or handoff.
    let long = "a".repeat(64);
    let too_long = "a".repeat(65);
    let names = [
        "win..10", "win10.", "a", "A.b_c-d", "3080ti", "x..", &long, &too_long, "..", "../x",
        ".hidden", "-x", "_x", "a b", "a\nb", "naïve", "$(id)", "a'b", "a/b", "",
    ];
    for name in names {
        let t = Tree::new();
        let accepted = passplan::spec::validate_name(name).is_ok();
        if accepted {
            t.hook(&format!("qemu.d/{name}/prepare/begin/10-a.sh"), "ran", 0);
        }
        let out = t.dispatch(&[name, "prepare", "begin", "-"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name:?}: {stderr}");
        assert_eq!(
            t.logged().len(),
            usize::from(accepted),
            "{name:?}: the decoder {} it, so the dispatcher must {} its hooks: {stderr}",
            if accepted { "accepts" } else { "refuses" },
            if accepted { "run" } else { "not run" },
        );
    }
}

#[test]
fn without_room_for_the_xml_prepare_fails_loudly_and_release_runs_every_script() {
    let t = Tree::new();
    t.hook("qemu.d/vm1/prepare/begin/10-a.sh", "prepare", 0);
    t.hook("qemu.d/vm1/release/end/10-display.sh", "display", 0);
    t.hook("qemu.d/vm1/release/end/20-governor.sh", "governor", 5);
    t.hook("qemu.d/vm1/release/end/40-hugepages.sh", "hugepages", 0);
    // Prepare: the VM must not start without its setup, and libvirt shows why.
    let out = t.dispatch_without_tmp(&["vm1", "prepare", "begin", "-"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("its start is aborted"), "{stderr}");
    assert!(t.logged().is_empty(), "{:?}", t.logged());
    // Release: everything prepare took is given back, whatever fails; the hook fails at the end.
    let out = t.dispatch_without_tmp(&["vm1", "release", "end", "-"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert_eq!(
        t.logged(),
        [
            "display vm1 release end - []",
            "governor vm1 release end - []",
            "hugepages vm1 release end - []",
        ],
        "{stderr}"
    );
    assert!(stderr.contains("without it"), "{stderr}");
}

/// A fake root for the state-keeping scripts, and the environment pointing them at it.
struct Fake {
    dir: tempfile::TempDir,
}

impl Fake {
    fn new() -> Self {
        let f = Self {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        // Fake systemctl and modprobe log their arguments; FAIL_ON makes a matching call fail,
        // HANG_ON makes it hang (a unit that never stops, a module stuck in use).
        let log = f.log();
        for tool in ["systemctl", "modprobe"] {
            write_exec(
                &f.bin().join(tool),
                &format!(
                    "#!/bin/bash\necho \"{tool} $*\" >> '{}'\n\
                     if [[ -n ${{FAIL_ON-}} && \"{tool} $*\" == \"$FAIL_ON\" ]]; then exit 1; fi\n\
                     if [[ -n ${{HANG_ON-}} && \"{tool} $*\" == \"$HANG_ON\" ]]; then exec sleep 600; fi\n\
                     if [[ $1 == is-active ]]; then [[ ${{DM_ACTIVE-1}} == 1 ]]; fi\n",
                    log.display()
                ),
            );
        }
        f
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn bin(&self) -> PathBuf {
        self.path("bin")
    }

    fn log(&self) -> PathBuf {
        self.path("calls")
    }

    fn calls(&self) -> Vec<String> {
        fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn clear_calls(&self) {
        let _ = fs::remove_file(self.log());
    }

    /// Run an emitted script against the fake roots.
    fn run(&self, content: &str, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let script = self.path("script.sh");
        write_exec(&script, content);
        self.run_file(&script, args, extra)
    }

    /// Install every artifact of `d` where it lands on a host, the fake directory standing
    /// for `/`, so that scripts find their siblings.
    fn install(&self, d: &Desired) {
        for a in &d.artifacts {
            write_exec(&self.path(&a.path[1..]), &a.content);
        }
    }

    /// Run an installed script (`rel` under `etc/libvirt/hooks/`) against the fake roots.
    fn run_installed(&self, rel: &str, args: &[&str], extra: &[(&str, &str)]) -> Output {
        self.run_file(&self.path("etc/libvirt/hooks").join(rel), args, extra)
    }

    fn run_file(&self, script: &Path, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let path = format!(
            "{}:{}",
            self.bin().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let sys = self.path("sys");
        let proc = self.path("proc");
        let run_dir = self.path("run");
        let mut env: Vec<(&str, &std::ffi::OsStr)> = vec![
            ("PASSPLAN_SYSFS", sys.as_os_str()),
            ("PASSPLAN_PROCFS", proc.as_os_str()),
            ("PASSPLAN_RUN", run_dir.as_os_str()),
            ("PATH", std::ffi::OsStr::new(&path)),
        ];
        for (k, v) in extra {
            env.push((k, std::ffi::OsStr::new(v)));
        }
        run(script, args, XML, &env)
    }
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_governor_script_round_trips_the_saved_governors() {
    let ws = example("workstation");
    let script = &artifact(
        &ws,
        "/etc/libvirt/hooks/qemu.d/win10/prepare/begin/20-passplan-governor.sh",
    )
    .content;
    let f = Fake::new();
    let gov = |cpu: u32| {
        f.path(&format!(
            "sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor"
        ))
    };
    write(&gov(0), "schedutil\n");
    write(&gov(2), "powersave\n");
    write(&gov(10), "schedutil\n");
    // cpu1 has no cpufreq.
    fs::create_dir_all(f.path("sys/devices/system/cpu/cpu1/topology")).expect("mkdir");

    ok(&f.run(script, &["win10", "prepare", "begin", "-"], &[]));
    for cpu in [0, 2, 10] {
        assert_eq!(read(&gov(cpu)).trim(), "performance", "cpu{cpu}");
    }
    let state = f.path("run/passplan/host.governor");
    assert_eq!(
        read(&state),
        "cpu0 schedutil\ncpu10 schedutil\ncpu2 powersave\n"
    );
    assert_eq!(
        read(&f.path("run/passplan/running/win10.governor")),
        "performance\n"
    );
    // A second prepare (release never ran) keeps the original record.
    ok(&f.run(script, &["win10", "prepare", "begin", "-"], &[]));
    assert_eq!(
        read(&state),
        "cpu0 schedutil\ncpu10 schedutil\ncpu2 powersave\n"
    );

    ok(&f.run(script, &["win10", "release", "end", "-"], &[]));
    assert_eq!(read(&gov(0)).trim(), "schedutil");
    assert_eq!(read(&gov(2)).trim(), "powersave");
    assert_eq!(read(&gov(10)).trim(), "schedutil");
    assert!(!state.exists(), "the record is consumed");
    assert!(!f.path("run/passplan/running/win10.governor").exists());
    // Release again: nothing recorded, nothing touched.
    write(&gov(0), "performance\n");
    ok(&f.run(script, &["win10", "release", "end", "-"], &[]));
    assert_eq!(read(&gov(0)).trim(), "performance");
}

#[test]
fn the_hugepages_script_adds_and_gives_back_exactly_its_own() {
    let cases = inline_cases();
    let (_, spec, root, name) = &cases[0];
    let d = emit(spec, root, name);
    let script = &artifact(
        &d,
        "/etc/libvirt/hooks/qemu.d/win10/prepare/begin/10-passplan-hugepages.sh",
    )
    .content;
    let f = Fake::new();
    let pool = f.path("sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages");
    write(&pool, "2\n");
    write(&f.path("proc/sys/vm/compact_memory"), "");
    write(&f.path("proc/sys/vm/drop_caches"), "");
    let state = f.path("run/passplan/win10.hugepages");

    ok(&f.run(script, &["win10", "prepare", "begin", "-"], &[]));
    assert_eq!(read(&pool).trim(), "18", "2 already reserved + 16");
    assert_eq!(read(&state), "1048576 16\n");
    // A prepare whose previous release never ran gives the stale pages back first.
    ok(&f.run(script, &["win10", "prepare", "begin", "-"], &[]));
    assert_eq!(read(&pool).trim(), "18");
    // Another VM takes 4 more meanwhile; release gives back only this VM's 16.
    write(&pool, "22\n");
    ok(&f.run(script, &["win10", "release", "end", "-"], &[]));
    assert_eq!(read(&pool).trim(), "6");
    assert!(!state.exists());
    ok(&f.run(script, &["win10", "release", "end", "-"], &[]));
    assert_eq!(read(&pool).trim(), "6", "a second release changes nothing");

    // The spec changes the VM's page size while it runs (1 GiB → 2 MiB): the release of the new
    // script gives back the 1 GiB pages prepare recorded, and the next start works.
    ok(&f.run(script, &["win10", "prepare", "begin", "-"], &[]));
    assert_eq!(read(&pool).trim(), "22");
    let resized = script
        .replace("page_kb='1048576'", "page_kb='2048'")
        .replace("pages='16'", "pages='8192'");
    assert_ne!(&resized, script, "the script names its page size and count");
    let small = f.path("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages");
    write(&small, "0\n");
    ok(&f.run(&resized, &["win10", "release", "end", "-"], &[]));
    assert_eq!(
        read(&pool).trim(),
        "6",
        "the recorded 1 GiB pages are given back"
    );
    assert_eq!(read(&small).trim(), "0");
    assert!(!state.exists());
    ok(&f.run(&resized, &["win10", "prepare", "begin", "-"], &[]));
    assert_eq!(read(&small).trim(), "8192");
    assert_eq!(read(&state), "2048 8192\n");
    ok(&f.run(&resized, &["win10", "release", "end", "-"], &[]));
    assert_eq!(read(&small).trim(), "0");

    // A kernel without the page size: a clear failure, no record.
    fs::remove_file(&pool).expect("rm");
    let out = f.run(script, &["win10", "prepare", "begin", "-"], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no 1048576 kB hugepages"));
    assert!(!state.exists());
}

#[test]
fn the_handoff_script_records_what_it_did_and_undoes_exactly_that() {
    let s4 = example("seed-004");
    let script = &artifact(
        &s4,
        "/etc/libvirt/hooks/qemu.d/gamevm/prepare/begin/30-passplan-handoff.sh",
    )
    .content;
    let f = Fake::new();
    write(&f.path("sys/class/vtconsole/vtcon0/bind"), "0\n");
    write(&f.path("sys/class/vtconsole/vtcon1/bind"), "1\n");
    let drivers = f.path("sys/bus/platform/drivers/efi-framebuffer");
    write(&drivers.join("bind"), "");
    write(&drivers.join("unbind"), "");
    let dev = f.path("sys/bus/platform/devices/efi-framebuffer.0");
    fs::create_dir_all(&dev).expect("mkdir");
    std::os::unix::fs::symlink("../../drivers/efi-framebuffer", dev.join("driver"))
        .expect("symlink");
    for m in ["nvidia_drm", "nvidia_uvm", "nvidia"] {
        fs::create_dir_all(f.path(&format!("sys/module/{m}"))).expect("mkdir");
    }
    let state = f.path("run/passplan/gamevm.handoff");

    ok(&f.run(script, &["gamevm", "prepare", "begin", "-"], &[]));
    assert_eq!(
        f.calls(),
        [
            "systemctl is-active --quiet -- display-manager.service",
            "systemctl stop -- display-manager.service",
            "modprobe -r -- nvidia_drm",
            "modprobe -r -- nvidia_uvm",
            "modprobe -r -- nvidia",
        ]
    );
    assert_eq!(read(&f.path("sys/class/vtconsole/vtcon1/bind")).trim(), "0");
    assert_eq!(read(&drivers.join("unbind")).trim(), "efi-framebuffer.0");
    assert_eq!(
        read(&state),
        "unit display-manager.service\nvtcon vtcon1\nframebuffer efi-framebuffer.0:efi-framebuffer\n\
         module nvidia_drm\nmodule nvidia_uvm\nmodule nvidia\n"
    );

    f.clear_calls();
    ok(&f.run(script, &["gamevm", "release", "end", "-"], &[]));
    assert_eq!(
        f.calls(),
        [
            "modprobe -- nvidia",
            "modprobe -- nvidia_uvm",
            "modprobe -- nvidia_drm",
            "systemctl start -- display-manager.service",
        ]
    );
    assert_eq!(read(&drivers.join("bind")).trim(), "efi-framebuffer.0");
    assert_eq!(read(&f.path("sys/class/vtconsole/vtcon1/bind")).trim(), "1");
    assert_eq!(
        read(&f.path("sys/class/vtconsole/vtcon0/bind")).trim(),
        "0",
        "never bound"
    );
    assert!(!state.exists());

    // A failed unload undoes the steps already taken, so the host keeps its display.
    f.clear_calls();
    let out = f.run(
        script,
        &["gamevm", "prepare", "begin", "-"],
        &[("FAIL_ON", "modprobe -r -- nvidia")],
    );
    assert!(!out.status.success());
    let calls = f.calls();
    assert_eq!(
        calls.last().map(String::as_str),
        Some("systemctl start -- display-manager.service"),
        "{calls:?}"
    );
    assert_eq!(read(&f.path("sys/class/vtconsole/vtcon1/bind")).trim(), "1");
    assert!(!state.exists());

    // No display manager running (a server): none is started at release.
    f.clear_calls();
    ok(&f.run(
        script,
        &["gamevm", "prepare", "begin", "-"],
        &[("DM_ACTIVE", "0")],
    ));
    ok(&f.run(script, &["gamevm", "release", "end", "-"], &[]));
    assert!(
        !f.calls().iter().any(|c| c.starts_with("systemctl st")),
        "{:?}",
        f.calls()
    );
}

/// The fake display stack of seed 004's host: two consoles (one bound), the EFI framebuffer
/// bound to its driver, the nvidia modules loaded.
fn fake_display(f: &Fake) {
    write(&f.path("sys/class/vtconsole/vtcon0/bind"), "0\n");
    write(&f.path("sys/class/vtconsole/vtcon1/bind"), "1\n");
    let drivers = f.path("sys/bus/platform/drivers/efi-framebuffer");
    write(&drivers.join("bind"), "");
    write(&drivers.join("unbind"), "");
    let dev = f.path("sys/bus/platform/devices/efi-framebuffer.0");
    fs::create_dir_all(&dev).expect("mkdir");
    std::os::unix::fs::symlink("../../drivers/efi-framebuffer", dev.join("driver"))
        .expect("symlink");
    for m in ["nvidia_drm", "nvidia_uvm", "nvidia"] {
        fs::create_dir_all(f.path(&format!("sys/module/{m}"))).expect("mkdir");
    }
}

/// Issue 13, item 8: a step that hangs is abandoned after the step timeout, and the failed
/// prepare gives the display back and fails the start.
#[test]
fn a_hanging_handoff_step_times_out_and_everything_is_given_back() {
    let s4 = example("seed-004");
    let script = &artifact(
        &s4,
        "/etc/libvirt/hooks/qemu.d/gamevm/prepare/begin/30-passplan-handoff.sh",
    )
    .content;
    let state = |f: &Fake| f.path("run/passplan/gamevm.handoff");

    // The display manager never stops.
    let f = Fake::new();
    fake_display(&f);
    let out = f.run(
        script,
        &["gamevm", "prepare", "begin", "-"],
        &[
            ("HANG_ON", "systemctl stop -- display-manager.service"),
            ("PASSPLAN_STEP_TIMEOUT", "1"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(124),
        "timeout's status fails the start"
    );
    assert_eq!(
        f.calls(),
        [
            "systemctl is-active --quiet -- display-manager.service",
            "systemctl stop -- display-manager.service",
            "systemctl start -- display-manager.service",
        ]
    );
    assert_eq!(read(&f.path("sys/class/vtconsole/vtcon1/bind")).trim(), "1");
    assert!(!state(&f).exists());

    // The last module never unloads: every step before it is undone, last first.
    let f = Fake::new();
    fake_display(&f);
    let out = f.run(
        script,
        &["gamevm", "prepare", "begin", "-"],
        &[
            ("HANG_ON", "modprobe -r -- nvidia"),
            ("PASSPLAN_STEP_TIMEOUT", "1"),
        ],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("giving the display back"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        f.calls()[5..],
        [
            "modprobe -- nvidia",
            "modprobe -- nvidia_uvm",
            "modprobe -- nvidia_drm",
            "systemctl start -- display-manager.service",
        ]
    );
    let drivers = f.path("sys/bus/platform/drivers/efi-framebuffer");
    assert_eq!(read(&drivers.join("bind")).trim(), "efi-framebuffer.0");
    assert_eq!(read(&f.path("sys/class/vtconsole/vtcon1/bind")).trim(), "1");
    assert!(!state(&f).exists());

    // A release whose step hangs keeps the record for `passplan handback`.
    let f = Fake::new();
    fake_display(&f);
    ok(&f.run(script, &["gamevm", "prepare", "begin", "-"], &[]));
    let out = f.run(
        script,
        &["gamevm", "release", "end", "-"],
        &[
            ("HANG_ON", "systemctl start -- display-manager.service"),
            ("PASSPLAN_STEP_TIMEOUT", "1"),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("passplan handback gamevm"));
    assert!(state(&f).exists(), "kept for the next try");
    ok(&f.run(script, &["gamevm", "release", "end", "-"], &[]));
    assert!(!state(&f).exists());
}

/// Issue 13, item 8: the hugepages reserved by the earlier prepare hook are given back when
/// the handoff aborts the start, without relying on libvirt's release; when libvirt does run
/// release afterwards, nothing is given back twice.
#[test]
fn a_failed_handoff_gives_back_the_hugepages_of_the_same_start() {
    let s4 = example("seed-004");
    let f = Fake::new();
    f.install(&s4);
    fake_display(&f);
    let pool = f.path("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages");
    write(&pool, "100\n");
    let hp_state = f.path("run/passplan/gamevm.hugepages");
    let prepare = |rel: &str, extra: &[(&str, &str)]| {
        f.run_installed(
            &format!("qemu.d/gamevm/prepare/begin/{rel}"),
            &["gamevm", "prepare", "begin", "-"],
            extra,
        )
    };
    ok(&prepare("10-passplan-hugepages.sh", &[]));
    assert_eq!(read(&pool).trim(), "12388", "100 + 24 GiB of 2 MiB pages");
    assert!(hp_state.exists());

    let out = prepare(
        "30-passplan-handoff.sh",
        &[("FAIL_ON", "modprobe -r -- nvidia_uvm")],
    );
    assert!(!out.status.success());
    assert_eq!(read(&pool).trim(), "100", "the start's pages are back");
    assert!(!hp_state.exists());
    assert_eq!(read(&f.path("sys/class/vtconsole/vtcon1/bind")).trim(), "1");

    // libvirt's release after the aborted start, through the dispatcher: nothing twice.
    let out = f.run_installed("qemu", &["gamevm", "release", "end", "-"], &[]);
    ok(&out);
    assert_eq!(read(&pool).trim(), "100");
}

fn passplan_bin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_passplan"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run passplan")
}

/// Issue 13, item 8: `passplan handback VM` reads the record a real prepare left and names
/// the steps it undoes; on a directory that is not this machine it runs nothing.
#[test]
fn handback_lists_the_recorded_steps_and_runs_nothing_on_a_directory() {
    let s4 = example("seed-004");
    let f = Fake::new();
    f.install(&s4);
    fake_display(&f);
    ok(&f.run_installed(
        "qemu.d/gamevm/prepare/begin/30-passplan-handoff.sh",
        &["gamevm", "prepare", "begin", "-"],
        &[],
    ));
    let record = f.path("run/passplan/gamevm.handoff");
    let recorded = read(&record);
    let root = f.dir.path().to_str().expect("UTF-8 path");

    let out = passplan_bin(&["handback", "gamevm", "--root", root]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let steps: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  - "))
        .collect();
    assert_eq!(
        steps,
        [
            "load the module nvidia",
            "load the module nvidia_uvm",
            "load the module nvidia_drm",
            "bind efi-framebuffer.0 to efi-framebuffer",
            "bind the console vtcon1",
            "start display-manager.service",
        ]
    );
    assert!(stdout.contains("Not run:"), "{stdout}");
    assert_eq!(read(&record), recorded, "a directory is not changed");

    // The release script gone (spec changed by hand): refused, the record kept.
    fs::remove_file(f.path("etc/libvirt/hooks/qemu.d/gamevm/release/end/20-passplan-handoff.sh"))
        .expect("rm");
    let out = passplan_bin(&["handback", "gamevm", "--root", root]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is missing"));
    assert!(record.exists());

    // Nothing recorded: nothing to do.
    fs::remove_file(&record).expect("rm");
    let out = passplan_bin(&["handback", "gamevm", "--root", root]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Nothing to hand back"));

    // A name that would leave /run/passplan.
    let out = passplan_bin(&["handback", "../etc/x", "--root", root]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a VM name"));
}

#[test]
fn the_isolation_script_confines_and_releases_three_units() {
    let cases = inline_cases();
    let (_, spec, root, name) = &cases[0];
    let d = emit(spec, root, name);
    let script = &artifact(
        &d,
        "/etc/libvirt/hooks/qemu.d/win10/started/begin/40-passplan-isolation.sh",
    )
    .content;
    let f = Fake::new();
    // Release before started did anything: nothing to restore.
    ok(&f.run(script, &["win10", "release", "end", "-"], &[]));
    assert!(f.calls().is_empty());
    ok(&f.run(script, &["win10", "started", "begin", "-"], &[]));
    ok(&f.run(script, &["win10", "release", "end", "-"], &[]));
    let want: Vec<String> = ["0-5,12-17", "0-23"]
        .iter()
        .flat_map(|cpus| {
            ["system.slice", "user.slice", "init.scope"]
                .map(|u| format!("systemctl set-property --runtime -- {u} AllowedCPUs={cpus}"))
        })
        .collect();
    assert_eq!(f.calls(), want);
}

/// A second VM on the workstation host: cores 2-3 (CPUs 2,3,14,15), the performance governor,
/// dynamic isolation.
fn second_vm_spec() -> String {
    let ws = workstation_spec();
    let at = ws.find("vm \"win10\"").expect("the VM");
    format!(
        "{}vm \"linux\" {{\n    memory \"4GiB\"\n    cpu {{\n        vcpus 4 threads=2\n        \
         pin cores=\"2-3\"\n        governor \"performance\"\n        isolate \"dynamic\"\n    \
         }}\n}}\n",
        &ws[..at]
    )
}

/// Issue 13, item 7: two VMs' governor and isolation hooks run interleaved (A start, B start,
/// A stop, B stop) compose from the set of running VMs.
#[test]
fn two_vms_hooks_compose_governor_and_isolation() {
    let ws_root = crate_dir().join("examples/workstation/root");
    let a = emit(
        &edit(
            &workstation_spec(),
            "governor \"performance\"",
            "governor \"performance\"\n        isolate \"dynamic\"",
        ),
        &ws_root,
        "host.kdl",
    );
    let b = emit(&second_vm_spec(), &ws_root, "host.kdl");
    let script = |d: &Desired, vm: &str, rel: &str| {
        artifact(d, &format!("/etc/libvirt/hooks/qemu.d/{vm}/{rel}"))
            .content
            .clone()
    };
    let a_gov = script(&a, "win10", "prepare/begin/20-passplan-governor.sh");
    let a_iso = script(&a, "win10", "started/begin/40-passplan-isolation.sh");
    let b_gov = script(&b, "linux", "prepare/begin/20-passplan-governor.sh");
    let b_iso = script(&b, "linux", "started/begin/40-passplan-isolation.sh");

    let f = Fake::new();
    let gov = |cpu: u32| {
        f.path(&format!(
            "sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor"
        ))
    };
    for cpu in 0..24 {
        write(&gov(cpu), "schedutil\n");
    }
    let governors =
        || -> Vec<String> { (0..24).map(|c| read(&gov(c)).trim().to_owned()).collect() };
    let all = |g: &str| vec![g.to_owned(); 24];
    // The CPU list every unit was last confined to, and that all three agree.
    let allowed = || -> String {
        let calls = f.calls();
        let last: Vec<&String> = calls.iter().rev().take(3).collect();
        let cpus: Vec<&str> = last
            .iter()
            .map(|c| {
                c.rsplit_once("AllowedCPUs=")
                    .expect("a set-property call")
                    .1
            })
            .collect();
        assert!(cpus.iter().all(|c| *c == cpus[0]), "{calls:?}");
        cpus[0].to_owned()
    };
    let start = |vm: &str, gov_script: &str, iso_script: &str| {
        ok(&f.run(gov_script, &[vm, "prepare", "begin", "-"], &[]));
        ok(&f.run(iso_script, &[vm, "started", "begin", "-"], &[]));
    };
    let stop = |vm: &str, gov_script: &str, iso_script: &str| {
        // Release order: isolation (10) before the governor (30).
        ok(&f.run(iso_script, &[vm, "release", "end", "-"], &[]));
        ok(&f.run(gov_script, &[vm, "release", "end", "-"], &[]));
    };

    start("win10", &a_gov, &a_iso);
    assert_eq!(governors(), all("performance"));
    assert_eq!(allowed(), "0-5,12-17");

    start("linux", &b_gov, &b_iso);
    assert_eq!(governors(), all("performance"));
    assert_eq!(allowed(), "0-1,4-5,12-13,16-17");

    stop("win10", &a_gov, &a_iso);
    assert_eq!(governors(), all("performance"), "B still asks for it");
    assert_eq!(
        allowed(),
        "0-1,4-13,16-23",
        "A gives back only its own CPUs"
    );

    stop("linux", &b_gov, &b_iso);
    assert_eq!(
        governors(),
        all("schedutil"),
        "the last stop restores the host's"
    );
    assert_eq!(allowed(), "0-23");
    let left: Vec<_> = fs::read_dir(f.path("run/passplan/running"))
        .expect("the records' directory")
        .collect();
    assert!(left.is_empty(), "no record is left: {left:?}");
    assert!(!f.path("run/passplan/host.governor").exists());

    // The same with the stops in start order reversed (B stops first).
    f.clear_calls();
    start("win10", &a_gov, &a_iso);
    start("linux", &b_gov, &b_iso);
    stop("linux", &b_gov, &b_iso);
    assert_eq!(governors(), all("performance"));
    assert_eq!(allowed(), "0-5,12-17");
    stop("win10", &a_gov, &a_iso);
    assert_eq!(governors(), all("schedutil"));
    assert_eq!(allowed(), "0-23");
}

/// A VM started by an earlier version (its own `<vm>.governor` and `<vm>.isolation` records)
/// is still put back by today's release.
#[test]
fn release_undoes_a_start_recorded_by_an_earlier_version() {
    let cases = inline_cases();
    let (_, spec, root, name) = &cases[0];
    let d = emit(spec, root, name);
    let q = "/etc/libvirt/hooks/qemu.d/win10";
    let gov_script = &artifact(&d, &format!("{q}/release/end/30-passplan-governor.sh")).content;
    let iso_script = &artifact(&d, &format!("{q}/release/end/10-passplan-isolation.sh")).content;
    let f = Fake::new();
    let gov = f.path("sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
    write(&gov, "performance\n");
    write(&f.path("run/passplan/win10.governor"), "cpu0 schedutil\n");
    write(&f.path("run/passplan/win10.isolation"), "0-5,12-17\n");
    ok(&f.run(iso_script, &["win10", "release", "end", "-"], &[]));
    ok(&f.run(gov_script, &["win10", "release", "end", "-"], &[]));
    assert_eq!(read(&gov).trim(), "schedutil");
    assert_eq!(
        f.calls(),
        ["system.slice", "user.slice", "init.scope"]
            .map(|u| format!("systemctl set-property --runtime -- {u} AllowedCPUs=0-23"))
    );
    assert!(!f.path("run/passplan/win10.governor").exists());
    assert!(!f.path("run/passplan/win10.isolation").exists());
}

#[test]
fn the_user_wrapper_execs_the_script_with_arguments_and_xml() {
    let f = Fake::new();
    let target = f.path("my hooks/it's.sh");
    let out_file = f.path("seen");
    write_exec(
        &target,
        &format!(
            "#!/bin/bash\necho \"$* $(cat)\" > '{}'\n",
            out_file.display()
        ),
    );
    let spec = edit(
        &workstation_spec(),
        "clock \"localtime\"",
        &format!(
            "clock \"localtime\"\n    hook \"prepare/begin\" script=\"{}\"",
            target.display()
        ),
    );
    let d = emit(
        &spec,
        &crate_dir().join("examples/workstation/root"),
        "host.kdl",
    );
    let wrapper = &artifact(
        &d,
        "/etc/libvirt/hooks/qemu.d/win10/prepare/begin/50-user-it_s.sh",
    )
    .content;
    ok(&f.run(wrapper, &["win10", "prepare", "begin", "-"], &[]));
    assert_eq!(
        read(&out_file),
        format!("win10 prepare begin - {}\n", XML.trim_end())
    );
    fs::remove_file(&target).expect("rm");
    let out = f.run(wrapper, &["win10", "prepare", "begin", "-"], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing or not executable"));
}
