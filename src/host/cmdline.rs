//! Kernel command-line text (`/proc/cmdline`, a loader's configured options) → [`KernelCmdline`].
//!
//! Splitting follows the kernel's own `next_arg`: whitespace separates tokens except inside
//! double quotes, a quote may wrap the whole token or the value, there is no escape character,
//! and a bare `--` ends the kernel's part (what follows goes to init).

use super::{CmdlineToken, KernelCmdline};

/// Parameters a boot loader adds on its own: they are facts of the boot, not configuration,
/// so consumers comparing a configured with a running command line skip them.
const LOADER_INJECTED: [&str; 3] = ["BOOT_IMAGE", "initrd", "systemd.machine_id"];

impl KernelCmdline {
    /// Split command-line text into tokens the way the kernel does. Never fails: any text is
    /// some command line. Loader-injected tokens (`BOOT_IMAGE=`, `initrd=`) are kept; see
    /// [`is_loader_injected`].
    pub fn parse(text: &str) -> KernelCmdline {
        let mut tokens = Vec::new();
        for raw in split_raw(text) {
            let token = split_token(raw);
            if token.key == "--" && token.value.is_none() {
                break;
            }
            tokens.push(token);
        }
        KernelCmdline { tokens }
    }
}

/// Whether `key` is a parameter the boot loader injects (`BOOT_IMAGE`, `initrd`,
/// `systemd.machine_id`), rather than one a person configured.
pub fn is_loader_injected(key: &str) -> bool {
    LOADER_INJECTED
        .iter()
        .any(|k| super::param_names_equal(k, key))
}

/// Raw tokens with their quotes: whitespace outside double quotes separates them.
fn split_raw(text: &str) -> Vec<&str> {
    token_spans(text).into_iter().map(|r| &text[r]).collect()
}

/// The byte range of every raw token (quotes included), split the way the kernel splits its
/// command line: on ASCII whitespace outside double quotes; there is no escape character.
/// Shared with the loader editors, which must see exactly the tokens the kernel will.
pub fn token_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut in_quote = false;
    for (i, c) in text.char_indices() {
        // The kernel's `isspace` on ASCII; non-ASCII text belongs to a token.
        if (c.is_ascii_whitespace() || c == '\x0b') && !in_quote {
            if let Some(s) = start.take() {
                out.push(s..i);
            }
            continue;
        }
        if start.is_none() {
            start = Some(i);
        }
        if c == '"' {
            in_quote = !in_quote;
        }
    }
    if let Some(s) = start {
        out.push(s..text.len());
    }
    out
}

/// One raw token → key and value, removing a quote pair that wraps the token or the value.
/// Quotes elsewhere stay, as they do for the kernel.
fn split_token(raw: &str) -> CmdlineToken {
    let (body, wrapped) = match raw.strip_prefix('"') {
        Some(rest) => (rest.strip_suffix('"').unwrap_or(rest), true),
        None => (raw, false),
    };
    match body.split_once('=') {
        Some((key, value)) => {
            // A wrapped token already lost its closing quote; only a value that opens with
            // a quote still carries one.
            let value = match value.strip_prefix('"') {
                Some(v) if !wrapped => v.strip_suffix('"').unwrap_or(v),
                Some(v) => v,
                None => value,
            };
            CmdlineToken {
                key: key.to_owned(),
                value: Some(value.to_owned()),
            }
        }
        None => CmdlineToken {
            key: body.to_owned(),
            value: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{KernelCmdline, is_loader_injected};

    fn pairs(text: &str) -> Vec<(String, Option<String>)> {
        KernelCmdline::parse(text)
            .tokens
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect()
    }

    fn kv(k: &str, v: Option<&str>) -> (String, Option<String>) {
        (k.to_owned(), v.map(str::to_owned))
    }

    #[test]
    fn splits_like_the_kernel() {
        let got = pairs(
            "BOOT_IMAGE=/vmlinuz root=UUID=x ro quiet \"acpi_osi=!Windows 2020\" foo=\"bar baz\" -- single\n",
        );
        assert_eq!(
            got,
            vec![
                kv("BOOT_IMAGE", Some("/vmlinuz")),
                kv("root", Some("UUID=x")),
                kv("ro", None),
                kv("quiet", None),
                kv("acpi_osi", Some("!Windows 2020")),
                kv("foo", Some("bar baz")),
            ]
        );
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        assert!(pairs("").is_empty());
        assert!(pairs("  \n\t ").is_empty());
        assert_eq!(pairs("\""), vec![kv("", None)]);
        assert_eq!(
            pairs("a=\"unterminated b"),
            vec![kv("a", Some("unterminated b"))]
        );
        assert_eq!(pairs("\"quoted flag\""), vec![kv("quoted flag", None)]);
        assert_eq!(
            pairs("a=b=c --=x"),
            vec![kv("a", Some("b=c")), kv("--", Some("x"))]
        );
        assert_eq!(pairs("x=é\ty"), vec![kv("x", Some("é")), kv("y", None)]);
        assert_eq!(pairs("a=\"\""), vec![kv("a", Some(""))]);
    }

    #[test]
    fn loader_injected_keys() {
        assert!(is_loader_injected("BOOT_IMAGE"));
        assert!(is_loader_injected("initrd"));
        assert!(is_loader_injected("systemd.machine-id"));
        assert!(!is_loader_injected("root"));
    }
}
