//! PCI addresses (`0000:0d:00.0`), PCI ids (`10de:2206`) and USB ids (`046d:c52b`).

use std::fmt;
use std::str::FromStr;

/// A PCI function address: domain, bus, device (slot), function. Displays in the kernel's
/// sysfs form `0000:0d:00.0`; [`PciAddress::short`] gives lspci's `0d:00.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PciAddress {
    /// PCI domain (segment), usually 0.
    pub domain: u16,
    /// Bus number.
    pub bus: u8,
    /// Device (slot) number, 0..=31.
    pub device: u8,
    /// Function number, 0..=7.
    pub function: u8,
}

/// Why a PCI address did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not a PCI address: write it as lspci shows it, like `0d:00.0` or `0000:0d:00.0`"
)]
pub struct PciAddressError {
    /// The offending text.
    pub text: String,
}

impl PciAddress {
    /// lspci's short form without the domain (`0d:00.0`), or with it when it is not 0.
    pub fn short(&self) -> String {
        if self.domain == 0 {
            format!("{:02x}:{:02x}.{:x}", self.bus, self.device, self.function)
        } else {
            self.to_string()
        }
    }

    /// The slot this function belongs to (function 0 of the same device).
    #[must_use]
    pub fn slot(&self) -> Self {
        Self {
            function: 0,
            ..*self
        }
    }

    /// Whether `other` is another function of the same slot.
    pub fn same_slot(&self, other: &Self) -> bool {
        self.slot() == other.slot()
    }
}

impl FromStr for PciAddress {
    type Err = PciAddressError;

    /// Accepts `0000:0d:00.0`, `0d:00.0`, and libvirt's node-device name `pci_0000_0d_00_0`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || PciAddressError {
            text: text.to_owned(),
        };
        let trimmed = text.trim();
        let normal;
        let s = if let Some(rest) = trimmed.strip_prefix("pci_") {
            // pci_0000_0d_00_0 → 0000:0d:00.0
            let parts: Vec<&str> = rest.split('_').collect();
            if parts.len() != 4 {
                return Err(err());
            }
            normal = format!("{}:{}:{}.{}", parts[0], parts[1], parts[2], parts[3]);
            normal.as_str()
        } else {
            trimmed
        };
        let (head, function) = s.rsplit_once('.').ok_or_else(err)?;
        let mut fields: Vec<&str> = head.split(':').collect();
        let domain = if fields.len() == 3 {
            fields.remove(0)
        } else {
            "0"
        };
        if fields.len() != 2 {
            return Err(err());
        }
        let hex = |t: &str, max_len: usize| -> Result<u32, PciAddressError> {
            if t.is_empty() || t.len() > max_len || !t.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(err());
            }
            u32::from_str_radix(t, 16).map_err(|_| err())
        };
        let domain = hex(domain, 4)?;
        let bus = hex(fields[0], 2)?;
        let device = hex(fields[1], 2)?;
        let function = hex(function, 1)?;
        if device > 31 || function > 7 {
            return Err(err());
        }
        Ok(Self {
            domain: u16::try_from(domain).map_err(|_| err())?,
            bus: u8::try_from(bus).map_err(|_| err())?,
            device: u8::try_from(device).map_err(|_| err())?,
            function: u8::try_from(function).map_err(|_| err())?,
        })
    }
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.device, self.function
        )
    }
}

impl serde::Serialize for PciAddress {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A `vendor:device` pair as lspci `-nn` prints it (`10de:2206`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PciId {
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
}

/// Why a `vendor:device` id did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a vendor:device id: write four hex digits each, like `10de:2206`")]
pub struct PciIdError {
    /// The offending text.
    pub text: String,
}

/// Parse one 16-bit hex field as sysfs writes it (`0x10de`) or as lspci/the spec does (`10de`).
pub(crate) fn parse_hex16(text: &str) -> Option<u16> {
    let t = text.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if t.is_empty() || t.len() > 4 || !t.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(t, 16).ok()
}

impl FromStr for PciId {
    type Err = PciIdError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || PciIdError {
            text: text.to_owned(),
        };
        let (v, d) = text.trim().split_once(':').ok_or_else(err)?;
        Ok(Self {
            vendor: parse_hex16(v).ok_or_else(err)?,
            device: parse_hex16(d).ok_or_else(err)?,
        })
    }
}

impl fmt::Display for PciId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:04x}", self.vendor, self.device)
    }
}

impl serde::Serialize for PciId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A USB `vendor:product` id (`046d:c52b`). Same shape as [`PciId`], kept distinct so the two
/// cannot be confused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UsbId {
    /// idVendor.
    pub vendor: u16,
    /// idProduct.
    pub product: u16,
}

impl FromStr for UsbId {
    type Err = PciIdError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let id: PciId = text.parse()?;
        Ok(Self {
            vendor: id.vendor,
            product: id.device,
        })
    }
}

impl fmt::Display for UsbId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:04x}", self.vendor, self.product)
    }
}

impl serde::Serialize for UsbId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_address_forms() {
        let want = PciAddress {
            domain: 0,
            bus: 0x0d,
            device: 0,
            function: 0,
        };
        for text in ["0d:00.0", "0000:0d:00.0", "pci_0000_0d_00_0", " 0d:00.0\n"] {
            assert_eq!(text.parse::<PciAddress>().unwrap(), want, "{text}");
        }
        let far: PciAddress = "10000:e1:1f.7".parse().unwrap_or(want);
        assert_eq!(far, want, "a 5-digit domain is rejected");
        assert_eq!(
            "0001:82:00.1".parse::<PciAddress>().unwrap().to_string(),
            "0001:82:00.1"
        );
    }

    #[test]
    fn rejects_bad_addresses() {
        for text in [
            "",
            "0d:00",
            "0d:20.0",
            "0d:00.8",
            "zz:00.0",
            "0d:00.0.1",
            "../00.0",
        ] {
            assert!(text.parse::<PciAddress>().is_err(), "{text} should fail");
        }
    }

    #[test]
    fn short_and_slot() {
        let a: PciAddress = "0000:0d:00.3".parse().unwrap();
        assert_eq!(a.short(), "0d:00.3");
        assert_eq!(a.slot().short(), "0d:00.0");
        assert!(a.same_slot(&"0d:00.1".parse().unwrap()));
    }

    #[test]
    fn ids_from_sysfs_and_lspci() {
        assert_eq!(parse_hex16("0x10de\n"), Some(0x10de));
        assert_eq!(parse_hex16("1aef"), Some(0x1aef));
        assert_eq!(parse_hex16("0x1234567"), None);
        let id: PciId = "10de:2206".parse().unwrap();
        assert_eq!(id.to_string(), "10de:2206");
        assert!("10de".parse::<PciId>().is_err());
        let usb: UsbId = "046d:c52b".parse().unwrap();
        assert_eq!(usb.to_string(), "046d:c52b");
    }

    proptest::proptest! {
        /// Every address prints in sysfs form and reads back; the short form too.
        #[test]
        fn addresses_read_back(domain: u16, bus: u8, device in 0u8..32, function in 0u8..8) {
            let a = PciAddress { domain, bus, device, function };
            proptest::prop_assert_eq!(a.to_string().parse::<PciAddress>(), Ok(a));
            proptest::prop_assert_eq!(a.short().parse::<PciAddress>(), Ok(a));
        }

        /// Every PCI id prints as `vvvv:dddd` and reads back.
        #[test]
        fn pci_ids_read_back(vendor: u16, device: u16) {
            let id = PciId { vendor, device };
            proptest::prop_assert_eq!(id.to_string().parse::<PciId>(), Ok(id));
        }

        /// Every USB id prints as `vvvv:pppp` and reads back.
        #[test]
        fn usb_ids_read_back(vendor: u16, product: u16) {
            let id = UsbId { vendor, product };
            proptest::prop_assert_eq!(id.to_string().parse::<UsbId>(), Ok(id));
        }

        /// What parses as an address prints back to the same address.
        #[test]
        fn parsed_addresses_read_back(text in "(pci_)?[0-9a-fA-F]{0,5}[:_]?[0-9a-fA-F]{1,3}[:_][0-9a-fA-F]{1,3}[._][0-9]{1,2}") {
            if let Ok(a) = text.parse::<PciAddress>() {
                proptest::prop_assert_eq!(a.to_string().parse::<PciAddress>(), Ok(a));
            }
        }
    }
}
