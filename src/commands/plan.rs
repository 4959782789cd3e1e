//! `passplan plan SPEC`: what apply would change, in order, with diffs, commands and whether a
//! reboot is needed. `--json`, `-o FILE` (a saved plan for `apply FILE`), `--detailed-exitcode`.

use std::io::Write;
use std::path::Path;

use super::Config;
use super::Outcome;
use crate::apply::journal::{JOURNAL_PATH, Journal};
use crate::apply::lock::Lock;
use crate::diag::json::Finding;
use crate::hypervisor::Hypervisor;
use crate::plan::{Plan, render};
use crate::system::state::State;
use crate::system::{RealSystem, System, is_live_root};

/// Options of `plan`.
#[derive(Debug, Clone, Default)]
pub struct PlanArgs {
    /// Print JSON.
    pub json: bool,
    /// One line per change, without reasons or diffs.
    pub compact: bool,
    /// Exit 2 when there are changes.
    pub detailed_exitcode: bool,
    /// Save the plan here.
    pub out_file: Option<std::path::PathBuf>,
    /// The libvirt connection and what to do with removed domains.
    pub libvirt: LibvirtArgs,
}

/// How plan and apply reach libvirt.
#[derive(Debug, Clone, Default)]
pub struct LibvirtArgs {
    /// `--connect URI`.
    pub connect: Option<String>,
    /// `--prune`: undefine domains passplan defined that left the spec.
    pub prune: bool,
    /// `--prune-nvram`: and delete their NVRAM.
    pub prune_nvram: bool,
    /// `--adopt NAME` (repeatable): take over these domains although passplan did not define
    /// them.
    pub adopt: std::collections::BTreeSet<String>,
}

/// The libvirt URI to use: `--connect`, else (on the running machine only) the spec's
/// `libvirt uri=`, else `qemu:///system` there. An offline root has no connection unless asked:
/// its domains are files under `<root>/etc/libvirt/qemu/`.
fn connection_uri(args: &LibvirtArgs, spec_uri: Option<&str>, root: &Path) -> Option<String> {
    args.connect
        .clone()
        .or_else(|| is_live_root(root).then(|| spec_uri.unwrap_or("qemu:///system").to_owned()))
}

/// A computed plan and the connection its domain changes go through.
/// A plan, the hypervisor it was computed against (to apply domain changes), and the checked
/// spec (for the CPU map).
pub(super) type Computed = (Plan, Option<Box<dyn Hypervisor>>, crate::check::Checked);

/// Compute a plan from a spec against a root: the shared front half of `plan` and `apply`.
/// `text` is the spec, already read. The caller holds the lock (shared for `plan`).
#[allow(
    clippy::too_many_arguments,
    reason = "the shared front half of plan and apply takes what each of them has read and where its output goes"
)]
pub(super) fn compute(
    config: &Config,
    spec: &Path,
    text: String,
    root: &Path,
    libvirt: &LibvirtArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    findings: Option<&mut Vec<Finding>>,
) -> std::io::Result<Option<Computed>> {
    let Some((checked, source)) =
        super::check::checked_text(config, spec, text, root, false, out, findings)?
    else {
        return Ok(None);
    };
    let uri = connection_uri(
        libvirt,
        checked
            .spec
            .host
            .libvirt_uri
            .as_ref()
            .map(|u| u.value.as_str()),
        root,
    );
    let hv = match uri.as_deref().map(crate::hypervisor::connect).transpose() {
        Ok(hv) => hv,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(None);
        }
    };
    let sys = RealSystem::new(root);
    let state = match State::load(&sys) {
        Ok(s) => s,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(None);
        }
    };
    // Kernel parameters passplan wrote before: the editors remove those the spec dropped.
    let owned_tokens: Vec<String> = state.kernel_tokens.iter().cloned().collect();
    let desired = match crate::compile::compile_with(&checked, &source, &owned_tokens) {
        Ok(mut d) if hv.is_some() => {
            // With a connection libvirt owns its definitions: domains go through its API, never
            // by writing /etc/libvirt/qemu behind its back.
            d.artifacts
                .retain(|a| !a.path.starts_with("/etc/libvirt/qemu/"));
            d
        }
        Ok(d) => d,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(None);
        }
    };
    let observed = match crate::plan::observe(&sys as &dyn System, &desired, state) {
        Ok(o) => o,
        Err(e) => {
            writeln!(err, "error: cannot read the current files: {e}")?;
            return Ok(None);
        }
    };
    let state = observed.state.clone();
    let mut plan = crate::plan::plan(&desired, &observed, &checked.host);
    // `--root root` and `--root $PWD/root` are the same root: a saved plan names it once.
    plan.root = canonical_root(root);
    // systemd creates this directory when it is the init; without it systemctl cannot work.
    if is_live_root(root) && !Path::new("/run/systemd/system").is_dir() {
        plan.reload_without_systemd();
    }
    if let Some(hv) = &hv {
        let live = match crate::plan::domains::observe(hv.as_ref(), &desired, &state) {
            Ok(l) => l,
            Err(e) => {
                writeln!(err, "error: {e}")?;
                return Ok(None);
            }
        };
        let removal = crate::plan::domains::Removal {
            prune: libvirt.prune,
            delete_nvram: libvirt.prune_nvram,
        };
        let part = crate::plan::domains::plan(&desired, &live, &state, removal, &libvirt.adopt);
        if !part.refusals.is_empty() {
            for why in &part.refusals {
                writeln!(err, "error: {why}")?;
            }
            return Ok(None);
        }
        plan.add_domains(part);
    }
    Ok(Some((plan, hv, checked)))
}

/// `plan --json`: the plan with what `check` found.
#[derive(serde::Serialize)]
struct PlanJson<'a> {
    #[serde(flatten)]
    plan: &'a Plan,
    diagnostics: &'a [Finding],
}

/// `plan --json` when no plan could be made: why, still as one JSON document.
#[derive(serde::Serialize)]
struct FailureJson<'a> {
    format_version: u32,
    errors: &'a [String],
    diagnostics: &'a [Finding],
}

pub(super) fn run(
    config: &Config,
    spec: &Path,
    root: &Path,
    args: &PlanArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Outcome> {
    if args.json {
        return run_json(config, spec, root, args, out, err);
    }
    let Some((text, lock)) = prelude(spec, root, err)? else {
        return Ok(Outcome::Failure);
    };
    let Some((plan, _, checked)) =
        compute(config, spec, text, root, &args.libvirt, out, err, None)?
    else {
        return Ok(Outcome::Failure);
    };
    if !settled(lock.as_ref(), root, err)? || !save(&plan, args, err)? {
        return Ok(Outcome::Failure);
    }
    if args.compact {
        render::compact(&plan, out, config.color)?;
    } else {
        render::human(&plan, out, config.color)?;
    }
    // Where automatic pinning put each VM, and why (explicit pins are in the spec already).
    let auto = checked.spec.vms.iter().any(|vm| {
        matches!(
            vm.cpu.pin.as_ref().map(|p| &p.value),
            Some(crate::spec::Pin::Auto { .. })
        )
    });
    if auto {
        writeln!(out)?;
        crate::pinning::render::write_placements(
            &checked.host,
            &spec.display().to_string(),
            &checked.placements,
            out,
        )?;
    }
    if let Some(file) = &args.out_file {
        writeln!(
            out,
            "\nSaved the plan to {}; apply exactly it with `passplan apply {}`.",
            file.display(),
            file.display()
        )?;
    }

    Ok(if args.detailed_exitcode && plan.has_changes() {
        Outcome::Changes
    } else {
        Outcome::Success
    })
}

/// `plan --json`: exactly one JSON document on stdout, whatever happens; people's text (the
/// check report, error messages) goes to stderr.
fn run_json(
    config: &Config,
    spec: &Path,
    root: &Path,
    args: &PlanArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Outcome> {
    let mut findings = Vec::new();
    let mut tee = super::Tee::new(err);
    let mut human = Vec::new();
    let computed = match prelude(spec, root, &mut tee)? {
        Some((text, lock)) => {
            let computed = compute(
                config,
                spec,
                text,
                root,
                &args.libvirt,
                &mut human,
                &mut tee,
                Some(&mut findings),
            )?;
            tee.write_all(&human)?;
            if settled(lock.as_ref(), root, &mut tee)? {
                computed
            } else {
                None
            }
        }
        None => None,
    };
    let saved = match &computed {
        Some((plan, _, _)) => save(plan, args, &mut tee)?,
        None => false,
    };
    match computed {
        Some((plan, _, _)) if saved => {
            super::write_json(
                out,
                &PlanJson {
                    plan: &plan,
                    diagnostics: &findings,
                },
            )?;
            Ok(if args.detailed_exitcode && plan.has_changes() {
                Outcome::Changes
            } else {
                Outcome::Success
            })
        }
        _ => {
            let mut errors = tee.errors();
            if errors.is_empty() {
                // Only error diagnostics stopped it: say so in words too.
                errors.push("the spec has errors; see diagnostics".to_owned());
            }
            super::write_json(
                out,
                &FailureJson {
                    format_version: crate::plan::FORMAT_VERSION,
                    errors: &errors,
                    diagnostics: &findings,
                },
            )?;
            Ok(Outcome::Failure)
        }
    }
}

/// Save the plan for `apply FILE` when `-o FILE` was given; false (and a message) on failure.
fn save(plan: &Plan, args: &PlanArgs, err: &mut dyn Write) -> std::io::Result<bool> {
    let Some(file) = &args.out_file else {
        return Ok(true);
    };
    let mut bytes = serde_json::to_vec_pretty(plan).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    // apply trusts a saved plan as much as root (docs/security.md): only its owner may write
    // it, whatever the umask.
    let saved = (|| {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(file)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(&bytes)
    })();
    if let Err(e) = saved {
        writeln!(
            err,
            "error: cannot save the plan to {}: {e}",
            file.display()
        )?;
        return Ok(false);
    }
    Ok(true)
}

/// The root as a saved plan records it: absolute, links resolved (as given when it cannot be).
pub(super) fn canonical_root(root: &Path) -> String {
    std::fs::canonicalize(root)
        .unwrap_or_else(|_| root.to_path_buf())
        .display()
        .to_string()
}

/// What every plan does before computing: read the spec, take the lock shared with other plans
/// (never with an apply: a plan never reads a half-written tree), and refuse a tree an
/// interrupted apply left half-written. `None` (with a message) when it cannot plan.
fn prelude(
    spec: &Path,
    root: &Path,
    err: &mut dyn Write,
) -> std::io::Result<Option<(String, Option<Lock>)>> {
    let Some(text) = super::read_spec(spec, err)? else {
        return Ok(None);
    };
    let lock = match Lock::shared(root) {
        Ok(lock) => lock,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(None);
        }
    };
    // An apply that was killed among its files left them half-written: planning from them
    // would show a diff against files about to be rolled back.
    match Journal::load(&RealSystem::new(root)) {
        Ok(Some(journal)) if !journal.files_done && !journal.rolled_back => {
            writeln!(
                err,
                "error: apply {} was interrupted among its files and awaits recovery ({} records what it changed); run `passplan apply` (it rolls the interrupted apply back first, then plans) or `passplan rollback`, then plan again",
                journal.apply, JOURNAL_PATH
            )?;
            Ok(None)
        }
        Ok(_) => Ok(Some((text, lock))),
        Err(e) => {
            writeln!(err, "error: {e}")?;
            Ok(None)
        }
    }
}

/// Whether the tree stayed still while the plan read it: on a root where no apply ran there is
/// no lock to share, so an apply that started meanwhile makes the plan refuse.
fn settled(lock: Option<&Lock>, root: &Path, err: &mut dyn Write) -> std::io::Result<bool> {
    if lock.is_none() && Lock::appeared(root) {
        writeln!(
            err,
            "error: an apply started on {} while this plan read it; plan again when it is done",
            root.display()
        )?;
        return Ok(false);
    }
    Ok(true)
}
