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
            force,
        } => build::run(config, spec, root, (out_dir, *force), out, err),
        Command::Plan { spec, root, args } => plan::run(config, spec, root, args, out, err),
        Command::Apply { target, root, args } => apply::run(config, target, root, args, out, err),
        Command::Rollback {
            root,
            yes,
            dry_run,
            connect,
        } => apply::rollback(root, (*yes, *dry_run, connect.as_deref()), out, err),
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

/// The largest saved plan `apply` reads (it carries the files' text before and after).
const MAX_PLAN_BYTES: u64 = 16 << 20;

/// Read a file of at most `limit` bytes, reporting why it cannot be read in words that name the
/// fix (`noun` says what it is: "the spec"). The file is opened without waiting (a FIFO never
/// blocks) and stat'ed through the open descriptor: anything but a regular file is refused
/// before a byte is read, and no more than `limit` bytes are ever read, whatever the file
/// grows to meanwhile. A link to a regular file is read: the spec's path is the user's choice.
fn read_bounded(
    path: &Path,
    limit: u64,
    noun: &str,
    err: &mut dyn Write,
) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let shown = path.display();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(crate::system::NON_BLOCK)
        .open(path);
    let mut file = match file {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            writeln!(
                err,
                "error: {noun} `{shown}` does not exist; check the path"
            )?;
            return Ok(None);
        }
        Err(e) => {
            writeln!(err, "error: cannot read {noun} `{shown}`: {e}")?;
            return Ok(None);
        }
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        writeln!(
            err,
            "error: {noun} `{shown}` is not a regular file; give the path of a .kdl file"
        )?;
        return Ok(None);
    }
    let too_big = |err: &mut dyn Write, len: u64| {
        writeln!(
            err,
            "error: {noun} `{shown}` is {len} bytes; one larger than {} MiB is refused",
            limit >> 20
        )
    };
    if meta.len() > limit {
        too_big(err, meta.len())?;
        return Ok(None);
    }
    let mut bytes = Vec::new();
    if let Err(e) = (&mut file).take(limit + 1).read_to_end(&mut bytes) {
        writeln!(err, "error: cannot read {noun} `{shown}`: {e}")?;
        return Ok(None);
    }
    if bytes.len() as u64 > limit {
        too_big(err, bytes.len() as u64)?;
        return Ok(None);
    }
    Ok(Some(bytes))
}

/// A spec's bytes as text, or why not.
fn spec_text(path: &Path, bytes: Vec<u8>, err: &mut dyn Write) -> std::io::Result<Option<String>> {
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        writeln!(
            err,
            "error: the spec `{}` is {} bytes; one larger than 1 MiB is refused",
            path.display(),
            bytes.len()
        )?;
        return Ok(None);
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Some(text)),
        Err(e) => {
            writeln!(
                err,
                "error: the spec `{}` is not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
                path.display(),
                e.utf8_error().valid_up_to()
            )?;
            Ok(None)
        }
    }
}

/// Read a spec file, reporting why it cannot be read in words that name the fix.
fn read_spec(path: &Path, err: &mut dyn Write) -> std::io::Result<Option<String>> {
    match read_bounded(path, MAX_SPEC_BYTES, "the spec", err)? {
        Some(bytes) => spec_text(path, bytes, err),
        None => Ok(None),
    }
}
