//! The planner: `Desired` × what is on the machine → [`Plan`], a serialisable list of changes
//! in dependency order, the commands they set off, and whether a reboot is needed.
//!
//! [`observe`] reads (through `System`) exactly the files the plan is about: every desired path,
//! every path in the ownership state, and the state itself. [`plan`] is pure. Human and JSON
//! output are views of the same `Plan` (`render`).

pub mod domains;
mod graph;
pub mod render;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use graph::{Graph, Node};

use crate::desired::{Desired, Ownership, Step, Trigger};
use crate::host::{HostFacts, param_names_equal};
use crate::system::state::{State, sha256};
use crate::system::{FileState, System};

/// The plan format version, in JSON output and saved plans.
pub const FORMAT_VERSION: u32 = 1;

/// What happens to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The file is new.
    Create,
    /// The file changes (content or mode).
    Update,
    /// A file passplan made is no longer wanted.
    Delete,
}

impl Action {
    /// Terraform's symbol: `+ ~ -`.
    pub fn symbol(self) -> char {
        match self {
            Self::Create => '+',
            Self::Update => '~',
            Self::Delete => '-',
        }
    }
}

/// One file change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// What changes.
    pub action: Action,
    /// The file.
    pub path: String,
    /// Content now (`None`: absent, or not text).
    pub before: Option<String>,
    /// Content after (`None` for a delete).
    pub after: Option<String>,
    /// Mode now.
    pub mode_before: Option<u32>,
    /// Mode after.
    pub mode_after: Option<u32>,
    /// Whole file or in-place edit.
    pub ownership: Ownership,
    /// Why.
    pub reason: String,
    /// The file was edited by hand since passplan last wrote it.
    pub drift: bool,
    /// What the change sets off.
    pub triggers: Vec<Trigger>,
}

/// A plan. Invariant: `changes` and `steps` are in apply order; `observed` holds the hash of
/// every file the plan was computed from, so a stale saved plan can be refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Format version.
    pub format_version: u32,
    /// The root the plan is for (`/` for the live machine).
    pub root: String,
    /// File changes, in order.
    pub changes: Vec<Change>,
    /// Commands, in order.
    pub steps: Vec<Step>,
    /// A reboot is needed for the changes to take effect.
    pub reboot_required: bool,
    /// Kernel tokens configured but not in the running kernel (a reboot still pending).
    pub pending_tokens: Vec<String>,
    /// What waits for the reboot when the IOMMU is not on yet: the second phase.
    pub after_reboot: Vec<String>,
    /// Kernel parameter names passplan owns after this plan (recorded in the ownership state,
    /// so that a parameter the spec stops asking for is removed next time).
    #[serde(default)]
    pub owned_tokens: Vec<String>,
    /// Why the order is what it is: (before, after, why), by change path or command.
    pub order: Vec<(String, String, String)>,
    /// Notes from the compiler and the planner.
    pub notes: Vec<String>,
    /// Path → SHA-256 of the content the plan was computed from (`None`: absent).
    pub observed: BTreeMap<String, Option<String>>,
    /// The host facts the checks and the plan used, by kind (`pci`, `iommu`, `cpus`, `cmdline`,
    /// `boot`) → SHA-256 of their canonical form ([`host_fingerprint`]): a saved plan is stale
    /// when any of them changed. Empty in plans saved before this was recorded.
    #[serde(default)]
    pub host: BTreeMap<String, String>,
    /// The libvirt connection the domain changes are for (absent for an offline root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub libvirt: Option<domains::LibvirtPlan>,
    /// Commands an earlier apply set off that have not succeeded yet (they are in `steps`
    /// too, and run again): the command and the apply that first set it off.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<crate::system::state::PendingStep>,
}

impl Plan {
    /// Whether applying would change anything.
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty() || !self.steps.is_empty()
    }

    /// (create, update, delete) counts.
    pub fn counts(&self) -> (usize, usize, usize) {
        let n = |a| self.changes.iter().filter(|c| c.action == a).count();
        (n(Action::Create), n(Action::Update), n(Action::Delete))
    }
}

/// What is on the machine, for the paths a plan is about.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Path → the file, or `None` when absent.
    pub files: BTreeMap<String, Option<FileState>>,
    /// The ownership state.
    pub state: State,
}

/// Read every desired path, every managed path, and the state.
pub fn observe(sys: &dyn System, desired: &Desired, state: State) -> std::io::Result<Observed> {
    let mut paths: BTreeSet<&str> = desired.artifacts.iter().map(|a| a.path.as_str()).collect();
    paths.extend(state.files.keys().map(String::as_str));
    let mut files = BTreeMap::new();
    for path in paths {
        files.insert(path.to_owned(), sys.read(path)?);
    }
    Ok(Observed { files, state })
}

/// Where a libvirt daemon reload comes from: the daemon caches whether the `qemu` hook exists.
fn libvirt_reload() -> Step {
    Step {
        trigger: Trigger::LibvirtReload,
        argv: [
            "systemctl",
            "try-reload-or-restart",
            "libvirtd.service",
            "virtqemud.service",
        ]
        .map(String::from)
        .to_vec(),
        reason: "libvirt notices a new qemu hook only after a reload".to_owned(),
    }
}

/// How to make the libvirt daemon reload on a machine whose init is not systemd (containers,
/// `OpenRC`, `runit`): SIGHUP to the daemon named in its pid file, the signal its units send too.
const RELOAD_BY_PIDFILE: &str = "for f in /run/libvirtd.pid /run/virtqemud.pid; do \
if [ -s \"$f\" ]; then kill -HUP \"$(cat \"$f\")\" || exit 1; fi; done";

impl Plan {
    /// On a machine without systemd, reload libvirt through its pid file instead of systemctl.
    pub fn reload_without_systemd(&mut self) {
        for step in &mut self.steps {
            if step.trigger == Trigger::LibvirtReload {
                step.argv = ["sh", "-c", RELOAD_BY_PIDFILE].map(String::from).to_vec();
            }
        }
    }
}

/// The host facts a plan depends on, by kind, each as the SHA-256 of its canonical JSON: every
/// PCI function's identity (address, vendor:device, subsystem, class — not its driver, which
/// changes while a VM runs), the IOMMU groups, the CPU map, the running kernel command line,
/// and the boot loader and initramfs generator detected.
pub fn host_fingerprint(host: &HostFacts) -> BTreeMap<String, String> {
    fn hash(value: &impl serde::Serialize) -> String {
        sha256(&serde_json::to_vec(value).unwrap_or_default())
    }
    let pci: Vec<_> = host
        .pci
        .values()
        .map(|d| {
            (
                d.address.to_string(),
                d.id.to_string(),
                d.subsystem.map(|s| s.to_string()),
                d.class,
            )
        })
        .collect();
    BTreeMap::from([
        ("pci".to_owned(), hash(&pci)),
        ("iommu".to_owned(), hash(&host.iommu_groups)),
        ("cpus".to_owned(), hash(&host.cpus)),
        ("cmdline".to_owned(), hash(&host.cmdline)),
        ("boot".to_owned(), hash(&host.boot)),
    ])
}

/// The kinds of host facts that differ between two fingerprints (all of them when the saved
/// one is empty: a plan that did not record them cannot be trusted).
pub fn host_changes(
    saved: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
) -> Vec<String> {
    if saved.is_empty() {
        return now.keys().cloned().collect();
    }
    now.iter()
        .filter(|(kind, hash)| saved.get(*kind) != Some(hash))
        .map(|(kind, _)| kind.clone())
        .collect()
}

/// Compute the plan. Pure.
pub fn plan(desired: &Desired, observed: &Observed, host: &HostFacts) -> Plan {
    let root = host.root.display().to_string();
    let mut changes = Vec::new();
    let text = |f: &FileState| String::from_utf8(f.bytes.clone()).ok();
    for a in &desired.artifacts {
        let current = observed.files.get(&a.path).cloned().flatten();
        let managed = observed.state.files.get(&a.path);
        let drift = match (&current, managed) {
            (Some(cur), Some(m)) => {
                sha256(&cur.bytes) != m.sha256 && cur.bytes != a.content.as_bytes()
            }
            _ => false,
        };
        // A file edited in place keeps its mode (its owner, group and extended attributes are
        // kept by the write itself): passplan owns some of its text, not the file.
        let mode = match (&current, a.ownership) {
            (Some(cur), Ownership::Edited) => cur.mode,
            _ => a.mode,
        };
        let action = match &current {
            None => Action::Create,
            Some(cur) if cur.bytes == a.content.as_bytes() && cur.mode == mode => continue,
            Some(_) => Action::Update,
        };
        changes.push(Change {
            action,
            path: a.path.clone(),
            before: current.as_ref().and_then(text),
            after: Some(a.content.clone()),
            mode_before: current.as_ref().map(|c| c.mode),
            mode_after: Some(mode),
            ownership: a.ownership,
            reason: a.reason.clone(),
            drift,
            triggers: a.triggers.clone(),
        });
    }
    let wanted: BTreeSet<&str> = desired.artifacts.iter().map(|a| a.path.as_str()).collect();
    for (path, managed) in &observed.state.files {
        if wanted.contains(path.as_str()) || managed.ownership != Ownership::Owned {
            continue;
        }
        let Some(current) = observed.files.get(path).cloned().flatten() else {
            continue;
        };
        changes.push(Change {
            action: Action::Delete,
            path: path.clone(),
            before: text(&current),
            after: None,
            mode_before: Some(current.mode),
            mode_after: None,
            ownership: managed.ownership,
            reason: "no longer wanted by the spec".to_owned(),
            drift: sha256(&current.bytes) != managed.sha256,
            triggers: delete_triggers(path),
        });
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));

    let fired: BTreeSet<Trigger> = changes
        .iter()
        .flat_map(|c| c.triggers.iter().copied())
        .collect();
    let mut steps: Vec<Step> = desired
        .steps
        .iter()
        .filter(|s| fired.contains(&s.trigger))
        .cloned()
        .collect();
    if fired.contains(&Trigger::LibvirtReload) {
        steps.push(libvirt_reload());
    }
    // Commands an earlier apply set off and never finished: owed until they succeed.
    for pending in &observed.state.pending {
        if !steps.iter().any(|s| s.argv == pending.step.argv) {
            steps.push(pending.step.clone());
        }
    }
    let reboot_required = fired.contains(&Trigger::Reboot);

    let (changes, steps, order) = order(&changes, &steps, reboot_required);

    // A reboot still pending: tokens the configuration has that the running kernel lacks.
    let pending_tokens = desired
        .kernel_tokens
        .iter()
        .filter(|t| {
            !host
                .cmdline
                .tokens
                .iter()
                .any(|r| param_names_equal(&r.key, &t.key) && r.value == t.value)
        })
        .map(|t| {
            t.value
                .as_ref()
                .map_or_else(|| t.key.clone(), |v| format!("{}={v}", t.key))
        })
        .collect();

    // The IOMMU is off: groups cannot be checked and passthrough VMs cannot start until the
    // reboot that turns it on. Say so as a second phase rather than pretend it is done.
    let mut after_reboot = Vec::new();
    if !host.iommu_enabled() && !desired.kernel_tokens.is_empty() {
        let guests: Vec<&str> = checked_guest_devices(desired);
        after_reboot
            .push("the IOMMU is on, and `passplan plan` can check the IOMMU groups".to_owned());
        if !guests.is_empty() {
            after_reboot.push(format!(
                "VMs with passed-through devices can start ({})",
                guests.join(", ")
            ));
        }
    }

    let observed_hashes = observed
        .files
        .iter()
        .map(|(p, f)| (p.clone(), f.as_ref().map(|f| sha256(&f.bytes))))
        .collect();
    Plan {
        format_version: FORMAT_VERSION,
        root,
        changes,
        steps,
        reboot_required,
        pending_tokens,
        after_reboot,
        owned_tokens: desired
            .kernel_tokens
            .iter()
            .map(|t| t.key.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        order,
        notes: desired.notes.clone(),
        observed: observed_hashes,
        host: host_fingerprint(host),
        libvirt: None,
        pending: observed.state.pending.clone(),
    }
}

impl Plan {
    /// Add the domain part: its changes go after every file change (a domain's hooks and
    /// bridge must exist before it starts, and apply defines after the commands have run).
    pub fn add_domains(&mut self, part: domains::DomainPlan) {
        for change in &part.changes {
            for file in &self.changes {
                if file.path.starts_with("/etc/libvirt/hooks/")
                    || file.triggers.contains(&Trigger::Network)
                {
                    self.order.push((
                        file.path.clone(),
                        change.path.clone(),
                        "a domain's hooks and bridge must exist before it starts".to_owned(),
                    ));
                }
            }
        }
        self.changes.extend(part.changes);
        self.notes.extend(part.notes);
        self.libvirt = part.libvirt;
    }
}

/// The VMs whose domains pass PCI devices (their XML has a PCI `hostdev`).
fn checked_guest_devices(desired: &Desired) -> Vec<&str> {
    desired
        .domains
        .iter()
        .filter(|d| d.xml.contains("<hostdev mode=\"subsystem\" type=\"pci\""))
        .map(|d| d.name.as_str())
        .collect()
}

/// Removing a file sets off what writing it did: the same consumer must re-read.
fn delete_triggers(path: &str) -> Vec<Trigger> {
    if path.starts_with("/etc/modprobe.d/")
        || path.starts_with("/etc/dracut.conf.d/")
        || path.starts_with("/etc/mkinitcpio.conf.d/")
        || path.starts_with("/etc/initramfs-tools/")
    {
        vec![Trigger::Initramfs, Trigger::Reboot]
    } else if path.starts_with("/etc/systemd/network/") || path.starts_with("/etc/NetworkManager/")
    {
        vec![Trigger::Network]
    } else {
        Vec::new()
    }
}

/// Put changes and steps in dependency order, returning the edges' reasons.
#[allow(
    clippy::type_complexity,
    reason = "a private helper returning the three parts of a plan"
)]
fn order(
    changes: &[Change],
    steps: &[Step],
    reboot: bool,
) -> (Vec<Change>, Vec<Step>, Vec<(String, String, String)>) {
    let mut g = Graph::default();
    let change_nodes: Vec<_> = (0..changes.len())
        .map(|i| g.node(Node::Change(i)))
        .collect();
    let step_nodes: Vec<_> = (0..steps.len()).map(|i| g.node(Node::Step(i))).collect();
    let reboot_node = reboot.then(|| g.node(Node::Reboot));
    for (ci, change) in changes.iter().enumerate() {
        for (si, step) in steps.iter().enumerate() {
            if change.triggers.contains(&step.trigger) {
                // A command that regenerates something must read the files it is about.
                g.edge(
                    change_nodes[ci],
                    step_nodes[si],
                    "the command reads this file",
                );
            }
        }
        if let Some(r) = reboot_node.filter(|_| change.triggers.contains(&Trigger::Reboot)) {
            g.edge(
                change_nodes[ci],
                r,
                "the running kernel reads this only at boot",
            );
        }
        // Hooks and bridges before domains: a domain's hooks must exist before it can start.
        if change.path.starts_with("/etc/libvirt/qemu/") {
            for (oi, other) in changes.iter().enumerate() {
                if other.path.starts_with("/etc/libvirt/hooks/")
                    || other.triggers.contains(&Trigger::Network)
                {
                    g.edge(
                        change_nodes[oi],
                        change_nodes[ci],
                        "a domain's hooks and bridge must exist before it starts",
                    );
                }
            }
        }
    }
    for (ai, a) in steps.iter().enumerate() {
        for (bi, b) in steps.iter().enumerate() {
            if a.trigger == Trigger::Initramfs && b.trigger == Trigger::Bootloader {
                // kernel-install and update-grub pick up the image the initramfs step built.
                g.edge(
                    step_nodes[ai],
                    step_nodes[bi],
                    "the boot loader installs the rebuilt initramfs",
                );
            }
            if a.trigger == b.trigger && ai < bi {
                g.edge(
                    step_nodes[ai],
                    step_nodes[bi],
                    "commands of one kind run in the order given",
                );
            }
        }
        if let Some(r) =
            reboot_node.filter(|_| matches!(a.trigger, Trigger::Initramfs | Trigger::Bootloader))
        {
            g.edge(
                step_nodes[ai],
                r,
                "the new image and command line are used at the next boot",
            );
        }
    }
    let rank = |n: &Node| match n {
        Node::Change(_) => 0,
        Node::Step(_) => 1,
        Node::Reboot => 2,
    };
    let label = |n: &Node| match n {
        Node::Change(i) => changes[*i].path.clone(),
        Node::Step(i) => steps[*i].argv.join(" "),
        Node::Reboot => "reboot".to_owned(),
    };
    let ordered = g.order(rank).unwrap_or_else(|cycle| {
        // Emitters never produce a cycle; keep the input order rather than lose the plan.
        debug_assert!(false, "dependency cycle: {cycle:?}");
        (0..changes.len())
            .map(Node::Change)
            .chain((0..steps.len()).map(Node::Step))
            .collect()
    });
    let edges = g
        .edges()
        .into_iter()
        .map(|(a, b, why)| (label(&a), label(&b), why.to_owned()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut out_changes = Vec::new();
    let mut out_steps = Vec::new();
    for n in ordered {
        match n {
            Node::Change(i) => out_changes.push(changes[i].clone()),
            Node::Step(i) => out_steps.push(steps[i].clone()),
            Node::Reboot => {}
        }
    }
    (out_changes, out_steps, edges)
}
