//! Host bridges (seed 003): systemd-networkd `.netdev`/`.network` files, or NetworkManager
//! keyfiles, putting a physical interface into a bridge that guests attach to.
//!
//! networkd applies the first `.network` file (in lexical order across its directories) that
//! matches an interface, so passplan's files start with `10-` to come before the usual
//! distribution defaults (`20-wired.network`, `99-default.network`).

use std::fmt::Write as _;

use super::{managed_header, origin};
use crate::desired::{Artifact, CompileError, Desired, Input, Ownership, Step, Trigger};
use crate::spec::{Bridge, BridgeBackend};

/// Add every bridge's files and the reload step of its backend.
pub fn emit(input: &Input<'_>, out: &mut Desired) -> Result<(), CompileError> {
    for bridge in &input.checked.spec.host.bridges {
        let origin = vec![origin::child(
            "host",
            &origin::node("bridge", &bridge.name.value),
        )];
        match bridge.backend.value {
            BridgeBackend::Networkd => networkd(bridge, &origin, out),
            BridgeBackend::NetworkManager => network_manager(bridge, &origin, out),
        }
        let shadowed: Vec<&String> = input
            .checked
            .host
            .files
            .iter()
            .filter(|(path, text)| {
                path.starts_with("/etc/systemd/network/")
                    && path.ends_with(".network")
                    && !path.contains("passplan")
                    && text
                        .lines()
                        .any(|l| l.trim() == format!("Name={}", bridge.interface.value))
            })
            .map(|(path, _)| path)
            .collect();
        for path in shadowed {
            out.notes.push(format!("{path} also configures {}: remove it, or it may keep the interface out of the bridge", bridge.interface.value));
        }
    }
    Ok(())
}

fn file(path: String, content: String, mode: u32, reason: String) -> Artifact {
    Artifact {
        path,
        content,
        mode,
        ownership: Ownership::Owned,
        triggers: vec![Trigger::Network],
        reason,
    }
}

fn networkd(bridge: &Bridge, origin: &[String], out: &mut Desired) {
    let (name, iface) = (&bridge.name.value, &bridge.interface.value);
    let mut netdev = managed_header(origin);
    let _ = write!(netdev, "[NetDev]\nName={name}\nKind=bridge\n");
    let mut network = managed_header(origin);
    let dhcp = if bridge.dhcp { "yes" } else { "no" };
    let _ = write!(network, "[Match]\nName={name}\n\n[Network]\nDHCP={dhcp}\n");
    let mut port = managed_header(origin);
    let _ = write!(port, "[Match]\nName={iface}\n\n[Network]\nBridge={name}\n");
    out.artifacts.push(file(
        format!("/etc/systemd/network/10-passplan-{name}.netdev"),
        netdev,
        0o644,
        format!("create bridge {name}"),
    ));
    out.artifacts.push(file(
        format!("/etc/systemd/network/10-passplan-{name}.network"),
        network,
        0o644,
        format!("address bridge {name}"),
    ));
    out.artifacts.push(file(
        format!("/etc/systemd/network/10-passplan-{name}-{iface}.network"),
        port,
        0o644,
        format!("put {iface} into bridge {name}"),
    ));
    out.steps.push(Step {
        trigger: Trigger::Network,
        argv: vec!["networkctl".into(), "reload".into()],
        reason: "make systemd-networkd read the bridge files".into(),
    });
}

fn network_manager(bridge: &Bridge, origin: &[String], out: &mut Desired) {
    let (name, iface) = (&bridge.name.value, &bridge.interface.value);
    let method = if bridge.dhcp { "auto" } else { "disabled" };
    let mut br = managed_header(origin);
    let id = format!("passplan-{name}");
    let _ = write!(
        br,
        "[connection]\nid={id}\nuuid={}\ntype=bridge\ninterface-name={name}\n\n[bridge]\n\n[ipv4]\nmethod={method}\n\n[ipv6]\nmethod={method}\n",
        stable_uuid(&id)
    );
    let port_id = format!("passplan-{name}-{iface}");
    let mut port = managed_header(origin);
    let _ = write!(
        port,
        "[connection]\nid={port_id}\nuuid={}\ntype=ethernet\ninterface-name={iface}\nmaster={name}\nslave-type=bridge\n",
        stable_uuid(&port_id)
    );
    // NetworkManager ignores keyfiles readable by others.
    out.artifacts.push(file(
        format!("/etc/NetworkManager/system-connections/{id}.nmconnection"),
        br,
        0o600,
        format!("create bridge {name}"),
    ));
    out.artifacts.push(file(
        format!("/etc/NetworkManager/system-connections/{port_id}.nmconnection"),
        port,
        0o600,
        format!("put {iface} into bridge {name}"),
    ));
    out.steps.push(Step {
        trigger: Trigger::Network,
        argv: vec!["nmcli".into(), "connection".into(), "reload".into()],
        reason: "make NetworkManager read the bridge keyfiles".into(),
    });
}

/// A UUID derived from the connection id, so the same spec always writes the same keyfile.
fn stable_uuid(id: &str) -> String {
    // Two FNV-1a passes with different offsets give 128 bits; not cryptographic, just stable.
    let fnv = |seed: u64| {
        id.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    let (a, b) = (fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4));
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_be_bytes());
    bytes[8..].copy_from_slice(&b.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4 layout
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let hex = bytes.iter().fold(String::with_capacity(32), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    });
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_stable_and_well_formed() {
        let u = stable_uuid("passplan-br0");
        assert_eq!(u, stable_uuid("passplan-br0"));
        assert_ne!(u, stable_uuid("passplan-br1"));
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
