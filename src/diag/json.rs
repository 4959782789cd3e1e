//! Diagnostics for machines: each finding with its code, severity, message, the place in the
//! spec as file/line/column, the label, the host fact and the fix — the `diagnostics` array of
//! `check --json` and `plan --json` (`schema/plan.schema.json`, `$defs/diagnostic`).

use serde::Serialize;

use super::{Diagnostic, Diagnostics, Severity};

/// Where in the spec a finding points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The spec as named on the command line.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// One finding, as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable code (`iommu/group-incomplete`); `passplan explain CODE` documents it.
    pub code: &'static str,
    /// `error`, `warning` or `notice`.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// The spec span it is about (absent for findings about the host alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The label on that span.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub label: String,
    /// The host fact behind it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_fact: Option<String>,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// The findings of `diags` over the spec `text` named `file`, in report order.
pub fn findings(file: &str, text: &str, diags: &Diagnostics) -> Vec<Finding> {
    diags
        .sorted()
        .iter()
        .map(|d| finding(file, text, d))
        .collect()
}

fn finding(file: &str, text: &str, d: &Diagnostic) -> Finding {
    Finding {
        code: d.code.0,
        severity: d.severity,
        message: d.message.clone(),
        location: d.span.map(|span| locate(file, text, span.offset())),
        label: d.label.clone(),
        host_fact: d.host_fact.clone(),
        help: d.help.clone(),
    }
}

/// The line and column of a byte offset (clamped to the text, and to a character boundary).
fn locate(file: &str, text: &str, offset: usize) -> Location {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Location {
        file: file.to_owned(),
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::codes::HOST_UNREADABLE;

    #[test]
    fn spans_become_lines_and_columns_counted_from_one() {
        let text = "host {\n  é x\n}\n";
        assert_eq!(
            locate("h.kdl", text, 0),
            Location {
                file: "h.kdl".into(),
                line: 1,
                column: 1
            }
        );
        let x = text.find('x').unwrap();
        let at = locate("h.kdl", text, x);
        assert_eq!((at.line, at.column), (2, 5), "columns count characters");
        assert_eq!(locate("h.kdl", text, 999).line, 4, "clamped to the end");
    }

    #[test]
    fn a_finding_keeps_everything_a_person_sees() {
        let mut diags = Diagnostics::new();
        diags.push(
            Diagnostic::error(HOST_UNREADABLE, "cannot read")
                .at(miette::SourceSpan::from((7, 1)), "here")
                .host("no /sys")
                .help("pass --root"),
        );
        let found = findings("h.kdl", "host {\n  x\n}\n", &diags);
        let json = serde_json::to_value(&found).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{
                "code": HOST_UNREADABLE.0,
                "severity": "error",
                "message": "cannot read",
                "location": {"file": "h.kdl", "line": 2, "column": 1},
                "label": "here",
                "host_fact": "no /sys",
                "help": "pass --root",
            }])
        );
    }
}
