//! The real consumers of what passplan emits (shellcheck, virt-xml-validate, modprobe, sh),
//! found on PATH. `scripts/test` installs them and sets `PASSPLAN_REQUIRE_TOOLS=1`, which turns a
//! missing tool into a failure; a developer without them gets a loud skip instead.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The tool's path, or `None` (after printing a skip line) when it is missing and not required.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("PASSPLAN_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "{name} is required (PASSPLAN_REQUIRE_TOOLS=1) but not installed; scripts/test installs it"
        );
        eprintln!("SKIPPED: {name} not installed (scripts/test installs it)");
    }
    found
}

/// Run a command, returning its output.
pub fn run(program: &std::path::Path, args: &[&std::ffi::OsStr]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .expect("run the tool")
}
