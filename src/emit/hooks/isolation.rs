//! Dynamic host CPU isolation (`cpu { isolate "dynamic" }`): while the VM runs, systemd keeps
//! the host's own work (`system.slice`, `user.slice`, `init.scope`) off the VM's pinned CPUs.
//!
//! It applies at `started/begin`, not `prepare/begin`: a start that fails has nothing to undo,
//! and the host keeps every CPU during the start's heavy lifting (hugepage compaction, display
//! handoff). QEMU itself runs in `machine.slice`, which is never restricted. At `started` the
//! VM already runs, and a failed hook there makes libvirt stop it, so a unit systemd refuses
//! is a logged warning rather than a failure: a VM with less isolation beats no VM.
//! `release/end` restores `AllowedCPUs=` to every online CPU, and only when started marked
//! `/run/passplan/<vm>.isolation`. `systemctl` is not a libvirt client, so it is safe here.
//!
//! The CPU lists are computed at compile time from the host's online CPUs and the VM's pins.
//! Two VMs isolated at once do not compose: the first release gives every CPU back.

use crate::check::Context;
use crate::emit::origin;
use crate::model::CpuSet;
use crate::spec::{HookPhase, Isolation, Vm};

use super::{Placed, ROOTS_NOTE, assign, header};

/// The started and release scripts, when the VM asks for dynamic isolation and its pins are
/// known. Without known pins (passplan chooses them later) there is nothing to isolate from;
/// a note says so.
pub(super) fn scripts(cx: &Context<'_>, vm: &Vm, notes: &mut Vec<String>) -> Vec<Placed> {
    if vm.cpu.isolate.value != Isolation::Dynamic {
        return Vec::new();
    }
    let from = origin::child(
        &origin::node("vm", &vm.name.value),
        "cpu › isolate \"dynamic\"",
    );
    let Some(pins) = cx.vm_pins(vm) else {
        notes.push(format!(
            "VM {}: isolate \"dynamic\" needs pinned vCPUs; no isolation hooks ({from})",
            vm.name.value
        ));
        return Vec::new();
    };
    let online = cx.host.online_cpus();
    let pinned: CpuSet = pins.into_iter().collect();
    let host = online.difference(&pinned);
    if host.is_empty() {
        notes.push(format!(
            "VM {}: its pins cover every online CPU, so nothing is left for the host; no \
             isolation hooks ({from})",
            vm.name.value
        ));
        return Vec::new();
    }
    // CpuSet's Display is the kernel's canonical list (`0-5,12-17`): digits, `-` and `,` only.
    let content = script(&from, &vm.name, &host.to_string(), &online.to_string());
    vec![
        Placed {
            phase: HookPhase::StartedBegin,
            order: 40,
            file: "passplan-isolation.sh".into(),
            content: content.clone(),
            reason: format!(
                "while VM {} runs, the host's own work stays on CPUs {host} ({from})",
                vm.name.value
            ),
        },
        Placed {
            phase: HookPhase::ReleaseEnd,
            order: 10,
            file: "passplan-isolation.sh".into(),
            content,
            reason: format!(
                "after VM {} stops, the host gets CPUs {online} back ({from})",
                vm.name.value
            ),
        },
    ]
}

/// The script, for both phases.
fn script(from: &str, vm: &str, host_cpus: &str, all_cpus: &str) -> String {
    let mut s = header(
        from,
        &format!("host CPU isolation for VM {vm}"),
        &[
            "started: confine system.slice, user.slice and init.scope to the CPUs the VM is not",
            "pinned to. release: give them every online CPU back.",
        ],
    );
    s.push_str(&assign("vm", vm));
    s.push_str(&assign("host_cpus", host_cpus));
    s.push_str(&assign("all_cpus", all_cpus));
    s.push('\n');
    s.push_str(ROOTS_NOTE);
    s.push_str(BODY);
    s
}

/// Everything after the values.
const BODY: &str = r#"state_dir=${PASSPLAN_RUN:-/run}/passplan

state="$state_dir/$vm.isolation"
units=(system.slice user.slice init.scope)

confine() {
    mkdir -p -- "$state_dir"
    # Mark first: a half-applied confinement must still be undone at release.
    printf '%s\n' "$host_cpus" > "$state"
    local unit
    for unit in "${units[@]}"; do
        if ! systemctl set-property --runtime -- "$unit" "AllowedCPUs=$host_cpus"; then
            echo "passplan: could not confine $unit to CPUs $host_cpus; VM $vm runs without that isolation" >&2
        fi
    done
}

release_cpus() {
    if [[ ! -e $state ]]; then
        return 0
    fi
    local unit status=0
    for unit in "${units[@]}"; do
        if ! systemctl set-property --runtime -- "$unit" "AllowedCPUs=$all_cpus"; then
            echo "passplan: could not give $unit the CPUs $all_cpus back" >&2
            status=1
        fi
    done
    if (( status == 0 )); then
        rm -f -- "$state"
    fi
    return "$status"
}

case ${2-} in
    started) confine ;;
    release) release_cpus ;;
    *)
        echo "passplan: $0 runs at started and release, not at '${2-}'" >&2
        exit 1
        ;;
esac
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_confines_three_units_and_gives_all_back() {
        let s = script("s.kdl:7", "win10", "0-5,12-17", "0-23");
        assert!(s.contains("# From s.kdl:7 (host CPU isolation for VM win10)"));
        assert!(s.contains("host_cpus='0-5,12-17'\n"));
        assert!(s.contains("all_cpus='0-23'\n"));
        assert!(s.contains("units=(system.slice user.slice init.scope)"));
        assert!(
            s.contains("systemctl set-property --runtime -- \"$unit\" \"AllowedCPUs=$host_cpus\"")
        );
        assert!(
            s.contains("systemctl set-property --runtime -- \"$unit\" \"AllowedCPUs=$all_cpus\"")
        );
    }
}
