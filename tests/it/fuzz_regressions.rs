//! The fuzz corpus, replayed without cargo-fuzz: every committed seed (`fuzz/seeds/<target>/`)
//! and every input that once crashed a target (`tests/fixtures/fuzz-regressions/<target>/`,
//! named after what it broke) goes through the same `passplan::fuzzing` function the fuzz
//! target calls. CI has no nightly toolchain, so this is how the fuzzers' findings stay fixed.

use std::path::{Path, PathBuf};

/// A fuzz target's name and entry point.
type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 8] = [
    ("spec", passplan::fuzzing::spec),
    ("cpuset", passplan::fuzzing::cpuset),
    ("cmdline", passplan::fuzzing::cmdline),
    ("host_tree", passplan::fuzzing::host_tree),
    ("editors", passplan::fuzzing::editors),
    ("domain_xml", passplan::fuzzing::domain_xml),
    ("state_files", passplan::fuzzing::state_files),
    ("modprobe", passplan::fuzzing::modprobe),
];

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.retain(|p| p.is_file());
    out.sort();
    out
}

/// Run every file of `<base>/<target>/` through its target; a panic names the file.
fn replay(base: &str) -> usize {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join(base);
    let mut count = 0;
    for (name, run) in TARGETS {
        for file in files(&base.join(name)) {
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(
                outcome.is_ok(),
                "fuzz target `{name}` panics on {} (reproduce: cd fuzz && cargo fuzz run {name} {})",
                file.display(),
                file.display()
            );
            count += 1;
        }
    }
    count
}

#[test]
fn every_seed_of_every_fuzz_target_replays_cleanly() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    for (name, _) in TARGETS {
        assert!(
            !files(&base.join(name)).is_empty(),
            "fuzz/seeds/{name}/ holds the target's seed corpus and must not be empty"
        );
    }
    assert!(replay("fuzz/seeds") > 0);
}

#[test]
fn every_input_that_once_crashed_a_fuzz_target_stays_fixed() {
    replay("tests/fixtures/fuzz-regressions");
}

/// A `Cargo.lock`'s packages: name, version, and the dependency entries as written
/// (`name` or `name version`).
fn lock_packages(path: &str) -> Vec<(String, String, Vec<String>)> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap();
    let mut out = Vec::new();
    for block in text.split("[[package]]").skip(1) {
        let field = |key: &str| {
            block.lines().find_map(|l| {
                l.strip_prefix(key)
                    .and_then(|r| r.trim().strip_prefix('='))
                    .map(|v| v.trim().trim_matches('"').to_owned())
            })
        };
        let deps = block
            .split_once("dependencies = [")
            .map_or("", |(_, rest)| rest.split(']').next().unwrap_or(""))
            .lines()
            .map(|l| l.trim().trim_end_matches(',').trim_matches('"').to_owned())
            .filter(|l| !l.is_empty())
            .collect();
        out.push((field("name ").unwrap(), field("version ").unwrap(), deps));
    }
    out
}

/// `scripts/fuzz` builds `fuzz/` with its own lock file. It once resolved `libc` newer than
/// the exact version `virt` pins, so the harness did not build from a fresh checkout: every
/// package the fuzz build compiles passplan with must be one the main lock file holds, at the
/// same version.
#[test]
fn the_fuzz_lock_file_resolves_passplans_dependencies_as_the_main_one_does() {
    let main = lock_packages("Cargo.lock");
    let fuzz = lock_packages("fuzz/Cargo.lock");
    // Resolve a dependency entry (`name` or `name version …`) to a package of the fuzz lock.
    let find = |entry: &str| {
        let mut words = entry.split_whitespace();
        let name = words.next().unwrap_or("");
        let version = words.next();
        fuzz.iter()
            .position(|(n, v, _)| n == name && version.is_none_or(|want| want == v))
            .unwrap_or_else(|| panic!("fuzz/Cargo.lock names `{entry}` but has no such package"))
    };
    let mut todo = vec![find("passplan")];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(i) = todo.pop() {
        if seen.insert(i) {
            todo.extend(fuzz[i].2.iter().map(|entry| find(entry)));
        }
    }
    assert!(
        seen.len() > 20,
        "passplan depends on {} packages?",
        seen.len()
    );
    let mismatched: Vec<String> = seen
        .iter()
        .map(|&i| &fuzz[i])
        .filter(|(name, version, _)| !main.iter().any(|(n, v, _)| n == name && v == version))
        .map(|(name, version, _)| format!("{name} {version}"))
        .collect();
    assert!(
        mismatched.is_empty(),
        "fuzz/Cargo.lock builds passplan with versions Cargo.lock does not hold (pin them with `cargo update -p NAME --precise VERSION` in fuzz/): {mismatched:?}"
    );
}
