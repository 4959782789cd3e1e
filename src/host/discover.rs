//! Discovery orchestration: opens the root and asks each reader (CPU, PCI, memory, block, USB,
//! boot, pci.ids) for its part of [`HostFacts`]. Only an unusable root is an error; every
//! reader turns missing files into facts.

use std::path::Path;

use super::sysroot::Root;
use super::{HostFacts, KernelCmdline, block, boot, cpu, memory, pci, pciids, usb};

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

/// Discover the host under `root` (`/` on a live host). Reads only, spawns nothing, and never
/// follows a symlink out of `root`. The result is deterministic: every list is sorted.
pub fn discover(root: &Path) -> Result<HostFacts, HostError> {
    let tree = Root::open(root).map_err(|source| HostError::Root {
        root: root.display().to_string(),
        source,
    })?;

    let cmdline = tree
        .read("/proc/cmdline")
        .map(|t| KernelCmdline::parse(&t))
        .unwrap_or_default();
    let kernel_release = tree.read_value("/proc/sys/kernel/osrelease");
    let cpus = cpu::discover(&tree);
    let (pci, iommu_groups) = pci::discover(&tree);

    Ok(HostFacts {
        root: root.to_path_buf(),
        cpu: cpu::parse_cpuinfo(&tree.read("/proc/cpuinfo").unwrap_or_default()),
        cpus: cpus.cpus,
        numa_nodes: cpus.nodes,
        pci,
        iommu_groups,
        memory: memory::discover(&tree),
        cpufreq: cpus.cpufreq,
        kvm_device: tree.exists("/dev/kvm"),
        vfio_pci: boot::vfio_pci(&tree, kernel_release.as_deref()),
        kernel_release,
        block_devices: block::discover(&tree),
        usb: usb::discover(&tree),
        boot: boot::discover(&tree, &cmdline),
        cmdline,
        vtconsoles: vtconsoles(&tree),
        pci_names: pciids::discover(&tree),
    })
}

/// `name` of each `/sys/class/vtconsole/vtconN`, by N.
fn vtconsoles(tree: &Root) -> Vec<String> {
    const DIR: &str = "/sys/class/vtconsole";
    cpu::numbered(&tree.list(DIR), "vtcon")
        .into_iter()
        .filter_map(|n| tree.read_value(&format!("{DIR}/vtcon{n}/name")))
        .collect()
}
