//! The single integration-test binary (`cargo test --test it`): one `mod` per area, shared
//! helpers in `support`.

mod support;

mod apply;
mod build;
mod check_rules;
mod cli;
mod convergence;
mod domain;
mod examples;
mod faults;
mod fuzz_regressions;
mod garbage;
mod hooks;
mod host_vfio_config;
mod hostile;
mod iommu_ownership;
mod json_output;
mod layering;
mod loader;
mod passing;
mod pinning;
mod pinning_real;
mod schema;
mod spec_diagnostics;
mod systemd_boot_entries;
