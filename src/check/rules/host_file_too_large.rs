//! ## What it does
//! Reports a host file that discovery left unread because it is larger than its limit: 1 MiB
//! for the configuration files passplan edits (`/etc/default/grub`, `/etc/modprobe.d/*`, loader
//! entries, …), 16 MiB for everything else (`pci.ids`, `/proc/cpuinfo`, sysfs).
//!
//! ## Why
//! Real files of these kinds are far smaller; a larger one is not the kernel's or the
//! distribution's, and reading it whole could exhaust memory (a 1.5 GB sparse `pci.ids` once
//! took 3 GB). Taking it as absent would be wrong too: passplan would plan from missing facts,
//! or write a new configuration file over one it never read. A configuration file over its
//! limit is an error; any other file is a warning (the facts it holds are unknown).
//!
//! ## Example
//! A tree whose `/etc/default/grub` is 2 MiB: find out what wrote it, and shrink it back to the
//! settings it should hold.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::model::ByteSize;

pub(super) const CODE: Code = Code("host/file-too-large");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for file in &cx.host.oversized {
        let edited = ["/etc/", "/boot/", "/efi/"]
            .iter()
            .any(|dir| file.path.starts_with(dir));
        let limit = ByteSize(file.limit);
        let message = format!(
            "{} is larger than {limit}, the most passplan reads of such a file",
            file.path.escape_debug()
        );
        let diagnostic = if edited {
            Diagnostic::error(CODE, message)
        } else {
            Diagnostic::warning(CODE, message)
        };
        out.push(
            diagnostic
                .host(format!("{} is over {limit}", file.path.escape_debug()))
                .help(if edited {
                    "passplan edits this file and will not plan from a file it could not read: find out what made it this large and shrink it to the settings it should hold"
                } else {
                    "the facts it holds are unknown to every check: find out what made it this large (a real one is far smaller)"
                }),
        );
    }
}
