//! Read-only access to a host tree under a root directory, without ever leaving it.
//!
//! sysfs is a forest of symlinks (`/sys/bus/pci/devices/<BDF>`, `driver`, `iommu_group`,
//! `/sys/class/block/<dev>`), and a fake tree in a test or a copied dump may hold links that are
//! absolute or climb above the root. Letting the OS follow them would read the *real* machine's
//! files, so [`Root`] resolves every path itself: each component is checked with
//! `symlink_metadata`, a link's target is spliced in lexically (an absolute target restarts at
//! the root, `..` stops at the root), and only the final, link-free path is opened.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::model::PciAddress;

/// Kernel's own limit on nested symlinks (`MAXSYMLINKS`); beyond it a path is a loop.
const MAX_LINK_HOPS: usize = 40;

/// The largest file discovery reads. The largest real ones are a few hundred KiB to ~1.5 MiB
/// (`pci.ids`, `/proc/cpuinfo` of a 384-CPU server, the mountinfo of a container host); a
/// file over this is not the kernel's or the distribution's, and reading it whole could
/// exhaust memory (a 1.5 GB sparse `pci.ids` once took 3 GB).
pub(super) const MAX_FILE_BYTES: u64 = 16 << 20;

/// A host root directory. Paths given to its methods are root-relative and written the way the
/// host spells them (`/sys/bus/pci/devices`).
#[derive(Debug, Clone)]
pub(super) struct Root {
    base: PathBuf,
    /// Files left unread because they are over their limit: path → limit in bytes.
    oversized: std::cell::RefCell<std::collections::BTreeMap<String, u64>>,
}

impl Root {
    /// A root at `base`, which must be a listable directory.
    pub(super) fn open(base: &Path) -> std::io::Result<Self> {
        fs::read_dir(base)?;
        Ok(Self {
            base: base.to_path_buf(),
            oversized: std::cell::RefCell::default(),
        })
    }

    /// The files [`Self::read_bytes`] and its kin left unread for their size, with the limit
    /// each was over, sorted by path.
    pub(super) fn oversized(&self) -> Vec<(String, u64)> {
        self.oversized
            .borrow()
            .iter()
            .map(|(p, l)| (p.clone(), *l))
            .collect()
    }

    /// The root-relative path `path` names once every symlink in it is resolved inside the
    /// root, as components below the root. Components that do not exist are kept lexically.
    /// `None` on a symlink loop.
    pub(super) fn resolve(&self, path: &str) -> Option<Vec<OsString>> {
        let mut done: Vec<OsString> = Vec::new();
        let mut real = self.base.clone();
        let mut pending: VecDeque<OsString> = components(Path::new(path));
        let mut hops = 0;
        while let Some(part) = pending.pop_front() {
            if part == ".." {
                if done.pop().is_some() {
                    real.pop();
                }
                continue;
            }
            let candidate = real.join(&part);
            match fs::symlink_metadata(&candidate) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return None;
                    }
                    let target = fs::read_link(&candidate).ok()?;
                    if target.has_root() {
                        // Absolute targets name the host's `/`, which is our root.
                        done.clear();
                        real.clone_from(&self.base);
                    }
                    let mut spliced = components(&target);
                    spliced.extend(pending);
                    pending = spliced;
                }
                _ => {
                    real.push(&part);
                    done.push(part);
                }
            }
        }
        Some(done)
    }

    /// The resolved path as root-relative text (`/sys/devices/pci0000:00/0000:00:02.0`).
    pub(super) fn resolve_text(&self, path: &str) -> Option<String> {
        let parts = self.resolve(path)?;
        let mut out = String::new();
        for part in parts {
            out.push('/');
            out.push_str(&part.to_string_lossy());
        }
        if out.is_empty() {
            out.push('/');
        }
        Some(out)
    }

    /// The real on-disk path of a root-relative path, every link resolved inside the root.
    fn real(&self, path: &str) -> Option<PathBuf> {
        let mut real = self.base.clone();
        real.extend(self.resolve(path)?);
        Some(real)
    }

    /// The bytes of a regular file, `None` when absent, unreadable or not a regular file (a
    /// FIFO or device node planted in a tree would block or never end), or over
    /// [`MAX_FILE_BYTES`] (recorded: [`Self::oversized`]).
    pub(super) fn read_bytes(&self, path: &str) -> Option<Vec<u8>> {
        self.read_bytes_within(path, MAX_FILE_BYTES)
    }

    /// [`Self::read_bytes`] with a smaller limit. The size is checked before reading (a sparse
    /// file costs nothing to stat), and the read stops past the limit whatever the size said
    /// (procfs reports 0 for every file).
    pub(super) fn read_bytes_within(&self, path: &str, limit: u64) -> Option<Vec<u8>> {
        use std::io::Read as _;
        let real = self.real(path)?;
        let meta = fs::symlink_metadata(&real).ok()?;
        if !meta.is_file() {
            return None;
        }
        let over = || {
            self.oversized.borrow_mut().insert(path.to_owned(), limit);
            None
        };
        if meta.len() > limit {
            return over();
        }
        let mut bytes = Vec::new();
        fs::File::open(real)
            .ok()?
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .ok()?;
        if bytes.len() as u64 > limit {
            return over();
        }
        Some(bytes)
    }

    /// A file as text (invalid UTF-8 replaced), `None` when absent or unreadable.
    pub(super) fn read(&self, path: &str) -> Option<String> {
        self.read_bytes(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// A one-value sysfs file, trimmed; `None` when absent, unreadable or blank.
    pub(super) fn read_value(&self, path: &str) -> Option<String> {
        let text = self.read(path)?;
        let trimmed = text.trim();
        (!trimmed.is_empty()).then(|| trimmed.to_owned())
    }

    /// A one-number sysfs file.
    pub(super) fn read_u64(&self, path: &str) -> Option<u64> {
        self.read_value(path)?.parse().ok()
    }

    /// A one-number sysfs file that fits a `u32`.
    pub(super) fn read_u32(&self, path: &str) -> Option<u32> {
        self.read_value(path)?.parse().ok()
    }

    /// Whether something exists at `path`, links followed inside the root (a dangling link does
    /// not count).
    pub(super) fn exists(&self, path: &str) -> bool {
        self.real(path)
            .is_some_and(|p| fs::symlink_metadata(p).is_ok())
    }

    /// Whether `path` is a directory.
    pub(super) fn is_dir(&self, path: &str) -> bool {
        self.real(path)
            .and_then(|p| fs::symlink_metadata(p).ok())
            .is_some_and(|m| m.is_dir())
    }

    /// Names in a directory, sorted; empty when it is absent. Names that are not UTF-8 are
    /// skipped: sysfs names are ASCII, and a lossy name could not be opened again.
    pub(super) fn list(&self, path: &str) -> Vec<String> {
        let Some(real) = self.real(path) else {
            return Vec::new();
        };
        let Ok(entries) = fs::read_dir(real) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }

    /// The last component of the target of the symlink at `path` (`driver -> …/drivers/nvidia`
    /// gives `nvidia`), without following it. `None` when `path` is not a symlink.
    pub(super) fn link_name(&self, path: &str) -> Option<String> {
        let (dir, name) = path.rsplit_once('/')?;
        let mut real = self.real(if dir.is_empty() { "/" } else { dir })?;
        real.push(name);
        let meta = fs::symlink_metadata(&real).ok()?;
        if !meta.file_type().is_symlink() {
            return None;
        }
        let target = fs::read_link(&real).ok()?;
        components(&target)
            .into_iter()
            .rev()
            .find(|c| c != "..")
            .and_then(|c| c.into_string().ok())
    }
}

/// The normal and `..` components of a path; the root and `.` carry no information here.
fn components(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// A path component in the kernel's full `dddd:bb:dd.f` form, as a PCI address. Shorter forms
/// are rejected so that SCSI (`0:0:0:0`) and USB (`1-2:1.0`) names never pass for PCI.
pub(super) fn parse_bdf(component: &str) -> Option<PciAddress> {
    let b = component.as_bytes();
    let shaped = b.len() == 12
        && b.get(4) == Some(&b':')
        && b.get(7) == Some(&b':')
        && b.get(10) == Some(&b'.');
    if !shaped {
        return None;
    }
    component.parse().ok()
}

/// The last component of a resolved path that is a PCI address: the function a device hangs
/// off (earlier ones are the bridges above it).
pub(super) fn last_bdf(resolved: &str) -> Option<PciAddress> {
    resolved.rsplit('/').find_map(parse_bdf)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::{Root, last_bdf, parse_bdf};

    #[test]
    fn bdf_shape_is_strict() {
        assert!(parse_bdf("0000:0d:00.0").is_some());
        assert!(parse_bdf("0d:00.0").is_none());
        assert!(parse_bdf("0:0:0:0").is_none());
        assert!(parse_bdf("1-2:1.0").is_none());
        assert!(parse_bdf("pci0000:00").is_none());
        assert_eq!(
            last_bdf("/sys/devices/pci0000:00/0000:00:03.1/0000:0d:00.0/nvme/nvme0/nvme0n1")
                .map(|a| a.to_string()),
            Some("0000:0d:00.0".to_owned())
        );
    }

    #[test]
    fn links_resolve_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::create_dir_all(base.join("sys/devices/pci0000:00/0000:00:02.0")).unwrap();
        std::fs::write(
            base.join("sys/devices/pci0000:00/0000:00:02.0/vendor"),
            "0x8086\n",
        )
        .unwrap();
        std::fs::create_dir_all(base.join("sys/bus/pci/devices")).unwrap();
        symlink(
            "../../../devices/pci0000:00/0000:00:02.0",
            base.join("sys/bus/pci/devices/0000:00:02.0"),
        )
        .unwrap();
        // Both escape attempts land inside the root: `..` stops at it, `/` restarts at it.
        symlink("../../../../../../../../etc", base.join("sys/up")).unwrap();
        symlink("/etc", base.join("sys/abs")).unwrap();
        symlink("loop", base.join("sys/loop")).unwrap();
        let root = Root::open(base).unwrap();
        assert_eq!(
            root.read_value("/sys/bus/pci/devices/0000:00:02.0/vendor")
                .as_deref(),
            Some("0x8086")
        );
        assert_eq!(
            root.resolve_text("/sys/up/passwd").as_deref(),
            Some("/etc/passwd")
        );
        assert_eq!(
            root.resolve_text("/sys/abs/passwd").as_deref(),
            Some("/etc/passwd")
        );
        assert!(root.read("/sys/up/passwd").is_none());
        assert!(root.read("/sys/abs/passwd").is_none());
        assert!(root.resolve("/sys/loop/x").is_none());
        assert_eq!(root.link_name("/sys/up").as_deref(), Some("etc"));
        assert_eq!(root.link_name("/sys/bus").as_deref(), None);
    }
}
