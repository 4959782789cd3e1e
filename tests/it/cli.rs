//! The binary as a user runs it: exit codes, streams, colour, `explain`, `host --json`.

use std::path::Path;
use std::process::{Command, Output};

fn passplan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_passplan"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NO_COLOR")
        .env_remove("COLUMNS")
        .output()
        .expect("run passplan")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

#[test]
fn check_exits_zero_with_warnings_only() {
    let out = passplan(&[
        "check",
        "examples/workstation/host.kdl",
        "--root",
        "examples/workstation/root",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("0 errors, 1 warning"), "{stdout}");
    assert!(!stdout.contains('\u{1b}'), "no colour when piped");
}

#[test]
fn check_exits_one_on_errors_and_reports_them_all() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/specs/invalid/invalid-value.kdl");
    let out = passplan(&[
        "check",
        spec.to_str().unwrap(),
        "--root",
        "examples/workstation/root",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.matches("spec/invalid-value").count() >= 5,
        "every problem at once:\n{stdout}"
    );
}

#[test]
fn a_missing_spec_is_a_clear_error_not_a_panic() {
    let out = passplan(&["check", "no/such/host.kdl"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("does not exist") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn a_missing_root_is_a_clear_error() {
    let out = passplan(&["host", "--root", "no/such/root"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no/such/root") && stderr.contains("help:"),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_two() {
    assert_eq!(passplan(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(passplan(&["check"]).status.code(), Some(2));
}

#[test]
fn explain_prints_the_rules_own_documentation() {
    let out = passplan(&["explain", "iommu/group-incomplete"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("# iommu/group-incomplete"));
    assert!(
        stdout.contains("## Why") && stdout.contains("ACS override"),
        "{stdout}"
    );
}

#[test]
fn explain_lists_every_code_and_suggests_near_misses() {
    let list = text(&passplan(&["explain"]).stdout);
    for rule in passplan::check::rules::RULES {
        assert!(
            list.contains(rule.code.0),
            "{} missing from the list",
            rule.code
        );
    }
    let out = passplan(&["explain", "iommu/group-incomplet"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("did you mean `iommu/group-incomplete`?"));
}

#[test]
fn host_shows_groups_gpu_verdicts_and_the_cpu_map() {
    let out = passplan(&["host", "--root", "examples/workstation/root"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("0d:00.0 [10de:2206]"), "devices with ids");
    assert!(
        stdout.contains("GA102 [GeForce RTX 3080]"),
        "names from pci.ids"
    );
    assert!(stdout.contains("isolated in group 32"), "GPU verdict");
    assert!(
        stdout.contains("L3 6-8,18-20") && stdout.contains("[6,18]"),
        "CPU map with L3 domains and siblings:\n{stdout}"
    );
}

#[test]
fn host_json_has_the_documented_top_level_shape() {
    let out = passplan(&["host", "--root", "examples/seed-001/root", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let group1 = doc["iommu_groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == 1)
        .expect("group 1");
    let addresses: Vec<&str> = group1["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        addresses,
        [
            "0000:00:01.0",
            "0000:01:00.0",
            "0000:01:00.1",
            "0000:01:00.2",
            "0000:01:00.3"
        ]
    );
    let cpu6 = &doc["cpus"][6];
    assert_eq!(cpu6["cpu"], 6);
    assert_eq!(cpu6["core"], 0);
    assert_eq!(cpu6["siblings"], serde_json::json!([0, 6]));
}

#[test]
fn apply_without_a_terminal_refuses_before_printing_a_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_passplan"))
        .args(["apply", "examples/seed-004/host.kdl", "--root"])
        .arg(tmp.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run passplan");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--yes"), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "",
        "no plan is printed before the refusal"
    );
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "nothing is written, not even a lock"
    );
}

#[test]
fn identical_changes_are_shown_once_and_compact_prints_a_line_per_change() {
    let args = [
        "plan",
        "examples/seed-004/host.kdl",
        "--root",
        "examples/seed-004/root",
    ];
    let full = passplan(&args);
    assert_eq!(full.status.code(), Some(0), "{}", text(&full.stderr));
    let full = text(&full.stdout);
    // seed-004's prepare and release handoff scripts have the same bytes: one diff, one pointer.
    let release = "/etc/libvirt/hooks/qemu.d/gamevm/release/end/20-passplan-handoff.sh";
    let prepare = "/etc/libvirt/hooks/qemu.d/gamevm/prepare/begin/30-passplan-handoff.sh";
    assert!(full.contains(release) && full.contains(prepare), "{full}");
    assert_eq!(
        full.matches("+# prepare: stop the display manager").count(),
        1,
        "the shared script's diff is printed once:\n{full}"
    );
    let first = if full.find(prepare) < full.find(release) {
        prepare
    } else {
        release
    };
    let pointer = format!("(the same change as {first})");
    assert!(full.contains(&pointer), "{pointer} in:\n{full}");

    let compact = passplan(&[&args[..], &["--compact"]].concat());
    assert_eq!(compact.status.code(), Some(0), "{}", text(&compact.stderr));
    let compact = text(&compact.stdout);
    let change_lines = compact
        .lines()
        .filter(|l| l.starts_with("  + ") || l.starts_with("  ~ ") || l.starts_with("  - "))
        .count();
    let full_change_lines = full
        .lines()
        .filter(|l| l.starts_with("  + ") || l.starts_with("  ~ ") || l.starts_with("  - "))
        .count();
    assert_eq!(
        change_lines, full_change_lines,
        "every change, one line each"
    );
    assert!(!compact.contains("@@"), "no diffs:\n{compact}");
    assert!(compact.contains("Commands, in order:") && compact.contains("Plan: "));
    assert!(compact.lines().count() * 3 < full.lines().count());
}
