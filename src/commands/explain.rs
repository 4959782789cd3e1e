//! `passplan explain [CODE]`: a rule's documentation, or the list of every code.

use std::io::Write;

use super::Outcome;
use crate::check::rules::{self, RULES};
use crate::diag::{self, did_you_mean};

pub(super) fn run(
    code: Option<&str>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Outcome> {
    let Some(code) = code else {
        writeln!(out, "Spec codes:")?;
        for info in diag::CODES {
            writeln!(out, "  {:<32} {}", info.code, first_sentence(info.doc))?;
        }
        writeln!(out, "\nHost rules:")?;
        for rule in RULES {
            writeln!(out, "  {:<32} {}", rule.code, first_sentence(&rule.doc()))?;
        }
        writeln!(
            out,
            "\nRun `passplan explain CODE` for one code's documentation."
        )?;
        return Ok(Outcome::Success);
    };
    if let Some(info) = diag::lookup(code) {
        writeln!(out, "# {}\n\n{}", info.code, info.doc.trim_end())?;
        return Ok(Outcome::Success);
    }
    if let Some(rule) = rules::lookup(code) {
        writeln!(out, "# {}\n\n{}", rule.code, rule.doc().trim_end())?;
        return Ok(Outcome::Success);
    }
    let all = diag::CODES
        .iter()
        .map(|c| c.code.0)
        .chain(RULES.iter().map(|r| r.code.0));
    match did_you_mean(code, all) {
        Some(near) => writeln!(
            err,
            "error: no diagnostic code `{code}`; did you mean `{near}`?"
        )?,
        None => writeln!(
            err,
            "error: no diagnostic code `{code}`; run `passplan explain` to list them"
        )?,
    }
    Ok(Outcome::Failure)
}

/// The first sentence of a doc's "What it does" section.
fn first_sentence(doc: &str) -> String {
    let body = doc
        .lines()
        .skip_while(|l| !l.starts_with("## What it does"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    match body.find(". ") {
        Some(i) => body[..=i].to_owned(),
        None => body,
    }
}
