//! The binary on bad input: every spec of the invalid corpus and a set of files that are not
//! specs at all (empty, binary, non-UTF-8, 2 MiB, braces nested thousands deep, a directory).
//! Whatever the input, `check`, `plan` and `apply` exit 1 with a message that names the fix,
//! print no panic or backtrace, and `apply` writes no file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const WORKSTATION_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/workstation/root");

fn passplan(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_passplan"))
        .args(args)
        // A backtrace would only show if something panicked; ask for one so that a panic
        // cannot hide behind the default hook's short form.
        .env("RUST_BACKTRACE", "1")
        .env_remove("NO_COLOR")
        .output()
        .expect("run passplan")
}

/// Assert the run failed cleanly: exit 1, no panic, and the output says how to fix it.
fn assert_clean_failure(what: &str, out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let both = format!("{stdout}{stderr}");
    assert_eq!(out.status.code(), Some(1), "{what}: exit code\n{both}");
    for bad in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        assert!(!both.contains(bad), "{what}: `{bad}` in the output\n{both}");
    }
    // Reports carry `help:` lines; one-line errors name the fix in their own words.
    let names_fix = [
        "help",
        "check the path",
        "give the path",
        "save it as UTF-8",
        "refused",
        "passplan plan -o",
    ]
    .iter()
    .any(|w| both.contains(w));
    assert!(names_fix, "{what}: no fix named\n{both}");
}

/// Every regular file under `dir` (the lock's directory may stay; no file may).
fn regular_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// `check`, `plan` and `apply --yes` on `spec`: each fails cleanly, and apply writes nothing.
fn refused_everywhere(what: &str, spec: &Path) {
    let root = tempfile::tempdir().unwrap();
    for command in ["check", "plan"] {
        let out = passplan(&[
            command.as_ref(),
            spec.as_os_str(),
            "--root".as_ref(),
            WORKSTATION_ROOT.as_ref(),
        ]);
        assert_clean_failure(&format!("{command} {what}"), &out);
    }
    let out = passplan(&[
        "apply".as_ref(),
        spec.as_os_str(),
        "--yes".as_ref(),
        "--root".as_ref(),
        root.path().as_os_str(),
    ]);
    assert_clean_failure(&format!("apply {what}"), &out);
    assert_eq!(
        regular_files(root.path()),
        Vec::<PathBuf>::new(),
        "apply {what} wrote a file"
    );
}

#[test]
fn every_invalid_spec_fails_cleanly_through_the_binary() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/specs/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
        .collect();
    files.sort();
    for spec in files {
        let name = spec.file_name().unwrap().to_string_lossy().into_owned();
        if name == "acs-override.kdl" {
            // A warning, not an error: the spec is valid and `check` exits 0 (tested in
            // spec_diagnostics.rs). Still no panic, and the warning names the alternative.
            let out = passplan(&[
                "check".as_ref(),
                spec.as_os_str(),
                "--root".as_ref(),
                WORKSTATION_ROOT.as_ref(),
            ]);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(stdout.contains("help:") && !stdout.contains("panicked"));
            continue;
        }
        refused_everywhere(&name, &spec);
    }
}

#[test]
fn files_that_are_not_specs_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let put = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let mut nested = "vm \"a\" { ".to_owned();
    nested.push_str(&"cpu { ".repeat(20_000));
    nested.push_str(&"} ".repeat(20_000));
    nested.push('}');
    let binary: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    // An empty file is a valid spec that asks for nothing (`plan` would remove what passplan
    // made), so it is checked apart: it must not panic, and it passes.
    let empty = put("empty.kdl", b"");
    let out = passplan(&[
        "check".as_ref(),
        empty.as_os_str(),
        "--root".as_ref(),
        WORKSTATION_ROOT.as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let cases = [
        ("only a comment", put("comment.kdl", b"/* unterminated")),
        ("binary bytes", put("binary.kdl", &binary)),
        ("non-UTF-8 text", put("latin1.kdl", b"vm \"caf\xe9\" { }\n")),
        ("a NUL byte", put("nul.kdl", b"vm \"a\0\" { }\n")),
        (
            "2 MiB",
            put("big.kdl", &b"// padding\n".repeat(2 * 1024 * 1024 / 11 + 1)),
        ),
        (
            "braces nested 20000 deep",
            put("nested.kdl", nested.as_bytes()),
        ),
        (
            "unclosed braces",
            put("open.kdl", "{".repeat(100_000).as_bytes()),
        ),
        (
            "a UTF-8 BOM and junk",
            put("bom.kdl", "\u{feff}}}}{{{".as_bytes()),
        ),
        ("a directory", {
            let d = dir.path().join("dir.kdl");
            std::fs::create_dir(&d).unwrap();
            d
        }),
        ("a missing file", dir.path().join("missing.kdl")),
    ];
    for (what, path) in cases {
        refused_everywhere(what, &path);
    }
}

#[test]
fn an_unreadable_host_root_is_a_clear_error() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/workstation/host.kdl");
    let out = passplan(&[
        "check".as_ref(),
        spec.as_os_str(),
        "--root".as_ref(),
        "/nonexistent/passplan-root".as_ref(),
    ]);
    assert_clean_failure("check with a missing root", &out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("host/unreadable"));
}

/// `param "--"` was accepted and then silently dropped by every loader editor (it ends the
/// kernel's part of the command line): now it is refused where it is written.
#[test]
fn a_double_dash_param_is_refused_not_dropped() {
    let spec = r#"host "h" { boot { loader "grub"; param "quiet" "--" } }"#;
    let (_, diags) = passplan::spec::parse(spec);
    let found: Vec<_> = diags
        .iter()
        .filter(|d| d.code.0 == "spec/invalid-value")
        .collect();
    assert_eq!(found.len(), 1, "{diags:?}");
    assert!(found[0].message.contains("`--`"), "{}", found[0].message);
    let at = found[0].span.expect("a span");
    assert_eq!(&spec[at.offset()..at.offset() + at.len()], r#""--""#);
}
