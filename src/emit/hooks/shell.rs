//! Shell quoting for the hook scripts: every value that came from the spec or the host reaches a
//! script only through [`quote`], so no value can ever be read as shell syntax.

/// Quote `s` as one bash word: wrapped in single quotes, each `'` written as `'\''` (close the
/// quote, an escaped quote, reopen). Inside single quotes bash gives no character a meaning —
/// not `$`, backticks, `\` or newlines — so the result is always exactly `s`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str(r"'\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::quote;

    /// What bash makes of `printf %s <quoted>`: the round trip through the real consumer.
    fn through_bash(quoted: &str) -> String {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("printf %s {quoted}"))
            .output()
            .expect("run bash");
        assert!(out.status.success(), "bash rejected {quoted}");
        String::from_utf8(out.stdout).expect("utf-8")
    }

    #[test]
    fn quotes_are_single_quotes_with_escaped_quotes() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("win10"), "'win10'");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$(reboot)"), "'$(reboot)'");
        assert_eq!(quote("`id`"), "'`id`'");
        assert_eq!(quote("a\nb"), "'a\nb'");
        assert_eq!(quote("naïve ☃"), "'naïve ☃'");
    }

    #[test]
    fn bash_reads_back_exactly_what_was_quoted() {
        for s in [
            "",
            "with spaces  and\ttabs",
            "it's",
            "''",
            "$(touch /tmp/passplan-pwned)",
            "`touch /tmp/passplan-pwned`",
            "${HOME}$USER\\n",
            "line one\nline two\n",
            "naïve ☃ 日本",
            "/opt/my hooks/it's.sh",
            "-n",
        ] {
            assert_eq!(through_bash(&quote(s)), s, "{s:?}");
        }
    }
}
