//! The decoder: KDL document → [`Spec`], checked against the [`grammar`](super::grammar) as it goes.
//!
//! Every node is first checked structurally against its grammar entry (unknown children and
//! properties with did-you-mean, argument counts, repeats), then its values are read with their
//! spans. Problems are collected; decoding continues past them so one run reports them all.

use std::collections::BTreeMap;
use std::str::FromStr;

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

use super::grammar::{self, NodeDef};
use super::{
    Accel, Bind, BindBy, BindTime, Boot, BootHugepages, Bridge, BridgeBackend, Clock, ClockOffset,
    CpuBlock, Device, Disk, DiskBus, Firmware, GpuRole, Handoff, HookPhase, HostBlock,
    HugepageMode, Hyperv, InitramfsChoice, IoThreads, IommuMode, Isolation, LoaderChoice, Memory,
    Network, NetworkSource, Pin, PinPrefer, Smbios, Spanned, Spec, UserHook, Vm,
};
use crate::diag::{self, Diagnostic, Diagnostics, did_you_mean};
use crate::model::{ByteSize, CpuSet, PciAddress, PciId, UsbId};

/// Parse and decode a spec. Returns the spec when there were no errors (warnings allowed),
/// and every finding either way.
pub fn parse(text: &str) -> (Option<Spec>, Diagnostics) {
    let mut d = Decoder {
        diags: Diagnostics::new(),
    };
    if let Some(at) = super::depth::too_deep(text) {
        d.diags.push(
            Diagnostic::error(
                diag::codes::PARSE,
                format!(
                    "blocks nest more than {} deep",
                    super::depth::MAX_DEPTH
                ),
            )
            .at(SourceSpan::from((at, 1)), "too deep")
            .help("a spec nests at most a few blocks (`vm { smbios { system … } }`); check for a missing `}`"),
        );
        return (None, d.diags);
    }
    let doc = match KdlDocument::parse(text) {
        Ok(doc) => doc,
        Err(err) => {
            for item in err.diagnostics {
                let message = item
                    .message
                    .unwrap_or_else(|| "this is not valid KDL 2".to_owned());
                let mut diagnostic = Diagnostic::error(diag::codes::PARSE, message)
                    .at(item.span, item.label.unwrap_or_else(|| "here".to_owned()));
                diagnostic.help = Some(item.help.unwrap_or_else(|| {
                    "check quotes and braces; KDL 2 writes booleans as #true and #false".to_owned()
                }));
                d.diags.push(diagnostic);
            }
            return (None, d.diags);
        }
    };
    let spec = d.document(&doc);
    let ok = !d.diags.has_errors();
    (ok.then_some(spec), d.diags)
}

struct Decoder {
    diags: Diagnostics,
}

/// A node together with its grammar entry and dotted path.
#[derive(Clone, Copy)]
struct At<'a> {
    node: &'a KdlNode,
    def: &'static NodeDef,
}

impl<'a> At<'a> {
    fn name(&self) -> &'a str {
        self.node.name().value()
    }

    fn span(&self) -> SourceSpan {
        self.node.name().span()
    }

    fn args(&self) -> impl Iterator<Item = &'a KdlEntry> {
        self.node.entries().iter().filter(|e| e.name().is_none())
    }

    fn arg(&self, index: usize) -> Option<&'a KdlEntry> {
        self.args().nth(index)
    }

    fn prop(&self, name: &str) -> Option<&'a KdlEntry> {
        debug_assert!(
            self.def.props.contains(&name),
            "{} reads undeclared property {name}",
            self.def.path
        );
        // KDL: the rightmost occurrence of a property wins.
        self.node
            .entries()
            .iter()
            .rev()
            .find(|e| e.name().is_some_and(|n| n.value() == name))
    }

    fn children(&self) -> impl Iterator<Item = &'a KdlNode> {
        self.node
            .children()
            .into_iter()
            .flat_map(KdlDocument::nodes)
    }

    fn child(&self, name: &str) -> Option<&'a KdlNode> {
        self.children().find(|n| n.name().value() == name)
    }

    fn children_named(self, name: &'a str) -> impl Iterator<Item = &'a KdlNode> + 'a {
        let node = self.node;
        node.children()
            .into_iter()
            .flat_map(KdlDocument::nodes)
            .filter(move |n| n.name().value() == name)
    }
}

fn type_name(value: &KdlValue) -> &'static str {
    match value {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "a number",
        KdlValue::Float(_) => "a decimal number",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
}

impl Decoder {
    fn error(
        &mut self,
        code: diag::Code,
        span: SourceSpan,
        message: impl Into<String>,
        label: &str,
        help: impl Into<String>,
    ) {
        self.diags
            .push(Diagnostic::error(code, message).at(span, label).help(help));
    }

    /// Check a node's shape against its grammar entry: properties, argument count, children.
    /// Returns the node with its definition.
    fn shape<'a>(&mut self, node: &'a KdlNode, def: &'static NodeDef) -> At<'a> {
        let at = At { node, def };
        let mut seen_props = Vec::new();
        for entry in node.entries() {
            let Some(prop) = entry.name() else { continue };
            let name = prop.value();
            if !def.props.contains(&name) {
                let help = match did_you_mean(name, def.props.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None if def.props.is_empty() => format!("`{}` takes no properties", at.name()),
                    None => format!("`{}` takes: {}", at.name(), def.props.join(", ")),
                };
                self.error(
                    diag::codes::UNKNOWN_PROPERTY,
                    prop.span(),
                    format!("unknown property `{name}` on `{}`", at.name()),
                    "not a property of this node",
                    help,
                );
            } else if seen_props.contains(&name) {
                self.error(
                    diag::codes::DUPLICATE_NODE,
                    prop.span(),
                    format!("property `{name}` is given twice"),
                    "given again here",
                    "keep one of them",
                );
            }
            seen_props.push(name);
        }
        let (min, max) = def.arg_bounds();
        let count = at.args().count();
        if count > max {
            let extra = at.arg(max).map_or(at.span(), KdlEntry::span);
            let help = if max == 0 {
                if def.props.is_empty() {
                    format!("`{}` takes no value", at.name())
                } else {
                    format!(
                        "`{}` takes properties: {} (write name=\"value\")",
                        at.name(),
                        def.props.join(", ")
                    )
                }
            } else {
                format!("`{}` takes {}", at.name(), def.args)
            };
            self.error(
                diag::codes::UNEXPECTED_ARGUMENT,
                extra,
                format!("too many values for `{}`", at.name()),
                "unexpected",
                help,
            );
        } else if count < min {
            self.error(
                diag::codes::MISSING_VALUE,
                at.span(),
                format!("`{}` needs a value", at.name()),
                "value missing",
                format!("write: {} {}", at.name(), def.args),
            );
        }
        let mut seen_children: BTreeMap<&str, SourceSpan> = BTreeMap::new();
        for child in at.children() {
            let name = child.name().value();
            let path = format!("{}.{name}", def.path);
            match grammar::node_def(&path) {
                None => {
                    let known = grammar::child_names(def.path);
                    let help = match did_you_mean(name, known.iter().copied()) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None if known.is_empty() => format!("`{}` has no children", at.name()),
                        None => format!("`{}` takes: {}", at.name(), known.join(", ")),
                    };
                    self.error(
                        diag::codes::UNKNOWN_NODE,
                        child.name().span(),
                        format!("unknown node `{name}` in `{}`", at.name()),
                        "not known here",
                        help,
                    );
                }
                Some(child_def) => {
                    if let Some(first) = seen_children.get(name).filter(|_| !child_def.repeatable) {
                        let _ = first;
                        self.error(
                            diag::codes::DUPLICATE_NODE,
                            child.name().span(),
                            format!("`{name}` is given twice in `{}`", at.name()),
                            "given again here",
                            "keep one of them",
                        );
                    }
                    seen_children.entry(name).or_insert(child.name().span());
                }
            }
        }
        at
    }

    /// Shape-check a known child and return it.
    fn sub<'a>(&mut self, node: &'a KdlNode, parent: &At<'_>) -> Option<At<'a>> {
        let def = grammar::node_def(&format!("{}.{}", parent.def.path, node.name().value()))?;
        Some(self.shape(node, def))
    }

    fn child<'a>(&mut self, parent: &At<'a>, name: &str) -> Option<At<'a>> {
        let node = parent.child(name)?;
        self.sub(node, parent)
    }

    // ---- values ---------------------------------------------------------------------------

    fn string(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<String>> {
        match entry.value() {
            KdlValue::String(s) => Some(Spanned::new(s.clone(), entry.span())),
            other => {
                let help = format!("write {what} in quotes");
                self.error(
                    diag::codes::INVALID_VALUE,
                    entry.span(),
                    format!("expected {what}, found {}", type_name(other)),
                    "wrong type",
                    help,
                );
                None
            }
        }
    }

    fn integer(
        &mut self,
        entry: &KdlEntry,
        what: &str,
        min: u64,
        max: u64,
    ) -> Option<Spanned<u64>> {
        match entry.value() {
            KdlValue::Integer(n) if u64::try_from(*n).is_ok_and(|n| (min..=max).contains(&n)) => {
                Some(Spanned::new(u64::try_from(*n).unwrap_or(min), entry.span()))
            }
            KdlValue::Integer(n) => {
                self.error(
                    diag::codes::INVALID_VALUE,
                    entry.span(),
                    format!("{what} must be between {min} and {max}, not {n}"),
                    "out of range",
                    format!("write {what} as a whole number from {min} to {max}"),
                );
                None
            }
            other => {
                self.error(
                    diag::codes::INVALID_VALUE,
                    entry.span(),
                    format!("expected {what} as a number, found {}", type_name(other)),
                    "wrong type",
                    "write a whole number without quotes, like 8",
                );
                None
            }
        }
    }

    fn u32_value(
        &mut self,
        entry: &KdlEntry,
        what: &str,
        min: u32,
        max: u32,
    ) -> Option<Spanned<u32>> {
        let n = self.integer(entry, what, u64::from(min), u64::from(max))?;
        Some(Spanned::new(u32::try_from(n.value).unwrap_or(max), n.span))
    }

    fn boolean(&mut self, entry: &KdlEntry, what: &str) -> Option<bool> {
        match entry.value() {
            KdlValue::Bool(b) => Some(*b),
            other => {
                self.error(
                    diag::codes::INVALID_VALUE,
                    entry.span(),
                    format!(
                        "expected {what} as #true or #false, found {}",
                        type_name(other)
                    ),
                    "wrong type",
                    "KDL 2 writes booleans as #true and #false",
                );
                None
            }
        }
    }

    /// A string parsed with `FromStr`; the parse error's text is the help.
    fn parsed<T: FromStr>(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<T>>
    where
        T::Err: std::fmt::Display,
    {
        let s = self.string(entry, what)?;
        match s.value.parse::<T>() {
            Ok(v) => Some(Spanned::new(v, s.span)),
            Err(e) => {
                self.error(
                    diag::codes::INVALID_VALUE,
                    s.span,
                    format!("invalid {what}"),
                    "cannot be read",
                    e.to_string(),
                );
                None
            }
        }
    }

    fn cpuset(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<CpuSet>> {
        self.parsed::<CpuSetText>(entry, what)
            .map(|s| Spanned::new(s.value.0, s.span))
    }

    /// One of a fixed set of words.
    fn choice<T: Copy>(
        &mut self,
        entry: &KdlEntry,
        what: &str,
        choices: &[(&str, T)],
    ) -> Option<Spanned<T>> {
        let s = self.string(entry, what)?;
        if let Some((_, v)) = choices.iter().find(|(name, _)| *name == s.value) {
            return Some(Spanned::new(*v, s.span));
        }
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        let help = match did_you_mean(&s.value, names.iter().copied()) {
            Some(near) => format!(
                "did you mean `{near}`? ({what} is one of: {})",
                names.join(", ")
            ),
            None => format!("{what} is one of: {}", names.join(", ")),
        };
        self.error(
            diag::codes::INVALID_VALUE,
            s.span,
            format!("`{}` is not a valid {what}", s.value),
            "unknown value",
            help,
        );
        None
    }

    fn name_arg(&mut self, at: &At<'_>, what: &str) -> Option<Spanned<String>> {
        let entry = at.arg(0)?;
        let name = self.string(entry, what)?;
        if let Err(e) = super::validate_name(&name.value) {
            self.error(diag::codes::UNSAFE_NAME, name.span, format!("`{}` cannot be used as a {what}: {e}", name.value.escape_debug()), "unsafe name", "use ASCII letters, digits, `.`, `_` and `-`, starting with a letter or digit (names become paths and shell words)");
            return None;
        }
        Some(name)
    }

    // ---- nodes ----------------------------------------------------------------------------

    fn document(&mut self, doc: &KdlDocument) -> Spec {
        let mut host = None;
        let mut devices = Vec::new();
        let mut vms = Vec::new();
        let mut host_span: Option<SourceSpan> = None;
        for node in doc.nodes() {
            let name = node.name().value();
            let Some(def) = grammar::node_def(name) else {
                let known = grammar::child_names("");
                let help = match did_you_mean(name, known.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("a spec is made of: {}", known.join(", ")),
                };
                self.error(
                    diag::codes::UNKNOWN_NODE,
                    node.name().span(),
                    format!("unknown node `{name}`"),
                    "not known here",
                    help,
                );
                continue;
            };
            let at = self.shape(node, def);
            match name {
                "host" => {
                    if host_span.is_some() {
                        self.error(
                            diag::codes::DUPLICATE_NODE,
                            at.span(),
                            "`host` is given twice",
                            "given again here",
                            "describe the host in one `host` block",
                        );
                    } else {
                        host_span = Some(at.span());
                        host = Some(self.host(&at));
                    }
                }
                "gpu" | "device" => devices.extend(self.device(&at, name == "gpu")),
                "vm" => vms.extend(self.vm(&at)),
                _ => {}
            }
        }
        let spec = Spec {
            host: host.unwrap_or_default(),
            devices,
            vms,
        };
        self.cross_check(&spec);
        spec
    }

    fn host(&mut self, at: &At<'_>) -> HostBlock {
        let name = self.name_arg(at, "host name");
        let boot = self
            .child(at, "boot")
            .map(|b| self.boot(&b))
            .unwrap_or_default();
        let libvirt_uri = self.child(at, "libvirt").and_then(|l| {
            let entry = l.prop("uri");
            if entry.is_none() {
                self.error(
                    diag::codes::MISSING_VALUE,
                    l.span(),
                    "`libvirt` needs a uri",
                    "uri missing",
                    "write: libvirt uri=\"qemu:///system\"",
                );
            }
            entry.and_then(|e| self.string(e, "libvirt URI"))
        });
        let headless = self.child(at, "headless").map(|h| h.span());
        let mut bridges = Vec::new();
        for node in at.children_named("bridge") {
            if let Some(b) = self.sub(node, at) {
                bridges.extend(self.bridge(&b));
            }
        }
        HostBlock {
            name,
            boot,
            libvirt_uri,
            bridges,
            headless,
        }
    }

    fn boot(&mut self, at: &At<'_>) -> Boot {
        let mut boot = Boot::default();
        if let Some(l) = self.child(at, "loader") {
            let choices = [
                ("auto", None),
                ("grub", Some(LoaderChoice::Grub)),
                ("grubby", Some(LoaderChoice::Grubby)),
                ("kernelstub", Some(LoaderChoice::Kernelstub)),
                ("systemd-boot", Some(LoaderChoice::SystemdBoot)),
            ];
            boot.loader = l
                .arg(0)
                .and_then(|e| self.choice(e, "loader", &choices))
                .and_then(|s| s.value.map(|v| Spanned::new(v, s.span)));
        }
        if let Some(i) = self.child(at, "initramfs") {
            let choices = [
                ("auto", None),
                ("initramfs-tools", Some(InitramfsChoice::InitramfsTools)),
                ("dracut", Some(InitramfsChoice::Dracut)),
                ("mkinitcpio", Some(InitramfsChoice::Mkinitcpio)),
                ("booster", Some(InitramfsChoice::Booster)),
            ];
            boot.initramfs = i
                .arg(0)
                .and_then(|e| self.choice(e, "initramfs generator", &choices))
                .and_then(|s| s.value.map(|v| Spanned::new(v, s.span)));
        }
        if let Some(i) = self.child(at, "iommu") {
            match i.prop("mode") {
                Some(e) => {
                    boot.iommu = self.choice(
                        e,
                        "IOMMU mode",
                        &[("on", IommuMode::On), ("pt", IommuMode::Passthrough)],
                    );
                }
                None => boot.iommu = Some(Spanned::new(IommuMode::On, i.span())),
            }
        }
        if let Some(a) = self.child(at, "acs-override") {
            let mut values = Vec::new();
            for entry in a.args() {
                if let Some(s) = self.string(entry, "ACS override value") {
                    let ok = matches!(s.value.as_str(), "downstream" | "multifunction")
                        || s.value
                            .strip_prefix("id:")
                            .is_some_and(|id| id.parse::<PciId>().is_ok());
                    if ok {
                        values.push(s.value);
                    } else {
                        self.error(
                            diag::codes::INVALID_VALUE,
                            s.span,
                            format!("`{}` is not an ACS override value", s.value),
                            "unknown value",
                            "write downstream, multifunction, or id:vvvv:dddd",
                        );
                    }
                }
            }
            self.diags.push(
                Diagnostic::warning(diag::codes::ACS_OVERRIDE, "the ACS override weakens isolation between PCI devices")
                    .at(a.span(), "asked for here")
                    .help("it works only on kernels with the out-of-tree ACS patch, and a guest may reach devices left with the host; prefer another slot or passing the whole IOMMU group"),
            );
            boot.acs_override = Some(Spanned::new(values, a.span()));
        }
        for node in at.children_named("param") {
            if let Some(p) = self.sub(node, at) {
                for entry in p.args() {
                    if let Some(s) = self.string(entry, "kernel parameter") {
                        if s.value.is_empty()
                            || s.value
                                .chars()
                                .any(|c| c.is_whitespace() || c.is_control() || c == '"')
                        {
                            self.error(diag::codes::INVALID_VALUE, s.span, format!("`{}` is not a single kernel parameter", s.value.escape_debug()), "one token expected", "give each parameter as its own string, without spaces or quotes: param \"video=efifb:off\" \"nowatchdog\"");
                        } else if s.value == "--" {
                            // The editors would read it as the end of the kernel's part and drop it.
                            self.error(diag::codes::INVALID_VALUE, s.span, "`--` is not a kernel parameter: it ends the kernel's part of the command line", "not a parameter", "remove it: what follows `--` goes to init, and passplan writes kernel parameters only");
                        } else {
                            boot.params.push(s);
                        }
                    }
                }
            }
        }
        if let Some(h) = self.child(at, "hugepages") {
            let size = h
                .prop("size")
                .and_then(|e| self.parsed::<ByteSize>(e, "page size"));
            let count = h
                .prop("count")
                .and_then(|e| self.integer(e, "page count", 1, 1 << 32));
            match (size, count) {
                (Some(size), Some(count)) => boot.hugepages = Some(BootHugepages { size, count }),
                _ => {
                    if h.prop("size").is_none() || h.prop("count").is_none() {
                        self.error(
                            diag::codes::MISSING_VALUE,
                            h.span(),
                            "`hugepages` needs size and count",
                            "incomplete",
                            "write: hugepages size=\"1GiB\" count=16",
                        );
                    }
                }
            }
        }
        boot
    }

    fn bridge(&mut self, at: &At<'_>) -> Option<Bridge> {
        let name = self.name_arg(at, "bridge name")?;
        let Some(interface) = at.prop("interface") else {
            self.error(
                diag::codes::MISSING_VALUE,
                at.span(),
                "`bridge` needs the physical interface it bridges",
                "interface missing",
                "write: bridge \"br0\" interface=\"enp5s0\"",
            );
            return None;
        };
        let interface = self.string(interface, "interface name")?;
        if super::validate_name(&interface.value).is_err() || interface.value.len() > 15 {
            self.error(
                diag::codes::UNSAFE_NAME,
                interface.span,
                format!(
                    "`{}` is not a network interface name",
                    interface.value.escape_debug()
                ),
                "not an interface name",
                "interface names are at most 15 characters of letters, digits, `.`, `_`, `-`",
            );
            return None;
        }
        let backend = match at.prop("backend") {
            Some(e) => self.choice(
                e,
                "bridge backend",
                &[
                    ("networkd", BridgeBackend::Networkd),
                    ("networkmanager", BridgeBackend::NetworkManager),
                ],
            )?,
            None => Spanned::new(BridgeBackend::Networkd, at.span()),
        };
        let dhcp = match at.prop("dhcp") {
            Some(e) => self.boolean(e, "dhcp")?,
            None => true,
        };
        Some(Bridge {
            name,
            interface,
            backend,
            dhcp,
        })
    }

    fn device(&mut self, at: &At<'_>, is_gpu: bool) -> Option<Device> {
        let kind = if is_gpu { "GPU name" } else { "device name" };
        let name = self.name_arg(at, kind);
        let pci_node = self.child(at, "pci");
        let mut pci = None;
        let mut id = None;
        let mut subsystem = None;
        match &pci_node {
            Some(p) => {
                pci = p
                    .arg(0)
                    .and_then(|e| self.parsed::<PciAddress>(e, "PCI address"));
                id = p
                    .prop("id")
                    .and_then(|e| self.parsed::<PciId>(e, "vendor:device id"));
                subsystem = p
                    .prop("subsystem")
                    .and_then(|e| self.parsed::<PciId>(e, "subsystem id"));
            }
            None => {
                let noun = if is_gpu { "gpu" } else { "device" };
                self.error(
                    diag::codes::MISSING_VALUE,
                    at.span(),
                    format!("`{noun}` needs a PCI address"),
                    "where is it?",
                    "add: pci \"0d:00.0\" (the address `passplan host` or lspci shows)",
                );
            }
        }
        let role = if is_gpu {
            match self.child(at, "role") {
                Some(r) => r.arg(0).and_then(|e| {
                    self.choice(
                        e,
                        "GPU role",
                        &[("host", GpuRole::Host), ("guest", GpuRole::Guest)],
                    )
                }),
                None => {
                    self.error(
                        diag::codes::MISSING_VALUE,
                        at.span(),
                        "a `gpu` needs a role",
                        "role missing",
                        "add: role \"guest\" (a VM gets it) or role \"host\" (the host keeps it)",
                    );
                    None
                }
            }
        } else {
            None
        };
        let mut bind = Spanned::new(
            Bind {
                when: BindTime::VmStart,
                by: BindBy::Auto,
            },
            at.span(),
        );
        if let Some(b) = self.child(at, "bind") {
            if let Some(when) = b.arg(0).and_then(|e| {
                self.choice(
                    e,
                    "bind time",
                    &[("vm-start", BindTime::VmStart), ("boot", BindTime::Boot)],
                )
            }) {
                let by = match b.prop("by") {
                    Some(e) => self
                        .choice(
                            e,
                            "binding method",
                            &[
                                ("auto", BindBy::Auto),
                                ("ids", BindBy::Ids),
                                ("address", BindBy::Address),
                            ],
                        )
                        .map_or(BindBy::Auto, |s| s.value),
                    None => BindBy::Auto,
                };
                if by != BindBy::Auto && when.value == BindTime::VmStart {
                    self.error(
                        diag::codes::CONFLICT,
                        b.span(),
                        "`by` only applies to binding at boot",
                        "conflicting",
                        "remove `by`, or write bind \"boot\" by=\"address\"",
                    );
                }
                bind = Spanned::new(
                    Bind {
                        when: when.value,
                        by,
                    },
                    when.span,
                );
            }
            if role.as_ref().is_some_and(|r| r.value == GpuRole::Host) {
                self.error(
                    diag::codes::CONFLICT,
                    b.span(),
                    "a host GPU is never bound to vfio-pci",
                    "conflicts with role \"host\"",
                    "remove `bind`, or make the GPU role \"guest\"",
                );
            }
        }
        // The grammar has `handoff` under `gpu` only, so a `device` never gets here.
        let handoff = if let Some(h) = self.child(at, "handoff") {
            {
                let _ = h
                    .arg(0)
                    .and_then(|e| self.choice(e, "handoff", &[("single-gpu", ())]));
                let display_manager = h
                    .prop("display-manager")
                    .and_then(|e| self.string(e, "display manager unit"));
                if let Some(dm) = &display_manager
                    && super::validate_name(dm.value.trim_end_matches(".service")).is_err()
                {
                    self.error(
                        diag::codes::UNSAFE_NAME,
                        dm.span,
                        format!("`{}` is not a systemd unit name", dm.value.escape_debug()),
                        "not a unit name",
                        "write the unit as systemctl shows it, like gdm.service",
                    );
                }
                if role.as_ref().is_some_and(|r| r.value == GpuRole::Host) {
                    self.error(diag::codes::CONFLICT, h.span(), "handoff gives the host's display to a guest, but this GPU stays with the host", "conflicts with role \"host\"", "make the GPU role \"guest\", or remove `handoff`");
                }
                Some(Handoff {
                    span: h.span(),
                    display_manager,
                })
            }
        } else {
            None
        };
        Some(Device {
            name: name?,
            is_gpu,
            pci: pci?,
            id,
            subsystem,
            role: if is_gpu { Some(role?) } else { None },
            bind,
            handoff,
            span: at.node.span(),
        })
    }

    fn vm(&mut self, at: &At<'_>) -> Option<Vm> {
        let name = self.name_arg(at, "VM name");
        let memory = match self.child(at, "memory") {
            Some(m) => self.memory(&m),
            None => {
                self.error(
                    diag::codes::MISSING_VALUE,
                    at.span(),
                    "a `vm` needs memory",
                    "memory missing",
                    "add: memory \"16GiB\"",
                );
                None
            }
        };
        let cpu = match self.child(at, "cpu") {
            Some(c) => self.cpu(&c),
            None => {
                self.error(
                    diag::codes::MISSING_VALUE,
                    at.span(),
                    "a `vm` needs a cpu block",
                    "cpu missing",
                    "add: cpu { vcpus 8 threads=2 }",
                );
                None
            }
        };
        let firmware = match self.child(at, "firmware") {
            Some(f) => {
                let kind = f
                    .arg(0)
                    .and_then(|e| self.choice(e, "firmware", &[("uefi", true), ("bios", false)]));
                let secure_boot = f
                    .prop("secure-boot")
                    .and_then(|e| self.boolean(e, "secure-boot"))
                    .unwrap_or(false);
                kind.map(|k| {
                    Spanned::new(
                        if k.value {
                            Firmware::Uefi { secure_boot }
                        } else {
                            Firmware::Bios
                        },
                        k.span,
                    )
                })
            }
            None => Some(Spanned::new(
                Firmware::Uefi { secure_boot: false },
                at.span(),
            )),
        };
        let machine = match self.child(at, "machine") {
            Some(m) => m
                .arg(0)
                .and_then(|e| self.string(e, "machine type"))
                .filter(|s| {
                    let ok = !s.value.is_empty()
                        && s.value
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
                    if !ok {
                        self.error(
                            diag::codes::INVALID_VALUE,
                            s.span,
                            format!("`{}` is not a machine type", s.value.escape_debug()),
                            "not a machine type",
                            "write q35, or a versioned type like pc-q35-7.2",
                        );
                    }
                    ok
                }),
            None => Some(Spanned::new("q35".to_owned(), at.span())),
        };
        let accel = match self.child(at, "accel") {
            Some(a) => a.arg(0).and_then(|e| {
                self.choice(
                    e,
                    "accelerator",
                    &[("kvm", Accel::Kvm), ("tcg", Accel::Tcg)],
                )
            }),
            None => Some(Spanned::new(Accel::Kvm, at.span())),
        };
        let mut passthrough = Vec::new();
        let mut usb_controllers = Vec::new();
        let mut usb = Vec::new();
        let mut disks = Vec::new();
        let mut cdroms = Vec::new();
        let mut networks = Vec::new();
        let mut hooks = Vec::new();
        for node in at.children() {
            let Some(child) = self.sub_known(node, at) else {
                continue;
            };
            match child.name() {
                "passthrough" => passthrough.extend(
                    child
                        .args()
                        .filter_map(|e| self.string(e, "device name"))
                        .collect::<Vec<_>>(),
                ),
                "usb-controller" => usb_controllers.extend(
                    child
                        .args()
                        .filter_map(|e| self.string(e, "device name"))
                        .collect::<Vec<_>>(),
                ),
                "usb" => usb.extend(
                    child
                        .args()
                        .filter_map(|e| self.parsed::<UsbId>(e, "USB vendor:product id"))
                        .collect::<Vec<_>>(),
                ),
                "disk" => disks.extend(self.disk(&child)),
                "cdrom" => cdroms.extend(child.arg(0).and_then(|e| self.path(e, "ISO path"))),
                "network" => networks.extend(self.network(&child)),
                "hook" => hooks.extend(self.hook(&child)),
                _ => {}
            }
        }
        let hyperv = self.child(at, "hyperv").map(|h| self.hyperv(&h));
        let hide_kvm = self.child(at, "hide-kvm").map(|h| h.span());
        let smbios = self.child(at, "smbios").and_then(|s| self.smbios(&s));
        let clock = match self.child(at, "clock") {
            Some(c) => {
                let offset = c.arg(0).and_then(|e| {
                    self.choice(
                        e,
                        "clock offset",
                        &[
                            ("utc", ClockOffset::Utc),
                            ("localtime", ClockOffset::Localtime),
                        ],
                    )
                });
                let hpet = c
                    .prop("hpet")
                    .and_then(|e| self.boolean(e, "hpet"))
                    .unwrap_or(false);
                offset.map(|offset| Clock { offset, hpet })
            }
            None => Some(Clock {
                offset: Spanned::new(ClockOffset::Localtime, at.span()),
                hpet: false,
            }),
        };
        Some(Vm {
            name: name?,
            memory: memory?,
            cpu: cpu?,
            firmware: firmware?,
            machine: machine?,
            accel: accel?,
            passthrough,
            usb,
            usb_controllers,
            disks,
            cdroms,
            networks,
            hyperv,
            hide_kvm,
            smbios,
            clock: clock?,
            hooks,
            span: at.node.span(),
        })
    }

    /// A child already shape-checked by `shape` is shape-checked again by `sub`; `sub_known`
    /// is for loops over all children, where singular ones are read elsewhere.
    fn sub_known<'a>(&mut self, node: &'a KdlNode, parent: &At<'_>) -> Option<At<'a>> {
        let path = format!("{}.{}", parent.def.path, node.name().value());
        let def = grammar::node_def(&path)?;
        if !def.repeatable {
            return Some(At { node, def });
        }
        Some(self.shape(node, def))
    }

    fn path(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<String>> {
        let s = self.string(entry, what)?;
        if s.value.is_empty() || s.value.chars().any(char::is_control) {
            self.error(
                diag::codes::INVALID_VALUE,
                s.span,
                format!("`{}` is not a usable {what}", s.value.escape_debug()),
                "not a path",
                "write a path without control characters",
            );
            return None;
        }
        Some(s)
    }

    fn memory(&mut self, at: &At<'_>) -> Option<Memory> {
        let size = at
            .arg(0)
            .and_then(|e| self.parsed::<ByteSize>(e, "memory size"));
        if let Some(s) = &size
            && (s.value.0 == 0 || s.value.0 % (1 << 20) != 0)
        {
            self.error(
                diag::codes::INVALID_VALUE,
                s.span,
                "memory must be a positive whole number of MiB",
                "not whole MiB",
                "write a size like \"16GiB\" or \"12288MiB\"",
            );
        }
        let hugepages = match at.prop("hugepages") {
            Some(e) => self.choice(
                e,
                "hugepages mode",
                &[
                    ("none", HugepageMode::None),
                    ("dynamic", HugepageMode::Dynamic),
                    ("static", HugepageMode::Static),
                ],
            ),
            None => Some(Spanned::new(HugepageMode::None, at.span())),
        };
        let page_size = at
            .prop("page-size")
            .and_then(|e| self.parsed::<ByteSize>(e, "page size"));
        if let (Some(ps), Some(hp)) = (&page_size, &hugepages)
            && hp.value == HugepageMode::None
        {
            self.error(
                diag::codes::CONFLICT,
                ps.span,
                "page-size applies only to hugepage-backed memory",
                "conflicts with hugepages=\"none\"",
                "add hugepages=\"dynamic\" or hugepages=\"static\", or remove page-size",
            );
        }
        Some(Memory {
            size: size?,
            hugepages: hugepages?,
            page_size,
        })
    }

    fn cpu(&mut self, at: &At<'_>) -> Option<CpuBlock> {
        let mut vcpus = None;
        let mut threads = Spanned::new(1, at.span());
        let mut sockets = Spanned::new(1, at.span());
        match self.child(at, "vcpus") {
            Some(v) => {
                vcpus = v
                    .arg(0)
                    .and_then(|e| self.u32_value(e, "vCPU count", 1, 4096));
                if let Some(t) = v
                    .prop("threads")
                    .and_then(|e| self.u32_value(e, "threads per core", 1, 16))
                {
                    threads = t;
                }
                if let Some(s) = v
                    .prop("sockets")
                    .and_then(|e| self.u32_value(e, "sockets", 1, 64))
                {
                    sockets = s;
                }
            }
            None => self.error(
                diag::codes::MISSING_VALUE,
                at.span(),
                "`cpu` needs a vCPU count",
                "vcpus missing",
                "add: vcpus 8 threads=2",
            ),
        }
        let pin = self.child(at, "pin").and_then(|p| self.pin(&p));
        let emulator = self
            .child(at, "emulator")
            .and_then(|e| e.arg(0).and_then(|a| self.cpuset(a, "CPU list")));
        let iothreads = self.child(at, "iothreads").and_then(|i| {
            let count = i
                .arg(0)
                .and_then(|e| self.u32_value(e, "I/O thread count", 1, 64))?;
            let cpus = i.prop("cpus").and_then(|e| self.cpuset(e, "CPU list"));
            Some(IoThreads { count, cpus })
        });
        let governor = self
            .child(at, "governor")
            .and_then(|g| g.arg(0).and_then(|e| self.string(e, "governor")))
            .filter(|g| {
                let ok = !g.value.is_empty()
                    && g.value
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if !ok {
                    self.error(
                        diag::codes::INVALID_VALUE,
                        g.span,
                        format!(
                            "`{}` is not a cpufreq governor name",
                            g.value.escape_debug()
                        ),
                        "not a governor",
                        "write a governor like performance, schedutil or ondemand",
                    );
                }
                ok
            });
        let isolate = match self.child(at, "isolate") {
            Some(i) => i.arg(0).and_then(|e| {
                self.choice(
                    e,
                    "isolation",
                    &[
                        ("none", Isolation::None),
                        ("dynamic", Isolation::Dynamic),
                        ("boot", Isolation::Boot),
                    ],
                )
            })?,
            None => Spanned::new(Isolation::None, at.span()),
        };
        Some(CpuBlock {
            vcpus: vcpus?,
            threads,
            sockets,
            pin,
            emulator,
            iothreads,
            governor,
            isolate,
            span: at.span(),
        })
    }

    fn pin(&mut self, at: &At<'_>) -> Option<Spanned<Pin>> {
        let forms: Vec<&str> = ["cores", "cpus", "policy"]
            .into_iter()
            .filter(|p| at.prop(p).is_some())
            .collect();
        if forms.len() > 1 {
            self.error(
                diag::codes::CONFLICT,
                at.span(),
                format!(
                    "`pin` takes one of cores, cpus or policy, not {}",
                    forms.join(" and ")
                ),
                "conflicting",
                "keep one form",
            );
            return None;
        }
        for (name, fix) in [
            (
                "reserve",
                "remove reserve, or write pin policy=\"auto\" reserve=1",
            ),
            (
                "prefer",
                "remove prefer, or write pin policy=\"auto\" prefer=\"vcache\"",
            ),
        ] {
            if let Some(e) = at.prop(name)
                && at.prop("policy").is_none()
            {
                self.error(
                    diag::codes::CONFLICT,
                    e.span(),
                    format!("`{name}` applies only to policy=\"auto\""),
                    "conflicting",
                    fix,
                );
            }
        }
        if let Some(e) = at.prop("cores") {
            return self
                .cpuset(e, "core list")
                .map(|s| Spanned::new(Pin::Cores(s.value), s.span));
        }
        if let Some(e) = at.prop("cpus") {
            let s = self.string(e, "CPU list")?;
            return match crate::model::CpuSet::parse_ordered(&s.value) {
                Ok(list) if !list.is_empty() => Some(Spanned::new(Pin::Cpus(list), s.span)),
                Ok(_) => {
                    self.error(
                        diag::codes::INVALID_VALUE,
                        s.span,
                        "the CPU list is empty",
                        "empty",
                        "list one host CPU per vCPU, like \"6,18,7,19\"",
                    );
                    None
                }
                Err(err) => {
                    self.error(
                        diag::codes::INVALID_VALUE,
                        s.span,
                        "invalid CPU list",
                        "cannot be read",
                        err.to_string(),
                    );
                    None
                }
            };
        }
        if let Some(e) = at.prop("policy") {
            let policy = self.choice(e, "pin policy", &[("auto", ())])?;
            let reserve = match at.prop("reserve") {
                Some(r) => self.u32_value(r, "reserved cores", 0, 4096)?.value,
                None => 1,
            };
            let prefer = match at.prop("prefer") {
                Some(e) => {
                    self.choice(
                        e,
                        "pin preference",
                        &[
                            ("none", PinPrefer::None),
                            ("vcache", PinPrefer::Vcache),
                            ("frequency", PinPrefer::Frequency),
                        ],
                    )?
                    .value
                }
                None => PinPrefer::None,
            };
            return Some(Spanned::new(Pin::Auto { reserve, prefer }, policy.span));
        }
        self.error(
            diag::codes::MISSING_VALUE,
            at.span(),
            "`pin` needs cores, cpus or policy",
            "nothing to pin",
            "write pin cores=\"6-11\", pin cpus=\"6,18,7,19\" or pin policy=\"auto\"",
        );
        None
    }

    fn disk(&mut self, at: &At<'_>) -> Option<Disk> {
        let path = at.arg(0).and_then(|e| self.path(e, "disk path"))?;
        let bus = match at.prop("bus") {
            Some(e) => self.choice(
                e,
                "disk bus",
                &[
                    ("virtio-blk", DiskBus::VirtioBlk),
                    ("virtio-scsi", DiskBus::VirtioScsi),
                    ("sata", DiskBus::Sata),
                ],
            )?,
            None => Spanned::new(DiskBus::VirtioBlk, at.span()),
        };
        let word =
            |d: &mut Self, prop: &str, what: &str, choices: &[&str]| -> Option<Spanned<String>> {
                let e = at.prop(prop)?;
                let pairs: Vec<(&str, &str)> = choices.iter().map(|c| (*c, *c)).collect();
                d.choice(e, what, &pairs)
                    .map(|s| Spanned::new(s.value.to_owned(), s.span))
            };
        let cache = word(
            self,
            "cache",
            "cache mode",
            &["none", "writethrough", "writeback", "directsync", "unsafe"],
        );
        let io = word(self, "io", "I/O mode", &["threads", "native", "io_uring"]);
        let discard = word(self, "discard", "discard mode", &["unmap", "ignore"]);
        let format = word(self, "format", "image format", &["raw", "qcow2"]);
        let queues = at
            .prop("queues")
            .and_then(|e| self.u32_value(e, "queue count", 1, 256));
        let iothread = at
            .prop("iothread")
            .and_then(|e| self.u32_value(e, "I/O thread number", 1, 64));
        Some(Disk {
            path,
            bus,
            cache,
            io,
            discard,
            queues,
            iothread,
            format,
        })
    }

    fn network(&mut self, at: &At<'_>) -> Option<Network> {
        let source = match (at.prop("bridge"), at.prop("network")) {
            (Some(b), None) => self
                .string(b, "bridge name")
                .map(|s| Spanned::new(NetworkSource::Bridge(s.value), s.span)),
            (None, Some(n)) => self
                .string(n, "network name")
                .map(|s| Spanned::new(NetworkSource::Network(s.value), s.span)),
            (Some(_), Some(_)) => {
                self.error(
                    diag::codes::CONFLICT,
                    at.span(),
                    "a NIC attaches to a bridge or a network, not both",
                    "conflicting",
                    "keep bridge= or network=",
                );
                None
            }
            (None, None) => Some(Spanned::new(
                NetworkSource::Network("default".to_owned()),
                at.span(),
            )),
        }?;
        let (NetworkSource::Bridge(n) | NetworkSource::Network(n)) = &source.value;
        if super::validate_name(n).is_err() {
            self.error(
                diag::codes::UNSAFE_NAME,
                source.span,
                format!("`{}` is not a bridge or network name", n.escape_debug()),
                "unsafe name",
                "use letters, digits, `.`, `_`, `-`",
            );
            return None;
        }
        let model = match at.prop("model") {
            Some(e) => self
                .choice(
                    e,
                    "NIC model",
                    &[
                        ("virtio", "virtio"),
                        ("e1000e", "e1000e"),
                        ("e1000", "e1000"),
                        ("rtl8139", "rtl8139"),
                    ],
                )
                .map(|s| Spanned::new(s.value.to_owned(), s.span))?,
            None => Spanned::new("virtio".to_owned(), at.span()),
        };
        let mac = at
            .prop("mac")
            .and_then(|e| self.string(e, "MAC address"))
            .filter(|m| {
                let ok = m.value.len() == 17
                    && m.value.split(':').count() == 6
                    && m.value
                        .split(':')
                        .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
                if !ok {
                    self.error(
                        diag::codes::INVALID_VALUE,
                        m.span,
                        format!("`{}` is not a MAC address", m.value.escape_debug()),
                        "not a MAC",
                        "write six hex pairs, like 52:54:00:12:34:56",
                    );
                }
                ok
            });
        Some(Network { source, model, mac })
    }

    fn hyperv(&mut self, at: &At<'_>) -> Hyperv {
        let vendor_id = at
            .prop("vendor-id")
            .and_then(|e| self.string(e, "vendor id"));
        let mut enable = Vec::new();
        let mut disable = Vec::new();
        for node in at.children() {
            let Some(child) = self.sub_known(node, at) else {
                continue;
            };
            let list: Vec<Spanned<String>> = child
                .args()
                .filter_map(|e| self.choice(e, "Hyper-V enlightenment", HYPERV_FEATURES))
                .map(|s| Spanned::new(s.value.to_owned(), s.span))
                .collect();
            match child.name() {
                "enable" => enable.extend(list),
                "disable" => disable.extend(list),
                _ => {}
            }
        }
        Hyperv {
            span: at.span(),
            vendor_id,
            enable,
            disable,
        }
    }

    fn smbios(&mut self, at: &At<'_>) -> Option<Spanned<Smbios>> {
        let mode = at.arg(0).and_then(|e| {
            self.choice(e, "SMBIOS mode", &[("host", true), ("none", false)])
                .map(|s| Spanned::new(if s.value { Smbios::Host } else { Smbios::None }, s.span))
        });
        let has_children = at.children().next().is_some();
        match (mode, has_children) {
            (Some(_), true) => {
                self.error(
                    diag::codes::CONFLICT,
                    at.span(),
                    "`smbios` takes a mode or explicit values, not both",
                    "conflicting",
                    "write smbios \"host\", or smbios { system manufacturer=\"…\" }",
                );
                None
            }
            (Some(m), false) => Some(m),
            (None, true) => {
                let read = |d: &mut Self, name: &str| -> Vec<(String, String)> {
                    let Some(block) = d.child(at, name) else {
                        return Vec::new();
                    };
                    block
                        .def
                        .props
                        .iter()
                        .filter_map(|p| {
                            block
                                .prop(p)
                                .and_then(|e| d.string(e, "SMBIOS value"))
                                .map(|v| ((*p).to_owned(), v.value))
                        })
                        .collect()
                };
                let bios = read(self, "bios");
                let system = read(self, "system");
                Some(Spanned::new(Smbios::Values { bios, system }, at.span()))
            }
            (None, false) => None,
        }
    }

    fn hook(&mut self, at: &At<'_>) -> Option<UserHook> {
        let phases: Vec<(&str, HookPhase)> =
            HookPhase::ALL.iter().map(|p| (p.as_path(), *p)).collect();
        let phase = at
            .arg(0)
            .and_then(|e| self.choice(e, "hook phase", &phases))?;
        let Some(script) = at.prop("script") else {
            self.error(
                diag::codes::MISSING_VALUE,
                at.span(),
                "`hook` needs a script",
                "script missing",
                "write: hook \"prepare/begin\" script=\"hooks/notify.sh\"",
            );
            return None;
        };
        let script = self.path(script, "script path")?;
        Some(UserHook { phase, script })
    }

    // ---- across nodes ---------------------------------------------------------------------

    /// Names unique, references resolve, each device referenced in a way that fits its kind.
    fn cross_check(&mut self, spec: &Spec) {
        let mut seen: BTreeMap<&str, SourceSpan> = BTreeMap::new();
        for dev in &spec.devices {
            if seen.insert(&dev.name.value, dev.name.span).is_some() {
                self.error(
                    diag::codes::DUPLICATE_NAME,
                    dev.name.span,
                    format!("two devices are named `{}`", dev.name.value),
                    "named again here",
                    "give each gpu and device its own name",
                );
            }
        }
        let mut seen_vm: BTreeMap<&str, SourceSpan> = BTreeMap::new();
        for vm in &spec.vms {
            if seen_vm.insert(&vm.name.value, vm.name.span).is_some() {
                self.error(
                    diag::codes::DUPLICATE_NAME,
                    vm.name.span,
                    format!("two VMs are named `{}`", vm.name.value),
                    "named again here",
                    "give each vm its own name",
                );
            }
            for r in vm.device_refs() {
                if spec.device(&r.value).is_none() {
                    let help = match did_you_mean(
                        &r.value,
                        spec.devices.iter().map(|d| d.name.value.as_str()),
                    ) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => format!("declare it first: device \"{}\" {{ pci \"…\" }}", r.value),
                    };
                    self.error(
                        diag::codes::UNKNOWN_REFERENCE,
                        r.span,
                        format!("no gpu or device is named `{}`", r.value),
                        "unknown device",
                        help,
                    );
                }
            }
            let mut listed: Vec<&str> = Vec::new();
            for r in vm.device_refs() {
                if listed.contains(&r.value.as_str()) {
                    self.error(
                        diag::codes::CONFLICT,
                        r.span,
                        format!("`{}` is given to VM `{}` twice", r.value, vm.name.value),
                        "given again",
                        "list each device once",
                    );
                }
                listed.push(&r.value);
            }
            for r in &vm.usb_controllers {
                if spec.device(&r.value).is_some_and(|d| d.is_gpu) {
                    self.error(
                        diag::codes::CONFLICT,
                        r.span,
                        format!("`{}` is a gpu, not a USB controller", r.value),
                        "a GPU",
                        "pass GPUs with `passthrough`; declare USB controllers with `device`",
                    );
                }
            }
            let iothreads = vm.cpu.iothreads.as_ref().map_or(0, |i| i.count.value);
            for disk in &vm.disks {
                if let Some(n) = disk.iothread.as_ref().filter(|n| n.value > iothreads) {
                    let help = if iothreads == 0 {
                        "declare I/O threads: cpu { iothreads 1 }".to_owned()
                    } else {
                        format!("I/O threads are numbered 1 to {iothreads}")
                    };
                    self.error(
                        diag::codes::UNKNOWN_REFERENCE,
                        n.span,
                        format!("VM `{}` has no I/O thread {}", vm.name.value, n.value),
                        "no such I/O thread",
                        help,
                    );
                }
            }
            for net in &vm.networks {
                if let NetworkSource::Bridge(name) = &net.source.value {
                    let declared = spec.host.bridges.iter().any(|b| &b.name.value == name);
                    if !declared && !spec.host.bridges.is_empty() {
                        let help = match did_you_mean(
                            name,
                            spec.host.bridges.iter().map(|b| b.name.value.as_str()),
                        ) {
                            Some(near) => format!("did you mean `{near}`?"),
                            None => "declare it under host: bridge \"br0\" interface=\"enp5s0\""
                                .to_owned(),
                        };
                        self.error(
                            diag::codes::UNKNOWN_REFERENCE,
                            net.source.span,
                            format!("no bridge named `{name}` is declared"),
                            "unknown bridge",
                            help,
                        );
                    }
                }
            }
        }
        let mut bridges: BTreeMap<&str, SourceSpan> = BTreeMap::new();
        for b in &spec.host.bridges {
            if bridges.insert(&b.name.value, b.name.span).is_some() {
                self.error(
                    diag::codes::DUPLICATE_NAME,
                    b.name.span,
                    format!("two bridges are named `{}`", b.name.value),
                    "named again here",
                    "give each bridge its own name",
                );
            }
        }
    }
}

/// Hyper-V enlightenments libvirt knows, as the spec spells them.
pub(crate) const HYPERV_FEATURES: &[(&str, &str)] = &[
    ("relaxed", "relaxed"),
    ("vapic", "vapic"),
    ("spinlocks", "spinlocks"),
    ("vpindex", "vpindex"),
    ("runtime", "runtime"),
    ("synic", "synic"),
    ("stimer", "stimer"),
    ("reset", "reset"),
    ("frequencies", "frequencies"),
    ("reenlightenment", "reenlightenment"),
    ("tlbflush", "tlbflush"),
    ("ipi", "ipi"),
    ("evmcs", "evmcs"),
    ("avic", "avic"),
];

/// A CPU list as written in the spec, for `parsed`.
struct CpuSetText(CpuSet);

impl FromStr for CpuSetText {
    type Err = crate::model::CpuSetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CpuSet::parse(s).map(CpuSetText)
    }
}
