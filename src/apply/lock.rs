//! One apply at a time: a lock file under the root holding the owner's pid. A lock whose owner
//! is gone (a killed apply) is taken over, and said so.
//!
//! The lock is process coordination, not a change to the machine, so it is made directly rather
//! than through `System` (a dry run must also hold it, to read a consistent machine).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Where the lock lives, under the root.
pub const LOCK_PATH: &str = "var/lib/passplan/lock";

/// A held lock; released on drop.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    /// A stale lock was taken over from this pid.
    pub took_over: Option<u32>,
}

impl Lock {
    /// Take the lock, or say who holds it.
    pub fn acquire(root: &Path) -> io::Result<Self> {
        let path = root.join(LOCK_PATH);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut took_over = None;
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    writeln!(file, "{}", std::process::id())?;
                    return Ok(Self { path, took_over });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| t.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if Path::new(&format!("/proc/{pid}")).exists() => {
                            return Err(io::Error::new(
                                io::ErrorKind::WouldBlock,
                                format!(
                                    "another passplan apply (pid {pid}) is running; wait for it to finish"
                                ),
                            ));
                        }
                        _ => {
                            took_over = holder;
                            fs::remove_file(&path)?;
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            format!("cannot take the lock {}", path.display()),
        ))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_stale_locks_are_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let first = Lock::acquire(dir.path()).unwrap();
        let err = Lock::acquire(dir.path()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(err.to_string().contains(&std::process::id().to_string()));
        drop(first);
        // A lock left by a process that no longer exists.
        fs::write(dir.path().join(LOCK_PATH), "999999999\n").unwrap();
        let lock = Lock::acquire(dir.path()).unwrap();
        assert_eq!(lock.took_over, Some(999_999_999));
    }
}
