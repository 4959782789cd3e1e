//! Decoding of the document root: the top-level `host`, `gpu`, `device` and `vm` nodes,
//! and the checks across nodes once all are read.

use std::collections::BTreeMap;

use kdl::KdlDocument;
use miette::SourceSpan;

use super::Decoder;
use crate::diag::{self, did_you_mean};
use crate::spec::grammar;
use crate::spec::{NetworkSource, Spec};

impl Decoder {
    pub(super) fn document(&mut self, doc: &KdlDocument) -> Spec {
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
