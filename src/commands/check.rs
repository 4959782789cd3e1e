//! `passplan check SPEC [--root DIR]`: decode the spec, read the host, run every rule, and
//! print every finding in one report. Exit 1 on errors; warnings and notices do not fail.

use std::io::Write;
use std::path::Path;

use super::Config;
use super::Outcome;
use crate::check::Checked;
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
    let (spec, mut diags) = crate::spec::parse(&text);
    let mut result = None;
    if let Some(spec) = spec {
        match crate::host::discover(root) {
            Ok(host) => {
                let (checked, found) = crate::check::check(spec, host);
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
