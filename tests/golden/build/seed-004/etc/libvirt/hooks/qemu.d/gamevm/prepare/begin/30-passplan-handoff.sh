#!/bin/bash
# Managed by passplan — do not edit; changes are overwritten.
# From gpu "3080ti" › handoff (single-GPU handoff for VM gamevm)
#
# prepare: stop the display manager, unbind the virtual consoles and the firmware
# framebuffer, unload the GPU's host driver; libvirt detaches the GPU right after.
# Every step is recorded in the state file before it is taken, and every step that can
# hang has a timeout. A failure undoes the recorded steps and gives back what the VM's
# earlier prepare scripts took, then fails the start.
# release: undo exactly the recorded steps, in reverse order (`passplan handback` runs
# this when the automatic release failed).
set -euo pipefail

# Let the ERR trap below fire inside functions too.
set -E

vm='gamevm'
display_manager='display-manager.service'
# The GPU's host driver modules, in unload order.
modules=('nvidia_drm' 'nvidia_modeset' 'nvidia_uvm' 'nvidia')
# Release copies (in release/end/) of the VM's scripts that ran before this one at prepare.
earlier=('40-passplan-hugepages.sh')
step_timeout='60'

# Roots are overridable for tests only: libvirt runs hooks with a minimal environment that
# never sets these, so on a host they are always /sys, /proc and /run.
sysfs=${PASSPLAN_SYSFS:-/sys}
state_dir=${PASSPLAN_RUN:-/run}/passplan
# Tests shorten the step timeout the same way; libvirt never sets this.
step_timeout=${PASSPLAN_STEP_TIMEOUT:-$step_timeout}

state="$state_dir/$vm.handoff"

record() {
    printf '%s %s\n' "$1" "$2" >> "$state"
}

# Run a step that can hang (a unit that never stops, a module stuck in use), abandoning it
# after the step timeout: then it fails with status 124.
within() {
    timeout --kill-after=5 "$step_timeout" "$@"
}

# Write $1 to the sysfs file $2 within the step timeout: a driver's unbind can hang.
write_within() {
    printf '%s\n' "$1" | within tee -- "$2" > /dev/null
}

# Undo the recorded steps, last first. Every step is tried; the record is kept when one fails,
# so the next release (or `passplan handback`) tries again.
give_back() {
    if [[ ! -e $state ]]; then
        return 0
    fi
    local lines=() i kind value fb driver status=0
    mapfile -t lines < "$state"
    for (( i = ${#lines[@]} - 1; i >= 0; i-- )); do
        kind=${lines[i]%% *}
        value=${lines[i]#* }
        case $kind in
            module)
                if [[ ! $value =~ ^[a-z0-9_]+$ ]] || ! within modprobe -- "$value"; then
                    echo "passplan: could not load module '$value'" >&2
                    status=1
                fi
                ;;
            framebuffer)
                fb=${value%%:*}
                driver=${value#*:}
                if [[ ! $fb =~ ^(efi|simple)-framebuffer\.0$ || ! $driver =~ ^[A-Za-z0-9_.-]+$ ]] \
                    || ! write_within "$fb" "$sysfs/bus/platform/drivers/$driver/bind"; then
                    echo "passplan: could not bind '$fb' to '$driver' again" >&2
                    status=1
                fi
                ;;
            vtcon)
                if [[ ! $value =~ ^vtcon[0-9]+$ ]] || ! write_within 1 "$sysfs/class/vtconsole/$value/bind"; then
                    echo "passplan: could not bind console '$value' again" >&2
                    status=1
                fi
                ;;
            unit)
                if [[ ! $value =~ ^[A-Za-z0-9][A-Za-z0-9_.@-]*$ ]] || ! within systemctl start -- "$value"; then
                    echo "passplan: could not start '$value' again" >&2
                    status=1
                fi
                ;;
            *)
                echo "passplan: skipping a malformed line of $state: '${lines[i]}'" >&2
                status=1
                ;;
        esac
    done
    if (( status == 0 )); then
        rm -f -- "$state"
    else
        echo "passplan: the record $state is kept; run \`passplan handback $vm\` (over SSH) to try again" >&2
    fi
    return "$status"
}

# The start is aborted: give back what the VM's earlier prepare scripts took, through their
# release copies, whether or not libvirt runs the release hooks after this (each undoes only
# what its record says, so a second run changes nothing).
release_earlier() {
    local self dir name
    self=$(readlink -f -- "$0")
    dir="${self%/*/*/*}/release/end"
    for name in "${earlier[@]}"; do
        if [[ ! -x $dir/$name ]]; then
            echo "passplan: $dir/$name is missing; what it took stays taken" >&2
            continue
        fi
        if ! "$dir/$name" "$vm" release end - < /dev/null >&2; then
            echo "passplan: $name could not give everything back" >&2
        fi
    done
}

undo_after_failure() {
    local status=$?
    trap - ERR
    echo "passplan: the display handoff for VM $vm failed (status $status); giving the display back" >&2
    give_back || true
    release_earlier
    exit "$status"
}

hand_over() {
    mkdir -p -- "$state_dir"
    trap undo_after_failure ERR
    local bind con fb link driver module

    # Xorg or the Wayland compositor holds the GPU open.
    if within systemctl is-active --quiet -- "$display_manager"; then
        record unit "$display_manager"
        within systemctl stop -- "$display_manager"
    fi

    # The text consoles draw through the GPU's framebuffer.
    for bind in "$sysfs"/class/vtconsole/vtcon*/bind; do
        if [[ ! -e $bind || $(< "$bind") != 1 ]]; then
            continue
        fi
        con=${bind%/bind}
        con=${con##*/}
        record vtcon "$con"
        write_within 0 "$bind"
    done

    # The firmware's framebuffer keeps the GPU's memory mapped.
    for fb in efi-framebuffer.0 simple-framebuffer.0; do
        link="$sysfs/bus/platform/devices/$fb/driver"
        if [[ ! -L $link ]]; then
            continue
        fi
        driver=$(readlink -f -- "$link")
        driver=${driver##*/}
        record framebuffer "$fb:$driver"
        write_within "$fb" "$sysfs/bus/platform/drivers/$driver/unbind"
    done

    # The host driver must let go before libvirt can detach the device.
    for module in "${modules[@]}"; do
        if [[ ! -d $sysfs/module/$module ]]; then
            continue
        fi
        record module "$module"
        within modprobe -r -- "$module"
    done
    trap - ERR
}

case ${2-} in
    prepare) hand_over ;;
    release) give_back ;;
    *)
        echo "passplan: $0 runs at prepare and release, not at '${2-}'" >&2
        exit 1
        ;;
esac
