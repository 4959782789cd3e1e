//! Ownership state: which files passplan manages on this host, with the hash of what it last
//! wrote, so that a hand edit shows as drift and a file dropped from the spec is removed.
//! Lives at `/var/lib/passplan/state.json` under the root, written atomically, validated on read.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::System;
use crate::desired::{Ownership, Step};

/// Where the state lives.
pub const STATE_PATH: &str = "/var/lib/passplan/state.json";
/// Current state format.
const FORMAT_VERSION: u32 = 1;

/// What passplan manages. Invariant (checked on load): every path is absolute and normalised,
/// every hash is 64 hex digits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Format version.
    pub format_version: u32,
    /// Managed files by path.
    pub files: BTreeMap<String, ManagedFile>,
    /// Sequence number of the last apply that changed something (0: never).
    pub last_apply: u64,
    /// libvirt domains passplan defined (so that one dropped from the spec can be undefined
    /// on request, and a domain passplan never defined is never touched).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub domains: BTreeSet<String>,
    /// Domain name → SHA-256 of the part of its definition passplan owns
    /// (`plan::domains::owned_hash`), read back from libvirt right after passplan defined it, so
    /// that a later change passplan did not make (`virsh edit`) shows as drift. A managed domain
    /// without an entry (defined by an earlier version) has no drift check until its next define.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub domain_hashes: BTreeMap<String, String>,
    /// Kernel command-line parameter names passplan put there (so that one the spec no longer
    /// asks for is removed, and one passplan never wrote is never touched).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub kernel_tokens: BTreeSet<String>,
    /// Commands an apply set off that have not succeeded yet (one failed, or the apply stopped
    /// before running them): the next plan shows them and the next apply runs them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingStep>,
}

/// A command still owed to the machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingStep {
    /// The command, as the plan had it.
    pub step: Step,
    /// The apply that first set it off.
    pub since: u64,
}

/// One managed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedFile {
    /// SHA-256 of the content passplan last wrote.
    pub sha256: String,
    /// Whole file or in-place edit.
    pub ownership: Ownership,
    /// Mode passplan set.
    pub mode: u32,
}

/// Why the state file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// It could not be read or written.
    #[error("cannot access {STATE_PATH}: {0}")]
    Io(#[from] std::io::Error),
    /// It is not what passplan writes.
    #[error(
        "{STATE_PATH} is damaged ({why}); move it aside and run `passplan apply` again to re-adopt the files"
    )]
    Invalid {
        /// What is wrong.
        why: String,
    },
}

/// SHA-256 of bytes, as hex.
pub fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().fold(String::with_capacity(64), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Whether `s` is a SHA-256 as [`sha256`] writes it: 64 hex digits.
fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit())
}

impl State {
    /// Load the state; a missing file is an empty state.
    pub fn load(sys: &dyn System) -> Result<Self, StateError> {
        let Some(file) = sys.read(STATE_PATH)? else {
            return Ok(Self {
                format_version: FORMAT_VERSION,
                ..Self::default()
            });
        };
        let state: Self = serde_json::from_slice(&file.bytes)
            .map_err(|e| StateError::Invalid { why: e.to_string() })?;
        if state.format_version != FORMAT_VERSION {
            return Err(StateError::Invalid {
                why: format!(
                    "format version {} is not {FORMAT_VERSION}",
                    state.format_version
                ),
            });
        }
        for (name, hash) in &state.domain_hashes {
            if !is_sha256(hash) {
                return Err(StateError::Invalid {
                    why: format!("bad hash for domain `{}`", name.escape_debug()),
                });
            }
        }
        for (path, file) in &state.files {
            if !crate::desired::valid_path(path) {
                return Err(StateError::Invalid {
                    why: format!("bad path `{}`", path.escape_debug()),
                });
            }
            if !is_sha256(&file.sha256) {
                return Err(StateError::Invalid {
                    why: format!("bad hash for {path}"),
                });
            }
        }
        if let Some(bad) = state.pending.iter().find(|p| p.step.argv.is_empty()) {
            return Err(StateError::Invalid {
                why: format!("an empty pending command since apply {}", bad.since),
            });
        }
        Ok(state)
    }

    /// The state file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain maps and strings cannot fail.
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Write the state atomically.
    pub fn save(&self, sys: &mut dyn System) -> Result<(), StateError> {
        sys.write(STATE_PATH, &self.to_bytes(), 0o600)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::RealSystem;

    #[test]
    fn round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let mut sys = RealSystem::new(dir.path());
        assert_eq!(State::load(&sys).unwrap().files.len(), 0);
        let mut state = State {
            format_version: 1,
            ..State::default()
        };
        state.files.insert(
            "/etc/x".into(),
            ManagedFile {
                sha256: sha256(b"x"),
                ownership: Ownership::Owned,
                mode: 0o644,
            },
        );
        state.save(&mut sys).unwrap();
        assert_eq!(State::load(&sys).unwrap(), state);
        for bad in [&b"{"[..], b"{\"format_version\":9,\"files\":{},\"last_apply\":0}", b"{\"format_version\":1,\"files\":{\"../x\":{\"sha256\":\"00\",\"ownership\":\"owned\",\"mode\":420}},\"last_apply\":0}"] {
            sys.write(STATE_PATH, bad, 0o600).unwrap();
            assert!(matches!(State::load(&sys), Err(StateError::Invalid { .. })));
        }
    }

    #[test]
    fn a_state_without_domain_hashes_loads_and_a_bad_domain_hash_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut sys = RealSystem::new(dir.path());
        let old = b"{\"format_version\":1,\"files\":{},\"last_apply\":2,\"domains\":[\"w\"]}";
        sys.write(STATE_PATH, old, 0o600).unwrap();
        let state = State::load(&sys).unwrap();
        assert!(state.domains.contains("w") && state.domain_hashes.is_empty());
        let bad = b"{\"format_version\":1,\"files\":{},\"last_apply\":2,\"domain_hashes\":{\"w\":\"00\"}}";
        sys.write(STATE_PATH, bad, 0o600).unwrap();
        assert!(matches!(State::load(&sys), Err(StateError::Invalid { .. })));
    }

    #[test]
    fn hashes_are_sha256() {
        assert_eq!(
            sha256(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
