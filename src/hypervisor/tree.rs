//! A small XML tree for domain definitions: parse, canonicalise, print.
//!
//! Domain XML is compared as trees, never as text: libvirt writes single quotes and its own
//! attribute order, quick-xml writes double quotes, and libvirt rewrites values at define
//! (cpusets as ranges, hex addresses padded, memory in KiB). [`Element::canonical`] puts both
//! sides in one form so that a converged domain compares equal; [`Element::to_xml`] prints that
//! form the way `virsh dumpxml` does (two-space indent, single quotes), for the plan's diff.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::model::CpuSet;

/// One element: name, attributes (sorted: attribute order carries no meaning), children in
/// document order, and its text with surrounding whitespace removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// Tag name, with any namespace prefix as written (`qemu:commandline`).
    pub name: String,
    /// Attributes by name.
    pub attrs: BTreeMap<String, String>,
    /// Child elements.
    pub children: Vec<Element>,
    /// Text content, trimmed. Mixed content does not occur in domain XML.
    pub text: String,
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed domain XML: {0}")]
pub struct XmlError(pub String);

impl Element {
    /// An element with a name and nothing else.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            ..Self::default()
        }
    }

    /// Parse a document; its root element is returned. Comments, the declaration and
    /// processing instructions are dropped.
    pub fn parse(xml: &str) -> Result<Self, XmlError> {
        let mut reader = Reader::from_str(xml);
        let mut stack: Vec<Element> = Vec::new();
        let mut root = None;
        let err = |e: &dyn std::fmt::Display| XmlError(e.to_string());
        loop {
            let event = reader.read_event().map_err(|e| err(&e))?;
            match event {
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let mut el = Element::new(e.name().as_ref());
                    for a in e.attributes() {
                        let a = a.map_err(|e| err(&e))?;
                        let value = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map_err(|e| err(&e))?;
                        el.attrs
                            .insert(a.key.as_ref().to_owned(), value.into_owned());
                    }
                    if matches!(event, Event::Empty(_)) {
                        close(&mut stack, &mut root, el)?;
                    } else {
                        stack.push(el);
                    }
                }
                Event::End(_) => {
                    let el = stack
                        .pop()
                        .ok_or_else(|| XmlError("unbalanced end tag".into()))?;
                    close(&mut stack, &mut root, el)?;
                }
                Event::Text(t) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&t.xml10_content());
                    }
                }
                Event::CData(t) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&t.xml10_content());
                    }
                }
                Event::GeneralRef(r) => {
                    let text = match r.resolve_char_ref().map_err(|e| err(&e))? {
                        Some(c) => c.to_string(),
                        None => quick_xml::escape::resolve_predefined_entity(&r)
                            .ok_or_else(|| XmlError("unknown entity".into()))?
                            .to_owned(),
                    };
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&text);
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if !stack.is_empty() {
            return Err(XmlError("unclosed element".into()));
        }
        let mut root = root.ok_or_else(|| XmlError("no root element".into()))?;
        root.trim();
        Ok(root)
    }

    fn trim(&mut self) {
        let t = self.text.trim();
        if t.len() != self.text.len() {
            self.text = t.to_owned();
        }
        for c in &mut self.children {
            c.trim();
        }
    }

    /// An attribute's value.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.get(key).map(String::as_str)
    }

    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The first child named `name`, mutably.
    pub fn child_mut(&mut self, name: &str) -> Option<&mut Element> {
        self.children.iter_mut().find(|c| c.name == name)
    }

    /// Print as `virsh dumpxml` does: two-space indent, single-quoted attributes, one element
    /// a line, a final newline.
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let pad = "  ".repeat(depth);
        let _ = write!(out, "{pad}<{}", self.name);
        for (k, v) in &self.attrs {
            let _ = write!(out, " {k}='{}'", escape(v, true));
        }
        if self.children.is_empty() && self.text.is_empty() {
            out.push_str("/>\n");
        } else if self.children.is_empty() {
            let _ = writeln!(out, ">{}</{}>", escape(&self.text, false), self.name);
        } else {
            out.push_str(">\n");
            if !self.text.is_empty() {
                let _ = writeln!(out, "{pad}  {}", escape(&self.text, false));
            }
            for c in &self.children {
                c.write(out, depth + 1);
            }
            let _ = writeln!(out, "{pad}</{}>", self.name);
        }
    }

    /// The canonical form of a domain: values as libvirt writes them back after define, so that
    /// what passplan asks for and what libvirt stored compare equal when they mean the same.
    /// Top-level elements and devices are put in libvirt's format order (its parser accepts any
    /// order and its formatter always writes this one, so order carries no meaning there).
    #[must_use]
    pub fn canonical(&self) -> Self {
        let mut c = self.clone();
        c.canonicalise("");
        sort_by_order(&mut c.children, DOMAIN_ORDER);
        if let Some(devices) = c.child_mut("devices") {
            sort_by_order(&mut devices.children, DEVICE_ORDER);
        }
        c
    }

    fn canonicalise(&mut self, parent: &str) {
        match self.name.as_str() {
            // Memory sizes: libvirt stores KiB whatever the unit written.
            "memory" | "currentMemory" | "maxMemory" if parent == "domain" => {
                if let Some(kib) = to_kib(&self.text, self.attr("unit")) {
                    self.text = kib.to_string();
                    self.attrs.insert("unit".into(), "KiB".into());
                }
            }
            "page" if parent == "hugepages" => {
                if let Some(size) = self.attr("size")
                    && let Some(kib) = to_kib(size, self.attr("unit"))
                {
                    self.attrs.insert("size".into(), kib.to_string());
                    self.attrs.insert("unit".into(), "KiB".into());
                }
            }
            _ => {}
        }
        if self.name == "topology" && parent == "cpu" {
            // libvirt adds `dies='1'` (and, newer, `clusters='1'`): one of each is no split.
            for key in ["dies", "clusters"] {
                if self.attr(key) == Some("1") {
                    self.attrs.remove(key);
                }
            }
        }
        for key in ["cpuset", "nodeset"] {
            if let Some(v) = self.attrs.get_mut(key)
                && let Ok(set) = CpuSet::parse(v)
            {
                *v = set.to_string();
            }
        }
        if self.name == "address" {
            // Guest and host PCI addresses: libvirt prints domain as 0x%04x, bus and slot as
            // 0x%02x, function as 0x%x, whatever was written.
            for (key, width) in [("domain", 4), ("bus", 2), ("slot", 2), ("function", 1)] {
                if let Some(v) = self.attrs.get_mut(key)
                    && let Some(n) = parse_number(v)
                {
                    *v = format!("0x{n:0width$x}");
                }
            }
        }
        if matches!(self.name.as_str(), "vendor" | "product")
            && let Some(v) = self.attrs.get_mut("id")
            && let Some(n) = parse_number(v)
        {
            *v = format!("0x{n:04x}");
        }
        if self.name == "mac"
            && let Some(v) = self.attrs.get_mut("address")
        {
            *v = v.to_ascii_lowercase();
        }
        let name = self.name.clone();
        for c in &mut self.children {
            c.canonicalise(&name);
        }
    }
}

fn close(stack: &mut [Element], root: &mut Option<Element>, el: Element) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => {
            parent.children.push(el);
            Ok(())
        }
        None if root.is_none() => {
            *root = Some(el);
            Ok(())
        }
        None => Err(XmlError("more than one root element".into())),
    }
}

fn escape(s: &str, attr: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' if attr => out.push_str("&apos;"),
            '"' if attr => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// `0x0d`, `0X000D`, `13` → 13.
fn parse_number(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// A size in libvirt's units (default KiB, as libvirt assumes) → KiB. `None` when the value or
/// unit is not one libvirt knows, so an odd value is compared as written.
fn to_kib(value: &str, unit: Option<&str>) -> Option<u64> {
    let n: u64 = value.trim().parse().ok()?;
    let bytes: u64 = match unit.unwrap_or("KiB") {
        "b" | "bytes" => 1,
        "KB" => 1000,
        "k" | "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "M" | "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "G" | "GiB" => 1 << 30,
        "TB" => 1_000_000_000_000,
        "T" | "TiB" => 1 << 40,
        _ => return None,
    };
    // libvirt rounds up to whole KiB.
    n.checked_mul(bytes).map(|b| b.div_ceil(1024))
}

/// Stable sort by position in `order`; names not listed keep their relative place after it.
fn sort_by_order(children: &mut [Element], order: &[&str]) {
    children.sort_by_key(|c| {
        order
            .iter()
            .position(|n| *n == c.name)
            .unwrap_or(order.len())
    });
}

/// The order in which libvirt formats a domain's top-level elements (`virDomainDefFormat`).
pub const DOMAIN_ORDER: &[&str] = &[
    "name",
    "uuid",
    "genid",
    "title",
    "description",
    "metadata",
    "maxMemory",
    "memory",
    "currentMemory",
    "blkiotune",
    "memtune",
    "memoryBacking",
    "vcpu",
    "vcpus",
    "iothreads",
    "iothreadids",
    "defaultiothread",
    "cputune",
    "numatune",
    "resource",
    "sysinfo",
    "bootloader",
    "bootloader_args",
    "os",
    "idmap",
    "features",
    "cpu",
    "clock",
    "on_poweroff",
    "on_reboot",
    "on_crash",
    "on_lockfailure",
    "pm",
    "perf",
    "devices",
    "seclabel",
    "keywrap",
    "launchSecurity",
];

/// The order in which libvirt formats devices (`virDomainDefFormat`, device by device type).
pub const DEVICE_ORDER: &[&str] = &[
    "emulator",
    "disk",
    "controller",
    "lease",
    "filesystem",
    "interface",
    "smartcard",
    "serial",
    "parallel",
    "console",
    "channel",
    "input",
    "tpm",
    "graphics",
    "sound",
    "audio",
    "video",
    "hostdev",
    "redirdev",
    "redirfilter",
    "hub",
    "watchdog",
    "memballoon",
    "rng",
    "panic",
    "shmem",
    "memory",
    "iommu",
    "vsock",
    "crypto",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(xml: &str) -> Element {
        Element::parse(xml).unwrap().canonical()
    }

    #[test]
    fn quotes_attribute_order_and_whitespace_do_not_matter() {
        assert_eq!(
            canon(
                r#"<domain type="kvm"><name>a</name><os><type arch="x86_64" machine="q35">hvm</type></os></domain>"#
            ),
            canon(
                "<domain type='kvm'>\n  <name>a</name>\n  <os>\n    <type machine='q35' arch='x86_64'>hvm</type>\n  </os>\n</domain>\n"
            ),
        );
    }

    #[test]
    fn libvirt_rewrites_compare_equal() {
        let ours = r#"<domain><memory unit="GiB">8</memory><cputune><vcpupin vcpu="0" cpuset="0,1,2,8"/></cputune>
            <devices><hostdev><source><address domain="0x0" bus="0xD" slot="0x0" function="0x0"/></source></hostdev></devices></domain>"#;
        let theirs = "<domain><memory unit='KiB'>8388608</memory><cputune><vcpupin vcpu='0' cpuset='0-2,8'/></cputune>\
            <devices><hostdev><source><address domain='0x0000' bus='0x0d' slot='0x00' function='0x0'/></source></hostdev></devices></domain>";
        assert_eq!(canon(ours), canon(theirs));
    }

    #[test]
    fn printing_is_single_quoted_and_escaped_and_reads_back() {
        let el = canon(r#"<domain><title>it's &lt;a&gt; &amp; "b"</title><devices/></domain>"#);
        let xml = el.to_xml();
        assert_eq!(
            xml,
            "<domain>\n  <title>it's &lt;a&gt; &amp; \"b\"</title>\n  <devices/>\n</domain>\n"
        );
        assert_eq!(Element::parse(&xml).unwrap(), el);
    }

    #[test]
    fn malformed_documents_are_errors() {
        for bad in ["", "<a>", "<a></b>", "<a/><b/>", "text"] {
            assert!(Element::parse(bad).is_err(), "{bad:?}");
        }
    }
}
