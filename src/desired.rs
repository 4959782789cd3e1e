//! The compile contract: what an emitter receives ([`Input`]) and what it returns
//! ([`Desired`]: artifacts, domains, steps, kernel tokens), and the types the planner and the
//! applier read back from it ([`Ownership`], [`Trigger`], [`Step`]).
//!
//! It sits below both the compiler ([`crate::compile`]), which calls the emitters, and the
//! emitters ([`crate::emit`]), so that neither imports the other's contract.

use crate::check::Checked;
use crate::host::CmdlineToken;
use crate::spec::Spanned;

/// The spec's text, name and place. Emitted files never name the spec's path or a line (see
/// `emit::origin`): those appear only in messages.
#[derive(Debug, Clone)]
pub struct SpecSource {
    /// How the spec is named in messages (the path given on the command line).
    pub name: String,
    /// The spec's text.
    pub text: String,
    /// The absolute directory the spec lives in: paths the spec writes relative (hook scripts)
    /// are relative to it, whatever the working directory. `None` when unknown: they are then
    /// resolved against the directory of `name`.
    pub dir: Option<String>,
}

impl SpecSource {
    /// The 1-based line of a span's start.
    pub fn line<T>(&self, at: &Spanned<T>) -> usize {
        self.line_of(at.span.offset())
    }

    /// The 1-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        self.text
            .get(..offset)
            .map_or(1, |t| t.bytes().filter(|b| *b == b'\n').count() + 1)
    }

    /// `spec.kdl:12`, for messages.
    pub fn locate<T>(&self, at: &Spanned<T>) -> String {
        self.locate_offset(at.span.offset())
    }

    /// `spec.kdl:12` for a byte offset, the name as [`Self::shown_name`] shows it.
    pub fn locate_offset(&self, offset: usize) -> String {
        format!("{}:{}", self.shown_name(), self.line_of(offset))
    }

    /// The name as messages show it: every control character as a Rust escape (`\n`), so a
    /// message stays one line whatever the path (any byte a file name can hold can be in it).
    /// Emitted files never carry it: their headers name the spec node (`emit::origin`).
    pub fn shown_name(&self) -> std::borrow::Cow<'_, str> {
        if self.name.chars().any(char::is_control) {
            std::borrow::Cow::Owned(
                self.name
                    .chars()
                    .map(|c| {
                        if c.is_control() {
                            c.escape_default().to_string()
                        } else {
                            c.to_string()
                        }
                    })
                    .collect(),
            )
        } else {
            std::borrow::Cow::Borrowed(&self.name)
        }
    }
}

/// Who owns a file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ownership {
    /// passplan wrote the whole file (it carries a header saying so).
    Owned,
    /// A file passplan edits in place, changing only its own keys or tokens.
    Edited,
}

/// What must run after files change, and why.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// The initramfs must be rebuilt.
    Initramfs,
    /// The boot loader's configuration must be regenerated.
    Bootloader,
    /// The running kernel must be rebooted to see the change.
    Reboot,
    /// The libvirt daemon must reload (first install of the `qemu` hook).
    LibvirtReload,
    /// The network configuration must be reloaded.
    Network,
}

/// One file passplan wants on the host.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Artifact {
    /// Absolute path on the host (`/etc/modprobe.d/passplan-vfio.conf`). Invariant: starts with
    /// `/`, has no `.`/`..`/empty components.
    pub path: String,
    /// The whole target content.
    pub content: String,
    /// File mode (`0o644`, `0o755` for scripts).
    pub mode: u32,
    /// Whole file or in-place edit.
    pub ownership: Ownership,
    /// What a change to it sets off.
    pub triggers: Vec<Trigger>,
    /// Why passplan wants it, for the plan.
    pub reason: String,
}

/// A command passplan runs after files change (regenerating the initramfs or boot config).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Step {
    /// What sets it off.
    pub trigger: Trigger,
    /// Program and arguments; never passed through a shell.
    pub argv: Vec<String>,
    /// Why.
    pub reason: String,
}

/// A libvirt domain passplan wants defined.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DomainDef {
    /// Domain name (a safe name).
    pub name: String,
    /// The full domain XML passplan generates (merged with the live definition at plan time).
    pub xml: String,
}

/// Everything passplan wants on the host. Invariant: one artifact per path, paths valid,
/// sorted by path; steps sorted by trigger; the same `Checked` always gives the same `Desired`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Desired {
    /// Files, by path.
    pub artifacts: Vec<Artifact>,
    /// Domains, by name.
    pub domains: Vec<DomainDef>,
    /// Commands to run when their trigger fires.
    pub steps: Vec<Step>,
    /// Kernel command-line tokens passplan owns, in order.
    pub kernel_tokens: Vec<CmdlineToken>,
    /// Notes for the plan (what passplan chose and why).
    pub notes: Vec<String>,
}

/// Why compiling failed. Only bugs in an emitter reach here: a checked spec always compiles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    /// An emitter produced an unusable path.
    #[error("internal error: an artifact path `{path}` is not absolute and normalised")]
    BadPath {
        /// The path.
        path: String,
    },
    /// Two emitters produced the same path.
    #[error("internal error: two artifacts claim `{path}`")]
    Duplicate {
        /// The path.
        path: String,
    },
    /// An in-place edit could not be made (the file's syntax is not what passplan can edit).
    #[error("cannot edit {path}: {why}")]
    Edit {
        /// The file.
        path: String,
        /// What is wrong with it, and what to do.
        why: String,
    },
}

/// The emitters' shared input.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The checked spec and host.
    pub checked: &'a Checked,
    /// The spec text, for headers.
    pub source: &'a SpecSource,
    /// Kernel parameter names passplan wrote before (ownership state): the loader editors remove
    /// those the spec no longer asks for, and never touch any other.
    pub owned_tokens: &'a [String],
}

/// Absolute, no empty, `.` or `..` components, no NUL or newline.
pub fn valid_path(path: &str) -> bool {
    path.starts_with('/')
        && path.len() > 1
        && !path.contains(['\0', '\n'])
        && path[1..]
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_must_stay_where_they_belong() {
        assert!(valid_path("/etc/modprobe.d/passplan-vfio.conf"));
        for bad in [
            "",
            "/",
            "etc/x",
            "/etc/../x",
            "/etc//x",
            "/etc/./x",
            "/etc/x/",
            "/etc/a\nb",
        ] {
            assert!(!valid_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn lines_are_counted_from_one() {
        let source = SpecSource {
            name: "s.kdl".into(),
            text: "a\nbb\nccc".into(),
            dir: None,
        };
        assert_eq!(source.line_of(0), 1);
        assert_eq!(source.line_of(2), 2);
        assert_eq!(source.line_of(5), 3);
        assert_eq!(source.line_of(999), 1, "out of range falls back to line 1");
    }
}
