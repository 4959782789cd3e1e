//! Where in the spec an emitted file comes from, for its header and the plan's reasons: the
//! spec node, written as `vm "win10" › memory hugepages="dynamic"`.
//!
//! Never the spec's path or a line number: the same spec must give the same bytes whatever
//! the working directory, the path it was named by, its comments or the order of its
//! top-level nodes, or a converged host would plan changes forever (a timer with an absolute
//! path and a person with a relative one would undo each other). Every piece of text is
//! cleaned of control characters, so nothing that reaches a header can end the comment.

/// A top-level node: `vm "win10"`, `gpu "rtx3080"`.
pub(crate) fn node(kind: &str, name: &str) -> String {
    format!("{} \"{}\"", clean(kind), clean(name).replace('"', "?"))
}

/// A node below `parent`: `vm "win10" › memory hugepages="dynamic"`.
pub(crate) fn child(parent: &str, below: &str) -> String {
    format!("{parent} › {}", clean(below))
}

/// `text` with every control character (newline, carriage return, escape, …) replaced, so that
/// it stays on one line of a comment.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_read_like_the_spec() {
        let vm = node("vm", "win10");
        assert_eq!(vm, "vm \"win10\"");
        assert_eq!(
            child(&vm, "memory hugepages=\"dynamic\""),
            "vm \"win10\" › memory hugepages=\"dynamic\""
        );
    }

    #[test]
    fn nothing_can_end_the_comment_or_a_quote() {
        let hostile = node("vm", "a\nset -x\r\u{1b}[31m\"b");
        assert!(!hostile.chars().any(char::is_control), "{hostile:?}");
        assert_eq!(hostile, "vm \"a?set -x??[31m?b\"");
        assert!(!child(&hostile, "hook \"x\ny\"").contains('\n'));
    }
}
