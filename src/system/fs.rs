//! The file-system primitives under [`super::RealSystem`], the lock and `build --out`: a
//! directory walk that checks every component with `lstat` and creates what is missing with an
//! explicit mode (never the caller's umask), unpredictable temp names and the sweep of those a
//! killed apply left, and the owner, group and extended attributes an edit must keep.
//!
//! In debug builds only, `PASSPLAN_TEST_FAULT` stops the process at a chosen write (see
//! [`Fault`]), so tests can kill an apply exactly after each rename rather than after a delay.

use std::fs::{self, File};
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The mode of every directory passplan creates: readable by all, writable by root only.
pub const DIR_MODE: u32 = 0o755;

/// What marks a temp file as passplan's: `.NAME` + this + random hex.
pub const TEMP_MARK: &str = ".passplan-tmp-";

/// The error for a link met on a walk.
pub fn link_refused(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "refusing to go through the symbolic link {}: passplan does not follow links it did not make",
            path.display()
        ),
    )
}

/// Make `base`/`rel` a directory, creating each missing component with [`DIR_MODE`] exactly.
/// Every component below `base` is checked with `lstat`: a symbolic link, or anything that is
/// not a directory, is refused and nothing is created through it. `rel` must be relative and
/// hold no `..`. Returns the full path.
pub fn ensure_dir(base: &Path, rel: &Path) -> io::Result<PathBuf> {
    let mut current = base.to_path_buf();
    for component in rel.components() {
        match component {
            Component::Normal(name) => current.push(name),
            Component::CurDir => continue,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("refusing the directory `{}`", rel.display()),
                ));
            }
        }
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(link_refused(&current)),
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} is not a directory", current.display()),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match fs::DirBuilder::new().mode(DIR_MODE).create(&current) {
                    Ok(()) => {
                        // The mode given to mkdir() is filtered by the umask; set it exactly.
                        fs::set_permissions(&current, fs::Permissions::from_mode(DIR_MODE))?;
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
                // Whoever made it (this process or a racer), it must be a real directory.
                let meta = fs::symlink_metadata(&current)?;
                if meta.file_type().is_symlink() {
                    return Err(link_refused(&current));
                }
                if !meta.is_dir() {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{} is not a directory", current.display()),
                    ));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(current)
}

/// `base`/`rel` if it is a directory, reached without going through a link (each component
/// checked with `lstat`); `None` when a component is missing. Creates nothing.
pub fn existing_dir(base: &Path, rel: &Path) -> io::Result<Option<PathBuf>> {
    let mut current = base.to_path_buf();
    for component in rel.components() {
        let Component::Normal(name) = component else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("refusing the directory `{}`", rel.display()),
            ));
        };
        current.push(name);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(link_refused(&current)),
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} is not a directory", current.display()),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Ok(Some(current))
}

/// A temp name beside `name` that nobody can predict: `.NAME.passplan-tmp-<16 hex digits>`.
pub fn temp_name(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // RandomState is seeded from the OS's random source once per thread; hashing a counter,
    // the pid and the time through it gives a fresh unpredictable value each call.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!(".{name}{TEMP_MARK}{:016x}", hasher.finish())
}

/// Whether a directory entry's name is one of passplan's temp files.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(TEMP_MARK)
}

/// Remove passplan's temp files in `dir` (and below it when `recursive`), never following a
/// link. Only call this holding the apply lock: then no living apply owns such a file.
/// Returns how many were removed. A missing directory has none.
pub fn sweep_temp_files(dir: &Path, recursive: bool) -> io::Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let kind = entry.file_type()?;
        let name = entry.file_name();
        if kind.is_file() && is_temp_name(&name.to_string_lossy()) {
            fs::remove_file(entry.path())?;
            removed += 1;
        } else if recursive && kind.is_dir() {
            removed += sweep_temp_files(&entry.path(), true)?;
        }
    }
    Ok(removed)
}

/// Give `to` (a temp file about to replace `from`) the owner, group and extended attributes of
/// `from`, so an edit keeps what passplan does not own (a `security.selinux` label, a
/// `user.*` attribute, a group that may read the file).
pub fn copy_attributes(from: &File, to: &File) -> io::Result<()> {
    let (src, dst) = (from.metadata()?, to.metadata()?);
    if (src.uid(), src.gid()) != (dst.uid(), dst.gid()) {
        std::os::unix::fs::fchown(to, Some(src.uid()), Some(src.gid()))?;
    }
    for (name, value) in xattrs(from)? {
        rustix::fs::fsetxattr(to, &name[..], &value, rustix::fs::XattrFlags::empty())
            .map_err(io::Error::from)?;
    }
    Ok(())
}

/// Every extended attribute of a file: (name, value). A file system without them has none.
pub fn xattrs(file: &File) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let unsupported = |e: &rustix::io::Errno| *e == rustix::io::Errno::NOTSUP;
    let size = match rustix::fs::flistxattr_query(file) {
        Ok(size) => size,
        Err(e) if unsupported(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    if size == 0 {
        return Ok(Vec::new());
    }
    let mut names = vec![0u8; size];
    let len = rustix::fs::flistxattr(file, &mut names[..]).map_err(io::Error::from)?;
    names.truncate(len);
    let mut out = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let size = rustix::fs::fgetxattr_query(file, name).map_err(io::Error::from)?;
        let mut value = vec![0u8; size];
        let len = if size == 0 {
            0
        } else {
            rustix::fs::fgetxattr(file, name, &mut value[..]).map_err(io::Error::from)?
        };
        value.truncate(len);
        out.push((name.to_vec(), value));
    }
    Ok(out)
}

/// Where a debug build stops itself, for tests: `PASSPLAN_TEST_FAULT=kill-before-rename:N`
/// (SIGKILL with the N-th write's temp file made but not renamed), `kill-after-rename:N`
/// (SIGKILL right after the N-th rename) or `stop-after-rename:N` (SIGSTOP there, so a test can
/// act while the apply holds its lock, then continue it). Release builds ignore the variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// Before (`false`) or after (`true`) the rename.
    pub after_rename: bool,
    /// SIGSTOP instead of SIGKILL.
    pub stop: bool,
    /// The 1-based write it hits.
    pub write: usize,
}

impl Fault {
    /// The fault asked for in the environment (debug builds only).
    pub fn from_env() -> Option<Self> {
        if !cfg!(debug_assertions) {
            return None;
        }
        let value = std::env::var("PASSPLAN_TEST_FAULT").ok()?;
        let (point, n) = value.split_once(':')?;
        let (stop, after_rename) = match point {
            "kill-before-rename" => (false, false),
            "kill-after-rename" => (false, true),
            "stop-after-rename" => (true, true),
            _ => return None,
        };
        Some(Self {
            after_rename,
            stop,
            write: n.parse().ok()?,
        })
    }

    /// Hit the fault if this is its place.
    pub fn hit(self, write: usize, after_rename: bool) {
        if self.write == write && self.after_rename == after_rename {
            let signal = if self.stop {
                rustix::process::Signal::STOP
            } else {
                rustix::process::Signal::KILL
            };
            let _ = rustix::process::kill_process(rustix::process::getpid(), signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_dir_refuses_links_and_sets_the_mode_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let made = ensure_dir(dir.path(), Path::new("var/lib/passplan")).unwrap();
        assert_eq!(
            fs::metadata(&made).unwrap().permissions().mode() & 0o7777,
            DIR_MODE
        );
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        let err = ensure_dir(dir.path(), Path::new("link/x")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert!(fs::read_dir(outside.path()).unwrap().next().is_none());
        assert!(ensure_dir(dir.path(), Path::new("../x")).is_err());
    }

    #[test]
    fn temp_names_are_unpredictable_and_swept() {
        let a = temp_name("grub");
        let b = temp_name("grub");
        assert_ne!(a, b);
        assert!(is_temp_name(&a) && !a.contains(&std::process::id().to_string()));
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join(&a), "x").unwrap();
        fs::write(dir.path().join("sub").join(&b), "x").unwrap();
        fs::write(dir.path().join("grub"), "kept").unwrap();
        assert_eq!(sweep_temp_files(dir.path(), false).unwrap(), 1);
        assert_eq!(sweep_temp_files(dir.path(), true).unwrap(), 1);
        assert!(dir.path().join("grub").exists());
    }
}
