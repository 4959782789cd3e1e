//! Issue 11: the IOMMU parameters the user already has are respected. Without an `iommu` node
//! passplan leaves them alone, even ones it adopted before; with one it owns them and removes
//! the invalid `amd_iommu=on` (the seed tutorials' flag, on the workstation's kernelstub
//! options as on iroger's and matsto641's GRUB lines), saying so.

use passplan::desired::{Desired, SpecSource};

use crate::support::{FakeHost, seed003, workstation, write_seed};

fn example(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/examples/{name}/host.kdl",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn compile(host: &FakeHost, spec: &str, owned: &[&str]) -> Desired {
    let root = write_seed(host);
    let (decoded, _) = passplan::spec::parse(spec);
    let facts = passplan::host::discover(root.path()).expect("discover");
    let (checked, found) = passplan::check::check(decoded.expect("decodes"), facts);
    let checked = checked.unwrap_or_else(|| {
        panic!(
            "check: {:?}",
            found.iter().map(|d| &d.message).collect::<Vec<_>>()
        )
    });
    let owned: Vec<String> = owned.iter().map(|s| (*s).to_owned()).collect();
    let source = SpecSource {
        name: "host.kdl".into(),
        text: spec.to_owned(),
        dir: None,
    };
    passplan::compile::compile_with(&checked, &source, &owned).expect("compile")
}

fn file<'a>(desired: &'a Desired, path: &str) -> Option<&'a str> {
    desired
        .artifacts
        .iter()
        .find(|a| a.path == path)
        .map(|a| a.content.as_str())
}

/// Seed 003's Debian host has `intel_iommu=on` in `GRUB_CMDLINE_LINUX_DEFAULT`. A spec that had
/// `iommu` (so passplan adopted the token by name) and then drops the node keeps it.
#[test]
fn issue_11_dropping_the_iommu_node_keeps_the_users_intel_iommu() {
    let spec = example("seed-003").replace("iommu mode=\"on\"", "");
    let desired = compile(&seed003(), &spec, &["intel_iommu"]);
    if let Some(grub) = file(&desired, "/etc/default/grub") {
        assert!(
            grub.contains("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash intel_iommu=on"),
            "{grub}"
        );
    }
}

/// The workstation (Ryzen 9 3900X, kernelstub) carries `amd_iommu=on`; its spec declares
/// `iommu mode="pt"`, so the invalid flag goes, and the plan's notes say why.
#[test]
fn issue_11_a_declared_iommu_removes_amd_iommu_on_and_says_so() {
    let desired = compile(&workstation(), &example("workstation"), &[]);
    let config = file(&desired, "/etc/kernelstub/configuration").expect("kernelstub edited");
    assert!(!config.contains("amd_iommu"), "{config}");
    assert!(config.contains("\"iommu=pt\""), "{config}");
    assert!(
        desired
            .notes
            .iter()
            .any(|n| n.contains("amd_iommu=on is not a valid value") && n.contains("removes it")),
        "{:?}",
        desired.notes
    );
    // Without the node, the same flag stays: passplan does not own it.
    let spec = example("workstation").replace("iommu mode=\"pt\"", "");
    let desired = compile(&workstation(), &spec, &[]);
    if let Some(config) = file(&desired, "/etc/kernelstub/configuration") {
        assert!(config.contains("amd_iommu=on"), "{config}");
    }
}
