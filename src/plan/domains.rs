//! The libvirt part of a plan: each desired domain merged over its live inactive definition
//! and compared as canonical trees; domains passplan defined that left the spec; version gates.
//!
//! Domains are adopted, never taken over: a defined domain whose name matches a spec VM but
//! that passplan did not define (not in the ownership state: made in virt-manager) is left
//! alone and listed in [`LibvirtPlan::unmanaged`] until the user names it with `--adopt`. A
//! managed domain whose owned part ([`owned_hash`]) differs from what passplan last defined was
//! edited behind its back (`virsh edit`): its change is marked as drift, which apply refuses
//! without `--force`, exactly like a hand-edited file.
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
    /// Spec VMs whose name a domain passplan did not define already has: left alone until
    /// `--adopt NAME`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub unmanaged: BTreeSet<String>,
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

/// SHA-256 of the part of a definition passplan owns ([`merge::owned_part`] of the canonical
/// tree), the fingerprint the ownership state keeps to notice hand edits.
pub fn owned_hash(xml: &str) -> Result<String, String> {
    Element::parse(xml)
        .map(|e| sha256(merge::owned_part(&e.canonical()).to_xml().as_bytes()))
        .map_err(|e| e.to_string())
}

/// Whether a managed domain's owned part is no longer what passplan last defined. Unknown
/// (no fingerprint recorded, unreadable XML) is not drift: there is nothing to compare with.
fn drifted(state: &State, name: &str, live: &LiveDomain) -> bool {
    state
        .domain_hashes
        .get(name)
        .is_some_and(|h| owned_hash(&live.xml).is_ok_and(|now| &now != h))
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

/// Compute the domain changes. Pure. `adopt` names the domains passplan may take over although
/// it did not define them.
pub fn plan(
    desired: &Desired,
    observed: &ObservedDomains,
    state: &State,
    removal: Removal,
    adopt: &BTreeSet<String>,
) -> DomainPlan {
    let mut out = DomainPlan::default();
    let mut hashes = BTreeMap::new();
    let mut unmanaged = BTreeSet::new();
    for name in adopt {
        if !desired.domains.iter().any(|d| &d.name == name) {
            out.notes.push(format!(
                "--adopt {name}: the spec has no VM `{name}`, so there is nothing to adopt"
            ));
        }
    }
    for def in &desired.domains {
        let live = observed.live.get(&def.name);
        let adopting = live.is_some() && !state.domains.contains(&def.name);
        if adopting && !adopt.contains(&def.name) {
            // Someone else's domain (virt-manager, virsh define): never redefined unasked.
            unmanaged.insert(def.name.clone());
            continue;
        }
        let want = match Element::parse(&def.xml) {
            Ok(e) => e,
            Err(e) => {
                out.refusals
                    .push(format!("internal error: VM `{}`: {e}", def.name));
                continue;
            }
        };
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
            Some(_) if adopting => (
                Action::Update,
                "adopt (--adopt): redefine with passplan's elements; libvirt's and unmanaged ones kept",
            ),
            Some(_) => (
                Action::Update,
                "redefine with passplan's elements; libvirt's and unmanaged ones kept",
            ),
        };
        let drift = live.is_some_and(|l| drifted(state, &def.name, l));
        if live.is_some_and(|l| l.active) {
            out.notes.push(format!(
                "VM `{}` is running: its new definition takes effect at its next start (shut it down, then start it)",
                def.name
            ));
        }
        let mut change = domain_change(action, &def.name, before, Some(after), reason);
        change.drift = drift;
        out.changes.push(change);
    }
    let wanted: BTreeSet<&str> = desired.domains.iter().map(|d| d.name.as_str()).collect();
    let mut managed: BTreeSet<String> = wanted
        .iter()
        .filter(|n| !unmanaged.contains(**n))
        .map(|n| (*n).to_owned())
        .collect();
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
        let mut change = domain_change(Action::Delete, name, before, None, reason);
        change.drift = drifted(state, name, live);
        out.changes.push(change);
    }
    out.libvirt = Some(LibvirtPlan {
        uri: observed.uri.clone(),
        observed: hashes,
        keep_nvram: !removal.delete_nvram,
        managed,
        unmanaged,
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

    /// The ownership state after passplan defined `names`.
    fn managing(names: &[&str]) -> State {
        State {
            domains: names.iter().map(|n| (*n).to_owned()).collect(),
            ..State::default()
        }
    }

    /// Plan, define what the plan says, plan again: the second plan must be empty.
    fn converge(hv: &mut dyn Hypervisor, xml: &str) -> (DomainPlan, DomainPlan) {
        let state = managing(&["t"]);
        let d = desired(xml);
        let first = plan(
            &d,
            &observe(hv, &d, &state).unwrap(),
            &state,
            Removal::default(),
            &BTreeSet::new(),
        );
        for c in &first.changes {
            hv.define(c.after.as_deref().unwrap()).unwrap();
        }
        let second = plan(
            &d,
            &observe(hv, &d, &state).unwrap(),
            &state,
            Removal::default(),
            &BTreeSet::new(),
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
        let state = managing(&["t"]);
        let d = desired(&xml.replace("128", "256"));
        let p = plan(
            &d,
            &observe(&hv, &d, &state).unwrap(),
            &state,
            Removal::default(),
            &BTreeSet::new(),
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
        let kept = plan(
            &none,
            &observed,
            &state,
            Removal::default(),
            &BTreeSet::new(),
        );
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
            &BTreeSet::new(),
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
        let state = managing(&["passplan-unit"]);
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
            &BTreeSet::new(),
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
            &BTreeSet::new(),
        );
        assert!(second.changes.is_empty(), "{:#?}", second.changes);
        hv.undefine("passplan-unit", true).unwrap();
        assert_eq!(hv.inactive_xml("passplan-unit").unwrap(), None);
    }

    /// `hv`'s definition of `name` with `edit` applied to its tree, as `virsh edit` would.
    fn hand_edit(hv: &mut FakeHypervisor, name: &str, edit: impl FnOnce(&mut Element)) {
        let mut tree = Element::parse(&hv.domains[name]).unwrap();
        edit(&mut tree);
        hv.domains.insert(name.to_owned(), tree.to_xml());
    }

    fn plan_with(hv: &FakeHypervisor, d: &Desired, state: &State, adopt: &[&str]) -> DomainPlan {
        let adopt = adopt.iter().map(|n| (*n).to_owned()).collect();
        plan(
            d,
            &observe(hv, d, state).unwrap(),
            state,
            Removal::default(),
            &adopt,
        )
    }

    /// Issue 13, item 6: a domain made outside passplan is never redefined unasked.
    #[test]
    fn a_domain_passplan_did_not_define_is_left_alone_until_adopted() {
        let mut hv = FakeHypervisor::default();
        // Made in virt-manager: same name, other memory, and not in the ownership state.
        hv.define(&XML.replace("128", "512")).unwrap();
        let state = State::default();
        let d = desired(XML);
        let left = plan_with(&hv, &d, &state, &[]);
        assert!(left.changes.is_empty(), "{:?}", left.changes);
        let lv = left.libvirt.unwrap();
        assert_eq!(lv.unmanaged, BTreeSet::from(["t".to_owned()]));
        assert!(lv.managed.is_empty(), "never recorded as passplan's");

        let adopted = plan_with(&hv, &d, &state, &["t", "ghost"]);
        assert_eq!(adopted.changes.len(), 1);
        assert_eq!(adopted.changes[0].action, Action::Update);
        assert!(adopted.changes[0].reason.contains("--adopt"));
        assert!(!adopted.changes[0].drift);
        assert!(adopted.notes.iter().any(|n| n.contains("no VM `ghost`")));
        let lv = adopted.libvirt.unwrap();
        assert!(lv.unmanaged.is_empty() && lv.managed.contains("t"));

        // Once managed, no --adopt is needed any more.
        let later = plan_with(&hv, &d, &managing(&["t"]), &[]);
        assert_eq!(later.changes.len(), 1);
    }

    /// Issue 13, item 6: `virsh edit` of an element passplan owns is drift; of anything else
    /// it is not, and neither is a spec change.
    #[test]
    fn a_hand_edit_of_an_owned_element_is_drift_and_other_edits_are_not() {
        let mut hv = FakeHypervisor::default();
        converge(&mut hv, XML);
        let mut state = managing(&["t"]);
        state
            .domain_hashes
            .insert("t".into(), owned_hash(&hv.domains["t"]).unwrap());
        let d = desired(XML);

        // Not passplan's: a description. Kept by the merge, so no change and no drift.
        hand_edit(&mut hv, "t", |t| {
            let mut desc = Element::new("description");
            desc.text = "mine".into();
            t.children.push(desc);
        });
        assert!(plan_with(&hv, &d, &state, &[]).changes.is_empty());

        // A spec change over an untouched owned part: a change, not drift.
        let bigger = desired(&XML.replace("128", "256"));
        let p = plan_with(&hv, &bigger, &state, &[]);
        assert_eq!(p.changes.len(), 1);
        assert!(!p.changes[0].drift);

        // Passplan's: the memory, edited by hand.
        hand_edit(&mut hv, "t", |t| {
            t.child_mut("memory").unwrap().text = "64".into();
        });
        let p = plan_with(&hv, &d, &state, &[]);
        assert_eq!(p.changes.len(), 1);
        assert!(p.changes[0].drift, "the owned memory was edited by hand");

        // A domain recorded before fingerprints existed: nothing to compare with, no drift.
        state.domain_hashes.clear();
        assert!(!plan_with(&hv, &d, &state, &[]).changes[0].drift);
    }

    /// libvirt's test driver has a domain named `test` that passplan never defined.
    #[cfg(feature = "libvirt")]
    #[test]
    fn the_test_drivers_own_domain_is_not_taken_over() {
        let hv = crate::hypervisor::LibvirtHypervisor::open("test:///default").unwrap();
        let before = hv
            .inactive_xml("test")
            .unwrap()
            .expect("the driver's domain");
        let d = Desired {
            domains: vec![DomainDef {
                name: "test".into(),
                xml: XML.replace("<name>t</name>", "<name>test</name>"),
            }],
            ..Desired::default()
        };
        let state = State::default();
        let p = plan(
            &d,
            &observe(&hv, &d, &state).unwrap(),
            &state,
            Removal::default(),
            &BTreeSet::new(),
        );
        assert!(p.changes.is_empty());
        assert!(p.libvirt.unwrap().unmanaged.contains("test"));
        assert_eq!(hv.inactive_xml("test").unwrap().unwrap(), before);
    }

    /// Undefine names what to do with a variable store however the XML looks, and copes with a
    /// driver that refuses the flag (the test driver refuses deleting NVRAM).
    #[cfg(feature = "libvirt")]
    #[test]
    fn the_test_driver_undefines_a_uefi_domain_keeping_or_deleting_nvram() {
        let mut hv = crate::hypervisor::LibvirtHypervisor::open("test:///default").unwrap();
        for (name, keep) in [("passplan-keep", true), ("passplan-delete", false)] {
            let xml = XML
                .replace("<name>t</name>", &format!("<name>{name}</name>"))
                .replace(
                    "<os><type arch='x86_64' machine='pc'>hvm</type></os>",
                    "<os><type arch='x86_64' machine='pc'>hvm</type>\
                 <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>\
                 <nvram>/var/lib/libvirt/qemu/nvram/vars.fd</nvram></os>",
                );
            hv.define(&xml).unwrap();
            hv.undefine(name, keep).unwrap();
            assert_eq!(hv.inactive_xml(name).unwrap(), None, "{name}");
        }
    }
}
