//! `passplan plan SPEC`: what apply would change, in order, with diffs, commands and whether a
//! reboot is needed. `--json`, `-o FILE` (a saved plan for `apply FILE`), `--detailed-exitcode`.

use std::io::Write;
use std::path::Path;

use super::Config;
use super::Outcome;
use crate::apply::journal::{JOURNAL_PATH, Journal};
use crate::apply::lock::Lock;
use crate::hypervisor::Hypervisor;
use crate::plan::{Plan, render};
use crate::system::state::State;
use crate::system::{RealSystem, System, is_live_root};

/// Options of `plan`.
#[derive(Debug, Clone, Default)]
pub struct PlanArgs {
    /// Print JSON.
    pub json: bool,
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
pub(super) fn compute(
    config: &Config,
    spec: &Path,
    text: String,
    root: &Path,
    libvirt: &LibvirtArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Option<Computed>> {
    let Some((checked, source)) = super::check::checked_text(config, spec, text, root, false, out)?
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
        let part = crate::plan::domains::plan(&desired, &live, &state, removal);
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

pub(super) fn run(
    config: &Config,
    spec: &Path,
    root: &Path,
    args: &PlanArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Outcome> {
    let Some(text) = super::read_spec(spec, err)? else {
        return Ok(Outcome::Failure);
    };
    // Shared with other plans, never with an apply: a plan never reads a half-written tree.
    let lock = match Lock::shared(root) {
        Ok(lock) => lock,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(Outcome::Failure);
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
            return Ok(Outcome::Failure);
        }
        Ok(_) => {}
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(Outcome::Failure);
        }
    }
    let Some((plan, _, checked)) = compute(config, spec, text, root, &args.libvirt, out, err)?
    else {
        return Ok(Outcome::Failure);
    };
    if lock.is_none() && Lock::appeared(root) {
        writeln!(
            err,
            "error: an apply started on {} while this plan read it; plan again when it is done",
            root.display()
        )?;
        return Ok(Outcome::Failure);
    }
    if let Some(file) = &args.out_file {
        let mut bytes = serde_json::to_vec_pretty(&plan).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        // apply trusts a saved plan as much as root (docs/security.md): only its owner may
        // write it, whatever the umask.
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
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Outcome::Changes
    } else {
        Outcome::Success
    })
}
