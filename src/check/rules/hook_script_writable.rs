//! ## What it does
//! Warns when one of your hook scripts (`hook … script=`) can be changed by a user other than
//! root: the file, or a directory above it, is owned by another user or writable by a group or
//! by everyone.
//!
//! ## Why
//! libvirt runs hook scripts as root at every VM start and stop. Whoever can edit the script, or
//! rename and replace it through a directory they can write, runs their commands as root the
//! next time the VM starts.
//!
//! ## Example
//! `hook "prepare/begin" script="/home/alice/notify.sh"` with the script owned by alice: move it
//! where only root can write (`/usr/local/lib/passplan-hooks/`, owned by root, mode `0755`), or
//! `chown root:root` it and every directory above it and `chmod go-w` them.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};

pub(super) const CODE: Code = Code("hook/script-writable");

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    for vm in &cx.spec.vms {
        for hook in &vm.hooks {
            let Some(who) = cx.scripts.get(&hook.script.value) else {
                continue;
            };
            out.push(
                Diagnostic::warning(
                    CODE,
                    format!(
                        "the hook script of VM {} can be changed by a user other than root, and libvirt runs it as root",
                        vm.name.value
                    ),
                )
                .at(hook.script.span, "runs as root at every start")
                .host(who.clone())
                .help("make the script and every directory above it owned by root and not writable by group or others (`chown root:root`, `chmod go-w`), or move it under a root-only directory"),
            );
        }
    }
}
