//! Puts [`Desired::kernel_tokens`] where the host's boot loader reads its command line: one
//! editor per mechanism (FACTS §1), each a pure function over the current text of the file it
//! edits that changes only passplan's tokens and keeps every other byte. The shared token-list
//! logic (which token is kept, replaced, removed or added) lives in [`tokens`].
//!
//! The loader is the spec's `boot { loader }` when given, else what discovery detected; with
//! neither, passplan says so in a note and edits nothing.

pub mod grub;
pub mod grubby;
pub mod kernelstub;
pub mod systemd_boot;
pub mod tokens;

use crate::desired::{Artifact, CompileError, Desired, Input, Ownership, Step, Trigger};
use crate::host::{CmdlineToken, Loader, param_names_equal};
use crate::spec::LoaderChoice;

/// Route the kernel tokens to the loader's editor.
pub fn emit(input: &Input<'_>, out: &mut Desired) -> Result<(), CompileError> {
    // Nothing wanted and nothing owned before: leave the loader's files alone.
    if out.kernel_tokens.is_empty() && owned(input).is_empty() {
        return Ok(());
    }
    let spec_loader = input
        .checked
        .spec
        .host
        .boot
        .loader
        .as_ref()
        .map(|l| match l.value {
            LoaderChoice::Grub => Loader::Grub,
            LoaderChoice::Grubby => Loader::Grubby,
            LoaderChoice::Kernelstub => Loader::Kernelstub,
            LoaderChoice::SystemdBoot => Loader::SystemdBoot,
        });
    let want = out.kernel_tokens.clone();
    match spec_loader.or(input.checked.host.boot.loader) {
        None => {
            out.notes.push(format!(
                "no boot loader was recognised: add these to the kernel command line by hand, or \
                 name the loader in `boot {{ loader … }}`: {}",
                joined(&want)
            ));
            Ok(())
        }
        Some(Loader::Grub) => grub::emit(input, &want, out),
        Some(Loader::Grubby) => grubby::emit(&want, &owned(input), out),
        Some(Loader::Kernelstub) => kernelstub::emit(input, &want, out),
        Some(Loader::SystemdBoot) => systemd_boot::emit(input, &want, out),
    }
}

/// The IOMMU parameters: passplan owns them only while the spec declares `iommu`.
const IOMMU_KEYS: [&str; 3] = ["intel_iommu", "amd_iommu", "iommu"];

/// Parameter names passplan owned before, for the editors' `drop_keys`: each is removed unless
/// the spec still asks for it; parameters passplan never wrote are never in this list. Without
/// an `iommu` node the IOMMU flags are left alone, even ones passplan wrote before (they may be
/// the user's own, adopted by name). With it, passplan owns the IOMMU keys, and the invalid
/// `amd_iommu=on` goes (`kernel.rs` says so in a note).
pub(crate) fn owned<'a>(input: &'a Input<'_>) -> Vec<&'a str> {
    let declared = input.checked.spec.host.boot.iommu.is_some();
    let mut keys: Vec<&str> = input
        .owned_tokens
        .iter()
        .map(String::as_str)
        .filter(|k| declared || !IOMMU_KEYS.iter().any(|i| param_names_equal(i, k)))
        .collect();
    if declared && super::kernel::invalid_amd_iommu(&input.checked.host) {
        keys.push("amd_iommu");
    }
    keys
}

/// Tokens as one line, for notes and reasons (a token that cannot be rendered is shown raw:
/// the editors report it as an error).
pub(crate) fn joined(tokens: &[CmdlineToken]) -> String {
    tokens
        .iter()
        .map(|t| {
            tokens::render(t).unwrap_or_else(|_| match &t.value {
                Some(v) => format!("{}={v}", t.key),
                None => t.key.clone(),
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The artifact for an edited command-line file.
pub(crate) fn edited(path: &str, content: String, want: &[CmdlineToken]) -> Artifact {
    Artifact {
        path: path.to_owned(),
        content,
        // Every file these editors touch is a root-owned 0644 configuration file; the
        // current mode is not among the host facts, so the usual one is stated.
        mode: 0o644,
        ownership: Ownership::Edited,
        triggers: vec![Trigger::Bootloader, Trigger::Reboot],
        reason: format!("kernel command line: passplan's tokens {}", joined(want)),
    }
}

/// A regeneration step after the loader's configuration changed.
pub(crate) fn step(argv: &[&str], reason: &str) -> Step {
    Step {
        trigger: Trigger::Bootloader,
        argv: argv.iter().map(|a| (*a).to_owned()).collect(),
        reason: reason.to_owned(),
    }
}

/// An editor's refusal as a compile error naming the file.
pub(crate) fn refuse(path: &str, why: String) -> CompileError {
    CompileError::Edit {
        path: path.to_owned(),
        why,
    }
}
