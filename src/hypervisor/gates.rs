//! Version gates: domain XML features that libvirt's schema accepts only from some version on.
//! An older daemon rejects them at define (or, without validation, drops them), so the plan
//! refuses them up front and names the version needed.

use super::Version;
use super::tree::Element;

/// A gated feature: where it is, and the first libvirt version that accepts it.
struct Gate {
    /// What the user reads.
    what: &'static str,
    /// Whether the domain uses it.
    used: fn(&Element) -> bool,
    /// First version accepting it.
    since: Version,
}

fn hyperv(dom: &Element, name: &str) -> bool {
    path(dom, &["features", "hyperv", name]).is_some()
}

fn path<'a>(dom: &'a Element, names: &[&str]) -> Option<&'a Element> {
    names.iter().try_fold(dom, |el, n| el.child(n))
}

/// libvirt's schema history (FACTS §5).
const GATES: &[Gate] = &[
    Gate {
        what: "Hyper-V `avic`",
        used: |d| hyperv(d, "avic"),
        since: (8, 10, 0),
    },
    Gate {
        what: "Hyper-V `emsr_bitmap`",
        used: |d| hyperv(d, "emsr_bitmap"),
        since: (10, 7, 0),
    },
    Gate {
        what: "Hyper-V `xmm_input`",
        used: |d| hyperv(d, "xmm_input"),
        since: (10, 7, 0),
    },
    Gate {
        what: "Hyper-V `tlbflush` sub-features",
        used: |d| {
            path(d, &["features", "hyperv", "tlbflush"]).is_some_and(|t| !t.children.is_empty())
        },
        since: (11, 0, 0),
    },
    Gate {
        what: "CPU topology `clusters`",
        used: |d| path(d, &["cpu", "topology"]).is_some_and(|t| t.attr("clusters").is_some()),
        since: (10, 1, 0),
    },
    Gate {
        what: "CPU topology `dies`",
        used: |d| path(d, &["cpu", "topology"]).is_some_and(|t| t.attr("dies").is_some()),
        since: (6, 1, 0),
    },
    Gate {
        what: "KVM `hint-dedicated`",
        used: |d| path(d, &["features", "kvm", "hint-dedicated"]).is_some(),
        since: (5, 7, 0),
    },
    Gate {
        what: "KVM `poll-control`",
        used: |d| path(d, &["features", "kvm", "poll-control"]).is_some(),
        since: (6, 10, 0),
    },
];

/// Every gated feature the domain uses that `version` does not have, as messages naming the
/// version needed.
pub fn refused(dom: &Element, version: Version) -> Vec<String> {
    GATES
        .iter()
        .filter(|g| (g.used)(dom) && version < g.since)
        .map(|g| {
            format!(
                "{} needs libvirt {}.{}.{} or newer; the connected libvirt is {}.{}.{}",
                g.what, g.since.0, g.since.1, g.since.2, version.0, version.1, version.2
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feature_newer_than_the_daemon_is_refused_with_the_version_needed() {
        let dom = Element::parse(
            "<domain><features><hyperv><avic state='on'/></hyperv></features><cpu><topology dies='1'/></cpu></domain>",
        )
        .unwrap();
        assert_eq!(
            refused(&dom, (8, 0, 0)),
            ["Hyper-V `avic` needs libvirt 8.10.0 or newer; the connected libvirt is 8.0.0"]
        );
        assert!(refused(&dom, (9, 0, 0)).is_empty());
    }
}
