//! The bad-input corpus: every spec in `tests/fixtures/specs/invalid/` names the code it must
//! produce on its first line (`// expect: CODE`), and its rendered report is a snapshot.

use std::path::{Path, PathBuf};

use passplan::diag::{Report, render_report};

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/specs/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the invalid-spec corpus exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
        .collect();
    files.sort();
    files
}

fn expected_code(text: &str) -> &str {
    text.lines()
        .next()
        .and_then(|l| l.strip_prefix("// expect: "))
        .expect("first line is `// expect: CODE`")
        .trim()
}

#[test]
fn every_invalid_spec_reports_its_code_and_renders_stably() {
    let files = corpus();
    assert!(
        files.len() >= 12,
        "the corpus has one file per decoder code"
    );
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let want = expected_code(&text);
        let (spec, diags) = passplan::spec::parse(&text);
        let codes: Vec<&str> = diags.iter().map(|d| d.code.0).collect();
        assert!(
            codes.contains(&want),
            "{}: expected {want}, got {codes:?}",
            path.display()
        );
        if want != "spec/acs-override" {
            assert!(
                spec.is_none(),
                "{}: a spec with errors must not decode",
                path.display()
            );
        }
        for d in diags.iter() {
            assert!(
                d.help.is_some(),
                "{}: finding `{}` names no fix",
                path.display(),
                d.message
            );
        }
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let report = Report::new(&format!("invalid/{stem}.kdl"), &text, diags.sorted());
        let rendered = render_report(&report, 100, false);
        insta::with_settings!({ snapshot_path => "../fixtures/specs/invalid/snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(stem, rendered);
        });
    }
}

#[test]
fn every_decoder_code_has_a_bad_input() {
    let covered: Vec<String> = corpus()
        .iter()
        .map(|p| expected_code(&std::fs::read_to_string(p).unwrap()).to_owned())
        .collect();
    for info in passplan::diag::CODES {
        if info.code.0.starts_with("spec/") {
            assert!(
                covered.iter().any(|c| c == info.code.0),
                "no invalid spec exercises {}",
                info.code
            );
        }
    }
}

#[test]
fn rendering_has_no_colour_and_respects_the_width() {
    let text = std::fs::read_to_string(
        corpus()
            .into_iter()
            .find(|p| p.ends_with("unsafe-name.kdl"))
            .unwrap(),
    )
    .unwrap();
    let (_, diags) = passplan::spec::parse(&text);
    let rendered = render_report(&Report::new("x.kdl", &text, diags.sorted()), 60, false);
    assert!(
        !rendered.contains('\u{1b}'),
        "no ANSI escapes without colour"
    );
    for line in rendered.lines() {
        // Source lines are shown as written; miette wraps only its own text.
        if !line.contains('│') {
            assert!(
                line.chars().count() <= 60,
                "line longer than the width: {line:?}"
            );
        }
    }
}

/// Host rules whose failing case needs a host different from every shipped example (no
/// virtualisation flag, no /dev/kvm, no IOMMU, a GPU sharing a group, the guest GPU as boot
/// display, two NUMA nodes): their bad inputs are host mutations in `check_rules.rs`, each with a
/// snapshot, and `check_rules::every_rule_has_a_failing_case_here` holds that true.
const NEEDS_A_MUTATED_HOST: &[&str] = &[
    "host/no-virtualization",
    "host/no-kvm",
    "host/iommu-off",
    "iommu/group-incomplete",
    "iommu/host-gpu-shares-group",
    "display/boot-gpu-to-guest",
    "cpu/cross-numa",
    "cpu/remote-device",
    "device/function-stays",
    "binding/host-config",
    "iommu/groups-synthetic",
    "device/driver-name",
    "host/file-too-large",
    // Needs a script owned by another user: `check_rules::hook_script_writable`.
    "hook/script-writable",
];

fn host_corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/specs/invalid/host");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the host-rule corpus exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
        .collect();
    files.sort();
    files
}

/// Every spec in `tests/fixtures/specs/invalid/host/` names its code and the example root it is
/// checked against (`// root: workstation`); the rule must report it, and the report is a snapshot.
#[test]
fn every_host_rule_bad_input_reports_its_code_against_its_example_host() {
    let files = host_corpus();
    assert!(
        files.len() >= 20,
        "the corpus has one file per host rule that a spec alone can trigger"
    );
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let want = expected_code(&text);
        let root = text
            .lines()
            .nth(1)
            .and_then(|l| l.strip_prefix("// root: "))
            .expect("second line is `// root: EXAMPLE`")
            .trim();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(root)
            .join("root");
        let (spec, mut diags) = passplan::spec::parse(&text);
        let spec = spec.unwrap_or_else(|| {
            panic!(
                "{}: does not decode: {:?}",
                path.display(),
                diags.iter().map(|d| &d.message).collect::<Vec<_>>()
            )
        });
        let (_, found) = passplan::check::check(spec, passplan::host::discover(&root).unwrap());
        diags.extend(found);
        let codes: Vec<&str> = diags.iter().map(|d| d.code.0).collect();
        assert!(
            codes.contains(&want),
            "{}: expected {want}, got {codes:?}",
            path.display()
        );
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let report = Report::new(&format!("invalid/host/{stem}.kdl"), &text, diags.sorted());
        let rendered = render_report(&report, 100, false);
        insta::with_settings!({ snapshot_path => "../fixtures/specs/invalid/host/snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(stem, rendered);
        });
    }
}

#[test]
fn every_host_rule_has_a_bad_input_or_a_reason_it_needs_a_mutated_host() {
    let covered: Vec<String> = host_corpus()
        .iter()
        .map(|p| expected_code(&std::fs::read_to_string(p).unwrap()).to_owned())
        .collect();
    for rule in passplan::check::rules::RULES {
        let code = rule.code.0;
        assert!(
            covered.iter().any(|c| c == code) || NEEDS_A_MUTATED_HOST.contains(&code),
            "{code} has no bad input in tests/fixtures/specs/invalid/host/ and is not listed as needing a mutated host"
        );
        assert!(
            !(covered.iter().any(|c| c == code) && NEEDS_A_MUTATED_HOST.contains(&code)),
            "{code} is both in the corpus and listed as needing a mutated host"
        );
    }
}
