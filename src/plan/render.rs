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

/// Write the plan for a person: every change with its reason and diff.
pub fn human(plan: &Plan, out: &mut dyn Write, color: bool) -> io::Result<()> {
    write_human(plan, out, color, false)
}

/// Write the plan for a person who knows what the files hold: one line per change, then the
/// commands and the reboot, without reasons or diffs.
pub fn compact(plan: &Plan, out: &mut dyn Write, color: bool) -> io::Result<()> {
    write_human(plan, out, color, true)
}

fn write_human(plan: &Plan, out: &mut dyn Write, color: bool, compact: bool) -> io::Result<()> {
    let p = Paint(color);
    let unmanaged = plan.libvirt.as_ref().map(|l| &l.unmanaged);
    let unmanaged = unmanaged.into_iter().flatten();
    if plan.has_changes() {
        writeln!(out, "passplan will make these changes, in this order:\n")?;
    } else if unmanaged.clone().next().is_some() {
        writeln!(
            out,
            "No changes. passplan leaves these domains alone until you adopt them:\n"
        )?;
    } else {
        writeln!(out, "No changes. The host matches the spec.")?;
    }
    // Changes already shown, by (before, after): a second file with the same change (a prepare
    // and a release script with the same bytes) points at the first instead of repeating it.
    let mut shown: Vec<(&Option<String>, &Option<String>, &str)> = Vec::new();
    // Domains passplan did not define: shown where they would be changed, never changed.
    for name in unmanaged {
        writeln!(
            out,
            "  {}~{} {}domain:{name}{} (not managed by passplan: pass --adopt {name} to take it over)\n",
            p.on(YELLOW),
            p.off(),
            p.on(BOLD),
            p.off()
        )?;
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
        if compact {
            if change.drift {
                writeln!(out, "      {}! edited by hand{}", p.on(RED), p.off())?;
            }
            continue;
        }
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
        if let Some((_, _, first)) = shown
            .iter()
            .find(|(b, a, _)| **b == change.before && **a == change.after)
            && before != after
        {
            writeln!(out, "      (the same change as {first})")?;
        } else if before != after {
            shown.push((&change.before, &change.after, change.path.as_str()));
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
    if compact && !plan.changes.is_empty() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::Desired;
    use crate::plan::domains::LibvirtPlan;

    /// Issue 13, item 6: a domain passplan did not define is shown, with the way to adopt it,
    /// and the plan does not claim the host matches the spec.
    #[test]
    fn an_unmanaged_domain_is_shown_with_the_flag_that_adopts_it() {
        let dir = tempfile::tempdir().unwrap();
        let host = crate::host::discover(dir.path()).unwrap();
        let desired = Desired::default();
        let mut plan = crate::plan::plan(&desired, &crate::plan::Observed::default(), &host);
        plan.libvirt = Some(LibvirtPlan {
            uri: "test:///default".into(),
            observed: std::collections::BTreeMap::new(),
            keep_nvram: true,
            managed: std::collections::BTreeSet::new(),
            unmanaged: ["win10".to_owned()].into(),
        });
        let mut out = Vec::new();
        human(&plan, &mut out, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(
                "\n  ~ domain:win10 (not managed by passplan: pass --adopt win10 to take it over)\n"
            ),
            "{text}"
        );
        assert!(!text.contains("The host matches the spec"), "{text}");
        assert!(!plan.has_changes());
    }
}
