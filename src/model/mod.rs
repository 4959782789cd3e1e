//! Small value types shared by every stage: CPU sets, PCI addresses and ids, sizes.
//!
//! They parse the kernel's own text formats (`0-3,8-11`, `0000:0d:00.0`, `0x10de`) and the
//! spec's spellings of the same things, and print back in the kernel's canonical form, so
//! that what passplan writes can be compared with what the host reports.

mod cpuset;
mod pci;
mod size;

pub use cpuset::{CpuSet, CpuSetError};
pub(crate) use pci::parse_hex16;
pub use pci::{PciAddress, PciAddressError, PciId, PciIdError, UsbId};
pub use size::{ByteSize, ByteSizeError};
