//! A guard in front of the KDL parser: how deeply a text nests `{` blocks.
//!
//! The `kdl` crate parses children blocks by recursion, and a few hundred nested `{` overflow
//! the main thread's stack — an abort, not an error (found by `fuzz/` and
//! `tests/it/garbage.rs`). No spec needs more than four levels (`vm { smbios { system } }`), so
//! text nested deeper than [`MAX_DEPTH`] is refused before it reaches the parser.
//!
//! The scan skips strings and comments the way KDL 2 writes them, so braces inside them do not
//! count. Where the scan is unsure it ends a string or comment early (at a line end for
//! single-line strings): counting too many braces can only refuse a text that is nonsense
//! anyway, while counting too few would let the parser recurse.

/// The deepest nesting of `{` accepted; the parser's recursion stays far from any stack limit.
pub(super) const MAX_DEPTH: usize = 32;

/// The byte offset of the first `{` that opens a block deeper than [`MAX_DEPTH`], if any.
pub(super) fn too_deep(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
                i += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => i = line_end(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => i = block_comment_end(b, i + 2),
            b'"' => i = string_end(b, i, 0),
            b'#' => {
                let hashes = b[i..].iter().take_while(|c| **c == b'#').count();
                if b.get(i + hashes) == Some(&b'"') {
                    i = string_end(b, i + hashes, hashes);
                } else {
                    i += hashes;
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// The index of the `\n` ending the line at `i` (or the end).
fn line_end(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|c| *c == b'\n')
        .map_or(b.len(), |n| i + n)
}

/// Just past a `/* … */` comment whose body starts at `i` (KDL block comments nest).
fn block_comment_end(b: &[u8], mut i: usize) -> usize {
    let mut open = 1usize;
    while i < b.len() {
        if b[i..].starts_with(b"/*") {
            open += 1;
            i += 2;
        } else if b[i..].starts_with(b"*/") {
            open -= 1;
            i += 2;
            if open == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// Just past the string whose opening quote is at `i`, raw when `hashes > 0` (`#"…"#`).
/// Single-line strings end at a line end at the latest; `"""` strings span lines.
fn string_end(b: &[u8], i: usize, hashes: usize) -> usize {
    let multi = b[i..].starts_with(b"\"\"\"");
    let quotes = if multi { 3 } else { 1 };
    let mut close = vec![b'"'; quotes];
    close.extend(std::iter::repeat_n(b'#', hashes));
    let mut j = i + quotes;
    while j < b.len() {
        if hashes == 0 && b[j] == b'\\' {
            j += 2;
            continue;
        }
        if !multi && b[j] == b'\n' {
            return j;
        }
        if b[j..].starts_with(&close) {
            return j + close.len();
        }
        j += 1;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_blocks_but_not_braces_in_strings_or_comments() {
        let deep = |n: usize| format!("{}{}", "a { ".repeat(n), "} ".repeat(n));
        assert_eq!(too_deep(&deep(MAX_DEPTH)), None);
        assert!(too_deep(&deep(MAX_DEPTH + 1)).is_some());
        let braces = "{".repeat(100);
        for quoted in [
            format!("a \"{braces}\""),
            format!("a #\"{braces}\"#"),
            format!("a ##\"\"#{braces}\"##"),
            format!("a \"\"\"\n{braces}\n\"\"\""),
            format!("a \"\\\"{braces}\""),
            format!("// {braces}\na"),
            format!("/* /* */ {braces} */ a"),
        ] {
            assert_eq!(too_deep(&quoted), None, "{quoted}");
        }
    }

    #[test]
    fn closing_braces_in_strings_cannot_hide_nesting() {
        let sneaky = "a \"}\" { ".repeat(MAX_DEPTH + 1);
        assert!(too_deep(&sneaky).is_some());
        // A single-line string ends at the line end, as the parser's recovery sees it.
        let unterminated = format!("a \"}}}}}}}}\n{}", "{".repeat(MAX_DEPTH + 1));
        assert!(too_deep(&unterminated).is_some());
    }
}
