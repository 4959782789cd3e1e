//! The spec language's vocabulary: every node, its arguments, properties and children.
//!
//! One table serves three masters: the decoder asks it whether a name is known (and for
//! did-you-mean candidates), `schema/spec.kdl` is tested against it name for name, and
//! `docs/spec.md` is written from it. A node the decoder reads but this table lacks is a bug
//! caught by a debug assertion.

/// What a node may carry.
#[derive(Debug, Clone, Copy)]
pub struct NodeDef {
    /// Dotted path from the document root (`vm.cpu.pin`).
    pub path: &'static str,
    /// Positional arguments: a short description, or `""` when none are allowed.
    pub args: &'static str,
    /// Property names.
    pub props: &'static [&'static str],
    /// Whether the node may appear more than once under its parent.
    pub repeatable: bool,
    /// One line of documentation.
    pub doc: &'static str,
}

/// The whole language. Order is documentation order.
pub const GRAMMAR: &[NodeDef] = &[
    NodeDef {
        path: "host",
        args: "name?",
        props: &[],
        repeatable: false,
        doc: "The host: boot configuration, libvirt connection, bridges.",
    },
    NodeDef {
        path: "host.boot",
        args: "",
        props: &[],
        repeatable: false,
        doc: "Kernel command line, initramfs and boot-time reservations.",
    },
    NodeDef {
        path: "host.boot.loader",
        args: "auto|grub|grubby|kernelstub|systemd-boot",
        props: &[],
        repeatable: false,
        doc: "Which mechanism owns the kernel command line (auto-detected by default).",
    },
    NodeDef {
        path: "host.boot.initramfs",
        args: "auto|initramfs-tools|dracut|mkinitcpio|booster",
        props: &[],
        repeatable: false,
        doc: "Which initramfs generator the host uses (auto-detected by default).",
    },
    NodeDef {
        path: "host.boot.iommu",
        args: "",
        props: &["mode"],
        repeatable: false,
        doc: "Turn the IOMMU on (`on`) or on with host identity mapping (`pt`); the right flag for the CPU vendor is chosen.",
    },
    NodeDef {
        path: "host.boot.acs-override",
        args: "downstream|multifunction|id:vvvv:dddd ...",
        props: &[],
        repeatable: false,
        doc: "The out-of-tree ACS override patch's parameter. Weakens isolation: explicit opt-in only.",
    },
    NodeDef {
        path: "host.boot.param",
        args: "token ...",
        props: &[],
        repeatable: true,
        doc: "Extra kernel parameters passplan owns.",
    },
    NodeDef {
        path: "host.boot.hugepages",
        args: "",
        props: &["size", "count"],
        repeatable: false,
        doc: "Hugepages reserved at boot beyond what static-hugepage VMs need.",
    },
    NodeDef {
        path: "host.libvirt",
        args: "",
        props: &["uri"],
        repeatable: false,
        doc: "The libvirt connection (default `qemu:///system`).",
    },
    NodeDef {
        path: "host.headless",
        args: "",
        props: &[],
        repeatable: false,
        doc: "The host needs no display: it is a server, reached over the network.",
    },
    NodeDef {
        path: "host.bridge",
        args: "name",
        props: &["interface", "backend", "dhcp"],
        repeatable: true,
        doc: "A host bridge over a physical interface, for bridged guest networking.",
    },
    NodeDef {
        path: "gpu",
        args: "name",
        props: &[],
        repeatable: true,
        doc: "A graphics card: identity, location and role.",
    },
    NodeDef {
        path: "gpu.pci",
        args: "address",
        props: &["id", "subsystem"],
        repeatable: false,
        doc: "Where the card is (`0d:00.0`) and, optionally, what it is (`id=\"10de:2206\"`).",
    },
    NodeDef {
        path: "gpu.functions",
        args: "function ...",
        props: &[],
        repeatable: false,
        doc: "Which functions of the card's slot the guest takes (`\"0\" \"1\"`), when the default (the whole card) is not what you want.",
    },
    NodeDef {
        path: "gpu.role",
        args: "host|guest",
        props: &[],
        repeatable: false,
        doc: "Whether the host keeps the card or a guest gets it.",
    },
    NodeDef {
        path: "gpu.bind",
        args: "vm-start|boot",
        props: &["by"],
        repeatable: false,
        doc: "When vfio-pci takes a guest card: when its VM starts (default) or at boot.",
    },
    NodeDef {
        path: "gpu.handoff",
        args: "single-gpu",
        props: &["display-manager"],
        repeatable: false,
        doc: "Hand the host's only display to the guest while the VM runs.",
    },
    NodeDef {
        path: "device",
        args: "name",
        props: &[],
        repeatable: true,
        doc: "Any other PCI device a guest may take (NVMe, USB or SATA controller, NIC).",
    },
    NodeDef {
        path: "device.pci",
        args: "address",
        props: &["id", "subsystem"],
        repeatable: false,
        doc: "Where the device is and, optionally, what it is.",
    },
    NodeDef {
        path: "device.functions",
        args: "function ...",
        props: &[],
        repeatable: false,
        doc: "Which functions of the device's slot the guest takes (`\"0\" \"1\"`); by default only the function at `pci`.",
    },
    NodeDef {
        path: "device.bind",
        args: "vm-start|boot",
        props: &["by"],
        repeatable: false,
        doc: "When vfio-pci takes the device.",
    },
    NodeDef {
        path: "vm",
        args: "name",
        props: &[],
        repeatable: true,
        doc: "A guest.",
    },
    NodeDef {
        path: "vm.memory",
        args: "size",
        props: &["hugepages", "page-size"],
        repeatable: false,
        doc: "Guest memory, and how it is backed (`none`, `dynamic`, `static` hugepages).",
    },
    NodeDef {
        path: "vm.cpu",
        args: "",
        props: &[],
        repeatable: false,
        doc: "vCPUs, topology, pinning, placement and isolation.",
    },
    NodeDef {
        path: "vm.cpu.vcpus",
        args: "count",
        props: &["threads", "sockets"],
        repeatable: false,
        doc: "vCPU count and guest topology (threads per core).",
    },
    NodeDef {
        path: "vm.cpu.pin",
        args: "",
        props: &["cores", "cpus", "policy", "reserve", "prefer"],
        repeatable: false,
        doc: "Which host CPUs run the vCPUs: whole cores, an explicit list, or a policy.",
    },
    NodeDef {
        path: "vm.cpu.emulator",
        args: "cpus",
        props: &[],
        repeatable: false,
        doc: "Host CPUs for QEMU's emulator threads.",
    },
    NodeDef {
        path: "vm.cpu.iothreads",
        args: "count",
        props: &["cpus"],
        repeatable: false,
        doc: "I/O threads and the host CPUs they run on.",
    },
    NodeDef {
        path: "vm.cpu.governor",
        args: "governor",
        props: &[],
        repeatable: false,
        doc: "cpufreq governor while the VM runs; the previous one is restored after.",
    },
    NodeDef {
        path: "vm.cpu.isolate",
        args: "none|dynamic|boot",
        props: &[],
        repeatable: false,
        doc: "Keep the host off the guest's CPUs: while it runs (systemd) or from boot (kernel).",
    },
    NodeDef {
        path: "vm.firmware",
        args: "uefi|bios",
        props: &["secure-boot"],
        repeatable: false,
        doc: "Guest firmware.",
    },
    NodeDef {
        path: "vm.machine",
        args: "type",
        props: &[],
        repeatable: false,
        doc: "QEMU machine type (default `q35`).",
    },
    NodeDef {
        path: "vm.accel",
        args: "kvm|tcg",
        props: &[],
        repeatable: false,
        doc: "How the guest CPU runs: KVM (default), or TCG emulation (slow; for tests and hosts without virtualisation).",
    },
    NodeDef {
        path: "vm.passthrough",
        args: "device ...",
        props: &[],
        repeatable: true,
        doc: "Devices given to the guest, by name (every function of the slot).",
    },
    NodeDef {
        path: "vm.usb",
        args: "vvvv:pppp ...",
        props: &[],
        repeatable: true,
        doc: "USB devices given to the guest, by vendor:product.",
    },
    NodeDef {
        path: "vm.usb-controller",
        args: "device ...",
        props: &[],
        repeatable: true,
        doc: "PCI USB controllers given whole (declared as `device`).",
    },
    NodeDef {
        path: "vm.disk",
        args: "path",
        props: &[
            "bus",
            "cache",
            "io",
            "discard",
            "queues",
            "iothread",
            "format",
            "readonly",
            "shareable",
        ],
        repeatable: true,
        doc: "A virtual disk backed by a file or block device.",
    },
    NodeDef {
        path: "vm.cdrom",
        args: "path",
        props: &[],
        repeatable: true,
        doc: "An ISO image attached as a CD-ROM.",
    },
    NodeDef {
        path: "vm.network",
        args: "",
        props: &["bridge", "network", "model", "mac"],
        repeatable: true,
        doc: "A network interface on a host bridge or a libvirt network.",
    },
    NodeDef {
        path: "vm.hyperv",
        args: "",
        props: &["vendor-id"],
        repeatable: false,
        doc: "Hyper-V enlightenments (a sensible default set), and the vendor id.",
    },
    NodeDef {
        path: "vm.hyperv.enable",
        args: "feature ...",
        props: &[],
        repeatable: true,
        doc: "Enlightenments to add to the default set.",
    },
    NodeDef {
        path: "vm.hyperv.disable",
        args: "feature ...",
        props: &[],
        repeatable: true,
        doc: "Enlightenments to remove from the default set.",
    },
    NodeDef {
        path: "vm.hide-kvm",
        args: "",
        props: &[],
        repeatable: false,
        doc: "Hide the KVM signature from the guest (NVIDIA error 43).",
    },
    NodeDef {
        path: "vm.smbios",
        args: "host|none?",
        props: &[],
        repeatable: false,
        doc: "SMBIOS identity: copied from the host, explicit values (children), or none.",
    },
    NodeDef {
        path: "vm.smbios.bios",
        args: "",
        props: &["vendor", "version", "date", "release"],
        repeatable: false,
        doc: "SMBIOS type 0 values.",
    },
    NodeDef {
        path: "vm.smbios.system",
        args: "",
        props: &[
            "manufacturer",
            "product",
            "version",
            "serial",
            "uuid",
            "sku",
            "family",
        ],
        repeatable: false,
        doc: "SMBIOS type 1 values.",
    },
    NodeDef {
        path: "vm.clock",
        args: "utc|localtime",
        props: &["hpet"],
        repeatable: false,
        doc: "Guest clock offset and timers.",
    },
    NodeDef {
        path: "vm.hook",
        args: "phase",
        props: &["script"],
        repeatable: true,
        doc: "Your own script, run by the hook tree in a phase (`prepare/begin`, …).",
    },
];

impl NodeDef {
    /// How many positional arguments the node takes: (at least, at most).
    pub fn arg_bounds(&self) -> (usize, usize) {
        if self.args.is_empty() {
            (0, 0)
        } else if self.args.ends_with("...") {
            (1, usize::MAX)
        } else if self.args.ends_with('?') {
            (0, 1)
        } else {
            (1, 1)
        }
    }
}

/// The definition at `path`, if any.
pub fn node_def(path: &str) -> Option<&'static NodeDef> {
    GRAMMAR.iter().find(|d| d.path == path)
}

/// The names of the children allowed under `parent` (`""` for the document root).
pub fn child_names(parent: &str) -> Vec<&'static str> {
    GRAMMAR
        .iter()
        .filter_map(|d| {
            let (head, last) = match d.path.rsplit_once('.') {
                Some((head, last)) => (head, last),
                None => ("", d.path),
            };
            (head == parent).then_some(last)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parent_path_is_itself_defined() {
        for def in GRAMMAR {
            if let Some((parent, _)) = def.path.rsplit_once('.') {
                assert!(
                    node_def(parent).is_some(),
                    "{} has no parent definition",
                    def.path
                );
            }
        }
    }

    #[test]
    fn paths_are_unique() {
        let mut paths: Vec<_> = GRAMMAR.iter().map(|d| d.path).collect();
        paths.sort_unstable();
        let before = paths.len();
        paths.dedup();
        assert_eq!(before, paths.len());
    }

    #[test]
    fn children_of_root() {
        assert_eq!(child_names(""), vec!["host", "gpu", "device", "vm"]);
    }
}
