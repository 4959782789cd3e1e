//! Fuzz target `editors`: see `passplan::fuzzing::editors` for what it drives and asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| passplan::fuzzing::editors(data));
