//! Boot: which loader mechanism owns the kernel command line, what it will pass at the next
//! boot, which initramfs generator builds the images, and whether vfio-pci is built in.
//!
//! Loader detection probes in the order of FACTS §1, strongest evidence first: kernelstub's
//! config *and* binary (Pop!_OS also has systemd-boot files, which kernelstub rewrites); the
//! `LoaderInfo` EFI variable, which names the loader that actually booted; `BOOT_IMAGE=` on
//! the running command line (only GRUB adds it); then configuration files.

use std::path::Path;

use super::sysroot::Root;
use super::{BootInfo, Initramfs, KernelCmdline, Loader, VfioPci};

/// systemd's vendor GUID for the boot loader interface variables.
const LOADER_INFO: &str =
    "/sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";
const KERNELSTUB_CONFIG: &str = "/etc/kernelstub/configuration";
const DEFAULT_GRUB: &str = "/etc/default/grub";
/// Where systemd-boot's `loader/` directory lives, by ESP mount point.
const LOADER_DIRS: [&str; 3] = ["/boot/loader", "/boot/efi/loader", "/efi/loader"];

/// An EFI variable's bytes (4-byte attribute header, then UTF-16LE, NUL-terminated) → text.
pub(super) fn parse_efi_string(bytes: &[u8]) -> Option<String> {
    let units: Vec<u16> = bytes
        .get(4..)?
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .take_while(|&u| u != 0)
        .collect();
    let text = String::from_utf16_lossy(&units);
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// kernelstub's JSON → the configured options: `user.kernel_options`, or `default`'s when
/// there is no `user` section (kernelstub copies `default` then). `root=` is synthesised by
/// kernelstub and never stored, so it is not here either.
pub(super) fn parse_kernelstub(text: &str) -> Option<KernelCmdline> {
    let json: serde_json::Value = serde_json::from_str(text).ok()?;
    let section = json.get("user").or_else(|| json.get("default"))?;
    let options = section.get("kernel_options")?.as_array()?;
    let joined: Vec<&str> = options
        .iter()
        .filter_map(serde_json::Value::as_str)
        .collect();
    Some(KernelCmdline::parse(&joined.join(" ")))
}

/// Variable assignments of a shell file like `/etc/default/grub`, in order, values after
/// quote removal and `$VAR`/`${VAR}` expansion from earlier assignments. Nothing is executed:
/// lines that are not plain assignments (`if`, `source`, `export X`) are skipped.
pub(super) fn shell_assignments(text: &str, vars: &mut Vec<(String, String)>) {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        // Start of a statement: skip blanks and separators.
        while chars.get(i).is_some_and(|c| c.is_whitespace() || *c == ';') {
            i += 1;
        }
        let start = i;
        while chars
            .get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            i += 1;
        }
        let mut name: String = chars.get(start..i).unwrap_or_default().iter().collect();
        if name == "export" && chars.get(i).is_some_and(|c| *c == ' ' || *c == '\t') {
            while chars.get(i).is_some_and(|c| *c == ' ' || *c == '\t') {
                i += 1;
            }
            let start = i;
            while chars
                .get(i)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
            {
                i += 1;
            }
            name = chars.get(start..i).unwrap_or_default().iter().collect();
        }
        let valid = name.chars().next().is_some_and(|c| !c.is_ascii_digit());
        if valid && chars.get(i) == Some(&'=') {
            i += 1;
            let value = shell_word(&chars, &mut i, vars);
            vars.push((name, value));
        }
        // Whatever follows on the line (a comment, another command) is not ours.
        while chars.get(i).is_some_and(|c| *c != '\n') {
            i += 1;
        }
    }
}

/// One shell word from `chars[*i]`: double quotes (with `\` escapes and expansion), single
/// quotes (literal), bare text (with `\` escapes and expansion), until unquoted whitespace or
/// `;`. An unterminated quote runs to the end of the text, as the shell would report an error
/// rather than guess.
fn shell_word(chars: &[char], i: &mut usize, vars: &[(String, String)]) -> String {
    let mut out = String::new();
    while let Some(&c) = chars.get(*i) {
        match c {
            c if c.is_whitespace() || c == ';' => break,
            '\'' => {
                *i += 1;
                while let Some(&c) = chars.get(*i) {
                    *i += 1;
                    if c == '\'' {
                        break;
                    }
                    out.push(c);
                }
            }
            '"' => {
                *i += 1;
                while let Some(&c) = chars.get(*i) {
                    *i += 1;
                    match c {
                        '"' => break,
                        '\\' => match chars.get(*i) {
                            Some(&n @ ('"' | '\\' | '$' | '`')) => {
                                out.push(n);
                                *i += 1;
                            }
                            Some('\n') => *i += 1,
                            _ => out.push('\\'),
                        },
                        '$' => expand(chars, i, vars, &mut out),
                        c => out.push(c),
                    }
                }
            }
            '\\' => {
                *i += 1;
                match chars.get(*i) {
                    Some('\n') => *i += 1,
                    Some(&n) => {
                        out.push(n);
                        *i += 1;
                    }
                    None => {}
                }
            }
            '$' => {
                *i += 1;
                expand(chars, i, vars, &mut out);
            }
            c => {
                out.push(c);
                *i += 1;
            }
        }
    }
    out
}

/// After a `$` at `chars[*i - 1]`: `NAME` or `{NAME}` → the last value assigned to it (empty
/// when unset). Anything else leaves the `$` literal.
fn expand(chars: &[char], i: &mut usize, vars: &[(String, String)], out: &mut String) {
    let braced = chars.get(*i) == Some(&'{');
    let start = if braced { *i + 1 } else { *i };
    let mut end = start;
    while chars
        .get(end)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
    {
        end += 1;
    }
    if end == start || (braced && chars.get(end) != Some(&'}')) {
        out.push('$');
        return;
    }
    let name: String = chars.get(start..end).unwrap_or_default().iter().collect();
    if let Some((_, value)) = vars.iter().rev().find(|(n, _)| *n == name) {
        out.push_str(value);
    }
    *i = if braced { end + 1 } else { end };
}

/// The last value assigned to `name`.
fn lookup<'a>(vars: &'a [(String, String)], name: &str) -> Option<&'a str> {
    vars.iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// GRUB's configured command line: `GRUB_CMDLINE_LINUX` then `GRUB_CMDLINE_LINUX_DEFAULT`, in
/// the order grub-mkconfig writes them onto the `linux` line.
pub(super) fn grub_cmdline(vars: &[(String, String)]) -> Option<KernelCmdline> {
    let linux = lookup(vars, "GRUB_CMDLINE_LINUX");
    let default = lookup(vars, "GRUB_CMDLINE_LINUX_DEFAULT");
    if linux.is_none() && default.is_none() {
        return None;
    }
    Some(KernelCmdline::parse(&format!(
        "{} {}",
        linux.unwrap_or(""),
        default.unwrap_or("")
    )))
}

/// `options …` lines of a systemd-boot entry, joined (several lines add up).
pub(super) fn entry_options(text: &str) -> Option<KernelCmdline> {
    let options: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("options"))
        .filter(|rest| rest.starts_with([' ', '\t']))
        .map(str::trim)
        .collect();
    (!options.is_empty()).then(|| KernelCmdline::parse(&options.join(" ")))
}

/// The `default` of a `loader.conf`, when it names an entry exactly (globs are not expanded).
fn loader_default(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let rest = l.trim_start().strip_prefix("default")?;
        rest.starts_with([' ', '\t'])
            .then(|| rest.trim().to_owned())
    })
}

/// A loader, the evidence that decided it, and its configured command line.
type LoaderFacts = (Option<Loader>, Option<String>, Option<KernelCmdline>);

/// Which loader owns the command line (order in the module docs).
fn detect_loader(root: &Root, running: &KernelCmdline) -> LoaderFacts {
    let kernelstub_bin = ["/usr/bin/kernelstub", "/bin/kernelstub"]
        .iter()
        .any(|p| root.exists(p));
    if kernelstub_bin && let Some(text) = root.read(KERNELSTUB_CONFIG) {
        return (
            Some(Loader::Kernelstub),
            Some(KERNELSTUB_CONFIG.to_owned()),
            parse_kernelstub(&text),
        );
    }

    let mut grub_vars = Vec::new();
    let default_grub = root.read(DEFAULT_GRUB);
    if let Some(text) = &default_grub {
        shell_assignments(text, &mut grub_vars);
    }
    let blscfg = lookup(&grub_vars, "GRUB_ENABLE_BLSCFG") == Some("true");
    let grubby = blscfg && root.exists("/boot/grub2/grub.cfg");
    let grub = |evidence: String| {
        if grubby {
            // grubby owns the BLS entries' options; reading them is left to a later stage.
            return (Some(Loader::Grubby), Some(evidence), None);
        }
        let mut vars = grub_vars.clone();
        // Debian-family grub-mkconfig sources drop-ins after the main file (FACTS §1).
        // The glob is `*.cfg`, case-sensitive like the shell's.
        for name in root.list("/etc/default/grub.d") {
            if Path::new(&name).extension().is_some_and(|e| e == "cfg")
                && let Some(text) = root.read(&format!("/etc/default/grub.d/{name}"))
            {
                shell_assignments(&text, &mut vars);
            }
        }
        (Some(Loader::Grub), Some(evidence), grub_cmdline(&vars))
    };

    let loader_info = root
        .read_bytes(LOADER_INFO)
        .and_then(|b| parse_efi_string(&b));
    if let Some(info) = &loader_info {
        if info.starts_with("systemd-boot") {
            return systemd_boot(root, LOADER_INFO.to_owned());
        }
        if info.starts_with("GRUB") {
            return grub(LOADER_INFO.to_owned());
        }
    }
    if running.has_key("BOOT_IMAGE") {
        return grub("/proc/cmdline".to_owned());
    }
    if default_grub.is_some() && root.exists("/boot/grub/grub.cfg") {
        return grub("/boot/grub/grub.cfg".to_owned());
    }
    if grubby {
        return grub("/boot/grub2/grub.cfg".to_owned());
    }
    if root.exists("/etc/kernel/cmdline") {
        return systemd_boot(root, "/etc/kernel/cmdline".to_owned());
    }
    if let Some(dir) = LOADER_DIRS
        .iter()
        .find(|d| root.exists(&format!("{d}/loader.conf")))
    {
        return systemd_boot(root, format!("{dir}/loader.conf"));
    }
    (None, None, None)
}

/// systemd-boot: `/etc/kernel/cmdline` (kernel-install's source), else the `options` of the
/// default or only hand-written entry.
fn systemd_boot(root: &Root, evidence: String) -> LoaderFacts {
    let configured = root
        .read("/etc/kernel/cmdline")
        .map(|t| KernelCmdline::parse(&t))
        .or_else(|| {
            LOADER_DIRS.iter().find_map(|dir| {
                let entries_dir = format!("{dir}/entries");
                let entries: Vec<String> = root
                    .list(&entries_dir)
                    .into_iter()
                    .filter(|n| {
                        Path::new(n)
                            .extension()
                            .is_some_and(|e| e.eq_ignore_ascii_case("conf"))
                    })
                    .collect();
                let default = root
                    .read(&format!("{dir}/loader.conf"))
                    .and_then(|t| loader_default(&t));
                let chosen = match (entries.as_slice(), default) {
                    ([only], _) => only.clone(),
                    (_, Some(d)) => entries
                        .iter()
                        .find(|e| **e == d || e.strip_suffix(".conf") == Some(&d))?
                        .clone(),
                    _ => return None,
                };
                entry_options(&root.read(&format!("{entries_dir}/{chosen}"))?)
            })
        });
    (Some(Loader::SystemdBoot), Some(evidence), configured)
}

/// The initramfs generator and its evidence. Order: booster and mkinitcpio first, because an
/// Arch host may carry dracut's config directory beside the generator it actually uses; then
/// the generators' binaries before their config directories, because a removed package's
/// config (`/etc/initramfs-tools/` after switching to dracut) outlives its binary.
fn detect_initramfs(root: &Root) -> Option<(Initramfs, String)> {
    const PROBES: [(&str, Initramfs); 9] = [
        ("/etc/booster.yaml", Initramfs::Booster),
        ("/etc/mkinitcpio.conf", Initramfs::Mkinitcpio),
        ("/usr/sbin/update-initramfs", Initramfs::InitramfsTools),
        ("/sbin/update-initramfs", Initramfs::InitramfsTools),
        ("/usr/bin/dracut", Initramfs::Dracut),
        ("/usr/sbin/dracut", Initramfs::Dracut),
        ("/etc/initramfs-tools", Initramfs::InitramfsTools),
        ("/etc/dracut.conf", Initramfs::Dracut),
        ("/etc/dracut.conf.d", Initramfs::Dracut),
    ];
    PROBES
        .iter()
        .find(|(path, _)| root.exists(path))
        .map(|(path, kind)| (*kind, (*path).to_owned()))
}

/// Boot facts.
pub(super) fn discover(root: &Root, running: &KernelCmdline) -> BootInfo {
    let (loader, loader_evidence, configured_cmdline) = detect_loader(root, running);
    let (initramfs, initramfs_evidence) = detect_initramfs(root).unzip();
    BootInfo {
        loader,
        loader_evidence,
        initramfs,
        initramfs_evidence,
        configured_cmdline,
    }
}

/// Whether a `modules.builtin`/`modules.dep` path names vfio-pci (`…/vfio-pci.ko`, `.ko.zst`).
fn is_vfio_pci_path(path: &str) -> bool {
    let file = path.trim().rsplit('/').next().unwrap_or_default();
    let stem = file.split('.').next().unwrap_or_default();
    stem == "vfio-pci" || stem == "vfio_pci"
}

/// How the running kernel provides vfio-pci (FACTS §2).
pub(super) fn vfio_pci(root: &Root, release: Option<&str>) -> VfioPci {
    if let Some(release) = release.filter(|r| !r.contains('/') && *r != "..") {
        let dir = format!("/lib/modules/{release}");
        if let Some(builtin) = root.read(&format!("{dir}/modules.builtin"))
            && builtin.lines().any(is_vfio_pci_path)
        {
            return VfioPci::BuiltIn;
        }
        if let Some(dep) = root.read(&format!("{dir}/modules.dep"))
            && dep
                .lines()
                .filter_map(|l| l.split(':').next())
                .any(is_vfio_pci_path)
        {
            return VfioPci::Module;
        }
    }
    // A loaded module has `initstate`; a built-in one only its parameters directory.
    if root.exists("/sys/module/vfio_pci/initstate") {
        VfioPci::Module
    } else if root.is_dir("/sys/module/vfio_pci") {
        VfioPci::BuiltIn
    } else {
        VfioPci::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::{
        entry_options, grub_cmdline, is_vfio_pci_path, loader_default, parse_efi_string,
        parse_kernelstub, shell_assignments,
    };

    fn keys(cmdline: &super::KernelCmdline) -> Vec<String> {
        cmdline
            .tokens
            .iter()
            .map(|t| match &t.value {
                Some(v) => format!("{}={v}", t.key),
                None => t.key.clone(),
            })
            .collect()
    }

    #[test]
    fn loader_info_utf16() {
        let mut bytes = vec![0x06, 0, 0, 0];
        for u in "systemd-boot 254.5".encode_utf16() {
            bytes.extend(u.to_le_bytes());
        }
        bytes.extend([0, 0, 0x41, 0]);
        assert_eq!(
            parse_efi_string(&bytes).as_deref(),
            Some("systemd-boot 254.5")
        );
        assert_eq!(parse_efi_string(&[1, 2]), None);
        assert_eq!(
            parse_efi_string(&[6, 0, 0, 0, b'G', 0, b'R']).as_deref(),
            Some("G")
        );
    }

    #[test]
    fn kernelstub_user_only() {
        let json = r#"{"user": {"kernel": "/boot/vmlinuz", "kernel_options": ["quiet", "splash", "amd_iommu=on", "vfio-pci.ids=10de:1b81,10de:10f0"], "config_rev": 3}}"#;
        let cmdline = parse_kernelstub(json).unwrap();
        assert_eq!(
            keys(&cmdline),
            [
                "quiet",
                "splash",
                "amd_iommu=on",
                "vfio-pci.ids=10de:1b81,10de:10f0"
            ]
        );
        let default_only = r#"{"default": {"kernel_options": ["quiet"]}}"#;
        assert_eq!(keys(&parse_kernelstub(default_only).unwrap()), ["quiet"]);
        assert!(parse_kernelstub("{not json").is_none());
        assert!(parse_kernelstub(r#"{"user": {"kernel_options": "quiet"}}"#).is_none());
    }

    #[test]
    fn grub_defaults_with_quotes_comments_and_duplicates() {
        let text = "# GRUB_CMDLINE_LINUX_DEFAULT=\"commented\"\nGRUB_DEFAULT=0\n\
                    GRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash\"\n  #GRUB_CMDLINE_LINUX=\"nope\"\n\
                    GRUB_CMDLINE_LINUX='iommu=pt $NOT_EXPANDED'\n\
                    GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT amd_iommu=on\" # trailing comment\n\
                    GRUB_TIMEOUT=5 ; GRUB_X=y\nexport GRUB_ENABLE_BLSCFG=true\nif [ -x /x ]; then\n  GRUB_Y=bare\\ word\nfi\n";
        let mut vars = Vec::new();
        shell_assignments(text, &mut vars);
        let cmdline = grub_cmdline(&vars).unwrap();
        assert_eq!(
            keys(&cmdline),
            [
                "iommu=pt",
                "$NOT_EXPANDED",
                "quiet",
                "splash",
                "amd_iommu=on"
            ]
        );
        let get = |n: &str| {
            vars.iter()
                .rev()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("GRUB_TIMEOUT").as_deref(), Some("5"));
        assert_eq!(
            get("GRUB_X"),
            None,
            "a second statement on a line is not read"
        );
        assert_eq!(get("GRUB_ENABLE_BLSCFG").as_deref(), Some("true"));
        assert_eq!(get("GRUB_Y").as_deref(), Some("bare word"));
    }

    #[test]
    fn grub_odd_text_does_not_panic() {
        for text in [
            "A=\"unterminated",
            "A=\\",
            "A=${",
            "A=${B",
            "=x",
            "1A=x",
            "A=$",
            "'\"",
            "A='x",
        ] {
            let mut vars = Vec::new();
            shell_assignments(text, &mut vars);
        }
        let mut vars = Vec::new();
        shell_assignments("GRUB_CMDLINE_LINUX=\"a\nb\"", &mut vars);
        assert_eq!(keys(&grub_cmdline(&vars).unwrap()), ["a", "b"]);
    }

    #[test]
    fn systemd_boot_entries() {
        let entry = "title Arch Linux\nlinux /vmlinuz-linux\ninitrd /initramfs-linux.img\n\
                     options root=PARTUUID=abc rw intel_iommu=on\noptions vfio-pci.ids=10de:1b81\n";
        assert_eq!(
            keys(&entry_options(entry).unwrap()),
            [
                "root=PARTUUID=abc",
                "rw",
                "intel_iommu=on",
                "vfio-pci.ids=10de:1b81"
            ]
        );
        assert!(entry_options("optionsfoo bar\n").is_none());
        assert_eq!(
            loader_default("timeout 3\ndefault  arch.conf\n").as_deref(),
            Some("arch.conf")
        );
    }

    #[test]
    fn vfio_module_paths() {
        assert!(is_vfio_pci_path("kernel/drivers/vfio/pci/vfio-pci.ko"));
        assert!(is_vfio_pci_path("kernel/drivers/vfio/pci/vfio-pci.ko.zst"));
        assert!(!is_vfio_pci_path(
            "kernel/drivers/vfio/pci/vfio-pci-core.ko"
        ));
        assert!(!is_vfio_pci_path(""));
    }
}
