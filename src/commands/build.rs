//! `passplan build SPEC [--root DIR] --out OUT`: write every artifact under OUT as it would land
//! on the host, so it can be read, committed or diffed. Nothing on the host is touched.

use std::io::Write;
use std::path::Path;

use super::Config;
use super::Outcome;

pub(super) fn run(
    config: &Config,
    spec_path: &Path,
    root: &Path,
    out_dir: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Outcome> {
    let Some((checked, source)) = super::check::checked(config, spec_path, root, false, out, err)?
    else {
        return Ok(Outcome::Failure);
    };
    let desired = match crate::compile::compile(&checked, &source) {
        Ok(desired) => desired,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(Outcome::Failure);
        }
    };
    if let Err(e) = write_tree(out_dir, &desired) {
        writeln!(err, "error: cannot write under {}: {e}", out_dir.display())?;
        return Ok(Outcome::Failure);
    }
    writeln!(
        out,
        "Wrote {} files under {}:",
        desired.artifacts.len(),
        out_dir.display()
    )?;
    for a in &desired.artifacts {
        let kind = match a.ownership {
            crate::desired::Ownership::Owned => "owned ",
            crate::desired::Ownership::Edited => "edited",
        };
        writeln!(out, "  {kind} {:o} {}  — {}", a.mode, a.path, a.reason)?;
    }
    if !desired.kernel_tokens.is_empty() {
        let tokens: Vec<String> = desired
            .kernel_tokens
            .iter()
            .map(|t| {
                t.value
                    .as_ref()
                    .map_or_else(|| t.key.clone(), |v| format!("{}={v}", t.key))
            })
            .collect();
        writeln!(out, "Kernel command line tokens: {}", tokens.join(" "))?;
    }
    if !desired.steps.is_empty() {
        writeln!(out, "Commands apply would run:")?;
        for s in &desired.steps {
            writeln!(out, "  {}  — {}", s.argv.join(" "), s.reason)?;
        }
    }
    for note in &desired.notes {
        writeln!(out, "note: {note}")?;
    }
    Ok(Outcome::Success)
}

/// Write each artifact at `out_dir` + its host path, with its mode.
fn write_tree(out_dir: &Path, desired: &crate::desired::Desired) -> std::io::Result<()> {
    for a in &desired.artifacts {
        // Paths are validated absolute and `..`-free by the compiler, so joining cannot escape.
        let target = out_dir.join(a.path.trim_start_matches('/'));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, &a.content)?;
        set_mode(&target, a.mode)?;
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> std::io::Result<()> {
    Ok(())
}
