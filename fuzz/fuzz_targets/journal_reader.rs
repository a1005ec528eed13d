//! Fuzzes the one journal reader (used by resume, export and replay) with arbitrary bytes
//! (the invariants checked: `recmon_fuzz::check_journal`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    recmon_fuzz::check_journal(data);
});
