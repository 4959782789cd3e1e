//! Every host rule's failing case: a seed host mutated into the situation the rule is about,
//! a spec, the code the rule must report, and a snapshot of the rendered report.

use passplan::diag::{Report, Severity, render_report};

use crate::support::{FakeHost, FakeNode, seed001, seed003, seed004, workstation, write_seed};

/// The seed 002 workstation's spec, the base most cases edit.
const WORKSTATION: &str = r#"host "workstation" {
    boot { loader "kernelstub"; iommu mode="pt" }
}
gpu "rtx3080" { pci "0d:00.0" id="10de:2206"; role "guest" }
gpu "rx5700" { pci "0c:00.0" id="1002:731f"; role "host" }
device "guest-nvme" { pci "04:00.0" id="144d:a808" }
vm "win10" {
    memory "16GiB" hugepages="dynamic"
    cpu {
        vcpus 12 threads=2
        pin cores="6-11"
        emulator "0-3"
        iothreads 1 cpus="4-5,12-17"
        governor "performance"
    }
    passthrough "rtx3080" "guest-nvme"
    usb "046d:c52b"
}
"#;

/// What `check` found.
struct Found {
    findings: Vec<(String, Severity)>,
    rendered: String,
}

impl Found {
    fn has(&self, code: &str, severity: Severity) -> bool {
        self.findings
            .iter()
            .any(|(c, s)| c == code && *s == severity)
    }

    fn codes(&self) -> Vec<&str> {
        self.findings.iter().map(|(c, _)| c.as_str()).collect()
    }
}

fn check(host: &FakeHost, spec: &str) -> Found {
    let root = write_seed(host);
    let (decoded, mut diags) = passplan::spec::parse(spec);
    let decoded = decoded.unwrap_or_else(|| {
        let report = Report::new("host.kdl", spec, diags.sorted());
        panic!(
            "test spec does not decode:\n{}",
            render_report(&report, 100, false)
        )
    });
    let facts = passplan::host::discover(root.path()).expect("discover the fake host");
    let (_, found) = passplan::check::check(decoded, facts);
    diags.extend(found);
    let findings = diags
        .iter()
        .map(|d| (d.code.0.to_owned(), d.severity))
        .collect();
    let rendered = render_report(&Report::new("host.kdl", spec, diags.sorted()), 100, false);
    Found { findings, rendered }
}

/// Edit the workstation spec: replace `from` (which must occur) with `to`.
fn edit(from: &str, to: &str) -> String {
    assert!(
        WORKSTATION.contains(from),
        "the base spec contains {from:?}"
    );
    WORKSTATION.replacen(from, to, 1)
}

/// Assert the case reports `code` at `severity`, and snapshot the report under the code's name.
fn expect(found: &Found, code: &str, severity: Severity) {
    assert!(
        found.has(code, severity),
        "expected {code} ({severity:?}), got {:?}\n{}",
        found.findings,
        found.rendered
    );
    let name = code.replace('/', "__");
    insta::with_settings!({ snapshot_path => "snapshots/rules", prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!(name, found.rendered);
    });
}

#[test]
fn the_examples_check_clean_against_their_own_hosts() {
    let cases = [
        ("workstation", workstation()),
        ("seed-001", seed001()),
        ("seed-003", seed003()),
        ("seed-004", seed004()),
    ];
    for (name, host) in cases {
        let path = format!("{}/examples/{name}/host.kdl", env!("CARGO_MANIFEST_DIR"));
        let spec = std::fs::read_to_string(&path).unwrap();
        let found = check(&host, &spec);
        let errors: Vec<&(String, Severity)> = found
            .findings
            .iter()
            .filter(|(_, s)| *s == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?}\n{}", found.rendered);
    }
}

#[test]
fn the_workstation_warns_only_about_its_amd_iommu_on() {
    let found = check(&workstation(), WORKSTATION);
    assert_eq!(
        found.codes(),
        vec!["cmdline/known-wrong"],
        "{}",
        found.rendered
    );
}

#[test]
fn host_no_virtualization() {
    let mut host = workstation();
    host.cpuinfo.flags = host
        .cpuinfo
        .flags
        .split(' ')
        .filter(|f| *f != "svm")
        .collect::<Vec<_>>()
        .join(" ");
    expect(
        &check(&host, WORKSTATION),
        "host/no-virtualization",
        Severity::Error,
    );
}

#[test]
fn host_no_kvm() {
    let mut host = workstation();
    host.kvm = false;
    expect(&check(&host, WORKSTATION), "host/no-kvm", Severity::Error);
}

#[test]
fn host_iommu_off_is_pending_when_the_spec_turns_it_on() {
    let mut host = seed001();
    for pci in &mut host.pci {
        pci.group = None;
    }
    host.cmdline = host.cmdline.replace("intel_iommu=on", "");
    let spec = std::fs::read_to_string(format!(
        "{}/examples/seed-001/host.kdl",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let found = check(&host, &spec);
    expect(&found, "host/iommu-off", Severity::Notice);
    assert!(
        !found.codes().contains(&"iommu/group-incomplete"),
        "group checks wait for the IOMMU"
    );
}

#[test]
fn host_iommu_off_is_an_error_when_the_spec_leaves_it_off() {
    let mut host = workstation();
    for pci in &mut host.pci {
        pci.group = None;
    }
    let spec = edit(
        r#"boot { loader "kernelstub"; iommu mode="pt" }"#,
        r#"boot { loader "kernelstub" }"#,
    );
    let found = check(&host, &spec);
    assert!(
        found.has("host/iommu-off", Severity::Error),
        "{}",
        found.rendered
    );
    assert!(
        found.rendered.contains("AMD-Vi"),
        "an AMD host is told to look in the firmware"
    );
}

#[test]
fn boot_loader_mismatch() {
    expect(
        &check(
            &workstation(),
            &edit(r#"loader "kernelstub""#, r#"loader "grub""#),
        ),
        "boot/loader-mismatch",
        Severity::Warning,
    );
}

#[test]
fn cmdline_known_wrong() {
    let mut host = workstation();
    host.cmdline
        .push_str(" rcb_nocbs=6-11 vfio-pci.ids=10de:2206 vfio-pci.ids=10de:1aef");
    let found = check(&host, WORKSTATION);
    expect(&found, "cmdline/known-wrong", Severity::Warning);
    for needle in ["amd_iommu=on", "rcu_nocbs", "only one of them"] {
        assert!(found.rendered.contains(needle), "mentions {needle}");
    }
}

#[test]
fn device_absent_says_where_the_card_went() {
    let found = check(
        &workstation(),
        &edit(
            r#"pci "0d:00.0" id="10de:2206""#,
            r#"pci "0e:01.0" id="10de:2206""#,
        ),
    );
    expect(&found, "device/absent", Severity::Error);
    assert!(
        found.rendered.contains("0d:00.0"),
        "the help names the card's real address"
    );
}

#[test]
fn device_mismatch() {
    expect(
        &check(
            &workstation(),
            &edit(
                r#"pci "04:00.0" id="144d:a808""#,
                r#"pci "04:00.0" id="1987:5012""#,
            ),
        ),
        "device/mismatch",
        Severity::Error,
    );
}

#[test]
fn device_not_a_gpu() {
    let found = check(
        &workstation(),
        &edit(r#"pci "0d:00.0" id="10de:2206""#, r#"pci "0d:00.1""#),
    );
    expect(&found, "device/not-a-gpu", Severity::Error);
    assert!(
        found.rendered.contains(r#"pci "0d:00.0""#),
        "the help names the display function"
    );
}

#[test]
fn host_file_too_large() {
    // A configuration file passplan would edit, over its 1 MiB limit: an error, not "absent"
    // (which would have passplan write a new one over it).
    let mut host = workstation();
    host.files
        .insert("etc/default/grub".to_owned(), vec![b'#'; (1 << 20) + 1]);
    let found = check(&host, WORKSTATION);
    expect(&found, "host/file-too-large", Severity::Error);
    assert!(
        found.rendered.contains("/etc/default/grub") && found.rendered.contains("1MiB"),
        "names the file and the limit: {}",
        found.rendered
    );
}

#[test]
fn device_driver_name() {
    // A `driver` link no kernel makes: its name would reach `softdep … pre: vfio-pci`.
    let mut host = workstation();
    host.pci_mut("0d:00.1").driver = Some("snd_hda_intel\ninstall vfio_pci reboot".to_owned());
    let found = check(&host, WORKSTATION);
    expect(&found, "device/driver-name", Severity::Error);
    assert!(
        found.rendered.contains("snd_hda_intel\\ninstall"),
        "{}",
        found.rendered
    );
}

#[test]
fn device_host_gpu_passed() {
    expect(
        &check(
            &workstation(),
            &edit(
                r#"passthrough "rtx3080" "guest-nvme""#,
                r#"passthrough "rtx3080" "rx5700" "guest-nvme""#,
            ),
        ),
        "device/host-gpu-passed",
        Severity::Error,
    );
}

#[test]
fn device_assigned_twice() {
    let spec = format!(
        "{WORKSTATION}vm \"linux\" {{\n    memory \"8GiB\"\n    cpu {{ vcpus 2 }}\n    passthrough \"rtx3080\"\n}}\n"
    );
    expect(
        &check(&workstation(), &spec),
        "device/assigned-twice",
        Severity::Warning,
    );
}

#[test]
fn iommu_group_incomplete_names_the_others() {
    let mut host = workstation();
    host.pci_mut("0f:00.3").group = Some(32); // a CPU USB controller joins the GPU's group
    let found = check(&host, WORKSTATION);
    expect(&found, "iommu/group-incomplete", Severity::Error);
    assert!(found.rendered.contains("0f:00.3") && found.rendered.contains("acs-override"));
}

#[test]
fn a_bridge_in_the_group_does_not_make_it_incomplete() {
    // Seed 001: the 2080 Ti shares group 1 with its root port 00:01.0.
    let spec = std::fs::read_to_string(format!(
        "{}/examples/seed-001/host.kdl",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let found = check(&seed001(), &spec);
    assert!(
        !found.codes().contains(&"iommu/group-incomplete"),
        "{}",
        found.rendered
    );
}

#[test]
fn iommu_host_gpu_shares_group() {
    let mut host = workstation();
    host.pci_mut("0c:00.0").group = Some(32); // the seed's first listing: both GPUs in one group
    host.pci_mut("0c:00.1").group = Some(32);
    let found = check(&host, WORKSTATION);
    expect(&found, "iommu/host-gpu-shares-group", Severity::Error);
    assert!(
        !found.codes().contains(&"iommu/group-incomplete"),
        "reported once, as the host-GPU case"
    );
}

#[test]
fn display_boot_gpu_to_guest() {
    let mut host = workstation();
    host.pci_mut("0c:00.0").boot_vga = Some(false);
    host.pci_mut("0d:00.0").boot_vga = Some(true);
    expect(
        &check(&host, WORKSTATION),
        "display/boot-gpu-to-guest",
        Severity::Warning,
    );
}

#[test]
fn display_none_left_without_handoff() {
    let spec = std::fs::read_to_string(format!(
        "{}/examples/seed-004/host.kdl",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let spec = spec.replace("handoff \"single-gpu\"", "");
    expect(
        &check(&seed004(), &spec),
        "display/none-left",
        Severity::Error,
    );
}

#[test]
fn storage_in_use() {
    let found = check(
        &workstation(),
        &edit(
            r#"pci "04:00.0" id="144d:a808""#,
            r#"pci "01:00.0" id="144d:a808""#,
        ),
    );
    expect(&found, "storage/in-use", Severity::Error);
    assert!(found.rendered.contains("root filesystem"));
}

#[test]
fn binding_ids_ambiguous_by_ids_is_an_error() {
    let spec = edit(
        r#"device "guest-nvme" { pci "04:00.0" id="144d:a808" }"#,
        r#"device "guest-nvme" { pci "04:00.0" id="144d:a808"; bind "boot" by="ids" }"#,
    );
    expect(
        &check(&workstation(), &spec),
        "binding/ids-ambiguous",
        Severity::Error,
    );
}

#[test]
fn binding_ids_ambiguous_by_auto_falls_back_to_the_address() {
    let spec = edit(
        r#"device "guest-nvme" { pci "04:00.0" id="144d:a808" }"#,
        r#"device "guest-nvme" { pci "04:00.0" id="144d:a808"; bind "boot" }"#,
    );
    let found = check(&workstation(), &spec);
    assert!(
        found.has("binding/ids-ambiguous", Severity::Notice),
        "{}",
        found.rendered
    );
}

#[test]
fn usb_absent() {
    expect(
        &check(
            &workstation(),
            &edit(r#"usb "046d:c52b""#, r#"usb "046d:c52c""#),
        ),
        "usb/absent",
        Severity::Warning,
    );
}

#[test]
fn cpu_pin_unknown_and_offline() {
    let mut host = seed004();
    host.cpus
        .iter_mut()
        .filter(|c| c.id == 7)
        .for_each(|c| c.online = false);
    let spec = "vm \"v\" {\n    memory \"8GiB\"\n    cpu { vcpus 4; pin cpus=\"7,20,21,22\"; emulator \"0\" }\n}\n";
    let found = check(&host, spec);
    expect(&found, "cpu/pin-unknown", Severity::Error);
    assert!(found.rendered.contains("20-22") && found.rendered.contains("offline"));
}

#[test]
fn cpu_pin_duplicate() {
    expect(
        &check(
            &workstation(),
            &edit(
                r#"pin cores="6-11""#,
                r#"pin cpus="6,18,7,19,8,20,9,21,10,22,11,18""#,
            ),
        ),
        "cpu/pin-duplicate",
        Severity::Error,
    );
}

#[test]
fn cpu_vcpu_count() {
    expect(
        &check(
            &workstation(),
            &edit("vcpus 12 threads=2", "vcpus 8 threads=2"),
        ),
        "cpu/vcpu-count",
        Severity::Error,
    );
}

#[test]
fn cpu_core_split() {
    let spec = edit("vcpus 12 threads=2", "vcpus 6 threads=1")
        .replace(r#"pin cores="6-11""#, r#"pin cpus="6,7,8,9,10,11""#);
    expect(
        &check(&workstation(), &spec),
        "cpu/core-split",
        Severity::Warning,
    );
}

#[test]
fn cpu_overlap() {
    expect(
        &check(
            &workstation(),
            &edit(r#"emulator "0-3""#, r#"emulator "0-3,18""#),
        ),
        "cpu/overlap",
        Severity::Warning,
    );
}

#[test]
fn cpu_cross_numa() {
    let mut host = workstation();
    let half = host.memory.total_kb / 2;
    host.numa_nodes = vec![
        FakeNode {
            id: 0,
            mem_total_kb: half,
            mem_free_kb: half / 2,
        },
        FakeNode {
            id: 1,
            mem_total_kb: half,
            mem_free_kb: half / 2,
        },
    ];
    for cpu in &mut host.cpus {
        cpu.node = Some(u32::from(cpu.id % 12 >= 6));
    }
    let spec = edit(r#"pin cores="6-11""#, r#"pin cores="3-8""#);
    expect(&check(&host, &spec), "cpu/cross-numa", Severity::Warning);
}

#[test]
fn cpu_cross_l3() {
    let spec = edit("vcpus 12 threads=2", "vcpus 6 threads=2")
        .replace(r#"pin cores="6-11""#, r#"pin cores="4-6""#);
    expect(
        &check(&workstation(), &spec),
        "cpu/cross-l3",
        Severity::Warning,
    );
}

#[test]
fn cpu_cross_l3_is_quiet_when_the_vm_cannot_fit_one_domain() {
    let found = check(&workstation(), WORKSTATION);
    assert!(
        !found.codes().contains(&"cpu/cross-l3"),
        "12 vCPUs cannot fit a 6-CPU CCX"
    );
}

#[test]
fn cpu_auto_unsatisfiable() {
    // 3900X: 24 CPUs, the host keeps CPU 0's core; 22 vCPUs plus 4 more cannot both fit.
    let spec = edit("vcpus 12 threads=2", "vcpus 22 threads=2")
        .replace(r#"pin cores="6-11""#, r#"pin policy="auto""#)
        .replace("emulator \"0-3\"\n", "")
        .replace("        iothreads 1 cpus=\"4-5,12-17\"\n", "")
        + "vm \"linux\" {\n    memory \"4GiB\"\n    cpu { vcpus 4 threads=2; pin policy=\"auto\" }\n}\n";
    expect(
        &check(&workstation(), &spec),
        "cpu/auto-unsatisfiable",
        Severity::Error,
    );
}

#[test]
fn cpu_auto_places_the_workstation_guest_on_whole_ccxs() {
    let spec = edit(r#"pin cores="6-11""#, r#"pin policy="auto""#)
        .replace("emulator \"0-3\"\n", "")
        .replace(
            "        iothreads 1 cpus=\"4-5,12-17\"\n",
            "        iothreads 1\n",
        );
    let found = check(&workstation(), &spec);
    let errors: Vec<_> = found
        .findings
        .iter()
        .filter(|(_, s)| *s == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{}", found.rendered);
    assert!(
        !found.codes().contains(&"cpu/cross-l3"),
        "{}",
        found.rendered
    );
}

#[test]
fn cpu_governor_unavailable() {
    expect(
        &check(
            &workstation(),
            &edit(r#"governor "performance""#, r#"governor "turbo""#),
        ),
        "cpu/governor-unavailable",
        Severity::Warning,
    );
}

#[test]
fn memory_page_multiple() {
    let found = check(
        &workstation(),
        &edit(
            r#"memory "16GiB" hugepages="dynamic""#,
            r#"memory "12800MiB" hugepages="dynamic" page-size="1GiB""#,
        ),
    );
    expect(&found, "memory/page-multiple", Severity::Error);
    assert!(found.rendered.contains("\"12GiB\" or \"13GiB\""));
}

#[test]
fn memory_page_size_unsupported() {
    expect(
        &check(
            &workstation(),
            &edit(
                r#"hugepages="dynamic""#,
                r#"hugepages="dynamic" page-size="16MiB""#,
            ),
        ),
        "memory/page-size-unsupported",
        Severity::Error,
    );
}

#[test]
fn memory_static_too_large() {
    expect(
        &check(
            &workstation(),
            &edit(
                r#"memory "16GiB" hugepages="dynamic""#,
                r#"memory "30GiB" hugepages="static""#,
            ),
        ),
        "memory/static-too-large",
        Severity::Error,
    );
}

#[test]
fn hyperv_vendor_id_length() {
    let spec = edit(
        r#"usb "046d:c52b""#,
        "usb \"046d:c52b\"\n    hyperv vendor-id=\"my-very-own-hypervisor\"",
    );
    expect(
        &check(&workstation(), &spec),
        "hyperv/vendor-id-length",
        Severity::Error,
    );
}

/// The workstation split into two NUMA nodes (cores 0-5 on node 0, 6-11 on node 1, as a
/// dual-socket host would be), its RTX 3080 on `node`.
fn two_nodes(gpu_node: i32) -> FakeHost {
    let mut host = workstation();
    let half = host.memory.total_kb / 2;
    host.numa_nodes = (0..2)
        .map(|id| FakeNode {
            id,
            mem_total_kb: half,
            mem_free_kb: half / 2,
        })
        .collect();
    for cpu in &mut host.cpus {
        cpu.node = Some(u32::from(cpu.id % 12 >= 6));
    }
    for pci in &mut host.pci {
        if pci.address.ends_with("0d:00.0") || pci.address.ends_with("0d:00.1") {
            pci.numa_node = gpu_node;
        }
    }
    host
}

#[test]
fn cpu_remote_device() {
    // Explicit pins on node 1, the GPU on node 0.
    let found = check(&two_nodes(0), WORKSTATION);
    expect(&found, "cpu/remote-device", Severity::Warning);
    assert!(
        found.rendered.contains("`rtx3080` is on node 0"),
        "{}",
        found.rendered
    );
    // On the GPU's node: nothing to say.
    let near = edit(r#"pin cores="6-11""#, r#"pin cores="0-5""#).replace(
        r#"emulator "0-3"
        iothreads 1 cpus="4-5,12-17""#,
        r#"emulator "6-7"
        iothreads 1 cpus="8""#,
    );
    let found = check(&two_nodes(0), &near);
    assert!(
        !found.codes().contains(&"cpu/remote-device"),
        "{}",
        found.rendered
    );
}

#[test]
fn auto_placement_follows_the_gpu_and_warns_when_it_cannot() {
    let auto = |vcpus: u32| {
        edit("vcpus 12 threads=2", &format!("vcpus {vcpus} threads=2"))
            .replace(r#"pin cores="6-11""#, r#"pin policy="auto""#)
            .replace("emulator \"0-3\"\n", "")
            .replace(r#"iothreads 1 cpus="4-5,12-17""#, "iothreads 1")
    };
    // The GPU on node 1: the VM goes there, quietly.
    let found = check(&two_nodes(1), &auto(8));
    assert!(
        !found.codes().contains(&"cpu/remote-device") && !found.codes().contains(&"cpu/cross-numa"),
        "{}",
        found.rendered
    );
    // The GPU on node 0, which keeps CPU 0's core for the host: 12 vCPUs cannot fit beside
    // it, so the VM goes to node 1 and is told.
    let found = check(&two_nodes(0), &auto(12));
    assert!(
        found.has("cpu/remote-device", Severity::Warning),
        "{}",
        found.rendered
    );
    // 16 vCPUs fit no node: the placement spans, and says so like explicit pins do.
    let found = check(&two_nodes(1), &auto(16));
    assert!(
        found.has("cpu/cross-numa", Severity::Warning),
        "{}",
        found.rendered
    );
    assert!(
        found.rendered.contains("placed across 2 NUMA nodes"),
        "{}",
        found.rendered
    );
}

#[test]
fn cpu_core_split_pairs_guest_siblings_on_host_siblings() {
    // A 4-core, 8-thread host (siblings 0/4, 1/5, 2/6, 3/7), as the issue has it.
    let mut host = workstation();
    host.cpus.retain(|c| c.id < 8);
    for cpu in &mut host.cpus {
        let k = cpu.id % 4;
        cpu.core = k;
        cpu.siblings = vec![k, k + 4];
        cpu.l3 = Some((0..8).collect());
    }
    let spec = r#"vm "g" { memory "4GiB"; cpu { vcpus 6 threads=2; pin cpus="1,2,3,5,6,7" } }"#;
    let found = check(&host, spec);
    assert!(
        found.has("cpu/core-split", Severity::Warning),
        "{}",
        found.rendered
    );
    assert!(
        found.rendered.contains("vCPUs 0-1 on CPUs 1,2"),
        "{}",
        found.rendered
    );
    let spec = r#"vm "g" { memory "4GiB"; cpu { vcpus 6 threads=2; pin cpus="1,5,2,6,3,7" } }"#;
    assert!(!check(&host, spec).codes().contains(&"cpu/core-split"));
}

#[test]
fn cpu_shared_pins() {
    let spec = format!(
        "{WORKSTATION}vm \"linux\" {{\n    memory \"4GiB\"\n    cpu {{ vcpus 4 threads=2; pin cores=\"11\"; emulator \"6\" }}\n}}\n"
    )
    .replace(r#"pin cores="11""#, r#"pin cpus="11,23,2,14""#);
    let found = check(&workstation(), &spec);
    expect(&found, "cpu/shared-pins", Severity::Warning);
    assert!(
        found.rendered.contains("`win10` and `linux`"),
        "{}",
        found.rendered
    );
    // Sharing the GPU, they never run together: no finding.
    let sharing = spec.replace(
        "memory \"4GiB\"\n",
        "memory \"4GiB\"\n    passthrough \"rtx3080\"\n",
    );
    let found = check(&workstation(), &sharing);
    assert!(
        !found.codes().contains(&"cpu/shared-pins"),
        "{}",
        found.rendered
    );
}

#[test]
fn cpu_no_host_cpu() {
    let spec = edit("vcpus 12 threads=2", "vcpus 24 threads=2")
        .replace(r#"pin cores="6-11""#, r#"pin cores="0-11""#);
    expect(
        &check(&workstation(), &spec),
        "cpu/no-host-cpu",
        Severity::Warning,
    );
}

#[test]
fn storage_shared_disk() {
    let two = |a: &str, b: &str| {
        format!(
            "{WORKSTATION}vm \"linux\" {{\n    memory \"4GiB\"\n    cpu {{ vcpus 2 }}\n    disk {b}\n}}\n"
        )
        .replace(r#"usb "046d:c52b""#, &format!("usb \"046d:c52b\"\n    disk {a}"))
    };
    let found = check(
        &workstation(),
        &two(
            r#""/var/lib/libvirt/images/data.img""#,
            r#""/var/lib//libvirt/images/./data.img""#,
        ),
    );
    expect(&found, "storage/shared-disk", Severity::Error);
    // Both read-only: fine.
    let found = check(
        &workstation(),
        &two(
            r#""/var/lib/libvirt/images/data.img" readonly=#true"#,
            r#""/var/lib/libvirt/images/data.img" readonly=#true"#,
        ),
    );
    assert!(
        !found.codes().contains(&"storage/shared-disk"),
        "{}",
        found.rendered
    );
    // One writer is enough to corrupt it.
    let found = check(
        &workstation(),
        &two(
            r#""/var/lib/libvirt/images/data.img" readonly=#true"#,
            r#""/var/lib/libvirt/images/data.img""#,
        ),
    );
    assert!(
        found.has("storage/shared-disk", Severity::Error),
        "{}",
        found.rendered
    );
}

#[test]
fn storage_in_use_through_a_disk_path() {
    // The host's root disk by its kernel name and by udev's by-id link.
    let by_id = "/dev/disk/by-id/nvme-Samsung_SSD_970_EVO_Plus_500GB_S4EVNX0N812345A";
    for path in ["/dev/nvme0n1", by_id] {
        let spec = edit(
            r#"usb "046d:c52b""#,
            &format!("usb \"046d:c52b\"\n    disk \"{path}\""),
        );
        let found = check(&workstation(), &spec);
        assert!(
            found.has("storage/in-use", Severity::Error),
            "{path}: {}",
            found.rendered
        );
        assert!(
            found.rendered.contains("the root filesystem"),
            "{}",
            found.rendered
        );
    }
    // The guest's own drive is not mounted on the host.
    let spec = edit(
        r#"usb "046d:c52b""#,
        "usb \"046d:c52b\"\n    disk \"/dev/nvme1n1\"",
    );
    assert!(
        !check(&workstation(), &spec)
            .codes()
            .contains(&"storage/in-use")
    );
}

#[test]
fn memory_overcommit() {
    // Two VMs that may run together: 20 + 12 GiB on a 31.3 GiB host.
    let spec = edit(
        r#"memory "16GiB" hugepages="dynamic""#,
        r#"memory "20GiB" hugepages="dynamic""#,
    ) + "vm \"linux\" {\n    memory \"12GiB\"\n    cpu { vcpus 2 }\n}\n";
    let found = check(&workstation(), &spec);
    expect(&found, "memory/overcommit", Severity::Error);
    assert!(
        found.rendered.contains("32 GiB"),
        "human units: {}",
        found.rendered
    );
    assert!(
        found.rendered.contains(" GiB of memory"),
        "{}",
        found.rendered
    );
    // Sharing the GPU, they never run together: only the larger counts.
    let sharing = spec.replace(
        "memory \"12GiB\"\n",
        "memory \"12GiB\"\n    passthrough \"rtx3080\"\n",
    );
    assert!(
        !check(&workstation(), &sharing)
            .codes()
            .contains(&"memory/overcommit")
    );
    // Within the host's means but above what is free right now: a warning.
    let mut busy = workstation();
    busy.memory.available_kb = 8 << 20;
    let found = check(&busy, WORKSTATION);
    assert!(
        found.has("memory/overcommit", Severity::Warning),
        "{}",
        found.rendered
    );
}

#[test]
fn storage_relative_path() {
    let spec = edit(
        r#"usb "046d:c52b""#,
        "usb \"046d:c52b\"\n    disk \"images/win10.qcow2\" format=\"qcow2\"\n    cdrom \"./virtio-win.iso\"",
    );
    let found = check(&workstation(), &spec);
    expect(&found, "storage/relative-path", Severity::Error);
    assert_eq!(
        found
            .codes()
            .iter()
            .filter(|c| **c == "storage/relative-path")
            .count(),
        2
    );
}

#[test]
fn hook_script_writable() {
    // The binary gathers who can write the scripts (a rule never reads the disk), so this case
    // runs `passplan check` on a tree holding them.
    use std::os::unix::fs::PermissionsExt as _;
    if !rustix::process::geteuid().is_root() {
        println!("SKIPPED: giving a file to another user needs root");
        return;
    }
    let root = write_seed(&workstation());
    let bin = root.path().join("usr/local/bin");
    std::fs::create_dir_all(&bin).unwrap();
    let mut spec = WORKSTATION.to_owned();
    let cases = [
        ("safe.sh", 0, 0o755, None),
        ("alice.sh", 1000, 0o755, Some("owned by uid 1000")),
        ("anyone.sh", 0, 0o777, Some("writable by everyone")),
    ];
    for (name, uid, mode, _) in cases {
        let script = bin.join(name);
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        std::os::unix::fs::chown(&script, Some(uid), Some(0)).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(mode)).unwrap();
        spec = spec.replacen(
            "    usb \"046d:c52b\"\n",
            &format!("    usb \"046d:c52b\"\n    hook \"prepare/begin\" script=\"/usr/local/bin/{name}\"\n"),
            1,
        );
    }
    // A root-owned script in a directory another user may write can be replaced.
    let shared = root.path().join("srv/shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(shared.join("x.sh"), "#!/bin/sh\n").unwrap();
    spec = spec.replacen(
        "    usb \"046d:c52b\"\n",
        "    usb \"046d:c52b\"\n    hook \"release/end\" script=\"/srv/shared/x.sh\"\n",
        1,
    );
    let file = root.path().join("host.kdl");
    std::fs::write(&file, &spec).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_passplan"))
        .args(["check", "--no-color"])
        .env("COLUMNS", "400")
        .arg(&file)
        .arg("--root")
        .arg(root.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning does not fail: {stdout}"
    );
    assert_eq!(
        stdout.matches("hook/script-writable").count(),
        3,
        "alice.sh, anyone.sh and the shared directory, not safe.sh: {stdout}"
    );
    for fact in [
        "/usr/local/bin/alice.sh is owned by uid 1000",
        "/usr/local/bin/anyone.sh is writable by everyone",
        "its directory /srv/shared is writable by everyone",
    ] {
        assert!(stdout.contains(fact), "{fact}: {stdout}");
    }
    assert!(!stdout.contains("safe.sh is"), "{stdout}");
}

#[test]
fn every_rule_has_a_failing_case_here() {
    let source = include_str!("check_rules.rs");
    for rule in passplan::check::rules::RULES {
        let name = rule.code.0;
        assert!(
            source.contains(&format!("\"{name}\"")),
            "no test case for {name}"
        );
    }
}

#[test]
fn seed_003_binds_its_gtx970_by_ids() {
    let spec = std::fs::read_to_string(format!(
        "{}/examples/seed-003/host.kdl",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let found = check(&seed003(), &spec);
    assert!(
        !found.codes().contains(&"binding/ids-ambiguous"),
        "the GTX 970's ids are unique on that host"
    );
}

/// The Raven Ridge APU of MSI's B450M Mortar (`shared/realworld/iommu/b450m-mortar_raven-ridge…`)
/// grafted onto the workstation: iGPU alone in a group, its HDMI audio with the PSP and USB.
#[test]
fn device_function_stays() {
    let mut host = workstation();
    let template = host
        .pci_device("0f:00.3")
        .expect("a Matisse function")
        .clone();
    for (f, vendor, device, class, driver, group) in [
        (0, 0x1002, 0x15dd, 0x03_0000, "amdgpu", 51),
        (1, 0x1002, 0x15de, 0x04_0300, "snd_hda_intel", 52),
        (2, 0x1022, 0x15df, 0x10_8000, "ccp", 52),
        (3, 0x1022, 0x15e0, 0x0c_0330, "xhci_hcd", 52),
    ] {
        let mut pci = template.clone();
        pci.driver = Some(driver.to_owned());
        pci.address = format!("0000:38:00.{f}");
        pci.vendor = vendor;
        pci.device = device;
        pci.class = class;
        pci.group = Some(group);
        pci.boot_vga = (class >> 8 == 0x0300).then_some(false);
        host.pci.push(pci);
    }
    let spec = edit(
        r#"device "guest-nvme""#,
        "gpu \"vega\" { pci \"38:00.0\"; role \"guest\" }\ndevice \"guest-nvme\"",
    )
    .replace(
        r#"passthrough "rtx3080" "guest-nvme""#,
        r#"passthrough "rtx3080" "guest-nvme" "vega""#,
    );
    let found = check(&host, &spec);
    expect(&found, "device/function-stays", Severity::Notice);
    assert!(
        !found.codes().contains(&"iommu/group-incomplete"),
        "{}",
        found.rendered
    );
}

/// The ACS override of the 5700G and 5700U hosts (`shared/realworld/iommu/*ACS-override*`) on
/// the workstation's running command line.
#[test]
fn iommu_groups_synthetic() {
    let mut host = workstation();
    host.cmdline = format!(
        "{} pcie_acs_override=downstream,multifunction",
        host.cmdline
    );
    let found = check(&host, WORKSTATION);
    expect(&found, "iommu/groups-synthetic", Severity::Warning);
    assert!(
        found.rendered.contains(r#"acs-override "downstream""#)
            && found.rendered.contains(r#""multifunction" }"#),
        "{}",
        found.rendered
    );
}

/// smartperson's `vfio.conf` on the workstation, whose vfio-pci is built into the kernel: the
/// line does nothing there.
#[test]
fn binding_host_config() {
    let mut host = workstation();
    host.set_file(
        "etc/modprobe.d/vfio.conf",
        "options vfio-pci ids=1002:731f,1002:ab38\noptions vfio-pci diable_vga=1\n",
    );
    let found = check(&host, WORKSTATION);
    expect(&found, "binding/host-config", Severity::Warning);
}
