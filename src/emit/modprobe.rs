//! `/etc/modprobe.d/passplan-vfio.conf`: vfio-pci options and softdeps for devices bound at
//! boot, and the per-address override script for ids that would also catch host devices.
//!
//! Only for a modular vfio-pci: when it is built into the kernel, modprobe options do nothing
//! (FACTS §2) and `vfio-pci.ids=` goes on the kernel command line instead (`kernel.rs`).
//! One `options` line, never several: only one of several `options vfio-pci ids=` wins.

use std::fmt::Write as _;

use super::{managed_header, origin};
use crate::desired::{Artifact, CompileError, Desired, Input, Ownership, Trigger};
use crate::emit::binding::{BootBinding, boot_binding, ids_value};
use crate::host::VfioPci;
use crate::spec::BindTime;

/// The modprobe configuration passplan owns.
pub const MODPROBE_FILE: &str = "/etc/modprobe.d/passplan-vfio.conf";
/// The per-address override script (POSIX sh: it also runs inside initramfs images).
pub const OVERRIDE_SCRIPT: &str = "/etc/passplan/vfio-override.sh";

/// Where the boot-bound devices were declared, for headers.
pub(crate) fn origins(input: &Input<'_>) -> Vec<String> {
    input
        .checked
        .spec
        .devices
        .iter()
        .filter(|d| d.bind.value.when == BindTime::Boot && d.is_guest())
        .map(|d| {
            let kind = if d.is_gpu { "gpu" } else { "device" };
            format!("{} (binds at boot)", origin::node(kind, &d.name.value))
        })
        // Sorted, so that reordering the spec's devices changes nothing.
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Add the modprobe file (modular vfio-pci) and the override script (any per-address binding).
pub fn emit(input: &Input<'_>, out: &mut Desired) -> Result<(), CompileError> {
    let cx = input.checked.context();
    let binding = boot_binding(&cx);
    if binding.is_empty() {
        return Ok(());
    }
    let origins = origins(input);
    let builtin = input.checked.host.vfio_pci == VfioPci::BuiltIn;
    if !binding.by_address.is_empty() {
        out.artifacts.push(Artifact {
            path: OVERRIDE_SCRIPT.to_owned(),
            content: override_script(&binding, &origins),
            mode: 0o755,
            ownership: Ownership::Owned,
            triggers: vec![Trigger::Initramfs, Trigger::Reboot],
            reason: format!(
                "bind {} to vfio-pci by address: their ids also match devices the host keeps",
                list(&binding)
            ),
        });
    }
    if builtin {
        // kernel.rs puts the ids on the command line and says so.
        return Ok(());
    }
    out.artifacts.push(Artifact {
        path: MODPROBE_FILE.to_owned(),
        content: modprobe_conf(&binding, &origins),
        mode: 0o644,
        ownership: Ownership::Owned,
        triggers: vec![Trigger::Initramfs, Trigger::Reboot],
        reason: "vfio-pci must claim the boot-bound devices before their host drivers load"
            .to_owned(),
    });
    Ok(())
}

fn list(binding: &BootBinding) -> String {
    binding
        .by_address
        .iter()
        .map(crate::model::PciAddress::short)
        .collect::<Vec<_>>()
        .join(", ")
}

fn modprobe_conf(binding: &BootBinding, origins: &[String]) -> String {
    let mut text = managed_header(origins);
    if !binding.ids.is_empty() {
        let _ = writeln!(text, "options vfio-pci ids={}", ids_value(&binding.ids));
    }
    if !binding.by_address.is_empty() {
        // Set driver_override for the listed addresses just before vfio-pci loads; the softdeps
        // below make vfio-pci load before the host drivers could claim them.
        let _ = writeln!(
            text,
            "install vfio-pci /bin/sh {OVERRIDE_SCRIPT}; /sbin/modprobe --ignore-install vfio-pci $CMDLINE_OPTS"
        );
    }
    for driver in &binding.drivers {
        let _ = writeln!(text, "softdep {driver} pre: vfio-pci");
    }
    text
}

fn override_script(binding: &BootBinding, origins: &[String]) -> String {
    let mut text = String::from("#!/bin/sh\n");
    text.push_str(&managed_header(origins));
    text.push_str("# Binds these PCI functions to vfio-pci by address (driver_override), for devices whose\n# vendor:device id the host also uses elsewhere. Runs from modprobe and inside the initramfs.\n");
    text.push_str("sysfs=\"${PASSPLAN_SYSFS:-/sys}\"\n");
    text.push_str("set --");
    for a in &binding.by_address {
        // Addresses are validated PciAddress values (hex digits, ':' and '.'): quoting is for form.
        let _ = write!(text, " '{a}'");
    }
    text.push_str("\nfor dev in \"$@\"; do\n");
    text.push_str("    path=\"$sysfs/bus/pci/devices/$dev\"\n");
    text.push_str("    [ -e \"$path\" ] || continue\n");
    text.push_str("    echo vfio-pci > \"$path/driver_override\"\n");
    text.push_str("    if [ -e \"$path/driver\" ]; then\n");
    text.push_str("        echo \"$dev\" > \"$path/driver/unbind\" || true\n");
    text.push_str("    fi\n");
    text.push_str("    echo \"$dev\" > \"$sysfs/bus/pci/drivers_probe\" 2>/dev/null || true\n");
    text.push_str("done\n");
    text.push_str("exit 0\n");
    text
}
