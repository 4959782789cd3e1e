//! ## What it does
//! Reports a spec that gives every display controller of the host to guests, without
//! single-GPU handoff, on a host that is not declared `headless`.
//!
//! ## Why
//! With no display left and nothing releasing it, the host's console and display manager keep
//! the card: the VM fails to start, or the host goes dark with no way back but a reboot.
//!
//! ## Example
//! ```kdl
//! gpu "3080ti" { pci "01:00.0"; role "guest" }
//! ```
//! on a host with no other GPU: add `handoff "single-gpu"` (the hook tree stops the display
//! manager and releases the console before the VM starts, and restores them after), keep a GPU
//! for the host, or declare `host { headless }` for a server you reach over the network.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};

pub(super) const CODE: Code = Code("display/none-left");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    if cx.spec.host.headless.is_some() || cx.spec.devices.iter().any(|d| d.handoff.is_some()) {
        return;
    }
    let displays: Vec<_> = cx.host.pci.values().filter(|d| d.is_gpu()).collect();
    if displays.is_empty() || displays.iter().any(|d| cx.takers(d.address).is_empty()) {
        return;
    }
    let Some(guest) = cx.spec.devices.iter().find(|d| {
        d.is_gpu
            && d.is_guest()
            && cx
                .host_device(d)
                .is_some_and(crate::host::PciDevice::is_gpu)
    }) else {
        return;
    };
    let list: Vec<String> = displays.iter().map(|d| cx.describe(d.address)).collect();
    out.push(
        Diagnostic::error(CODE, "every display controller of the host goes to a guest, and nothing hands the display over")
            .at(guest.name.span, "the host's last display")
            .host(list.join("; "))
            .help("add handoff \"single-gpu\" to this GPU; or keep a GPU for the host (role \"host\"); or declare host { headless } if the host needs no display"),
    );
}
