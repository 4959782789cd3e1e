//! `passplan handback VM [--root DIR]`: give the display back after a single-GPU handoff whose
//! automatic release failed — from an SSH session, since the host has no screen then.
//!
//! The handoff's prepare records each step it takes in `/run/passplan/<vm>.handoff` before
//! taking it, and its release copy undoes exactly the recorded steps (keeping the record when
//! one fails). This runs that same release script, the one libvirt runs, so there is one
//! implementation of the give-back: it lists the recorded steps, runs the script, and reports
//! whether the record is gone. On a root that is not this machine the script is not run (like
//! apply's commands): only the steps are listed. It asks nothing, so it works without a
//! terminal; it never calls libvirt.

use std::io::Write;
use std::path::Path;

use super::Outcome;
use crate::emit::hooks::{handoff_record, handoff_release_script};
use crate::system::{Offline, RealSystem, System, is_live_root};

/// One recorded step in words, as it is undone; `None` for a line the script skips.
fn undo_of(line: &str) -> Option<String> {
    let (kind, value) = line.split_once(' ')?;
    let plain = |v: &str| {
        !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.@:-".contains(&b))
    };
    if !plain(value) {
        return None;
    }
    match kind {
        "unit" => Some(format!("start {value}")),
        "vtcon" => Some(format!("bind the console {value}")),
        "framebuffer" => value
            .split_once(':')
            .map(|(fb, driver)| format!("bind {fb} to {driver}")),
        "module" => Some(format!("load the module {value}")),
        _ => None,
    }
}

pub(super) fn run(
    vm: &str,
    root: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Outcome> {
    // The name becomes a path under /run and /etc: the same rule as spec VM names.
    if let Err(e) = crate::spec::validate_name(vm) {
        writeln!(err, "error: `{}` is not a VM name: {e}", vm.escape_debug())?;
        return Ok(Outcome::Failure);
    }
    let live = is_live_root(root);
    if live && !super::apply::is_root() {
        writeln!(
            err,
            "error: giving the display back needs root: run `sudo passplan handback {vm}`"
        )?;
        return Ok(Outcome::Failure);
    }
    let real = RealSystem::new(root);
    let record = handoff_record(vm);
    let text = match real.read(&record) {
        Ok(Some(file)) => String::from_utf8_lossy(&file.bytes).into_owned(),
        Ok(None) => {
            writeln!(
                out,
                "Nothing to hand back: VM {vm} has no recorded handoff ({record}); its display was given back, or never taken."
            )?;
            return Ok(Outcome::Success);
        }
        Err(e) => {
            writeln!(err, "error: cannot read {record}: {e}")?;
            return Ok(Outcome::Failure);
        }
    };
    let script = handoff_release_script(vm);
    match real.read(&script) {
        Ok(Some(_)) => {}
        Ok(None) => {
            writeln!(
                err,
                "error: {script} is missing, so the recorded steps cannot be undone the way libvirt would; apply the spec that hands VM {vm}'s GPU over (`passplan apply`), then run this again"
            )?;
            return Ok(Outcome::Failure);
        }
        Err(e) => {
            writeln!(err, "error: cannot read {script}: {e}")?;
            return Ok(Outcome::Failure);
        }
    }
    writeln!(out, "VM {vm}'s handoff ({record}), undone last step first:")?;
    for line in text.lines().rev() {
        match undo_of(line) {
            Some(step) => writeln!(out, "  - {step}")?,
            None => writeln!(
                out,
                "  - (skipped: not a step passplan records: `{}`)",
                line.escape_debug()
            )?,
        }
    }
    let argv: Vec<String> = [script.as_str(), vm, "release", "end", "-"]
        .map(str::to_owned)
        .to_vec();
    let result = if live {
        let mut sys = real;
        sys.run(&argv)
    } else {
        let mut sys = Offline::new(real);
        sys.run(&argv)
    };
    let output = match result {
        Ok(o) => o,
        Err(e) => {
            writeln!(err, "error: cannot run {script}: {e}")?;
            return Ok(Outcome::Failure);
        }
    };
    if output.skipped {
        writeln!(
            out,
            "\nNot run: {} is not this machine. Run `passplan handback {vm}` on it.",
            root.display()
        )?;
        return Ok(Outcome::Success);
    }
    for line in output.output.lines() {
        writeln!(out, "  {line}")?;
    }
    let kept = matches!(RealSystem::new(root).read(&record), Ok(Some(_)));
    if output.success() && !kept {
        writeln!(out, "\nThe display is given back.")?;
        Ok(Outcome::Success)
    } else {
        writeln!(
            err,
            "error: some steps could not be undone (see above); the record {record} is kept, so `passplan handback {vm}` can try again"
        )?;
        Ok(Outcome::Failure)
    }
}

#[cfg(test)]
mod tests {
    use super::undo_of;

    #[test]
    fn recorded_steps_read_as_their_undoing_and_odd_lines_as_skipped() {
        assert_eq!(
            undo_of("unit display-manager.service").as_deref(),
            Some("start display-manager.service")
        );
        assert_eq!(
            undo_of("framebuffer efi-framebuffer.0:efi-framebuffer").as_deref(),
            Some("bind efi-framebuffer.0 to efi-framebuffer")
        );
        assert_eq!(
            undo_of("module nvidia").as_deref(),
            Some("load the module nvidia")
        );
        for odd in ["", "unit", "unit a b", "reboot now", "module $(x)"] {
            assert_eq!(undo_of(odd), None, "{odd:?}");
        }
    }
}
