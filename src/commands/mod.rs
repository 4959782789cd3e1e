//! One file per subcommand, each a short orchestration of the stages. Output goes to the
//! writers given; nothing below this module prints.

mod apply;
mod build;
mod check;
mod config;
mod explain;
mod handback;
mod host;
mod plan;

pub use apply::ApplyArgs;
pub use config::{Command, Config};
pub use plan::{LibvirtArgs, PlanArgs};

use std::io::Write;
use std::path::Path;

/// How a command ended, mapped to the process exit code by `run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: the command ran and found errors (or could not run).
    Failure,
    /// Exit 2: `plan --detailed-exitcode` found changes.
    Changes,
}

/// Run the configured command, writing its output to `out` and problems to `err`.
pub fn execute(
    config: &Config,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Outcome> {
    match &config.command {
        Command::Check { spec, root, json } => check::run(config, spec, root, *json, out, err),
        Command::Build {
            spec,
            root,
            out: out_dir,
        } => build::run(config, spec, root, out_dir, out, err),
        Command::Plan { spec, root, args } => plan::run(config, spec, root, args, out, err),
        Command::Apply { target, root, args } => apply::run(config, target, root, args, out, err),
        Command::Rollback { root, yes } => apply::rollback(root, *yes, out, err),
        Command::Host { root, json, spec } => {
            host::run(config, root, *json, spec.as_deref(), out, err)
        }
        Command::Explain { code } => explain::run(code.as_deref(), out, err),
        Command::Handback { vm, root } => handback::run(vm, root, out, err),
    }
}

/// A writer that passes everything to `inner` and keeps a copy: in `--json` modes the human
/// messages still reach stderr, and the `error: …` lines among them become the document's
/// `errors`.
struct Tee<'a> {
    inner: &'a mut dyn Write,
    copy: Vec<u8>,
}

impl<'a> Tee<'a> {
    fn new(inner: &'a mut dyn Write) -> Self {
        Self {
            inner,
            copy: Vec::new(),
        }
    }

    /// The `error: ` lines written so far, without the prefix.
    fn errors(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.copy)
            .lines()
            .filter_map(|l| l.strip_prefix("error: "))
            .map(str::to_owned)
            .collect()
    }
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.copy.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Write one JSON document and a newline.
fn write_json(out: &mut dyn Write, doc: &impl serde::Serialize) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, doc).map_err(std::io::Error::other)?;
    writeln!(out)
}

/// The largest spec passplan reads; a host spec is a few kilobytes.
const MAX_SPEC_BYTES: u64 = 1 << 20;

/// Read a spec file, reporting why it cannot be read in words that name the fix.
fn read_spec(path: &Path, err: &mut dyn Write) -> std::io::Result<Option<String>> {
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            writeln!(
                err,
                "error: the spec `{shown}` does not exist; check the path"
            )?;
            return Ok(None);
        }
        Err(e) => {
            writeln!(err, "error: cannot read the spec `{shown}`: {e}")?;
            return Ok(None);
        }
    };
    if !meta.is_file() {
        writeln!(
            err,
            "error: the spec `{shown}` is not a regular file; give the path of a .kdl file"
        )?;
        return Ok(None);
    }
    if meta.len() > MAX_SPEC_BYTES {
        writeln!(
            err,
            "error: the spec `{shown}` is {} bytes; a spec larger than 1 MiB is refused",
            meta.len()
        )?;
        return Ok(None);
    }
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Ok(Some(text)),
            Err(e) => {
                writeln!(
                    err,
                    "error: the spec `{shown}` is not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
                    e.utf8_error().valid_up_to()
                )?;
                Ok(None)
            }
        },
        Err(e) => {
            writeln!(err, "error: cannot read the spec `{shown}`: {e}")?;
            Ok(None)
        }
    }
}
