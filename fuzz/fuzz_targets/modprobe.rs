//! Fuzz target `modprobe`: see `passplan::fuzzing::modprobe` for what it drives and asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| passplan::fuzzing::modprobe(data));
