// Baseline for bench/journal_read.sh: the cheapest useful read of a journal in Rust, a 1 MiB
// buffered reader counting lines with read_until (what JournalReader does before parsing).
use std::io::{BufRead, BufReader};

fn main() {
    let path = std::env::args().nth(1).expect("usage: linecount FILE");
    let file = std::fs::File::open(&path).expect("open");
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::with_capacity(4096);
    let mut lines = 0u64;
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).expect("read") {
            0 => break,
            _ => lines += 1,
        }
    }
    println!("{lines}");
}
