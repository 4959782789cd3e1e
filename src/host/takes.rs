//! What passing a PCI function to a guest takes from the host: the functions that go with it,
//! the functions of its slot that stay with the host (and why), and the other endpoints of
//! their IOMMU groups that must go along for the groups to be viable.
//!
//! A `device` is exactly its own function: the other functions of a multi-function slot are
//! often unrelated host devices (the rear USB controller `0b:00.3` of a Matisse CPU shares its
//! slot with the platform security processor `0b:00.1` and the onboard audio `0b:00.4`). A GPU
//! is a card: a discrete card's slot holds only the card's own functions (VGA or 3D, HDMI
//! audio, the USB-C xHCI and UCSI of Turing cards), possibly in several groups behind the
//! card's own switch. An integrated GPU (an APU) shares its slot with CPU functions of another
//! vendor (PSP, USB, audio coprocessor): it takes its display function, and its HDMI audio only
//! when that audio's group holds none of those CPU functions.

use super::{HostFacts, PciDevice, class_name};
use crate::model::PciAddress;

/// What passing one declared function takes ([`HostFacts::passing`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Passing {
    /// The functions given to the guest, ascending.
    pub functions: Vec<PciAddress>,
    /// Functions of the slot that stay with the host, each with the reason.
    pub stays: Vec<(PciAddress, String)>,
    /// Other endpoints of the groups of `functions` (bridges excepted), which must be given to
    /// the same guest too for the groups to be viable; ascending.
    pub group_peers: Vec<PciAddress>,
}

/// The PCI class of HD audio (`0x0403`).
const HD_AUDIO: u16 = 0x0403;

impl HostFacts {
    /// Whether the GPU at `address` is integrated in the CPU (an APU): its slot holds functions
    /// of another vendor than the GPU's (the PSP, the CPU's USB controllers).
    pub fn is_integrated_gpu(&self, address: PciAddress) -> bool {
        let Some(gpu) = self.pci.get(&address) else {
            return false;
        };
        self.slot_functions(address)
            .iter()
            .filter_map(|a| self.pci.get(a))
            .any(|d| !d.is_placeholder() && d.id.vendor != gpu.id.vendor)
    }

    /// What passing the function at `address` takes, declared as a GPU (`gpu`) or not.
    /// A function the host lacks takes just its address.
    pub fn passing(&self, address: PciAddress, gpu: bool) -> Passing {
        let mut out = Passing::default();
        match self.pci.get(&address) {
            None => out.functions.push(address),
            Some(_) if !gpu => out.functions.push(address),
            Some(found) if self.is_integrated_gpu(address) => {
                out.functions.push(address);
                for f in self.slot_functions(address) {
                    let Some(d) = self.pci.get(&f).filter(|_| f != address) else {
                        continue;
                    };
                    if d.class_prefix() != HD_AUDIO || d.id.vendor != found.id.vendor {
                        continue;
                    }
                    let cpu_peers: Vec<&PciDevice> = self
                        .group_peers(f)
                        .iter()
                        .filter_map(|a| self.pci.get(a))
                        .filter(|p| {
                            p.address != address && !p.is_bridge() && p.id.vendor != found.id.vendor
                        })
                        .collect();
                    if cpu_peers.is_empty() {
                        out.functions.push(f);
                    } else {
                        let list: Vec<String> = cpu_peers
                            .iter()
                            .map(|p| format!("{} {}", p.address.short(), cpu_function_name(p)))
                            .collect();
                        out.stays.push((
                            f,
                            format!(
                                "the HDMI audio of an integrated GPU shares IOMMU group {} with the CPU's own functions ({}); it stays with the host",
                                d.iommu_group.unwrap_or_default(),
                                list.join(", ")
                            ),
                        ));
                    }
                }
            }
            Some(_) => out.functions = self.slot_functions(address),
        }
        out.functions.sort_unstable();
        out.functions.dedup();
        let mut peers = Vec::new();
        for f in &out.functions {
            for p in self.group_peers(*f) {
                let endpoint = self.pci.get(&p).is_some_and(|d| !d.is_bridge());
                if endpoint && !out.functions.contains(&p) && !peers.contains(&p) {
                    peers.push(p);
                }
            }
        }
        peers.sort_unstable();
        out.group_peers = peers;
        out
    }
}

/// `the platform security processor`, `USB controller`: what a CPU function next to an
/// integrated GPU is.
fn cpu_function_name(d: &PciDevice) -> &'static str {
    match d.class >> 8 {
        0x1080 => "the platform security processor",
        _ => class_name(d.class),
    }
}
