//! Initramfs configuration for devices bound at boot: vfio-pci must be in the image and load
//! before the GPU drivers that are also there. One file per generator (FACTS §2):
//! initramfs-tools (`/etc/initramfs-tools/modules`, plus a hook that copies the override
//! script), dracut and mkinitcpio (drop-ins passplan owns), booster (`modules_force_load` in
//! `/etc/booster.yaml`). Each comes with the command that regenerates the images.

use std::fmt::Write as _;

use super::managed_header;
use super::modprobe::{MODPROBE_FILE, OVERRIDE_SCRIPT, origins};
use crate::desired::{Artifact, CompileError, Desired, Input, Ownership, Step, Trigger};
use crate::emit::binding::boot_binding;
use crate::host::{Initramfs, VfioPci};
use crate::spec::InitramfsChoice;

/// The line above the modules passplan adds to `/etc/initramfs-tools/modules`, by which it
/// finds them again to take them out.
const MODULES_MARKER: &str = "# vfio-pci for devices bound at boot (added by passplan)";

/// The modules vfio-pci needs, in load order.
const MODULES: [&str; 3] = ["vfio", "vfio_iommu_type1", "vfio_pci"];

/// Add the generator's configuration and its regeneration step.
pub fn emit(input: &Input<'_>, out: &mut Desired) -> Result<(), CompileError> {
    let host = &input.checked.host;
    let cx = input.checked.context();
    let binding = boot_binding(&cx);
    let generator = match input
        .checked
        .spec
        .host
        .boot
        .initramfs
        .as_ref()
        .map(|g| g.value)
    {
        Some(InitramfsChoice::InitramfsTools) => Some(Initramfs::InitramfsTools),
        Some(InitramfsChoice::Dracut) => Some(Initramfs::Dracut),
        Some(InitramfsChoice::Mkinitcpio) => Some(Initramfs::Mkinitcpio),
        Some(InitramfsChoice::Booster) => Some(Initramfs::Booster),
        None => host.boot.initramfs,
    };
    if binding.is_empty() {
        // Nothing binds at boot (any more): take passplan's lines back out of the files it
        // edits, and keep the regeneration step, so that removing passplan's files (or those
        // lines) rebuilds an initramfs that no longer binds anything. A step runs only when a
        // change sets it off.
        if let Some(generator) = generator {
            unbind(generator, host, out);
        }
        return Ok(());
    }
    let Some(generator) = generator else {
        out.notes.push("no initramfs generator recognised: vfio-pci is not added to the initramfs; if your GPU driver loads from it, add vfio_pci there by hand".to_owned());
        return Ok(());
    };
    let origins = origins(input);
    let builtin = host.vfio_pci == VfioPci::BuiltIn;
    let modules = modules_for(host.kernel_release.as_deref());
    let per_address = !binding.by_address.is_empty();
    let reason = "vfio-pci must be in the initramfs, before the GPU drivers it holds".to_owned();
    let owned = |path: &str, content: String, mode: u32, reason: &str| Artifact {
        path: path.to_owned(),
        content,
        mode,
        ownership: Ownership::Owned,
        triggers: vec![Trigger::Initramfs, Trigger::Reboot],
        reason: reason.to_owned(),
    };
    match generator {
        Initramfs::InitramfsTools => {
            if !builtin {
                let path = "/etc/initramfs-tools/modules";
                let current = host.files.get(path).map_or("", String::as_str);
                out.artifacts.push(Artifact {
                    path: path.to_owned(),
                    content: add_module_lines(current, &modules),
                    mode: 0o644,
                    ownership: Ownership::Edited,
                    triggers: vec![Trigger::Initramfs, Trigger::Reboot],
                    reason,
                });
            }
            if per_address {
                let mut hook = String::from("#!/bin/sh\n");
                hook.push_str(&managed_header(&origins));
                hook.push_str("# Copies passplan's vfio-pci override script into the initramfs.\nPREREQ=\"\"\nprereqs() { echo \"$PREREQ\"; }\ncase \"$1\" in prereqs) prereqs; exit 0 ;; esac\n. /usr/share/initramfs-tools/hook-functions\n");
                let _ = writeln!(hook, "copy_file script '{OVERRIDE_SCRIPT}'");
                out.artifacts.push(owned(
                    "/etc/initramfs-tools/hooks/passplan-vfio",
                    hook,
                    0o755,
                    "put the vfio-pci override script in the initramfs",
                ));
                if builtin {
                    // A built-in vfio-pci never runs modprobe's install hook: set the override
                    // before udev probes the devices.
                    let mut top = String::from("#!/bin/sh\n");
                    top.push_str(&managed_header(&origins));
                    top.push_str("PREREQ=\"\"\nprereqs() { echo \"$PREREQ\"; }\ncase \"$1\" in prereqs) prereqs; exit 0 ;; esac\n");
                    let _ = writeln!(top, "/bin/sh '{OVERRIDE_SCRIPT}'");
                    out.artifacts.push(owned(
                        "/etc/initramfs-tools/scripts/init-top/passplan-vfio",
                        top,
                        0o755,
                        "bind devices to the built-in vfio-pci by address before udev probes them",
                    ));
                }
            }
            out.steps
                .push(regenerate(generator, "rebuild the initramfs with vfio-pci"));
        }
        Initramfs::Dracut => {
            let mut conf = managed_header(&origins);
            let _ = writeln!(conf, "force_drivers+=\" {} \"", modules.join(" "));
            let mut items = vec![MODPROBE_FILE];
            if per_address {
                items.push(OVERRIDE_SCRIPT);
            }
            if !builtin {
                // dracut copies /etc/modprobe.d only in host-only mode (FACTS §2).
                let _ = writeln!(conf, "install_items+=\" {} \"", items.join(" "));
            }
            out.artifacts.push(owned(
                "/etc/dracut.conf.d/passplan-vfio.conf",
                conf,
                0o644,
                &reason,
            ));
            if builtin && per_address {
                out.notes.push(early_override_unsupported("dracut"));
            }
            out.steps
                .push(regenerate(generator, "rebuild the initramfs with vfio-pci"));
        }
        Initramfs::Mkinitcpio => {
            let mut conf = managed_header(&origins);
            let _ = writeln!(conf, "MODULES+=({})", modules.join(" "));
            let mut files = vec![MODPROBE_FILE];
            if per_address {
                files.push(OVERRIDE_SCRIPT);
            }
            if !builtin {
                let _ = writeln!(conf, "FILES+=({})", files.join(" "));
            }
            out.artifacts.push(owned(
                "/etc/mkinitcpio.conf.d/passplan-vfio.conf",
                conf,
                0o644,
                &reason,
            ));
            if builtin && per_address {
                out.notes.push(early_override_unsupported("mkinitcpio"));
            }
            out.notes.push("mkinitcpio reads /etc/mkinitcpio.conf.d drop-ins since v36; older versions need MODULES in /etc/mkinitcpio.conf".to_owned());
            out.steps
                .push(regenerate(generator, "rebuild the initramfs with vfio-pci"));
        }
        Initramfs::Booster => {
            let path = "/etc/booster.yaml";
            let current = host.files.get(path).map_or("", String::as_str);
            out.artifacts.push(Artifact {
                path: path.to_owned(),
                content: booster_force_load(current, &modules),
                mode: 0o644,
                ownership: Ownership::Edited,
                triggers: vec![Trigger::Initramfs, Trigger::Reboot],
                reason,
            });
            out.notes.push(
                "booster reads modprobe options but not softdeps: vfio-pci is force-loaded instead"
                    .to_owned(),
            );
            if per_address {
                out.notes.push("booster cannot run the per-address override; those devices are bound when their VM starts".to_owned());
            }
            out.steps
                .push(regenerate(generator, "rebuild the initramfs with vfio-pci"));
        }
    }
    Ok(())
}

/// What a generator needs when nothing binds at boot: its regeneration step (for the removal
/// of passplan's files to set off), and the module lines passplan added taken out again.
fn unbind(generator: Initramfs, host: &crate::host::HostFacts, out: &mut Desired) {
    let reason = "nothing binds at boot any more: rebuild the initramfs without vfio-pci";
    // initramfs-tools is the generator whose file passplan edits rather than owns.
    let path = "/etc/initramfs-tools/modules";
    if generator == Initramfs::InitramfsTools
        && let Some(current) = host.files.get(path)
        && let Some(content) = remove_module_lines(current)
    {
        out.artifacts.push(Artifact {
            path: path.to_owned(),
            content,
            mode: 0o644,
            ownership: Ownership::Edited,
            triggers: vec![Trigger::Initramfs, Trigger::Reboot],
            reason: "take out the vfio-pci modules passplan added: nothing binds at boot"
                .to_owned(),
        });
    }
    out.steps.push(regenerate(generator, reason));
}

/// The text without the block [`add_module_lines`] appended (its marker line and the module
/// lines right after it); `None` when passplan's marker is not there.
fn remove_module_lines(current: &str) -> Option<String> {
    let lines: Vec<&str> = current.split_inclusive('\n').collect();
    let at = lines.iter().position(|l| l.trim_end() == MODULES_MARKER)?;
    let mut end = at + 1;
    while end < lines.len()
        && (MODULES.contains(&lines[end].trim()) || lines[end].trim() == "vfio_virqfd")
    {
        end += 1;
    }
    let mut text: String = lines[..at].concat();
    text.push_str(&lines[end..].concat());
    Some(text)
}

/// A built-in vfio-pci never runs modprobe's `install` hook, and passplan installs an early
/// override script only for initramfs-tools: say so instead of pretending.
fn early_override_unsupported(generator: &str) -> String {
    format!(
        "vfio-pci is built into this kernel and passplan has no early hook for {generator}: devices bound by address are bound when their VM starts (libvirt's managed detach), not at boot"
    )
}

/// The generator's command that rebuilds every installed kernel's initramfs.
fn regenerate(generator: Initramfs, reason: &str) -> Step {
    let argv: &[&str] = match generator {
        Initramfs::InitramfsTools => &["update-initramfs", "-u", "-k", "all"],
        Initramfs::Dracut => &["dracut", "-f", "--regenerate-all"],
        Initramfs::Mkinitcpio => &["mkinitcpio", "-P"],
        Initramfs::Booster => &["/usr/lib/booster/regenerate_images"],
    };
    Step {
        trigger: Trigger::Initramfs,
        argv: argv.iter().map(|s| (*s).to_owned()).collect(),
        reason: reason.to_owned(),
    }
}

/// The modules to load, with `vfio_virqfd` before kernel 6.2 (merged into `vfio` there).
fn modules_for(release: Option<&str>) -> Vec<&'static str> {
    let mut modules = MODULES.to_vec();
    let version = release.and_then(|r| {
        let mut parts = r.split(|c: char| !c.is_ascii_digit());
        Some((
            parts.next()?.parse::<u32>().ok()?,
            parts.next()?.parse::<u32>().ok()?,
        ))
    });
    if version.is_some_and(|v| v < (6, 2)) {
        modules.insert(2, "vfio_virqfd");
    }
    modules
}

/// Add each module as its own line when no line already names it; every other byte is kept.
fn add_module_lines(current: &str, modules: &[&str]) -> String {
    let present = |m: &str| {
        current
            .lines()
            .any(|l| l.split('#').next().unwrap_or("").split_whitespace().next() == Some(m))
    };
    let missing: Vec<&&str> = modules.iter().filter(|m| !present(m)).collect();
    if missing.is_empty() {
        return current.to_owned();
    }
    let mut text = current.to_owned();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(MODULES_MARKER);
    text.push('\n');
    for m in missing {
        text.push_str(m);
        text.push('\n');
    }
    text
}

/// Merge the modules into `modules_force_load:` (a comma list), adding the key when absent.
fn booster_force_load(current: &str, modules: &[&str]) -> String {
    let key = "modules_force_load:";
    let mut lines: Vec<String> = current.lines().map(str::to_owned).collect();
    if let Some(line) = lines.iter_mut().find(|l| l.trim_start().starts_with(key)) {
        let value = line.trim_start()[key.len()..].trim().to_owned();
        let mut list: Vec<String> = value
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        for m in modules {
            if !list.iter().any(|x| x == m) {
                list.push((*m).to_owned());
            }
        }
        *line = format!("{key} {}", list.join(","));
    } else {
        lines.push(format!("{key} {}", modules.join(",")));
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virqfd_only_before_6_2() {
        assert_eq!(
            modules_for(Some("6.1.0-18-amd64")),
            ["vfio", "vfio_iommu_type1", "vfio_virqfd", "vfio_pci"]
        );
        assert_eq!(
            modules_for(Some("6.8.0-31-generic")),
            ["vfio", "vfio_iommu_type1", "vfio_pci"]
        );
        assert_eq!(modules_for(None), ["vfio", "vfio_iommu_type1", "vfio_pci"]);
    }

    #[test]
    fn module_lines_keep_everything_else_and_are_idempotent() {
        let current = "# List of modules\n# vfio\nloop\nvfio_pci  # already\n";
        let once = add_module_lines(current, &MODULES);
        assert!(once.starts_with(current), "existing bytes kept");
        assert_eq!(
            once.matches("\nvfio_pci").count(),
            1,
            "vfio_pci not added twice"
        );
        assert!(once.ends_with("vfio\nvfio_iommu_type1\n"));
        assert_eq!(add_module_lines(&once, &MODULES), once, "idempotent");
        assert_eq!(
            add_module_lines("loop", &["vfio"]),
            "loop\n# vfio-pci for devices bound at boot (added by passplan)\nvfio\n"
        );
    }

    #[test]
    fn booster_merges_the_force_load_list() {
        let current = "compress: zstd\nmodules_force_load: nvme,vfio\n";
        let merged = booster_force_load(current, &MODULES);
        assert_eq!(
            merged,
            "compress: zstd\nmodules_force_load: nvme,vfio,vfio_iommu_type1,vfio_pci\n"
        );
        assert_eq!(booster_force_load(&merged, &MODULES), merged);
        assert_eq!(
            booster_force_load("", &["vfio"]),
            "modules_force_load: vfio\n"
        );
    }
}

#[cfg(test)]
mod unbind_tests {
    use super::*;

    #[test]
    fn the_lines_passplan_added_come_out_and_nothing_else() {
        let user = "# /etc/initramfs-tools/modules\nvfio\nnvme\n";
        let added = add_module_lines(user, &["vfio", "vfio_iommu_type1", "vfio_pci"]);
        assert!(added.contains(MODULES_MARKER) && added.contains("vfio_pci\n"));
        assert_eq!(remove_module_lines(&added).as_deref(), Some(user));
        assert_eq!(remove_module_lines(user), None, "no marker: not passplan's");
        let later = format!("{added}zfs\n");
        assert_eq!(
            remove_module_lines(&later).as_deref(),
            Some("# /etc/initramfs-tools/modules\nvfio\nnvme\nzfs\n"),
            "a line the user added after the block stays"
        );
    }
}
