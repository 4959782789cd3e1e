//! One apply at a time: an exclusive `flock` on a lock file under the root, which also records
//! the holder's pid for messages. The kernel releases the lock when its holder exits or is
//! killed, so a killed apply never leaves a lock held, a reused pid cannot look like a holder,
//! and two applies can never both take over from a dead one. A clean release removes the file;
//! a file left behind (with a pid) is what a killed apply leaves, and is reported as taken over.
//!
//! The lock is process coordination, not a change to the machine, so it is made directly rather
//! than through `System` (a dry run must also hold it, to read a consistent machine). It is
//! still as careful as `System`: `var/lib/passplan` is made by the same lstat-checked walk, the
//! file is opened with `O_NOFOLLOW` and must be a regular file with one link (a symlink, FIFO,
//! device or hard link planted there is refused and left alone), and at most a few bytes of it
//! are read. `plan` takes the same lock shared, so it never reads an apply's half-written tree.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::system::fs::ensure_dir;
use crate::system::{NO_FOLLOW, NON_BLOCK};

/// Where the lock lives, under the root.
pub const LOCK_PATH: &str = "var/lib/passplan/lock";

/// The most of the lock file ever read: a pid and a newline.
const MAX_LOCK_BYTES: u64 = 32;

/// A held lock; released on drop (and by the kernel if the process dies).
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
    /// Held shared (by `plan`) rather than exclusive.
    shared: bool,
    /// The previous holder did not release the lock cleanly (it was killed): its pid.
    pub took_over: Option<u32>,
}

/// An error that names the lock's path.
fn named(path: &Path, e: &io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("cannot take the lock {}: {e}", path.display()),
    )
}

/// Open the lock file without following a link, creating it (and its directory) if needed;
/// refuse anything but a regular file with a single link.
fn open(root: &Path, create: bool) -> io::Result<(File, PathBuf)> {
    let path = root.join(LOCK_PATH);
    let rel = Path::new(LOCK_PATH);
    if create {
        ensure_dir(root, rel.parent().unwrap_or(Path::new(""))).map_err(|e| named(&path, &e))?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(create)
        .create(create)
        .truncate(false)
        .mode(0o600)
        // O_NONBLOCK: a FIFO planted there must not hang the open.
        .custom_flags(NO_FOLLOW | NON_BLOCK)
        .open(&path)
        .map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "refusing the lock {}: it is a symbolic link; passplan does not follow links it did not make (remove it)",
                        path.display()
                    ),
                )
            } else {
                named(&path, &e)
            }
        })?;
    let meta = file.metadata().map_err(|e| named(&path, &e))?;
    if !meta.is_file() || meta.nlink() != 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "refusing the lock {}: it is not a regular file of its own (a FIFO, device, directory or hard link was put there); remove it",
                path.display()
            ),
        ));
    }
    Ok((file, path))
}

/// The pid recorded in a lock file, reading at most [`MAX_LOCK_BYTES`].
fn recorded_pid(file: &mut File) -> Option<u32> {
    let mut bytes = Vec::new();
    file.rewind().ok()?;
    file.take(MAX_LOCK_BYTES).read_to_end(&mut bytes).ok()?;
    std::str::from_utf8(&bytes).ok()?.trim().parse().ok()
}

impl Lock {
    /// Take the lock, or say who holds it.
    pub fn acquire(root: &Path) -> io::Result<Self> {
        Self::take(root, false, true)
    }

    /// Take the lock shared (for `plan`): any number of plans at once, none while an apply
    /// runs. `Ok(None)` when `var/lib/passplan` does not exist (no apply ever ran here: a plan
    /// creates nothing, so it leaves a tree it only reads as it was; [`Lock::appeared`] tells
    /// whether an apply started meanwhile), or when the lock cannot be made (a read-only root,
    /// a user who may not write there) and does not exist: then no apply holds it either.
    pub fn shared(root: &Path) -> io::Result<Option<Self>> {
        let path = root.join(LOCK_PATH);
        let dir = Path::new(LOCK_PATH).parent().unwrap_or(Path::new(""));
        if crate::system::fs::existing_dir(root, dir)
            .map_err(|e| named(&path, &e))?
            .is_none()
        {
            return Ok(None);
        }
        let cannot_write = |e: &io::Error| {
            matches!(
                e.kind(),
                io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied
            ) && !e.to_string().contains("refusing")
        };
        match Self::take(root, true, true) {
            Ok(lock) => Ok(Some(lock)),
            // Cannot make it: a lock that exists can still be held shared through a read-only
            // descriptor; one that does not exist is held by nobody.
            Err(e) if cannot_write(&e) => match Self::take(root, true, false) {
                Ok(lock) => Ok(Some(lock)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Whether an apply may have started on `root` since [`Lock::shared`] found no lock
    /// directory there: the directory exists now.
    pub fn appeared(root: &Path) -> bool {
        std::fs::symlink_metadata(root.join(LOCK_PATH).parent().unwrap_or(root)).is_ok()
    }

    fn take(root: &Path, shared: bool, create: bool) -> io::Result<Self> {
        // A holder releasing removes the file; a file opened just before that removal is no
        // longer the lock, so after locking, check the path still names the locked file.
        for _ in 0..8 {
            let (mut file, path) = open(root, create)?;
            let locked = if shared {
                file.try_lock_shared()
            } else {
                file.try_lock()
            };
            match locked {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let holder = recorded_pid(&mut file)
                        .map_or_else(String::new, |pid| format!(" (pid {pid})"));
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        format!(
                            "another passplan apply{holder} is running; wait for it to finish (lock: {})",
                            path.display()
                        ),
                    ));
                }
                Err(TryLockError::Error(e)) => return Err(named(&path, &e)),
            }
            let same = std::fs::symlink_metadata(&path).is_ok_and(|now| {
                file.metadata()
                    .is_ok_and(|held| held.ino() == now.ino() && held.dev() == now.dev())
            });
            if !same {
                continue;
            }
            if shared {
                return Ok(Self {
                    file,
                    path,
                    shared,
                    took_over: None,
                });
            }
            // A pid left in the file means its holder never released it: it was killed.
            let took_over = recorded_pid(&mut file);
            let write_pid = |file: &mut File| -> io::Result<()> {
                file.set_len(0)?;
                file.rewind()?;
                writeln!(file, "{}", std::process::id())?;
                file.sync_all()
            };
            write_pid(&mut file).map_err(|e| named(&path, &e))?;
            return Ok(Self {
                file,
                path,
                shared,
                took_over,
            });
        }
        Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            format!(
                "cannot take the lock {}: it keeps changing; is another passplan running?",
                root.join(LOCK_PATH).display()
            ),
        ))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Remove the file while still holding the lock exclusively, then release: a process
        // that opened the old file meanwhile sees it is no longer at the path and tries again.
        // A shared holder removes it only when it can turn its lock exclusive (no one else holds
        // it); otherwise the last holder does.
        if !self.shared || self.file.try_lock().is_ok() {
            let _ = std::fs::remove_file(&self.path);
        }
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
        std::fs::create_dir_all(dir.path().join("var/lib/passplan")).unwrap();
        // What a killed apply leaves: its pid in the file, and no flock (the kernel dropped it).
        std::fs::write(dir.path().join(LOCK_PATH), "999999999\n").unwrap();
        let lock = Lock::acquire(dir.path()).unwrap();
        assert_eq!(lock.took_over, Some(999_999_999));
    }

    /// Every hostile thing planted at the lock's path or its directory is refused, and nothing
    /// outside the root is read, truncated, written or removed.
    #[test]
    fn a_hostile_lock_path_is_refused_without_touching_anything_outside_the_root() {
        use std::os::unix::fs::symlink;
        type Plant<'a> = (&'a str, &'a dyn Fn(&Path));
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("shadow");
        std::fs::write(&victim, "root:secret\n").unwrap();
        let plant: [Plant<'_>; 5] = [
            ("a link to a file outside the root", &|lock| {
                symlink(&victim, lock).unwrap();
            }),
            ("a dangling link to a path outside the root", &|lock| {
                symlink(outside.path().join("made-by-passplan"), lock).unwrap();
            }),
            ("a link to /dev/zero", &|lock| {
                symlink("/dev/zero", lock).unwrap();
            }),
            ("a FIFO", &|lock| {
                let status = std::process::Command::new("mkfifo")
                    .arg(lock)
                    .status()
                    .unwrap();
                assert!(status.success());
            }),
            ("a hard link to a file outside the lock", &|lock| {
                let other = lock.with_file_name("other");
                std::fs::write(&other, "data\n").unwrap();
                std::fs::hard_link(&other, lock).unwrap();
            }),
        ];
        for (what, plant) in plant {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("var/lib/passplan")).unwrap();
            let lock = dir.path().join(LOCK_PATH);
            plant(&lock);
            for shared in [false, true] {
                let err = if shared {
                    Lock::shared(dir.path()).unwrap_err()
                } else {
                    Lock::acquire(dir.path()).unwrap_err()
                };
                assert!(
                    err.to_string().contains(&lock.display().to_string()),
                    "{what}: the error names the lock: {err}"
                );
            }
            assert!(
                std::fs::symlink_metadata(&lock).is_ok(),
                "{what}: left where it was"
            );
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root:secret\n");
        assert!(!outside.path().join("made-by-passplan").exists());

        // var/lib/passplan itself a link elsewhere: no lock is made there.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("var/lib")).unwrap();
        symlink(outside.path(), dir.path().join("var/lib/passplan")).unwrap();
        let err = Lock::acquire(dir.path()).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(Lock::shared(dir.path()).is_err());
        let names: Vec<_> = std::fs::read_dir(outside.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("shadow")],
            "nothing made outside"
        );
    }

    #[test]
    fn only_a_few_bytes_of_the_lock_are_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("var/lib/passplan")).unwrap();
        // A huge lock file (sparse, so the test stays small) is not read to its end.
        let file = File::create(dir.path().join(LOCK_PATH)).unwrap();
        file.set_len(1 << 40).unwrap();
        drop(file);
        let lock = Lock::acquire(dir.path()).unwrap();
        assert_eq!(lock.took_over, None);
    }

    #[test]
    fn plans_share_the_lock_and_an_apply_excludes_them() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            Lock::shared(dir.path()).unwrap().is_none(),
            "a root where no apply ever ran: no lock, nothing created"
        );
        assert!(!dir.path().join("var").exists() && !Lock::appeared(dir.path()));
        std::fs::create_dir_all(dir.path().join("var/lib/passplan")).unwrap();
        let plan = Lock::shared(dir.path()).unwrap().expect("a shared lock");
        let second = Lock::shared(dir.path()).unwrap().expect("plans share it");
        let err = Lock::acquire(dir.path()).unwrap_err();
        assert!(err.to_string().contains(LOCK_PATH), "{err}");
        drop((plan, second));
        assert!(
            !dir.path().join(LOCK_PATH).exists(),
            "the last plan leaves nothing behind"
        );
        let apply = Lock::acquire(dir.path()).unwrap();
        let err = Lock::shared(dir.path()).unwrap_err();
        assert!(
            err.to_string().contains("another passplan apply")
                && err.to_string().contains(LOCK_PATH),
            "{err}"
        );
        drop(apply);
    }

    #[test]
    fn the_lock_directory_is_not_writable_by_others_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let _lock = Lock::acquire(dir.path()).unwrap();
        for d in ["var", "var/lib", "var/lib/passplan"] {
            let mode = std::fs::metadata(dir.path().join(d))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o022, 0, "{d}: {mode:o}");
        }
        let mode = std::fs::metadata(dir.path().join(LOCK_PATH))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o022, 0, "lock: {mode:o}");
    }
}
