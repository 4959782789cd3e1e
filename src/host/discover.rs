//! Reads a root directory into [`HostFacts`]. (Being implemented.)

use std::path::Path;

use super::HostFacts;

/// Why a host could not be read at all. Missing optional files are facts, not errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The root directory does not exist or cannot be listed.
    #[error("cannot read the host root `{root}`: {source}")]
    Root {
        /// The root given.
        root: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Discover the host under `root`.
pub fn discover(root: &Path) -> Result<HostFacts, HostError> {
    let _ = root;
    todo!("host discovery")
}
