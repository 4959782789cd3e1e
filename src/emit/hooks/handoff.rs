//! Single-GPU handoff (`handoff "single-gpu"` on a guest GPU): the host lets go of its only
//! display before the VM starts and takes it back after.
//!
//! prepare stops the display manager, unbinds the virtual consoles and the firmware
//! framebuffer, and unloads the GPU's host driver modules. It does not detach the PCI device:
//! libvirt's `managed='yes'` does that right after `prepare begin`, and the seeds' `virsh
//! nodedev-detach` from a hook deadlocks the daemon. Each step is recorded in
//! `/run/passplan/<vm>.handoff` (`unit|vtcon|framebuffer|module <value>` lines) *before* it is
//! taken, and release undoes exactly the recorded steps in reverse order — a host without a
//! display manager is not given one, a console that was not bound stays unbound.
//!
//! The handoff must not strand the user without a display:
//!
//! - every step that can hang (stopping the display manager, unloading a module, a driver's
//!   unbind, and their undoing) runs under coreutils' `timeout`, so a step that never returns
//!   fails the start instead of blocking it (a task stuck inside the kernel cannot be killed,
//!   and `timeout` then waits with it: that much no script can help);
//! - when a prepare step fails the script undoes what it recorded, and it also runs the
//!   release copies of the VM's passplan scripts that ran before it at prepare (hugepages,
//!   governor), so the start it aborts leaves nothing taken. Whether libvirt runs the release
//!   hooks after an aborted start is not relied on; each release script undoes only what its
//!   own record says, so when libvirt does run them too, nothing happens twice;
//! - when the automatic release fails, the record stays, and `passplan handback VM` (over SSH)
//!   runs the release steps again.
//!
//! The consoles and framebuffers are found when the hook runs, not at compile time: which
//! ones exist depends on which fbdev driver won the boot (efifb, simpledrm, nvidia-drm).
//! The modules come from the host driver bound to the GPU when passplan looked.

use crate::check::Context;
use crate::desired::CompileError;
use crate::emit::origin;
use crate::spec::{HookPhase, Vm};

use super::{Placed, ROOTS_NOTE, header, invalid, is_plain_word, shell, vm_dir};

/// Where the release copy of the script goes: `release/end/NN-passplan-handoff.sh`.
pub(super) const RELEASE_ORDER: u8 = 20;

/// How long one step may take, in seconds, before it is abandoned. Stopping a display manager
/// waits for its session to close; a minute is long for that and short for a user in front of
/// a black screen.
const STEP_TIMEOUT: u32 = 60;

/// The unit stopped when the spec names none: the alias every display manager installs.
const DEFAULT_DISPLAY_MANAGER: &str = "display-manager.service";

/// The modules to unload for a host driver, in unload order (users before what they use).
fn driver_modules(driver: &str) -> Vec<String> {
    match driver {
        "nvidia" => ["nvidia_drm", "nvidia_modeset", "nvidia_uvm", "nvidia"]
            .map(str::to_owned)
            .to_vec(),
        // Already away from any display driver: nothing to unload.
        "vfio-pci" | "pci-stub" => Vec::new(),
        // amdgpu, nouveau, i915, radeon, xe: the driver is the module (`-` is `_` in names).
        other => vec![other.replace('-', "_")],
    }
}

/// A systemd unit name as the decoder accepts it (`gdm.service`, `sddm`).
fn is_unit_name(unit: &str) -> bool {
    let stem = unit.strip_suffix(".service").unwrap_or(unit);
    crate::spec::validate_name(stem).is_ok()
}

/// The prepare and release scripts, when a GPU the VM takes has `handoff`. `before` holds the
/// VM's scripts placed so far: those at prepare that run before the handoff are undone by its
/// failure path, through their release copies.
pub(super) fn scripts(
    cx: &Context<'_>,
    vm: &Vm,
    before: &[Placed],
) -> Result<Vec<Placed>, CompileError> {
    let mut origin = None;
    let mut display_manager: Option<&str> = None;
    let mut modules: Vec<String> = Vec::new();
    let mut gpus = Vec::new();
    for (_, device) in cx.vm_devices(vm) {
        let Some(handoff) = &device.handoff else {
            continue;
        };
        origin.get_or_insert(device.name.value.as_str());
        gpus.push(device.name.value.as_str());
        if display_manager.is_none() {
            display_manager = handoff.display_manager.as_ref().map(|d| d.value.as_str());
        }
        let driver = cx
            .host_device(device)
            .and_then(|d| d.driver.as_deref())
            .unwrap_or("vfio-pci");
        for m in driver_modules(driver) {
            if !is_plain_word(&m) {
                return Err(invalid(
                    &vm_dir(&vm.name),
                    &format!(
                        "the host driver `{}` is not a module name",
                        m.escape_debug()
                    ),
                ));
            }
            if !modules.contains(&m) {
                modules.push(m);
            }
        }
    }
    let Some(first) = origin else {
        return Ok(Vec::new());
    };
    let unit = display_manager.unwrap_or(DEFAULT_DISPLAY_MANAGER);
    if !is_unit_name(unit) {
        return Err(invalid(
            &vm_dir(&vm.name),
            &format!("`{}` is not a systemd unit name", unit.escape_debug()),
        ));
    }
    let from = origin::child(&origin::node("gpu", first), "handoff");
    let earlier = earlier_releases(before);
    let content = script(&from, &vm.name, unit, &modules, &earlier);
    let gpus = gpus.join(", ");
    Ok(vec![
        Placed {
            phase: HookPhase::PrepareBegin,
            order: PREPARE_ORDER,
            file: "passplan-handoff.sh".into(),
            content: content.clone(),
            reason: format!(
                "VM {} takes the host's only display ({gpus}): the display manager, consoles \
                 and framebuffer let go of it first ({from})",
                vm.name.value
            ),
        },
        Placed {
            phase: HookPhase::ReleaseEnd,
            order: RELEASE_ORDER,
            file: "passplan-handoff.sh".into(),
            content,
            reason: format!(
                "after VM {} stops, the host gets its display ({gpus}) back ({from})",
                vm.name.value
            ),
        },
    ])
}

/// The release copies (`NN-file` in `release/end/`, in release order) of the scripts that run at
/// prepare before the handoff.
fn earlier_releases(before: &[Placed]) -> Vec<String> {
    let mut out: Vec<(u8, String)> = before
        .iter()
        .filter(|p| p.phase == HookPhase::PrepareBegin && p.order < PREPARE_ORDER)
        .filter_map(|p| {
            before
                .iter()
                .find(|r| r.phase == HookPhase::ReleaseEnd && r.file == p.file)
                .map(|r| (r.order, format!("{:02}-{}", r.order, r.file)))
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, name)| name).collect()
}

/// Where the prepare copy goes: after hugepages (10) and the governor (20), so that the step
/// most likely to fail runs before the display goes away.
const PREPARE_ORDER: u8 = 30;

/// The script, for both phases.
fn script(from: &str, vm: &str, unit: &str, modules: &[String], earlier: &[String]) -> String {
    let mut s = header(
        from,
        &format!("single-GPU handoff for VM {vm}"),
        &[
            "prepare: stop the display manager, unbind the virtual consoles and the firmware",
            "framebuffer, unload the GPU's host driver; libvirt detaches the GPU right after.",
            "Every step is recorded in the state file before it is taken, and every step that can",
            "hang has a timeout. A failure undoes the recorded steps and gives back what the VM's",
            "earlier prepare scripts took, then fails the start.",
            "release: undo exactly the recorded steps, in reverse order (`passplan handback` runs",
            "this when the automatic release failed).",
        ],
    );
    s.push_str("# Let the ERR trap below fire inside functions too.\nset -E\n\n");
    s.push_str(&super::assign("vm", vm));
    s.push_str(&super::assign("display_manager", unit));
    s.push_str("# The GPU's host driver modules, in unload order.\nmodules=(");
    s.push_str(
        &modules
            .iter()
            .map(|m| shell::quote(m))
            .collect::<Vec<_>>()
            .join(" "),
    );
    s.push_str(")\n");
    s.push_str(
        "# Release copies (in release/end/) of the VM's scripts that ran before this one at prepare.\nearlier=(",
    );
    s.push_str(
        &earlier
            .iter()
            .map(|m| shell::quote(m))
            .collect::<Vec<_>>()
            .join(" "),
    );
    s.push_str(")\n");
    s.push_str(&super::assign("step_timeout", &STEP_TIMEOUT.to_string()));
    s.push('\n');
    s.push_str(ROOTS_NOTE);
    s.push_str(BODY);
    s
}

/// Everything after the values.
const BODY: &str = r#"sysfs=${PASSPLAN_SYSFS:-/sys}
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
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvidia_unloads_its_whole_stack_users_first() {
        assert_eq!(
            driver_modules("nvidia"),
            ["nvidia_drm", "nvidia_modeset", "nvidia_uvm", "nvidia"]
        );
        assert_eq!(driver_modules("amdgpu"), ["amdgpu"]);
        assert!(driver_modules("vfio-pci").is_empty());
    }

    #[test]
    fn the_script_quotes_its_values_and_records_before_acting() {
        let s = script(
            "s.kdl:5",
            "gamevm",
            "gdm.service",
            &["nvidia_drm".into(), "nvidia".into()],
            &["40-passplan-hugepages.sh".into()],
        );
        assert!(s.contains("# From s.kdl:5 (single-GPU handoff for VM gamevm)"));
        assert!(s.contains("display_manager='gdm.service'\n"));
        assert!(s.contains("modules=('nvidia_drm' 'nvidia')\n"));
        assert!(s.contains("earlier=('40-passplan-hugepages.sh')\n"));
        assert!(s.contains("step_timeout='60'\n"));
        for (record, act) in [
            ("record unit", "within systemctl stop"),
            ("record vtcon", "write_within 0 \"$bind\""),
            ("record framebuffer", "/unbind\""),
            ("record module", "within modprobe -r"),
        ] {
            let r = s.find(record).expect(record);
            let a = s.find(act).expect(act);
            assert!(r < a, "{record} before {act}");
        }
        assert!(!s.contains("nodedev"), "libvirt detaches the GPU itself");
    }

    #[test]
    fn unit_names_are_checked() {
        assert!(is_unit_name("display-manager.service"));
        assert!(is_unit_name("sddm"));
        assert!(!is_unit_name("gdm; reboot"));
        assert!(!is_unit_name("../x.service"));
    }
}
