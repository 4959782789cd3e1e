//! The single integration-test binary: one `mod` per area, shared helpers in `support`.

mod support;

mod examples;
mod check_rules;
mod spec_diagnostics;
