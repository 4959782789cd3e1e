//! `passplan apply SPEC|PLAN` and `passplan rollback`: converge the machine, or undo the last
//! apply. Shows the plan and asks first (unless `--yes`), holds the lock, and works offline
//! (files only, commands recorded) when the root is not the running machine.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use super::Config;
use super::Outcome;
use crate::apply::lock::Lock;
use crate::apply::{self, Options};
use crate::hypervisor::Hypervisor;
use crate::plan::{Plan, render};
use crate::system::{Offline, RealSystem, System, is_live_root};

/// Options of `apply`.
#[derive(Debug, Clone, Default)]
pub struct ApplyArgs {
    /// Do not ask.
    pub yes: bool,
    /// Overwrite hand-edited managed files.
    pub force: bool,
    /// The libvirt connection and what to do with removed domains.
    pub libvirt: super::LibvirtArgs,
}

/// Whether the process runs as root (uid 0), read from procfs (no libc needed).
pub(super) fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn load_plan(path: &Path, bytes: &[u8], err: &mut dyn Write) -> std::io::Result<Option<Plan>> {
    match serde_json::from_slice::<Plan>(bytes) {
        Ok(plan) if plan.format_version == crate::plan::FORMAT_VERSION => Ok(Some(plan)),
        Ok(plan) => {
            writeln!(
                err,
                "error: {} is a plan of format {}, this passplan reads {}",
                path.display(),
                plan.format_version,
                crate::plan::FORMAT_VERSION
            )?;
            Ok(None)
        }
        Err(e) => {
            writeln!(
                err,
                "error: {} is not a saved plan ({e}); give a plan saved by `passplan plan -o FILE`, or a .kdl spec",
                path.display()
            )?;
            Ok(None)
        }
    }
}

/// Whether a file's bytes are a saved plan (JSON) rather than a spec (KDL).
fn is_saved_plan(bytes: &[u8]) -> bool {
    bytes.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'{')
}

/// What `apply` was given, read before the lock is taken.
enum Target {
    Plan(Box<Plan>),
    Spec(String),
}

fn preflight(root: &Path, err: &mut dyn Write) -> std::io::Result<bool> {
    if is_live_root(root) && !is_root() {
        writeln!(
            err,
            "error: applying to this machine needs root: run `sudo passplan apply …` (or --root DIR for a directory)"
        )?;
        return Ok(false);
    }
    Ok(true)
}

fn confirm(
    (question, verb): (&str, &str),
    yes: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        writeln!(
            err,
            "error: not asking for confirmation without a terminal; pass --yes to {verb} non-interactively"
        )?;
        return Ok(false);
    }
    write!(out, "\n{question} Only 'yes' will be accepted: ")?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

pub(super) fn run(
    config: &Config,
    target: &Path,
    root: &Path,
    args: &ApplyArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Outcome> {
    if !preflight(root, err)? {
        return Ok(Outcome::Failure);
    }
    // Refuse before planning, not after printing a long plan nobody can answer for.
    if !args.yes && !std::io::stdin().is_terminal() {
        writeln!(
            err,
            "error: apply asks for confirmation and there is no terminal to ask on; pass --yes to apply non-interactively, or run `passplan plan` to see the changes"
        )?;
        return Ok(Outcome::Failure);
    }
    // Read the target before taking the lock, bounded and only if it is a regular file: a spec
    // linked to /dev/zero or a FIFO must not eat memory or hang while the lock is held.
    let Some(bytes) = super::read_bounded(target, super::MAX_PLAN_BYTES, "the spec or plan", err)?
    else {
        return Ok(Outcome::Failure);
    };
    let target_read = if is_saved_plan(&bytes) {
        match load_plan(target, &bytes, err)? {
            Some(plan) => Target::Plan(Box::new(plan)),
            None => return Ok(Outcome::Failure),
        }
    } else {
        match super::spec_text(target, bytes, err)? {
            Some(text) => Target::Spec(text),
            None => return Ok(Outcome::Failure),
        }
    };
    let _lock = match Lock::acquire(root) {
        Ok(lock) => {
            if let Some(pid) = lock.took_over {
                writeln!(
                    err,
                    "warning: took over the lock of an apply (pid {pid}) that is no longer running; an interrupted apply is rolled back first"
                )?;
            }
            lock
        }
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(Outcome::Failure);
        }
    };
    // Undo an interrupted (killed) apply *before* planning: a plan made against its half-written
    // files would be refused as stale once `apply::apply` rolled them back, or worse, be made
    // from files that are about to change. Recovery only restores files, never runs commands.
    match apply::recover(&mut RealSystem::new(root) as &mut dyn System) {
        Ok(true) => writeln!(out, "recovered: rolled back an interrupted apply")?,
        Ok(false) => {}
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(Outcome::Failure);
        }
    }
    let (plan, mut hv) = match target_read {
        Target::Plan(plan) => {
            let plan = *plan;
            if plan.root != super::plan::canonical_root(root) {
                writeln!(
                    err,
                    "error: the plan was made for the root {}, not {}; pass --root {}",
                    plan.root,
                    root.display(),
                    plan.root
                )?;
                return Ok(Outcome::Failure);
            }
            // The files a plan read are compared at apply; the host facts its checks used are
            // compared here (a GPU moved, a group changed, another kernel booted).
            let changed = match crate::host::discover(root) {
                Ok(host) => {
                    crate::plan::host_changes(&plan.host, &crate::plan::host_fingerprint(&host))
                }
                Err(e) => {
                    writeln!(err, "error: {e}")?;
                    return Ok(Outcome::Failure);
                }
            };
            if !changed.is_empty() {
                writeln!(
                    err,
                    "error: the plan is stale: the host's {} changed since the plan was made; run `passplan plan` again",
                    changed.join(", ")
                )?;
                return Ok(Outcome::Failure);
            }
            // A saved plan's domain changes go to the connection it was made for.
            let uri = args
                .libvirt
                .connect
                .clone()
                .or_else(|| plan.libvirt.as_ref().map(|l| l.uri.clone()));
            match uri.as_deref().map(crate::hypervisor::connect).transpose() {
                Ok(hv) => (plan, hv),
                Err(e) => {
                    writeln!(err, "error: {e}")?;
                    return Ok(Outcome::Failure);
                }
            }
        }
        Target::Spec(text) => {
            let Some((plan, hv, _)) =
                super::plan::compute(config, target, text, root, &args.libvirt, out, err, None)?
            else {
                return Ok(Outcome::Failure);
            };
            (plan, hv)
        }
    };
    render::human(&plan, out, config.color)?;
    if !plan.has_changes() {
        return Ok(Outcome::Success);
    }
    if !confirm(("Apply these changes?", "apply"), args.yes, out, err)? {
        writeln!(out, "Apply cancelled.")?;
        return Ok(Outcome::Failure);
    }
    writeln!(out)?;
    let real = RealSystem::new(root);
    let result = if is_live_root(root) {
        let mut sys = real;
        apply::apply_with(
            &mut sys as &mut dyn System,
            hv.as_mut().map(|h| &mut **h as &mut dyn Hypervisor),
            &plan,
            Options { force: args.force },
            out,
        )
    } else {
        let mut sys = Offline::new(real);
        apply::apply_with(
            &mut sys as &mut dyn System,
            hv.as_mut().map(|h| &mut **h as &mut dyn Hypervisor),
            &plan,
            Options { force: args.force },
            out,
        )
    };
    match result {
        Ok(report) => {
            let plural = |n: usize| if n == 1 { "" } else { "s" };
            write!(
                out,
                "\nApply complete: {} file{} changed, {} command{} run",
                report.files,
                plural(report.files),
                report.commands,
                plural(report.commands)
            )?;
            if report.domains > 0 {
                write!(
                    out,
                    ", {} domain{} defined or undefined",
                    report.domains,
                    plural(report.domains)
                )?;
            }
            if report.skipped > 0 {
                write!(
                    out,
                    ", {} not run because {} is not this machine (run them there after copying the files)",
                    report.skipped,
                    root.display()
                )?;
            }
            writeln!(out, ".")?;
            if plan.reboot_required {
                writeln!(
                    out,
                    "Reboot to use the new kernel command line and initramfs."
                )?;
            }
            Ok(Outcome::Success)
        }
        Err(e) => {
            writeln!(err, "error: {e}")?;
            Ok(Outcome::Failure)
        }
    }
}

pub(super) fn rollback(
    root: &Path,
    (yes, dry_run, connect): (bool, bool, Option<&str>),
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Outcome> {
    if !dry_run && !preflight(root, err)? {
        return Ok(Outcome::Failure);
    }
    let _lock = match if dry_run {
        Lock::shared(root)
    } else {
        Lock::acquire(root).map(Some)
    } {
        Ok(lock) => lock,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(Outcome::Failure);
        }
    };
    let mut sys = RealSystem::new(root);
    // What it will restore, before asking.
    let preview = match apply::rollback_preview(&sys) {
        Ok(Some(preview)) => preview,
        Ok(None) => {
            writeln!(
                out,
                "Nothing to roll back: no apply is recorded, or the last one was rolled back already."
            )?;
            return Ok(Outcome::Success);
        }
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(Outcome::Failure);
        }
    };
    writeln!(out, "Rollback of apply {} restores:", preview.apply)?;
    for item in preview.domains.iter().chain(&preview.files) {
        writeln!(out, "  {item}")?;
    }
    if preview.domains.is_empty() && preview.files.is_empty() {
        writeln!(out, "  the ownership state only")?;
    }
    if dry_run {
        return Ok(Outcome::Success);
    }
    if !confirm(
        (&format!("Roll back apply {}?", preview.apply), "roll back"),
        yes,
        out,
        err,
    )? {
        writeln!(out, "Rollback cancelled.")?;
        return Ok(Outcome::Failure);
    }
    // The domains go back through the connection the apply used (or --connect).
    let uri = connect.map(str::to_owned).or(preview.uri);
    let mut hv = if preview.domains.is_empty() {
        None
    } else {
        match uri.as_deref().map(crate::hypervisor::connect).transpose() {
            Ok(hv) => hv,
            Err(e) => {
                writeln!(err, "error: {e}")?;
                return Ok(Outcome::Failure);
            }
        }
    };
    match apply::rollback_with(
        &mut sys as &mut dyn System,
        hv.as_mut().map(|h| &mut **h as &mut dyn Hypervisor),
        out,
    ) {
        Ok(n) => {
            if n > 0 {
                writeln!(
                    out,
                    "Rolled back {n} change{}. Commands (initramfs, boot loader) were not re-run: run `passplan plan` to see what is needed.",
                    if n == 1 { "" } else { "s" }
                )?;
            }
            Ok(Outcome::Success)
        }
        Err(e) => {
            writeln!(err, "error: {e}")?;
            Ok(Outcome::Failure)
        }
    }
}
