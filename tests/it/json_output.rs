//! Machine-readable output is only that: `plan --json` and `check --json` write exactly one JSON
//! document on stdout whatever happens — the findings inside it, an error still a document
//! with `errors` and exit 1 — and people's text goes to stderr. Every document is validated
//! against `schema/plan.schema.json`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn passplan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_passplan"))
        .args(args)
        .current_dir(manifest())
        .env_remove("NO_COLOR")
        .output()
        .expect("run passplan")
}

fn schema() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(manifest().join("schema/plan.schema.json")).unwrap(),
    )
    .unwrap()
}

/// The schema errors of `value` against `schema`.
fn violations(schema: &Value, value: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(schema).expect("a valid schema");
    validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// Stdout as exactly one JSON document (`serde_json` refuses trailing text).
fn one_document(out: &Output) -> Value {
    let stdout = String::from_utf8(out.stdout.clone()).expect("UTF-8 stdout");
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

const INVALID: &str = "tests/fixtures/specs/invalid/invalid-value.kdl";

#[test]
fn plan_json_of_every_example_is_one_valid_document_with_its_findings() {
    let schema = schema();
    for example in ["seed-001", "seed-003", "seed-004", "workstation"] {
        let spec = format!("examples/{example}/host.kdl");
        let root = format!("examples/{example}/root");
        let out = passplan(&["plan", &spec, "--root", &root, "--json"]);
        assert_eq!(out.status.code(), Some(0), "{example}");
        let doc = one_document(&out);
        assert_eq!(violations(&schema, &doc), Vec::<String>::new(), "{example}");
        assert!(doc["changes"].is_array() && doc["diagnostics"].is_array());
        if example == "workstation" {
            // `check` shows one warning for this example (cli::check_exits_zero_with_warnings_only):
            // it is in the document, and the human report went to stderr.
            let diagnostics = doc["diagnostics"].as_array().unwrap();
            assert_eq!(diagnostics.len(), 1, "{doc}");
            assert_eq!(diagnostics[0]["severity"], "warning");
            let code = diagnostics[0]["code"].as_str().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains(code), "human report on stderr:\n{stderr}");
            assert!(!String::from_utf8_lossy(&out.stdout).contains("help:"));
        }
    }
}

#[test]
fn plan_json_with_errors_is_still_one_document_and_exits_one() {
    let schema = schema();
    let out = passplan(&[
        "plan",
        INVALID,
        "--root",
        "examples/workstation/root",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let doc = one_document(&out);
    assert_eq!(violations(&schema, &doc), Vec::<String>::new());
    assert!(doc.get("changes").is_none(), "no plan: {doc}");
    let diagnostics = doc["diagnostics"].as_array().unwrap();
    assert!(diagnostics.len() >= 5, "every finding: {doc}");
    let first = &diagnostics[0];
    assert_eq!(first["severity"], "error");
    assert_eq!(first["location"]["file"], INVALID);
    assert!(first["location"]["line"].as_u64().unwrap() >= 1);
    assert!(first["location"]["column"].as_u64().unwrap() >= 1);
    assert!(!doc["errors"].as_array().unwrap().is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("spec/invalid-value"),
        "people read stderr:\n{stderr}"
    );

    // A spec that cannot even be read: the same shape, the reason in `errors`.
    let out = passplan(&["plan", "no/such/host.kdl", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc = one_document(&out);
    assert_eq!(violations(&schema, &doc), Vec::<String>::new());
    let errors = doc["errors"].as_array().unwrap();
    assert!(
        errors[0].as_str().unwrap().contains("does not exist"),
        "{doc}"
    );
    assert_eq!(doc["diagnostics"], serde_json::json!([]));
}

#[test]
fn check_json_lists_findings_in_the_schemas_shape() {
    // The schema of one finding, taken from plan.schema.json's $defs.
    let mut schema = schema();
    let defs = schema["$defs"].take();
    let findings_schema = serde_json::json!({
        "$defs": defs,
        "type": "array",
        "items": { "$ref": "#/$defs/diagnostic" }
    });
    let clean = passplan(&[
        "check",
        "examples/seed-003/host.kdl",
        "--root",
        "examples/seed-003/root",
        "--json",
    ]);
    assert_eq!(clean.status.code(), Some(0));
    let doc = one_document(&clean);
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["format_version"], 1);
    assert_eq!(
        violations(&findings_schema, &doc["diagnostics"]),
        Vec::<String>::new()
    );

    let bad = passplan(&[
        "check",
        INVALID,
        "--root",
        "examples/workstation/root",
        "--json",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let doc = one_document(&bad);
    assert_eq!(doc["ok"], false);
    assert_eq!(
        violations(&findings_schema, &doc["diagnostics"]),
        Vec::<String>::new()
    );
    assert!(doc["diagnostics"].as_array().unwrap().len() >= 5);
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("spec/invalid-value"),
        "the human report goes to stderr"
    );
    assert!(Path::new(&manifest().join(INVALID)).exists());
}
