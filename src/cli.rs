//! Command-line arguments → one validated [`Config`]. No clap type leaves this file; `Config`
//! and the argument structs it carries belong to [`crate::commands`], which never imports this
//! module.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands::{ApplyArgs, Command, Config, LibvirtArgs, PlanArgs};

/// Declarative GPU passthrough (VFIO) for KVM/libvirt hosts.
#[derive(Debug, Parser)]
#[command(name = "passplan", version, about, long_about = None, propagate_version = true)]
struct Args {
    #[command(subcommand)]
    command: CommandArgs,

    /// Never colour the output (also: the `NO_COLOR` environment variable).
    #[arg(long, global = true)]
    no_color: bool,
}

#[derive(Debug, Subcommand)]
enum CommandArgs {
    /// Check a spec against the host: every problem at once, each with its fix.
    Check {
        /// The host spec (KDL).
        spec: PathBuf,
        /// Read the host from this directory instead of `/`.
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
        /// Print the findings as one JSON document (schema/plan.schema.json, `$defs/diagnostic`);
        /// the human report goes to stderr.
        #[arg(long)]
        json: bool,
    },
    /// Write every file passplan would put on the host under OUT, to read, commit or diff.
    Build {
        /// The host spec (KDL).
        spec: PathBuf,
        /// Read the host from this directory instead of `/`.
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
        /// Where to write the files (as they would land on the host).
        #[arg(long, value_name = "OUT")]
        out: PathBuf,
        /// Write into OUT even when it holds files an earlier build did not write.
        #[arg(long)]
        force: bool,
    },
    /// Show what apply would change: files as diffs, commands in order, reboot.
    Plan {
        /// The host spec (KDL).
        spec: PathBuf,
        /// Read and plan for this directory instead of `/`.
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
        /// Print the plan as JSON (schema/plan.schema.json).
        #[arg(long)]
        json: bool,
        /// One line per change (no reasons, no diffs), for people who know what the files hold.
        #[arg(long, conflicts_with = "json")]
        compact: bool,
        /// Exit 0 with no changes, 2 with changes, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Save the plan, to apply exactly it later with `passplan apply FILE`.
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out_file: Option<PathBuf>,
        /// libvirt connection URI for the domains (default: the spec's `libvirt uri=`, else
        /// `qemu:///system` when the root is `/`; an offline root has no connection).
        #[arg(long, value_name = "URI")]
        connect: Option<String>,
        /// Undefine domains passplan defined that are no longer in the spec (keeping NVRAM).
        #[arg(long)]
        prune: bool,
        /// With --prune: delete the removed domains' UEFI variable stores too.
        #[arg(long, requires = "prune")]
        prune_nvram: bool,
        /// Take over the domain NAME, which passplan did not define (made in virt-manager or
        /// with virsh), and redefine it from the spec. Repeatable.
        #[arg(long, value_name = "NAME")]
        adopt: Vec<String>,
    },
    /// Converge the machine to the spec (or to a saved plan).
    Apply {
        /// The host spec (KDL), or a plan saved with `plan -o`.
        target: PathBuf,
        /// Apply to this directory instead of `/` (files only; commands are not run).
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// Overwrite managed files that were edited by hand.
        #[arg(long)]
        force: bool,
        /// libvirt connection URI for the domains (default: the spec's `libvirt uri=`, else
        /// `qemu:///system` when the root is `/`; an offline root has no connection).
        #[arg(long, value_name = "URI")]
        connect: Option<String>,
        /// Undefine domains passplan defined that are no longer in the spec (keeping NVRAM).
        #[arg(long)]
        prune: bool,
        /// With --prune: delete the removed domains' UEFI variable stores too.
        #[arg(long, requires = "prune")]
        prune_nvram: bool,
        /// Take over the domain NAME, which passplan did not define (made in virt-manager or
        /// with virsh), and redefine it from the spec. Repeatable.
        #[arg(long, value_name = "NAME")]
        adopt: Vec<String>,
    },
    /// Restore the files the last apply changed.
    Rollback {
        /// The root the apply was made to.
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// Only list what would be restored.
        #[arg(long)]
        dry_run: bool,
        /// libvirt connection URI for the domains the apply changed (default: the one it used).
        #[arg(long, value_name = "URI")]
        connect: Option<String>,
    },
    /// Give the display back after a single-GPU handoff whose automatic release failed: runs
    /// the VM's handoff release script, which undoes the steps recorded under /run/passplan/.
    /// Asks nothing, so it works over SSH.
    Handback {
        /// The VM that took the host's GPU.
        vm: String,
        /// The root whose handoff to undo (a directory is only listed, not changed).
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
    },
    /// Show what the host looks like: IOMMU groups, GPUs, CPU topology, boot setup.
    Host {
        /// Read the host from this directory instead of `/`.
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
        /// Print JSON (format described in schema/host.schema.json).
        #[arg(long)]
        json: bool,
        /// Also show where this spec's VMs run: the CPU map with the reasons.
        #[arg(long, value_name = "SPEC", conflicts_with = "json")]
        spec: Option<PathBuf>,
    },
    /// Print the documentation of a diagnostic code, or list every code.
    Explain {
        /// A code such as `iommu/group-incomplete`.
        code: Option<String>,
    },
}

/// Parse `args` (including the program name). On `--help`, `--version` or a usage error this
/// returns clap's error, which knows how to print itself and its exit code.
pub fn parse<I, T>(args: I) -> Result<Config, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args = Args::try_parse_from(args)?;
    let color = !args.no_color
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stdout().is_terminal();
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|w| *w >= 40)
        .unwrap_or(100);
    let command = match args.command {
        CommandArgs::Check { spec, root, json } => Command::Check { spec, root, json },
        CommandArgs::Build {
            spec,
            root,
            out,
            force,
        } => Command::Build {
            spec,
            root,
            out,
            force,
        },
        CommandArgs::Plan {
            spec,
            root,
            json,
            compact,
            detailed_exitcode,
            out_file,
            connect,
            prune,
            prune_nvram,
            adopt,
        } => Command::Plan {
            spec,
            root,
            args: PlanArgs {
                json,
                compact,
                detailed_exitcode,
                out_file,
                libvirt: LibvirtArgs {
                    connect,
                    prune,
                    prune_nvram,
                    adopt: adopt.into_iter().collect(),
                },
            },
        },
        CommandArgs::Apply {
            target,
            root,
            yes,
            force,
            connect,
            prune,
            prune_nvram,
            adopt,
        } => Command::Apply {
            target,
            root,
            args: ApplyArgs {
                yes,
                force,
                libvirt: LibvirtArgs {
                    connect,
                    prune,
                    prune_nvram,
                    adopt: adopt.into_iter().collect(),
                },
            },
        },
        CommandArgs::Rollback {
            root,
            yes,
            dry_run,
            connect,
        } => Command::Rollback {
            root,
            yes,
            dry_run,
            connect,
        },
        CommandArgs::Host { root, json, spec } => Command::Host { root, json, spec },
        CommandArgs::Explain { code } => Command::Explain { code },
        CommandArgs::Handback { vm, root } => Command::Handback { vm, root },
    };
    Ok(Config {
        command,
        color,
        width,
    })
}
