//! The libvirt hook tree: a dispatcher at `/etc/libvirt/hooks/qemu` and, per VM, the scripts
//! that prepare the host before the VM starts and put it back after it stops.
//!
//! libvirt runs `/etc/libvirt/hooks/qemu <vm> <op> <subop> <extra>` with the domain XML on
//! stdin, and (libvirt ≥ 6.5) also every executable file directly in `qemu.d/` for every VM.
//! So nothing is ever placed directly in `qemu.d/`: the per-VM tree
//! `qemu.d/<vm>/<op>/<subop>/NN-*.sh` is reached only through the [`dispatcher`].
//!
//! Each script kind is one file here and one script on the host; a kind that acts at two
//! phases (hugepages at prepare and release, …) installs the same content in both phase
//! directories and picks its action from `$2`, so the undo code sits next to the do code and a
//! failing prepare can undo itself. `NN` orders the scripts of a phase: at prepare the step
//! most likely to fail (hugepages) runs first, before anything disruptive (stopping the
//! display); release runs the steps in the opposite order. User scripts come after passplan's.
//!
//! State a script must carry from prepare to release lives in `/run/passplan/<vm>.<kind>`:
//! `/run` is a tmpfs, so a reboot forgets the state exactly when the kernel forgets the
//! hugepages and governors it describes.
//!
//! Every value from the spec or the host is validated here (a name, a governor, a module name)
//! and reaches a script only through [`shell::quote`]. No script calls `virsh` or any libvirt
//! client: the daemon waits for its hook, and calling back into it deadlocks.

mod dispatcher;
mod governor;
mod handoff;
mod hugepages;
mod isolation;
pub mod shell;
mod user;

use std::fmt::Write as _;

use miette::SourceSpan;

use crate::desired::{Artifact, CompileError, Desired, Input, Ownership, SpecSource};
use crate::spec::{HookPhase, Vm, validate_name};

/// Where libvirt looks for its hooks.
pub const HOOKS_DIR: &str = "/etc/libvirt/hooks";

/// One script of a VM's tree, before it gets its path.
#[derive(Debug)]
struct Placed {
    /// The phase directory (`prepare/begin`).
    phase: HookPhase,
    /// `NN`, the order within the phase.
    order: u8,
    /// The file name after `NN-` (`passplan-hugepages.sh`).
    file: String,
    /// The script.
    content: String,
    /// Why passplan wants it, for the plan.
    reason: String,
}

/// Add the hook tree of every VM that needs one, and the dispatcher when any does.
pub fn emit(input: &Input<'_>, out: &mut Desired) -> Result<(), CompileError> {
    let cx = input.checked.context();
    let mut first: Option<&Vm> = None;
    for vm in &input.checked.spec.vms {
        let name = &vm.name.value;
        // The name becomes a directory: re-check what the decoder promised, since a bad name
        // here would write outside the tree.
        validate_name(name).map_err(|e| invalid(&vm_dir(name), &format!("VM name: {e}")))?;
        let mut placed = Vec::new();
        placed.extend(hugepages::scripts(&cx, input.source, vm)?);
        placed.extend(governor::scripts(input.source, vm)?);
        placed.extend(isolation::scripts(&cx, input.source, vm, &mut out.notes));
        placed.extend(handoff::scripts(&cx, input.source, vm)?);
        placed.extend(user::scripts(input.source, vm)?);
        if placed.is_empty() {
            continue;
        }
        first.get_or_insert(vm);
        for p in placed {
            out.artifacts.push(Artifact {
                path: format!(
                    "{}/{}/{:02}-{}",
                    vm_dir(name),
                    p.phase.as_path(),
                    p.order,
                    p.file
                ),
                content: p.content,
                mode: 0o755,
                ownership: Ownership::Owned,
                // Files under qemu.d/ are found at each call; only the `qemu` hook itself is
                // cached by the daemon.
                triggers: Vec::new(),
                reason: p.reason,
            });
        }
    }
    if let Some(vm) = first {
        out.artifacts
            .push(dispatcher::artifact(&input.source.locate(&vm.name)));
    }
    Ok(())
}

/// `/etc/libvirt/hooks/qemu.d/<vm>`.
fn vm_dir(vm: &str) -> String {
    format!("{HOOKS_DIR}/qemu.d/{vm}")
}

/// A value that must never reach a script failed its check. Only a bug upstream gets here
/// (the decoder and checker validate the same things); `CompileError` has no variant for a
/// bad value, and `Edit` ("cannot edit <path>: <why>") reads right for a file passplan
/// cannot write.
fn invalid(path: &str, why: &str) -> CompileError {
    CompileError::Edit {
        path: path.to_owned(),
        why: why.to_owned(),
    }
}

/// `spec.kdl:LINE` for a bare span.
fn locate_span(source: &SpecSource, span: SourceSpan) -> String {
    source.locate_offset(span.offset())
}

/// The first lines of every script: interpreter, ownership, origin, what it does, strict mode.
fn header(from: &str, what: &str, about: &[&str]) -> String {
    let mut s = String::from("#!/bin/bash\n");
    s.push_str("# Managed by passplan — do not edit; changes are overwritten.\n");
    let _ = writeln!(s, "# From {from} ({what})");
    if !about.is_empty() {
        s.push_str("#\n");
        for line in about {
            if line.is_empty() {
                s.push_str("#\n");
            } else {
                let _ = writeln!(s, "# {line}");
            }
        }
    }
    s.push_str("set -euo pipefail\n\n");
    s
}

/// A `name=value` line with the value quoted.
fn assign(name: &str, value: &str) -> String {
    format!("{name}={}\n", shell::quote(value))
}

/// The comment above the overridable roots, shared so every script says the same thing.
const ROOTS_NOTE: &str = "# Roots are overridable for tests only: libvirt runs hooks with a minimal environment that\n# never sets these, so on a host they are always /sys, /proc and /run.\n";

/// Whether `s` is a kernel module or cpufreq governor name (`[a-z0-9_]+`).
fn is_plain_word(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_name_owner_origin_and_strict_mode() {
        let h = header("spec.kdl:3", "hugepages for VM 'w'", &["One.", "", "Two."]);
        assert_eq!(
            h,
            "#!/bin/bash\n# Managed by passplan — do not edit; changes are overwritten.\n\
             # From spec.kdl:3 (hugepages for VM 'w')\n#\n# One.\n#\n# Two.\nset -euo pipefail\n\n"
        );
    }

    #[test]
    fn plain_words_exclude_everything_shell_cares_about() {
        assert!(is_plain_word("nvidia_drm"));
        assert!(is_plain_word("performance"));
        for bad in ["", "a b", "a-b", "A", "$x", "a;b", "a\nb", "é"] {
            assert!(!is_plain_word(bad), "{bad:?}");
        }
    }
}
