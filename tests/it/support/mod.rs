//! Shared test support: the fake host writer ([`tree`]), the seed hosts ([`seeds`]), and
//! small conveniences for writing a host into a temporary root.
//!
//! Builders here are a toolbox for every test module; some are unused by any one of them.
#![allow(
    dead_code,
    reason = "a toolbox for every test module: builders unused by the current tests stay"
)]
#![allow(
    unreachable_pub,
    reason = "the test binary is the only crate; `pub` here means `for other test modules`"
)]

pub mod seeds;
pub mod tools;
pub mod tree;

#[allow(
    unused_imports,
    reason = "re-exported for mutation tests in other modules"
)]
pub use seeds::{seed001, seed003, seed004, workstation};
#[allow(
    unused_imports,
    reason = "re-exported for mutation tests in other modules"
)]
pub use tree::{
    Entry, FakeBlock, FakeCaches, FakeCpu, FakeCpuFreq, FakeCpuInfo, FakeHost, FakeHugePool,
    FakeHybrid, FakeMemory, FakeMount, FakeNode, FakePartition, FakePci, FakeSwapFile, FakeUsb,
    FakeVfioPci, FakeVtConsole,
};

/// Writes `host` into a fresh temporary directory and returns it (deleted on drop).
pub fn write_seed(host: &FakeHost) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("create a temporary host root");
    host.write(dir.path()).expect("write the fake host");
    dir
}

/// Every seed by the name of its committed example directory (`examples/<name>/root`).
pub fn all_seeds() -> Vec<(&'static str, FakeHost)> {
    vec![
        ("workstation", workstation()),
        ("seed-001", seed001()),
        ("seed-003", seed003()),
        ("seed-004", seed004()),
    ]
}
