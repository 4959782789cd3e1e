//! The files under `schema/` hold true.
//!
//! `schema/spec.kdl` is compared name for name with the decoder's grammar, every example spec is
//! validated against it by a small validator written here (independent of the decoder), and
//! every enum value it lists is fed to the decoder. `schema/host.schema.json` is checked
//! against the JSON that `passplan host --json` prints for every example host root.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};
use passplan::diag::{Report, render_report};
use passplan::spec::grammar::GRAMMAR;

// ---- loading schema/spec.kdl ----------------------------------------------------------------

/// One `arg` or `prop` declaration.
#[derive(Debug, Clone, Default)]
struct ValueDef {
    name: String,
    ty: String,
    choices: Vec<String>,
    /// `also="PREFIX:TYPE"`: (prefix including the colon, type).
    also: Option<(String, String)>,
    min: Option<i128>,
    max: Option<i128>,
    required: bool,
    variadic: bool,
    reference: Option<String>,
}

/// One `node` declaration, flattened to its dotted path.
#[derive(Debug, Clone, Default)]
struct NodeSchema {
    path: String,
    repeatable: bool,
    required: bool,
    doc: String,
    arg: Option<ValueDef>,
    props: BTreeMap<String, ValueDef>,
}

impl NodeSchema {
    /// (at least, at most) positional values, as `grammar::NodeDef::arg_bounds` spells them.
    fn arg_bounds(&self) -> (usize, usize) {
        match &self.arg {
            None => (0, 0),
            Some(a) => (
                usize::from(a.required),
                if a.variadic { usize::MAX } else { 1 },
            ),
        }
    }
}

/// The whole schema: declared types and nodes by path.
#[derive(Debug)]
struct Schema {
    types: BTreeSet<String>,
    nodes: BTreeMap<String, NodeSchema>,
}

impl Schema {
    /// The children of `parent` (`""` for the document root), by name.
    fn children(&self, parent: &str) -> impl Iterator<Item = (&str, &NodeSchema)> {
        self.nodes.iter().filter_map(move |(path, n)| {
            let (head, last) = path.rsplit_once('.').unwrap_or(("", path));
            (head == parent).then_some((last, n))
        })
    }

    /// Every enum-typed value: (node path, `None` for the arg or `Some(prop)`, definition).
    fn enums(&self) -> Vec<(&str, Option<&str>, &ValueDef)> {
        let mut out = Vec::new();
        for (path, node) in &self.nodes {
            if let Some(a) = node.arg.as_ref().filter(|a| a.ty == "enum") {
                out.push((path.as_str(), None, a));
            }
            for (name, p) in &node.props {
                if p.ty == "enum" {
                    out.push((path.as_str(), Some(name.as_str()), p));
                }
            }
        }
        out
    }
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn parse_kdl(name: &str, text: &str) -> KdlDocument {
    KdlDocument::parse(text).unwrap_or_else(|e| panic!("{name} is not valid KDL 2: {e:?}"))
}

fn args(node: &KdlNode) -> impl Iterator<Item = &KdlEntry> {
    node.entries().iter().filter(|e| e.name().is_none())
}

fn props(node: &KdlNode) -> impl Iterator<Item = (&str, &KdlEntry)> {
    node.entries()
        .iter()
        .filter_map(|e| e.name().map(|n| (n.value(), e)))
}

fn children(node: &KdlNode) -> impl Iterator<Item = &KdlNode> {
    node.children().into_iter().flat_map(KdlDocument::nodes)
}

/// The single string argument of a schema declaration.
fn decl_name(node: &KdlNode) -> String {
    let all: Vec<_> = args(node).collect();
    match all.as_slice() {
        [one] => match one.value() {
            KdlValue::String(s) => s.clone(),
            other => panic!(
                "schema: `{}` name must be a string, not {other:?}",
                node.name()
            ),
        },
        _ => panic!("schema: `{}` takes exactly one name", node.name()),
    }
}

fn as_str(entry: &KdlEntry, what: &str) -> String {
    match entry.value() {
        KdlValue::String(s) => s.clone(),
        other => panic!("schema: {what} must be a string, not {other:?}"),
    }
}

fn as_bool(entry: &KdlEntry, what: &str) -> bool {
    match entry.value() {
        KdlValue::Bool(b) => *b,
        other => panic!("schema: {what} must be #true or #false, not {other:?}"),
    }
}

fn as_int(entry: &KdlEntry, what: &str) -> i128 {
    match entry.value() {
        KdlValue::Integer(n) => *n,
        other => panic!("schema: {what} must be an integer, not {other:?}"),
    }
}

/// Load `schema/spec.kdl`, rejecting anything outside the format its header documents, so a
/// typo in the schema (`requird=#true`) fails here instead of being ignored.
fn load_schema() -> Schema {
    let text = read(&crate_dir().join("schema/spec.kdl"));
    let doc = parse_kdl("schema/spec.kdl", &text);
    let mut schema = Schema {
        types: BTreeSet::new(),
        nodes: BTreeMap::new(),
    };
    for node in doc.nodes() {
        match node.name().value() {
            "type" => {
                for (p, _) in props(node) {
                    assert_eq!(p, "doc", "schema: `type` takes only doc=, not {p}=");
                }
                schema.types.insert(decl_name(node));
            }
            "node" => load_node(node, "", &mut schema),
            other => panic!("schema: unknown top-level declaration `{other}`"),
        }
    }
    for node in schema.nodes.values() {
        for v in node.arg.iter().chain(node.props.values()) {
            assert!(
                schema.types.contains(&v.ty),
                "schema: {} `{}` has undeclared type `{}`",
                node.path,
                v.name,
                v.ty
            );
            if let Some((_, ty)) = &v.also {
                assert!(schema.types.contains(ty), "schema: undeclared type {ty}");
            }
        }
    }
    schema
}

fn load_node(node: &KdlNode, parent: &str, schema: &mut Schema) {
    let name = decl_name(node);
    let path = if parent.is_empty() {
        name
    } else {
        format!("{parent}.{name}")
    };
    let mut def = NodeSchema {
        path: path.clone(),
        ..NodeSchema::default()
    };
    for (p, e) in props(node) {
        match p {
            "repeatable" => def.repeatable = as_bool(e, "repeatable"),
            "required" => def.required = as_bool(e, "required"),
            "doc" => def.doc = as_str(e, "doc"),
            other => panic!("schema: `node` {path} has unknown attribute {other}="),
        }
    }
    for child in children(node) {
        match child.name().value() {
            "node" => load_node(child, &path, schema),
            "arg" => {
                assert!(
                    def.arg.is_none(),
                    "schema: {path} has two `arg` declarations"
                );
                def.arg = Some(load_value(child, &path, true));
            }
            "prop" => {
                let v = load_value(child, &path, false);
                let dup = def.props.insert(v.name.clone(), v);
                assert!(dup.is_none(), "schema: {path} declares a property twice");
            }
            other => panic!("schema: unknown declaration `{other}` in node {path}"),
        }
    }
    assert!(
        schema.nodes.insert(path.clone(), def).is_none(),
        "schema: node {path} is declared twice"
    );
}

fn load_value(node: &KdlNode, path: &str, is_arg: bool) -> ValueDef {
    let mut v = ValueDef {
        name: decl_name(node),
        required: is_arg,
        ..ValueDef::default()
    };
    for (p, e) in props(node) {
        match p {
            "type" => v.ty = as_str(e, "type"),
            "enum" => v.choices = as_str(e, "enum").split(' ').map(str::to_owned).collect(),
            "also" => {
                let also = as_str(e, "also");
                let (prefix, ty) = also
                    .rsplit_once(':')
                    .unwrap_or_else(|| panic!("schema: also=\"{also}\" is not PREFIX:TYPE"));
                v.also = Some((format!("{prefix}:"), ty.to_owned()));
            }
            "min" => v.min = Some(as_int(e, "min")),
            "max" => v.max = Some(as_int(e, "max")),
            "required" => v.required = as_bool(e, "required"),
            "variadic" if is_arg => v.variadic = as_bool(e, "variadic"),
            "ref" => v.reference = Some(as_str(e, "ref")),
            "default" => {}
            other => panic!(
                "schema: `{}` in {path} has unknown attribute {other}=",
                v.name
            ),
        }
    }
    assert!(!v.ty.is_empty(), "schema: {path} `{}` has no type", v.name);
    assert_eq!(
        v.ty == "enum",
        !v.choices.is_empty(),
        "schema: {path} `{}`: enum= goes with type=\"enum\" and only there",
        v.name
    );
    v
}

// ---- a: the schema and the grammar name the same things --------------------------------------

/// The words of a grammar `args` string like `auto|grub|grubby` (`None` when it is not a choice).
fn grammar_choices(args: &str) -> Option<Vec<&str>> {
    let words = args.trim_end_matches("...").trim().trim_end_matches('?');
    words.contains('|').then(|| words.split('|').collect())
}

#[test]
fn schema_and_decoder_agree_on_every_name() {
    let schema = load_schema();
    let mut problems = Vec::new();
    for def in GRAMMAR {
        let Some(node) = schema.nodes.get(def.path) else {
            problems.push(format!(
                "{}: in the grammar, missing from schema/spec.kdl",
                def.path
            ));
            continue;
        };
        let want: BTreeSet<&str> = def.props.iter().copied().collect();
        let have: BTreeSet<&str> = node.props.keys().map(String::as_str).collect();
        for p in want.difference(&have) {
            problems.push(format!(
                "{}: property `{p}` is in the grammar, missing from the schema",
                def.path
            ));
        }
        for p in have.difference(&want) {
            problems.push(format!(
                "{}: property `{p}` is in the schema, not in the grammar",
                def.path
            ));
        }
        if node.arg_bounds() != def.arg_bounds() {
            problems.push(format!(
                "{}: the grammar takes {:?} positional values (`{}`), the schema {:?}",
                def.path,
                def.arg_bounds(),
                def.args,
                node.arg_bounds()
            ));
        }
        if node.repeatable != def.repeatable {
            problems.push(format!(
                "{}: repeatable is {} in the grammar, {} in the schema",
                def.path, def.repeatable, node.repeatable
            ));
        }
        if node.doc != def.doc {
            problems.push(format!(
                "{}: doc differs\n    grammar: {}\n    schema:  {}",
                def.path, def.doc, node.doc
            ));
        }
        if let (Some(words), Some(arg)) = (grammar_choices(def.args), &node.arg) {
            let plain: Vec<&str> = words.iter().copied().filter(|w| !w.contains(':')).collect();
            let prefixed = words.iter().any(|w| w.contains(':'));
            if plain != arg.choices.iter().map(String::as_str).collect::<Vec<_>>()
                || prefixed != arg.also.is_some()
            {
                problems.push(format!(
                    "{}: the grammar's choices `{}` differ from the schema's enum {:?} (also {:?})",
                    def.path, def.args, arg.choices, arg.also
                ));
            }
        }
    }
    for path in schema.nodes.keys() {
        if !GRAMMAR.iter().any(|d| d.path == path) {
            problems.push(format!(
                "{path}: in schema/spec.kdl, not in the grammar (the decoder rejects it)"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "schema/spec.kdl and src/spec/grammar.rs disagree:\n  {}",
        problems.join("\n  ")
    );
    // The comparison above must have had something to compare.
    assert_eq!(schema.nodes.len(), GRAMMAR.len());
}

// ---- b: an independent validator --------------------------------------------------------------

/// Check one value against a type, returning why it does not fit.
fn check_value(value: &KdlValue, def: &ValueDef) -> Result<(), String> {
    let text = match value {
        KdlValue::String(s) => Some(s.as_str()),
        _ => None,
    };
    let need_string = || format!("expected a string, found {value:?}");
    match def.ty.as_str() {
        "integer" => {
            let KdlValue::Integer(n) = value else {
                return Err(format!("expected an integer, found {value:?}"));
            };
            if def.min.is_some_and(|m| *n < m) || def.max.is_some_and(|m| *n > m) {
                return Err(format!("{n} is outside {:?}..={:?}", def.min, def.max));
            }
            Ok(())
        }
        "boolean" => match value {
            KdlValue::Bool(_) => Ok(()),
            _ => Err(format!("expected #true or #false, found {value:?}")),
        },
        "enum" => {
            let s = text.ok_or_else(need_string)?;
            if def.choices.iter().any(|c| c == s) {
                return Ok(());
            }
            if let Some((prefix, ty)) = &def.also
                && let Some(rest) = s.strip_prefix(prefix.as_str())
            {
                return check_text(rest, ty);
            }
            Err(format!("`{s}` is not one of {:?}", def.choices))
        }
        ty => check_text(text.ok_or_else(need_string)?, ty),
    }
}

fn is_hex(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// Check the text of a string-typed value.
fn check_text(s: &str, ty: &str) -> Result<(), String> {
    let ok = match ty {
        "string" => true,
        "name" => {
            (1..=64).contains(&s.len())
                && s.starts_with(|c: char| c.is_ascii_alphanumeric())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        }
        "path" => !s.is_empty() && !s.chars().any(char::is_control),
        "size" => {
            let digits = s.trim_start_matches(|c: char| c.is_ascii_digit());
            let unit = digits.trim().to_ascii_lowercase();
            digits.len() < s.len()
                && [
                    "", "b", "k", "kb", "kib", "m", "mb", "mib", "g", "gb", "gib",
                ]
                .iter()
                .chain(&["t", "tb", "tib"])
                .any(|u| *u == unit)
        }
        "pci-id" | "usb-id" => s
            .split_once(':')
            .is_some_and(|(v, d)| is_hex(v, 1, 4) && is_hex(d, 1, 4)),
        "pci-address" => {
            let parts: Vec<&str> = s.split([':', '.']).collect();
            let (domain, rest) = match parts.as_slice() {
                [d, b, s, f] => (Some(*d), [*b, *s, *f]),
                [b, s, f] => (None, [*b, *s, *f]),
                _ => return Err(format!("`{s}` is not a PCI address")),
            };
            let [bus, slot, function] = rest;
            domain.is_none_or(|d| is_hex(d, 1, 4))
                && is_hex(bus, 1, 2)
                && is_hex(slot, 1, 2)
                && u8::from_str_radix(slot, 16).is_ok_and(|n| n <= 0x1f)
                && is_hex(function, 1, 1)
                && u8::from_str_radix(function, 16).is_ok_and(|n| n <= 7)
                && s.matches('.').count() == 1
        }
        "cpu-list" => {
            let number = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
            !s.trim().is_empty()
                && s.split(',').all(|piece| {
                    let (range, stride) = piece.split_once(':').unwrap_or((piece, "1"));
                    let range_ok = match range.split_once('-') {
                        Some((lo, hi)) => {
                            number(lo)
                                && number(hi)
                                && lo.parse::<u64>().ok() <= hi.parse::<u64>().ok()
                        }
                        None => number(range),
                    };
                    range_ok && number(stride) && stride != "0"
                })
        }
        other => return Err(format!("the schema's type `{other}` has no check")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("`{s}` is not a valid {ty}"))
    }
}

/// Names declared by `gpu` and `device`, for `ref="device"`.
fn declared_devices(doc: &KdlDocument) -> BTreeSet<String> {
    doc.nodes()
        .iter()
        .filter(|n| matches!(n.name().value(), "gpu" | "device"))
        .filter_map(|n| match args(n).next().map(KdlEntry::value) {
            Some(KdlValue::String(s)) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// Validate a whole document; returns every problem found.
fn validate(schema: &Schema, text: &str) -> Vec<String> {
    let doc = match KdlDocument::parse(text) {
        Ok(doc) => doc,
        Err(e) => return vec![format!("not KDL 2: {e:?}")],
    };
    let devices = declared_devices(&doc);
    let mut problems = Vec::new();
    validate_children(schema, &devices, "", doc.nodes(), &mut problems);
    problems
}

fn validate_children(
    schema: &Schema,
    devices: &BTreeSet<String>,
    parent: &str,
    nodes: &[KdlNode],
    problems: &mut Vec<String>,
) {
    let known: BTreeMap<&str, &NodeSchema> = schema.children(parent).collect();
    let at = |name: &str| {
        if parent.is_empty() {
            name.to_owned()
        } else {
            format!("{parent}.{name}")
        }
    };
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for node in nodes {
        let name = node.name().value();
        *counts.entry(name).or_default() += 1;
        let Some(def) = known.get(name) else {
            problems.push(format!("{}: unknown node", at(name)));
            continue;
        };
        validate_node(schema, devices, def, node, problems);
    }
    for (name, def) in &known {
        let n = counts.get(name).copied().unwrap_or(0);
        if n > 1 && !def.repeatable {
            problems.push(format!("{}: given {n} times, allowed once", def.path));
        }
        if n == 0 && def.required {
            problems.push(format!("{}: required, missing", def.path));
        }
    }
}

fn validate_node(
    schema: &Schema,
    devices: &BTreeSet<String>,
    def: &NodeSchema,
    node: &KdlNode,
    problems: &mut Vec<String>,
) {
    let path = &def.path;
    let values: Vec<&KdlEntry> = args(node).collect();
    let (min, max) = def.arg_bounds();
    if values.len() < min || values.len() > max {
        problems.push(format!(
            "{path}: {} positional values, allowed {min}..={max}",
            values.len()
        ));
    }
    if let Some(arg) = &def.arg {
        for v in &values {
            if let Err(e) = check_value(v.value(), arg) {
                problems.push(format!("{path} `{}`: {e}", arg.name));
            } else if arg.reference.as_deref() == Some("device")
                && let KdlValue::String(s) = v.value()
                && !devices.contains(s)
            {
                problems.push(format!("{path}: no gpu or device is named `{s}`"));
            }
        }
    }
    let given: BTreeSet<&str> = props(node).map(|(n, _)| n).collect();
    for (name, entry) in props(node) {
        match def.props.get(name) {
            None => problems.push(format!("{path}: unknown property `{name}`")),
            Some(p) => {
                if let Err(e) = check_value(entry.value(), p) {
                    problems.push(format!("{path} {name}=: {e}"));
                }
            }
        }
    }
    for (name, p) in &def.props {
        if p.required && !given.contains(name.as_str()) {
            problems.push(format!("{path}: property `{name}` is required"));
        }
    }
    let kids: Vec<KdlNode> = children(node).cloned().collect();
    validate_children(schema, devices, path, &kids, problems);
}

/// `examples/*/host.kdl`, sorted.
fn example_specs() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(crate_dir().join("examples"))
        .expect("examples/ is readable")
        .filter_map(|e| e.ok().map(|e| e.path().join("host.kdl")))
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    assert!(
        out.iter().any(|p| p.ends_with("workstation/host.kdl")),
        "the examples are missing: {out:?}"
    );
    out
}

#[test]
fn every_example_validates_against_the_schema() {
    let schema = load_schema();
    let mut failures = String::new();
    for path in example_specs() {
        for problem in validate(&schema, &read(&path)) {
            let _ = writeln!(failures, "{}: {problem}", path.display());
        }
    }
    assert!(
        failures.is_empty(),
        "examples break schema/spec.kdl:\n{failures}"
    );
}

/// The validator above must be able to say no, or the test before is worth nothing.
#[test]
fn the_schema_validator_rejects_what_the_schema_forbids() {
    let schema = load_schema();
    let base = "gpu \"g\" { pci \"01:00.0\"; role \"guest\" }\n";
    let vm =
        |body: &str| format!("{base}vm \"v\" {{ memory \"1GiB\"; cpu {{ vcpus 1 }}; {body} }}");
    assert_eq!(validate(&schema, &vm("")), Vec::<String>::new());
    let cases = [
        (vm("passtrough \"g\""), "unknown node"),
        (vm("disk \"/x\" buss=\"sata\""), "unknown property"),
        (vm("disk \"/x\" bus=\"ide\""), "is not one of"),
        (vm("disk \"/x\" queues=300"), "is outside"),
        (vm("disk \"/x\" queues=\"8\""), "expected an integer"),
        (vm("clock \"utc\" hpet=\"yes\""), "expected #true"),
        (vm("firmware \"uefi\" \"bios\""), "positional values"),
        (vm("hide-kvm; hide-kvm"), "allowed once"),
        (vm("passthrough \"h\""), "no gpu or device"),
        (vm("usb \"046d\""), "not a valid usb-id"),
        (vm("hook \"prepare/begin\""), "`script` is required"),
        (
            vm("cpu { vcpus 1; emulator \"0-\" }"),
            "not a valid cpu-list",
        ),
        (
            vm("cpu { vcpus 1; emulator \"3-1\" }"),
            "not a valid cpu-list",
        ),
        (vm("memory \"16 gigs\""), "not a valid size"),
        (vm("disk \"\""), "not a valid path"),
        (
            "vm \"v\" { cpu { vcpus 1 } }".to_owned(),
            "required, missing",
        ),
        (
            "gpu \"g\" { pci \"01:20.0\"; role \"guest\" }".to_owned(),
            "pci-address",
        ),
        (
            "gpu \"g\" { pci \"01:00.8\"; role \"guest\" }".to_owned(),
            "pci-address",
        ),
        (
            "gpu \"g h\" { pci \"01:00.0\"; role \"guest\" }".to_owned(),
            "valid name",
        ),
        (
            "host { boot { acs-override \"id:10de\" } }".to_owned(),
            "pci-id",
        ),
        (
            "host { boot { acs-override \"sideways\" } }".to_owned(),
            "is not one of",
        ),
    ];
    let mut missed = Vec::new();
    for (text, want) in &cases {
        let problems = validate(&schema, text);
        if !problems.iter().any(|p| p.contains(want)) {
            missed.push(format!("{text}\n    wanted `{want}`, got {problems:?}"));
        }
    }
    assert!(
        missed.is_empty(),
        "the validator let through:\n  {}",
        missed.join("\n  ")
    );
    assert_eq!(
        validate(
            &schema,
            "host { boot { acs-override \"downstream\" \"id:10de:2206\" } }"
        ),
        Vec::<String>::new()
    );
}

// ---- c: the decoder reads every example -------------------------------------------------------

#[test]
fn every_example_decodes() {
    let mut failures = String::new();
    for path in example_specs() {
        let text = read(&path);
        let (spec, diags) = passplan::spec::parse(&text);
        let errors = diags.has_errors();
        if spec.is_none() || errors || !diags.is_empty() {
            let report = Report::new(&path.display().to_string(), &text, diags.sorted());
            let _ = writeln!(failures, "{}", render_report(&report, 100, false));
        }
    }
    assert!(
        failures.is_empty(),
        "examples do not decode cleanly:\n{failures}"
    );
}

// ---- d: every enum value of the schema is one the decoder takes -------------------------------

/// A node of a spec being built: its name, its entries as KDL text, its children.
#[derive(Debug, Clone)]
struct Built {
    name: String,
    entries: String,
    children: Vec<Built>,
}

impl Built {
    fn new(name: &str, entries: &str) -> Self {
        Self {
            name: name.to_owned(),
            entries: entries.to_owned(),
            children: Vec::new(),
        }
    }

    fn with(mut self, child: Self) -> Self {
        self.children.push(child);
        self
    }

    fn render(&self, out: &mut String) {
        out.push_str(&self.name);
        if !self.entries.is_empty() {
            out.push(' ');
            out.push_str(&self.entries);
        }
        if !self.children.is_empty() {
            out.push_str(" {\n");
            for c in &self.children {
                c.render(out);
            }
            out.push('}');
        }
        out.push('\n');
    }
}

/// The smallest valid spec: one guest GPU and one VM.
fn minimal_spec() -> Vec<Built> {
    vec![
        Built::new("gpu", "\"g\"")
            .with(Built::new("pci", "\"01:00.0\""))
            .with(Built::new("role", "\"guest\"")),
        Built::new("vm", "\"v\"")
            .with(Built::new("memory", "\"1GiB\""))
            // 64 I/O threads, so a disk may name any I/O thread the schema allows.
            .with(
                Built::new("cpu", "")
                    .with(Built::new("vcpus", "1"))
                    .with(Built::new("iothreads", "64")),
            ),
    ]
}

/// Put `leaf` at `path` (dotted), replacing a node of the same name already there (so
/// `vm.memory` replaces the minimal spec's `memory`). A missing parent is created from the
/// schema with its required values and children filled in (`device` gets a name and a `pci`).
fn place(schema: &Schema, nodes: &mut Vec<Built>, parent: &str, path: &str, leaf: Built) {
    match path.split_once('.') {
        None => {
            nodes.retain(|n| n.name != path);
            nodes.push(leaf);
        }
        Some((head, rest)) => {
            let full = if parent.is_empty() {
                head.to_owned()
            } else {
                format!("{parent}.{head}")
            };
            let i = if let Some(i) = nodes.iter().position(|n| n.name == head) {
                i
            } else {
                nodes.push(skeleton(schema, &full));
                nodes.len() - 1
            };
            place(schema, &mut nodes[i].children, &full, rest, leaf);
        }
    }
}

/// The node at `path` with only what the schema requires: its argument, required properties and
/// required children, each a sample value.
fn skeleton(schema: &Schema, path: &str) -> Built {
    let def = &schema.nodes[path];
    let mut entries = Vec::new();
    if let Some(arg) = def.arg.as_ref().filter(|a| a.required) {
        entries.push(sample(arg));
    }
    for (name, p) in def.props.iter().filter(|(_, p)| p.required) {
        entries.push(format!("{name}={}", sample(p)));
    }
    let mut node = Built::new(path.rsplit('.').next().unwrap_or(path), &entries.join(" "));
    for (_, child) in schema.children(path).filter(|(_, c)| c.required) {
        node.children.push(skeleton(schema, &child.path));
    }
    node
}

/// A valid sample of a value for the required slots of a tested node. For an enum it is the
/// last word: the first is usually the default, and `bind "vm-start"` (first) conflicts with
/// the `by` property under test, while `bind "boot"` (last) takes it.
fn sample(def: &ValueDef) -> String {
    match def.ty.as_str() {
        "integer" => def.min.unwrap_or(1).max(1).to_string(),
        "boolean" => "#true".to_owned(),
        "size" => "\"2MiB\"".to_owned(),
        "pci-address" => "\"02:00.0\"".to_owned(),
        "pci-id" => "\"10de:2206\"".to_owned(),
        "usb-id" => "\"046d:c52b\"".to_owned(),
        "cpu-list" => "\"0\"".to_owned(),
        "path" => "\"/tmp/x\"".to_owned(),
        "enum" => format!("{:?}", def.choices.last().expect("enum has choices")),
        _ => "\"x1\"".to_owned(),
    }
}

/// The spec text with `value` (KDL text) as the arg (`prop` = `None`) or a property of the node
/// at `path`, every other required slot filled with a sample.
fn spec_with(schema: &Schema, path: &str, prop: Option<&str>, value: &str) -> String {
    let def = &schema.nodes[path];
    let mut entries = Vec::new();
    if let Some(arg) = &def.arg {
        if prop.is_none() {
            entries.push(value.to_owned());
        } else if arg.required {
            entries.push(sample(arg));
        }
    }
    for (name, p) in &def.props {
        if prop == Some(name.as_str()) {
            entries.push(format!("{name}={value}"));
        } else if p.required {
            entries.push(format!("{name}={}", sample(p)));
        }
    }
    // Properties that are only valid beside another one.
    if matches!((path, prop), ("vm.cpu.pin", Some("reserve" | "prefer"))) {
        entries.push("policy=\"auto\"".to_owned());
    }
    let leaf_name = path.rsplit('.').next().unwrap_or(path);
    let mut nodes = minimal_spec();
    place(
        schema,
        &mut nodes,
        "",
        path,
        Built::new(leaf_name, &entries.join(" ")),
    );
    let mut out = String::new();
    for n in &nodes {
        n.render(&mut out);
    }
    out
}

#[test]
fn enum_values_in_schema_are_accepted_by_the_decoder() {
    let schema = load_schema();
    let enums = schema.enums();
    assert!(enums.len() > 20, "too few enums found: {}", enums.len());
    let mut failures = Vec::new();
    let mut tried = 0;
    for (path, prop, def) in enums {
        let what = match prop {
            None => format!("{path} (argument)"),
            Some(p) => format!("{path} {p}="),
        };
        let mut accepted: Vec<String> = def.choices.iter().map(|c| format!("{c:?}")).collect();
        if let Some((prefix, ty)) = &def.also {
            let example = match ty.as_str() {
                "pci-id" => "10de:2206",
                other => panic!("no sample for also-type {other}"),
            };
            accepted.push(format!("\"{prefix}{example}\""));
        }
        for value in &accepted {
            tried += 1;
            let text = spec_with(&schema, path, prop, value);
            let (spec, diags) = passplan::spec::parse(&text);
            if spec.is_none() || diags.has_errors() {
                let report = Report::new("enum.kdl", &text, diags.sorted());
                failures.push(format!(
                    "{what} {value} is in the schema but the decoder rejects it:\n{text}{}",
                    render_report(&report, 100, false)
                ));
            }
        }
        let text = spec_with(&schema, path, prop, "\"not-a-value\"");
        let (spec, diags) = passplan::spec::parse(&text);
        let flagged = diags.iter().any(|d| d.code.0 == "spec/invalid-value");
        if spec.is_some() || !flagged {
            let codes: Vec<&str> = diags.iter().map(|d| d.code.0).collect();
            failures.push(format!(
                "{what}: the decoder does not reject \"not-a-value\" as spec/invalid-value (got {codes:?}):\n{text}"
            ));
        }
    }
    assert!(tried > 60, "only {tried} enum values were tried");
    assert!(
        failures.is_empty(),
        "schema enums and the decoder disagree:\n\n{}",
        failures.join("\n\n")
    );
}

/// Integer ranges in the schema are the decoder's: both ends accepted, one step past each refused.
#[test]
fn integer_ranges_in_schema_are_the_decoders() {
    let schema = load_schema();
    let mut failures = Vec::new();
    let mut tried = 0;
    for (path, node) in &schema.nodes {
        let slots = node
            .arg
            .iter()
            .map(|a| (None, a))
            .chain(node.props.iter().map(|(n, p)| (Some(n.as_str()), p)));
        for (prop, def) in slots.filter(|(_, d)| d.ty == "integer") {
            let (Some(min), Some(max)) = (def.min, def.max) else {
                failures.push(format!("{path} {prop:?}: an integer without min and max"));
                continue;
            };
            tried += 1;
            for (value, ok) in [(min, true), (max, true), (min - 1, false), (max + 1, false)] {
                let text = spec_with(&schema, path, prop, &value.to_string());
                let (spec, diags) = passplan::spec::parse(&text);
                let invalid = diags.iter().any(|d| d.code.0 == "spec/invalid-value");
                if ok != spec.is_some() || ok == invalid {
                    let report = Report::new("int.kdl", &text, diags.sorted());
                    failures.push(format!(
                        "{path} {prop:?} = {value}: the schema says {}, the decoder disagrees:\n{text}{}",
                        if ok { "valid" } else { "invalid" },
                        render_report(&report, 100, false)
                    ));
                }
            }
        }
    }
    assert!(tried >= 8, "only {tried} integers were tried");
    assert!(
        failures.is_empty(),
        "schema integer ranges and the decoder disagree:\n\n{}",
        failures.join("\n\n")
    );
}

// ---- e: passplan host --json fits schema/host.schema.json -------------------------------------

fn host_schema() -> serde_json::Value {
    let text = read(&crate_dir().join("schema/host.schema.json"));
    serde_json::from_str(&text).expect("schema/host.schema.json is JSON")
}

/// Every problem the schema finds in `instance`, as `path: message`.
fn host_schema_errors(instance: &serde_json::Value) -> Vec<String> {
    let schema = host_schema();
    let validator = jsonschema::validator_for(&schema).expect("host.schema.json is a valid schema");
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn host_json_matches_schema() {
    let schema = host_schema();
    if let Err(e) = jsonschema::meta::validate(&schema) {
        panic!("schema/host.schema.json breaks its metaschema: {e}");
    }
    let mut roots: Vec<PathBuf> = std::fs::read_dir(crate_dir().join("examples"))
        .expect("examples/ is readable")
        .filter_map(|e| e.ok().map(|e| e.path().join("root")))
        .filter(|p| p.is_dir())
        .collect();
    roots.sort();
    if roots.is_empty() {
        eprintln!(
            "host_json_matches_schema: SKIPPED — no examples/*/root yet; only the schema itself was checked"
        );
        return;
    }
    let mut checked = 0;
    let mut failures = String::new();
    for root in &roots {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_passplan"))
            .arg("host")
            .arg("--json")
            .arg("--root")
            .arg(root)
            .output()
            .expect("passplan runs");
        assert!(
            out.status.success(),
            "passplan host --json --root {} failed:\n{}",
            root.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let instance: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{}: output is not JSON: {e}", root.display()));
        for e in host_schema_errors(&instance) {
            let _ = writeln!(failures, "{}: {e}", root.display());
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "passplan host --json does not fit schema/host.schema.json:\n{failures}"
    );
    if crate_dir().join("examples/workstation/root").is_dir() {
        assert!(
            checked >= 1,
            "examples/workstation/root exists but was not checked"
        );
    }
}

/// A document in the shape `passplan host --json` prints (src/host/render.rs), by hand: the
/// schema must take it, and must refuse it with a field renamed, dropped or mistyped.
fn sample_host_json() -> serde_json::Value {
    serde_json::json!({
        "format_version": 1,
        "cpu": { "vendor": "amd", "model_name": "AMD Ryzen 9 3900X 12-Core Processor", "virtualization": true },
        "kernel_release": "6.2.6-76060206-generic",
        "kvm_device": true,
        "vfio_pci": "built-in",
        "iommu_enabled": true,
        "acs_override": "downstream,multifunction",
        "iommu_groups": [
            { "id": 30, "synthetic": true, "devices": [
                { "address": "0000:0d:00.0", "vendor": "10de", "device": "2206", "subsystem": "1462:3892",
                  "class": "030000", "driver": "nvidia", "name": null, "boot_vga": false, "numa_node": null,
                  "passing_takes": ["0000:0d:00.0", "0000:0d:00.1"] },
                { "address": "0000:0d:00.1", "vendor": "10de", "device": "1aef", "subsystem": null,
                  "class": "040300", "driver": null, "name": "NVIDIA Corporation", "boot_vga": null, "numa_node": 0,
                  "passing_takes": ["0000:0d:00.0", "0000:0d:00.1"] }
            ] }
        ],
        "gpus": [
            { "address": "0000:0d:00.0", "group": 30, "boot_vga": false, "isolation": "shared", "shares_with": ["0000:0c:00.0"],
              "integrated": false, "takes": ["0000:0d:00.0", "0000:0d:00.1"], "stays": [] },
            { "address": "0000:0c:00.0", "group": null, "boot_vga": true, "isolation": "unknown", "shares_with": [],
              "integrated": true, "takes": ["0000:0c:00.0"],
              "stays": [ { "address": "0000:0c:00.1", "reason": "shares IOMMU group 12 with the CPU's own functions" } ] }
        ],
        "cpus": [
            { "cpu": 0, "online": true, "package": 0, "die": 0, "core": 0, "siblings": [0, 12], "l3": [0, 1, 2, 12, 13, 14], "node": 0, "kind": "uniform" },
            { "cpu": 12, "online": false, "package": 0, "die": 0, "core": 0, "siblings": [0, 12], "l3": null, "node": null, "kind": "efficiency" }
        ],
        "core_kinds": "none",
        "numa_nodes": [ { "id": 0, "cpus": [0, 12], "memory": 34_359_738_368_u64 }, { "id": 2, "cpus": [], "memory": null } ],
        "memory": {
            "total": 34_359_738_368_u64, "available": null, "default_hugepage": 2_097_152,
            "hugepages": [ { "size": 2_097_152, "total": 0, "free": 0 }, { "size": 1_073_741_824, "total": 16, "free": 16 } ]
        },
        "cpufreq": { "available": ["performance", "schedutil"], "current": { "0": "schedutil", "12": "performance" } },
        "cmdline": ["BOOT_IMAGE=/vmlinuz", "ro", "amd_iommu=on"],
        "boot": {
            "loader": "kernelstub", "loader_evidence": "/etc/kernelstub/configuration",
            "initramfs": "initramfs-tools", "initramfs_evidence": null,
            "configured_cmdline": { "tokens": [ { "key": "quiet", "value": null }, { "key": "iommu", "value": "pt" } ] }
        },
        "block_devices": [ { "name": "nvme0n1", "links": ["/dev/nvme0n1", "/dev/nvme0n1p2"], "pci": ["0000:04:00.0"], "mounts": ["/"], "swap": false } ],
        "usb": [ { "sysfs_name": "1-2.3", "id": "046d:c52b", "product": null, "controller": "0000:0f:00.3" } ]
    })
}

/// A change to a host document that the schema must refuse.
type Edit = fn(&mut serde_json::Value);

#[test]
fn host_schema_takes_the_documented_shape_and_refuses_drift() {
    let good = sample_host_json();
    assert_eq!(host_schema_errors(&good), Vec::<String>::new());
    let mut nulls = good.clone();
    nulls["cpufreq"] = serde_json::Value::Null;
    nulls["kernel_release"] = serde_json::Value::Null;
    nulls["boot"]["loader"] = serde_json::Value::Null;
    nulls["boot"]["configured_cmdline"] = serde_json::Value::Null;
    assert_eq!(host_schema_errors(&nulls), Vec::<String>::new());

    let edits: &[(&str, Edit)] = &[
        ("cpus[].core renamed", |v| {
            let c = v["cpus"][0].as_object_mut().expect("object");
            let core = c.remove("core").expect("core");
            c.insert("core_id".into(), core);
        }),
        ("format_version 2", |v| v["format_version"] = 2.into()),
        ("format_version dropped", |v| {
            v.as_object_mut().expect("object").remove("format_version");
        }),
        ("top-level field added", |v| {
            v["pci"] = serde_json::json!({});
        }),
        ("device address short form", |v| {
            v["iommu_groups"][0]["devices"][0]["address"] = "0d:00.0".into();
        }),
        ("device class as a number", |v| {
            v["iommu_groups"][0]["devices"][0]["class"] = 0x0003_0000.into();
        }),
        ("device driver dropped", |v| {
            v["iommu_groups"][0]["devices"][0]
                .as_object_mut()
                .expect("object")
                .remove("driver");
        }),
        ("siblings as a string", |v| {
            v["cpus"][0]["siblings"] = "0,12".into();
        }),
        ("kind in another case", |v| {
            v["cpus"][0]["kind"] = "Uniform".into();
        }),
        ("vfio_pci snake case", |v| v["vfio_pci"] = "built_in".into()),
        ("memory total as text", |v| {
            v["memory"]["total"] = "32GiB".into();
        }),
        ("group synthetic dropped", |v| {
            v["iommu_groups"][0]
                .as_object_mut()
                .expect("object")
                .remove("synthetic");
        }),
        ("gpu takes short form", |v| {
            v["gpus"][0]["takes"][0] = "0d:00.0".into();
        }),
        ("stays reason dropped", |v| {
            v["gpus"][1]["stays"][0]
                .as_object_mut()
                .expect("object")
                .remove("reason");
        }),
        ("isolation unknown word", |v| {
            v["gpus"][0]["isolation"] = "partial".into();
        }),
        ("usb id uppercase", |v| {
            v["usb"][0]["id"] = "046D:C52B".into();
        }),
        ("cpufreq key not a number", |v| {
            v["cpufreq"]["current"]["cpu0"] = "performance".into();
        }),
        ("boot loader unknown", |v| {
            v["boot"]["loader"] = "lilo".into();
        }),
        ("token field added", |v| {
            v["boot"]["configured_cmdline"]["tokens"][0]["raw"] = "quiet".into();
        }),
        ("block device swap dropped", |v| {
            v["block_devices"][0]
                .as_object_mut()
                .expect("object")
                .remove("swap");
        }),
    ];
    let mut accepted = Vec::new();
    for (what, edit) in edits {
        let mut bad = good.clone();
        edit(&mut bad);
        if host_schema_errors(&bad).is_empty() {
            accepted.push(*what);
        }
    }
    assert!(
        accepted.is_empty(),
        "host.schema.json accepts documents it must refuse: {accepted:?}"
    );
}

// ---- docs/spec.md lists every diagnostic code -------------------------------------------------

#[test]
fn docs_list_every_code() {
    let docs = read(&crate_dir().join("docs/spec.md"));
    let codes = passplan::diag::CODES
        .iter()
        .map(|c| c.code.0)
        .chain(passplan::check::rules::RULES.iter().map(|r| r.code.0));
    let missing: Vec<&str> = codes
        .filter(|c| !docs.contains(&format!("| `{c}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/spec.md's code tables lack: {missing:?}"
    );
}
