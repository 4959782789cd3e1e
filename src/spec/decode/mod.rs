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
use super::{Spanned, Spec, validate_name};
use crate::diag::{self, Diagnostic, Diagnostics, did_you_mean};
use crate::model::CpuSet;

// One submodule per part of the language, grouped as the grammar groups it; each adds an
// `impl Decoder` block with the methods that decode its nodes.
mod boot;
mod devices;
mod document;
mod host;
mod vm;
mod vm_cpu;
mod vm_hooks;
mod vm_hyperv;
mod vm_memory;
mod vm_network;
mod vm_smbios;
mod vm_storage;

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
}

/// A CPU list as written in the spec, for `parsed`.
struct CpuSetText(CpuSet);

impl FromStr for CpuSetText {
    type Err = crate::model::CpuSetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CpuSet::parse(s).map(CpuSetText)
    }
}
