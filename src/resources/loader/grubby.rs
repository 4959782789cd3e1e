//! GRUB with BLS entries (Fedora, RHEL): grubby owns the entries, `grubenv`, `/etc/default/grub`
//! and `/etc/kernel/cmdline` together, so passplan edits no file and runs
//! `grubby --update-kernel=ALL --args="<tokens>"` instead. grubby replaces an existing `key=`
//! rather than duplicating it (FACTS §1), the same rule as [`super::tokens`].
//!
//! Removing tokens passplan owned before (`--remove-args`) needs the ownership state of the
//! next issue; until then only `--args` is emitted. The desired tokens go into a note, since
//! there is no artifact to show them.

use crate::compile::Desired;
use crate::host::CmdlineToken;

/// The grubby step for `want`, and a note naming the tokens.
pub(super) fn emit(want: &[CmdlineToken], out: &mut Desired) {
    let line = super::joined(want);
    out.steps.push(super::step(
        &["grubby", "--update-kernel=ALL", &format!("--args={line}")],
        "grubby writes the kernel arguments into every boot entry",
    ));
    out.notes.push(format!(
        "grubby manages the kernel command line: passplan asks it for {line}"
    ));
}
