//! GRUB through `/etc/default/grub`: passplan's tokens go into `GRUB_CMDLINE_LINUX_DEFAULT`,
//! then `update-grub` (or `grub-mkconfig`) regenerates `grub.cfg`.
//!
//! **Which variable.** `GRUB_CMDLINE_LINUX_DEFAULT` is used by the normal entries only;
//! `GRUB_CMDLINE_LINUX` also by the recovery entries. Keeping vfio-pci ids, CPU isolation and
//! hugepage reservations out of recovery mode leaves a way back when they make the host
//! unbootable (a wrong id that takes the only display). grub-mkconfig writes
//! `GRUB_CMDLINE_LINUX` first and `_DEFAULT` after it, so passplan's tokens also come last
//! and win over a conflicting value in `GRUB_CMDLINE_LINUX`.
//!
//! **Where.** In place, in the file holding the *last* assignment of the variable — the one
//! that wins: `/etc/default/grub`, or a Debian-family drop-in `/etc/default/grub.d/*.cfg`
//! (sourced after it, in glob order) that assigns it, as Ubuntu's cloud images do. passplan
//! owns no drop-in of its own: an in-place edit is what users expect, keeps
//! `grep GRUB_CMDLINE /etc/default/grub` truthful, and works on Arch, whose grub-mkconfig
//! reads no drop-ins. When no file assigns the variable, an assignment is appended to
//! `/etc/default/grub`.
//!
//! **How.** The file is scanned as shell text just enough to find assignments at the start of
//! a statement, skipping comments and quoted or backticked text (``GRUB_DISTRIBUTOR=`lsb_release
//! …` ``). The assignment's value must be one double-quoted string, one single-quoted string, or
//! bare text; its content is edited as a command line by [`super::tokens`], so only passplan's
//! tokens change. A `$GRUB_CMDLINE_LINUX_DEFAULT` inside (`X="$X tok"` appends) is an opaque
//! token passplan never touches. Assignments inside `if … then` blocks are not recognised.
//!
//! **Regeneration.** `update-grub` on the Debian family (recognised by initramfs-tools: both
//! ship there, and `update-grub` is exactly `grub-mkconfig -o /boot/grub/grub.cfg`); elsewhere
//! (Arch) that `grub-mkconfig` command itself. Host facts do not list binaries, so this is the
//! closest reliable signal.

use std::ops::Range;

use super::tokens::{self, Scanned};
use crate::desired::{CompileError, Desired, Input};
use crate::host::{CmdlineToken, Initramfs};

/// The variable passplan edits (see the module docs for why not `GRUB_CMDLINE_LINUX`).
pub const KEY: &str = "GRUB_CMDLINE_LINUX_DEFAULT";
/// The main file.
pub const DEFAULT_GRUB: &str = "/etc/default/grub";
/// The Debian-family drop-in directory, sourced after the main file.
const DROP_INS: &str = "/etc/default/grub.d/";

/// Edit the file holding the winning assignment and ask for `grub.cfg` to be regenerated.
pub(super) fn emit(
    input: &Input<'_>,
    want: &[CmdlineToken],
    out: &mut Desired,
) -> Result<(), CompileError> {
    let host = &input.checked.host;
    // The main file first, then drop-ins in glob order (BTreeMap order is byte order, as the
    // shell's glob in the C locale); the last one assigning the variable wins.
    let mut candidates: Vec<(&str, &str)> = Vec::new();
    if let Some(text) = host.files.get(DEFAULT_GRUB) {
        candidates.push((DEFAULT_GRUB, text));
    }
    for (path, text) in &host.files {
        #[allow(
            clippy::case_sensitive_file_extension_comparisons,
            reason = "grub-mkconfig's glob `*.cfg` is case-sensitive too"
        )]
        if path
            .strip_prefix(DROP_INS)
            .is_some_and(|name| name.ends_with(".cfg") && !name.contains('/'))
        {
            candidates.push((path, text));
        }
    }
    let (path, text) = candidates
        .iter()
        .rev()
        .find(|(_, text)| !assignments(text, KEY).is_empty())
        .copied()
        .unwrap_or((
            DEFAULT_GRUB,
            host.files.get(DEFAULT_GRUB).map_or("", String::as_str),
        ));
    let drop = super::owned(input);
    let content = edit(text, want, &drop).map_err(|why| super::refuse(path, why))?;
    out.artifacts.push(super::edited(path, content, want));
    let argv: &[&str] = if host.boot.initramfs == Some(Initramfs::InitramfsTools) {
        &["update-grub"]
    } else {
        &["grub-mkconfig", "-o", "/boot/grub/grub.cfg"]
    };
    out.steps.push(super::step(
        argv,
        "GRUB reads the command line from grub.cfg, generated from /etc/default/grub",
    ));
    Ok(())
}

/// How an assignment's value is quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `"…"`.
    Double,
    /// `'…'`.
    Single,
    /// Nothing, or text without quotes or expansions.
    Bare,
}

/// One assignment `NAME=value`: the value's range (quotes included) and its form, or why
/// passplan cannot edit it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Assignment {
    value: Range<usize>,
    form: Result<Form, String>,
}

/// Every assignment of `name` at the start of a statement, in order.
fn assignments(text: &str, name: &str) -> Vec<Assignment> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut statement_start = true;
    let mut word_start = true;
    while i < b.len() {
        if statement_start {
            while i < b.len() && matches!(b[i], b' ' | b'\t') {
                i += 1;
            }
            let mut j = i;
            if text[j..].starts_with("export") && matches!(b.get(j + 6), Some(b' ' | b'\t')) {
                j += 6;
                while j < b.len() && matches!(b[j], b' ' | b'\t') {
                    j += 1;
                }
            }
            if text[j..].starts_with(name) && b.get(j + name.len()) == Some(&b'=') {
                let start = j + name.len() + 1;
                let end = word_end(b, start);
                out.push(Assignment {
                    value: start..end,
                    form: form(&text[start..end]),
                });
                i = end;
            }
            statement_start = false;
            word_start = true;
            continue;
        }
        let c = b[i];
        match c {
            b'\n' | b';' | b'&' | b'|' | b'(' | b'{' => {
                statement_start = true;
                i += 1;
            }
            b'#' if word_start => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' | b'\'' | b'`' => i = quoted_end(b, i),
            b'\\' => i += 2,
            _ => i += 1,
        }
        word_start = matches!(c, b' ' | b'\t');
    }
    out
}

/// The end of a quoted run starting at `b[i]` (one past the closing quote, or the end of the
/// text when it never closes — the shell would fail, passplan does not guess).
fn quoted_end(b: &[u8], i: usize) -> usize {
    let quote = b[i];
    let mut j = i + 1;
    while j < b.len() {
        if b[j] == b'\\' && quote != b'\'' {
            j += 2;
            continue;
        }
        if b[j] == quote {
            return j + 1;
        }
        j += 1;
    }
    b.len()
}

/// The end of a shell word starting at `b[i]`.
fn word_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b')' => break,
            b'"' | b'\'' | b'`' => i = quoted_end(b, i),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    i.min(b.len())
}

/// What kind of value `raw` is, or why passplan will not edit it.
fn form(raw: &str) -> Result<Form, String> {
    let inner = |q: char| {
        raw.len() >= 2
            && raw.starts_with(q)
            && raw.ends_with(q)
            && !inner_has_unescaped(&raw[1..raw.len() - 1], q)
    };
    if inner('"') {
        Ok(Form::Double)
    } else if inner('\'') {
        Ok(Form::Single)
    } else if !raw.contains(['"', '\'', '`', '$', '\\']) {
        Ok(Form::Bare)
    } else {
        Err(format!(
            "{KEY}={raw} mixes quoting or expansions; write it as one double-quoted string"
        ))
    }
}

fn inner_has_unescaped(s: &str, q: char) -> bool {
    let mut escaped = false;
    for c in s.chars() {
        if q == '"' && c == '\\' && !escaped {
            escaped = true;
            continue;
        }
        if c == q && !escaped {
            return true;
        }
        escaped = false;
    }
    false
}

/// Undo the shell's double-quote escapes (`\"`, `\\`, `\$`, `` \` ``) in a raw token.
fn unescape_double(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&n) = chars.peek()
            && matches!(n, '"' | '\\' | '$' | '`')
        {
            out.push(n);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

/// A token as it must be written inside double quotes.
fn write_double(t: &CmdlineToken) -> Result<String, String> {
    let plain = tokens::render(t)?;
    let mut out = String::with_capacity(plain.len());
    for c in plain.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(out)
}

/// A token as it must be written inside single quotes (no escapes exist there).
fn write_single(t: &CmdlineToken) -> Result<String, String> {
    let plain = tokens::render(t)?;
    if plain.contains('\'') {
        return Err(format!(
            "`{plain}` holds a single quote, which {KEY}='…' cannot carry; use double quotes"
        ));
    }
    Ok(plain)
}

/// The content of `text` with `KEY`'s last assignment holding `want` (and without the
/// `drop_keys` tokens): every other byte as it was. A file without the assignment gets one
/// appended.
pub fn edit(text: &str, want: &[CmdlineToken], drop_keys: &[&str]) -> Result<String, String> {
    let Some(last) = assignments(text, KEY).pop() else {
        if want.is_empty() {
            return Ok(text.to_owned());
        }
        let words: Result<Vec<String>, String> = want.iter().map(write_double).collect();
        let sep = if text.is_empty() || text.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        let appended = format!("{text}{sep}{KEY}=\"{}\"\n", words?.join(" "));
        // A file that ends inside an unterminated quote or a line continuation would swallow
        // the new line: the shell would not see the assignment, and neither would the next
        // plan, which would append it again forever (found by fuzz/editors).
        if assignments(&appended, KEY).is_empty() {
            return Err(format!(
                "the file ends inside an unterminated quote or a line continuation, so {KEY} \
                 cannot be added; fix the file so that `sh -n` accepts it"
            ));
        }
        return Ok(appended);
    };
    let form = last.form?;
    let raw = &text[last.value.clone()];
    let inner = match form {
        Form::Double | Form::Single => &raw[1..raw.len() - 1],
        Form::Bare => raw,
    };
    let mut scanned: Scanned = tokens::scan(inner);
    if form == Form::Double {
        for l in &mut scanned.tokens {
            l.token = tokens::parse_one(&unescape_double(&inner[l.span.clone()]));
        }
    }
    let current: Vec<CmdlineToken> = scanned.tokens.iter().map(|l| l.token.clone()).collect();
    let slots = tokens::edit_tokens(&current, want, drop_keys);
    if tokens::is_unchanged(&slots, current.len()) {
        return Ok(text.to_owned());
    }
    // Bare text becomes a double-quoted string: several tokens need the quotes.
    let value = if form == Form::Single {
        format!(
            "'{}'",
            tokens::splice(inner, &scanned, &slots, write_single)?
        )
    } else {
        format!(
            "\"{}\"",
            tokens::splice(inner, &scanned, &slots, write_double)?
        )
    };
    let mut out = String::with_capacity(text.len() + value.len());
    out.push_str(&text[..last.value.start]);
    out.push_str(&value);
    out.push_str(&text[last.value.end..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{KEY, assignments, edit};
    use crate::host::{CmdlineToken, KernelCmdline};

    fn want(text: &str) -> Vec<CmdlineToken> {
        KernelCmdline::parse(text).tokens
    }

    /// Debian 12's stock file with the seed's value.
    const DEBIAN: &str = "# If you change this file, run 'update-grub' afterwards to update\n\
        # /boot/grub/grub.cfg.\n\n\
        GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\n\
        GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n\
        GRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash intel_iommu=off\"\n\
        GRUB_CMDLINE_LINUX=\"\"\n\n\
        # Uncomment to get a beep at grub start\n#GRUB_INIT_TUNE=\"480 440 1\"\n";

    #[test]
    fn an_unterminated_quote_is_refused_rather_than_appended_to_forever() {
        for text in ["X=\"open\n", "{ user\": {\"a\": []}}", "X=1 \\\n", "X='a"] {
            let err = edit(text, &want("iommu=pt"), &[]).unwrap_err();
            assert!(err.contains("unterminated quote"), "{text:?}: {err}");
        }
        // A comment's quote is no quote.
        let ok = edit("# it's fine\n", &want("iommu=pt"), &[]).unwrap();
        assert_eq!(edit(&ok, &want("iommu=pt"), &[]).unwrap(), ok);
    }

    /// Every line but the one at `line` is the same.
    fn only_line_changed(before: &str, after: &str, line: &str) {
        let a: Vec<&str> = before.lines().collect();
        let b: Vec<&str> = after.lines().collect();
        assert_eq!(a.len(), b.len(), "{after}");
        for (x, y) in a.iter().zip(&b) {
            if x != y {
                assert_eq!(*y, line);
            }
        }
        assert!(b.contains(&line), "{after}");
    }

    #[test]
    fn replaces_a_wrong_value_in_place_and_keeps_the_rest() {
        let got = edit(DEBIAN, &want("intel_iommu=on iommu=pt"), &[]).unwrap();
        only_line_changed(
            DEBIAN,
            &got,
            "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash intel_iommu=on iommu=pt\"",
        );
        assert_eq!(
            edit(&got, &want("intel_iommu=on iommu=pt"), &[]).unwrap(),
            got
        );
    }

    #[test]
    fn single_quotes_and_bare_values() {
        let text = "GRUB_CMDLINE_LINUX_DEFAULT='quiet'\n";
        assert_eq!(
            edit(text, &want("iommu=pt"), &[]).unwrap(),
            "GRUB_CMDLINE_LINUX_DEFAULT='quiet iommu=pt'\n"
        );
        assert!(
            edit(
                text,
                &[CmdlineToken {
                    key: "a".into(),
                    value: Some("it's".into())
                }],
                &[]
            )
            .is_err()
        );
        let text = "GRUB_CMDLINE_LINUX_DEFAULT=quiet # the default\n";
        assert_eq!(
            edit(text, &want("iommu=pt"), &[]).unwrap(),
            "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet iommu=pt\" # the default\n"
        );
        assert_eq!(
            edit("GRUB_CMDLINE_LINUX_DEFAULT=\n", &want("iommu=pt"), &[]).unwrap(),
            "GRUB_CMDLINE_LINUX_DEFAULT=\"iommu=pt\"\n"
        );
    }

    #[test]
    fn the_last_assignment_wins_and_appends_stay() {
        let text = "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"   \n\
                    # GRUB_CMDLINE_LINUX_DEFAULT=\"commented\"\n\
                    GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT amd_iommu=on\"  \n";
        let got = edit(text, &want("iommu=pt"), &[]).unwrap();
        assert_eq!(
            got,
            "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"   \n\
             # GRUB_CMDLINE_LINUX_DEFAULT=\"commented\"\n\
             GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT amd_iommu=on iommu=pt\"  \n"
        );
    }

    #[test]
    fn a_missing_key_is_appended() {
        let text = "GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX=\"quiet\"";
        assert_eq!(
            edit(text, &want("intel_iommu=on"), &[]).unwrap(),
            "GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX=\"quiet\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"intel_iommu=on\"\n"
        );
    }

    #[test]
    fn values_with_spaces_are_escaped_inside_double_quotes() {
        let t = CmdlineToken {
            key: "acpi_osi".into(),
            value: Some("!Windows 2020".into()),
        };
        let got = edit(
            "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n",
            std::slice::from_ref(&t),
            &[],
        )
        .unwrap();
        assert_eq!(
            got,
            "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet acpi_osi=\\\"!Windows 2020\\\"\"\n"
        );
        assert_eq!(
            edit(&got, &[t], &[]).unwrap(),
            got,
            "read back through the escapes"
        );
    }

    #[test]
    fn recognises_only_real_assignments() {
        let text = "GRUB_DISTRIBUTOR=`echo GRUB_CMDLINE_LINUX_DEFAULT=x`\n\
                    X=\"a\nGRUB_CMDLINE_LINUX_DEFAULT=inside\" ; export GRUB_CMDLINE_LINUX_DEFAULT=\"y\"\n\
                    #GRUB_CMDLINE_LINUX_DEFAULT=\"no\"\n  GRUB_CMDLINE_LINUX_DEFAULTX=1\n";
        let found = assignments(text, KEY);
        assert_eq!(found.len(), 1);
        assert_eq!(&text[found[0].value.clone()], "\"y\"");
    }

    #[test]
    fn mixed_quoting_is_refused() {
        assert!(
            edit(
                "GRUB_CMDLINE_LINUX_DEFAULT=\"a\"'b'\n",
                &want("iommu=pt"),
                &[]
            )
            .is_err()
        );
    }
}
