#!/bin/bash
# Managed by passplan — do not edit; changes are overwritten.
# From vm "win10" › cpu › governor "performance" (cpufreq governor for VM win10)
#
# prepare: record that this VM wants the governor; the first VM to ask saves every
# CPU's scaling_governor; set the VM's. release: drop this VM's record; while another
# running VM asks for a governor, set that one, else restore exactly the saved governors.
# CPUs without cpufreq are skipped.
set -euo pipefail

vm='win10'
governor='performance'

# Roots are overridable for tests only: libvirt runs hooks with a minimal environment that
# never sets these, so on a host they are always /sys, /proc and /run.
sysfs=${PASSPLAN_SYSFS:-/sys}
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
