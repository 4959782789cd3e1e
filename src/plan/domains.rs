//! The libvirt part of a plan: each desired domain merged over its live inactive definition
//! and compared as canonical trees; domains passplan defined that left the spec; version gates.
//!
//! [`observe`] reads through a [`Hypervisor`]; [`plan`] is pure. A domain change is a
//! [`Change`] at the address `domain:<name>` whose `before` and `after` are canonical XML, so
//! the file diff renderer shows it, and whose `after` is exactly what apply defines.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Action, Change};
use crate::desired::{Desired, Ownership};
use crate::hypervisor::tree::Element;
use crate::hypervisor::{Hypervisor, HypervisorError, Version, gates, merge};
use crate::system::state::{State, sha256};

/// The address prefix of a domain change.
pub const PREFIX: &str = "domain:";

/// The domain a change is about, if it is about one.
pub fn domain_of(path: &str) -> Option<&str> {
    path.strip_prefix(PREFIX)
}

/// A domain as libvirt has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveDomain {
    /// The inactive definition.
    pub xml: String,
    /// Running now.
    pub active: bool,
}

/// What libvirt has, for the domains a plan is about (desired ones and ones passplan defined).
#[derive(Debug, Clone)]
pub struct ObservedDomains {
    /// The connection URI.
    pub uri: String,
    /// The daemon's library version.
    pub version: Version,
    /// Name → the live domain; absent names are not defined.
    pub live: BTreeMap<String, LiveDomain>,
}

/// The libvirt side of a saved plan: where it applies and what it was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibvirtPlan {
    /// The connection URI.
    pub uri: String,
    /// Domain name → SHA-256 of the canonical inactive XML the plan was computed from
    /// (`None`: not defined), so a stale plan is refused.
    pub observed: BTreeMap<String, Option<String>>,
    /// Undefining keeps the UEFI variable store.
    pub keep_nvram: bool,
    /// The domains passplan manages after this plan (recorded in the ownership state).
    pub managed: BTreeSet<String>,
}

/// What to do with domains passplan defined that the spec no longer has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Removal {
    /// Undefine them (otherwise the plan only notes them).
    pub prune: bool,
    /// Delete their NVRAM too.
    pub delete_nvram: bool,
}

/// Read what the plan needs from libvirt.
pub fn observe(
    hv: &dyn Hypervisor,
    desired: &Desired,
    state: &State,
) -> Result<ObservedDomains, HypervisorError> {
    let mut names: BTreeSet<&str> = desired.domains.iter().map(|d| d.name.as_str()).collect();
    names.extend(state.domains.iter().map(String::as_str));
    let mut live = BTreeMap::new();
    for name in names {
        if let Some(xml) = hv.inactive_xml(name)? {
            let active = hv.is_active(name)?;
            live.insert(name.to_owned(), LiveDomain { xml, active });
        }
    }
    Ok(ObservedDomains {
        uri: hv.uri().to_owned(),
        version: hv.version(),
        live,
    })
}

/// The canonical text of a definition, as plans show and hash it.
pub fn canonical_text(xml: &str) -> Result<String, String> {
    Element::parse(xml)
        .map(|e| e.canonical().to_xml())
        .map_err(|e| e.to_string())
}

/// The domain part of a plan.
#[derive(Debug, Clone, Default)]
pub struct DomainPlan {
    /// Changes at `domain:<name>`.
    pub changes: Vec<Change>,
    /// Notes (running VMs, removed VMs not pruned).
    pub notes: Vec<String>,
    /// Why the plan is refused (version gates, unreadable XML); empty when it is not.
    pub refusals: Vec<String>,
    /// The saved-plan record.
    pub libvirt: Option<LibvirtPlan>,
}

/// Compute the domain changes. Pure.
pub fn plan(
    desired: &Desired,
    observed: &ObservedDomains,
    state: &State,
    removal: Removal,
) -> DomainPlan {
    let mut out = DomainPlan::default();
    let mut hashes = BTreeMap::new();
    for def in &desired.domains {
        let want = match Element::parse(&def.xml) {
            Ok(e) => e,
            Err(e) => {
                out.refusals
                    .push(format!("internal error: VM `{}`: {e}", def.name));
                continue;
            }
        };
        let live = observed.live.get(&def.name);
        let live_tree = match live.map(|l| Element::parse(&l.xml)).transpose() {
            Ok(t) => t,
            Err(e) => {
                out.refusals.push(format!(
                    "the live definition of `{}` cannot be read: {e}",
                    def.name
                ));
                continue;
            }
        };
        let merged = merge::merge(&want, live_tree.as_ref()).canonical();
        for why in gates::refused(&want, observed.version) {
            out.refusals.push(format!("VM `{}`: {why}", def.name));
        }
        let before = live_tree.as_ref().map(|t| t.canonical().to_xml());
        hashes.insert(
            def.name.clone(),
            before.as_deref().map(|b| sha256(b.as_bytes())),
        );
        let after = merged.to_xml();
        if before.as_deref() == Some(after.as_str()) {
            continue;
        }
        let (action, reason) = match live {
            None => (Action::Create, "define the domain (validated by libvirt)"),
            Some(_) => (
                Action::Update,
                "redefine with passplan's elements; libvirt's and unmanaged ones kept",
            ),
        };
        if live.is_some_and(|l| l.active) {
            out.notes.push(format!(
                "VM `{}` is running: its new definition takes effect at its next start (shut it down, then start it)",
                def.name
            ));
        }
        out.changes.push(domain_change(
            action,
            &def.name,
            before,
            Some(after),
            reason,
        ));
    }
    let wanted: BTreeSet<&str> = desired.domains.iter().map(|d| d.name.as_str()).collect();
    let mut managed: BTreeSet<String> = wanted.iter().map(|n| (*n).to_owned()).collect();
    for name in &state.domains {
        if wanted.contains(name.as_str()) {
            continue;
        }
        let Some(live) = observed.live.get(name) else {
            continue;
        };
        if !removal.prune {
            // Still passplan's until the user decides: a later --prune can undefine it.
            managed.insert(name.clone());
            out.notes.push(format!(
                "VM `{name}` is no longer in the spec but still defined; `passplan apply --prune` undefines it (keeping its NVRAM unless --prune-nvram)"
            ));
            continue;
        }
        let before = canonical_text(&live.xml).ok();
        hashes.insert(
            name.clone(),
            before.as_deref().map(|b| sha256(b.as_bytes())),
        );
        let reason = if removal.delete_nvram {
            "no longer in the spec: undefine, deleting its NVRAM"
        } else {
            "no longer in the spec: undefine, keeping its NVRAM"
        };
        if live.active {
            out.notes.push(format!(
                "VM `{name}` is running: undefining leaves it running until it stops, then it is gone"
            ));
        }
        out.changes
            .push(domain_change(Action::Delete, name, before, None, reason));
    }
    out.libvirt = Some(LibvirtPlan {
        uri: observed.uri.clone(),
        observed: hashes,
        keep_nvram: !removal.delete_nvram,
        managed,
    });
    out
}

fn domain_change(
    action: Action,
    name: &str,
    before: Option<String>,
    after: Option<String>,
    reason: &str,
) -> Change {
    Change {
        action,
        path: format!("{PREFIX}{name}"),
        before,
        after,
        mode_before: None,
        mode_after: None,
        ownership: Ownership::Owned,
        reason: reason.to_owned(),
        drift: false,
        triggers: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::DomainDef;
    use crate::hypervisor::FakeHypervisor;

    /// A domain as passplan writes one: every owned element stated, so nothing is defaulted.
    const XML: &str = "<domain type='qemu'><name>t</name><memory unit='MiB'>128</memory>\
        <currentMemory unit='MiB'>128</currentMemory><vcpu placement='static'>1</vcpu>\
        <os><type arch='x86_64' machine='pc'>hvm</type></os><clock offset='utc'/>\
        <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>\
        <devices/></domain>";

    fn desired(xml: &str) -> Desired {
        Desired {
            domains: vec![DomainDef {
                name: "t".into(),
                xml: xml.into(),
            }],
            ..Desired::default()
        }
    }

    /// Plan, define what the plan says, plan again: the second plan must be empty.
    fn converge(hv: &mut dyn Hypervisor, xml: &str) -> (DomainPlan, DomainPlan) {
        let state = State::default();
        let d = desired(xml);
        let first = plan(
            &d,
            &observe(hv, &d, &state).unwrap(),
            &state,
            Removal::default(),
        );
        for c in &first.changes {
            hv.define(c.after.as_deref().unwrap()).unwrap();
        }
        let second = plan(
            &d,
            &observe(hv, &d, &state).unwrap(),
            &state,
            Removal::default(),
        );
        (first, second)
    }

    #[test]
    fn a_new_domain_is_created_then_converges() {
        let mut hv = FakeHypervisor::default();
        let (first, second) = converge(&mut hv, XML);
        assert_eq!(first.changes.len(), 1);
        assert_eq!(first.changes[0].action, Action::Create);
        assert_eq!(first.changes[0].path, "domain:t");
        assert!(second.changes.is_empty(), "{:?}", second.changes);
        assert!(
            hv.domains["t"].contains("<uuid>"),
            "the generated uuid is kept"
        );
    }

    #[test]
    fn a_running_vm_gets_a_next_start_note_and_a_gated_feature_is_refused() {
        let mut hv = FakeHypervisor::default();
        converge(&mut hv, XML);
        hv.active.push("t".into());
        hv.version = (8, 0, 0);
        let xml = XML.replace(
            "<devices/>",
            "<features><hyperv><avic state='on'/></hyperv></features><devices/>",
        );
        let state = State::default();
        let d = desired(&xml.replace("128", "256"));
        let p = plan(
            &d,
            &observe(&hv, &d, &state).unwrap(),
            &state,
            Removal::default(),
        );
        assert!(
            p.notes
                .iter()
                .any(|n| n.contains("takes effect at its next start"))
        );
        assert_eq!(p.refusals.len(), 1);
        assert!(
            p.refusals[0].contains("needs libvirt 8.10.0"),
            "{:?}",
            p.refusals
        );
    }

    #[test]
    fn a_removed_vm_is_undefined_only_on_request_keeping_nvram() {
        let mut hv = FakeHypervisor::default();
        converge(&mut hv, XML);
        let state = State {
            domains: ["t".to_owned()].into(),
            ..State::default()
        };
        let none = Desired::default();
        let observed = observe(&hv, &none, &state).unwrap();
        let kept = plan(&none, &observed, &state, Removal::default());
        assert!(kept.changes.is_empty());
        assert!(kept.notes[0].contains("--prune"));
        assert!(kept.libvirt.unwrap().managed.contains("t"));
        let pruned = plan(
            &none,
            &observed,
            &state,
            Removal {
                prune: true,
                delete_nvram: false,
            },
        );
        assert_eq!(pruned.changes[0].action, Action::Delete);
        let lv = pruned.libvirt.unwrap();
        assert!(lv.keep_nvram && lv.managed.is_empty());
    }

    /// The same through libvirt's in-process test driver (no daemon needed).
    #[cfg(feature = "libvirt")]
    #[test]
    fn the_test_driver_defines_and_converges() {
        let mut hv = crate::hypervisor::LibvirtHypervisor::open("test:///default").unwrap();
        assert!(hv.version() >= (6, 0, 0));
        let xml = XML.replace("<name>t</name>", "<name>passplan-unit</name>");
        let state = State::default();
        let d = Desired {
            domains: vec![DomainDef {
                name: "passplan-unit".into(),
                xml: xml.clone(),
            }],
            ..Desired::default()
        };
        let first = plan(
            &d,
            &observe(&hv, &d, &state).unwrap(),
            &state,
            Removal::default(),
        );
        assert_eq!(first.changes[0].action, Action::Create);
        hv.define(first.changes[0].after.as_deref().unwrap())
            .unwrap();
        assert!(hv.list().unwrap().contains(&"passplan-unit".to_owned()));
        let second = plan(
            &d,
            &observe(&hv, &d, &state).unwrap(),
            &state,
            Removal::default(),
        );
        assert!(second.changes.is_empty(), "{:#?}", second.changes);
        hv.undefine("passplan-unit", true).unwrap();
        assert_eq!(hv.inactive_xml("passplan-unit").unwrap(), None);
    }
}
