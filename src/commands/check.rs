//! `passplan check SPEC [--root DIR]`: decode the spec, read the host, run every rule, and
//! print every finding in one report. Exit 1 on errors; warnings and notices do not fail.

use std::io::Write;
use std::path::Path;

use super::Config;
use super::Outcome;
use crate::check::{Checked, ScriptWriters};
use crate::desired::SpecSource;
use crate::diag::json::Finding;
use crate::diag::{Diagnostic, Diagnostics, Report, render_report};

/// Version of `check --json`'s document.
const FORMAT_VERSION: u32 = 1;

/// `check --json`: the findings, and why checking could not run, if it could not.
#[derive(serde::Serialize)]
struct CheckJson<'a> {
    format_version: u32,
    spec: &'a str,
    /// Whether the spec can be applied to this host (no error finding, no error).
    ok: bool,
    diagnostics: Vec<Finding>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
}

pub(super) fn run(
    config: &Config,
    spec_path: &Path,
    root: &Path,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Outcome> {
    if !json {
        return Ok(match checked(config, spec_path, root, true, out, err)? {
            Some(_) => Outcome::Success,
            None => Outcome::Failure,
        });
    }
    // stdout carries exactly one JSON document; people's text goes to stderr.
    let mut findings = Vec::new();
    let mut tee = super::Tee::new(err);
    let mut human = Vec::new();
    let result = checked_into(
        config,
        spec_path,
        root,
        true,
        &mut human,
        &mut tee,
        Some(&mut findings),
    )?;
    tee.write_all(&human)?;
    let errors = tee.errors();
    let ok = result.is_some() && errors.is_empty();
    super::write_json(
        out,
        &CheckJson {
            format_version: FORMAT_VERSION,
            spec: &spec_path.display().to_string(),
            ok,
            diagnostics: findings,
            errors,
        },
    )?;
    Ok(if ok {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

/// The pipeline up to `Checked`, shared by every command that needs a checked spec. Prints the
/// report (always when `verbose`, else only when there is something to say) and returns the
/// checked spec with its source when there were no errors.
pub(super) fn checked(
    config: &Config,
    spec_path: &Path,
    root: &Path,
    verbose: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Option<(Checked, SpecSource)>> {
    checked_into(config, spec_path, root, verbose, out, err, None)
}

/// [`checked`], also handing the findings to `findings` (for `--json`).
pub(super) fn checked_into(
    config: &Config,
    spec_path: &Path,
    root: &Path,
    verbose: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
    findings: Option<&mut Vec<Finding>>,
) -> std::io::Result<Option<(Checked, SpecSource)>> {
    let Some(text) = super::read_spec(spec_path, err)? else {
        return Ok(None);
    };
    checked_text(config, spec_path, text, root, verbose, out, findings)
}

/// [`checked`] for a spec already read (`apply` reads its target before taking the lock).
pub(super) fn checked_text(
    config: &Config,
    spec_path: &Path,
    text: String,
    root: &Path,
    verbose: bool,
    out: &mut dyn Write,
    findings: Option<&mut Vec<Finding>>,
) -> std::io::Result<Option<(Checked, SpecSource)>> {
    let (spec, mut diags) = crate::spec::parse(&text);
    let mut result = None;
    if let Some(spec) = spec {
        match crate::host::discover(root) {
            Ok(host) => {
                let scripts = script_writers(&spec, spec_path, root);
                let (checked, found) = crate::check::check_with(spec, host, scripts);
                diags.extend(found);
                result = checked;
            }
            Err(e) => diags.push(
                Diagnostic::error(crate::diag::codes::HOST_UNREADABLE, e.to_string())
                    .help("pass --root with a directory holding the host's /sys, /proc and /etc, or run on the host itself"),
            ),
        }
    }
    if verbose || !diags.is_empty() {
        write_report(config, spec_path, &text, &diags, out)?;
    }
    if let Some(findings) = findings {
        findings.extend(crate::diag::json::findings(
            &spec_path.display().to_string(),
            &text,
            &diags,
        ));
    }
    // The spec's directory, made absolute against the working directory (without resolving
    // links, as a shell would name it), so that relative paths in the spec mean the same
    // thing from anywhere.
    let dir = std::path::absolute(spec_path)
        .ok()
        .and_then(|p| p.parent().and_then(|d| d.to_str()).map(str::to_owned));
    let source = SpecSource {
        name: spec_path.display().to_string(),
        text,
        dir,
    };
    Ok(result.map(|c| (c, source)))
}

/// Print a report, or a one-line clean bill.
pub(super) fn write_report(
    config: &Config,
    spec_path: &Path,
    text: &str,
    diags: &Diagnostics,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let name = spec_path.display().to_string();
    if diags.is_empty() {
        writeln!(out, "{name}: no problems found")?;
        return Ok(());
    }
    let report = Report::new(&name, text, diags.sorted());
    out.write_all(render_report(&report, config.width, config.color).as_bytes())
}

/// Who besides root can change each of the spec's hook scripts, as found under the root (for
/// `hook/script-writable`). A relative script is looked for beside the spec, as the hook tree
/// runs it; one that does not resolve to an absolute path, or does not exist, is left out.
fn script_writers(spec: &crate::spec::Spec, spec_path: &Path, root: &Path) -> ScriptWriters {
    let mut out = ScriptWriters::new();
    for hook in spec.vms.iter().flat_map(|vm| &vm.hooks) {
        let written = Path::new(&hook.script.value);
        let host_path = if written.is_absolute() {
            written.to_path_buf()
        } else {
            spec_path.parent().unwrap_or(Path::new("")).join(written)
        };
        let Ok(below_root) = host_path.strip_prefix("/") else {
            continue;
        };
        if let Some(who) = writer(root, below_root) {
            out.insert(hook.script.value.clone(), who);
        }
    }
    out
}

/// Who besides root can change `root`/`rel`, or rename it through a directory above it.
fn writer(root: &Path, rel: &Path) -> Option<String> {
    // Follows links: what matters is the file the hook executes.
    let meta = std::fs::metadata(root.join(rel)).ok()?;
    if let Some(why) = others_can_write(&meta, false) {
        return Some(format!("/{} is {why}", rel.display()));
    }
    let mut dir = rel.parent();
    while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(meta) = std::fs::metadata(root.join(d))
            && let Some(why) = others_can_write(&meta, true)
        {
            return Some(format!("its directory /{} is {why}", d.display()));
        }
        dir = d.parent();
    }
    None
}

/// Why a user other than root can write a file or directory: owned by another user, or
/// writable by a group (other than root's) or by everyone. A sticky directory (`/tmp`) lets
/// nobody replace what they do not own.
fn others_can_write(meta: &std::fs::Metadata, is_dir: bool) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let mode = meta.mode() & 0o7777;
    let sticky = is_dir && mode & 0o1000 != 0;
    if meta.uid() != 0 {
        Some(format!("owned by uid {}", meta.uid()))
    } else if mode & 0o002 != 0 && !sticky {
        Some(format!("writable by everyone (mode {mode:04o})"))
    } else if mode & 0o020 != 0 && meta.gid() != 0 && !sticky {
        Some(format!(
            "writable by group {} (mode {mode:04o})",
            meta.gid()
        ))
    } else {
        None
    }
}
