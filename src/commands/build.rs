//! `passplan build SPEC [--root DIR] --out OUT [--force]`: write every artifact under OUT as it
//! would land on the host, so it can be read, committed or diffed. Nothing on the host is
//! touched: OUT is never the root or `/` (or inside the root), never holds files of others
//! unless `--force`, and each build replaces the previous one, so a diff of OUT shows exactly
//! this build.

use std::io::Write;
use std::path::Path;

use super::Config;
use super::Outcome;
use crate::system::{RealSystem, System};

pub(super) fn run(
    config: &Config,
    spec_path: &Path,
    root: &Path,
    (out_dir, force): (&Path, bool),
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Outcome> {
    if let Err(why) = check_out(out_dir, root, force) {
        writeln!(err, "error: {why}")?;
        return Ok(Outcome::Failure);
    }
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
    // The commands these files set off on a host that has none of them yet (a step no file
    // sets off runs only when passplan removes one of its files).
    let fired: Vec<_> = desired
        .steps
        .iter()
        .filter(|s| {
            desired
                .artifacts
                .iter()
                .any(|a| a.triggers.contains(&s.trigger))
        })
        .collect();
    if !fired.is_empty() {
        writeln!(out, "Commands apply would run:")?;
        for s in fired {
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
    // The previous build goes first: a diff of OUT shows this build and nothing older.
    for old in previous_build(out_dir) {
        if let Err(e) = sys.remove(&old) {
            return Err(std::io::Error::new(e.kind(), format!("{old}: {e}")));
        }
        // The removal went through no link (the system checks every component): the
        // directories above it that it left empty go too, up to OUT.
        let mut dir = Path::new(&old).parent();
        while let Some(d) = dir.filter(|d| *d != Path::new("/")) {
            if std::fs::remove_dir(out_dir.join(d.strip_prefix("/").unwrap_or(d))).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
    for a in &desired.artifacts {
        // Paths are validated absolute and `..`-free by the compiler; the system checks again.
        sys.write(&a.path, a.content.as_bytes(), a.mode)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", a.path)))?;
    }
    let mut list = String::from(BUILD_LIST_HEADER);
    for a in &desired.artifacts {
        list.push_str(&a.path);
        list.push('\n');
    }
    sys.write(BUILD_LIST, list.as_bytes(), 0o644)
}

/// The list of files a build wrote, left in OUT so the next build knows the tree is its own.
const BUILD_LIST: &str = "/.passplan-build";
const BUILD_LIST_HEADER: &str =
    "# Files written by `passplan build`; the next build replaces them.\n";

/// Why OUT cannot take a build: it is `/`, the host root or inside it, or it holds files no
/// earlier build wrote (unless `force`).
fn check_out(out_dir: &Path, root: &Path, force: bool) -> Result<(), String> {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let out = canonical(&std::path::absolute(out_dir).unwrap_or_else(|_| out_dir.to_path_buf()));
    let shown = out_dir.display();
    if out == Path::new("/") {
        return Err(format!(
            "refusing to build into `{shown}`: that is the running machine; give a new directory (`passplan apply` changes the host)"
        ));
    }
    let root = canonical(root);
    if out.starts_with(&root) {
        return Err(format!(
            "refusing to build into `{shown}`: it is the host root `{}` or inside it; give a directory outside the root",
            root.display()
        ));
    }
    if force || !out.exists() {
        return Ok(());
    }
    let ours = previous_build(out_dir);
    let mut others = Vec::new();
    walk(out_dir, out_dir, &mut others, &ours);
    if others.is_empty() {
        return Ok(());
    }
    let more = if others.len() > 3 {
        format!(" and {} more", others.len() - 3)
    } else {
        String::new()
    };
    others.truncate(3);
    Err(format!(
        "refusing to build into `{shown}`: it holds files no earlier build wrote ({}{more}); give a new or empty directory, or pass --force to write among them",
        others.join(", ")
    ))
}

/// The host paths an earlier build listed in OUT (none when OUT has no list).
fn previous_build(out_dir: &Path) -> Vec<String> {
    let list = out_dir.join(BUILD_LIST.trim_start_matches('/'));
    // Only a regular file, read bounded: OUT may have been prepared by someone else.
    let Ok(meta) = std::fs::symlink_metadata(&list) else {
        return Vec::new();
    };
    if !meta.is_file() || meta.len() > 1 << 20 {
        return Vec::new();
    }
    std::fs::read_to_string(&list)
        .unwrap_or_default()
        .lines()
        .filter(|l| crate::desired::valid_path(l))
        .map(str::to_owned)
        .chain(std::iter::once(BUILD_LIST.to_owned()))
        .collect()
}

/// Every entry under `dir` that is not a directory listed as an earlier build's file: files of
/// others, links, devices. Links are not followed.
fn walk(base: &Path, dir: &Path, others: &mut Vec<String>, ours: &[String]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let rel = format!("/{}", path.strip_prefix(base).unwrap_or(&path).display());
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => walk(base, &path, others, ours),
            Ok(meta) if meta.is_file() && ours.contains(&rel) => {}
            _ => others.push(rel),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_machine_and_the_root_are_never_an_out_directory() {
        let root = tempfile::tempdir().unwrap();
        let refused = |out: &Path| check_out(out, root.path(), true).unwrap_err();
        assert!(refused(Path::new("/")).contains("running machine"));
        assert!(refused(Path::new("/./etc/..")).contains("running machine"));
        assert!(refused(root.path()).contains("host root"));
        assert!(refused(&root.path().join("etc/out")).contains("inside it"));
        let elsewhere = tempfile::tempdir().unwrap();
        assert_eq!(
            check_out(&elsewhere.path().join("new"), root.path(), false),
            Ok(())
        );
    }
}
