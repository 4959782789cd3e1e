//! The cpufreq governor while a VM runs (`cpu { governor "performance" }`).
//!
//! The seed tutorial sets `performance` on start and `ondemand` on stop, whatever the host had
//! before (and `ondemand` does not exist with `amd-pstate`/`intel_pstate`). Here the governor is
//! computed from the set of VMs running now, so several VMs compose:
//!
//! - `/run/passplan/running/<vm>.governor` holds the governor a running VM asked for, one file
//!   per VM, written at prepare and removed at release;
//! - `/run/passplan/host.governor` holds the host's own governors (`cpuN <governor>` lines),
//!   saved by the first VM that asks and restored only when the last VM asking for a governor
//!   stops. While another VM still asks, a release sets that VM's governor instead.
//!
//! Every change is serialised with `flock` on `/run/passplan/governor.lock`, since libvirt may
//! start and stop two VMs at once. CPUs without cpufreq are skipped. A governor the kernel
//! refuses is a warning, not a failed start: the checker only warns about it too, and a slower
//! VM is better than none. A record in the format of earlier versions (`<vm>.governor`: the
//! governors saved before that VM started) is taken as the host's saved governors.

use crate::desired::CompileError;
use crate::emit::origin;
use crate::spec::{HookPhase, Vm};

use super::{Placed, ROOTS_NOTE, assign, header, invalid, is_plain_word, vm_dir};

/// The prepare and release scripts, when the VM names a governor.
pub(super) fn scripts(vm: &Vm) -> Result<Vec<Placed>, CompileError> {
    let Some(governor) = &vm.cpu.governor else {
        return Ok(Vec::new());
    };
    if !is_plain_word(governor) {
        return Err(invalid(
            &vm_dir(&vm.name),
            &format!(
                "`{}` is not a cpufreq governor name",
                governor.escape_debug()
            ),
        ));
    }
    let from = origin::child(
        &origin::node("vm", &vm.name.value),
        &format!("cpu › governor \"{}\"", governor.value),
    );
    let content = script(&from, &vm.name, governor);
    Ok(vec![
        Placed {
            phase: HookPhase::PrepareBegin,
            order: 20,
            file: "passplan-governor.sh".into(),
            content: content.clone(),
            reason: format!(
                "VM {} runs with the {} cpufreq governor; the host's own are saved by the first VM \
                 that asks ({from})",
                vm.name.value, governor.value
            ),
        },
        Placed {
            phase: HookPhase::ReleaseEnd,
            order: 30,
            file: "passplan-governor.sh".into(),
            content,
            reason: format!(
                "after VM {} stops, the host's saved governors are restored unless another running \
                 VM asks for one ({from})",
                vm.name.value
            ),
        },
    ])
}

/// The script, for both phases.
fn script(from: &str, vm: &str, governor: &str) -> String {
    let mut s = header(
        from,
        &format!("cpufreq governor for VM {vm}"),
        &[
            "prepare: record that this VM wants the governor; the first VM to ask saves every",
            "CPU's scaling_governor; set the VM's. release: drop this VM's record; while another",
            "running VM asks for a governor, set that one, else restore exactly the saved governors.",
            "CPUs without cpufreq are skipped.",
        ],
    );
    s.push_str(&assign("vm", vm));
    s.push_str(&assign("governor", governor));
    s.push('\n');
    s.push_str(ROOTS_NOTE);
    s.push_str(BODY);
    s
}

/// Everything after the values.
const BODY: &str = r#"sysfs=${PASSPLAN_SYSFS:-/sys}
state_dir=${PASSPLAN_RUN:-/run}/passplan

cpu_dir="$sysfs/devices/system/cpu"
# One file per running VM that asked for a governor, holding that governor.
requests="$state_dir/running"
request="$requests/$vm.governor"
# The host's own governors, from before the first VM asked.
saved="$state_dir/host.governor"
# What earlier versions saved per VM: the governors from before this VM started.
legacy="$state_dir/$vm.governor"

save_host() {
    local tmp f cpu
    tmp=$(mktemp "$saved.XXXXXX")
    for f in "$cpu_dir"/cpu[0-9]*/cpufreq/scaling_governor; do
        # No cpufreq anywhere leaves the pattern unexpanded; a CPU without it has no file.
        if [[ ! -e $f ]]; then
            continue
        fi
        cpu=${f#"$cpu_dir"/}
        cpu=${cpu%%/*}
        printf '%s %s\n' "$cpu" "$(< "$f")" >> "$tmp"
    done
    mv -f -- "$tmp" "$saved"
}

# Set the governor $1 on every CPU the saved record lists.
set_all() {
    local cpu old
    while read -r cpu old; do
        if [[ ! $cpu =~ ^cpu[0-9]+$ ]]; then
            continue
        fi
        if ! echo "$1" > "$cpu_dir/$cpu/cpufreq/scaling_governor"; then
            echo "passplan: could not set the $1 governor on $cpu, it stays as it is" >&2
        fi
    done < "$saved"
}

ask() {
    mkdir -p -- "$requests"
    # A saved record means a VM already changed the governors (one running now, or a start
    # whose release never ran): it holds the host's own governors, the ones to return to.
    if [[ ! -e $saved ]]; then
        save_host
    fi
    printf '%s\n' "$governor" > "$request"
    set_all "$governor"
}

restore() {
    local cpu old f status=0
    while read -r cpu old; do
        if [[ ! $cpu =~ ^cpu[0-9]+$ || ! $old =~ ^[a-z0-9_]+$ ]]; then
            echo "passplan: skipping a malformed line of $saved: '$cpu $old'" >&2
            status=1
            continue
        fi
        f="$cpu_dir/$cpu/cpufreq/scaling_governor"
        if [[ ! -e $f ]]; then
            echo "passplan: $cpu has no cpufreq any more (offline?); its governor $old is not restored" >&2
            continue
        fi
        if ! echo "$old" > "$f"; then
            echo "passplan: could not restore the $old governor on $cpu" >&2
            status=1
        fi
    done < "$saved"
    # Keep the record when something failed, so the next release can try again.
    if (( status == 0 )); then
        rm -f -- "$saved"
    fi
    return "$status"
}

let_go() {
    rm -f -- "$request"
    if [[ -e $legacy ]]; then
        if [[ ! -e $saved ]]; then
            mv -f -- "$legacy" "$saved"
        fi
        rm -f -- "$legacy"
    fi
    if [[ ! -e $saved ]]; then
        return 0
    fi
    # Another running VM still asks for a governor: it keeps one.
    local other wanted
    for other in "$requests"/*.governor; do
        if [[ ! -e $other ]]; then
            continue
        fi
        wanted=$(< "$other")
        if [[ $wanted =~ ^[a-z0-9_]+$ ]]; then
            set_all "$wanted"
            return 0
        fi
        echo "passplan: ignoring the malformed record $other" >&2
    done
    restore
}

mkdir -p -- "$state_dir"
# Two VMs starting or stopping at once must not interleave their reads and writes of the records.
exec 9> "$state_dir/governor.lock"
flock 9

case ${2-} in
    prepare) ask ;;
    release) let_go ;;
    *)
        echo "passplan: $0 runs at prepare and release, not at '${2-}'" >&2
        exit 1
        ;;
esac
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_records_the_request_and_restores_after_the_last() {
        let s = script("s.kdl:4", "win10", "performance");
        assert!(s.contains("# From s.kdl:4 (cpufreq governor for VM win10)"));
        assert!(s.contains("governor='performance'\n"));
        assert!(s.contains("request=\"$requests/$vm.governor\""));
        assert!(s.contains("saved=\"$state_dir/host.governor\""));
        let save = s.find("save_host\n    fi").expect("saves");
        let set = s.find("set_all \"$governor\"").expect("sets");
        assert!(save < set, "saves before it sets");
        let others = s.find("for other in").expect("looks at the other VMs");
        let restore = s.rfind("    restore\n").expect("restores");
        assert!(others < restore, "restores only when no other VM asks");
        assert!(s.contains("flock 9"));
        assert!(!s.contains("ondemand"), "never assumes a default governor");
    }
}
