#!/bin/bash
# Managed by passplan — do not edit; changes are overwritten.
# From gpu "3080ti" › handoff (single-GPU handoff for VM gamevm)
#
# prepare: stop the display manager, unbind the virtual consoles and the firmware
# framebuffer, unload the GPU's host driver; libvirt detaches the GPU right after.
# Every step is recorded in the state file before it is taken; a failure undoes them.
# release: undo exactly the recorded steps, in reverse order.
set -euo pipefail

# Let the ERR trap below fire inside functions too.
set -E

vm='gamevm'
display_manager='display-manager.service'
# The GPU's host driver modules, in unload order.
modules=('nvidia_drm' 'nvidia_modeset' 'nvidia_uvm' 'nvidia')

# Roots are overridable for tests only: libvirt runs hooks with a minimal environment that
# never sets these, so on a host they are always /sys, /proc and /run.
sysfs=${PASSPLAN_SYSFS:-/sys}
state_dir=${PASSPLAN_RUN:-/run}/passplan

state="$state_dir/$vm.handoff"

record() {
    printf '%s %s\n' "$1" "$2" >> "$state"
}

# Undo the recorded steps, last first. Every step is tried; the record is kept when one fails,
# so the next release tries again.
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
                if [[ ! $value =~ ^[a-z0-9_]+$ ]] || ! modprobe -- "$value"; then
                    echo "passplan: could not load module '$value'" >&2
                    status=1
                fi
                ;;
            framebuffer)
                fb=${value%%:*}
                driver=${value#*:}
                if [[ ! $fb =~ ^(efi|simple)-framebuffer\.0$ || ! $driver =~ ^[A-Za-z0-9_.-]+$ ]] \
                    || ! echo "$fb" > "$sysfs/bus/platform/drivers/$driver/bind"; then
                    echo "passplan: could not bind '$fb' to '$driver' again" >&2
                    status=1
                fi
                ;;
            vtcon)
                if [[ ! $value =~ ^vtcon[0-9]+$ ]] || ! echo 1 > "$sysfs/class/vtconsole/$value/bind"; then
                    echo "passplan: could not bind console '$value' again" >&2
                    status=1
                fi
                ;;
            unit)
                if [[ ! $value =~ ^[A-Za-z0-9][A-Za-z0-9_.@-]*$ ]] || ! systemctl start -- "$value"; then
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
    fi
    return "$status"
}

undo_after_failure() {
    trap - ERR
    echo "passplan: the display handoff for VM $vm failed; giving the display back" >&2
    give_back || true
}

hand_over() {
    mkdir -p -- "$state_dir"
    trap undo_after_failure ERR
    local bind con fb link driver module

    # Xorg or the Wayland compositor holds the GPU open.
    if systemctl is-active --quiet -- "$display_manager"; then
        record unit "$display_manager"
        systemctl stop -- "$display_manager"
    fi

    # The text consoles draw through the GPU's framebuffer.
    for bind in "$sysfs"/class/vtconsole/vtcon*/bind; do
        if [[ ! -e $bind || $(< "$bind") != 1 ]]; then
            continue
        fi
        con=${bind%/bind}
        con=${con##*/}
        record vtcon "$con"
        echo 0 > "$bind"
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
        echo "$fb" > "$sysfs/bus/platform/drivers/$driver/unbind"
    done

    # The host driver must let go before libvirt can detach the device.
    for module in "${modules[@]}"; do
        if [[ ! -d $sysfs/module/$module ]]; then
            continue
        fi
        record module "$module"
        modprobe -r -- "$module"
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
