#!/bin/sh
# Managed by passplan — do not edit; changes are overwritten.
# From gpu "gtx970" (binds at boot)
# Binds these PCI functions to vfio-pci by address (driver_override), for devices whose
# vendor:device id the host also uses elsewhere. Runs from modprobe and inside the initramfs.
sysfs="${PASSPLAN_SYSFS:-/sys}"
set -- '0000:06:00.0' '0000:06:00.1'
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
