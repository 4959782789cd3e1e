//! Fuzz target `cmdline`: see `passplan::fuzzing::cmdline` for what it drives and asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| passplan::fuzzing::cmdline(data));
