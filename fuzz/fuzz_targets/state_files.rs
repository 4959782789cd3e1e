//! Fuzz target `state_files`: see `passplan::fuzzing::state_files` for what it drives and asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| passplan::fuzzing::state_files(data));
