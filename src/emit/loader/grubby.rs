//! GRUB with BLS entries (Fedora, RHEL): grubby owns the entries, `grubenv`, `/etc/default/grub`
//! and `/etc/kernel/cmdline` together, so passplan edits no file and runs
//! `grubby --update-kernel=ALL --args="<tokens>"` instead. grubby replaces an existing `key=`
//! rather than duplicating it (FACTS §1), the same rule as [`super::tokens`].
//!
//! Removing tokens passplan owned before (`--remove-args`) needs the ownership state of the
//! next issue; until then only `--args` is emitted. The desired tokens go into a note, since
//! there is no artifact to show them.

use super::tokens;
use crate::desired::{CompileError, Desired};
use crate::host::CmdlineToken;

/// The grubby step for `want`, and a note naming the tokens.
pub(super) fn emit(
    want: &[CmdlineToken],
    owned: &[&str],
    out: &mut Desired,
) -> Result<(), CompileError> {
    let words: Vec<String> = want
        .iter()
        .map(tokens::render)
        .collect::<Result<_, _>>()
        .map_err(|why| super::refuse("/etc/default/grub", why))?;
    let line = words.join(" ");
    // Parameters passplan wrote before and the spec no longer asks for.
    let gone: Vec<&str> = owned
        .iter()
        .copied()
        .filter(|k| {
            !want
                .iter()
                .any(|t| crate::host::param_names_equal(&t.key, k))
        })
        .collect();
    if !gone.is_empty() {
        out.steps.push(super::step(
            &[
                "grubby",
                "--update-kernel=ALL",
                &format!("--remove-args={}", gone.join(" ")),
            ],
            "grubby removes the kernel arguments passplan no longer asks for",
        ));
    }
    if want.is_empty() {
        return Ok(());
    }
    out.steps.push(super::step(
        &["grubby", "--update-kernel=ALL", &format!("--args={line}")],
        "grubby writes the kernel arguments into every boot entry",
    ));
    out.notes.push(format!(
        "grubby manages the kernel command line: passplan asks it for {line}"
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::emit;
    use crate::desired::Desired;
    use crate::host::KernelCmdline;

    #[test]
    fn one_step_with_every_token() {
        let mut out = Desired::default();
        emit(
            &KernelCmdline::parse("intel_iommu=on a=\"b c\"").tokens,
            &[],
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out.steps[0].argv,
            [
                "grubby",
                "--update-kernel=ALL",
                "--args=intel_iommu=on a=\"b c\""
            ]
        );
    }
}
