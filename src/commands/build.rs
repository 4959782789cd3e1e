//! `passplan build SPEC [--root DIR] --out OUT`: write every artifact under OUT as it would land
//! on the host, so it can be read, committed or diffed. Nothing on the host is touched.

use std::io::Write;
use std::path::Path;

use super::Config;
use super::Outcome;
use crate::system::{RealSystem, System};

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

/// Write each artifact at `out_dir` + its host path, with its mode, through the same
/// [`RealSystem`] apply uses: every component under OUT is checked with `lstat` (a link planted
/// in OUT is refused, never written through), directories get an explicit mode, and each file
/// is replaced by a rename (a hard link planted there is unlinked, not written into).
fn write_tree(out_dir: &Path, desired: &crate::desired::Desired) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(crate::system::fs::DIR_MODE)
        .create(out_dir)?;
    let mut sys = RealSystem::new(out_dir);
    for a in &desired.artifacts {
        // Paths are validated absolute and `..`-free by the compiler; the system checks again.
        sys.write(&a.path, a.content.as_bytes(), a.mode)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", a.path)))?;
    }
    Ok(())
}
