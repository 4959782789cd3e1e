//! Safe names: VM, device and bridge names become paths, libvirt names and shell words.

/// Why a name is not safe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Empty.
    #[error("the name is empty")]
    Empty,
    /// Too long.
    #[error("the name is {len} characters long; at most 64 are allowed")]
    TooLong {
        /// Its length in characters.
        len: usize,
    },
    /// Starts with something other than a letter or digit (`.`, `-`, `_`).
    #[error("the name must start with an ASCII letter or digit")]
    BadStart,
    /// Contains a character outside the safe set.
    #[error("the name contains {found}, which is not allowed")]
    BadChar {
        /// The character, described (`a space`, `'/'`).
        found: String,
    },
}

/// The longest allowed name. libvirt allows more, but names also become systemd-style unit
/// parts and directory names, and nobody types 64 characters.
const MAX_LEN: usize = 64;

/// [`validate_name`]'s rule as an extended regular expression (ASCII, `LC_ALL=C`), for the
/// generated hook dispatcher, which must dispatch exactly the names the decoder accepts: one
/// rule in both places (`hooks::the_dispatcher_dispatches_exactly_the_names_the_decoder_accepts`).
pub const NAME_RULE: &str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";

/// Check that `name` is in the safe set: ASCII letters, digits, `.`, `_`, `-`, starting with a
/// letter or digit, at most 64 characters. This excludes `/`, `..` as a whole name, whitespace,
/// quotes, `$`, backticks and every non-ASCII character.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    let Some(first) = name.chars().next() else {
        return Err(NameError::Empty);
    };
    let len = name.chars().count();
    if len > MAX_LEN {
        return Err(NameError::TooLong { len });
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        let found = match bad {
            ' ' => "a space".to_owned(),
            '\n' => "a newline".to_owned(),
            '\t' => "a tab".to_owned(),
            c if c.is_control() => format!("the control character U+{:04X}", u32::from(c)),
            c => format!("'{c}'"),
        };
        return Err(NameError::BadChar { found });
    }
    if !first.is_ascii_alphanumeric() {
        return Err(NameError::BadStart);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_for_scripts_has_the_same_length() {
        assert!(NAME_RULE.ends_with(&format!("{{0,{}}}$", MAX_LEN - 1)));
        // `..` inside a name is fine: only a whole `..` component climbs, and no name starts
        // with a dot.
        assert_eq!(validate_name("win..10"), Ok(()));
    }

    #[test]
    fn accepts_ordinary_names() {
        for name in [
            "win10",
            "win-10",
            "Win_11.gaming",
            "3080ti",
            "passplan-test-e2e",
        ] {
            assert_eq!(validate_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn rejects_hostile_names() {
        for name in [
            "",
            "../etc",
            "..",
            ".hidden",
            "-rf",
            "a/b",
            "$(reboot)",
            "`id`",
            "a b",
            "a\nb",
            "naïve",
            "x'y",
            "a\"b",
            "a;b",
        ] {
            assert!(validate_name(name).is_err(), "{name:?} should be rejected");
        }
        assert_eq!(
            validate_name(&"a".repeat(65)),
            Err(NameError::TooLong { len: 65 })
        );
    }
}
