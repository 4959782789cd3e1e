//! kernelstub (Pop!_OS): passplan's tokens go into `user.kernel_options` of
//! `/etc/kernelstub/configuration`, then `kernelstub` (no arguments: re-apply the
//! configuration) rewrites the loader entry.
//!
//! The JSON is edited as text: only the `kernel_options` array's bytes are rewritten, in the
//! layout it already has (one element per line at its indentation, as kernelstub's
//! `json.dump(indent=2)` writes it, or inline), so key order, spacing and the missing final
//! newline all stay — no reformatting by a serialiser. Each list element is one token; an
//! element holding several (`"quiet splash"`) is opaque and kept. Without a `user` section,
//! `default` is copied first, as kernelstub itself does, and the copy is appended to the root
//! object. The ESP entry (`Pop_OS-current.conf`) is kernelstub's output and never touched.

use std::ops::Range;

use super::tokens::{self, Slot};
use crate::desired::{CompileError, Desired, Input};
use crate::host::CmdlineToken;

/// The configuration file.
pub const CONFIG: &str = "/etc/kernelstub/configuration";

/// Edit the configuration and ask kernelstub to re-apply it.
pub(super) fn emit(
    input: &Input<'_>,
    want: &[CmdlineToken],
    out: &mut Desired,
) -> Result<(), CompileError> {
    let Some(text) = input.checked.host.files.get(CONFIG) else {
        return Err(super::refuse(
            CONFIG,
            "the file is missing; run `kernelstub` once so it writes its configuration".into(),
        ));
    };
    let drop = super::owned(input);
    let content = edit(text, want, &drop).map_err(|why| super::refuse(CONFIG, why))?;
    out.artifacts.push(super::edited(CONFIG, content, want));
    out.steps.push(super::step(
        &["kernelstub"],
        "kernelstub writes the loader entry from its configuration",
    ));
    Ok(())
}

/// One member of a JSON object: the key and the value's byte range.
struct Member {
    key: String,
    /// Where the key's opening quote is.
    key_start: usize,
    value: Range<usize>,
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// The end of a JSON string starting at `b[i] == '"'`.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// The end of the JSON value starting at `b[i]` (the text was validated by `serde_json`).
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            Some(j)
        }
    }
}

/// The members of the object whose `{` is at `start`.
fn members(text: &str, start: usize) -> Option<Vec<Member>> {
    let b = text.as_bytes();
    if b.get(start) != Some(&b'{') {
        return None;
    }
    let mut out = Vec::new();
    let mut i = skip_ws(b, start + 1);
    while b.get(i) == Some(&b'"') {
        let key_end = string_end(b, i)?;
        let key: String = serde_json::from_str(&text[i..key_end]).ok()?;
        let colon = skip_ws(b, key_end);
        if b.get(colon) != Some(&b':') {
            return None;
        }
        let v = skip_ws(b, colon + 1);
        let v_end = value_end(b, v)?;
        out.push(Member {
            key,
            key_start: i,
            value: v..v_end,
        });
        i = skip_ws(b, v_end);
        if b.get(i) == Some(&b',') {
            i = skip_ws(b, i + 1);
        }
    }
    Some(out)
}

/// The last member named `key` (a JSON reader keeps the last of duplicates).
fn member<'m>(members: &'m [Member], key: &str) -> Option<&'m Member> {
    members.iter().rev().find(|m| m.key == key)
}

/// The whitespace that starts the line holding byte `at`.
fn line_indent(text: &str, at: usize) -> &str {
    let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    let line = &text[line_start..];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

/// The text of `array` (a `kernel_options` list) holding `want`; `None` when nothing changes.
fn edit_array(
    text: &str,
    array: &Range<usize>,
    unit: &str,
    want: &[CmdlineToken],
    drop_keys: &[&str],
) -> Result<Option<String>, String> {
    let raw = &text[array.clone()];
    let elements: Vec<serde_json::Value> = serde_json::from_str(raw).map_err(|_| {
        "kernel_options is not a list; kernelstub writes a list of strings".to_owned()
    })?;
    let strings: Vec<String> = elements
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect::<Option<_>>()
        .ok_or_else(|| "kernel_options holds something other than strings".to_owned())?;
    let current: Vec<CmdlineToken> = strings.iter().map(|s| tokens::parse_one(s)).collect();
    let slots = tokens::edit_tokens(&current, want, drop_keys);
    if tokens::is_unchanged(&slots, current.len()) {
        return Ok(None);
    }
    let mut items = Vec::new();
    for slot in &slots {
        let s = match slot {
            Slot::Keep(i) => strings[*i].clone(),
            Slot::Replace(_, t) | Slot::Insert(t) => tokens::render(t)?,
        };
        items.push(serde_json::to_string(&s).map_err(|e| e.to_string())?);
    }
    if items.is_empty() {
        return Ok(Some("[]".to_owned()));
    }
    let inline = !raw.contains('\n') && !strings.is_empty();
    if inline {
        return Ok(Some(format!("[{}]", items.join(", "))));
    }
    // One element per line: at the first element's indentation, closing bracket at its own;
    // an empty `[]` takes its line's indentation plus the file's unit, as kernelstub would.
    let close = match raw.rfind('\n') {
        Some(n) => raw[n + 1..raw.len() - 1].to_owned(),
        None => line_indent(text, array.start).to_owned(),
    };
    let first = skip_ws(raw.as_bytes(), 1);
    let elem = match raw[..first].rfind('\n') {
        Some(n) if !strings.is_empty() => raw[n + 1..first].to_owned(),
        _ => format!("{close}{unit}"),
    };
    let body: Vec<String> = items.iter().map(|i| format!("{elem}{i}")).collect();
    Ok(Some(format!("[\n{}\n{close}]", body.join(",\n"))))
}

/// The configuration with `user.kernel_options` holding `want` (and without `drop_keys`);
/// every other byte as it was.
pub fn edit(text: &str, want: &[CmdlineToken], drop_keys: &[&str]) -> Result<String, String> {
    serde_json::from_str::<serde_json::Value>(text).map_err(|e| {
        format!("the file is not valid JSON ({e}); kernelstub could not read it either")
    })?;
    let b = text.as_bytes();
    let root_start = skip_ws(b, 0);
    let root = members(text, root_start).ok_or("the file is not a JSON object")?;
    // The indentation unit: how far the root's first key is indented (kernelstub: 2 spaces).
    let unit = root
        .first()
        .map_or("  ", |m| line_indent(text, m.key_start))
        .to_owned();
    let unit = if unit.is_empty() {
        "  ".to_owned()
    } else {
        unit
    };
    let section_options = |section: &Member| -> Result<Range<usize>, String> {
        let inner = members(text, section.value.start)
            .ok_or_else(|| format!("`{}` is not an object", section.key))?;
        member(&inner, "kernel_options")
            .map(|m| m.value.clone())
            .ok_or_else(|| format!("`{}` has no kernel_options", section.key))
    };
    if let Some(user) = member(&root, "user") {
        let array = section_options(user)?;
        return Ok(match edit_array(text, &array, &unit, want, drop_keys)? {
            None => text.to_owned(),
            Some(new) => format!("{}{new}{}", &text[..array.start], &text[array.end..]),
        });
    }
    let default = member(&root, "default")
        .ok_or("there is neither a `user` nor a `default` section; run `kernelstub` once")?;
    let array = section_options(default)?;
    let new = edit_array(text, &array, &unit, want, drop_keys)?
        .unwrap_or_else(|| text[array.clone()].to_owned());
    // `user` is a copy of `default` with the edited list, at the same level, after the last
    // member and separated the way the first member is from `{`.
    let copy = format!(
        "{}{new}{}",
        &text[default.value.start..array.start],
        &text[array.end..default.value.end]
    );
    let last = root.last().map_or(root_start + 1, |m| m.value.end);
    let sep = &text[root_start + 1..root.first().map_or(root_start + 1, |m| m.key_start)];
    let sep = if sep.is_empty() { " " } else { sep };
    Ok(format!(
        "{},{sep}\"user\": {copy}{}",
        &text[..last],
        &text[last..]
    ))
}

#[cfg(test)]
mod tests {
    use super::edit;
    use crate::host::{CmdlineToken, KernelCmdline};

    fn want(text: &str) -> Vec<CmdlineToken> {
        KernelCmdline::parse(text).tokens
    }

    fn user_options(text: &str) -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        v["user"]["kernel_options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    }

    const BOTH: &str = "{\n  \"default\": {\n    \"kernel_options\": [\n      \"quiet\",\n      \"splash\"\n    ],\n    \"esp_path\": \"/boot/efi\",\n    \"config_rev\": 3\n  },\n  \"user\": {\n    \"kernel_options\": [\n      \"quiet\",\n      \"splash\",\n      \"amd_iommu=on\"\n    ],\n    \"esp_path\": \"/boot/efi\",\n    \"config_rev\": 3\n  }\n}";

    #[test]
    fn edits_only_the_user_list() {
        let got = edit(
            BOTH,
            &want("iommu=pt vfio-pci.ids=10de:2206,10de:1aef"),
            &[],
        )
        .unwrap();
        assert_eq!(
            got,
            BOTH.replace(
                "\"amd_iommu=on\"\n",
                "\"amd_iommu=on\",\n      \"iommu=pt\",\n      \"vfio-pci.ids=10de:2206,10de:1aef\"\n"
            )
        );
        assert_eq!(
            edit(
                &got,
                &want("iommu=pt vfio-pci.ids=10de:2206,10de:1aef"),
                &[]
            )
            .unwrap(),
            got
        );
        let replaced = edit(&got, &want("vfio_pci.ids=10de:2206"), &[]).unwrap();
        assert_eq!(
            user_options(&replaced),
            [
                "quiet",
                "splash",
                "amd_iommu=on",
                "iommu=pt",
                "vfio_pci.ids=10de:2206"
            ],
            "replaced in place, in the spelling passplan wants"
        );
    }

    #[test]
    fn user_only() {
        let text = "{\"user\": {\"kernel_options\": [\"quiet\"], \"config_rev\": 3}}\n";
        assert_eq!(
            edit(text, &want("intel_iommu=on"), &[]).unwrap(),
            "{\"user\": {\"kernel_options\": [\"quiet\", \"intel_iommu=on\"], \"config_rev\": 3}}\n"
        );
    }

    #[test]
    fn default_only_is_copied_to_user() {
        let text = "{\n  \"default\": {\n    \"kernel_options\": [\n      \"quiet\"\n    ],\n    \"config_rev\": 3\n  }\n}";
        let got = edit(text, &want("intel_iommu=on"), &[]).unwrap();
        assert_eq!(
            got,
            "{\n  \"default\": {\n    \"kernel_options\": [\n      \"quiet\"\n    ],\n    \"config_rev\": 3\n  },\n  \"user\": {\n    \"kernel_options\": [\n      \"quiet\",\n      \"intel_iommu=on\"\n    ],\n    \"config_rev\": 3\n  }\n}"
        );
        assert_eq!(edit(&got, &want("intel_iommu=on"), &[]).unwrap(), got);
    }

    #[test]
    fn empty_list_gets_kernelstub_layout() {
        let text = "{\n  \"user\": {\n    \"kernel_options\": [],\n    \"config_rev\": 3\n  }\n}";
        assert_eq!(
            user_options(&edit(text, &want("iommu=pt"), &[]).unwrap()),
            ["iommu=pt"]
        );
        assert!(
            edit(text, &want("iommu=pt"), &[])
                .unwrap()
                .contains("[\n      \"iommu=pt\"\n    ]")
        );
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(edit("{not json", &want("iommu=pt"), &[]).is_err());
        assert!(edit("{}", &want("iommu=pt"), &[]).is_err());
        assert!(
            edit(
                "{\"user\": {\"kernel_options\": \"quiet\"}}",
                &want("iommu=pt"),
                &[]
            )
            .is_err()
        );
    }
}
