//! `System`: the only way passplan touches a machine. Reads, atomic writes, removals and
//! commands, addressed by host paths (`/etc/…`) and mapped under a root; and [`state`], the
//! ownership record read and written through it. Both the planner (which reads) and the
//! applier (which writes) stand on this module.
//!
//! Modes are wrappers, never `if dry_run` branches: [`DryRun`] records writes and commands
//! instead of doing them, [`Offline`] records commands (a root that is not `/` is not the
//! running machine, so its `update-initramfs` must not run here), [`Recording`] passes through
//! and keeps a log. `plan` reads through the same `System` that `apply` writes through.

pub mod fs;
pub mod state;

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use self::fs::{Fault, copy_attributes, ensure_dir, link_refused, temp_name};

/// A file as found: its bytes and permission bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    /// Content.
    pub bytes: Vec<u8>,
    /// Permission bits (`0o644`).
    pub mode: u32,
}

/// What a command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// Exit status; `None` when killed by a signal.
    pub status: Option<i32>,
    /// Standard output and error, interleaved as far as the OS allows (captured separately).
    pub output: String,
    /// The command was recorded, not run (dry run, offline root).
    pub skipped: bool,
}

impl CommandOutput {
    /// Whether the command succeeded (or was skipped).
    pub fn success(&self) -> bool {
        self.skipped || self.status == Some(0)
    }
}

/// Everything apply does to a machine.
pub trait System {
    /// Read a file; `Ok(None)` when it does not exist.
    fn read(&self, path: &str) -> io::Result<Option<FileState>>;
    /// Replace a file atomically (temp file in the same directory, fsync, rename), creating
    /// parent directories.
    fn write(&mut self, path: &str, bytes: &[u8], mode: u32) -> io::Result<()>;
    /// Remove a file; removing a missing file is not an error.
    fn remove(&mut self, path: &str) -> io::Result<()>;
    /// Run a command (never through a shell).
    fn run(&mut self, argv: &[String]) -> io::Result<CommandOutput>;
    /// Remove passplan's temp files that killed applies left in `dir` (and below it when
    /// `recursive`); only under the apply lock. Wrappers that pass writes through forward it;
    /// the default (for wrappers that write nothing) removes nothing.
    fn sweep_temp_files(&mut self, dir: &str, recursive: bool) -> io::Result<usize> {
        let _ = (dir, recursive);
        Ok(0)
    }
}

/// The real machine (or a directory standing for one), under `root`.
#[derive(Debug, Clone)]
pub struct RealSystem {
    root: PathBuf,
    /// Writes done so far (for the test-only fault hook).
    writes: usize,
    /// Where a debug build stops itself (`PASSPLAN_TEST_FAULT`); `None` in release builds.
    fault: Option<Fault>,
}

impl RealSystem {
    /// A system rooted at `root` (`/` for the live machine).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            writes: 0,
            fault: Fault::from_env(),
        }
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Map a host path under the root, refusing paths that could leave it and any symlink
    /// along the way: a link planted at `/etc/libvirt/hooks` must not redirect a write.
    fn map(&self, path: &str) -> io::Result<PathBuf> {
        if !crate::desired::valid_path(path) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("refusing the path `{}`", path.escape_debug()),
            ));
        }
        let mut current = self.root.clone();
        for component in path[1..].split('/') {
            current.push(component);
            match std::fs::symlink_metadata(&current) {
                Ok(meta) if meta.file_type().is_symlink() => return Err(link_refused(&current)),
                _ => {}
            }
        }
        Ok(current)
    }
}

impl System for RealSystem {
    fn sweep_temp_files(&mut self, dir: &str, recursive: bool) -> io::Result<usize> {
        let full = self.map(dir)?;
        match std::fs::symlink_metadata(&full) {
            Ok(meta) if meta.is_dir() => fs::sweep_temp_files(&full, recursive),
            _ => Ok(0),
        }
    }

    fn read(&self, path: &str) -> io::Result<Option<FileState>> {
        let full = self.map(path)?;
        match std::fs::symlink_metadata(&full) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
            Ok(meta) if !meta.is_file() => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not a regular file", full.display()),
            )),
            Ok(meta) => Ok(Some(FileState {
                bytes: std::fs::read(&full)?,
                mode: meta.permissions().mode() & 0o7777,
            })),
        }
    }

    fn write(&mut self, path: &str, bytes: &[u8], mode: u32) -> io::Result<()> {
        let full = self.map(path)?;
        let rel = Path::new(&path[1..]);
        // Every missing directory is made with an explicit mode, checked with lstat on the way.
        let dir = ensure_dir(&self.root, rel.parent().unwrap_or(Path::new("")))?;
        // Re-check after creating directories: nothing along the path may be a link.
        self.map(path)?;
        let name = full
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // The file being replaced, if any: an edit keeps its owner, group and attributes.
        let existing = match OpenOptions::new()
            .read(true)
            .custom_flags(NO_FOLLOW | NON_BLOCK)
            .open(&full)
        {
            Ok(file) if file.metadata()?.is_file() => Some(file),
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} is not a regular file", full.display()),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        self.writes += 1;
        let write = self.writes;
        // An unpredictable name: a planted or leftover file cannot be guessed or collide.
        let (tmp, mut file) = {
            let mut attempt = 0;
            loop {
                let tmp = dir.join(temp_name(&name));
                match OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(NO_FOLLOW)
                    .mode(mode & 0o777)
                    .open(&tmp)
                {
                    Ok(file) => break (tmp, file),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 8 => {
                        attempt += 1;
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let result = (|| {
            file.write_all(bytes)?;
            if let Some(existing) = &existing {
                copy_attributes(existing, &file)?;
            }
            // The mode given to open() is filtered by the umask (and chown clears set-id
            // bits); set it exactly, last.
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
            file.sync_all()?;
            if let Some(fault) = self.fault {
                fault.hit(write, false);
            }
            std::fs::rename(&tmp, &full)?;
            if let Some(fault) = self.fault {
                fault.hit(write, true);
            }
            File::open(&dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    fn remove(&mut self, path: &str) -> io::Result<()> {
        let full = self.map(path)?;
        match std::fs::remove_file(&full) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    fn run(&mut self, argv: &[String]) -> io::Result<CommandOutput> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
        let out = Command::new(program).args(args).output().map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("`{program}` is not installed or not on PATH"),
                )
            } else {
                e
            }
        })?;
        let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
        output.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok(CommandOutput {
            status: out.status.code(),
            output,
            skipped: false,
        })
    }
}

/// One thing a wrapper recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// A write of this many bytes.
    Write {
        /// Path.
        path: String,
        /// Mode.
        mode: u32,
        /// Size in bytes.
        len: usize,
    },
    /// A removal.
    Remove {
        /// Path.
        path: String,
    },
    /// A command.
    Run {
        /// Program and arguments.
        argv: Vec<String>,
    },
}

/// Records writes and commands instead of performing them; reads see the recorded writes, so a
/// dry run behaves like the real thing.
#[derive(Debug)]
pub struct DryRun<S> {
    inner: S,
    overlay: std::collections::BTreeMap<String, Option<FileState>>,
    /// What would have happened, in order.
    pub log: Vec<Recorded>,
}

impl<S: System> DryRun<S> {
    /// Wrap a system.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            overlay: std::collections::BTreeMap::new(),
            log: Vec::new(),
        }
    }
}

impl<S: System> System for DryRun<S> {
    fn read(&self, path: &str) -> io::Result<Option<FileState>> {
        match self.overlay.get(path) {
            Some(state) => Ok(state.clone()),
            None => self.inner.read(path),
        }
    }
    fn write(&mut self, path: &str, bytes: &[u8], mode: u32) -> io::Result<()> {
        self.log.push(Recorded::Write {
            path: path.to_owned(),
            mode,
            len: bytes.len(),
        });
        self.overlay.insert(
            path.to_owned(),
            Some(FileState {
                bytes: bytes.to_vec(),
                mode,
            }),
        );
        Ok(())
    }
    fn remove(&mut self, path: &str) -> io::Result<()> {
        self.log.push(Recorded::Remove {
            path: path.to_owned(),
        });
        self.overlay.insert(path.to_owned(), None);
        Ok(())
    }
    fn run(&mut self, argv: &[String]) -> io::Result<CommandOutput> {
        self.log.push(Recorded::Run {
            argv: argv.to_vec(),
        });
        Ok(CommandOutput {
            status: Some(0),
            output: String::new(),
            skipped: true,
        })
    }
}

/// Performs file changes but records commands instead of running them: for a root that is a
/// directory, not the running machine.
#[derive(Debug)]
pub struct Offline<S> {
    inner: S,
    /// Commands that were not run.
    pub skipped: Vec<Vec<String>>,
}

impl<S: System> Offline<S> {
    /// Wrap a system.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            skipped: Vec::new(),
        }
    }
}

impl<S: System> System for Offline<S> {
    fn sweep_temp_files(&mut self, dir: &str, recursive: bool) -> io::Result<usize> {
        self.inner.sweep_temp_files(dir, recursive)
    }
    fn read(&self, path: &str) -> io::Result<Option<FileState>> {
        self.inner.read(path)
    }
    fn write(&mut self, path: &str, bytes: &[u8], mode: u32) -> io::Result<()> {
        self.inner.write(path, bytes, mode)
    }
    fn remove(&mut self, path: &str) -> io::Result<()> {
        self.inner.remove(path)
    }
    fn run(&mut self, argv: &[String]) -> io::Result<CommandOutput> {
        self.skipped.push(argv.to_vec());
        Ok(CommandOutput {
            status: Some(0),
            output: String::new(),
            skipped: true,
        })
    }
}

/// Passes everything through and keeps a log of what changed.
#[derive(Debug)]
pub struct Recording<S> {
    inner: S,
    /// What happened, in order.
    pub log: Vec<Recorded>,
}

impl<S: System> Recording<S> {
    /// Wrap a system.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            log: Vec::new(),
        }
    }

    /// The wrapped system.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: System> System for Recording<S> {
    fn sweep_temp_files(&mut self, dir: &str, recursive: bool) -> io::Result<usize> {
        self.inner.sweep_temp_files(dir, recursive)
    }
    fn read(&self, path: &str) -> io::Result<Option<FileState>> {
        self.inner.read(path)
    }
    fn write(&mut self, path: &str, bytes: &[u8], mode: u32) -> io::Result<()> {
        self.inner.write(path, bytes, mode)?;
        self.log.push(Recorded::Write {
            path: path.to_owned(),
            mode,
            len: bytes.len(),
        });
        Ok(())
    }
    fn remove(&mut self, path: &str) -> io::Result<()> {
        self.inner.remove(path)?;
        self.log.push(Recorded::Remove {
            path: path.to_owned(),
        });
        Ok(())
    }
    fn run(&mut self, argv: &[String]) -> io::Result<CommandOutput> {
        let out = self.inner.run(argv)?;
        self.log.push(Recorded::Run {
            argv: argv.to_vec(),
        });
        Ok(out)
    }
}

impl<S: System + ?Sized> System for &mut S {
    fn sweep_temp_files(&mut self, dir: &str, recursive: bool) -> io::Result<usize> {
        (**self).sweep_temp_files(dir, recursive)
    }
    fn read(&self, path: &str) -> io::Result<Option<FileState>> {
        (**self).read(path)
    }
    fn write(&mut self, path: &str, bytes: &[u8], mode: u32) -> io::Result<()> {
        (**self).write(path, bytes, mode)
    }
    fn remove(&mut self, path: &str) -> io::Result<()> {
        (**self).remove(path)
    }
    fn run(&mut self, argv: &[String]) -> io::Result<CommandOutput> {
        (**self).run(argv)
    }
}

/// `O_NOFOLLOW`: opening a symbolic link fails instead of following it.
pub const NO_FOLLOW: i32 = rustix::fs::OFlags::NOFOLLOW.bits().cast_signed();
/// `O_NONBLOCK`: opening a FIFO never waits for a writer.
pub const NON_BLOCK: i32 = rustix::fs::OFlags::NONBLOCK.bits().cast_signed();

/// Whether `root` is the running machine's `/`.
pub fn is_live_root(root: &Path) -> bool {
    root.canonicalize().is_ok_and(|p| p == Path::new("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_atomically_with_the_mode_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut sys = RealSystem::new(dir.path());
        sys.write("/etc/libvirt/hooks/qemu", b"#!/bin/bash\n", 0o755)
            .unwrap();
        let state = sys.read("/etc/libvirt/hooks/qemu").unwrap().unwrap();
        assert_eq!(
            state,
            FileState {
                bytes: b"#!/bin/bash\n".to_vec(),
                mode: 0o755
            }
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("etc/libvirt/hooks"))
            .unwrap()
            .collect();
        assert_eq!(leftovers.len(), 1, "no temp file left behind");
        sys.remove("/etc/libvirt/hooks/qemu").unwrap();
        sys.remove("/etc/libvirt/hooks/qemu").unwrap();
        assert_eq!(sys.read("/etc/libvirt/hooks/qemu").unwrap(), None);
    }

    #[test]
    fn refuses_symlinks_and_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/libvirt")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("etc/libvirt/hooks")).unwrap();
        let mut sys = RealSystem::new(dir.path());
        let err = sys
            .write("/etc/libvirt/hooks/qemu", b"x", 0o755)
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert!(
            std::fs::read_dir(outside.path()).unwrap().next().is_none(),
            "nothing written through the link"
        );
        assert!(sys.write("/etc/../x", b"x", 0o644).is_err());
        assert!(sys.read("relative").is_err());
    }

    #[test]
    fn dry_run_reads_its_own_writes_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut dry = DryRun::new(RealSystem::new(dir.path()));
        dry.write("/etc/x.conf", b"a", 0o644).unwrap();
        assert_eq!(dry.read("/etc/x.conf").unwrap().unwrap().bytes, b"a");
        assert!(
            dry.run(&["false".to_owned()]).unwrap().success(),
            "commands are recorded, not run"
        );
        assert!(!dir.path().join("etc/x.conf").exists());
        assert_eq!(dry.log.len(), 2);
    }

    #[test]
    fn recording_passes_through_and_keeps_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut rec = Recording::new(RealSystem::new(dir.path()));
        rec.write("/etc/x.conf", b"abc", 0o640).unwrap();
        rec.remove("/etc/gone.conf").unwrap();
        assert_eq!(
            rec.read("/etc/x.conf").unwrap().unwrap(),
            FileState {
                bytes: b"abc".to_vec(),
                mode: 0o640
            }
        );
        assert_eq!(
            rec.log,
            vec![
                Recorded::Write {
                    path: "/etc/x.conf".into(),
                    mode: 0o640,
                    len: 3
                },
                Recorded::Remove {
                    path: "/etc/gone.conf".into()
                }
            ]
        );
        let inner = rec.into_inner();
        assert!(
            inner.read("/etc/x.conf").unwrap().is_some(),
            "the write really happened"
        );
    }

    #[test]
    fn a_missing_program_names_itself() {
        let mut sys = RealSystem::new("/");
        let err = sys
            .run(&["passplan-no-such-program".to_owned()])
            .unwrap_err();
        assert!(err.to_string().contains("passplan-no-such-program"));
    }
}
