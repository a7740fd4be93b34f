//! Fuzz the whole pipeline on arbitrary bytes (format sniffed): reading, boilerplate,
//! signatures, near-duplicates, stories and the clusters.csv row order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use storyhash::input::{read_bytes, ReadOptions};
use storyhash::pipeline::{cluster_corpus, NoProgress, Options};
use storyhash::report;

fuzz_target!(|data: &[u8]| {
    let corpus = read_bytes("stdin", data, &ReadOptions::default());
    let records = corpus.articles.len() + corpus.rejects.len();
    let clustering = cluster_corpus(corpus, &Options::default(), &NoProgress).expect("default options are valid");
    assert_eq!(clustering.articles.len() + clustering.rejects.len(), records, "a record was lost");
    assert_eq!(report::row_order(&clustering).len(), clustering.articles.len());
    for (doc, &dup) in clustering.dup_of.iter().enumerate() {
        let group = &clustering.dup_groups[dup as usize];
        assert!(group.members.contains(&(doc as u32)));
        assert_eq!(clustering.story_of[doc], clustering.story_of[group.canonical() as usize]);
    }
});
