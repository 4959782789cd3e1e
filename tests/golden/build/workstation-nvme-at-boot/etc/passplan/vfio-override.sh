#!/bin/sh
# Managed by passplan — do not edit; changes are overwritten.
# From device "guest-nvme" (binds at boot)
# Binds these PCI functions to vfio-pci by address (driver_override), for devices whose
# vendor:device id the host also uses elsewhere. Runs from modprobe and inside the initramfs.
sysfs="${PASSPLAN_SYSFS:-/sys}"
set -- '0000:04:00.0'
for dev in "$@"; do
    path="$sysfs/bus/pci/devices/$dev"
    [ -e "$path" ] || continue
    echo vfio-pci > "$path/driver_override"
    if [ -e "$path/driver" ]; then
        echo "$dev" > "$path/driver/unbind" || true
    fi
    echo "$dev" > "$sysfs/bus/pci/drivers_probe" 2>/dev/null || true
done
exit 0
