//! The fuzz corpus, replayed without cargo-fuzz: every committed seed (`fuzz/seeds/<target>/`)
//! and every input that once crashed a target (`tests/fixtures/fuzz-regressions/<target>/`,
//! named after what it broke) goes through the same `passplan::fuzzing` function the fuzz
//! target calls. CI has no nightly toolchain, so this is how the fuzzers' findings stay fixed.

use std::path::{Path, PathBuf};

/// A fuzz target's name and entry point.
type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 6] = [
    ("spec", passplan::fuzzing::spec),
    ("cpuset", passplan::fuzzing::cpuset),
    ("cmdline", passplan::fuzzing::cmdline),
    ("host_tree", passplan::fuzzing::host_tree),
    ("editors", passplan::fuzzing::editors),
    ("domain_xml", passplan::fuzzing::domain_xml),
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
