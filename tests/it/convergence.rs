//! Converged means empty from anywhere: once a spec is applied, the same spec plans no change
//! whatever the working directory, the path it is named by, its comments or the order of its
//! top-level nodes — through the binary, as a person and a systemd timer run it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn passplan(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_passplan"))
        .args(args)
        .current_dir(cwd)
        .env_remove("NO_COLOR")
        .output()
        .expect("run passplan")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Copy a directory tree (regular files, directories and symbolic links as links).
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let meta = fs::symlink_metadata(entry.path()).unwrap();
        let target = to.join(entry.file_name());
        if meta.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The spec's top-level nodes as text, each with the comment lines just above it. A node starts
/// on an unindented line and ends at the unindented `}` that closes it (or on its own line).
fn top_level_nodes(spec: &str) -> Vec<String> {
    let mut nodes = Vec::new();
    let mut current = String::new();
    let mut open = false;
    for line in spec.lines() {
        current.push_str(line);
        current.push('\n');
        let starts = !line.starts_with([' ', '\t', '/', '}']) && !line.trim().is_empty();
        if starts && !line.trim_end().ends_with('{') {
            nodes.push(std::mem::take(&mut current));
        } else if starts {
            open = true;
        } else if open && line.starts_with('}') {
            open = false;
            nodes.push(std::mem::take(&mut current));
        }
    }
    assert!(!open, "unbalanced spec");
    nodes
}

/// The same spec, said differently: comments added at the top and between nodes, and the
/// top-level nodes in reverse order.
fn reworded(spec: &str) -> String {
    let mut nodes = top_level_nodes(spec);
    assert!(nodes.len() >= 3, "an example with a few nodes to reorder");
    nodes.reverse();
    let mut out =
        String::from("// Reordered by hand.\n// A second line that moves everything down.\n\n");
    for node in nodes {
        out.push_str(&node);
        out.push_str("\n// between\n");
    }
    out
}

#[test]
fn an_applied_spec_plans_empty_from_anywhere_and_however_it_is_written() {
    for example in ["seed-001", "seed-003", "seed-004", "workstation"] {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        let root = base.join("root");
        copy_tree(
            &manifest().join("examples").join(example).join("root"),
            &root,
        );
        let specs = base.join("dotfiles/vfio");
        fs::create_dir_all(&specs).unwrap();
        let spec =
            fs::read_to_string(manifest().join("examples").join(example).join("host.kdl")).unwrap();
        fs::write(specs.join("host.kdl"), &spec).unwrap();
        fs::write(specs.join("reworded.kdl"), reworded(&spec)).unwrap();
        let root_arg = root.to_str().unwrap();

        // A person applies with a relative path from the spec's directory.
        let out = passplan(&specs, &["apply", "host.kdl", "--root", root_arg, "--yes"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{example}: {}",
            text(&out.stderr)
        );

        let abs = specs.join("host.kdl");
        let elsewhere = base.join("elsewhere");
        fs::create_dir_all(&elsewhere).unwrap();
        let ways: [(&Path, String); 4] = [
            // A timer, with an absolute path, from /.
            (Path::new("/"), abs.display().to_string()),
            // A relative path from a sibling directory.
            (&elsewhere, "../dotfiles/vfio/host.kdl".to_owned()),
            // Through a `..` that leads back to the same file.
            (&specs, "../vfio/./host.kdl".to_owned()),
            // The same meaning, written with other comments and another node order.
            (&specs, "reworded.kdl".to_owned()),
        ];
        for (cwd, spec_arg) in &ways {
            let out = passplan(
                cwd,
                &["plan", spec_arg, "--root", root_arg, "--detailed-exitcode"],
            );
            assert_eq!(
                out.status.code(),
                Some(0),
                "{example}: `plan {spec_arg}` from {} is not empty:\n{}\n{}",
                cwd.display(),
                text(&out.stdout),
                text(&out.stderr)
            );
        }
    }
}

#[test]
fn no_owned_file_names_the_spec_path_or_a_line() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    copy_tree(&manifest().join("examples/seed-004/root"), &root);
    let spec_dir = tmp.path().join("a spec\nwith a newline");
    fs::create_dir_all(&spec_dir).unwrap();
    fs::copy(
        manifest().join("examples/seed-004/host.kdl"),
        spec_dir.join("host.kdl"),
    )
    .unwrap();
    let out_dir = tmp.path().join("out");
    let out = passplan(
        tmp.path(),
        &[
            "build",
            spec_dir.join("host.kdl").to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut seen = 0;
    let mut stack = vec![out_dir];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            seen += 1;
            let content = fs::read_to_string(&path).unwrap();
            assert!(
                !content.contains("host.kdl") && !content.contains("with a newline"),
                "{} names the spec's path:\n{content}",
                path.display()
            );
        }
    }
    assert!(seen > 3, "the example emits files");
}

#[test]
fn a_relative_hook_script_is_relative_to_the_spec_however_the_spec_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let root = manifest().join("examples/workstation/root");
    let specs = tmp.path().join("dotfiles");
    fs::create_dir_all(specs.join("hooks")).unwrap();
    let spec = fs::read_to_string(manifest().join("examples/workstation/host.kdl")).unwrap();
    let spec = spec.replacen(
        "vm \"win10\" {\n",
        "vm \"win10\" {\n    hook \"prepare/begin\" script=\"hooks/notify.sh\"\n",
        1,
    );
    assert!(
        spec.contains("hooks/notify.sh"),
        "the example has a win10 VM"
    );
    fs::write(specs.join("host.kdl"), spec).unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    let wrapper = "etc/libvirt/hooks/qemu.d/win10/prepare/begin/50-user-notify.sh";
    let mut built = Vec::new();
    for (n, (cwd, name)) in [
        (specs.as_path(), "host.kdl"),
        (elsewhere.as_path(), "../dotfiles/host.kdl"),
    ]
    .into_iter()
    .enumerate()
    {
        let out_dir = tmp.path().join(format!("out{n}"));
        let out = passplan(
            cwd,
            &[
                "build",
                name,
                "--root",
                root.to_str().unwrap(),
                "--out",
                out_dir.to_str().unwrap(),
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "`build {name}`: {}",
            text(&out.stderr)
        );
        built.push(fs::read_to_string(out_dir.join(wrapper)).unwrap());
    }
    let want = format!("'{}/hooks/notify.sh'", specs.display());
    assert!(built[0].contains(&want), "{want} in:\n{}", built[0]);
    assert_eq!(built[0], built[1], "the same script from anywhere");
}

#[test]
fn a_saved_plan_names_its_root_once_and_is_stale_when_the_host_changed() {
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(
        &manifest().join("examples/seed-003/root"),
        &tmp.path().join("root"),
    );
    let spec = manifest().join("examples/seed-003/host.kdl");
    let spec = spec.to_str().unwrap();
    let abs_root = tmp.path().join("root");
    let abs_root = abs_root.to_str().unwrap();

    // Saved with a relative root, applied with the absolute one: the same root.
    let out = passplan(
        tmp.path(),
        &["plan", spec, "--root", "root", "-o", "one.json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = passplan(
        tmp.path(),
        &["apply", "one.json", "--root", abs_root, "--yes"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // A plan saved now, then the running kernel's command line changes (another boot entry):
    // the checks that plan relied on no longer hold, and it is refused, naming what changed.
    let out = passplan(
        tmp.path(),
        &["plan", spec, "--root", "root", "-o", "two.json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let cmdline = tmp.path().join("root/proc/cmdline");
    let before = fs::read_to_string(&cmdline).unwrap();
    fs::write(&cmdline, format!("{} quiet", before.trim_end())).unwrap();
    let out = passplan(
        tmp.path(),
        &["apply", "two.json", "--root", "root", "--yes"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("stale") && stderr.contains("cmdline"),
        "{stderr}"
    );

    // A device that is no longer what the plan saw: the same.
    fs::write(&cmdline, before).unwrap();
    let out = passplan(
        tmp.path(),
        &["plan", spec, "--root", "root", "-o", "three.json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let device = tmp.path().join("root/sys/devices/pci0000:00/0000:00:00.0");
    assert!(
        device.join("subsystem_device").is_file(),
        "the host bridge's identity"
    );
    fs::write(device.join("subsystem_device"), "0xbeef\n").unwrap();
    let out = passplan(
        tmp.path(),
        &["apply", "three.json", "--root", "root", "--yes"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("stale") && stderr.contains("pci"),
        "{stderr}"
    );
}

#[test]
fn binding_at_vm_start_instead_of_boot_takes_vfio_out_of_the_initramfs_and_rebuilds_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    copy_tree(&manifest().join("examples/seed-003/root"), &root);
    let spec = fs::read_to_string(manifest().join("examples/seed-003/host.kdl")).unwrap();
    assert!(
        spec.contains("bind \"boot\""),
        "seed 003 binds its GPU at boot"
    );
    fs::write(tmp.path().join("host.kdl"), &spec).unwrap();
    let root_arg = root.to_str().unwrap();
    let modules = root.join("etc/initramfs-tools/modules");
    let original = fs::read_to_string(&modules).unwrap_or_default();
    let out = passplan(
        tmp.path(),
        &["apply", "host.kdl", "--root", root_arg, "--yes"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(fs::read_to_string(&modules).unwrap().contains("vfio_pci"));

    fs::write(
        tmp.path().join("host.kdl"),
        spec.replace("bind \"boot\"", "bind \"vm-start\""),
    )
    .unwrap();
    let out = passplan(
        tmp.path(),
        &["plan", "host.kdl", "--root", root_arg, "--json"],
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let changes: Vec<(String, String)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_owned(),
                c["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        changes.contains(&("delete".into(), "/etc/modprobe.d/passplan-vfio.conf".into()))
            && changes.contains(&("update".into(), "/etc/initramfs-tools/modules".into())),
        "{changes:?}"
    );
    let steps: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["argv"][0].as_str().unwrap())
        .collect();
    assert!(
        steps.contains(&"update-initramfs"),
        "the image is rebuilt: {steps:?}"
    );

    let out = passplan(
        tmp.path(),
        &["apply", "host.kdl", "--root", root_arg, "--yes"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        fs::read_to_string(&modules).unwrap(),
        original,
        "the user's file as it was"
    );
    let out = passplan(
        tmp.path(),
        &[
            "plan",
            "host.kdl",
            "--root",
            root_arg,
            "--detailed-exitcode",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn build_out_is_a_fresh_read_only_view() {
    let tmp = tempfile::tempdir().unwrap();
    let build = |example: &str, out: &str, extra: &[&str]| {
        let spec = manifest().join("examples").join(example).join("host.kdl");
        let root = manifest().join("examples").join(example).join("root");
        let mut args = vec![
            "build",
            spec.to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        let out = passplan(tmp.path(), &args);
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let files = |dir: &Path| {
        let mut found = Vec::new();
        let mut todo = vec![dir.to_path_buf()];
        while let Some(d) = todo.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    todo.push(p);
                } else {
                    found.push(p.strip_prefix(dir).unwrap().display().to_string());
                }
            }
        }
        found.sort();
        found
    };
    // A second build into the same OUT replaces the first: nothing of the workstation's build
    // is left once seed-001's is written.
    let (code, _, stderr) = build("workstation", "out", &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let first = files(&tmp.path().join("out"));
    let (code, _, stderr) = build("seed-001", "out", &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let second = files(&tmp.path().join("out"));
    let fresh = tempfile::tempdir().unwrap();
    let fresh_out = fresh.path().join("out");
    let (code, _, stderr) = build("seed-001", fresh_out.to_str().unwrap(), &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        second,
        files(&fresh_out),
        "the same as a build into a new directory"
    );
    assert_ne!(
        first, second,
        "the examples differ, so the check means something"
    );

    // A directory holding someone else's files is refused, and nothing is written there.
    let theirs = tmp.path().join("theirs");
    fs::create_dir_all(&theirs).unwrap();
    fs::write(theirs.join("notes.txt"), "mine\n").unwrap();
    let (code, _, stderr) = build("seed-001", "theirs", &[]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("notes.txt") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(files(&theirs), vec!["notes.txt".to_owned()]);
    // With --force the build goes in beside them, and theirs stay.
    let (code, _, stderr) = build("seed-001", "theirs", &["--force"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        fs::read_to_string(theirs.join("notes.txt")).unwrap(),
        "mine\n"
    );

    // The host root itself, or a directory inside it, is never an output directory.
    let root = manifest().join("examples/seed-001/root");
    for out in [root.clone(), root.join("etc/build")] {
        let (code, _, stderr) = build("seed-001", out.to_str().unwrap(), &["--force"]);
        assert_eq!(code, Some(1), "{}: {stderr}", out.display());
        assert!(stderr.contains("host root"), "{stderr}");
    }
    assert!(!root.join("etc/build").exists());
}

#[test]
fn rollback_lists_what_it_restores_has_a_dry_run_and_asks_with_the_right_verb() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    copy_tree(&manifest().join("examples/seed-003/root"), &root);
    let spec = manifest().join("examples/seed-003/host.kdl");
    let root_arg = root.to_str().unwrap();
    let grub = root.join("etc/default/grub");
    let before = fs::read_to_string(&grub).unwrap();
    let out = passplan(
        tmp.path(),
        &["apply", spec.to_str().unwrap(), "--root", root_arg, "--yes"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let applied = fs::read_to_string(&grub).unwrap();
    assert_ne!(applied, before, "seed 003 edits GRUB");

    let out = passplan(tmp.path(), &["rollback", "--root", root_arg, "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    assert!(
        listed.contains("Rollback of apply 1 restores:") && listed.contains("/etc/default/grub"),
        "{listed}"
    );
    assert_eq!(
        fs::read_to_string(&grub).unwrap(),
        applied,
        "a dry run changes nothing"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_passplan"))
        .args(["rollback", "--root", root_arg])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("pass --yes to roll back"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("/etc/default/grub"),
        "listed before asking"
    );

    let out = passplan(tmp.path(), &["rollback", "--root", root_arg, "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(fs::read_to_string(&grub).unwrap(), before);
}
