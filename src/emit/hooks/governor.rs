//! The cpufreq governor while a VM runs (`cpu { governor "performance" }`).
//!
//! The seed tutorial sets `performance` on start and `ondemand` on stop, whatever the host had
//! before (and `ondemand` does not exist with `amd-pstate`/`intel_pstate`). This saves every
//! CPU's governor in `/run/passplan/<vm>.governor` (`cpuN <governor>` lines) at prepare and
//! restores exactly those at release. CPUs without cpufreq are skipped. A governor the kernel
//! refuses is a warning, not a failed start: the checker only warns about it too, and a slower
//! VM is better than none.

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
                "VM {} runs with the {} cpufreq governor; the current ones are saved ({from})",
                vm.name.value, governor.value
            ),
        },
        Placed {
            phase: HookPhase::ReleaseEnd,
            order: 30,
            file: "passplan-governor.sh".into(),
            content,
            reason: format!(
                "the governors saved when VM {} started are restored ({from})",
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
            "prepare: save every CPU's scaling_governor in the state file, then set the VM's.",
            "release: restore exactly the saved governors. CPUs without cpufreq are skipped.",
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
state="$state_dir/$vm.governor"

save_and_set() {
    mkdir -p -- "$state_dir"
    # A record left by a start whose release never ran holds the governors from before that
    # start, the ones to return to: keep it rather than saving the VM's own governor.
    if [[ ! -e $state ]]; then
        local tmp f cpu
        tmp=$(mktemp "$state.XXXXXX")
        for f in "$cpu_dir"/cpu[0-9]*/cpufreq/scaling_governor; do
            # No cpufreq anywhere leaves the pattern unexpanded; a CPU without it has no file.
            if [[ ! -e $f ]]; then
                continue
            fi
            cpu=${f#"$cpu_dir"/}
            cpu=${cpu%%/*}
            printf '%s %s\n' "$cpu" "$(< "$f")" >> "$tmp"
        done
        mv -f -- "$tmp" "$state"
    fi
    local cpu old
    while read -r cpu old; do
        if ! echo "$governor" > "$cpu_dir/$cpu/cpufreq/scaling_governor"; then
            echo "passplan: could not set the $governor governor on $cpu, it stays $old; VM $vm starts anyway" >&2
        fi
    done < "$state"
}

restore() {
    if [[ ! -e $state ]]; then
        return 0
    fi
    local cpu old f status=0
    while read -r cpu old; do
        if [[ ! $cpu =~ ^cpu[0-9]+$ || ! $old =~ ^[a-z0-9_]+$ ]]; then
            echo "passplan: skipping a malformed line of $state: '$cpu $old'" >&2
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
    done < "$state"
    # Keep the record when something failed, so the next release can try again.
    if (( status == 0 )); then
        rm -f -- "$state"
    fi
    return "$status"
}

case ${2-} in
    prepare) save_and_set ;;
    release) restore ;;
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
    fn the_script_saves_before_it_sets_and_restores_the_saved() {
        let s = script("s.kdl:4", "win10", "performance");
        assert!(s.contains("# From s.kdl:4 (cpufreq governor for VM win10)"));
        assert!(s.contains("governor='performance'\n"));
        assert!(s.contains("state=\"$state_dir/$vm.governor\""));
        let save = s.find("printf '%s %s\\n' \"$cpu\"").expect("saves");
        let set = s.find("echo \"$governor\" >").expect("sets");
        assert!(save < set, "saves before it sets");
        assert!(s.contains("echo \"$old\" > \"$f\""));
        assert!(!s.contains("ondemand"), "never assumes a default governor");
    }
}
