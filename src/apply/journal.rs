//! The journal of an apply: written before every change, so a failure (or a crash) can be
//! undone. Each entry says what the file was before — a backup under
//! `/var/lib/passplan/backups/<apply>/` or "did not exist". The last journal stays after a
//! successful apply: `passplan rollback` reads it.

use serde::{Deserialize, Serialize};

use crate::system::System;

/// Where the journal lives.
pub const JOURNAL_PATH: &str = "/var/lib/passplan/journal.json";
/// Where backups live.
pub const BACKUP_DIR: &str = "/var/lib/passplan/backups";

/// The journal of one apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journal {
    /// The apply's sequence number.
    pub apply: u64,
    /// File changes begun, in order.
    pub entries: Vec<Entry>,
    /// Whether every file change finished (commands may still have failed after).
    pub files_done: bool,
    /// Whether the apply was rolled back, every file and domain restored.
    pub rolled_back: bool,
    /// A rollback that began and did not restore everything: the next apply (or `rollback`)
    /// tries again before anything else, and nothing proceeds over un-restored files.
    #[serde(default)]
    pub rollback_incomplete: bool,
    /// The libvirt domains this apply defined or undefined, each with its definition before,
    /// in order; recorded before each define, so a rollback restores them too.
    #[serde(default)]
    pub domains: Vec<DomainEntry>,
    /// The libvirt connection those domains are on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

/// One domain change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainEntry {
    /// The domain.
    pub name: String,
    /// Its inactive definition before the change; `None` when it was not defined.
    pub previous: Option<String>,
}

/// One file change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The file.
    pub path: String,
    /// Where its previous content was saved; `None` when it did not exist.
    pub backup: Option<String>,
    /// Its previous mode.
    pub mode: Option<u32>,
}

impl Journal {
    /// Load the journal, if any.
    pub fn load(sys: &dyn System) -> std::io::Result<Option<Self>> {
        let Some(file) = sys.read(JOURNAL_PATH)? else {
            return Ok(None);
        };
        serde_json::from_slice(&file.bytes).map(Some).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{JOURNAL_PATH} is damaged ({e}); inspect the backups under {BACKUP_DIR} by hand"))
        })
    }

    /// Write the journal atomically.
    pub fn save(&self, sys: &mut dyn System) -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        sys.write(JOURNAL_PATH, &bytes, 0o600)
    }

    /// Where the backup of `path` goes for this apply.
    pub fn backup_path(&self, path: &str) -> String {
        format!("{BACKUP_DIR}/{}{path}", self.apply)
    }

    /// Undo every entry, newest first: restore backups, remove files that did not exist. A file
    /// whose content and mode already equal its backup is left alone (its write never
    /// happened, or an earlier undo restored it), so undoing twice, or on a full disk, claims
    /// no failure for a file that is as it was. Keeps going past failures and returns them, so
    /// as much as possible is restored.
    pub fn undo(&mut self, sys: &mut dyn System) -> Vec<String> {
        let mut failures = Vec::new();
        for entry in self.entries.iter().rev() {
            let result = match &entry.backup {
                Some(backup) => sys.read(backup).and_then(|b| match b {
                    Some(b) => {
                        let mode = entry.mode.unwrap_or(b.mode);
                        let current = sys.read(&entry.path);
                        if matches!(&current, Ok(Some(c)) if c.bytes == b.bytes && c.mode == mode) {
                            Ok(())
                        } else {
                            sys.write(&entry.path, &b.bytes, mode)
                        }
                    }
                    None => Err(std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("backup {backup} is missing"),
                    )),
                }),
                None => sys.remove(&entry.path),
            };
            if let Err(e) = result {
                failures.push(format!("{}: {e}", entry.path));
            }
        }
        // Done only when everything is as it was: otherwise the next apply (or `rollback`)
        // tries again rather than proceed over un-restored files.
        self.rolled_back = failures.is_empty();
        self.rollback_incomplete = !failures.is_empty();
        // Marking the journal may fail on the same full disk; then it stays unfinished and the
        // next apply (or `rollback`) undoes it again, which changes nothing that is restored.
        let _ = self.save(sys);
        failures
    }
}
