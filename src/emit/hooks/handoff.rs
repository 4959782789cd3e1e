//! Single-GPU handoff (`handoff "single-gpu"` on a guest GPU): the host lets go of its only
//! display before the VM starts and takes it back after.
//!
//! prepare stops the display manager, unbinds the virtual consoles and the firmware
//! framebuffer, and unloads the GPU's host driver modules. It does not detach the PCI device:
//! libvirt's `managed='yes'` does that right after `prepare begin`, and the seeds' `virsh
//! nodedev-detach` from a hook deadlocks the daemon. Each step is recorded in
//! `/run/passplan/<vm>.handoff` (`unit|vtcon|framebuffer|module <value>` lines) *before* it is
//! taken, and release undoes exactly the recorded steps in reverse order — a host without a
//! display manager is not given one, a console that was not bound stays unbound. When a
//! prepare step fails the script undoes what it recorded, so a failed start leaves the host
//! with its display.
//!
//! The consoles and framebuffers are found when the hook runs, not at compile time: which
//! ones exist depends on which fbdev driver won the boot (efifb, simpledrm, nvidia-drm).
//! The modules come from the host driver bound to the GPU when passplan looked.

use crate::check::Context;
use crate::desired::CompileError;
use crate::emit::origin;
use crate::spec::{HookPhase, Vm};

use super::{Placed, ROOTS_NOTE, header, invalid, is_plain_word, shell, vm_dir};

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

/// The prepare and release scripts, when a GPU the VM takes has `handoff`.
pub(super) fn scripts(cx: &Context<'_>, vm: &Vm) -> Result<Vec<Placed>, CompileError> {
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
    let content = script(&from, &vm.name, unit, &modules);
    let gpus = gpus.join(", ");
    Ok(vec![
        Placed {
            phase: HookPhase::PrepareBegin,
            order: 30,
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
            order: 20,
            file: "passplan-handoff.sh".into(),
            content,
            reason: format!(
                "after VM {} stops, the host gets its display ({gpus}) back ({from})",
                vm.name.value
            ),
        },
    ])
}

/// The script, for both phases.
fn script(from: &str, vm: &str, unit: &str, modules: &[String]) -> String {
    let mut s = header(
        from,
        &format!("single-GPU handoff for VM {vm}"),
        &[
            "prepare: stop the display manager, unbind the virtual consoles and the firmware",
            "framebuffer, unload the GPU's host driver; libvirt detaches the GPU right after.",
            "Every step is recorded in the state file before it is taken; a failure undoes them.",
            "release: undo exactly the recorded steps, in reverse order.",
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
    s.push_str(")\n\n");
    s.push_str(ROOTS_NOTE);
    s.push_str(BODY);
    s
}

/// Everything after the values.
const BODY: &str = r#"sysfs=${PASSPLAN_SYSFS:-/sys}
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
        );
        assert!(s.contains("# From s.kdl:5 (single-GPU handoff for VM gamevm)"));
        assert!(s.contains("display_manager='gdm.service'\n"));
        assert!(s.contains("modules=('nvidia_drm' 'nvidia')\n"));
        for (record, act) in [
            ("record unit", "systemctl stop"),
            ("record vtcon", "echo 0 > \"$bind\""),
            ("record framebuffer", "/unbind\""),
            ("record module", "modprobe -r"),
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
