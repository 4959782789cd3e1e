//! Fuzz target `host_tree`: see `passplan::fuzzing::host_tree` for what it drives and asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| passplan::fuzzing::host_tree(data));
