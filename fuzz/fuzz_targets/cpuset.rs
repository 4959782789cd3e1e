//! Fuzz target `cpuset`: see `passplan::fuzzing::cpuset` for what it drives and asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| passplan::fuzzing::cpuset(data));
