//! The rules, one per file. Each file's `//!` doc (What it does / Why / Example) is the rule's
//! user documentation: `passplan explain CODE` prints it, read from the source at build time.

use super::Context;
use crate::diag::{Code, Diagnostics};

mod binding_host_config;
mod binding_ids_ambiguous;
mod boot_loader_mismatch;
mod cmdline_known_wrong;
mod cpu_auto_unsatisfiable;
mod cpu_core_split;
mod cpu_cross_l3;
mod cpu_cross_numa;
mod cpu_governor;
mod cpu_no_host_cpu;
mod cpu_overlap;
mod cpu_pin_duplicate;
mod cpu_pin_unknown;
mod cpu_remote_device;
mod cpu_shared_pins;
mod cpu_vcpu_count;
mod device_absent;
mod device_assigned_twice;
mod device_driver_name;
mod device_function_stays;
mod device_host_gpu_passed;
mod device_mismatch;
mod device_not_gpu;
mod display_boot_gpu;
mod display_none_left;
mod hook_script_writable;
mod host_file_too_large;
mod host_iommu_off;
mod host_no_kvm;
mod host_no_virtualization;
mod hyperv_vendor_id;
mod iommu_group_incomplete;
mod iommu_groups_synthetic;
mod iommu_host_gpu_shares_group;
mod memory_overcommit;
mod memory_page_multiple;
mod memory_page_size;
mod memory_static_too_large;
mod storage_in_use;
mod storage_relative_path;
mod storage_shared_disk;
mod usb_absent;

/// A rule: its code, its check, and its documentation.
#[derive(Clone, Copy)]
pub struct Rule {
    /// The code every finding of the rule carries.
    pub code: Code,
    /// Runs the rule.
    pub run: fn(&Context<'_>, &mut Diagnostics),
    /// The rule's source file, whose `//!` lines are its documentation.
    source: &'static str,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("code", &self.code)
            .finish_non_exhaustive()
    }
}

impl Rule {
    /// The rule's documentation: its file's leading `//!` lines.
    pub fn doc(&self) -> String {
        let mut out = String::new();
        for line in self.source.lines().take_while(|l| l.starts_with("//!")) {
            let text = line.trim_start_matches("//!");
            out.push_str(text.strip_prefix(' ').unwrap_or(text));
            out.push('\n');
        }
        out
    }
}

macro_rules! rules {
    ($($rule:ident),* $(,)?) => {
        /// Every rule, in the order they run (and report, before sorting by position).
        pub const RULES: &[Rule] = &[$(Rule {
            code: $rule::CODE,
            run: $rule::run,
            source: include_str!(concat!(stringify!($rule), ".rs")),
        }),*];
    };
}

rules![
    host_no_virtualization,
    host_no_kvm,
    host_iommu_off,
    host_file_too_large,
    boot_loader_mismatch,
    cmdline_known_wrong,
    device_absent,
    device_mismatch,
    device_not_gpu,
    device_host_gpu_passed,
    device_assigned_twice,
    device_function_stays,
    device_driver_name,
    iommu_group_incomplete,
    iommu_groups_synthetic,
    iommu_host_gpu_shares_group,
    display_boot_gpu,
    display_none_left,
    storage_in_use,
    storage_shared_disk,
    storage_relative_path,
    binding_ids_ambiguous,
    binding_host_config,
    usb_absent,
    cpu_pin_unknown,
    cpu_pin_duplicate,
    cpu_vcpu_count,
    cpu_auto_unsatisfiable,
    cpu_core_split,
    cpu_overlap,
    cpu_shared_pins,
    cpu_no_host_cpu,
    cpu_cross_numa,
    cpu_remote_device,
    cpu_cross_l3,
    cpu_governor,
    memory_page_multiple,
    memory_page_size,
    memory_static_too_large,
    memory_overcommit,
    hyperv_vendor_id,
    hook_script_writable,
];

/// The rule with this code.
pub fn lookup(code: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.code.0 == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_documented_in_the_house_shape() {
        for rule in RULES {
            let doc = rule.doc();
            for heading in ["## What it does", "## Why", "## Example"] {
                assert!(doc.contains(heading), "{} lacks `{heading}`", rule.code);
            }
        }
    }

    #[test]
    fn codes_are_unique_and_shaped_area_slash_name() {
        let mut codes: Vec<&str> = RULES.iter().map(|r| r.code.0).collect();
        for code in &codes {
            let (area, name) = code.split_once('/').expect("area/name");
            assert!(
                !area.is_empty()
                    && !name.is_empty()
                    && code.chars().all(|c| c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || c == '-'
                        || c == '/'),
                "{code}"
            );
        }
        codes.sort_unstable();
        let n = codes.len();
        codes.dedup();
        assert_eq!(n, codes.len(), "duplicate rule codes");
    }
}
