//! The single integration-test binary (`cargo test --test it`): one `mod` per area, shared
//! helpers in `support`.

mod support;

mod build;
mod check_rules;
mod cli;
mod examples;
mod pinning;
mod schema;
mod spec_diagnostics;
