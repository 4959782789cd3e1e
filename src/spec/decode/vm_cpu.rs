//! Decoding of a VM's `cpu` node and its children: vcpus, `pin`, emulator, iothreads,
//! governor and isolation.

use super::{At, Decoder};
use crate::diag;
use crate::spec::{CpuBlock, IoThreads, Isolation, Pin, PinPrefer, Spanned};

impl Decoder {
    pub(super) fn cpu(&mut self, at: &At<'_>) -> Option<CpuBlock> {
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
}
