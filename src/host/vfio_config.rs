//! The host's own vfio configuration, read from the `/etc/modprobe.d/*.conf` files discovery
//! already holds ([`HostFacts::files`]): `options vfio-pci ids=`, `alias pci:… vfio-pci`,
//! `install vfio-pci …`, `softdep … pre: vfio-pci` and `blacklist` lines, each with its file and
//! line, in the order kmod reads them (files sorted by name, lines in order).
//!
//! Pure: parsing never fails; a line kmod could not make sense of is kept as
//! [`Directive::Malformed`] so the checker can name its file and line.

use super::{HostFacts, PciDevice};
use crate::model::PciId;

/// The directory whose `*.conf` files modprobe reads (and passplan writes its own file to).
const MODPROBE_DIR: &str = "/etc/modprobe.d/";

/// One line of modprobe configuration that matters for vfio-pci.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VfioLine {
    /// The file, absolute (`/etc/modprobe.d/vfio.conf`).
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// The line as written (trimmed).
    pub text: String,
    /// What it says.
    pub directive: Directive,
}

/// What a modprobe line says about vfio-pci or a driver it competes with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// `options vfio-pci ids=…`: the ids vfio-pci claims at load (the last such line wins).
    Ids(Vec<PciId>),
    /// `alias pci:v…d…sv…sd…bc…sc…i… vfio-pci`: every device matching the pattern.
    Alias(String),
    /// `install vfio-pci COMMAND`; `loads_module` when the command loads the real module
    /// (`modprobe --ignore-install vfio-pci`, `-i`, or `insmod`).
    Install {
        /// The command.
        command: String,
        /// Whether it ends up loading vfio-pci.
        loads_module: bool,
    },
    /// `softdep MODULE pre: … vfio-pci …`.
    Softdep(String),
    /// `blacklist MODULE`.
    Blacklist(String),
    /// A line kmod would not understand, with what is wrong.
    Malformed(String),
}

/// `vfio-pci` or `vfio_pci`.
fn is_vfio(module: &str) -> bool {
    module.replace('-', "_") == "vfio_pci"
}

impl HostFacts {
    /// The vfio-related lines of `/etc/modprobe.d/*.conf`, in kmod's reading order.
    pub fn vfio_config(&self) -> Vec<VfioLine> {
        let mut out = Vec::new();
        // `files` is a BTreeMap: paths, and so names within one directory, are sorted.
        for (path, text) in &self.files {
            let Some(name) = path.strip_prefix(MODPROBE_DIR) else {
                continue;
            };
            // kmod reads `*.conf` only (case matters to it too).
            let conf = std::path::Path::new(name)
                .extension()
                .is_some_and(|e| e == "conf");
            if name.contains('/') || !conf {
                continue;
            }
            parse_file(path, text, &mut out);
        }
        out
    }
}

/// The vfio-related lines of one modprobe file's text, as [`HostFacts::vfio_config`] reads
/// them (for the fuzzer and for tools that read one file).
pub fn parse_modprobe(path: &str, text: &str) -> Vec<VfioLine> {
    let mut out = Vec::new();
    parse_file(path, text, &mut out);
    out
}

fn parse_file(path: &str, text: &str, out: &mut Vec<VfioLine>) {
    // kmod joins lines ending in a backslash; a joined line is reported at its first line.
    let mut pending: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let (start, mut line) = pending.take().unwrap_or((index + 1, String::new()));
        if let Some(head) = raw.strip_suffix('\\') {
            line.push_str(head);
            line.push(' ');
            pending = Some((start, line));
            continue;
        }
        line.push_str(raw);
        if let Some(directive) = parse_line(&line) {
            out.push(VfioLine {
                file: path.to_owned(),
                line: start,
                text: line.trim().to_owned(),
                directive,
            });
        }
    }
    if let Some((start, line)) = pending
        && let Some(directive) = parse_line(&line)
    {
        out.push(VfioLine {
            file: path.to_owned(),
            line: start,
            text: line.trim().to_owned(),
            directive,
        });
    }
}

/// One logical line → a directive, when it concerns vfio (or blacklists a module).
fn parse_line(line: &str) -> Option<Directive> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut words = line.split_whitespace();
    let command = words.next()?;
    let rest: Vec<&str> = words.collect();
    match command {
        "options" => {
            let module = rest.first()?;
            if !is_vfio(module) {
                return None;
            }
            let ids: Vec<&str> = rest[1..]
                .iter()
                .filter_map(|p| p.strip_prefix("ids="))
                .collect();
            let value = ids.last()?;
            let value = value.trim_matches('"');
            let mut parsed = Vec::new();
            for item in value.split(',').filter(|s| !s.is_empty()) {
                // vendor:device[:subvendor:subdevice[:class[:mask]]]: the first two decide.
                let mut parts = item.split(':');
                match (parts.next(), parts.next()) {
                    (Some(v), Some(d)) => match format!("{v}:{d}").parse::<PciId>() {
                        Ok(id) => parsed.push(id),
                        Err(_) => {
                            return Some(Directive::Malformed(format!(
                                "`{item}` is not a vendor:device id"
                            )));
                        }
                    },
                    _ => {
                        return Some(Directive::Malformed(format!(
                            "`{item}` is not a vendor:device id"
                        )));
                    }
                }
            }
            Some(Directive::Ids(parsed))
        }
        "alias" => match rest.as_slice() {
            [pattern, module] if is_vfio(module) => Some(Directive::Alias((*pattern).to_owned())),
            [_, _] => None,
            _ => rest
                .last()
                .filter(|m| is_vfio(m))
                .map(|_| Directive::Malformed("`alias` takes a pattern and a module".to_owned())),
        },
        "install" => {
            let module = rest.first()?;
            if !is_vfio(module) {
                return None;
            }
            let command = rest[1..].join(" ");
            if command.is_empty() {
                return Some(Directive::Malformed(
                    "`install vfio-pci` without a command".to_owned(),
                ));
            }
            Some(Directive::Install {
                loads_module: loads_module(&command),
                command,
            })
        }
        "softdep" => {
            let module = rest.first()?;
            let pre = rest
                .iter()
                .skip_while(|w| **w != "pre:")
                .skip(1)
                .take_while(|w| **w != "post:");
            pre.clone()
                .any(|m| is_vfio(m))
                .then(|| Directive::Softdep((*module).to_owned()))
        }
        "blacklist" => match rest.as_slice() {
            [module] => Some(Directive::Blacklist((*module).to_owned())),
            _ => Some(Directive::Malformed(
                "`blacklist` takes exactly one module".to_owned(),
            )),
        },
        "remove" | "include" | "config" => None,
        other => Some(Directive::Malformed(format!(
            "`{other}` is not a modprobe.d command (options, alias, install, remove, softdep, blacklist)"
        ))),
    }
}

/// Whether an `install vfio-pci` command loads the real module.
fn loads_module(command: &str) -> bool {
    command.split([';', '&', '|']).any(|part| {
        let words: Vec<&str> = part.split_whitespace().collect();
        let modprobe = words.iter().position(|w| w.ends_with("modprobe"));
        let skips_install = words.iter().any(|w| *w == "--ignore-install" || *w == "-i");
        let names_vfio = words.iter().any(|w| is_vfio(w));
        (modprobe.is_some() && skips_install && names_vfio)
            || words.iter().any(|w| w.ends_with("insmod"))
    })
}

/// Whether a modalias pattern (`pci:v00001002d000067DFsv…`, `*` and `?` globs) matches a
/// function. Hex digits compare without case, as the kernel's modalias is upper-case.
pub fn alias_matches(pattern: &str, device: &PciDevice) -> bool {
    let (sv, sd) = device.subsystem.map_or((0, 0), |s| (s.vendor, s.device));
    let alias = format!(
        "pci:v{:08X}d{:08X}sv{:08X}sd{:08X}bc{:02X}sc{:02X}i{:02X}",
        device.id.vendor,
        device.id.device,
        sv,
        sd,
        device.class >> 16,
        (device.class >> 8) & 0xff,
        device.class & 0xff
    );
    glob(&pattern.to_ascii_uppercase(), &alias.to_ascii_uppercase())
}

/// `*` and `?` glob over bytes, as `fnmatch` without brackets (modprobe aliases, systemd-boot's
/// `default`).
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_that_matter_and_malformed_ones() {
        assert_eq!(
            parse_line("options vfio-pci ids=1002:731f,1002:ab38"),
            Some(Directive::Ids(vec![
                "1002:731f".parse().unwrap(),
                "1002:ab38".parse().unwrap()
            ]))
        );
        assert_eq!(parse_line("options vfio-pci diable_vga=1"), None);
        assert_eq!(parse_line("options kvm ignore_msrs=1"), None);
        assert_eq!(
            parse_line("options vfio_pci ids=10de:1b80:ffffffff:ffffffff:00030000:ffff00ff"),
            Some(Directive::Ids(vec!["10de:1b80".parse().unwrap()]))
        );
        assert!(matches!(
            parse_line("options vfio-pci ids=radeon"),
            Some(Directive::Malformed(_))
        ));
        assert!(matches!(
            parse_line("optoins vfio-pci ids=1002:731f"),
            Some(Directive::Malformed(_))
        ));
        assert_eq!(
            parse_line("softdep snd_hda_intel pre: vfio-pci"),
            Some(Directive::Softdep("snd_hda_intel".into()))
        );
        assert_eq!(parse_line("softdep drm pre: i915"), None);
        assert_eq!(
            parse_line("install vfio-pci /usr/sbin/vfio-pci-override"),
            Some(Directive::Install {
                command: "/usr/sbin/vfio-pci-override".into(),
                loads_module: false
            })
        );
        assert!(matches!(
            parse_line(
                "install vfio-pci /bin/sh /etc/passplan/vfio-override.sh; /sbin/modprobe --ignore-install vfio-pci $CMDLINE_OPTS"
            ),
            Some(Directive::Install {
                loads_module: true,
                ..
            })
        ));
        assert_eq!(
            parse_line("blacklist amdgpu"),
            Some(Directive::Blacklist("amdgpu".into()))
        );
        assert_eq!(parse_line("# options vfio-pci ids=1022:149c"), None);
    }

    #[test]
    fn continued_lines_are_one_line_at_their_first() {
        let mut out = Vec::new();
        parse_file(
            "/etc/modprobe.d/x.conf",
            "# x\noptions vfio-pci \\\n  ids=1002:731f\n",
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].line, 2);
    }

    #[test]
    fn modalias_globs() {
        assert!(glob("PCI:V00001002D*", "PCI:V00001002D000067DF"));
        assert!(glob("A?C", "ABC"));
        assert!(!glob("A?C", "ABD"));
        assert!(glob("*", ""));
    }
}
