//! The house plan, enforced: top-level modules stand in layers and import only downwards, so no
//! `use crate::…` cycle can appear between them; and no source file grows much past 800 lines
//! of code. ARCHITECTURE.md draws the same layers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every top-level module of the library, bottom layer first. A module may import only modules
/// of a lower layer; two modules of one layer never import each other.
const LAYERS: &[&[&str]] = &[
    &["model"],
    &["diag", "hypervisor"],
    &["spec", "host"],
    &["pinning"],
    &["check"],
    &["desired"],
    &["emit", "system"],
    &["compile", "plan"],
    &["apply"],
    &["commands"],
    &["cli", "fuzzing"],
];

/// The most lines of code (not blank, not a comment) one source file may hold.
const MAX_CODE_LINES: usize = 820;

fn src_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The text with comments removed and, when `blank_strings`, the contents of string and
/// character literals removed too; line structure is kept. Doc links such as [`crate::emit`]
/// and strings that mention a module do not count as imports.
fn strip(text: &str, blank_strings: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    // Copy (or blank, keeping newlines) chars[from..to].
    let keep = |out: &mut String, from: usize, to: usize, literal: bool| {
        for &c in &chars[from..to] {
            if c == '\n' || !(literal && blank_strings) {
                out.push(c);
            }
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let after_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut j = i + 2;
            while j < chars.len() && !(chars[j - 1] == '*' && chars[j] == '/') {
                if chars[j] == '\n' {
                    out.push('\n');
                }
                j += 1;
            }
            i = j + 1;
        } else if c == 'r' && !after_ident && matches!(next, Some('"' | '#')) {
            // A raw string: r"…", r#"…"#: no escapes inside.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) == Some(&'"') {
                let close: String = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let body_start = j + 1;
                let rest: String = chars[body_start..].iter().collect();
                let body_len = rest
                    .find(&close)
                    .map_or(rest.len(), |k| rest[..k].chars().count());
                keep(&mut out, i, body_start, false);
                keep(&mut out, body_start, body_start + body_len, true);
                i = (body_start + body_len + 1 + hashes).min(chars.len());
                keep(&mut out, body_start + body_len, i, false);
            } else {
                out.push(c);
                i += 1;
            }
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            let end = j.min(chars.len());
            out.push('"');
            keep(&mut out, i + 1, end, true);
            out.push('"');
            i = end + 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}'), or a lifetime ('a).
            let len = if next == Some('\\') {
                chars[i + 1..]
                    .iter()
                    .position(|&k| k == '\'')
                    .map(|k| k + 2)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(3)
            } else {
                None
            };
            match len {
                Some(len) => {
                    let end = (i + len).min(chars.len());
                    keep(&mut out, i, end, true);
                    i = end;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The top-level module a file under `src/` belongs to (`None` for `lib.rs` and `main.rs`).
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next()?.as_os_str().to_str()?.to_owned();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_owned();
    (name != "lib" && name != "main").then_some(name)
}

/// Every `crate::NAME` a file names, with its line number.
fn imports(text: &str) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    for (n, line) in strip(text, true).lines().enumerate() {
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let preceded_by_ident = rest[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !preceded_by_ident && !name.is_empty() {
                found.push((name, n + 1));
            }
            rest = after;
        }
    }
    found
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

#[test]
fn top_level_modules_import_only_lower_layers() {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut modules = BTreeSet::new();
    let mut violations = Vec::new();
    for file in &files {
        let Some(from) = top_module(&src, file) else {
            continue;
        };
        modules.insert(from.clone());
        let Some(from_layer) = layer_of(&from) else {
            violations.push(format!(
                "{}: module `{from}` is in no layer; add it to LAYERS here and to ARCHITECTURE.md",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read source");
        for (to, line) in imports(&text) {
            if to == from {
                continue;
            }
            match layer_of(&to) {
                Some(to_layer) if to_layer < from_layer => {}
                Some(_) => violations.push(format!(
                    "{}:{line}: `{from}` imports `{to}`, which is not below it",
                    file.display()
                )),
                None => violations.push(format!(
                    "{}:{line}: `{from}` imports `{to}`, a module in no layer",
                    file.display()
                )),
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    let listed: BTreeSet<String> = LAYERS
        .iter()
        .flat_map(|l| l.iter().map(|m| (*m).to_owned()))
        .collect();
    assert_eq!(
        listed, modules,
        "LAYERS must name exactly the top-level modules under src/"
    );
}

#[test]
fn the_import_scanner_sees_what_it_must_and_nothing_else() {
    let text = "use crate::plan::Plan;\n/// [`crate::apply`]\nlet x = crate::system::state::load(); // crate::cli\n/* crate::commands */ fn f() -> mycrate::x {}\nlet s = \"crate::emit\"; let q = '\"'; crate::host::x();\nlet r = r#\"crate::cli \" // \"#; crate::check::y();\n";
    let names: BTreeMap<usize, String> = imports(text).into_iter().map(|(n, l)| (l, n)).collect();
    assert_eq!(
        names,
        BTreeMap::from([
            (1, "plan".to_owned()),
            (3, "system".to_owned()),
            (5, "host".to_owned()),
            (6, "check".to_owned()),
        ])
    );
}

/// Lines that are neither blank nor only a comment.
fn code_lines(text: &str) -> usize {
    strip(text, false)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

#[test]
fn no_source_file_is_much_over_800_lines_of_code() {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let too_long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = code_lines(&std::fs::read_to_string(f).expect("read source"));
            (n > MAX_CODE_LINES).then(|| format!("{}: {n} lines of code", f.display()))
        })
        .collect();
    assert!(
        too_long.is_empty(),
        "split these into a folder of smaller files:\n{}",
        too_long.join("\n")
    );
}
