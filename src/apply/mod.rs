//! Apply: execute a [`Plan`] through a [`System`] and a [`Hypervisor`]. Files first (each
//! backed up and journaled before it changes, rolled back together on failure), then the
//! ownership state, then the commands in order, then the libvirt domains (defined with
//! validation after their hooks are in place and the daemon has reloaded). A failing command stops the apply with the files in place and the journal
//! kept; `passplan rollback` restores what the last apply changed.

pub mod journal;
pub mod lock;

use std::io::Write;

use journal::{Entry, Journal};

use crate::system::System;
use crate::system::state::{self, ManagedFile, State, StateError, sha256};

use crate::hypervisor::{Hypervisor, HypervisorError};
use crate::plan::domains::{canonical_text, domain_of};
use crate::plan::{Action, Plan};

/// How to apply.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Overwrite files edited by hand since passplan wrote them.
    pub force: bool,
}

/// Why an apply stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The machine changed since the plan was made.
    #[error("the plan is stale: {path} changed since the plan was made; run `passplan plan` again")]
    Stale {
        /// The first file found changed.
        path: String,
    },
    /// Managed files were edited by hand.
    #[error("{} edited by hand since passplan wrote {}: review the plan's diff, then apply with --force to overwrite", paths.join(", "), if paths.len() == 1 { "it" } else { "them" })]
    Drift {
        /// The files.
        paths: Vec<String>,
    },
    /// A file change failed; everything was rolled back (or the listed files could not be).
    #[error("{what}; {}", if unrestored.is_empty() { "every file was restored as it was".to_owned() } else { format!("these could not be restored: {} (backups under {})", unrestored.join("; "), journal::BACKUP_DIR) })]
    Rolledback {
        /// What failed.
        what: String,
        /// Files that could not be restored.
        unrestored: Vec<String>,
    },
    /// A command failed after the files were changed.
    #[error("`{command}` failed{}; the files are in place and the journal is kept: fix the cause and run `passplan apply` again, or `passplan rollback` to restore the previous files", status.map(|s| format!(" with status {s}")).unwrap_or_default())]
    Command {
        /// The command.
        command: String,
        /// Its exit status.
        status: Option<i32>,
    },
    /// The plan has domain changes but no libvirt connection was given.
    #[error("the plan changes libvirt domains at {uri}, but apply has no connection to it")]
    NoConnection {
        /// The plan's URI.
        uri: String,
    },
    /// A libvirt call failed; the files and commands before it stay done.
    #[error("{0}; the files are in place: fix the cause and run `passplan apply` again")]
    Hypervisor(#[from] HypervisorError),
    /// The state or journal could not be read or written.
    #[error(transparent)]
    State(#[from] StateError),
    /// I/O outside a file change.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What an apply did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Files written or removed.
    pub files: usize,
    /// Commands run.
    pub commands: usize,
    /// Commands recorded but not run (offline root, dry run).
    pub skipped: usize,
    /// Domains defined or undefined.
    pub domains: usize,
    /// A previous, interrupted apply was rolled back first.
    pub recovered: bool,
}

/// Roll back an apply that was interrupted (its journal never finished the files), and remove
/// the temp files killed applies left beside the files they wrote and under
/// `/var/lib/passplan`. Call it holding the lock: then no living apply owns a temp file.
pub fn recover(sys: &mut dyn System) -> Result<bool, ApplyError> {
    let journal = Journal::load(sys)?;
    let mut dirs: std::collections::BTreeSet<String> = State::load(sys)
        .map(|s| s.files.into_keys().collect())
        .unwrap_or_default();
    dirs.extend(
        journal
            .iter()
            .flat_map(|j| j.entries.iter().map(|e| e.path.clone())),
    );
    // Best effort: a temp file that cannot be removed is harmless, and is tried again next time.
    let _ = sys.sweep_temp_files("/var/lib/passplan", true);
    for path in &dirs {
        if let Some((dir, _)) = path.rsplit_once('/').filter(|(d, _)| !d.is_empty()) {
            let _ = sys.sweep_temp_files(dir, false);
        }
    }
    let Some(mut journal) = journal else {
        return Ok(false);
    };
    // A finished apply needs nothing, unless a rollback of it stopped half-way: that is
    // finished first, so nothing proceeds over un-restored files.
    if (journal.files_done && !journal.rollback_incomplete) || journal.rolled_back {
        return Ok(false);
    }
    let failures = journal.undo(sys);
    if !failures.is_empty() {
        return Err(ApplyError::Rolledback {
            what: "an interrupted apply could not be rolled back".to_owned(),
            unrestored: failures,
        });
    }
    Ok(true)
}

/// Apply a plan without libvirt (an offline root). `progress` receives one line per action and
/// the commands' output.
pub fn apply(
    sys: &mut dyn System,
    plan: &Plan,
    options: Options,
    progress: &mut dyn Write,
) -> Result<Report, ApplyError> {
    apply_with(sys, None, plan, options, progress)
}

/// Apply a plan, its domain changes through `hv`.
pub fn apply_with(
    sys: &mut dyn System,
    hv: Option<&mut dyn Hypervisor>,
    plan: &Plan,
    options: Options,
    progress: &mut dyn Write,
) -> Result<Report, ApplyError> {
    if let Some(lv) = &plan.libvirt {
        let Some(hv) = hv.as_deref() else {
            return Err(ApplyError::NoConnection {
                uri: lv.uri.clone(),
            });
        };
        for (name, hash) in &lv.observed {
            let now = hv
                .inactive_xml(name)?
                .map(|x| canonical_text(&x).map(|c| sha256(c.as_bytes())))
                .transpose()
                .map_err(|why| ApplyError::Stale {
                    path: format!("domain:{name} ({why})"),
                })?;
            if &now != hash {
                return Err(ApplyError::Stale {
                    path: format!("domain:{name}"),
                });
            }
        }
    }
    let (domain_changes, file_changes): (Vec<_>, Vec<_>) = plan
        .changes
        .iter()
        .partition(|c| domain_of(&c.path).is_some());
    let mut report = Report {
        recovered: recover(sys)?,
        ..Report::default()
    };
    if report.recovered {
        writeln!(progress, "recovered: rolled back an interrupted apply")?;
    }
    for (path, hash) in &plan.observed {
        let now = sys.read(path)?.map(|f| sha256(&f.bytes));
        if &now != hash {
            return Err(ApplyError::Stale { path: path.clone() });
        }
    }
    // Files and domains alike: a hand edit is never overwritten unasked.
    let drifted: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.drift)
        .map(|c| c.path.clone())
        .collect();
    if !drifted.is_empty() && !options.force {
        return Err(ApplyError::Drift { paths: drifted });
    }
    let mut state = State::load(sys)?;
    let managed = plan
        .libvirt
        .as_ref()
        .map_or_else(|| state.domains.clone(), |lv| lv.managed.clone());
    // Every apply that changes anything has its own journal, so `rollback` undoes exactly it
    // (an apply that only redefines a domain included).
    let mut this_apply: Option<Journal> = None;
    if !file_changes.is_empty() || managed != state.domains || !domain_changes.is_empty() {
        state.domains = managed;
        let mut journal = Journal {
            apply: state.last_apply + 1,
            uri: plan.libvirt.as_ref().map(|l| l.uri.clone()),
            ..Journal::default()
        };
        if let Err(e) = journal.save(sys) {
            return Err(ApplyError::Rolledback {
                what: format!("writing {}: {e}", journal::JOURNAL_PATH),
                unrestored: Vec::new(),
            });
        }
        for change in &file_changes {
            if let Err(e) = change_file(sys, &mut journal, change) {
                let unrestored = journal.undo(sys);
                return Err(ApplyError::Rolledback {
                    what: format!("{} {}: {e}", change.action.symbol(), change.path),
                    unrestored,
                });
            }
            writeln!(progress, "{} {}", change.action.symbol(), change.path)?;
            report.files += 1;
        }
        for change in &file_changes {
            match (&change.after, change.action) {
                (Some(after), Action::Create | Action::Update) => {
                    state.files.insert(
                        change.path.clone(),
                        ManagedFile {
                            sha256: sha256(after.as_bytes()),
                            ownership: change.ownership,
                            mode: change.mode_after.unwrap_or(0o644),
                        },
                    );
                }
                _ => {
                    state.files.remove(&change.path);
                }
            }
        }
        state.last_apply = journal.apply;
        state.kernel_tokens = plan.owned_tokens.iter().cloned().collect();
        // Every command the plan runs is owed until it succeeds: a failing one (or a crash
        // among them) leaves it recorded, and the next plan shows it and the next apply runs it.
        for step in &plan.steps {
            if !state.pending.iter().any(|p| p.step.argv == step.argv) {
                state.pending.push(state::PendingStep {
                    step: step.clone(),
                    since: journal.apply,
                });
            }
        }
        // The state is journaled like any file, so undoing the apply undoes it too.
        let bytes = state.to_bytes();
        if let Err(e) = journaled(sys, &mut journal, state::STATE_PATH, Some(&bytes), 0o600) {
            let unrestored = journal.undo(sys);
            return Err(ApplyError::Rolledback {
                what: format!("writing the state {}: {e}", state::STATE_PATH),
                unrestored,
            });
        }
        // Marking the files done is a write like any other: on a full disk, roll back.
        journal.files_done = true;
        if let Err(e) = journal.save(sys) {
            journal.files_done = false;
            let unrestored = journal.undo(sys);
            return Err(ApplyError::Rolledback {
                what: format!("writing {}: {e}", journal::JOURNAL_PATH),
                unrestored,
            });
        }
        this_apply = Some(journal);
    }
    let owed = state.pending.len();
    for (i, step) in plan.steps.iter().enumerate() {
        let command = step.argv.join(" ");
        writeln!(
            progress,
            "[{}/{}] {command} — {}",
            i + 1,
            plan.steps.len(),
            step.reason
        )?;
        progress.flush()?;
        let out = match sys.run(&step.argv) {
            Ok(out) => out,
            Err(e) => {
                writeln!(progress, "  {e}")?;
                // The command's failure is the news; if its record fails too, the commands
                // that did succeed are merely run again next time.
                let _ = save_pending(sys, &mut state, owed);
                return Err(ApplyError::Command {
                    command,
                    status: None,
                });
            }
        };
        if out.skipped {
            writeln!(
                progress,
                "  (not run: the root is not this machine, or this is a dry run)"
            )?;
        }
        for line in out.output.lines() {
            writeln!(progress, "  {line}")?;
        }
        if !out.success() {
            let _ = save_pending(sys, &mut state, owed);
            return Err(ApplyError::Command {
                command,
                status: out.status,
            });
        }
        state.pending.retain(|p| p.step.argv != step.argv);
        if out.skipped {
            report.skipped += 1;
        } else {
            report.commands += 1;
        }
    }
    save_pending(sys, &mut state, owed)?;
    if let (Some(hv), Some(lv)) = (hv, &plan.libvirt) {
        let mut done = Vec::new();
        let mut failed = None;
        for change in domain_changes {
            let name = domain_of(&change.path).unwrap_or_default();
            // The definition before, journaled before the define: rollback restores it.
            if let Some(journal) = this_apply.as_mut() {
                journal.domains.push(journal::DomainEntry {
                    name: name.to_owned(),
                    previous: hv.inactive_xml(name)?,
                });
                journal.save(sys)?;
            }
            let result = match (&change.after, change.action) {
                (Some(xml), Action::Create | Action::Update) => hv.define(xml),
                _ => hv.undefine(name, lv.keep_nvram),
            };
            if let Err(e) = result {
                failed = Some(e);
                break;
            }
            writeln!(progress, "{} {}", change.action.symbol(), change.path)?;
            report.domains += 1;
            done.push(change);
        }
        // The domains defined before a failure are passplan's as they are now.
        record_domains(sys, &*hv, &done)?;
        if let Some(e) = failed {
            return Err(e.into());
        }
    }
    Ok(report)
}

/// Record in the ownership state the fingerprint of each domain's owned part as libvirt now has
/// it (after its define added uuid, addresses and MACs), so that the next plan tells a later
/// hand edit from passplan's own define. The state was written before the domains (the journal
/// covers it); this second write only adds the fingerprints.
fn record_domains(
    sys: &mut dyn System,
    hv: &dyn Hypervisor,
    changes: &[&crate::plan::Change],
) -> Result<(), ApplyError> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut state = State::load(sys)?;
    for change in changes {
        let name = domain_of(&change.path).unwrap_or_default();
        let hash = hv
            .inactive_xml(name)?
            .and_then(|xml| crate::plan::domains::owned_hash(&xml).ok());
        match hash {
            Some(h) if state.domains.contains(name) => {
                state.domain_hashes.insert(name.to_owned(), h);
            }
            _ => {
                state.domain_hashes.remove(name);
            }
        }
    }
    let domains = state.domains.clone();
    state.domain_hashes.retain(|n, _| domains.contains(n));
    state.save(sys)?;
    Ok(())
}

/// Write the state when commands that were owed have succeeded since it was written (`owed`
/// is how many were pending then). A command that failed stays pending.
fn save_pending(sys: &mut dyn System, state: &mut State, owed: usize) -> Result<(), ApplyError> {
    if state.pending.len() != owed {
        state.save(sys)?;
    }
    Ok(())
}

fn change_file(
    sys: &mut dyn System,
    journal: &mut Journal,
    change: &crate::plan::Change,
) -> std::io::Result<()> {
    let after = match change.action {
        Action::Create | Action::Update => change.after.as_deref().map(str::as_bytes),
        Action::Delete => None,
    };
    journaled(
        sys,
        journal,
        &change.path,
        after,
        change.mode_after.unwrap_or(0o644),
    )
}

/// Back up `path`, record it in the journal, then write `after` (or remove the file for `None`).
fn journaled(
    sys: &mut dyn System,
    journal: &mut Journal,
    path: &str,
    after: Option<&[u8]>,
    mode: u32,
) -> std::io::Result<()> {
    let current = sys.read(path)?;
    let backup = match &current {
        Some(file) => {
            let backup = journal.backup_path(path);
            sys.write(&backup, &file.bytes, 0o600).map_err(|e| {
                std::io::Error::new(e.kind(), format!("saving its backup {backup}: {e}"))
            })?;
            Some(backup)
        }
        None => None,
    };
    journal.entries.push(Entry {
        path: path.to_owned(),
        backup,
        mode: current.as_ref().map(|f| f.mode),
    });
    journal.save(sys).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("writing the journal {}: {e}", journal::JOURNAL_PATH),
        )
    })?;
    match after {
        Some(bytes) => sys.write(path, bytes, mode),
        None => sys.remove(path),
    }
}

/// What a rollback restores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackPreview {
    /// The apply it undoes.
    pub apply: u64,
    /// Its files, newest first (the ownership state aside).
    pub files: Vec<String>,
    /// Its domains, newest first, each with what it goes back to.
    pub domains: Vec<String>,
    /// The libvirt connection those domains are on.
    pub uri: Option<String>,
}

/// What `rollback` would restore; `None` when there is nothing to roll back.
pub fn rollback_preview(sys: &dyn System) -> Result<Option<RollbackPreview>, ApplyError> {
    let Some(journal) = Journal::load(sys)? else {
        return Ok(None);
    };
    if journal.rolled_back {
        return Ok(None);
    }
    let files = journal
        .entries
        .iter()
        .rev()
        .filter(|e| e.path != state::STATE_PATH)
        .map(|e| e.path.clone())
        .collect();
    let domains = journal
        .domains
        .iter()
        .rev()
        .map(|d| match d.previous {
            Some(_) => format!("domain:{} (its previous definition)", d.name),
            None => format!("domain:{} (undefined again; its NVRAM is kept)", d.name),
        })
        .collect();
    Ok(Some(RollbackPreview {
        apply: journal.apply,
        files,
        domains,
        uri: journal.uri,
    }))
}

/// Restore what the last apply changed, and the state as it was before it (files only: an
/// apply that changed domains needs [`rollback_with`] and the connection).
pub fn rollback(sys: &mut dyn System, progress: &mut dyn Write) -> Result<usize, ApplyError> {
    rollback_with(sys, None, progress)
}

/// Restore exactly what the last apply changed: its domains' previous definitions (through
/// `hv`), its files, and the ownership state as it was before it. A rollback that cannot
/// restore everything is recorded as incomplete: the next apply tries again first.
pub fn rollback_with(
    sys: &mut dyn System,
    hv: Option<&mut dyn Hypervisor>,
    progress: &mut dyn Write,
) -> Result<usize, ApplyError> {
    let Some(mut journal) = Journal::load(sys)? else {
        writeln!(
            progress,
            "Nothing to roll back: no apply has been recorded."
        )?;
        return Ok(0);
    };
    if journal.rolled_back {
        writeln!(
            progress,
            "Nothing to roll back: the last apply ({}) was already rolled back.",
            journal.apply
        )?;
        return Ok(0);
    }
    if !journal.domains.is_empty() {
        let Some(hv) = hv else {
            return Err(ApplyError::NoConnection {
                uri: journal
                    .uri
                    .clone()
                    .unwrap_or_else(|| "qemu:///system".to_owned()),
            });
        };
        for entry in journal.domains.clone().iter().rev() {
            let result = match &entry.previous {
                Some(xml) => hv.define(xml),
                None => hv.undefine(&entry.name, true),
            };
            if let Err(e) = result {
                journal.rollback_incomplete = true;
                let _ = journal.save(sys);
                return Err(ApplyError::Rolledback {
                    what: format!("rollback was incomplete: domain:{}: {e}", entry.name),
                    unrestored: vec![format!("domain:{}", entry.name)],
                });
            }
            writeln!(progress, "restored domain:{}", entry.name)?;
        }
    }
    let n = journal
        .entries
        .iter()
        .filter(|e| e.path != state::STATE_PATH)
        .count();
    let failures = journal.undo(sys);
    if !failures.is_empty() {
        return Err(ApplyError::Rolledback {
            what: "rollback was incomplete (recorded: the next apply tries again first)".to_owned(),
            unrestored: failures,
        });
    }
    for entry in journal
        .entries
        .iter()
        .rev()
        .filter(|e| e.path != state::STATE_PATH)
    {
        writeln!(progress, "restored {}", entry.path)?;
    }
    Ok(n + journal.domains.len())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::desired::{Desired, DomainDef};
    use crate::hypervisor::FakeHypervisor;
    use crate::hypervisor::tree::Element;
    use crate::plan::domains::{self, Removal};
    use crate::system::RealSystem;

    const XML: &str = "<domain type='qemu'><name>t</name><memory unit='MiB'>128</memory>\
        <currentMemory unit='MiB'>128</currentMemory><vcpu placement='static'>1</vcpu>\
        <os><type arch='x86_64' machine='pc'>hvm</type></os><clock offset='utc'/>\
        <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>\
        <devices/></domain>";

    /// The plan `passplan plan` would make for `desired` on an empty root with `hv`.
    fn plan_for(root: &std::path::Path, hv: &FakeHypervisor, desired: &Desired) -> Plan {
        let sys = RealSystem::new(root);
        let sys = &sys;
        let host = crate::host::discover(root).unwrap();
        let observed = crate::plan::observe(sys, desired, State::load(sys).unwrap()).unwrap();
        let mut plan = crate::plan::plan(desired, &observed, &host);
        let live = domains::observe(hv, desired, &observed.state).unwrap();
        plan.add_domains(domains::plan(
            desired,
            &live,
            &observed.state,
            Removal::default(),
            &BTreeSet::new(),
        ));
        plan
    }

    fn run(
        sys: &mut RealSystem,
        hv: &mut FakeHypervisor,
        plan: &Plan,
        force: bool,
    ) -> Result<Report, ApplyError> {
        apply_with(sys, Some(hv), plan, Options { force }, &mut Vec::new())
    }

    /// Issue 13, item 6: the state records the fingerprint of what passplan defined, and a later
    /// `virsh edit` of an owned element is refused without --force, like a hand-edited file.
    #[test]
    fn a_hand_edited_domain_is_drift_that_apply_refuses_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let mut sys = RealSystem::new(dir.path());
        let mut hv = FakeHypervisor::default();
        let desired = Desired {
            domains: vec![DomainDef {
                name: "t".into(),
                xml: XML.into(),
            }],
            ..Desired::default()
        };
        let plan = plan_for(dir.path(), &hv, &desired);
        run(&mut sys, &mut hv, &plan, false).unwrap();
        let state = State::load(&sys).unwrap();
        assert_eq!(
            state.domain_hashes.get("t"),
            Some(&domains::owned_hash(&hv.domains["t"]).unwrap()),
            "the fingerprint of the definition as libvirt keeps it"
        );
        assert!(!plan_for(dir.path(), &hv, &desired).has_changes());

        let mut tree = Element::parse(&hv.domains["t"]).unwrap();
        tree.child_mut("memory").unwrap().text = "64".into();
        hv.domains.insert("t".into(), tree.to_xml());
        let plan = plan_for(dir.path(), &hv, &desired);
        assert!(plan.changes[0].drift);
        let defines = hv.defines;
        let err = run(&mut sys, &mut hv, &plan, false).unwrap_err();
        assert!(
            matches!(&err, ApplyError::Drift { paths } if paths == &["domain:t"]),
            "{err}"
        );
        assert_eq!(hv.defines, defines, "nothing defined");
        run(&mut sys, &mut hv, &plan, true).unwrap();
        assert!(!plan_for(dir.path(), &hv, &desired).has_changes());
    }

    /// Issue 13, item 5: after an apply that only redefined a domain, rollback restores that
    /// domain's previous definition — and leaves the files an older apply wrote alone — and the
    /// ownership state still says what passplan manages.
    #[test]
    fn rollback_undoes_exactly_the_last_apply_domains_included() {
        let dir = tempfile::tempdir().unwrap();
        let mut sys = RealSystem::new(dir.path());
        let mut hv = FakeHypervisor::default();
        let file = crate::desired::Artifact {
            path: "/etc/modprobe.d/passplan-vfio.conf".into(),
            content: "options vfio-pci ids=10de:1b81\n".into(),
            mode: 0o644,
            ownership: crate::desired::Ownership::Owned,
            triggers: Vec::new(),
            reason: "test".into(),
        };
        let with_memory = |mib: &str| Desired {
            artifacts: vec![file.clone()],
            domains: vec![DomainDef {
                name: "t".into(),
                xml: XML.replace("128", mib),
            }],
            ..Desired::default()
        };
        let first = with_memory("128");
        let plan = plan_for(dir.path(), &hv, &first);
        run(&mut sys, &mut hv, &plan, false).unwrap();
        let defined_first = hv.domains["t"].clone();
        let second = with_memory("256");
        let plan = plan_for(dir.path(), &hv, &second);
        assert_eq!(plan.changes.len(), 1, "only the domain changes");
        run(&mut sys, &mut hv, &plan, false).unwrap();
        assert_ne!(
            hv.domains["t"], defined_first,
            "the second apply redefined it"
        );

        let mut log = Vec::new();
        let n = rollback_with(&mut sys, Some(&mut hv), &mut log).unwrap();
        assert_eq!(n, 1, "{}", String::from_utf8_lossy(&log));
        assert_eq!(
            hv.domains["t"], defined_first,
            "the previous definition is back"
        );
        let conf = dir.path().join("etc/modprobe.d/passplan-vfio.conf");
        assert_eq!(
            std::fs::read_to_string(conf).unwrap(),
            "options vfio-pci ids=10de:1b81\n",
            "the older apply's file is not touched"
        );
        let state = State::load(&sys).unwrap();
        assert!(state.domains.contains("t") && state.files.contains_key(&file.path));
        // The host is as the first spec says again, and a second rollback has nothing to do.
        assert!(!plan_for(dir.path(), &hv, &first).has_changes());
        assert_eq!(
            rollback_with(&mut sys, Some(&mut hv), &mut Vec::new()).unwrap(),
            0
        );
    }

    /// Issue 13, item 5: a rollback that cannot restore everything is recorded as incomplete;
    /// the next apply tries again first and refuses to proceed over the un-restored file.
    #[test]
    fn an_incomplete_rollback_is_retried_before_the_next_apply() {
        let dir = tempfile::tempdir().unwrap();
        let mut sys = RealSystem::new(dir.path());
        let mut hv = FakeHypervisor::default();
        let path = "/etc/default/grub";
        std::fs::create_dir_all(dir.path().join("etc/default")).unwrap();
        std::fs::write(dir.path().join("etc/default/grub"), "GRUB_TIMEOUT=5\n").unwrap();
        let desired = Desired {
            artifacts: vec![crate::desired::Artifact {
                path: path.into(),
                content: "GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT=\"iommu=pt\"\n".into(),
                mode: 0o644,
                ownership: crate::desired::Ownership::Edited,
                triggers: Vec::new(),
                reason: "test".into(),
            }],
            ..Desired::default()
        };
        let plan = plan_for(dir.path(), &hv, &desired);
        run(&mut sys, &mut hv, &plan, false).unwrap();
        // The backup disappears: the rollback cannot restore the file.
        let journal = Journal::load(&sys).unwrap().unwrap();
        let backup = journal
            .entries
            .iter()
            .find(|e| e.path == path)
            .and_then(|e| e.backup.clone())
            .unwrap();
        std::fs::remove_file(dir.path().join(backup.trim_start_matches('/'))).unwrap();
        let err = rollback_with(&mut sys, Some(&mut hv), &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains(path), "{err}");
        let journal = Journal::load(&sys).unwrap().unwrap();
        assert!(journal.rollback_incomplete && !journal.rolled_back);
        // The next apply does not proceed over it.
        let err = recover(&mut sys).unwrap_err();
        assert!(err.to_string().contains(path), "{err}");
    }

    /// A system that stops (as a killed process would) after `left` writes, removals or
    /// commands: every later one fails.
    struct Crashing {
        inner: RealSystem,
        left: usize,
        ops: usize,
    }

    impl Crashing {
        fn tick(&mut self) -> std::io::Result<()> {
            self.ops += 1;
            if self.ops > self.left {
                return Err(std::io::Error::other("killed"));
            }
            Ok(())
        }
    }

    impl System for Crashing {
        fn read(&self, path: &str) -> std::io::Result<Option<crate::system::FileState>> {
            self.inner.read(path)
        }
        fn write(&mut self, path: &str, bytes: &[u8], mode: u32) -> std::io::Result<()> {
            self.tick()?;
            self.inner.write(path, bytes, mode)
        }
        fn remove(&mut self, path: &str) -> std::io::Result<()> {
            self.tick()?;
            self.inner.remove(path)
        }
        fn run(&mut self, argv: &[String]) -> std::io::Result<crate::system::CommandOutput> {
            self.tick()?;
            self.inner.run(argv)
        }
    }

    /// Issue 13 (faults): a crash after any single step of an apply that writes a file, runs
    /// a command and defines a domain leaves the machine recoverable: the next apply recovers,
    /// runs what is still owed and defines what is missing, and the plan after it is empty.
    #[test]
    fn a_crash_after_any_step_with_a_domain_and_a_command_converges() {
        let desired = Desired {
            artifacts: vec![crate::desired::Artifact {
                path: "/etc/modprobe.d/passplan-vfio.conf".into(),
                content: "options vfio-pci ids=10de:1b81\n".into(),
                mode: 0o644,
                ownership: crate::desired::Ownership::Owned,
                triggers: vec![crate::desired::Trigger::Initramfs],
                reason: "test".into(),
            }],
            domains: vec![DomainDef {
                name: "t".into(),
                xml: XML.into(),
            }],
            steps: vec![crate::desired::Step {
                trigger: crate::desired::Trigger::Initramfs,
                argv: vec!["true".into()],
                reason: "test".into(),
            }],
            ..Desired::default()
        };
        // Count the steps of a whole apply.
        let probe = tempfile::tempdir().unwrap();
        let mut hv = FakeHypervisor::default();
        let plan = plan_for(probe.path(), &hv, &desired);
        let mut counter = Crashing {
            inner: RealSystem::new(probe.path()),
            left: usize::MAX,
            ops: 0,
        };
        apply_with(
            &mut counter,
            Some(&mut hv),
            &plan,
            Options::default(),
            &mut Vec::new(),
        )
        .unwrap();
        assert!(counter.ops > 3, "backup, journal, file, state, command, …");
        for left in 0..counter.ops {
            let dir = tempfile::tempdir().unwrap();
            let mut hv = FakeHypervisor::default();
            let plan = plan_for(dir.path(), &hv, &desired);
            let mut sys = Crashing {
                inner: RealSystem::new(dir.path()),
                left,
                ops: 0,
            };
            let _ = apply_with(
                &mut sys,
                Some(&mut hv),
                &plan,
                Options::default(),
                &mut Vec::new(),
            );
            // The next apply, as `passplan apply` runs it: recover, plan afresh, apply.
            let mut sys = RealSystem::new(dir.path());
            State::load(&sys).unwrap_or_else(|e| panic!("after {left}: the state reads: {e}"));
            recover(&mut sys).unwrap_or_else(|e| panic!("after {left}: recovery: {e}"));
            let plan = plan_for(dir.path(), &hv, &desired);
            run(&mut sys, &mut hv, &plan, false)
                .unwrap_or_else(|e| panic!("after {left}: the next apply: {e}"));
            let after = plan_for(dir.path(), &hv, &desired);
            assert!(
                !after.has_changes() && after.pending.is_empty(),
                "after {left}: not converged: {:?} {:?}",
                after.changes.iter().map(|c| &c.path).collect::<Vec<_>>(),
                after.pending
            );
            assert!(
                hv.domains.contains_key("t"),
                "after {left}: the domain is defined"
            );
        }
    }
}
