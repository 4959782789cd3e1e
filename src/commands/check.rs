//! `passplan check SPEC [--root DIR]`: decode the spec, read the host, run every rule, and
//! print every finding in one report. Exit 1 on errors; warnings and notices do not fail.

use std::io::Write;
use std::path::Path;

use super::Config;
use super::Outcome;
use crate::check::Checked;
use crate::desired::SpecSource;
use crate::diag::{Diagnostic, Diagnostics, Report, render_report};

pub(super) fn run(
    config: &Config,
    spec_path: &Path,
    root: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Outcome> {
    Ok(match checked(config, spec_path, root, true, out, err)? {
        Some(_) => Outcome::Success,
        None => Outcome::Failure,
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
    let Some(text) = super::read_spec(spec_path, err)? else {
        return Ok(None);
    };
    checked_text(config, spec_path, text, root, verbose, out)
}

/// [`checked`] for a spec already read (`apply` reads its target before taking the lock).
pub(super) fn checked_text(
    config: &Config,
    spec_path: &Path,
    text: String,
    root: &Path,
    verbose: bool,
    out: &mut dyn Write,
) -> std::io::Result<Option<(Checked, SpecSource)>> {
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
    let source = SpecSource {
        name: spec_path.display().to_string(),
        text,
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
