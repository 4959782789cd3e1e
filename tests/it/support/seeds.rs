//! The seed hosts: one [`FakeHost`] constructor per setup described by the seed tutorials,
//! filled in from the seeds and the real-world listings in `shared/realworld/`.
//!
//! | constructor | seed | machine |
//! |---|---|---|
//! | [`workstation`] | 002 | Ryzen 9 3900X, X570 Aorus Pro Wifi, RX 5700 host + RTX 3080 guest, two 970 EVO Plus, Pop!_OS 20.10 |
//! | [`seed001`] | 001 | i7-8700K, ROG Strix Z370-E, UHD 630 + RX 590 host, RTX 2080 Ti guest, Pop!_OS 19.10 |
//! | [`seed003`] | 003 | Xeon E3-1245 v2, 7-series chipset, HD P4000 host, GTX 970 guest, Debian 12 + GRUB (BIOS boot) |
//! | [`seed004`] | 004 | Ryzen 7 5800X3D, mini-ITX B550, single RTX 3080 Ti, Ubuntu 22.04 + systemd-boot |
//!
//! Addresses, ids and groups follow the seeds and listings; everything else (subsystem ids,
//! serial numbers, UUIDs, partition sizes) is invented but kept consistent within each host.
//! Each PCI table is one row per function:
//! `(address, parent bridge, vendor, device, class, driver, IOMMU group)`.

use std::fmt::Write as _;

use super::tree::{
    FakeBlock, FakeCaches, FakeCpu, FakeCpuFreq, FakeCpuInfo, FakeHost, FakeHugePool, FakeMemory,
    FakeMount, FakeNode, FakePartition, FakePci, FakeUsb, FakeVfioPci, FakeVtConsole,
};

/// One PCI table row: `(address, parent, vendor, device, class, driver, group)`; `""` for
/// no parent / no driver. Addresses are short (`0d:00.0`), domain 0000 implied.
type Row = (&'static str, &'static str, u16, u16, u32, &'static str, u32);

/// `0d:00.0` → `0000:0d:00.0`; full addresses pass through.
pub fn bdf(address: &str) -> String {
    super::tree::full_address(address)
}

/// PCI functions from table rows. Every function gets the board's subsystem id (cards are
/// overridden afterwards), `numa_node` -1, and `boot_vga` 0 when it is VGA class.
fn pci_table(board: (u16, u16), rows: &[Row]) -> Vec<FakePci> {
    rows.iter()
        .map(
            |&(address, parent, vendor, device, class, driver, group)| FakePci {
                address: bdf(address),
                parent: (!parent.is_empty()).then(|| bdf(parent)),
                vendor,
                device,
                subsystem: Some(board),
                class,
                revision: 0,
                driver: (!driver.is_empty()).then(|| driver.to_owned()),
                driver_override: None,
                boot_vga: (class >> 8 == 0x0300).then_some(false),
                numa_node: -1,
                group: Some(group),
                drm_card: None,
            },
        )
        .collect()
}

/// Sets subsystem ids and revisions of add-in cards: `(address, (svid, sdid), revision)`.
fn cards(host: &mut FakeHost, cards: &[(&str, (u16, u16), u8)]) {
    for &(address, subsystem, revision) in cards {
        let dev = host.pci_mut(&bdf(address));
        dev.subsystem = Some(subsystem);
        dev.revision = revision;
    }
}

/// CPUs of a single-package SMT (or not) part: core `c` runs CPU `c` and, with SMT, CPU
/// `c + cores`. `l3` lists the core ids of each L3 domain. All on NUMA node 0.
fn smt_cpus(cores: u32, smt: bool, l3: &[&[u32]]) -> Vec<FakeCpu> {
    let threads = if smt { 2 } else { 1 };
    let cpus_of = |core: u32| -> Vec<u32> { (0..threads).map(|t| core + t * cores).collect() };
    (0..cores * threads)
        .map(|id| {
            let core = id % cores;
            let domain = l3.iter().find(|d| d.contains(&core));
            FakeCpu {
                id,
                online: true,
                package: 0,
                die: 0,
                core,
                siblings: cpus_of(core),
                l3: domain.map(|d| {
                    let mut cpus: Vec<u32> = d.iter().flat_map(|c| cpus_of(*c)).collect();
                    cpus.sort_unstable();
                    cpus
                }),
                node: Some(0),
            }
        })
        .collect()
}

/// 32 GiB of RAM with 2 MiB and 1 GiB hugepage sizes, nothing reserved.
fn memory_32g(total_kb: u64) -> FakeMemory {
    FakeMemory {
        total_kb,
        free_kb: total_kb * 8 / 10,
        available_kb: total_kb * 9 / 10,
        hugepage_default_kb: 2048,
        hugepages: vec![
            FakeHugePool {
                size_kb: 2048,
                total: 0,
                free: 0,
            },
            FakeHugePool {
                size_kb: 1_048_576,
                total: 0,
                free: 0,
            },
        ],
    }
}

/// The single NUMA node of a desktop.
fn node0(memory: &FakeMemory) -> Vec<FakeNode> {
    vec![FakeNode {
        id: 0,
        mem_total_kb: memory.total_kb,
        mem_free_kb: memory.free_kb,
    }]
}

/// A mount with the options a default install uses for `fstype`.
fn mnt(path: &str, fstype: &str) -> FakeMount {
    let (options, super_options) = match fstype {
        "vfat" => (
            "rw,relatime",
            "rw,fmask=0077,dmask=0077,codepage=437,iocharset=iso8859-1,shortname=mixed,errors=remount-ro",
        ),
        _ => ("rw,relatime", "rw,errors=remount-ro"),
    };
    FakeMount {
        path: path.to_owned(),
        fstype: fstype.to_owned(),
        options: options.to_owned(),
        super_options: super_options.to_owned(),
    }
}

/// A partition: `(number, start, sectors)` plus its mount and swap flag.
fn part(
    number: u32,
    start: u64,
    sectors: u64,
    mount: Option<FakeMount>,
    swap: bool,
) -> FakePartition {
    FakePartition {
        number,
        start,
        sectors,
        mount,
        swap,
    }
}

/// A Windows guest disk layout (ESP, MSR, NTFS, recovery), nothing mounted on the host.
fn windows_partitions(total: u64) -> Vec<FakePartition> {
    let recovery = 1_048_576;
    let data_start = 239_616;
    let data = (total - data_start - recovery - 4096) / 2048 * 2048;
    vec![
        part(1, 2048, 204_800, None, false),
        part(2, 206_848, 32_768, None, false),
        part(3, data_start, data, None, false),
        part(4, data_start + data, recovery, None, false),
    ]
}

/// Pop!_OS's default layout: ESP, recovery, root, swap at the end.
fn popos_partitions(total: u64) -> Vec<FakePartition> {
    let swap = 8_388_608;
    let swap_start = (total - swap - 4096) / 2048 * 2048;
    vec![
        part(1, 4096, 1_046_528, Some(mnt("/boot/efi", "vfat")), false),
        part(
            2,
            1_050_624,
            8_388_608,
            Some(mnt("/recovery", "vfat")),
            false,
        ),
        part(
            3,
            9_439_232,
            swap_start - 9_439_232,
            Some(mnt("/", "ext4")),
            false,
        ),
        part(4, swap_start, swap, None, true),
    ]
}

/// Sectors of a 500 GB and a 1 TB drive.
const SECTORS_500G: u64 = 976_773_168;
const SECTORS_1T: u64 = 1_953_525_168;

/// An `NVMe` namespace with its `by-id` names.
fn nvme(
    name: &str,
    pci: &str,
    sectors: u64,
    model: &str,
    serial: &str,
    partitions: Vec<FakePartition>,
) -> FakeBlock {
    let id_model = model.replace(' ', "_");
    FakeBlock {
        name: name.to_owned(),
        pci: bdf(pci),
        sectors,
        model: model.to_owned(),
        serial: serial.to_owned(),
        by_id: vec![format!("nvme-{id_model}_{serial}")],
        partitions,
        mount: None,
        swap: false,
    }
}

/// The two root hubs an xHCI controller registers (USB 2 bus, then USB 3 bus).
fn root_hubs(controller: &str, usb2_bus: u32, release: &str) -> Vec<FakeUsb> {
    [(usb2_bus, 0x0002), (usb2_bus + 1, 0x0003)]
        .into_iter()
        .map(|(bus, product)| FakeUsb {
            name: format!("usb{bus}"),
            controller: bdf(controller),
            vendor: 0x1d6b,
            product,
            product_name: Some("xHCI Host Controller".into()),
            manufacturer: Some(format!("Linux {release} xhci-hcd")),
            devnum: 1,
        })
        .collect()
}

/// A USB device plugged into a port.
fn usb_device(
    name: &str,
    controller: &str,
    id: (u16, u16),
    product: &str,
    maker: &str,
    devnum: u32,
) -> FakeUsb {
    FakeUsb {
        name: name.to_owned(),
        controller: bdf(controller),
        vendor: id.0,
        product: id.1,
        product_name: Some(product.to_owned()),
        manufacturer: Some(maker.to_owned()),
        devnum,
    }
}

/// The usual two virtual consoles: the dummy console and fbcon bound to the framebuffer.
fn vtconsoles() -> Vec<FakeVtConsole> {
    vec![
        FakeVtConsole {
            name: "(S) dummy device".into(),
            bind: false,
        },
        FakeVtConsole {
            name: "(M) frame buffer device".into(),
            bind: true,
        },
    ]
}

/// Adds a text file.
fn text(host: &mut FakeHost, path: &str, content: &str) {
    host.set_file(path, content.as_bytes().to_vec());
}

/// Adds an empty executable (a tool whose presence discovery may probe).
fn tool(host: &mut FakeHost, path: &str) {
    host.executables
        .insert(path.trim_start_matches('/').to_owned());
}

/// `/etc/os-release` as the symlink into `/usr/lib/os-release` that distributions ship.
fn os_release(host: &mut FakeHost, content: &str) {
    text(host, "usr/lib/os-release", content);
    host.links
        .insert("etc/os-release".into(), "../usr/lib/os-release".into());
}

/// initramfs-tools as installed: the `modules` list (comments only) and its generator.
fn initramfs_tools(host: &mut FakeHost) {
    text(
        host,
        "etc/initramfs-tools/modules",
        "# List of modules that you want to include in your initramfs.\n\
         # They will be loaded at boot time in the order below.\n\
         #\n\
         # Syntax:  module_name [args ...]\n\
         #\n\
         # You must run update-initramfs(8) to effect this change.\n\
         #\n\
         # Examples:\n\
         #\n\
         # raid1\n\
         # sd_mod\n",
    );
    text(
        host,
        "etc/initramfs-tools/initramfs.conf",
        "#\n# initramfs.conf\n# Configuration file for mkinitramfs(8). See initramfs.conf(5).\n#\n\
         \n\
         MODULES=most\n\
         BUSYBOX=auto\n\
         COMPRESS=zstd\n",
    );
    tool(host, "usr/sbin/update-initramfs");
    host.dirs.insert("etc/modprobe.d".into());
}

/// Pop!_OS kernelstub: `/etc/kernelstub/configuration` (`config_rev` 3, `default` and `user`),
/// the kernelstub binary, and the systemd-boot files it writes on the ESP.
fn kernelstub(host: &mut FakeHost, root_uuid: &str, user_options: &[&str]) {
    let list = |options: &[&str]| {
        options
            .iter()
            .map(|o| format!("      \"{o}\""))
            .collect::<Vec<_>>()
            .join(",\n")
    };
    let section = |options: &[&str], setup: bool, manage: bool| {
        format!(
            "{{\n    \"kernel_options\": [\n{}\n    ],\n    \"esp_path\": \"/boot/efi\",\n    \
             \"setup_loader\": {setup},\n    \"manage_mode\": {manage},\n    \
             \"force_update\": false,\n    \"live_mode\": false,\n    \"config_rev\": 3\n  }}",
            list(options)
        )
    };
    let defaults = ["quiet", "loglevel=0", "systemd.show_status=false", "splash"];
    text(
        host,
        "etc/kernelstub/configuration",
        &format!(
            "{{\n  \"default\": {},\n  \"user\": {}\n}}",
            section(&defaults, false, false),
            section(user_options, true, true)
        ),
    );
    tool(host, "usr/bin/kernelstub");
    text(
        host,
        "boot/efi/loader/loader.conf",
        "default Pop_OS-current\n",
    );
    text(
        host,
        "boot/efi/loader/entries/Pop_OS-current.conf",
        &format!(
            "## This is just an example config file.\n\
             ## Please edit the paths and kernel parameters according to your system.\n\
             \n\
             title Pop!_OS\n\
             linux /EFI/Pop_OS-{root_uuid}/vmlinuz.efi\n\
             initrd /EFI/Pop_OS-{root_uuid}/initrd.img\n\
             options root=UUID={root_uuid} ro {}\n",
            user_options.join(" ")
        ),
    );
    // kernelstub also leaves the command line beside the kernel it copies to the ESP.
    text(
        host,
        &format!("boot/efi/EFI/Pop_OS-{root_uuid}/cmdline"),
        &format!("root=UUID={root_uuid} ro {}", user_options.join(" ")),
    );
    host.cmdline = format!(
        "initrd=\\EFI\\Pop_OS-{root_uuid}\\initrd.img root=UUID={root_uuid} ro {}",
        user_options.join(" ")
    );
}

const ZEN2_FLAGS: &str = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid aperfmperf pni pclmulqdq monitor ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw ibs skinit wdt tce topoext perfctr_core perfctr_nb bpext perfctr_llc mwaitx cpb cat_l3 cdp_l3 hw_pstate sme ssbd mba sev ibpb stibp vmmcall fsgsbase bmi1 avx2 smep bmi2 cqm rdt_a rdseed adx smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local clzero irperf xsaveerptr wbnoinvd arat npt lbrv svm_lock nrip_save tsc_scale vmcb_clean flushbyasid decodeassists pausefilter pfthreshold avic v_vmsave_vmload vgif umip rdpid overflow_recov succor smca";
const ZEN3_FLAGS: &str = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid aperfmperf rapl pni pclmulqdq monitor ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw ibs skinit wdt tce topoext perfctr_core perfctr_nb bpext perfctr_llc mwaitx cpb cat_l3 cdp_l3 hw_pstate ssbd mba ibrs ibpb stibp vmmcall fsgsbase bmi1 avx2 smep bmi2 erms invpcid cqm rdt_a rdseed adx smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local clzero irperf xsaveerptr rdpru wbnoinvd arat npt lbrv svm_lock nrip_save tsc_scale vmcb_clean flushbyasid decodeassists pausefilter pfthreshold avic v_vmsave_vmload vgif v_spec_ctrl umip pku ospke vaes vpclmulqdq rdpid overflow_recov succor smca fsrm";
const COFFEE_LAKE_FLAGS: &str = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid aperfmperf pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch cpuid_fault epb invpcid_single pti ssbd ibrs ibpb stibp tpr_shadow vnmi flexpriority ept vpid ept_ad fsgsbase tsc_adjust bmi1 hle avx2 smep bmi2 erms invpcid rtm mpx rdseed adx smap clflushopt intel_pt xsaveopt xsavec xgetbv1 xsaves dtherm ida arat pln pts hwp hwp_notify hwp_act_window hwp_epp md_clear flush_l1d";
const IVY_BRIDGE_FLAGS: &str = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx rdtscp lm constant_tsc arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid aperfmperf pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 cx16 xtpr pdcm pcid sse4_1 sse4_2 x2apic popcnt tsc_deadline_timer aes xsave avx f16c rdrand lahf_lm cpuid_fault epb pti ssbd ibrs ibpb stibp tpr_shadow vnmi flexpriority ept vpid fsgsbase smep erms xsaveopt dtherm ida arat pln pts md_clear flush_l1d";

/// Seed 002, the main example: Ryzen 9 3900X on a Gigabyte X570 Aorus Pro Wifi (board layout
/// from the joe-p listing of the same board and CPU), RX 5700 for the host behind its on-card
/// Navi switch (so VGA and audio sit in groups 30 and 31), RTX 3080 for the guest (group 32,
/// four functions), two identical Samsung 970 EVO Plus (`144d:a808`): host `01:00.0` holds
/// `/`, `/boot/efi` and swap, guest `04:00.0` holds Windows. Pop!_OS 20.10 with kernelstub.
pub fn workstation() -> FakeHost {
    const RELEASE: &str = "5.8.0-7642-generic";
    const ROOT_UUID: &str = "9c4f6a3e-1d2b-4e87-a5f0-3b8d7c6e2a14";
    let mut host = FakeHost::default();

    #[rustfmt::skip]
    let rows: &[Row] = &[
        ("00:00.0", "",        0x1022, 0x1480, 0x06_0000, "",              0),
        ("00:00.2", "",        0x1022, 0x1481, 0x08_0600, "",              0),
        ("00:01.0", "",        0x1022, 0x1482, 0x06_0000, "",              0),
        ("00:01.1", "",        0x1022, 0x1483, 0x06_0400, "pcieport",      1),
        ("00:01.2", "",        0x1022, 0x1483, 0x06_0400, "pcieport",      2),
        ("00:02.0", "",        0x1022, 0x1482, 0x06_0000, "",              3),
        ("00:03.0", "",        0x1022, 0x1482, 0x06_0000, "",              4),
        ("00:03.1", "",        0x1022, 0x1483, 0x06_0400, "pcieport",      5),
        ("00:03.2", "",        0x1022, 0x1483, 0x06_0400, "pcieport",      6),
        ("00:04.0", "",        0x1022, 0x1482, 0x06_0000, "",              7),
        ("00:05.0", "",        0x1022, 0x1482, 0x06_0000, "",              8),
        ("00:07.0", "",        0x1022, 0x1482, 0x06_0000, "",              9),
        ("00:07.1", "",        0x1022, 0x1484, 0x06_0400, "pcieport",      10),
        ("00:08.0", "",        0x1022, 0x1482, 0x06_0000, "",              11),
        ("00:08.1", "",        0x1022, 0x1484, 0x06_0400, "pcieport",      12),
        ("00:08.2", "",        0x1022, 0x1484, 0x06_0400, "pcieport",      13),
        ("00:08.3", "",        0x1022, 0x1484, 0x06_0400, "pcieport",      14),
        ("00:14.0", "",        0x1022, 0x790b, 0x0c_0500, "piix4_smbus",   15),
        ("00:14.3", "",        0x1022, 0x790e, 0x06_0100, "",              15),
        ("00:18.0", "",        0x1022, 0x1440, 0x06_0000, "",              16),
        ("00:18.1", "",        0x1022, 0x1441, 0x06_0000, "",              16),
        ("00:18.2", "",        0x1022, 0x1442, 0x06_0000, "",              16),
        ("00:18.3", "",        0x1022, 0x1443, 0x06_0000, "k10temp",       16),
        ("00:18.4", "",        0x1022, 0x1444, 0x06_0000, "",              16),
        ("00:18.5", "",        0x1022, 0x1445, 0x06_0000, "",              16),
        ("00:18.6", "",        0x1022, 0x1446, 0x06_0000, "",              16),
        ("00:18.7", "",        0x1022, 0x1447, 0x06_0000, "",              16),
        // CPU M.2 slot: the host's disk.
        ("01:00.0", "00:01.1", 0x144d, 0xa808, 0x01_0802, "nvme",          17),
        // X570 chipset behind 00:01.2.
        ("02:00.0", "00:01.2", 0x1022, 0x57ad, 0x06_0400, "pcieport",      18),
        ("03:01.0", "02:00.0", 0x1022, 0x57a3, 0x06_0400, "pcieport",      19),
        ("03:02.0", "02:00.0", 0x1022, 0x57a3, 0x06_0400, "pcieport",      20),
        ("03:03.0", "02:00.0", 0x1022, 0x57a3, 0x06_0400, "pcieport",      21),
        ("03:08.0", "02:00.0", 0x1022, 0x57a4, 0x06_0400, "pcieport",      22),
        ("03:09.0", "02:00.0", 0x1022, 0x57a4, 0x06_0400, "pcieport",      23),
        ("03:0a.0", "02:00.0", 0x1022, 0x57a4, 0x06_0400, "pcieport",      24),
        // Chipset M.2 slot: the guest's disk, same model as the host's.
        ("04:00.0", "03:01.0", 0x144d, 0xa808, 0x01_0802, "nvme",          25),
        ("05:00.0", "03:02.0", 0x8086, 0x2723, 0x02_8000, "iwlwifi",       26),
        ("06:00.0", "03:03.0", 0x8086, 0x1539, 0x02_0000, "igb",           27),
        ("07:00.0", "03:08.0", 0x1022, 0x1485, 0x13_0000, "",              22),
        ("07:00.1", "03:08.0", 0x1022, 0x149c, 0x0c_0330, "xhci_hcd",      22),
        ("07:00.3", "03:08.0", 0x1022, 0x149c, 0x0c_0330, "xhci_hcd",      22),
        ("08:00.0", "03:09.0", 0x1022, 0x7901, 0x01_0601, "ahci",          23),
        ("09:00.0", "03:0a.0", 0x1022, 0x7901, 0x01_0601, "ahci",          24),
        // RX 5700 (host) in the first x16 slot, behind the Navi 10 on-card switch.
        ("0a:00.0", "00:03.1", 0x1002, 0x1478, 0x06_0400, "pcieport",      28),
        ("0b:00.0", "0a:00.0", 0x1002, 0x1479, 0x06_0400, "pcieport",      29),
        ("0c:00.0", "0b:00.0", 0x1002, 0x731f, 0x03_0000, "amdgpu",        30),
        ("0c:00.1", "0b:00.0", 0x1002, 0xab38, 0x04_0300, "snd_hda_intel", 31),
        // RTX 3080 (guest) in the second x16 slot.
        ("0d:00.0", "00:03.2", 0x10de, 0x2206, 0x03_0000, "nvidia",        32),
        ("0d:00.1", "00:03.2", 0x10de, 0x1aef, 0x04_0300, "snd_hda_intel", 32),
        ("0d:00.2", "00:03.2", 0x10de, 0x1ada, 0x0c_0330, "xhci_hcd",      32),
        ("0d:00.3", "00:03.2", 0x10de, 0x1adb, 0x0c_8000, "nvidia-gpu",    32),
        // CPU-internal functions.
        ("0e:00.0", "00:07.1", 0x1022, 0x148a, 0x13_0000, "",              33),
        ("0f:00.0", "00:08.1", 0x1022, 0x1485, 0x13_0000, "",              34),
        ("0f:00.1", "00:08.1", 0x1022, 0x1486, 0x10_8000, "ccp",           35),
        ("0f:00.3", "00:08.1", 0x1022, 0x149c, 0x0c_0330, "xhci_hcd",      36),
        ("0f:00.4", "00:08.1", 0x1022, 0x1487, 0x04_0300, "snd_hda_intel", 37),
        ("10:00.0", "00:08.2", 0x1022, 0x7901, 0x01_0601, "ahci",          38),
        ("11:00.0", "00:08.3", 0x1022, 0x7901, 0x01_0601, "ahci",          39),
    ];
    host.pci = pci_table((0x1458, 0x1000), rows);
    cards(
        &mut host,
        &[
            ("01:00.0", (0x144d, 0xa801), 0x00),
            ("04:00.0", (0x144d, 0xa801), 0x00),
            ("05:00.0", (0x8086, 0x0084), 0x1a),
            ("06:00.0", (0x1458, 0xe000), 0x03),
            ("0a:00.0", (0x0000, 0x0000), 0xc4),
            ("0b:00.0", (0x0000, 0x0000), 0x00),
            ("0c:00.0", (0x1da2, 0xe411), 0xc4),
            ("0c:00.1", (0x1da2, 0xe411), 0x00),
            ("0d:00.0", (0x3842, 0x3897), 0xa1),
            ("0d:00.1", (0x3842, 0x3897), 0xa1),
            ("0d:00.2", (0x3842, 0x3897), 0xa1),
            ("0d:00.3", (0x3842, 0x3897), 0xa1),
        ],
    );
    host.pci_mut("0c:00.0").boot_vga = Some(true);
    host.pci_mut("0c:00.0").drm_card = Some(0);
    host.pci_mut("0d:00.0").drm_card = Some(1);

    host.cpuinfo = FakeCpuInfo {
        vendor_id: "AuthenticAMD".into(),
        family: 23,
        model: 113,
        model_name: "AMD Ryzen 9 3900X 12-Core Processor".into(),
        stepping: 0,
        microcode: "0x8701021".into(),
        mhz: "2200.000".into(),
        cache_size_kb: 512,
        cpuid_level: 16,
        flags: ZEN2_FLAGS.into(),
        bugs: "sysret_ss_attrs spectre_v1 spectre_v2 spec_store_bypass".into(),
        bogomips: "7585.73".into(),
        tlb_size: Some("3072 4K pages".into()),
        address_sizes: "43 bits physical, 48 bits virtual".into(),
        power_management: "ts ttp tm hwpstate cpb eff_freq_ro [13] [14]".into(),
    };
    // Four CCXs of three cores each, as the seed's `lscpu -e` shows (L3 ids 0-3).
    host.cpus = smt_cpus(
        12,
        true,
        &[&[0, 1, 2], &[3, 4, 5], &[6, 7, 8], &[9, 10, 11]],
    );
    host.caches = FakeCaches {
        l1d_kb: 32,
        l1i_kb: 32,
        l2_kb: 512,
        l3_kb: 16384,
    };
    host.cpufreq = Some(FakeCpuFreq {
        driver: "acpi-cpufreq".into(),
        available: [
            "conservative",
            "ondemand",
            "userspace",
            "powersave",
            "performance",
            "schedutil",
        ]
        .map(String::from)
        .to_vec(),
        governor: "ondemand".into(),
        overrides: std::collections::BTreeMap::new(),
        min_khz: 2_200_000,
        max_khz: 3_800_000,
    });
    host.memory = memory_32g(32_826_392);
    host.numa_nodes = node0(&host.memory);

    host.block = vec![
        nvme(
            "nvme0n1",
            "01:00.0",
            SECTORS_500G,
            "Samsung SSD 970 EVO Plus 500GB",
            "S4EVNX0N812345A",
            popos_partitions(SECTORS_500G),
        ),
        nvme(
            "nvme1n1",
            "04:00.0",
            SECTORS_1T,
            "Samsung SSD 970 EVO Plus 1TB",
            "S4EWNX0N901234B",
            windows_partitions(SECTORS_1T),
        ),
    ];

    host.usb = [
        root_hubs("07:00.1", 1, RELEASE),
        root_hubs("07:00.3", 3, RELEASE),
        root_hubs("0d:00.2", 5, RELEASE),
        root_hubs("0f:00.3", 7, RELEASE),
    ]
    .concat();
    host.usb.push(usb_device(
        "3-2",
        "07:00.3",
        (0x046d, 0xc52b),
        "USB Receiver",
        "Logitech",
        2,
    ));
    host.usb.push(usb_device(
        "7-1",
        "0f:00.3",
        (0x05e3, 0x0610),
        "USB2.1 Hub",
        "GenesysLogic",
        2,
    ));
    host.usb.push(usb_device(
        "7-1.4",
        "0f:00.3",
        (0x1532, 0x0084),
        "Razer DeathAdder V2",
        "Razer",
        3,
    ));

    host.kernel_release = RELEASE.into();
    host.vfio_pci = FakeVfioPci::BuiltIn;
    host.kvm = true;
    host.uefi = true;
    host.loader_info = Some("systemd-boot 246.6-1ubuntu1pop0~1604348735~20.10~e4a6f1b".into());
    host.vtconsoles = vtconsoles();
    kernelstub(
        &mut host,
        ROOT_UUID,
        &[
            "quiet",
            "loglevel=0",
            "systemd.show_status=false",
            "splash",
            "amd_iommu=on",
        ],
    );
    initramfs_tools(&mut host);
    os_release(
        &mut host,
        "NAME=\"Pop!_OS\"\nVERSION=\"20.10\"\nID=pop\nID_LIKE=\"ubuntu debian\"\n\
         PRETTY_NAME=\"Pop!_OS 20.10\"\nVERSION_ID=\"20.10\"\nHOME_URL=\"https://pop.system76.com\"\n\
         SUPPORT_URL=\"https://support.system76.com\"\nBUG_REPORT_URL=\"https://github.com/pop-os/pop/issues\"\n\
         PRIVACY_POLICY_URL=\"https://system76.com/privacy\"\nVERSION_CODENAME=groovy\n\
         UBUNTU_CODENAME=groovy\nLOGO=distributor-logo-pop-os\n",
    );
    host.pci_ids = Some(pci_ids_for(&host));
    host
}

/// Seed 001: i7-8700K on a ROG Strix Z370-E. The RTX 2080 Ti (guest) sits in the CPU's PEG
/// slot and shares group 1 with root port 00:01.0; the RX 590 (host, boot display) is in the
/// chipset x4 slot in a group of its own; the UHD 630 iGPU stays enabled. Two 970 EVO Plus
/// (same `144d:a808`): the guest's 1 TB probes first (`nvme0`), the host's 500 GB is `nvme1`.
/// Pop!_OS 19.10 (kernel 5.3: vfio-pci is a module, no `core_cpus_list` yet) with kernelstub.
pub fn seed001() -> FakeHost {
    const RELEASE: &str = "5.3.0-7625-generic";
    const ROOT_UUID: &str = "2105a9ac-da30-41ba-87a9-75437bae74c6";
    let mut host = FakeHost::default();

    #[rustfmt::skip]
    let rows: &[Row] = &[
        ("00:00.0", "",        0x8086, 0x3ec2, 0x06_0000, "skl_uncore",    0),
        ("00:01.0", "",        0x8086, 0x1901, 0x06_0400, "pcieport",      1),
        ("00:02.0", "",        0x8086, 0x3e92, 0x03_0000, "i915",          2),
        ("00:14.0", "",        0x8086, 0xa2af, 0x0c_0330, "xhci_hcd",      3),
        ("00:14.2", "",        0x8086, 0xa2b1, 0x11_8000, "",              3),
        ("00:16.0", "",        0x8086, 0xa2ba, 0x07_8000, "mei_me",        4),
        ("00:17.0", "",        0x8086, 0xa282, 0x01_0601, "ahci",          5),
        ("00:1b.0", "",        0x8086, 0xa2e7, 0x06_0400, "pcieport",      6),
        ("00:1c.0", "",        0x8086, 0xa290, 0x06_0400, "pcieport",      7),
        ("00:1c.4", "",        0x8086, 0xa294, 0x06_0400, "pcieport",      8),
        ("00:1d.0", "",        0x8086, 0xa298, 0x06_0400, "pcieport",      9),
        ("00:1f.0", "",        0x8086, 0xa2c9, 0x06_0100, "",              10),
        ("00:1f.2", "",        0x8086, 0xa2a1, 0x05_8000, "",              10),
        ("00:1f.3", "",        0x8086, 0xa2f0, 0x04_0300, "snd_hda_intel", 10),
        ("00:1f.4", "",        0x8086, 0xa2a3, 0x0c_0500, "i801_smbus",    10),
        ("00:1f.6", "",        0x8086, 0x15b8, 0x02_0000, "e1000e",        11),
        // RTX 2080 Ti (guest) in the PEG slot: same group as its root port.
        ("01:00.0", "00:01.0", 0x10de, 0x1e07, 0x03_0000, "nvidia",        1),
        ("01:00.1", "00:01.0", 0x10de, 0x10f7, 0x04_0300, "snd_hda_intel", 1),
        ("01:00.2", "00:01.0", 0x10de, 0x1ad6, 0x0c_0330, "xhci_hcd",      1),
        ("01:00.3", "00:01.0", 0x10de, 0x1ad7, 0x0c_8000, "nvidia-gpu",    1),
        // RX 590 (host) in the chipset x4 slot.
        ("02:00.0", "00:1b.0", 0x1002, 0x67df, 0x03_0000, "amdgpu",        12),
        ("02:00.1", "00:1b.0", 0x1002, 0xaaf0, 0x04_0300, "snd_hda_intel", 12),
        ("03:00.0", "00:1c.0", 0x1b21, 0x2142, 0x0c_0330, "xhci_hcd",      13),
        ("04:00.0", "00:1c.4", 0x144d, 0xa808, 0x01_0802, "nvme",          14),
        ("05:00.0", "00:1d.0", 0x144d, 0xa808, 0x01_0802, "nvme",          15),
    ];
    host.pci = pci_table((0x1043, 0x8694), rows);
    cards(
        &mut host,
        &[
            ("00:01.0", (0x1043, 0x8694), 0x0a),
            ("00:02.0", (0x1043, 0x8694), 0x00),
            ("01:00.0", (0x1043, 0x866a), 0xa1),
            ("01:00.1", (0x1043, 0x866a), 0xa1),
            ("01:00.2", (0x1043, 0x866a), 0xa1),
            ("01:00.3", (0x1043, 0x866a), 0xa1),
            ("02:00.0", (0x1da2, 0xe366), 0xe1),
            ("02:00.1", (0x1da2, 0xaaf0), 0x00),
            ("04:00.0", (0x144d, 0xa801), 0x00),
            ("05:00.0", (0x144d, 0xa801), 0x00),
        ],
    );
    host.pci_mut("00:00.0").driver = None;
    host.pci_mut("02:00.0").boot_vga = Some(true);
    host.pci_mut("02:00.0").drm_card = Some(0);
    host.pci_mut("00:02.0").drm_card = Some(1);
    host.pci_mut("01:00.0").drm_card = Some(2);

    host.cpuinfo = FakeCpuInfo {
        vendor_id: "GenuineIntel".into(),
        family: 6,
        model: 158,
        model_name: "Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz".into(),
        stepping: 10,
        microcode: "0xca".into(),
        mhz: "4300.012".into(),
        cache_size_kb: 12288,
        cpuid_level: 22,
        flags: COFFEE_LAKE_FLAGS.into(),
        bugs: "cpu_meltdown spectre_v1 spectre_v2 spec_store_bypass l1tf mds swapgs itlb_multihit"
            .into(),
        bogomips: "7399.70".into(),
        tlb_size: None,
        address_sizes: "39 bits physical, 48 bits virtual".into(),
        power_management: String::new(),
    };
    host.cpus = smt_cpus(6, true, &[&[0, 1, 2, 3, 4, 5]]);
    host.caches = FakeCaches {
        l1d_kb: 32,
        l1i_kb: 32,
        l2_kb: 256,
        l3_kb: 12288,
    };
    host.topology_core_cpus = false;
    host.cpufreq = Some(FakeCpuFreq {
        driver: "intel_pstate".into(),
        available: ["performance", "powersave"].map(String::from).to_vec(),
        governor: "powersave".into(),
        overrides: std::collections::BTreeMap::new(),
        min_khz: 800_000,
        max_khz: 4_700_000,
    });
    host.memory = memory_32g(32_795_420);
    host.numa_nodes = node0(&host.memory);

    host.block = vec![
        nvme(
            "nvme0n1",
            "04:00.0",
            SECTORS_1T,
            "Samsung SSD 970 EVO Plus 1TB",
            "S4EWNF0M712345K",
            windows_partitions(SECTORS_1T),
        ),
        nvme(
            "nvme1n1",
            "05:00.0",
            SECTORS_500G,
            "Samsung SSD 970 EVO Plus 500GB",
            "S4EVNF0M698765J",
            popos_partitions(SECTORS_500G),
        ),
    ];

    host.usb = [
        root_hubs("00:14.0", 1, RELEASE),
        root_hubs("03:00.0", 3, RELEASE),
        root_hubs("01:00.2", 5, RELEASE),
    ]
    .concat();
    host.usb.push(usb_device(
        "1-3",
        "00:14.0",
        (0x046d, 0xc52b),
        "USB Receiver",
        "Logitech",
        2,
    ));
    host.usb.push(usb_device(
        "1-4",
        "00:14.0",
        (0x0b05, 0x18f3),
        "AURA LED Controller",
        "AsusTek Computer Inc.",
        3,
    ));

    host.kernel_release = RELEASE.into();
    host.vfio_pci = FakeVfioPci::Module;
    host.kvm = true;
    host.uefi = true;
    host.loader_info = Some("systemd-boot 242".into());
    host.vtconsoles = vtconsoles();
    kernelstub(
        &mut host,
        ROOT_UUID,
        &[
            "quiet",
            "loglevel=0",
            "systemd.show_status=false",
            "splash",
            "intel_iommu=on",
        ],
    );
    initramfs_tools(&mut host);
    os_release(
        &mut host,
        "NAME=\"Pop!_OS\"\nVERSION=\"19.10\"\nID=pop\nID_LIKE=\"ubuntu debian\"\n\
         PRETTY_NAME=\"Pop!_OS 19.10\"\nVERSION_ID=\"19.10\"\nHOME_URL=\"https://system76.com/pop\"\n\
         SUPPORT_URL=\"https://support.system76.com\"\nBUG_REPORT_URL=\"https://github.com/pop-os/pop/issues\"\n\
         PRIVACY_POLICY_URL=\"https://system76.com/privacy\"\nVERSION_CODENAME=eoan\n\
         UBUNTU_CODENAME=eoan\n",
    );
    host.pci_ids = Some(pci_ids_for(&host));
    host
}

/// Seed 003: Xeon E3-1245 v2 on a 7-series (C216) board, groups from the seed's listing
/// (00:01.0 g1, 00:14.0 g2, 00:1a.0 g4, 00:1d.0 g10, GTX 970 + audio alone in g13, still on
/// nouveau). The HD P4000 iGPU drives the host; the seed's excerpt leaves no bus-0 group
/// number free for it, so it gets the first number after the listed ones. Debian 12 on a SATA
/// SSD, booted by GRUB in legacy BIOS mode; the guest's Samsung 970 EVO sits on an M.2 adapter
/// and is passed as a block device by its `by-id` name. vfio-pci is a module.
pub fn seed003() -> FakeHost {
    const RELEASE: &str = "6.1.0-18-amd64";
    const ROOT_UUID: &str = "5e0d3b7a-8c21-4f6e-9a4d-c1b2e3f40516";
    let mut host = FakeHost::default();

    #[rustfmt::skip]
    let rows: &[Row] = &[
        ("00:00.0", "",        0x8086, 0x0158, 0x06_0000, "ivb_uncore",    0),
        ("00:01.0", "",        0x8086, 0x0151, 0x06_0400, "pcieport",      1),
        ("00:02.0", "",        0x8086, 0x016a, 0x03_0000, "i915",          15),
        ("00:14.0", "",        0x8086, 0x1e31, 0x0c_0330, "xhci_hcd",      2),
        ("00:16.0", "",        0x8086, 0x1e3a, 0x07_8000, "mei_me",        3),
        ("00:1a.0", "",        0x8086, 0x1e2d, 0x0c_0320, "ehci-pci",      4),
        ("00:1b.0", "",        0x8086, 0x1e20, 0x04_0300, "snd_hda_intel", 5),
        ("00:1c.0", "",        0x8086, 0x1e10, 0x06_0400, "pcieport",      6),
        ("00:1c.4", "",        0x8086, 0x1e18, 0x06_0400, "pcieport",      7),
        ("00:1c.5", "",        0x8086, 0x1e1a, 0x06_0400, "pcieport",      8),
        ("00:1c.6", "",        0x8086, 0x1e1c, 0x06_0400, "pcieport",      9),
        ("00:1c.7", "",        0x8086, 0x1e1e, 0x06_0400, "pcieport",      16),
        ("00:1d.0", "",        0x8086, 0x1e26, 0x0c_0320, "ehci-pci",      10),
        ("00:1f.0", "",        0x8086, 0x1e53, 0x06_0100, "lpc_ich",       11),
        ("00:1f.2", "",        0x8086, 0x1e02, 0x01_0601, "ahci",          11),
        ("00:1f.3", "",        0x8086, 0x1e22, 0x0c_0500, "i801_smbus",    11),
        // Samsung 970 EVO on a PCIe M.2 adapter in the x4 slot.
        ("02:00.0", "00:1c.0", 0x144d, 0xa808, 0x01_0802, "nvme",          14),
        ("05:00.0", "00:1c.6", 0x10ec, 0x8168, 0x02_0000, "r8169",         12),
        // GTX 970 (guest) in the chipset x16 (x4 electrical) slot.
        ("06:00.0", "00:1c.7", 0x10de, 0x13c2, 0x03_0000, "nouveau",       13),
        ("06:00.1", "00:1c.7", 0x10de, 0x0fbb, 0x04_0300, "snd_hda_intel", 13),
    ];
    host.pci = pci_table((0x1849, 0x0158), rows);
    cards(
        &mut host,
        &[
            ("00:01.0", (0x1849, 0x0151), 0x09),
            ("00:02.0", (0x1849, 0x016a), 0x09),
            ("00:14.0", (0x1849, 0x1e31), 0x04),
            ("00:1a.0", (0x1849, 0x1e2d), 0x04),
            ("00:1d.0", (0x1849, 0x1e26), 0x04),
            ("02:00.0", (0x144d, 0xa801), 0x00),
            ("05:00.0", (0x1849, 0x8168), 0x06),
            ("06:00.0", (0x1462, 0x3160), 0xa1),
            ("06:00.1", (0x1462, 0x3160), 0xa1),
        ],
    );
    host.pci_mut("00:00.0").driver = None;
    host.pci_mut("00:02.0").boot_vga = Some(true);
    host.pci_mut("00:02.0").drm_card = Some(0);
    host.pci_mut("06:00.0").drm_card = Some(1);

    host.cpuinfo = FakeCpuInfo {
        vendor_id: "GenuineIntel".into(),
        family: 6,
        model: 58,
        model_name: "Intel(R) Xeon(R) CPU E3-1245 V2 @ 3.40GHz".into(),
        stepping: 9,
        microcode: "0x21".into(),
        mhz: "1600.000".into(),
        cache_size_kb: 8192,
        cpuid_level: 13,
        flags: IVY_BRIDGE_FLAGS.into(),
        bugs: "cpu_meltdown spectre_v1 spectre_v2 spec_store_bypass l1tf mds swapgs itlb_multihit srbds mmio_unknown".into(),
        bogomips: "6784.63".into(),
        tlb_size: None,
        address_sizes: "36 bits physical, 48 bits virtual".into(),
        power_management: String::new(),
    };
    host.cpus = smt_cpus(4, true, &[&[0, 1, 2, 3]]);
    host.caches = FakeCaches {
        l1d_kb: 32,
        l1i_kb: 32,
        l2_kb: 256,
        l3_kb: 8192,
    };
    host.topology_cluster = true;
    host.cpufreq = Some(FakeCpuFreq {
        driver: "intel_pstate".into(),
        available: ["performance", "powersave"].map(String::from).to_vec(),
        governor: "powersave".into(),
        overrides: std::collections::BTreeMap::new(),
        min_khz: 1_600_000,
        max_khz: 3_800_000,
    });
    host.memory = memory_32g(32_817_220);
    host.numa_nodes = node0(&host.memory);

    // Debian installer's guided layout on a BIOS/MBR disk: root, extended, swap as sda5.
    let ssd_sectors = 500_118_192;
    let swap = 1_996_800;
    let swap_start = ssd_sectors - swap - 2048;
    host.block = vec![
        FakeBlock {
            name: "sda".into(),
            pci: bdf("00:1f.2"),
            sectors: ssd_sectors,
            model: "Samsung SSD 860".into(),
            serial: "S3Z9NB0K123456X".into(),
            by_id: vec!["ata-Samsung_SSD_860_EVO_250GB_S3Z9NB0K123456X".into()],
            partitions: vec![
                part(
                    1,
                    2048,
                    swap_start - 2048 - 2048,
                    Some(mnt("/", "ext4")),
                    false,
                ),
                part(2, swap_start - 2, 2, None, false),
                part(5, swap_start, swap, None, true),
            ],
            mount: None,
            swap: false,
        },
        FakeBlock {
            by_id: vec![
                "nvme-Samsung_SSD_970_EVO_1TB_S467NX0M501234Z".into(),
                "nvme-eui.0025385581b12345".into(),
            ],
            ..nvme(
                "nvme0n1",
                "02:00.0",
                SECTORS_1T,
                "Samsung SSD 970 EVO 1TB",
                "S467NX0M501234Z",
                windows_partitions(SECTORS_1T),
            )
        },
    ];

    host.usb = root_hubs("00:14.0", 3, RELEASE);
    for (bus, controller) in [(1, "00:1d.0"), (2, "00:1a.0")] {
        host.usb.push(FakeUsb {
            name: format!("usb{bus}"),
            controller: bdf(controller),
            vendor: 0x1d6b,
            product: 0x0002,
            product_name: Some("EHCI Host Controller".into()),
            manufacturer: Some(format!("Linux {RELEASE} ehci_hcd")),
            devnum: 1,
        });
        host.usb.push(usb_device(
            &format!("{bus}-1"),
            controller,
            (0x8087, 0x0024),
            "",
            "",
            2,
        ));
        host.usb.last_mut().expect("just pushed").product_name = None;
        host.usb.last_mut().expect("just pushed").manufacturer = None;
    }
    host.usb.push(usb_device(
        "3-1",
        "00:14.0",
        (0x046d, 0xc52b),
        "USB Receiver",
        "Logitech",
        2,
    ));
    host.usb.push(usb_device(
        "3-2",
        "00:14.0",
        (0x04d9, 0x0169),
        "USB Keyboard",
        "",
        3,
    ));
    host.usb.last_mut().expect("just pushed").manufacturer = None;

    host.kernel_release = RELEASE.into();
    host.vfio_pci = FakeVfioPci::Module;
    host.kvm = true;
    host.uefi = false;
    host.loader_info = None;
    host.vtconsoles = vtconsoles();
    host.cmdline = format!(
        "BOOT_IMAGE=/boot/vmlinuz-{RELEASE} root=UUID={ROOT_UUID} ro quiet splash intel_iommu=on"
    );
    text(
        &mut host,
        "etc/default/grub",
        "# If you change this file, run 'update-grub' afterwards to update\n\
         # /boot/grub/grub.cfg.\n\
         # For full documentation of the options in this file, see:\n\
         #   info -f grub -n 'Simple configuration'\n\
         \n\
         GRUB_DEFAULT=0\n\
         GRUB_TIMEOUT=5\n\
         GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n\
         GRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash intel_iommu=on\"\n\
         GRUB_CMDLINE_LINUX=\"\"\n\
         \n\
         # If your computer has multiple operating systems installed, then you\n\
         # probably want to run os-prober. However, if your computer is a host\n\
         # for guest OSes installed via LVM or raw disk devices, running\n\
         # os-prober can cause damage to those guest OSes as it mounts\n\
         # filesystems to look for things.\n\
         #GRUB_DISABLE_OS_PROBER=false\n\
         \n\
         # Uncomment to enable BadRAM filtering, modify to suit your needs\n\
         # This works with Linux (no patch required) and with any kernel that obtains\n\
         # the memory map information from GRUB (GNU Mach, kernel of FreeBSD ...)\n\
         #GRUB_BADRAM=\"0x01234567,0xfefefefe,0x89abcdef,0xefefefef\"\n\
         \n\
         # Uncomment to disable graphical terminal\n\
         #GRUB_TERMINAL=console\n\
         \n\
         # The resolution used on graphical terminal\n\
         # note that you can use only modes which your graphic card supports via VBE\n\
         # you can see them in real GRUB with the command `vbeinfo'\n\
         #GRUB_GFXMODE=640x480\n\
         \n\
         # Uncomment if you don't want GRUB to pass \"root=UUID=xxx\" parameter to Linux\n\
         #GRUB_DISABLE_LINUX_UUID=true\n\
         \n\
         # Uncomment to disable generation of recovery mode menu entries\n\
         #GRUB_DISABLE_RECOVERY=\"true\"\n\
         \n\
         # Uncomment to get a beep at grub start\n\
         #GRUB_INIT_TUNE=\"480 440 1\"\n",
    );
    host.dirs.insert("etc/default/grub.d".into());
    text(
        &mut host,
        "boot/grub/grub.cfg",
        &grub_cfg(RELEASE, ROOT_UUID, "quiet splash intel_iommu=on"),
    );
    tool(&mut host, "usr/sbin/update-grub");
    tool(&mut host, "usr/sbin/grub-mkconfig");
    initramfs_tools(&mut host);
    host.dirs.insert("etc/systemd/network".into());
    os_release(
        &mut host,
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
         VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n\
         HOME_URL=\"https://www.debian.org/\"\nSUPPORT_URL=\"https://www.debian.org/support\"\n\
         BUG_REPORT_URL=\"https://bugs.debian.org/\"\n",
    );
    host.pci_ids = Some(pci_ids_for(&host));
    host
}

/// The `grub.cfg` grub-mkconfig writes for one Debian kernel on an MBR disk (abridged to the
/// header and the default entry). Note the double space after `ro` when `GRUB_CMDLINE_LINUX`
/// is empty, exactly as `10_linux` produces it.
fn grub_cfg(release: &str, root_uuid: &str, default_options: &str) -> String {
    format!(
        "#\n\
         # DO NOT EDIT THIS FILE\n\
         #\n\
         # It is automatically generated by grub-mkconfig using templates\n\
         # from /etc/grub.d and settings from /etc/default/grub\n\
         #\n\
         \n\
         ### BEGIN /etc/grub.d/00_header ###\n\
         if [ -s $prefix/grubenv ]; then\n\
         \x20 load_env\n\
         fi\n\
         set default=\"0\"\n\
         set timeout=5\n\
         ### END /etc/grub.d/00_header ###\n\
         \n\
         ### BEGIN /etc/grub.d/10_linux ###\n\
         menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --class gnu --class os $menuentry_id_option 'gnulinux-simple-{root_uuid}' {{\n\
         \tload_video\n\
         \tinsmod gzio\n\
         \tif [ x$grub_platform = xxen ]; then insmod xzio; insmod lzopio; fi\n\
         \tinsmod part_msdos\n\
         \tinsmod ext2\n\
         \tsearch --no-floppy --fs-uuid --set=root {root_uuid}\n\
         \techo\t'Loading Linux {release} ...'\n\
         \tlinux\t/boot/vmlinuz-{release} root=UUID={root_uuid} ro  {default_options}\n\
         \techo\t'Loading initial ramdisk ...'\n\
         \tinitrd\t/boot/initrd.img-{release}\n\
         }}\n\
         ### END /etc/grub.d/10_linux ###\n"
    )
}

/// Seed 004: Ryzen 7 5800X3D on a mini-ITX B550 (one x16 slot, no iGPU), a single RTX 3080 Ti
/// that is also the boot display, the CPU's Matisse xHCI `0b:00.3` alone in group 20 (the VM
/// takes it as "usb-rear"), and the B550 chipset as one big group. Ubuntu Server 22.04 booted
/// by systemd-boot with kernel-install (`/etc/kernel/cmdline`); vfio-pci is built in.
pub fn seed004() -> FakeHost {
    const RELEASE: &str = "5.15.0-91-generic";
    const ROOT_UUID: &str = "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6";
    const MACHINE_ID: &str = "8e0f4c2a9b7d41e6a3c5f1d2b4e6a8c0";
    let mut host = FakeHost::default();

    #[rustfmt::skip]
    let rows: &[Row] = &[
        ("00:00.0", "",        0x1022, 0x1480, 0x06_0000, "",              0),
        ("00:00.2", "",        0x1022, 0x1481, 0x08_0600, "",              0),
        ("00:01.0", "",        0x1022, 0x1482, 0x06_0000, "",              0),
        ("00:01.1", "",        0x1022, 0x1483, 0x06_0400, "pcieport",      1),
        ("00:01.2", "",        0x1022, 0x1483, 0x06_0400, "pcieport",      2),
        ("00:02.0", "",        0x1022, 0x1482, 0x06_0000, "",              3),
        ("00:02.1", "",        0x1022, 0x1483, 0x06_0400, "pcieport",      4),
        ("00:03.0", "",        0x1022, 0x1482, 0x06_0000, "",              5),
        ("00:04.0", "",        0x1022, 0x1482, 0x06_0000, "",              6),
        ("00:05.0", "",        0x1022, 0x1482, 0x06_0000, "",              7),
        ("00:07.0", "",        0x1022, 0x1482, 0x06_0000, "",              8),
        ("00:07.1", "",        0x1022, 0x1484, 0x06_0400, "pcieport",      9),
        ("00:08.0", "",        0x1022, 0x1482, 0x06_0000, "",              10),
        ("00:08.1", "",        0x1022, 0x1484, 0x06_0400, "pcieport",      11),
        ("00:14.0", "",        0x1022, 0x790b, 0x0c_0500, "piix4_smbus",   12),
        ("00:14.3", "",        0x1022, 0x790e, 0x06_0100, "",              12),
        ("00:18.0", "",        0x1022, 0x1440, 0x06_0000, "",              13),
        ("00:18.1", "",        0x1022, 0x1441, 0x06_0000, "",              13),
        ("00:18.2", "",        0x1022, 0x1442, 0x06_0000, "",              13),
        ("00:18.3", "",        0x1022, 0x1443, 0x06_0000, "k10temp",       13),
        ("00:18.4", "",        0x1022, 0x1444, 0x06_0000, "",              13),
        ("00:18.5", "",        0x1022, 0x1445, 0x06_0000, "",              13),
        ("00:18.6", "",        0x1022, 0x1446, 0x06_0000, "",              13),
        ("00:18.7", "",        0x1022, 0x1447, 0x06_0000, "",              13),
        // The only GPU, also the boot display.
        ("01:00.0", "00:01.1", 0x10de, 0x2208, 0x03_0000, "nvidia",        14),
        ("01:00.1", "00:01.1", 0x10de, 0x1aef, 0x04_0300, "snd_hda_intel", 14),
        // CPU M.2 slot: the host's disk.
        ("02:00.0", "00:01.2", 0x144d, 0xa80a, 0x01_0802, "nvme",          15),
        // B550 chipset: one group for everything behind 00:02.1.
        ("03:00.0", "00:02.1", 0x1022, 0x43ee, 0x0c_0330, "xhci_hcd",      16),
        ("03:00.1", "00:02.1", 0x1022, 0x43eb, 0x01_0601, "ahci",          16),
        ("03:00.2", "00:02.1", 0x1022, 0x43e9, 0x06_0400, "pcieport",      16),
        ("04:00.0", "03:00.2", 0x1022, 0x43ea, 0x06_0400, "pcieport",      16),
        ("04:04.0", "03:00.2", 0x1022, 0x43ea, 0x06_0400, "pcieport",      16),
        ("04:05.0", "03:00.2", 0x1022, 0x43ea, 0x06_0400, "pcieport",      16),
        ("04:06.0", "03:00.2", 0x1022, 0x43ea, 0x06_0400, "pcieport",      16),
        ("04:07.0", "03:00.2", 0x1022, 0x43ea, 0x06_0400, "pcieport",      16),
        ("07:00.0", "04:05.0", 0x8086, 0x2723, 0x02_8000, "iwlwifi",       16),
        ("08:00.0", "04:06.0", 0x8086, 0x15f3, 0x02_0000, "igc",           16),
        // CPU-internal functions.
        ("0a:00.0", "00:07.1", 0x1022, 0x148a, 0x13_0000, "",              17),
        ("0b:00.0", "00:08.1", 0x1022, 0x1485, 0x13_0000, "",              18),
        ("0b:00.1", "00:08.1", 0x1022, 0x1486, 0x10_8000, "ccp",           19),
        ("0b:00.3", "00:08.1", 0x1022, 0x149c, 0x0c_0330, "xhci_hcd",      20),
        ("0b:00.4", "00:08.1", 0x1022, 0x1487, 0x04_0300, "snd_hda_intel", 21),
    ];
    host.pci = pci_table((0x1043, 0x87d2), rows);
    cards(
        &mut host,
        &[
            ("01:00.0", (0x10de, 0x1535), 0xa1),
            ("01:00.1", (0x10de, 0x1535), 0xa1),
            ("02:00.0", (0x144d, 0xa801), 0x00),
            ("07:00.0", (0x8086, 0x0084), 0x1a),
            ("08:00.0", (0x1043, 0x87d2), 0x03),
        ],
    );
    host.pci_mut("01:00.0").boot_vga = Some(true);
    host.pci_mut("01:00.0").drm_card = Some(0);

    host.cpuinfo = FakeCpuInfo {
        vendor_id: "AuthenticAMD".into(),
        family: 25,
        model: 33,
        model_name: "AMD Ryzen 7 5800X3D 8-Core Processor".into(),
        stepping: 2,
        microcode: "0xa201205".into(),
        mhz: "3400.000".into(),
        cache_size_kb: 512,
        cpuid_level: 16,
        flags: ZEN3_FLAGS.into(),
        bugs: "sysret_ss_attrs spectre_v1 spectre_v2 spec_store_bypass srso".into(),
        bogomips: "6799.72".into(),
        tlb_size: Some("2560 4K pages".into()),
        address_sizes: "48 bits physical, 48 bits virtual".into(),
        power_management: "ts ttp tm hwpstate cpb eff_freq_ro [13] [14]".into(),
    };
    host.cpus = smt_cpus(8, true, &[&[0, 1, 2, 3, 4, 5, 6, 7]]);
    host.caches = FakeCaches {
        l1d_kb: 32,
        l1i_kb: 32,
        l2_kb: 512,
        l3_kb: 98304,
    };
    host.cpufreq = Some(FakeCpuFreq {
        driver: "acpi-cpufreq".into(),
        available: [
            "conservative",
            "ondemand",
            "userspace",
            "powersave",
            "performance",
            "schedutil",
        ]
        .map(String::from)
        .to_vec(),
        governor: "schedutil".into(),
        overrides: std::collections::BTreeMap::new(),
        min_khz: 2_200_000,
        max_khz: 3_400_000,
    });
    host.memory = memory_32g(32_780_104);
    host.numa_nodes = node0(&host.memory);

    host.block = vec![nvme(
        "nvme0n1",
        "02:00.0",
        SECTORS_1T,
        "Samsung SSD 980 PRO 1TB",
        "S5GXNF0R812345M",
        vec![
            part(1, 2048, 2_201_600, Some(mnt("/boot/efi", "vfat")), false),
            part(
                2,
                2_203_648,
                SECTORS_1T - 2_203_648 - 4096,
                Some(mnt("/", "ext4")),
                false,
            ),
        ],
    )];
    host.swap_files = vec![super::tree::FakeSwapFile {
        path: "/swap.img".into(),
        size_kb: 8_388_608,
    }];

    host.usb = [
        root_hubs("03:00.0", 1, RELEASE),
        root_hubs("0b:00.3", 3, RELEASE),
    ]
    .concat();
    host.usb.push(usb_device(
        "1-2",
        "03:00.0",
        (0x0b05, 0x1939),
        "AURA LED Controller",
        "AsusTek Computer Inc.",
        2,
    ));
    host.usb.push(usb_device(
        "3-1",
        "0b:00.3",
        (0x046d, 0xc52b),
        "USB Receiver",
        "Logitech",
        2,
    ));
    host.usb.push(usb_device(
        "3-2",
        "0b:00.3",
        (0x045e, 0x0b12),
        "Controller",
        "Microsoft",
        3,
    ));

    host.kernel_release = RELEASE.into();
    host.vfio_pci = FakeVfioPci::BuiltIn;
    host.kvm = true;
    host.uefi = true;
    host.loader_info = Some("systemd-boot 249.11-0ubuntu3.11".into());
    host.vtconsoles = vtconsoles();
    let options = format!("root=UUID={ROOT_UUID} ro quiet");
    host.cmdline = format!("initrd=\\{MACHINE_ID}\\{RELEASE}\\initrd.img-{RELEASE} {options}");
    text(&mut host, "etc/kernel/cmdline", &format!("{options}\n"));
    text(&mut host, "etc/machine-id", &format!("{MACHINE_ID}\n"));
    text(
        &mut host,
        "boot/efi/loader/loader.conf",
        &format!("#timeout 3\n#console-mode keep\ndefault {MACHINE_ID}-*\n"),
    );
    text(
        &mut host,
        &format!("boot/efi/loader/entries/{MACHINE_ID}-{RELEASE}.conf"),
        &format!(
            "# Boot Loader Specification type#1 entry\n\
             # File created by /usr/lib/kernel/install.d/90-loaderentry.install (systemd 249.11-0ubuntu3.11)\n\
             title      Ubuntu 22.04.3 LTS\n\
             version    {RELEASE}\n\
             machine-id {MACHINE_ID}\n\
             options    {options}\n\
             linux      /{MACHINE_ID}/{RELEASE}/linux\n\
             initrd     /{MACHINE_ID}/{RELEASE}/initrd.img-{RELEASE}\n"
        ),
    );
    tool(&mut host, "usr/bin/kernel-install");
    tool(&mut host, "usr/bin/bootctl");
    initramfs_tools(&mut host);
    os_release(
        &mut host,
        "PRETTY_NAME=\"Ubuntu 22.04.3 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\n\
         VERSION=\"22.04.3 LTS (Jammy Jellyfish)\"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\n\
         HOME_URL=\"https://www.ubuntu.com/\"\nSUPPORT_URL=\"https://help.ubuntu.com/\"\n\
         BUG_REPORT_URL=\"https://bugs.launchpad.net/ubuntu/\"\n\
         PRIVACY_POLICY_URL=\"https://www.ubuntu.com/legal/terms-and-policies/privacy-policy\"\n\
         UBUNTU_CODENAME=jammy\n",
    );
    host.pci_ids = Some(pci_ids_for(&host));
    host
}

/// Vendor names of the pci.ids database, for the vendors the seeds use.
#[rustfmt::skip]
const PCI_VENDORS: &[(u16, &str)] = &[
    (0x1002, "Advanced Micro Devices, Inc. [AMD/ATI]"),
    (0x1022, "Advanced Micro Devices, Inc. [AMD]"),
    (0x10de, "NVIDIA Corporation"),
    (0x10ec, "Realtek Semiconductor Co., Ltd."),
    (0x144d, "Samsung Electronics Co Ltd"),
    (0x1b21, "ASMedia Technology Inc."),
    (0x8086, "Intel Corporation"),
];

/// Device names of the pci.ids database, for the devices the seeds use.
#[rustfmt::skip]
const PCI_DEVICES: &[(u16, u16, &str)] = &[
    (0x1002, 0x1478, "Navi 10 XL Upstream Port of PCI Express Switch"),
    (0x1002, 0x1479, "Navi 10 XL Downstream Port of PCI Express Switch"),
    (0x1002, 0x67df, "Ellesmere [Radeon RX 470/480/570/570X/580/580X/590]"),
    (0x1002, 0x731f, "Navi 10 [Radeon RX 5600 OEM/5600 XT / 5700/5700 XT]"),
    (0x1002, 0xaaf0, "Ellesmere HDMI Audio [Radeon RX 470/480 / 570/580/590]"),
    (0x1002, 0xab38, "Navi 10 HDMI Audio"),
    (0x1022, 0x1440, "Matisse/Vermeer Data Fabric: Device 18h; Function 0"),
    (0x1022, 0x1441, "Matisse/Vermeer Data Fabric: Device 18h; Function 1"),
    (0x1022, 0x1442, "Matisse/Vermeer Data Fabric: Device 18h; Function 2"),
    (0x1022, 0x1443, "Matisse/Vermeer Data Fabric: Device 18h; Function 3"),
    (0x1022, 0x1444, "Matisse/Vermeer Data Fabric: Device 18h; Function 4"),
    (0x1022, 0x1445, "Matisse/Vermeer Data Fabric: Device 18h; Function 5"),
    (0x1022, 0x1446, "Matisse/Vermeer Data Fabric: Device 18h; Function 6"),
    (0x1022, 0x1447, "Matisse/Vermeer Data Fabric: Device 18h; Function 7"),
    (0x1022, 0x1480, "Starship/Matisse Root Complex"),
    (0x1022, 0x1481, "Starship/Matisse IOMMU"),
    (0x1022, 0x1482, "Starship/Matisse PCIe Dummy Host Bridge"),
    (0x1022, 0x1483, "Starship/Matisse GPP Bridge"),
    (0x1022, 0x1484, "Starship/Matisse Internal PCIe GPP Bridge 0 to bus[E:B]"),
    (0x1022, 0x1485, "Starship/Matisse Reserved SPP"),
    (0x1022, 0x1486, "Starship/Matisse Cryptographic Coprocessor PSPCPP"),
    (0x1022, 0x1487, "Starship/Matisse HD Audio Controller"),
    (0x1022, 0x148a, "Starship/Matisse PCIe Dummy Function"),
    (0x1022, 0x149c, "Matisse USB 3.0 Host Controller"),
    (0x1022, 0x43e9, "500 Series Chipset Switch Upstream Port"),
    (0x1022, 0x43ea, "500 Series Chipset Switch Downstream Port"),
    (0x1022, 0x43eb, "500 Series Chipset SATA Controller"),
    (0x1022, 0x43ee, "500 Series Chipset USB 3.1 XHCI Controller"),
    (0x1022, 0x57a3, "Matisse PCIe GPP Bridge"),
    (0x1022, 0x57a4, "Matisse PCIe GPP Bridge"),
    (0x1022, 0x57ad, "Matisse Switch Upstream"),
    (0x1022, 0x7901, "FCH SATA Controller [AHCI mode]"),
    (0x1022, 0x790b, "FCH SMBus Controller"),
    (0x1022, 0x790e, "FCH LPC Bridge"),
    (0x10de, 0x0fbb, "GM204 High Definition Audio Controller"),
    (0x10de, 0x10f7, "TU102 High Definition Audio Controller"),
    (0x10de, 0x13c2, "GM204 [GeForce GTX 970]"),
    (0x10de, 0x1ad6, "TU102 USB 3.1 Host Controller"),
    (0x10de, 0x1ad7, "TU102 USB Type-C UCSI Controller"),
    (0x10de, 0x1ada, "TU106 USB 3.1 Host Controller"),
    (0x10de, 0x1adb, "TU106 USB Type-C UCSI Controller"),
    (0x10de, 0x1aef, "GA102 High Definition Audio Controller"),
    (0x10de, 0x1e07, "TU102 [GeForce RTX 2080 Ti Rev. A]"),
    (0x10de, 0x2206, "GA102 [GeForce RTX 3080]"),
    (0x10de, 0x2208, "GA102 [GeForce RTX 3080 Ti]"),
    (0x10ec, 0x8168, "RTL8111/8168/8411 PCI Express Gigabit Ethernet Controller"),
    (0x144d, 0xa808, "NVMe SSD Controller SM981/PM981/PM983"),
    (0x144d, 0xa80a, "NVMe SSD Controller PM9A1/PM9A3/980PRO"),
    (0x1b21, 0x2142, "ASM2142/ASM3142 USB 3.1 Host Controller"),
    (0x8086, 0x0151, "Xeon E3-1200 v2/3rd Gen Core processor PCI Express Root Port"),
    (0x8086, 0x0158, "Xeon E3-1200 v2/Ivy Bridge DRAM Controller"),
    (0x8086, 0x016a, "Xeon E3-1200 v2/3rd Gen Core processor Graphics Controller"),
    (0x8086, 0x15b8, "Ethernet Connection (2) I219-V"),
    (0x8086, 0x15f3, "Ethernet Controller I225-V"),
    (0x8086, 0x1901, "6th-10th Gen Core Processor PCIe Controller (x16)"),
    (0x8086, 0x1539, "I211 Gigabit Network Connection"),
    (0x8086, 0x1e02, "7 Series/C210 Series Chipset Family 6-port SATA Controller [AHCI mode]"),
    (0x8086, 0x1e10, "7 Series/C216 Chipset Family PCI Express Root Port 1"),
    (0x8086, 0x1e18, "7 Series/C216 Chipset Family PCI Express Root Port 5"),
    (0x8086, 0x1e1a, "7 Series/C210 Series Chipset Family PCI Express Root Port 6"),
    (0x8086, 0x1e1c, "7 Series/C210 Series Chipset Family PCI Express Root Port 7"),
    (0x8086, 0x1e1e, "7 Series/C210 Series Chipset Family PCI Express Root Port 8"),
    (0x8086, 0x1e20, "7 Series/C216 Chipset Family High Definition Audio Controller"),
    (0x8086, 0x1e22, "7 Series/C216 Chipset Family SMBus Controller"),
    (0x8086, 0x1e26, "7 Series/C216 Chipset Family USB Enhanced Host Controller #1"),
    (0x8086, 0x1e2d, "7 Series/C216 Chipset Family USB Enhanced Host Controller #2"),
    (0x8086, 0x1e31, "7 Series/C210 Series Chipset Family USB xHCI Host Controller"),
    (0x8086, 0x1e3a, "7 Series/C216 Chipset Family MEI Controller #1"),
    (0x8086, 0x1e53, "C216 Series Chipset LPC Controller"),
    (0x8086, 0x2723, "Wi-Fi 6 AX200"),
    (0x8086, 0x3e92, "CoffeeLake-S GT2 [UHD Graphics 630]"),
    (0x8086, 0x3ec2, "8th Gen Core Processor Host Bridge/DRAM Registers"),
    (0x8086, 0xa282, "200 Series PCH SATA controller [AHCI mode]"),
    (0x8086, 0xa290, "200 Series PCH PCI Express Root Port #1"),
    (0x8086, 0xa294, "200 Series PCH PCI Express Root Port #5"),
    (0x8086, 0xa298, "200 Series PCH PCI Express Root Port #9"),
    (0x8086, 0xa2a1, "200 Series/Z370 Chipset Family Power Management Controller"),
    (0x8086, 0xa2a3, "200 Series/Z370 Chipset Family SMBus Controller"),
    (0x8086, 0xa2af, "200 Series/Z370 Chipset Family USB 3.0 xHCI Controller"),
    (0x8086, 0xa2b1, "200 Series PCH Thermal Subsystem"),
    (0x8086, 0xa2ba, "200 Series PCH CSME HECI #1"),
    (0x8086, 0xa2c9, "Z370 Chipset LPC/eSPI Controller"),
    (0x8086, 0xa2e7, "200 Series PCH PCI Express Root Port #17"),
    (0x8086, 0xa2f0, "200 Series PCH HD Audio"),
];

/// A pci.ids text in the database's format (`vvvv  Vendor`, `\tdddd  Device`) holding only the
/// vendors and devices present on `host`.
pub fn pci_ids_for(host: &FakeHost) -> String {
    let present: std::collections::BTreeSet<(u16, u16)> =
        host.pci.iter().map(|d| (d.vendor, d.device)).collect();
    let mut out = String::from(
        "#\n#\tList of PCI ID's\n#\n\
         #\tVersion: 2023.11.10\n\
         #\tDate:    2023-11-10 03:15:02\n#\n\
         #\tAbridged for passplan test fixtures: only the ids present on this host.\n#\n\n",
    );
    for &(vendor, vendor_name) in PCI_VENDORS {
        if !present.iter().any(|(v, _)| *v == vendor) {
            continue;
        }
        let _ = writeln!(out, "{vendor:04x}  {vendor_name}");
        let mut devices: Vec<&(u16, u16, &str)> = PCI_DEVICES
            .iter()
            .filter(|(v, d, _)| *v == vendor && present.contains(&(*v, *d)))
            .collect();
        devices.sort_by_key(|(_, d, _)| *d);
        for (_, device, name) in devices {
            let _ = writeln!(out, "\t{device:04x}  {name}");
        }
    }
    out
}
