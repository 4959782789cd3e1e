//! PCI functions (`/sys/bus/pci/devices/<BDF>`) and IOMMU groups (`/sys/kernel/iommu_groups`).
//!
//! A group member without a readable device directory still gets a [`PciDevice`], marked as a
//! placeholder (id `ffff:ffff`, what config space reads back for an absent function). Dropping
//! it instead would make its group look smaller, and so more viable for passthrough, than it is.

use std::collections::{BTreeMap, BTreeSet};

use super::PciDevice;
use super::sysroot::{Root, parse_bdf};
use crate::model::parse_hex16;
use crate::model::{PciAddress, PciId};

const DEVICES_DIR: &str = "/sys/bus/pci/devices";
const GROUPS_DIR: &str = "/sys/kernel/iommu_groups";

/// The id given to a function whose `vendor`/`device` cannot be read.
pub(super) const PLACEHOLDER_ID: PciId = PciId {
    vendor: 0xffff,
    device: 0xffff,
};

/// `0x030000` → the 24-bit class code.
pub(super) fn parse_class(text: &str) -> Option<u32> {
    let t = text.trim();
    let hex = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if hex.is_empty() || hex.len() > 6 {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

/// `numa_node`: `-1` (and anything else not a node number) is no node.
pub(super) fn parse_numa_node(text: &str) -> Option<u32> {
    text.trim().parse().ok()
}

/// `vendor` and `device` files → an id.
fn read_id(root: &Root, dir: &str, vendor: &str, device: &str) -> Option<PciId> {
    Some(PciId {
        vendor: parse_hex16(&root.read(&format!("{dir}/{vendor}"))?)?,
        device: parse_hex16(&root.read(&format!("{dir}/{device}"))?)?,
    })
}

/// One function's directory → its facts. `iommu_group` comes from the link only; the caller
/// fills gaps from the groups directory.
fn read_device(root: &Root, address: PciAddress) -> PciDevice {
    let dir = format!("{DEVICES_DIR}/{address}");
    PciDevice {
        address,
        id: read_id(root, &dir, "vendor", "device").unwrap_or(PLACEHOLDER_ID),
        subsystem: read_id(root, &dir, "subsystem_vendor", "subsystem_device"),
        class: root
            .read(&format!("{dir}/class"))
            .and_then(|t| parse_class(&t))
            .unwrap_or(0),
        driver: root.link_name(&format!("{dir}/driver")),
        boot_vga: root
            .read_value(&format!("{dir}/boot_vga"))
            .map(|v| v == "1"),
        numa_node: root
            .read(&format!("{dir}/numa_node"))
            .and_then(|t| parse_numa_node(&t)),
        iommu_group: root
            .link_name(&format!("{dir}/iommu_group"))
            .and_then(|g| g.parse().ok()),
    }
}

/// A function with nothing known but its address and group.
fn placeholder(address: PciAddress, group: u32) -> PciDevice {
    PciDevice {
        address,
        id: PLACEHOLDER_ID,
        subsystem: None,
        class: 0,
        driver: None,
        boot_vga: None,
        numa_node: None,
        iommu_group: Some(group),
    }
}

/// Every PCI function and IOMMU group. Groups are the union of the groups directory and the
/// devices' `iommu_group` links (a copied tree may carry only one of them), so that the two
/// views agree: every member is a key of the device map, with that group number.
pub(super) fn discover(
    root: &Root,
) -> (
    BTreeMap<PciAddress, PciDevice>,
    BTreeMap<u32, Vec<PciAddress>>,
) {
    let mut devices: BTreeMap<PciAddress, PciDevice> = root
        .list(DEVICES_DIR)
        .iter()
        .filter_map(|name| parse_bdf(name))
        .map(|address| (address, read_device(root, address)))
        .collect();

    let mut groups: BTreeMap<u32, BTreeSet<PciAddress>> = BTreeMap::new();
    for name in root.list(GROUPS_DIR) {
        let Ok(group) = name.parse::<u32>() else {
            continue;
        };
        let members = root.list(&format!("{GROUPS_DIR}/{name}/devices"));
        let entry = groups.entry(group).or_default();
        entry.extend(members.iter().filter_map(|m| parse_bdf(m)));
        // A group with no members says nothing; keep "empty ⇒ IOMMU off" meaningful.
        if entry.is_empty() {
            groups.remove(&group);
        }
    }
    for device in devices.values() {
        if let Some(group) = device.iommu_group {
            groups.entry(group).or_default().insert(device.address);
        }
    }
    for (group, members) in &groups {
        for address in members {
            let device = devices
                .entry(*address)
                .or_insert_with(|| placeholder(*address, *group));
            // The groups directory is the kernel's authority when a link is missing or
            // disagrees (it cannot on a live host: both come from the same `iommu_group`).
            device.iommu_group = Some(*group);
        }
    }
    // A function listed in two groups (only in a corrupt tree) stays in the one it was
    // assigned last above; drop it from the others so every member's group points back.
    let groups = groups
        .into_iter()
        .map(|(group, members)| {
            let members: Vec<PciAddress> = members
                .into_iter()
                .filter(|a| devices.get(a).and_then(|d| d.iommu_group) == Some(group))
                .collect();
            (group, members)
        })
        .filter(|(_, members)| !members.is_empty())
        .collect();
    (devices, groups)
}

#[cfg(test)]
mod tests {
    use super::{parse_class, parse_numa_node};
    use crate::model::parse_hex16;

    #[test]
    fn sysfs_number_formats() {
        assert_eq!(parse_hex16("0x10de\n"), Some(0x10de));
        assert_eq!(parse_class("0x030000\n"), Some(0x03_0000));
        assert_eq!(parse_class("0x0c0330"), Some(0x0c_0330));
        assert_eq!(parse_class("0x1234567"), None);
        assert_eq!(parse_class(""), None);
        assert_eq!(parse_class("0xzz"), None);
        assert_eq!(parse_numa_node("-1\n"), None);
        assert_eq!(parse_numa_node("1\n"), Some(1));
    }
}
