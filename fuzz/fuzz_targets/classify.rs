//! Fuzzes the pure classifier with arbitrary method, query and body (input layout and the
//! invariants checked: `recmon_fuzz::check_classify`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    recmon_fuzz::check_classify(data);
});
