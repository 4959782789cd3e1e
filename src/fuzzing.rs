//! Fuzz entry points, one per target under `fuzz/fuzz_targets/`.
//!
//! Each function takes the fuzzer's raw bytes and drives one family of parsers the way passplan
//! itself does, asserting the invariants that must hold for *any* input (no panic, well-formed
//! output, editors that converge). They live in the library, not in `fuzz/`, so that the normal
//! test suite can replay every committed corpus file and every past crash through exactly the
//! same code (`tests/it/fuzz_regressions.rs`) without cargo-fuzz or a nightly toolchain.
//!
//! Not part of passplan's interface: hidden from the docs and free to change.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::desired::SpecSource;
use crate::emit::loader::{grub, kernelstub, systemd_boot, tokens};
use crate::host::{CmdlineToken, HostFacts, KernelCmdline};
use crate::model::{ByteSize, CpuSet, PciAddress, PciId, UsbId};

/// The byte that separates the parts of an input made of several values. 0xFF never occurs in
/// UTF-8, so every part is itself free to hold any text, newlines and NULs included.
const SEPARATOR: u8 = 0xFF;

/// The committed example host the spec targets check against, discovered once per process
/// (discovery reads ~1700 files; doing it per input would make fuzzing crawl).
fn workstation() -> &'static HostFacts {
    static HOST: OnceLock<HostFacts> = OnceLock::new();
    HOST.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/workstation/root");
        crate::host::discover(&root).expect("the committed example host is discoverable")
    })
}

/// Decode, check against the example host, render the report, and compile — the whole of
/// `passplan check`/`plan` short of reading the machine. Nothing may panic; a spec that checks
/// must compile (`CompileError` is documented as a bug in an emitter), except for an edit the
/// host's own files refuse.
pub fn spec(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (decoded, mut diags) = crate::spec::parse(text);
    if let Some(decoded) = decoded {
        let (checked, found) = crate::check::check(decoded, workstation().clone());
        diags.extend(found);
        if let Some(checked) = checked {
            let source = SpecSource {
                name: "fuzz.kdl".to_owned(),
                text: text.to_owned(),
                dir: None,
            };
            match crate::compile::compile(&checked, &source) {
                Ok(_) | Err(crate::desired::CompileError::Edit { .. }) => {}
                Err(e) => panic!("a checked spec failed to compile: {e}"),
            }
        }
    }
    // Spans must lie inside the source: miette slices the text with them.
    let report = crate::diag::Report::new("fuzz.kdl", text, diags.sorted());
    let _ = crate::diag::render_report(&report, 100, false);
}

/// The value parsers of `src/model/` on arbitrary text; what parses must print back to
/// something that parses to the same value (the kernel's canonical form).
pub fn cpuset(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(set) = CpuSet::parse(&text) {
        let printed = set.to_string();
        assert_eq!(
            CpuSet::parse(&printed).as_ref(),
            Ok(&set),
            "{printed:?} does not read back"
        );
    }
    let _ = CpuSet::parse_ordered(&text);
    if let Ok(address) = text.parse::<PciAddress>() {
        assert_eq!(
            address.to_string().parse::<PciAddress>().ok(),
            Some(address)
        );
    }
    if let Ok(id) = text.parse::<PciId>() {
        assert_eq!(id.to_string().parse::<PciId>().ok(), Some(id));
    }
    let _ = text.parse::<UsbId>();
    if let Ok(size) = text.parse::<ByteSize>() {
        let _ = size.approx();
    }
}

/// `/proc/cmdline` (and every loader's command-line text) split the kernel's way.
pub fn cmdline(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // `=value` has an empty key, as in the kernel's own `next_arg`: not an error.
    let _ = KernelCmdline::parse(&text);
    let _ = crate::host::is_loader_injected(&text);
    let scanned = tokens::scan(&text);
    for located in &scanned.tokens {
        assert!(
            text.get(located.span.clone()).is_some(),
            "a token span off a char boundary"
        );
    }
    assert!(text.get(..scanned.insert_at).is_some());
}

/// The files [`host_tree`] writes, in the order the input's parts fill them.
const HOST_FILES: [&str; 14] = [
    "/proc/cmdline",
    "/proc/cpuinfo",
    "/sys/devices/system/cpu/online",
    "/sys/devices/system/cpu/cpu0/topology/thread_siblings_list",
    "/sys/devices/system/cpu/cpu0/topology/core_cpus_list",
    "/etc/default/grub",
    "/etc/kernelstub/configuration",
    "/etc/modprobe.d/fuzz.conf",
    "/etc/kernel/cmdline",
    "/proc/meminfo",
    "/proc/self/mountinfo",
    "/proc/swaps",
    "/proc/sys/kernel/osrelease",
    "/sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f",
];

/// A temporary directory of this process, removed when dropped.
struct TempRoot(PathBuf);

impl TempRoot {
    fn new() -> std::io::Result<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "passplan-fuzz-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A small host tree whose files are the input's parts (split at 0xFF): a CPU, `/dev/kvm`, a
/// few links, and the text files above, then `host::discover` and the JSON `passplan host`
/// prints. Discovery must treat any content as facts or their absence, never panic.
pub fn host_tree(data: &[u8]) {
    let Ok(root) = TempRoot::new() else {
        return;
    };
    let base = &root.0;
    let put = |path: &str, bytes: &[u8]| {
        let full = base.join(path.trim_start_matches('/'));
        if let Some(dir) = full.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(full, bytes);
    };
    put("/dev/kvm", b"");
    put("/sys/devices/system/cpu/cpu0/online", b"1\n");
    put("/sys/kernel/iommu_groups/0/devices/.keep", b"");
    for (path, part) in HOST_FILES.iter().zip(data.split(|b| *b == SEPARATOR)) {
        put(path, part);
    }
    // A link that climbs out of the root: discovery must stay inside.
    let _ = std::os::unix::fs::symlink("../../../../..", base.join("sys/devices/system/cpu/up"));
    if let Ok(facts) = crate::host::discover(base) {
        let _ = serde_json::to_string(&facts);
    }
}

/// The files passplan keeps about itself under the root, in the order the input's parts fill
/// them ([`state_files`]).
const STATE_FILES: [&str; 3] = [
    crate::system::state::STATE_PATH,
    crate::apply::journal::JOURNAL_PATH,
    crate::apply::lock::LOCK_PATH,
];

/// passplan's own files as a damaged, truncated or hostile root holds them: the ownership state,
/// the journal and the lock file (the input's parts, split at 0xFF), read the way `plan`,
/// `apply`, `recover` and `rollback` read them. Each must load or refuse with a message; what
/// loads must save to bytes that load back as the same value; the lock must be taken (and the
/// pid it reports taken over must be one the file names) or refused with a message.
pub fn state_files(data: &[u8]) {
    use crate::apply::journal::Journal;
    use crate::apply::lock::Lock;
    use crate::system::RealSystem;
    use crate::system::state::State;

    let Ok(root) = TempRoot::new() else {
        return;
    };
    let base = &root.0;
    let parts: Vec<&[u8]> = data.split(|b| *b == SEPARATOR).collect();
    for (path, part) in STATE_FILES.iter().zip(&parts) {
        let full = base.join(path.trim_start_matches('/'));
        if let Some(dir) = full.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(full, part);
    }
    let mut sys = RealSystem::new(base);
    match State::load(&sys) {
        Ok(state) => {
            state.save(&mut sys).expect("a loaded state saves again");
            assert_eq!(
                State::load(&sys).ok().as_ref(),
                Some(&state),
                "the state does not read back as written"
            );
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    match Journal::load(&sys) {
        Ok(Some(journal)) => {
            for entry in &journal.entries {
                let _ = journal.backup_path(&entry.path);
            }
            journal
                .save(&mut sys)
                .expect("a loaded journal saves again");
            assert_eq!(
                Journal::load(&sys).ok().flatten().as_ref(),
                Some(&journal),
                "the journal does not read back as written"
            );
        }
        Ok(None) => {}
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    let lock_text = parts
        .get(2)
        .map(|p| String::from_utf8_lossy(p).into_owned());
    match Lock::acquire(base) {
        Ok(lock) => {
            if let Some(pid) = lock.took_over {
                assert!(
                    lock_text
                        .as_deref()
                        .is_some_and(|t| t.contains(&pid.to_string())),
                    "took over pid {pid}, which the lock file does not name"
                );
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// A loader editor: current text, wanted tokens, tokens to drop → new text or why not.
type Editor = fn(&str, &[CmdlineToken], &[&str]) -> Result<String, String>;

/// The tokens the editors are asked for: what a boot-bound GPU spec wants, with the
/// order-dependent hugepage block.
fn wanted() -> Vec<CmdlineToken> {
    [
        ("amd_iommu", Some("on")),
        ("iommu", Some("pt")),
        ("vfio-pci.ids", Some("10de:2206,10de:1aef")),
        ("default_hugepagesz", Some("1G")),
        ("hugepagesz", Some("1G")),
        ("hugepages", Some("16")),
        ("quiet", None),
    ]
    .into_iter()
    .map(|(key, value)| CmdlineToken {
        key: key.to_owned(),
        value: value.map(str::to_owned),
    })
    .collect()
}

/// The loader editors on arbitrary current file text. The first part (up to 0xFF) is an extra
/// command line whose tokens are also wanted, so hostile token values (quotes, `$`, newlines)
/// reach the writers; the rest is the file. Each editor must either refuse with a message or
/// produce text that, edited again, stays the same (the next apply converges).
pub fn editors(data: &[u8]) {
    let (extra, file) = match data.iter().position(|b| *b == SEPARATOR) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&[][..], data),
    };
    let file = String::from_utf8_lossy(file);
    let mut want = wanted();
    want.extend(KernelCmdline::parse(&String::from_utf8_lossy(extra)).tokens);
    let drop_keys = ["intel_iommu", "vfio_pci.ids", "hugepages"];
    let editors: [(&str, Editor); 4] = [
        ("grub", grub::edit),
        ("kernelstub", kernelstub::edit),
        ("kernel-cmdline", systemd_boot::edit_cmdline),
        ("loader-entry", systemd_boot::edit_entry),
    ];
    for (name, edit) in editors {
        if let Ok(once) = edit(&file, &want, &drop_keys) {
            let twice = edit(&once, &want, &drop_keys);
            assert_eq!(
                twice.as_deref(),
                Ok(once.as_str()),
                "{name}: editing its own output changes it again"
            );
        }
    }
}

/// KDL 2 quoted-string form of `text` (escapes for `"`, `\` and every control character).
/// Public for the hostile-value tests, which build specs from arbitrary strings the same way.
pub fn kdl_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Hostile free-text values (SMBIOS strings, disk and ISO paths, the Hyper-V vendor id) taken
/// from the input's parts, put into a VM of the example workstation, and the domain XML
/// passplan emits read back with quick-xml: it must be well-formed whatever the values, and
/// every SMBIOS value must read back as written (less the characters XML cannot hold).
pub fn domain_xml(data: &[u8]) {
    let parts: Vec<String> = data
        .split(|b| *b == SEPARATOR)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let part = |i: usize, default: &str| parts.get(i).cloned().unwrap_or_else(|| default.into());
    let spec = format!(
        r#"gpu "rtx3080" {{ pci "0d:00.0" id="10de:2206"; role "guest"; bind "vm-start" }}
gpu "rx5700" {{ pci "0c:00.0" id="1002:731f"; role "host" }}
vm "w" {{
    memory "4GiB"
    cpu {{ vcpus 2 }}
    passthrough "rtx3080"
    disk {disk}
    cdrom {iso}
    hyperv vendor-id={vendor}
    smbios {{
        bios vendor={bios}
        system manufacturer={maker} product={product} serial={serial}
    }}
}}
"#,
        bios = kdl_string(&part(0, "bios")),
        maker = kdl_string(&part(1, "maker")),
        product = kdl_string(&part(2, "product")),
        serial = kdl_string(&part(3, "serial")),
        disk = kdl_string(&part(4, "/var/lib/libvirt/images/w.img")),
        iso = kdl_string(&part(5, "/srv/iso/w.iso")),
        vendor = kdl_string(&part(6, "passplan")),
    );
    let (Some(decoded), _) = crate::spec::parse(&spec) else {
        return;
    };
    let (Some(checked), _) = crate::check::check(decoded, workstation().clone()) else {
        return;
    };
    let Some(crate::spec::Smbios::Values { bios, system }) =
        checked.spec.vms[0].smbios.as_ref().map(|s| s.value.clone())
    else {
        return;
    };
    let cx = checked.context();
    let xml = crate::emit::domain::domain_xml(&checked.spec.vms[0], &cx);
    let entries = read_back(&xml);
    for (_, value) in bios.iter().chain(&system) {
        let shown: String = value
            .chars()
            .map(|c| {
                if (c < ' ' && !matches!(c, '\t' | '\n' | '\r'))
                    || matches!(c, '\u{fffe}' | '\u{ffff}')
                {
                    '\u{fffd}'
                } else {
                    c
                }
            })
            .collect();
        assert!(
            entries.contains(&shown),
            "SMBIOS value {value:?} does not read back from {xml}"
        );
    }
}

/// Every event of `xml` (panics on malformed XML, as the fuzzer wants), returning the text of
/// each `<entry>` element with entities resolved.
fn read_back(xml: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut entries = Vec::new();
    let mut current: Option<String> = None;
    loop {
        match reader
            .read_event()
            .expect("the emitted domain XML is well-formed")
        {
            Event::Start(e) => {
                for a in e.attributes() {
                    let a = a.expect("attribute");
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .expect("attribute value");
                }
                if e.name().as_ref() == "entry" {
                    current = Some(String::new());
                }
            }
            Event::Empty(e) => {
                for a in e.attributes() {
                    a.expect("attribute")
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .expect("attribute value");
                }
            }
            Event::Text(t) => {
                if let Some(c) = current.as_mut() {
                    c.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let text = match r.resolve_char_ref().expect("character reference") {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&r)
                        .expect("a predefined entity")
                        .to_owned(),
                };
                if let Some(c) = current.as_mut() {
                    c.push_str(&text);
                }
            }
            Event::End(e) => {
                if e.name().as_ref() == "entry"
                    && let Some(c) = current.take()
                {
                    entries.push(c);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    entries
}

/// A modprobe file as a user or a hostile root holds it, through the reader of the host's own
/// vfio configuration ([`crate::host::parse_modprobe`]): it never fails, every line it reports
/// is a line of the file (continuation lines joined, reported at their first), a malformed
/// line says what is wrong, and the same text always reads the same.
pub fn modprobe(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines = crate::host::parse_modprobe("/etc/modprobe.d/fuzz.conf", &text);
    let count = text.lines().count();
    for l in &lines {
        assert!(l.line >= 1 && l.line <= count, "line {} of {count}", l.line);
        assert_eq!(l.file, "/etc/modprobe.d/fuzz.conf");
        if let crate::host::Directive::Malformed(why) = &l.directive {
            assert!(!why.is_empty(), "a malformed line says why");
        }
    }
    assert_eq!(
        crate::host::parse_modprobe("/etc/modprobe.d/fuzz.conf", &text),
        lines,
        "the same text reads the same"
    );
}
