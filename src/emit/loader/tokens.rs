//! The token-list editing every loader editor shares: given the tokens a command line has and
//! the tokens passplan wants, decide which tokens stay, which are replaced in place, which are
//! removed and which are added — then splice that decision into the original text so every
//! byte passplan does not own stays as it was.
//!
//! Ownership is by parameter *name*: passplan owns the names it wants (and, from the next
//! issue on, the names it owned before and no longer wants: `drop_keys`). Names compare with
//! `-` = `_` ([`param_names_equal`]). Every other token — a wrong `amd_iommu=on` included — is
//! never touched.

use std::ops::Range;

use crate::host::{CmdlineToken, KernelCmdline, param_names_equal};

/// Parameters whose meaning depends on their order: `hugepages=N` applies to the
/// `hugepagesz=` before it (or the default size when none precedes it). Replacing them one by
/// one could leave a count in front of the size it belongs to, so they are edited as a block.
const ORDERED: [&str; 3] = ["default_hugepagesz", "hugepagesz", "hugepages"];

/// A token of some text, with the byte range of its raw form (quotes included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Where the raw token is in the text.
    pub span: Range<usize>,
    /// The token, quotes removed.
    pub token: CmdlineToken,
}

/// The kernel's part of a command-line text, split into located tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    /// Tokens before `--` (what follows goes to init and is never ours).
    pub tokens: Vec<Located>,
    /// Where new tokens go when there are none: before `--`, else after the last
    /// non-whitespace byte (so a trailing newline stays last).
    pub insert_at: usize,
    /// Whether a `--` follows the kernel's part (a token inserted at `insert_at` then needs a
    /// space after it).
    pub has_init_args: bool,
}

/// What becomes of the command line, in the new order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// The current token at this index, byte for byte.
    Keep(usize),
    /// The current token at this index replaced by a new one, at the same place.
    Replace(usize, CmdlineToken),
    /// A new token.
    Insert(CmdlineToken),
}

/// Split text into tokens the way the kernel does (whitespace outside double quotes; no
/// escapes; `--` ends the kernel's part), keeping each raw token's byte range.
pub fn scan(text: &str) -> Scanned {
    let raw = crate::host::token_spans(text);
    let mut tokens = Vec::new();
    for span in raw {
        let token = parse_one(&text[span.clone()]);
        if token.key == "--" && token.value.is_none() {
            let insert_at = tokens.last().map_or(span.start, |t: &Located| t.span.end);
            return Scanned {
                tokens,
                insert_at,
                has_init_args: true,
            };
        }
        tokens.push(Located { span, token });
    }
    Scanned {
        tokens,
        insert_at: text.trim_end().len(),
        has_init_args: false,
    }
}

/// One raw token → key and value. Text that is not exactly one token (an element of a JSON
/// list holding `quiet splash`) becomes an opaque key that matches no parameter passplan owns.
pub fn parse_one(raw: &str) -> CmdlineToken {
    let mut tokens = KernelCmdline::parse(raw).tokens;
    if tokens.len() == 1 {
        tokens.remove(0)
    } else {
        CmdlineToken {
            key: raw.to_owned(),
            value: None,
        }
    }
}

/// Decide the new token list.
///
/// * A wanted name present once or more: its **last** occurrence (the one the kernel applies
///   last, so the one that wins) is kept when its value is right, else replaced in place.
///   Earlier occurrences stay: several parameters accumulate (`iommu=1 … iommu=pt`), and they
///   are the user's.
/// * A wanted name absent: appended at the end.
/// * The order-dependent hugepage names ([`ORDERED`]), and any name wanted more than once, form
///   one block: when the current occurrences of those names are not exactly the wanted ones in
///   order, they are all removed and the wanted block goes where the first of them was.
/// * A name in `drop_keys` that is not wanted: every occurrence is removed (tokens passplan
///   owned before and no longer wants).
/// * Every other token is kept.
///
/// When nothing changes the result is `Keep(0), Keep(1), …` ([`is_unchanged`]), so editing an
/// already-edited file gives it back byte for byte.
pub fn edit_tokens(
    current: &[CmdlineToken],
    want: &[CmdlineToken],
    drop_keys: &[&str],
) -> Vec<Slot> {
    let wanted = |key: &str| want.iter().any(|w| param_names_equal(&w.key, key));
    let in_block = |key: &str| {
        ORDERED.iter().any(|o| param_names_equal(o, key))
            || want
                .iter()
                .filter(|w| param_names_equal(&w.key, key))
                .count()
                > 1
    };
    let block: Vec<&CmdlineToken> = want.iter().filter(|w| in_block(&w.key)).collect();
    let singles: Vec<&CmdlineToken> = want.iter().filter(|w| !in_block(&w.key)).collect();

    // The block: current occurrences of block names, compared with the wanted block.
    let block_keys = |key: &str| block.iter().any(|b| param_names_equal(&b.key, key));
    let current_block: Vec<usize> = (0..current.len())
        .filter(|&i| {
            !block.is_empty()
                && (block_keys(&current[i].key) || in_block_name(&current[i].key, &block))
        })
        .collect();
    let block_ok = current_block.len() == block.len()
        && current_block
            .iter()
            .zip(&block)
            .all(|(&i, w)| same(&current[i], w));

    let mut slots = Vec::new();
    let mut block_placed = block_ok || block.is_empty();
    for (i, token) in current.iter().enumerate() {
        if !block_ok && current_block.contains(&i) {
            if !block_placed {
                slots.extend(block.iter().map(|w| Slot::Insert((*w).clone())));
                block_placed = true;
            }
            continue;
        }
        if let Some(w) = singles
            .iter()
            .find(|w| param_names_equal(&w.key, &token.key))
        {
            let last = current
                .iter()
                .rposition(|c| param_names_equal(&c.key, &token.key))
                == Some(i);
            if last && !same(token, w) {
                slots.push(Slot::Replace(i, (*w).clone()));
            } else {
                slots.push(Slot::Keep(i));
            }
            continue;
        }
        if !wanted(&token.key) && drop_keys.iter().any(|d| param_names_equal(d, &token.key)) {
            continue;
        }
        slots.push(Slot::Keep(i));
    }
    // What is new goes at the end, in the wanted order (the block where its first token is).
    for w in want {
        if in_block(&w.key) {
            if !block_placed {
                slots.extend(block.iter().map(|b| Slot::Insert((*b).clone())));
                block_placed = true;
            }
        } else if !current.iter().any(|c| param_names_equal(&c.key, &w.key)) {
            slots.push(Slot::Insert(w.clone()));
        }
    }
    slots
}

/// Whether `key` is one of the order-dependent names while the wanted block has any of them:
/// a stray `hugepages=` the user wrote belongs to passplan's block once passplan reserves pages.
fn in_block_name(key: &str, block: &[&CmdlineToken]) -> bool {
    ORDERED.iter().any(|o| param_names_equal(o, key))
        && block
            .iter()
            .any(|b| ORDERED.iter().any(|o| param_names_equal(o, &b.key)))
}

/// Same name (modulo `-`/`_`) and the same value.
fn same(a: &CmdlineToken, b: &CmdlineToken) -> bool {
    param_names_equal(&a.key, &b.key) && a.value == b.value
}

/// Whether the slots keep every current token as it is.
pub fn is_unchanged(slots: &[Slot], current_len: usize) -> bool {
    slots.len() == current_len && slots.iter().enumerate().all(|(n, s)| *s == Slot::Keep(n))
}

/// A token as the kernel reads it: `key` or `key=value`, the value in double quotes when it
/// holds whitespace. A value with a `"` or a newline cannot be written (the kernel has no
/// escape character): the error says why.
pub fn render(token: &CmdlineToken) -> Result<String, String> {
    let bad = |s: &str| s.contains(['"', '\n', '\r']);
    if bad(&token.key) || token.key.is_empty() || token.key.contains(char::is_whitespace) {
        return Err(format!(
            "`{}` is not a parameter name the kernel can read",
            token.key
        ));
    }
    match &token.value {
        None => Ok(token.key.clone()),
        Some(v) if bad(v) => Err(format!(
            "the value of `{}` holds a double quote or a newline, which a kernel command line cannot carry",
            token.key
        )),
        Some(v) if v.contains(char::is_whitespace) => Ok(format!("{}=\"{v}\"", token.key)),
        Some(v) => Ok(format!("{}={v}", token.key)),
    }
}

/// Apply slots to the text they were computed from: replaced tokens are rewritten in their
/// span, removed tokens go with the blanks before them on the same line, new tokens are
/// added after the token before them with one space. Every other byte stays. `write` turns a
/// token into the text to insert (the loader's quoting on top of [`render`]).
pub fn splice<E>(
    text: &str,
    scanned: &Scanned,
    slots: &[Slot],
    write: impl Fn(&CmdlineToken) -> Result<String, E>,
) -> Result<String, E>
where
    E: From<String>,
{
    let spans: Vec<&Range<usize>> = scanned.tokens.iter().map(|t| &t.span).collect();
    // Byte edits (range → replacement), collected in text order, applied back to front.
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let mut kept: Vec<bool> = vec![false; spans.len()];
    let mut replaced: Vec<bool> = vec![false; spans.len()];
    // Where an insertion goes: after the end of the previous kept/replaced token, or — before
    // any — in front of the first current token, or at `insert_at` when there is none.
    let mut anchor: Option<usize> = None;
    let mut pending_front: Vec<String> = Vec::new();
    let mut after: Vec<(usize, String)> = Vec::new();
    for slot in slots {
        match slot {
            Slot::Keep(i) => {
                kept[*i] = true;
                anchor = Some(*i);
            }
            Slot::Replace(i, t) => {
                kept[*i] = true;
                replaced[*i] = true;
                anchor = Some(*i);
                edits.push((spans[*i].clone(), write(t)?));
            }
            Slot::Insert(t) => {
                let rendered = write(t)?;
                match anchor {
                    Some(i) => after.push((i, rendered)),
                    None => pending_front.push(rendered),
                }
            }
        }
    }
    for (i, rendered) in after {
        // A token whose double quote never closes runs to the end of the text: whatever is
        // added after it would be read as part of it, and every apply would add it again
        // (found by fuzz/editors).
        let raw = &text[spans[i].clone()];
        if !replaced[i] && raw.matches('"').count() % 2 == 1 {
            return Err(E::from(format!(
                "`{}` opens a double quote that never closes, so a parameter added after it would be read as part of it; close the quote",
                raw.escape_debug()
            )));
        }
        let at = spans[i].end;
        edits.push((at..at, format!(" {rendered}")));
    }
    // New tokens that go in front of the first current token (when it is removed, they take
    // its place, so its removal must leave the blanks before it: see below).
    let front_insert = !pending_front.is_empty() && !spans.is_empty();
    if !pending_front.is_empty() {
        let joined = pending_front.join(" ");
        match spans.first() {
            Some(first) => edits.push((first.start..first.start, format!("{joined} "))),
            None => {
                let tail = if scanned.has_init_args { " " } else { "" };
                let at = scanned.insert_at;
                edits.push((at..at, format!("{joined}{tail}")));
            }
        }
    }
    let mut removals: Vec<Range<usize>> = Vec::new();
    for (i, span) in spans.iter().enumerate() {
        if kept[i] {
            continue;
        }
        // Take the blanks before the token when they stay on its line, else those after it.
        let before = &text[..span.start];
        let lead = before.len() - before.trim_end_matches([' ', '\t']).len();
        let start = span.start - lead;
        // Not when new tokens are inserted at this token's start: a removal reaching back over
        // the blanks would swallow the insertion point and cut into the text before it (it
        // turned `options root` into `optionsult_hugepagesz=…`; found by fuzz/editors).
        let inserted_here = i == 0 && front_insert;
        // Nor when the token is followed by whitespace that is not a blank (a vertical tab, a
        // form feed): the kernel splits on it but a loader entry's `options` keyword needs a
        // blank after it, and `options intel_iommu=on\vb` would become `options\vb`, no longer
        // an options line (found by fuzz/editors).
        let odd_space_after = text[span.end..]
            .chars()
            .next()
            .is_some_and(|c| matches!(c, '\x0b' | '\x0c' | '\r'));
        let removal = if !inserted_here
            && !odd_space_after
            && lead > 0
            && start > 0
            && !text[..start].ends_with('\n')
        {
            start..span.end
        } else {
            let rest = &text[span.end..];
            let trail = rest.len() - rest.trim_start_matches([' ', '\t']).len();
            span.start..span.end + trail
        };
        // Two removed neighbours may both claim the blanks between them: merge.
        match removals.last_mut() {
            Some(prev) if prev.end >= removal.start => prev.end = prev.end.max(removal.end),
            _ => removals.push(removal),
        }
    }
    edits.extend(removals.into_iter().map(|r| (r, String::new())));
    // Back to front, insertions at a point after removals ending there, so offsets hold.
    edits.sort_by_key(|e| (e.0.start, e.0.end));
    let mut out = text.to_owned();
    for (range, replacement) in edits.into_iter().rev() {
        out.replace_range(range, &replacement);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{Slot, edit_tokens, is_unchanged, parse_one, render, scan, splice};
    use crate::host::CmdlineToken;

    #[test]
    fn a_block_taking_the_first_tokens_place_keeps_the_text_before_it() {
        // `root` wanted twice is an ordered block; the current `root` goes, the block takes its
        // place after `options `.
        let text = "options root";
        let value = 8..text.len();
        let line = scan(&text[value.clone()]);
        let scanned = super::Scanned {
            tokens: line
                .tokens
                .into_iter()
                .map(|l| super::Located {
                    span: l.span.start + value.start..l.span.end + value.start,
                    token: l.token,
                })
                .collect(),
            insert_at: text.len(),
            has_init_args: false,
        };
        let current: Vec<CmdlineToken> = scanned.tokens.iter().map(|l| l.token.clone()).collect();
        let slots = edit_tokens(&current, &toks("iommu=pt root root="), &[]);
        let out = splice(text, &scanned, &slots, render).unwrap();
        assert_eq!(out.trim_end(), "options root root= iommu=pt");
    }

    #[test]
    fn nothing_is_added_after_a_quote_that_never_closes() {
        let text = "quiet x=\"open ]}";
        let current: Vec<CmdlineToken> = scan(text).tokens.into_iter().map(|l| l.token).collect();
        let slots = edit_tokens(&current, &toks("iommu=pt"), &[]);
        let err = splice(text, &scan(text), &slots, render).unwrap_err();
        assert!(err.contains("never closes"), "{err}");
        // Replacing the open token itself is fine: what replaces it is balanced.
        let slots = edit_tokens(&current, &toks("x=1 iommu=pt"), &[]);
        assert_eq!(
            splice(text, &scan(text), &slots, render).unwrap(),
            "quiet x=1 iommu=pt"
        );
    }

    fn toks(text: &str) -> Vec<CmdlineToken> {
        scan(text).tokens.into_iter().map(|l| l.token).collect()
    }

    fn edit(text: &str, want: &str, drop: &[&str]) -> String {
        let scanned = scan(text);
        let current: Vec<CmdlineToken> = scanned.tokens.iter().map(|l| l.token.clone()).collect();
        let slots = edit_tokens(&current, &toks(want), drop);
        splice(text, &scanned, &slots, render).unwrap()
    }

    #[test]
    fn scan_keeps_spans_and_stops_at_init_args() {
        let text = "  root=UUID=x ro \"acpi_osi=!Windows 2020\" -- single\n";
        let s = scan(text);
        let raw: Vec<&str> = s.tokens.iter().map(|l| &text[l.span.clone()]).collect();
        assert_eq!(raw, ["root=UUID=x", "ro", "\"acpi_osi=!Windows 2020\""]);
        assert_eq!(s.tokens[2].token.value.as_deref(), Some("!Windows 2020"));
        assert!(s.has_init_args);
        assert_eq!(s.insert_at, text.find(" --").unwrap());
        assert_eq!(scan("quiet\n").insert_at, 5);
        assert_eq!(parse_one("quiet splash").key, "quiet splash");
    }

    #[test]
    fn replaces_in_place_and_appends_the_rest() {
        assert_eq!(
            edit(
                "quiet  intel_iommu=off splash",
                "intel_iommu=on iommu=pt",
                &[]
            ),
            "quiet  intel_iommu=on splash iommu=pt"
        );
        // `-` and `_` are one in names: the existing spelling's token is replaced.
        assert_eq!(
            edit("vfio_pci.ids=1:2 quiet", "vfio-pci.ids=10de:13c2", &[]),
            "vfio-pci.ids=10de:13c2 quiet"
        );
    }

    #[test]
    fn what_passplan_does_not_own_stays() {
        let text = "iommu=1 amd_iommu=on rcb_nocbs=2 iommu=pt";
        assert_eq!(
            edit(text, "iommu=pt", &[]),
            text,
            "the last iommu= already wins"
        );
        assert_eq!(edit(text, "", &[]), text);
    }

    #[test]
    fn idempotent() {
        let want = "intel_iommu=on default_hugepagesz=1G hugepagesz=1G hugepages=8 isolcpus=1-3";
        let once = edit("quiet splash -- single", want, &[]);
        assert_eq!(
            once,
            "quiet splash intel_iommu=on default_hugepagesz=1G hugepagesz=1G hugepages=8 isolcpus=1-3 -- single"
        );
        let scanned = scan(&once);
        let current: Vec<CmdlineToken> = scanned.tokens.iter().map(|l| l.token.clone()).collect();
        assert!(is_unchanged(
            &edit_tokens(&current, &toks(want), &[]),
            current.len()
        ));
        assert_eq!(edit(&once, want, &[]), once);
    }

    #[test]
    fn hugepages_are_one_block() {
        assert_eq!(
            edit(
                "hugepages=100 quiet hugepagesz=2M",
                "default_hugepagesz=1G hugepagesz=1G hugepages=8",
                &[]
            ),
            "default_hugepagesz=1G hugepagesz=1G hugepages=8 quiet"
        );
        assert_eq!(
            edit(
                "quiet",
                "hugepagesz=2M hugepages=512 hugepagesz=1G hugepages=4",
                &[]
            ),
            "quiet hugepagesz=2M hugepages=512 hugepagesz=1G hugepages=4"
        );
    }

    #[test]
    fn drop_keys_remove_owned_tokens_only() {
        assert_eq!(
            edit("quiet isolcpus=1 splash", "", &["isolcpus"]),
            "quiet splash"
        );
        assert_eq!(
            edit("options a\noptions isolcpus=1 b\n", "", &["isolcpus"]),
            "options a\noptions b\n"
        );
        assert_eq!(
            edit("isolcpus=1 quiet", "isolcpus=2", &["isolcpus"]),
            "isolcpus=2 quiet"
        );
    }

    #[test]
    fn empty_lines_get_tokens() {
        assert_eq!(edit("", "iommu=pt", &[]), "iommu=pt");
        assert_eq!(edit("\n", "iommu=pt", &[]), "iommu=pt\n");
        assert_eq!(edit("-- x", "iommu=pt", &[]), "iommu=pt -- x");
    }

    #[test]
    fn quoting() {
        let t = |k: &str, v: Option<&str>| CmdlineToken {
            key: k.into(),
            value: v.map(Into::into),
        };
        assert_eq!(render(&t("a", Some("b c"))).unwrap(), "a=\"b c\"");
        assert_eq!(render(&t("quiet", None)).unwrap(), "quiet");
        assert!(render(&t("a", Some("b\"c"))).is_err());
        assert!(render(&t("a", Some("b\nc"))).is_err());
        let slots = [Slot::Insert(t("a", Some("x y")))];
        assert_eq!(splice("", &scan(""), &slots, render).unwrap(), "a=\"x y\"");
    }
}
