//! USB devices (`/sys/bus/usb/devices/*` with `idVendor`) and the PCI controller each hangs off.

use super::UsbDevice;
use super::sysroot::{Root, last_bdf};
use crate::model::UsbId;

const DEVICES_DIR: &str = "/sys/bus/usb/devices";

/// `idVendor` and `idProduct` contents (`046d`, lowercase hex without `0x`) → an id.
pub(super) fn parse_usb_id(vendor: &str, product: &str) -> Option<UsbId> {
    format!("{}:{}", vendor.trim(), product.trim()).parse().ok()
}

/// Every USB device; interfaces (`1-2:1.0`) have no `idVendor` and are skipped. Root hubs
/// (`usb1`) are kept: they are devices too, and name their controller.
pub(super) fn discover(root: &Root) -> Vec<UsbDevice> {
    root.list(DEVICES_DIR)
        .into_iter()
        .filter_map(|name| {
            let dir = format!("{DEVICES_DIR}/{name}");
            let id = parse_usb_id(
                &root.read(&format!("{dir}/idVendor"))?,
                &root.read(&format!("{dir}/idProduct"))?,
            )?;
            Some(UsbDevice {
                id,
                product: root.read_value(&format!("{dir}/product")),
                controller: root.resolve_text(&dir).and_then(|p| last_bdf(&p)),
                sysfs_name: name,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_usb_id;

    #[test]
    fn usb_ids_without_prefix() {
        let id = parse_usb_id("046d\n", "c52b\n").unwrap();
        assert_eq!((id.vendor, id.product), (0x046d, 0xc52b));
        assert!(parse_usb_id("", "c52b").is_none());
        assert!(parse_usb_id("zzzz", "c52b").is_none());
    }
}
