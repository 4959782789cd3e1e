//! ## What it does
//! Tells you when passing a GPU leaves one of its slot's functions with the host: the HDMI
//! audio of an integrated GPU (an APU such as Raven Ridge, Cezanne or Lucienne) whose IOMMU
//! group also holds the CPU's own functions (the platform security processor, the CPU's USB
//! controllers). It names the group and the functions.
//!
//! ## Why
//! An APU's display function sits in one slot with CPU functions the host needs. Passing the
//! audio would drag its whole group along — the PSP and the USB controllers the keyboard hangs
//! off — so passplan gives the guest the display function only and says so, instead of either
//! taking the host's USB or silently dropping the audio.
//!
//! ## Example
//! ```kdl
//! gpu "vega" { pci "38:00.0"; role "guest" }
//! ```
//! on a Raven Ridge board where `38:00.1` (HDMI audio) shares group 12 with `38:00.2` (PSP) and
//! `38:00.3`/`38:00.4` (USB). The guest gets `38:00.0`; to take the audio anyway, list it with
//! `functions "0" "1"` and pass the rest of the group too.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};

pub(super) const CODE: Code = Code("device/function-stays");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for device in cx.spec.devices.iter().filter(|d| d.is_gpu && d.is_guest()) {
        for (address, why) in cx.passing(device).stays {
            out.push(
                Diagnostic::notice(
                    CODE,
                    format!(
                        "`{}` is an integrated GPU: the guest gets {} without its audio {}",
                        device.name.value,
                        device.pci.value.short(),
                        address.short()
                    ),
                )
                .at(device.pci.span, "integrated GPU")
                .host(format!("{}: {why}", cx.describe(address)))
                .help(format!(
                    "nothing to do if the guest needs no HDMI audio; to take it anyway write functions \"{}\" \"{}\" and pass the rest of its group",
                    device.pci.value.function, address.function
                )),
            );
        }
    }
}
