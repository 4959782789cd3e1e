//! `passplan host [--root DIR] [--json] [--spec SPEC]`: what the host looks like — IOMMU groups
//! with their devices, each GPU's isolation verdict, the CPU map, memory and boot setup; with a
//! spec, also where its VMs run (guest, host, emulator and I/O-thread CPUs) and why. The views
//! are `host::render` and `pinning::render`; this only orchestrates.

use std::io::Write;
use std::path::Path;

use super::{Config, Outcome};
use crate::host::render;
use crate::pinning::render::write_placements;

pub(super) fn run(
    config: &Config,
    root: &Path,
    json: bool,
    spec_path: Option<&Path>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Outcome> {
    let host = match crate::host::discover(root) {
        Ok(host) => host,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            writeln!(
                err,
                "  help: pass --root with a directory holding the host's /sys, /proc and /etc, or run on the host itself"
            )?;
            return Ok(Outcome::Failure);
        }
    };
    if json {
        render::json(&host, out)?;
    } else {
        render::human(&host, out)?;
    }
    let Some(spec_path) = spec_path else {
        return Ok(Outcome::Success);
    };
    let Some(text) = super::read_spec(spec_path, err)? else {
        return Ok(Outcome::Failure);
    };
    let (spec, diags) = crate::spec::parse(&text);
    let Some(spec) = spec else {
        super::check::write_report(config, spec_path, &text, &diags, out)?;
        return Ok(Outcome::Failure);
    };
    let placements = crate::check::placements(&spec, &host);
    writeln!(out)?;
    write_placements(&host, &spec_path.display().to_string(), &placements, out)?;
    // A VM that cannot be placed is the same failure `check` reports.
    Ok(if placements.values().any(Result::is_err) {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}
