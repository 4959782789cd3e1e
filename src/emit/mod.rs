//! The emitters: one file (or folder) per target type. Each has an `emit(&Input, &mut Desired)`
//! that adds the artifacts, domains, steps and kernel tokens it is responsible for; the contract
//! is [`crate::desired`], and [`crate::compile`] runs them in [`EMITTERS`] order. Emitters are
//! pure: everything they know about the host comes from `Checked` (including the current text
//! of files they edit).

pub mod binding;
pub mod domain;
pub mod hooks;
pub mod initramfs;
pub mod kernel;
pub mod loader;
pub mod modprobe;
pub mod network;
pub(crate) mod origin;

use crate::desired::{CompileError, Desired, Input};

/// An emitter.
pub(crate) type Emit = fn(&Input<'_>, &mut Desired) -> Result<(), CompileError>;

/// Every emitter, in the order they run. Kernel tokens come first: the loader editors need them.
pub(crate) const EMITTERS: &[Emit] = &[
    kernel::emit,
    loader::emit,
    modprobe::emit,
    initramfs::emit,
    hooks::emit,
    network::emit,
    domain::emit,
];

/// The header of every file passplan owns: who manages it, and where in the spec it comes from.
/// `#` comments suit every format passplan owns whole (shell, modprobe, dracut, mkinitcpio,
/// systemd and NetworkManager keyfiles).
pub(crate) fn managed_header(origins: &[String]) -> String {
    let mut text = String::from("# Managed by passplan — do not edit; changes are overwritten.\n");
    for origin in origins {
        text.push_str("# From ");
        text.push_str(origin);
        text.push('\n');
    }
    text
}
