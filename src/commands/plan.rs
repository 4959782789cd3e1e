//! `passplan plan SPEC`: what apply would change, in order, with diffs, commands and whether a
//! reboot is needed. `--json`, `-o FILE` (a saved plan for `apply FILE`), `--detailed-exitcode`.

use std::io::Write;
use std::path::Path;

use super::Outcome;
use crate::apply::state::State;
use crate::apply::system::{RealSystem, System};
use crate::cli::Config;
use crate::plan::{Plan, render};

/// Options of `plan`.
#[derive(Debug, Clone, Default)]
pub struct PlanArgs {
    /// Print JSON.
    pub json: bool,
    /// Exit 2 when there are changes.
    pub detailed_exitcode: bool,
    /// Save the plan here.
    pub out_file: Option<std::path::PathBuf>,
}

/// Compute a plan from a spec against a root: the shared front half of `plan` and `apply`.
pub(super) fn compute(
    config: &Config,
    spec: &Path,
    root: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Option<Plan>> {
    Ok(compute_checked(config, spec, root, out, err)?.map(|(plan, _)| plan))
}

/// [`compute`], also returning the checked spec (for the CPU map).
fn compute_checked(
    config: &Config,
    spec: &Path,
    root: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Option<(Plan, crate::check::Checked)>> {
    let Some((checked, source)) = super::check::checked(config, spec, root, false, out, err)?
    else {
        return Ok(None);
    };
    let desired = match crate::compile::compile(&checked, &source) {
        Ok(mut d) if crate::apply::system::is_live_root(root) => {
            // On the running machine libvirt owns /etc/libvirt/qemu: domains are defined through
            // its API, never by writing its files behind its back.
            let before = d.artifacts.len();
            d.artifacts
                .retain(|a| !a.path.starts_with("/etc/libvirt/qemu/"));
            if d.artifacts.len() != before {
                d.notes.push("domains are defined through the libvirt API on the running machine; that part is not implemented yet, so `passplan build` shows their XML".to_owned());
            }
            d
        }
        Ok(d) => d,
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
    let observed = match crate::plan::observe(&sys as &dyn System, &desired, state) {
        Ok(o) => o,
        Err(e) => {
            writeln!(err, "error: cannot read the current files: {e}")?;
            return Ok(None);
        }
    };
    let plan = crate::plan::plan(&desired, &observed, &checked.host);
    Ok(Some((plan, checked)))
}

pub(super) fn run(
    config: &Config,
    spec: &Path,
    root: &Path,
    args: &PlanArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Outcome> {
    let Some((plan, checked)) = compute_checked(config, spec, root, out, err)? else {
        return Ok(Outcome::Failure);
    };
    if let Some(file) = &args.out_file {
        let mut bytes = serde_json::to_vec_pretty(&plan).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        if let Err(e) = std::fs::write(file, bytes) {
            writeln!(
                err,
                "error: cannot save the plan to {}: {e}",
                file.display()
            )?;
            return Ok(Outcome::Failure);
        }
    }
    if args.json {
        render::json(&plan, out)?;
    } else {
        render::human(&plan, out, config.color)?;
        // Where automatic pinning put each VM, and why (explicit pins are in the spec already).
        let auto = checked.spec.vms.iter().any(|vm| {
            matches!(
                vm.cpu.pin.as_ref().map(|p| &p.value),
                Some(crate::spec::Pin::Auto { .. })
            )
        });
        if auto {
            writeln!(out)?;
            super::host::write_placements(
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
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Outcome::Changes
    } else {
        Outcome::Success
    })
}
