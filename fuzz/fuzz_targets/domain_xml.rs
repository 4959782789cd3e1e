//! Fuzz target `domain_xml`: see `passplan::fuzzing::domain_xml` for what it drives and asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| passplan::fuzzing::domain_xml(data));
