//! Views of a [`Plan`]: the human diff (Terraform's `+ ~ -`, chezmoi's unified diffs) and the
//! JSON document (`schema/plan.schema.json`). Renderers write to `impl Write`; colour is a flag.

use std::fmt::Write as _;
use std::io::{self, Write};

use similar::TextDiff;

use super::{Action, Plan};

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

struct Paint(bool);

impl Paint {
    fn on(&self, code: &'static str) -> &'static str {
        if self.0 { code } else { "" }
    }
    fn off(&self) -> &'static str {
        if self.0 { RESET } else { "" }
    }
}

/// The summary line: `Plan: 3 to create, 2 to change, 0 to remove · reboot required`.
pub fn summary(plan: &Plan) -> String {
    let (c, u, d) = plan.counts();
    let mut line = format!("Plan: {c} to create, {u} to change, {d} to remove");
    if !plan.steps.is_empty() {
        let n = plan.steps.len();
        let _ = write!(line, ", {n} command{}", if n == 1 { "" } else { "s" });
    }
    if plan.reboot_required {
        line.push_str(" · reboot required");
    }
    line
}

/// Write the plan for a person.
pub fn human(plan: &Plan, out: &mut dyn Write, color: bool) -> io::Result<()> {
    let p = Paint(color);
    if plan.has_changes() {
        writeln!(out, "passplan will make these changes, in this order:\n")?;
    } else {
        writeln!(out, "No changes. The host matches the spec.")?;
    }
    for change in &plan.changes {
        let colour = match change.action {
            Action::Create => GREEN,
            Action::Update => YELLOW,
            Action::Delete => RED,
        };
        let mode = change
            .mode_after
            .or(change.mode_before)
            .map(|m| format!(", {m:04o}"))
            .unwrap_or_default();
        let owner = match change.ownership {
            _ if super::domains::domain_of(&change.path).is_some() => "libvirt domain, merged",
            crate::desired::Ownership::Owned => "owned",
            crate::desired::Ownership::Edited => "edited in place",
        };
        writeln!(
            out,
            "  {}{}{} {}{}{} ({owner}{mode})",
            p.on(colour),
            change.action.symbol(),
            p.off(),
            p.on(BOLD),
            change.path,
            p.off()
        )?;
        writeln!(out, "      {}{}{}", p.on(DIM), change.reason, p.off())?;
        if change.drift {
            writeln!(
                out,
                "      {}! edited by hand since passplan wrote it; apply refuses to overwrite it without --force{}",
                p.on(RED),
                p.off()
            )?;
        }
        if let (Some(a), Some(b)) = (change.mode_before, change.mode_after)
            && a != b
        {
            writeln!(out, "      mode {a:04o} → {b:04o}")?;
        }
        let before = change.before.as_deref().unwrap_or("");
        let after = change.after.as_deref().unwrap_or("");
        if before != after {
            let diff = TextDiff::from_lines(before, after);
            let old_name = if change.action == Action::Create {
                "/dev/null".to_owned()
            } else {
                format!("a/{}", change.path.trim_start_matches('/'))
            };
            let new_name = if change.action == Action::Delete {
                "/dev/null".to_owned()
            } else {
                format!("b/{}", change.path.trim_start_matches('/'))
            };
            let text = diff
                .unified_diff()
                .context_radius(3)
                .header(&old_name, &new_name)
                .to_string();
            for line in text.lines() {
                let colour = match line.chars().next() {
                    Some('+') if !line.starts_with("+++") => p.on(GREEN),
                    Some('-') if !line.starts_with("---") => p.on(RED),
                    Some('@') => p.on(DIM),
                    _ => "",
                };
                let reset = if colour.is_empty() { "" } else { p.off() };
                writeln!(out, "      {colour}{line}{reset}")?;
            }
        }
        writeln!(out)?;
    }
    for pending in &plan.pending {
        writeln!(
            out,
            "{}! pending since apply {}: `{}` failed or did not finish; apply runs it again{}",
            p.on(RED),
            pending.since,
            pending.step.argv.join(" "),
            p.off()
        )?;
    }
    if !plan.pending.is_empty() {
        writeln!(out)?;
    }
    if !plan.steps.is_empty() {
        writeln!(out, "Commands, in order:")?;
        for (i, step) in plan.steps.iter().enumerate() {
            writeln!(
                out,
                "  {}. {}  {}— {}{}",
                i + 1,
                step.argv.join(" "),
                p.on(DIM),
                step.reason,
                p.off()
            )?;
        }
        writeln!(out)?;
    }
    if plan.reboot_required {
        writeln!(
            out,
            "Reboot required: the kernel reads its command line and initramfs only at boot."
        )?;
    }
    if !plan.after_reboot.is_empty() {
        writeln!(out, "After the reboot (phase 2):")?;
        for item in &plan.after_reboot {
            writeln!(out, "  - {item}")?;
        }
    }
    if !plan.pending_tokens.is_empty() {
        writeln!(
            out,
            "Kernel command line: the running kernel lacks {}; they take effect after a reboot.",
            plan.pending_tokens.join(" ")
        )?;
    }
    for note in &plan.notes {
        writeln!(out, "note: {note}")?;
    }
    if plan.has_changes() {
        writeln!(out, "\n{}{}{}", p.on(BOLD), summary(plan), p.off())?;
    }
    Ok(())
}

/// Write the plan as JSON (the same document `-o FILE` saves).
pub fn json(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, plan).map_err(io::Error::other)?;
    writeln!(out)
}
