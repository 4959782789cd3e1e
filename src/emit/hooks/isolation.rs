//! Dynamic host CPU isolation (`cpu { isolate "dynamic" }`): while the VM runs, systemd keeps
//! the host's own work (`system.slice`, `user.slice`, `init.scope`) off the VM's pinned CPUs.
//!
//! It applies at `started/begin`, not `prepare/begin`: a start that fails has nothing to undo,
//! and the host keeps every CPU during the start's heavy lifting (hugepage compaction, display
//! handoff). QEMU itself runs in `machine.slice`, which is never restricted. At `started` the
//! VM already runs, and a failed hook there makes libvirt stop it, so a unit systemd refuses
//! is a logged warning rather than a failure: a VM with less isolation beats no VM.
//! `systemctl` is not a libvirt client, so it is safe here.
//!
//! Several isolated VMs compose: each records its pins in `/run/passplan/running/<vm>.cpus`
//! at `started` and drops the record at `release/end`, and both phases then set `AllowedCPUs=`
//! to every online CPU minus the union of the recorded pins, so a VM's stop gives back only its
//! own CPUs and the last stop gives back all of them. The updates are serialised with `flock`
//! on `/run/passplan/isolation.lock`. The online CPUs and the VM's pins are computed at compile
//! time; the union at run time.

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
        // Nothing is left for the host: `check` warns (cpu/no-host-cpu); no hooks to write.
        return Vec::new();
    }
    // CpuSet's Display is the kernel's canonical list (`0-5,12-17`): digits, `-` and `,` only.
    let content = script(&from, &vm.name, &pinned.to_string(), &online.to_string());
    vec![
        Placed {
            phase: HookPhase::StartedBegin,
            order: 40,
            file: "passplan-isolation.sh".into(),
            content: content.clone(),
            reason: format!(
                "while VM {} runs, the host's own work stays off its CPUs {pinned} (on {host} \
                 when it runs alone) ({from})",
                vm.name.value
            ),
        },
        Placed {
            phase: HookPhase::ReleaseEnd,
            order: 10,
            file: "passplan-isolation.sh".into(),
            content,
            reason: format!(
                "after VM {} stops, the host gets its CPUs {pinned} back ({from})",
                vm.name.value
            ),
        },
    ]
}

/// The script, for both phases.
fn script(from: &str, vm: &str, vm_cpus: &str, all_cpus: &str) -> String {
    let mut s = header(
        from,
        &format!("host CPU isolation for VM {vm}"),
        &[
            "started: record the VM's pins; release: drop the record. Both then confine",
            "system.slice, user.slice and init.scope to every online CPU minus the pins of all",
            "running VMs, so a stop gives back only this VM's CPUs.",
        ],
    );
    s.push_str(&assign("vm", vm));
    s.push_str(&assign("vm_cpus", vm_cpus));
    s.push_str(&assign("all_cpus", all_cpus));
    s.push('\n');
    s.push_str(ROOTS_NOTE);
    s.push_str(BODY);
    s
}

/// Everything after the values.
const BODY: &str = r#"state_dir=${PASSPLAN_RUN:-/run}/passplan

# One file per running isolated VM, holding the CPUs it is pinned to.
requests="$state_dir/running"
request="$requests/$vm.cpus"
# What earlier versions marked: this VM confined the host.
legacy="$state_dir/$vm.isolation"
units=(system.slice user.slice init.scope)

# A kernel CPU list (0-5,12-17) as one CPU number per line; fails on anything else.
expand() {
    local part lo hi
    local -a parts
    IFS=, read -ra parts <<< "$1"
    for part in "${parts[@]}"; do
        if [[ $part =~ ^([0-9]+)-([0-9]+)$ ]]; then
            lo=${BASH_REMATCH[1]}
            hi=${BASH_REMATCH[2]}
        elif [[ $part =~ ^[0-9]+$ ]]; then
            lo=$part
            hi=$part
        else
            return 1
        fi
        for (( ; lo <= hi; lo++ )); do
            echo "$lo"
        done
    done
}

# Every online CPU minus the pins of every running VM, as a kernel CPU list.
host_cpus() {
    local -A taken=()
    local f list cpu out='' start=-1 prev=-2
    for f in "$requests"/*.cpus; do
        if [[ ! -e $f ]]; then
            continue
        fi
        list=$(< "$f")
        if [[ ! $list =~ ^[0-9,-]+$ ]] || ! expand "$list" > /dev/null; then
            echo "passplan: ignoring the malformed record $f" >&2
            continue
        fi
        while read -r cpu; do
            taken[$cpu]=1
        done < <(expand "$list")
    done
    # Ranges of consecutive free CPUs; the list is sorted, and a sentinel closes the last range.
    while read -r cpu; do
        if [[ -n ${taken[$cpu]-} ]]; then
            continue
        fi
        if (( cpu != prev + 1 )); then
            if (( start >= 0 )); then
                out+="${out:+,}$start"
                if (( prev > start )); then
                    out+="-$prev"
                fi
            fi
            start=$cpu
        fi
        prev=$cpu
    done < <(expand "$all_cpus"; echo -1)
    echo "$out"
}

# Give the host's units every CPU no running VM is pinned to.
confine() {
    local cpus unit status=0
    cpus=$(host_cpus)
    if [[ -z $cpus ]]; then
        # An empty AllowedCPUs= would mean every CPU: leave the units as they are.
        echo "passplan: the running VMs are pinned to every online CPU; the host's units keep their CPUs" >&2
        return 0
    fi
    for unit in "${units[@]}"; do
        if ! systemctl set-property --runtime -- "$unit" "AllowedCPUs=$cpus"; then
            echo "passplan: could not confine $unit to CPUs $cpus" >&2
            status=1
        fi
    done
    return "$status"
}

started() {
    mkdir -p -- "$requests"
    # Record first: a half-applied confinement must still be undone at release.
    printf '%s\n' "$vm_cpus" > "$request"
    if ! confine; then
        echo "passplan: VM $vm runs without full isolation" >&2
    fi
}

released() {
    if [[ ! -e $request && ! -e $legacy ]]; then
        return 0
    fi
    rm -f -- "$request" "$legacy"
    confine
}

mkdir -p -- "$state_dir"
# Two VMs starting or stopping at once must not interleave their reads of the records and
# their writes of AllowedCPUs=.
exec 9> "$state_dir/isolation.lock"
flock 9

case ${2-} in
    started) started ;;
    release) released ;;
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
    fn the_script_records_its_pins_and_confines_to_what_no_vm_holds() {
        let s = script("s.kdl:7", "win10", "6-11,18-23", "0-23");
        assert!(s.contains("# From s.kdl:7 (host CPU isolation for VM win10)"));
        assert!(s.contains("vm_cpus='6-11,18-23'\n"));
        assert!(s.contains("all_cpus='0-23'\n"));
        assert!(s.contains("units=(system.slice user.slice init.scope)"));
        assert!(s.contains("request=\"$requests/$vm.cpus\""));
        assert!(s.contains("systemctl set-property --runtime -- \"$unit\" \"AllowedCPUs=$cpus\""));
        assert!(s.contains("flock 9"));
    }
}
