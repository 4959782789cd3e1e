//! Fuzz target `spec`: see `passplan::fuzzing::spec` for what it drives and asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| passplan::fuzzing::spec(data));
