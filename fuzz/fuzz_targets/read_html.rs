//! Fuzz the html reader: any bytes must give articles and rejects, never a panic, and every
//! record must be accounted for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use storyhash::input::{read_bytes, ReadOptions};

fuzz_target!(|data: &[u8]| {
    let corpus = read_bytes("fuzz.html", data, &ReadOptions::default());
    for article in &corpus.articles {
        assert!(!article.text.trim().is_empty(), "an article without text got through");
    }
});
