//! Fuzzes the one journal reader (used by resume, export and replay) with arbitrary bytes:
//! it must never panic, must account for every byte, and must report every line it skips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use recmon::journal::{JournalReader, ReadItem};

fuzz_target!(|data: &[u8]| {
    let mut reader = JournalReader::new(data);
    let mut items = 0usize;
    while let Some(item) = reader.next() {
        let item = item.expect("reading from memory cannot fail");
        items += 1;
        match item {
            ReadItem::Entry(e) => {
                let _ = e.body_raw();
                let _ = e.query();
                let _ = recmon::pipeline::callback_of(&e);
            }
            ReadItem::Garbled { offset, .. } | ReadItem::PartialTail { offset, .. } => {
                assert!((offset as usize) < data.len());
            }
        }
    }
    assert_eq!(reader.offset() as usize, data.len());
    assert!(items <= data.len());
});
