//! The pci.ids database (vendor and device names) for display.
//!
//! Format: a vendor line `10de  NVIDIA Corporation`, its devices on lines with one leading
//! tab (`\t2206  GA102 [GeForce RTX 3080]`), subsystems with two tabs (skipped), and from the
//! first `C xx  Class` line on, the class list (skipped). Anything else is ignored.

use super::PciNames;
use super::sysroot::Root;
use crate::model::parse_hex16;

/// Where distributions install pci.ids, most common first.
const LOCATIONS: [&str; 3] = [
    "/usr/share/misc/pci.ids",
    "/usr/share/hwdata/pci.ids",
    "/usr/share/pci.ids",
];

/// `hhhh  Name` → id and name. The id must be exactly four hex digits.
fn id_and_name(line: &str) -> Option<(u16, String)> {
    let (id, name) = line.split_once(|c: char| c.is_ascii_whitespace())?;
    if id.len() != 4 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let id = parse_hex16(id)?;
    let name = name.trim();
    (!name.is_empty()).then(|| (id, name.to_owned()))
}

/// Parse pci.ids text.
pub(super) fn parse(text: &str) -> PciNames {
    let mut names = PciNames::default();
    let mut vendor: Option<u16> = None;
    for line in text.lines() {
        if line.starts_with("C ") {
            // The class section runs to the end of the file.
            break;
        }
        if line.starts_with('#') || line.trim().is_empty() || line.starts_with("\t\t") {
            continue;
        }
        if let Some(rest) = line.strip_prefix('\t') {
            if let (Some(v), Some((device, name))) = (vendor, id_and_name(rest)) {
                names.devices.insert((v, device), name);
            }
        } else {
            vendor = id_and_name(line).map(|(id, name)| {
                names.vendors.insert(id, name);
                id
            });
        }
    }
    names
}

/// The first pci.ids found on the host, or no names.
pub(super) fn discover(root: &Root) -> PciNames {
    LOCATIONS
        .iter()
        .find_map(|p| root.read(p))
        .map(|t| parse(&t))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn vendors_devices_and_noise() {
        let text = "# header\n#\n10de  NVIDIA Corporation\n\t2206  GA102 [GeForce RTX 3080]\n\
                    \t\t10de 1467  GA102 [GeForce RTX 3080 Founders Edition]\n\t1aef  GA102 High Definition Audio Controller\n\
                    garbage line without id\n\tbeef  orphan device after garbage\n1002  Advanced Micro Devices, Inc. [AMD/ATI]\n\
                    \t73bf  Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]\n\tzz  bad\n\
                    C 03  Display controller\n\t00  VGA compatible controller\nffff  Not a vendor after classes\n";
        let names = parse(text);
        assert_eq!(names.vendors.len(), 2);
        assert_eq!(
            names.vendors.get(&0x10de).map(String::as_str),
            Some("NVIDIA Corporation")
        );
        assert_eq!(
            names.devices.get(&(0x10de, 0x2206)).map(String::as_str),
            Some("GA102 [GeForce RTX 3080]")
        );
        assert!(names.devices.contains_key(&(0x10de, 0x1aef)));
        assert!(
            !names.devices.contains_key(&(0x10de, 0xbeef)),
            "garbage resets the vendor"
        );
        assert!(names.devices.contains_key(&(0x1002, 0x73bf)));
        assert_eq!(names.devices.len(), 3);
        assert!(!names.vendors.contains_key(&0xffff));
    }
}
