//! One apply at a time: an exclusive `flock` on a lock file under the root, which also records
//! the holder's pid for messages. The kernel releases the lock when its holder exits or is
//! killed, so a killed apply never leaves a lock held, a reused pid cannot look like a holder,
//! and two applies can never both take over from a dead one. A clean release removes the file;
//! a file left behind (with a pid) is what a killed apply leaves, and is reported as taken over.
//!
//! The lock is process coordination, not a change to the machine, so it is made directly rather
//! than through `System` (a dry run must also hold it, to read a consistent machine).

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where the lock lives, under the root.
pub const LOCK_PATH: &str = "var/lib/passplan/lock";

/// A held lock; released on drop (and by the kernel if the process dies).
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
    /// The previous holder did not release the lock cleanly (it was killed): its pid.
    pub took_over: Option<u32>,
}

impl Lock {
    /// Take the lock, or say who holds it.
    pub fn acquire(root: &Path) -> io::Result<Self> {
        let path = root.join(LOCK_PATH);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        // A holder releasing removes the file; a file opened just before that removal is no
        // longer the lock, so after locking, check the path still names the locked file.
        for _ in 0..8 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)?;
            let mut previous = String::new();
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let _ = file.read_to_string(&mut previous);
                    let holder = previous
                        .trim()
                        .parse::<u32>()
                        .map_or_else(|_| String::new(), |pid| format!(" (pid {pid})"));
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        format!("another passplan apply{holder} is running; wait for it to finish"),
                    ));
                }
                Err(TryLockError::Error(e)) => return Err(e),
            }
            let same = fs::metadata(&path).is_ok_and(|now| {
                file.metadata()
                    .is_ok_and(|held| held.ino() == now.ino() && held.dev() == now.dev())
            });
            if !same {
                continue;
            }
            // A pid left in the file means its holder never released it: it was killed.
            let _ = file.read_to_string(&mut previous);
            let took_over = previous.trim().parse::<u32>().ok();
            file.set_len(0)?;
            file.rewind()?;
            writeln!(file, "{}", std::process::id())?;
            file.sync_all()?;
            return Ok(Self {
                file,
                path,
                took_over,
            });
        }
        Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            format!(
                "cannot take the lock {}: it keeps changing; is another passplan running?",
                path.display()
            ),
        ))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Remove the file while still holding the lock, then release: a process that opened the
        // old file meanwhile sees it is no longer at the path and tries again.
        let _ = fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let first = Lock::acquire(dir.path()).unwrap();
        assert_eq!(first.took_over, None);
        let err = Lock::acquire(dir.path()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(
            err.to_string().contains(&std::process::id().to_string()),
            "{err}"
        );
        drop(first);
        let again = Lock::acquire(dir.path()).unwrap();
        assert_eq!(
            again.took_over, None,
            "a clean release leaves nothing to take over"
        );
    }

    #[test]
    fn a_killed_holders_lock_is_free_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("var/lib/passplan")).unwrap();
        // What a killed apply leaves: its pid in the file, and no flock (the kernel dropped it).
        fs::write(dir.path().join(LOCK_PATH), "999999999\n").unwrap();
        let lock = Lock::acquire(dir.path()).unwrap();
        assert_eq!(lock.took_over, Some(999_999_999));
    }
}
