//! Fuzz gzip decoding in front of the JSONL reader: truncated or corrupt streams must end in a
//! reject, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use storyhash::input::{read_bytes, ReadOptions};

fuzz_target!(|data: &[u8]| {
    let _ = read_bytes("fuzz.jsonl.gz", data, &ReadOptions::default());
});
