//! ## What it does
//! Warns when the spec names a boot loader or initramfs generator other than the one the
//! host uses.
//!
//! ## Why
//! passplan edits the loader's own source of truth (`/etc/default/grub`, kernelstub's JSON,
//! `/etc/kernel/cmdline`). Editing the wrong one changes nothing at the next boot — the
//! classic "I added the parameter and it did nothing".
//!
//! ## Example
//! ```kdl
//! boot { loader "grub" }
//! ```
//! on Pop!_OS, where kernelstub writes the systemd-boot entry: use `loader "kernelstub"`, or
//! leave `loader` out to auto-detect.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::host::{Initramfs, Loader};
use crate::spec::{InitramfsChoice, LoaderChoice};

pub(super) const CODE: Code = Code("boot/loader-mismatch");

fn loader_name(l: Loader) -> &'static str {
    match l {
        Loader::Grub => "grub",
        Loader::Grubby => "grubby",
        Loader::Kernelstub => "kernelstub",
        Loader::SystemdBoot => "systemd-boot",
    }
}

fn initramfs_name(i: Initramfs) -> &'static str {
    match i {
        Initramfs::InitramfsTools => "initramfs-tools",
        Initramfs::Dracut => "dracut",
        Initramfs::Mkinitcpio => "mkinitcpio",
        Initramfs::Booster => "booster",
    }
}

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    let boot = &cx.spec.host.boot;
    if let (Some(want), Some(have)) = (&boot.loader, cx.host.boot.loader) {
        let want_host = match want.value {
            LoaderChoice::Grub => Loader::Grub,
            LoaderChoice::Grubby => Loader::Grubby,
            LoaderChoice::Kernelstub => Loader::Kernelstub,
            LoaderChoice::SystemdBoot => Loader::SystemdBoot,
        };
        if want_host != have {
            let mismatch = Mismatch {
                node: "loader",
                doing: "boots with",
                label: "not this host's loader",
            };
            out.push(mismatch.finding(
                want.span,
                loader_name(want_host),
                loader_name(have),
                cx.host.boot.loader_evidence.as_deref(),
            ));
        }
    }
    if let (Some(want), Some(have)) = (&boot.initramfs, cx.host.boot.initramfs) {
        let want_host = match want.value {
            InitramfsChoice::InitramfsTools => Initramfs::InitramfsTools,
            InitramfsChoice::Dracut => Initramfs::Dracut,
            InitramfsChoice::Mkinitcpio => Initramfs::Mkinitcpio,
            InitramfsChoice::Booster => Initramfs::Booster,
        };
        if want_host != have {
            let mismatch = Mismatch {
                node: "initramfs",
                doing: "builds its initramfs with",
                label: "not this host's generator",
            };
            out.push(mismatch.finding(
                want.span,
                initramfs_name(want_host),
                initramfs_name(have),
                cx.host.boot.initramfs_evidence.as_deref(),
            ));
        }
    }
}

/// The wording that differs between a loader and an initramfs mismatch.
struct Mismatch {
    node: &'static str,
    doing: &'static str,
    label: &'static str,
}

impl Mismatch {
    fn finding(
        &self,
        span: miette::SourceSpan,
        want: &str,
        have: &str,
        evidence: Option<&str>,
    ) -> Diagnostic {
        let evidence = evidence.unwrap_or("the host's files");
        Diagnostic::warning(
            CODE,
            format!("the spec says `{want}` but this host {} {have}", self.doing),
        )
        .at(span, self.label)
        .host(format!("{have} (from {evidence})"))
        .help(format!(
            "write {} \"{have}\", or leave `{}` out to auto-detect",
            self.node, self.node
        ))
    }
}
