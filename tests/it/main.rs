//! One integration-test binary: `cargo test --test it`.

mod schema;
