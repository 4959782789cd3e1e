//! ## What it does
//! Reads the host's own vfio configuration — `options vfio-pci ids=`, `alias pci:… vfio-pci`,
//! `install vfio-pci …` and `blacklist` lines in `/etc/modprobe.d/*.conf`, and `vfio-pci.ids=`
//! on the kernel command line — and reports every line that conflicts with the spec, with its
//! file and line, what wins, and the fix. Errors: a line that would leave a device the spec
//! binds at boot unbound (a later `ids=` without it, an `install vfio-pci` that never loads the
//! module), one that takes the host's GPU, a blacklist of the host GPU's driver, a line passplan
//! cannot read. Warnings: a line binding a device the spec does not bind at boot, or one that
//! does nothing.
//!
//! ## Why
//! Users coming from the tutorials already have a `vfio.conf`. kmod applies every `options`
//! line and the last `ids=` wins, and `vfio.conf` sorts after passplan's own
//! `passplan-vfio.conf`: without this rule a user's old file would silently leave the spec's
//! boot-bound GPU on its host driver, or silently take devices the spec keeps.
//!
//! ## Example
//! `/etc/modprobe.d/vfio.conf` with `options vfio-pci ids=1002:731f,1002:ab38` (an old RX 5700
//! XT) on a host whose spec binds an RTX 3080 at boot: that line is read after passplan's and
//! wins, so the RTX 3080 stays on nvidia. Remove the line (or the file); passplan's own file
//! then carries every id the spec binds.

use crate::check::Context;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::host::{Directive, PciDevice, VfioLine, VfioPci, alias_matches};
use crate::model::{PciAddress, PciId};
use crate::spec::{BindBy, BindTime, GpuRole};

pub(super) const CODE: Code = Code("binding/host-config");

/// The file passplan owns and converges (`emit::modprobe::MODPROBE_FILE`, a higher layer).
const OWN_FILE: &str = "/etc/modprobe.d/passplan-vfio.conf";

/// What the spec says about binding, resolved on the host.
struct Want {
    /// Functions bound at boot.
    boot: Vec<PciAddress>,
    /// Ids of functions bound at boot through `ids=` (not by address).
    boot_ids: Vec<PciId>,
    /// Functions of host GPUs (and the boot display when no VM takes it).
    kept: Vec<PciAddress>,
}

fn want(cx: &Context<'_>) -> Want {
    let mut boot = Vec::new();
    let mut boot_ids = Vec::new();
    let mut kept = Vec::new();
    for device in &cx.spec.devices {
        let functions = cx.device_functions(device);
        if device
            .role
            .as_ref()
            .is_some_and(|r| r.value == GpuRole::Host)
        {
            kept.extend(functions);
        } else if device.bind.value.when == BindTime::Boot {
            for f in &functions {
                if let Some(d) = cx.host.pci.get(f)
                    && device.bind.value.by != BindBy::Address
                {
                    boot_ids.push(d.id);
                }
            }
            boot.extend(functions);
        }
    }
    for d in cx.host.pci.values() {
        if d.boot_vga == Some(true) && cx.takers(d.address).is_empty() {
            kept.extend(cx.host.slot_functions(d.address));
        }
    }
    boot_ids.sort_unstable();
    boot_ids.dedup();
    kept.sort_unstable();
    kept.dedup();
    Want {
        boot,
        boot_ids,
        kept,
    }
}

fn at(line: &VfioLine) -> String {
    format!("{}:{}: {}", line.file, line.line, line.text)
}

fn list(devices: &[&PciDevice]) -> String {
    devices
        .iter()
        .map(|d| format!("{} [{}]", d.address.short(), d.id))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn run(cx: &Context<'_>, out: &mut Diagnostics) {
    let want = want(cx);
    let lines = cx.host.vfio_config();
    let builtin = cx.host.vfio_pci == VfioPci::BuiltIn;
    // kmod applies every options line; of several `ids=`, the last one read wins.
    let winner = lines
        .iter()
        .rfind(|l| matches!(l.directive, Directive::Ids(_)));
    let span = cx
        .spec
        .devices
        .iter()
        .find(|d| d.bind.value.when == BindTime::Boot)
        .map(|d| (d.bind.span, "bound at boot here"));
    let push = |out: &mut Diagnostics, d: Diagnostic| {
        out.push(match span {
            Some((s, label)) => d.at(s, label),
            None => d,
        });
    };
    for line in lines.iter().filter(|l| l.file != OWN_FILE) {
        let fact = at(line);
        let matching = |pred: &dyn Fn(&PciDevice) -> bool| -> Vec<&PciDevice> {
            cx.host.pci.values().filter(|d| pred(d)).collect()
        };
        match &line.directive {
            Directive::Malformed(why) => push(
                out,
                Diagnostic::error(CODE, format!("passplan cannot read {}:{}: {why}", line.file, line.line))
                    .host(fact)
                    .help("fix or remove the line: kmod skips what it cannot parse, so what vfio-pci takes at boot is unclear"),
            ),
            Directive::Ids(_) | Directive::Alias(_) | Directive::Install { .. } if builtin => push(
                out,
                Diagnostic::warning(CODE, format!("{}:{} does nothing: vfio-pci is built into this kernel", line.file, line.line))
                    .host(fact)
                    .help("remove the line; passplan puts the ids the spec binds at boot on the kernel command line"),
            ),
            Directive::Ids(ids) => {
                let taken = matching(&|d| ids.contains(&d.id));
                let host = matching(&|d| ids.contains(&d.id) && want.kept.contains(&d.address));
                let is_winner = winner.is_some_and(|w| std::ptr::eq(w, line));
                let lost: Vec<String> = want
                    .boot_ids
                    .iter()
                    .filter(|id| !ids.contains(id))
                    .map(ToString::to_string)
                    .collect();
                if !host.is_empty() {
                    push(out, Diagnostic::error(CODE, format!("{}:{} binds the host's GPU to vfio-pci at boot: {}", line.file, line.line, list(&host)))
                        .host(fact)
                        .help("remove these ids from the line (or remove the line): the host keeps this GPU"));
                } else if is_winner && !lost.is_empty() {
                    push(out, Diagnostic::error(CODE, format!("{}:{} wins over passplan's ids (kmod applies the last `ids=` it reads), so {} would stay on the host driver", line.file, line.line, lost.join(", ")))
                        .host(format!("{fact} (read after {OWN_FILE})"))
                        .help("remove the line (or its `ids=`): passplan's own file carries every id the spec binds at boot"));
                } else if !is_winner {
                    let w = winner.map_or_else(String::new, |w| format!("{}:{}", w.file, w.line));
                    push(out, Diagnostic::warning(CODE, format!("{}:{} does nothing: {w} is read later and its `ids=` wins", line.file, line.line))
                        .host(fact)
                        .help("remove the line; list every id in one `ids=` (passplan writes one)"));
                } else {
                    let foreign: Vec<&PciDevice> = taken
                        .into_iter()
                        .filter(|d| !want.boot.contains(&d.address))
                        .collect();
                    if !foreign.is_empty() {
                        push(out, Diagnostic::warning(CODE, format!("{}:{} binds {} to vfio-pci at boot, which the spec does not bind at boot", line.file, line.line, list(&foreign)))
                            .host(fact)
                            .help("remove the line, or declare these devices with bind \"boot\" so the spec says what the host does"));
                    }
                }
            }
            Directive::Alias(pattern) => {
                let host = matching(&|d| alias_matches(pattern, d) && want.kept.contains(&d.address));
                let foreign = matching(&|d| alias_matches(pattern, d) && !want.boot.contains(&d.address));
                if !host.is_empty() {
                    push(out, Diagnostic::error(CODE, format!("{}:{} binds the host's GPU to vfio-pci at boot: {}", line.file, line.line, list(&host)))
                        .host(fact)
                        .help("remove the alias line: the host keeps this GPU"));
                } else if !foreign.is_empty() {
                    push(out, Diagnostic::warning(CODE, format!("{}:{} binds {} to vfio-pci at boot, which the spec does not bind at boot", line.file, line.line, list(&foreign)))
                        .host(fact)
                        .help("remove the alias line, or declare these devices with bind \"boot\" (by=\"address\" for identical cards)"));
                }
            }
            Directive::Install { loads_module, .. } if !loads_module => {
                let d = if want.boot.is_empty() {
                    Diagnostic::warning(CODE, format!("{}:{} replaces loading vfio-pci with a command that never loads the module", line.file, line.line))
                } else {
                    Diagnostic::error(CODE, format!("{}:{} replaces loading vfio-pci with a command that never loads the module, so the devices the spec binds at boot stay unbound", line.file, line.line))
                };
                push(out, d.host(fact).help("remove the line (passplan binds by address itself), or end the command with `/sbin/modprobe --ignore-install vfio-pci $CMDLINE_OPTS`"));
            }
            Directive::Blacklist(module) => {
                let module_norm = module.replace('-', "_");
                let host = matching(&|d| {
                    want.kept.contains(&d.address)
                        && d.is_gpu()
                        && d.driver.as_deref().is_some_and(|dr| dr.replace('-', "_") == module_norm)
                });
                if !host.is_empty() {
                    push(out, Diagnostic::error(CODE, format!("{}:{} blacklists {module}, the driver of the host's GPU {}", line.file, line.line, list(&host)))
                        .host(fact)
                        .help(format!("remove `blacklist {module}`: the host needs it for its display; passplan binds guest cards to vfio-pci without blacklists")));
                } else if module_norm == "vfio_pci" && !want.boot.is_empty() {
                    push(out, Diagnostic::error(CODE, format!("{}:{} blacklists vfio-pci, which the spec binds devices to at boot", line.file, line.line))
                        .host(fact)
                        .help("remove `blacklist vfio-pci`"));
                }
            }
            Directive::Install { .. } | Directive::Softdep(_) => {}
        }
    }
    cmdline_ids(cx, &want, out);
}

/// `vfio-pci.ids=` on the running or configured command line.
fn cmdline_ids(cx: &Context<'_>, want: &Want, out: &mut Diagnostics) {
    let sources = [
        ("/proc/cmdline (the running kernel)", Some(&cx.host.cmdline)),
        (
            "the configured command line",
            cx.host.boot.configured_cmdline.as_ref(),
        ),
    ];
    let mut seen = Vec::new();
    for (source, cmdline) in sources {
        let Some(cmdline) = cmdline else { continue };
        for value in cmdline.values("vfio-pci.ids").flatten() {
            let ids: Vec<PciId> = value
                .split(',')
                .filter_map(|item| {
                    let mut parts = item.split(':');
                    format!("{}:{}", parts.next()?, parts.next()?).parse().ok()
                })
                .collect();
            let host: Vec<&PciDevice> = cx
                .host
                .pci
                .values()
                .filter(|d| ids.contains(&d.id) && want.kept.contains(&d.address))
                .collect();
            let message = if host.is_empty() {
                continue;
            } else {
                format!(
                    "vfio-pci.ids={value} binds the host's GPU to vfio-pci at boot: {}",
                    list(&host)
                )
            };
            if seen.contains(&message) {
                continue;
            }
            out.push(
                Diagnostic::error(CODE, message.clone())
                    .host(format!("found in {source}"))
                    .help("remove these ids from vfio-pci.ids=: the host keeps this GPU"),
            );
            seen.push(message);
        }
    }
}
