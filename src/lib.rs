//! passplan: declarative GPU passthrough (VFIO) for KVM/libvirt hosts.
//!
//! The pipeline, one module a stage: [`spec`] (KDL text → `Spec`), [`host`] (a root directory →
//! `HostFacts`), [`check`] (`Spec` × `HostFacts` → `Checked`, or diagnostics), [`compile`]
//! (`Checked` → [`desired::Desired`] through the [`emit`]ters), [`plan`] (`Desired` × what
//! [`system`] reads → `Plan`), [`apply`] (executes a `Plan`). [`commands`] holds one short
//! orchestration per subcommand; [`cli`] turns arguments into a validated
//! [`commands::Config`]. See ARCHITECTURE.md for the invariants between stages and the order of
//! the layers (no module imports one above it).

pub mod apply;
pub mod check;
pub mod cli;
pub mod commands;
pub mod compile;
pub mod desired;
pub mod diag;
pub mod emit;
#[doc(hidden)]
pub mod fuzzing;
pub mod host;
pub mod hypervisor;
pub mod model;
pub mod pinning;
pub mod plan;
pub mod spec;
pub mod system;

use std::io::Write;
use std::process::ExitCode;

use commands::Outcome;

/// Run passplan with these arguments (program name first) and return the exit code:
/// 0 success, 1 the command found errors or failed, 2 a usage error.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let config = match cli::parse(args) {
        Ok(config) => config,
        Err(e) => {
            // clap prints help/version to stdout and usage errors to stderr, with its own code.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    let result = commands::execute(&config, &mut out, &mut err)
        .and_then(|outcome| out.flush().map(|()| outcome));
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failure) => ExitCode::from(1),
        Ok(Outcome::Changes) => ExitCode::from(2),
        // A closed pipe (`passplan host | head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            ExitCode::from(1)
        }
    }
}
