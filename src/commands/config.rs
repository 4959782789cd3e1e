//! What a run was asked to do, validated: the [`Command`] with its inputs and the output
//! settings. [`crate::cli`] builds it from the arguments; nothing here knows about clap.

use std::path::PathBuf;

use super::{ApplyArgs, PlanArgs};

/// A subcommand with its validated inputs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Command {
    /// `passplan check`.
    Check {
        /// Spec path.
        spec: PathBuf,
        /// Host root.
        root: PathBuf,
        /// JSON output.
        json: bool,
    },
    /// `passplan build`.
    Build {
        /// Spec path.
        spec: PathBuf,
        /// Host root.
        root: PathBuf,
        /// Output directory.
        out: PathBuf,
        /// Write even where files of others are.
        force: bool,
    },
    /// `passplan plan`.
    Plan {
        /// Spec path.
        spec: PathBuf,
        /// Host root.
        root: PathBuf,
        /// Options.
        args: PlanArgs,
    },
    /// `passplan apply`.
    Apply {
        /// Spec or saved plan.
        target: PathBuf,
        /// Host root.
        root: PathBuf,
        /// Options.
        args: ApplyArgs,
    },
    /// `passplan rollback`.
    Rollback {
        /// Host root.
        root: PathBuf,
        /// Do not ask.
        yes: bool,
        /// Only list what would be restored.
        dry_run: bool,
        /// The libvirt connection for the domains.
        connect: Option<String>,
    },
    /// `passplan host`.
    Host {
        /// Host root.
        root: PathBuf,
        /// JSON output.
        json: bool,
        /// A spec whose CPU placement to show.
        spec: Option<PathBuf>,
    },
    /// `passplan handback`.
    Handback {
        /// The VM whose handoff to undo.
        vm: String,
        /// Host root.
        root: PathBuf,
    },
    /// `passplan explain`.
    Explain {
        /// The code, or `None` to list all.
        code: Option<String>,
    },
}

/// Everything a run needs to know about how it was invoked.
#[derive(Debug, Clone)]
pub struct Config {
    /// What to do.
    pub command: Command,
    /// Whether to colour output.
    pub color: bool,
    /// Width to wrap diagnostics at.
    pub width: usize,
}
