//! systemd-boot: passplan's tokens go into `/etc/kernel/cmdline` when the host has one
//! (kernel-install builds every entry from it), else into the `options` of the hand-written
//! entry under `<esp>/loader/entries/`, which nothing regenerates.
//!
//! **Regeneration.** With `/etc/kernel/cmdline`, the entries must be rebuilt by
//! `kernel-install add <version> <image>` for each installed kernel — a loop over kernels that
//! passplan cannot express as one command without a shell. On the Debian family
//! (initramfs-tools) `update-initramfs -u -k all` does it: its post-update hook calls
//! kernel-install for every kernel when systemd-boot is installed, so that is the step. On other
//! hosts passplan emits no step and says in a note what to run. A hand-written entry needs
//! nothing: systemd-boot reads it at boot.
//!
//! **Entries.** systemd-boot joins every `options` line of an entry into one command line, so
//! all of them are edited as one token list: a wrong value on any line is replaced where it
//! is, new tokens go at the end of the last `options` line, and commented or other lines keep
//! every byte. With several entries, every entry `loader.conf`'s `default` can select is edited
//! (the one it names, each one its glob matches, all of them for `@saved`); several entries
//! without a `default`, or a `default` that matches none, are a compile error naming
//! `loader.conf` and the line: passplan never silently edits nothing. On a
//! kernelstub host the entries are kernelstub's output: never edited here.

use std::ops::Range;

use super::tokens::{self, Located, Scanned};
use crate::desired::{CompileError, Desired, Input};
use crate::host::{CmdlineToken, Initramfs};

/// kernel-install's command line.
pub const KERNEL_CMDLINE: &str = "/etc/kernel/cmdline";
/// Where systemd-boot's `loader/` directory lives, by ESP mount point (discovery's order).
const LOADER_DIRS: [&str; 3] = ["/boot/loader", "/boot/efi/loader", "/efi/loader"];

/// Edit the command line's source of truth and say how the entries get rebuilt.
pub(super) fn emit(
    input: &Input<'_>,
    want: &[CmdlineToken],
    out: &mut Desired,
) -> Result<(), CompileError> {
    let host = &input.checked.host;
    if let Some(text) = host.files.get(KERNEL_CMDLINE) {
        let content = edit_cmdline(text, want, &super::owned(input))
            .map_err(|why| super::refuse(KERNEL_CMDLINE, why))?;
        out.artifacts
            .push(super::edited(KERNEL_CMDLINE, content, want));
        if host.boot.initramfs == Some(Initramfs::InitramfsTools) {
            out.steps.push(super::step(
                &["update-initramfs", "-u", "-k", "all"],
                "initramfs-tools' post-update hook runs kernel-install, which rebuilds each \
                 systemd-boot entry from /etc/kernel/cmdline",
            ));
        } else {
            out.notes.push(
                "systemd-boot entries are built from /etc/kernel/cmdline by kernel-install: after \
                 apply, run `kernel-install add <version> /boot/vmlinuz-<version>` for each \
                 installed kernel (or reinstall the kernel package)"
                    .to_owned(),
            );
        }
        return Ok(());
    }
    if host.files.contains_key(super::kernelstub::CONFIG) {
        out.notes.push(
            "the systemd-boot entries here are written by kernelstub: name `loader \"kernelstub\"` \
             so passplan edits its configuration instead"
                .to_owned(),
        );
        return Ok(());
    }
    let (loader_conf, paths) =
        chosen_entries(&host.files).map_err(|(path, why)| super::refuse(&path, why))?;
    if paths.is_empty() {
        out.notes.push(format!(
            "no systemd-boot entry was found: add to the entry's `options` by hand: {}",
            super::joined(want)
        ));
        return Ok(());
    }
    if paths.len() > 1 {
        out.notes.push(format!(
            "{} lets systemd-boot boot any of {} entries: passplan edits each of them",
            loader_conf.unwrap_or_default(),
            paths.len()
        ));
    }
    for path in paths {
        let text = &host.files[&path];
        let content = edit_entry(text, want, &super::owned(input))
            .map_err(|why| super::refuse(&path, why))?;
        out.artifacts.push(super::edited(&path, content, want));
    }
    Ok(())
}

/// The hand-written entries to edit, with the `loader.conf` that decided: the only `.conf` in
/// the first `entries/` directory that has any, else every entry `loader.conf`'s `default` can
/// select — the one it names, every one its glob matches, or all of them for `@saved` (the
/// saved choice can be any). Several entries without a `default`, or a `default` that selects
/// nothing, are refused: passplan cannot tell which entry boots, and editing none would be
/// silently doing nothing. `Err` names the file and what is wrong.
type Chosen = (Option<String>, Vec<String>);

fn chosen_entries(
    files: &std::collections::BTreeMap<String, String>,
) -> Result<Chosen, (String, String)> {
    for dir in LOADER_DIRS {
        let prefix = format!("{dir}/entries/");
        let entries: Vec<&String> = files
            .keys()
            .filter(|p| {
                p.strip_prefix(&prefix)
                    .is_some_and(|n| !n.contains('/') && n.to_ascii_lowercase().ends_with(".conf"))
            })
            .collect();
        match entries.as_slice() {
            [] => continue,
            [only] => return Ok((None, vec![(*only).clone()])),
            _ => {}
        }
        let conf = format!("{dir}/loader.conf");
        let default = files.get(&conf).and_then(|t| {
            t.lines().enumerate().find_map(|(n, l)| {
                let rest = l.trim_start().strip_prefix("default")?;
                rest.starts_with([' ', '\t'])
                    .then(|| (n + 1, rest.trim().to_owned()))
            })
        });
        let names: Vec<&str> = entries.iter().map(|p| &p[prefix.len()..]).collect();
        let Some((line, default)) = default else {
            return Err((
                conf,
                format!(
                    "{} entries ({}) and no `default` line: passplan cannot tell which one boots; \
                     add `default <entry>.conf` to loader.conf, or name one in the spec's loader",
                    names.len(),
                    names.join(", ")
                ),
            ));
        };
        let chosen: Vec<String> = if default == "@saved" {
            entries.iter().map(|p| (*p).clone()).collect()
        } else {
            entries
                .iter()
                .filter(|p| {
                    let name = &p[prefix.len()..];
                    let stem = name.strip_suffix(".conf").unwrap_or(name);
                    crate::host::fnmatch(&default, name) || crate::host::fnmatch(&default, stem)
                })
                .map(|p| (*p).clone())
                .collect()
        };
        if chosen.is_empty() {
            return Err((
                conf,
                format!(
                    "line {line}: `default {default}` matches none of the entries ({}): \
                     systemd-boot would fall back to another entry, so passplan cannot tell \
                     which one boots",
                    names.join(", ")
                ),
            ));
        }
        return Ok((Some(conf), chosen));
    }
    Ok((None, Vec::new()))
}

/// `/etc/kernel/cmdline` (one command line, usually ending in a newline) holding `want`.
pub fn edit_cmdline(
    text: &str,
    want: &[CmdlineToken],
    drop_keys: &[&str],
) -> Result<String, String> {
    let scanned = tokens::scan(text);
    let current: Vec<CmdlineToken> = scanned.tokens.iter().map(|l| l.token.clone()).collect();
    let slots = tokens::edit_tokens(&current, want, drop_keys);
    if tokens::is_unchanged(&slots, current.len()) {
        return Ok(text.to_owned());
    }
    tokens::splice(text, &scanned, &slots, tokens::render)
}

/// The byte ranges of the values of an entry's `options` lines (after `options` and its
/// blanks, up to the end of the line).
fn options_values(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let indent = body.len() - body.trim_start().len();
        if let Some(rest) = body[indent..].strip_prefix("options")
            && rest.starts_with([' ', '\t'])
        {
            let blanks = rest.len() - rest.trim_start_matches([' ', '\t']).len();
            let start = at + indent + "options".len() + blanks;
            out.push(start..at + body.len());
        }
        at += line.len();
    }
    out
}

/// A hand-written entry whose `options` lines, read together, hold `want`.
pub fn edit_entry(text: &str, want: &[CmdlineToken], drop_keys: &[&str]) -> Result<String, String> {
    let values = options_values(text);
    // The kernel splits on any whitespace, the entry parser only on blanks: a carriage return
    // inside an `options` value (a DOS line ending cut short) makes the two disagree about where
    // tokens end, and an edit would not converge. Refuse, naming the fix (found by fuzzing).
    if values
        .iter()
        .any(|r| text[r.clone()].trim_end_matches('\r').contains('\r'))
    {
        return Err("an `options` line contains a carriage return in the middle; save the entry with Unix line endings (`sed -i 's/\\r//'`) and plan again".to_owned());
    }
    let Some(last) = values.last() else {
        if want.is_empty() {
            return Ok(text.to_owned());
        }
        let words: Result<Vec<String>, String> = want.iter().map(tokens::render).collect();
        let sep = if text.is_empty() || text.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        return Ok(format!("{text}{sep}options {}\n", words?.join(" ")));
    };
    // One token list over every line, spans in file coordinates; a `--` ends the kernel's part
    // for this and every later line.
    let mut scanned = Scanned {
        tokens: Vec::new(),
        insert_at: last.start + text[last.clone()].trim_end().len(),
        has_init_args: false,
    };
    for range in &values {
        let line = tokens::scan(&text[range.clone()]);
        scanned
            .tokens
            .extend(line.tokens.into_iter().map(|l| Located {
                span: l.span.start + range.start..l.span.end + range.start,
                token: l.token,
            }));
        if line.has_init_args {
            scanned.insert_at = range.start + line.insert_at;
            scanned.has_init_args = true;
            break;
        }
    }
    let current: Vec<CmdlineToken> = scanned.tokens.iter().map(|l| l.token.clone()).collect();
    let slots = tokens::edit_tokens(&current, want, drop_keys);
    if tokens::is_unchanged(&slots, current.len()) {
        return Ok(text.to_owned());
    }
    tokens::splice(text, &scanned, &slots, tokens::render)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_carriage_return_inside_options_is_refused() {
        let want = [super::CmdlineToken {
            key: "soot".into(),
            value: Some("y".into()),
        }];
        let err = super::edit_entry("title x\noptions soot=x\rc\n", &want, &[]).unwrap_err();
        assert!(err.contains("carriage return"), "{err}");
        // A DOS line ending (CR before LF) is fine.
        assert!(super::edit_entry("title x\r\noptions root=x\r\n", &want, &[]).is_ok());
    }

    use super::{edit_cmdline, edit_entry};
    use crate::host::{CmdlineToken, KernelCmdline};

    fn want(text: &str) -> Vec<CmdlineToken> {
        KernelCmdline::parse(text).tokens
    }

    const ARCH: &str = "# hand-written\ntitle   Arch Linux\nlinux   /vmlinuz-linux\n\
        initrd  /initramfs-linux.img\n#options debug\noptions root=PARTUUID=abc rw intel_iommu=off\n\
        options quiet\t splash\n";

    #[test]
    fn options_over_two_lines_are_one_command_line() {
        let got = edit_entry(ARCH, &want("intel_iommu=on iommu=pt"), &[]).unwrap();
        assert_eq!(
            got,
            ARCH.replace("intel_iommu=off", "intel_iommu=on")
                .replace("splash\n", "splash iommu=pt\n")
        );
        assert_eq!(
            edit_entry(&got, &want("intel_iommu=on iommu=pt"), &[]).unwrap(),
            got
        );
    }

    #[test]
    fn a_dropped_token_before_a_vertical_tab_keeps_its_line_an_options_line() {
        // Found by fuzz/editors: removing `intel_iommu=on` with the blank before it turned the
        // line into `options\vb`, which is no longer an `options` line, so a second edit found
        // `b` and the added tokens gone and added them again.
        for odd in ['\x0b', '\x0c'] {
            let text = format!("options r\noptions intel_iommu=on{odd}b");
            let once = edit_entry(&text, &want("iommu=pt"), &["intel_iommu"]).unwrap();
            assert_eq!(once, format!("options r\noptions {odd}b iommu=pt"));
            assert_eq!(
                edit_entry(&once, &want("iommu=pt"), &["intel_iommu"]).unwrap(),
                once
            );
        }
    }

    #[test]
    fn an_entry_without_options_gets_a_line() {
        assert_eq!(
            edit_entry("title x\nlinux /vmlinuz", &want("iommu=pt"), &[]).unwrap(),
            "title x\nlinux /vmlinuz\noptions iommu=pt\n"
        );
    }

    #[test]
    fn kernel_cmdline_keeps_its_newline() {
        let text = "root=UUID=d1e2 ro quiet\n";
        let got = edit_cmdline(text, &want("iommu=pt"), &[]).unwrap();
        assert_eq!(got, "root=UUID=d1e2 ro quiet iommu=pt\n");
        assert_eq!(edit_cmdline(&got, &want("iommu=pt"), &[]).unwrap(), got);
    }
}
