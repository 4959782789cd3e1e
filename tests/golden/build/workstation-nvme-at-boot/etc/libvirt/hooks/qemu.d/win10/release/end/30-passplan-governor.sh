#!/bin/bash
# Managed by passplan — do not edit; changes are overwritten.
# From vm "win10" › cpu › governor "performance" (cpufreq governor for VM win10)
#
# prepare: save every CPU's scaling_governor in the state file, then set the VM's.
# release: restore exactly the saved governors. CPUs without cpufreq are skipped.
set -euo pipefail

vm='win10'
governor='performance'

# Roots are overridable for tests only: libvirt runs hooks with a minimal environment that
# never sets these, so on a host they are always /sys, /proc and /run.
sysfs=${PASSPLAN_SYSFS:-/sys}
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
