//! Reproducible generator of a synthetic, news-like corpus with known
//! near-duplicates and stories, used by storyhash's benchmarks and tests.
//!
//! What it does:
//! - writes `docs.jsonl` (one article per line: `id`, `title`, `text`,
//!   `date`, `url`, `source`) and `labels.csv` (`id,dup,story`), the ground
//!   truth that deduplication and story clustering should recover;
//! - imitates the statistics that matter for MinHash/LSH on word shingles:
//!   log-normal lengths (median ≈ 400 words, mean ≈ 500, tail to 8,000), a
//!   Zipfian vocabulary, sentences and paragraphs, per-site boilerplate lines,
//!   stories whose articles share a cast of names, places and topic words,
//!   near-duplicate republications (other site, new headline, a few word
//!   edits, sometimes a trimmed last paragraph), ~1% exact duplicates and
//!   ~0.5% very short articles;
//! - is a pure function of `(n, seed)`: every story, original and copy draws
//!   from its own PRNG stream keyed by `(seed, entity)`, so the bytes do not
//!   depend on the thread count or the chunking.
//!
//! What it does not do:
//! - produce real language: words are drawn independently (no grammar) and
//!   most of the vocabulary is synthesised from syllables;
//! - model paraphrase, translation, HTML, Unicode or non-ASCII text: copies
//!   differ from their original only by word edits, trimming and boilerplate;
//! - promise identical bytes across platforms: lengths and the Zipf table go
//!   through `exp`/`ln`/`powf`, whose last bit may differ between libms.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use rayon::prelude::*;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenOptions {
    /// Number of articles.
    pub n: usize,
    /// Seed of every random choice: the same `(n, seed)` gives the same bytes.
    pub seed: u64,
}

/// What was generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GenSummary {
    /// Articles written (= `n`).
    pub articles: usize,
    /// Distinct dup labels: each original with its copies, singletons included.
    pub dup_groups: usize,
    /// Distinct story labels.
    pub stories: usize,
    /// Bytes written to the docs output (`docs.jsonl`).
    pub bytes: u64,
}

/// Writes `docs.jsonl` and `labels.csv` into `out_dir` (created if missing).
pub fn generate_corpus(opts: &GenOptions, out_dir: &Path) -> Result<GenSummary> {
    fs::create_dir_all(out_dir)
        .with_context(|| format!("creating output directory {}", out_dir.display()))?;
    let docs = create_buffered(&out_dir.join("docs.jsonl"))?;
    let labels = create_buffered(&out_dir.join("labels.csv"))?;
    write_corpus(opts, docs, labels)
}

/// Same corpus, written to any writers (used by tests and benches without touching disk).
pub fn write_corpus<W1: Write, W2: Write>(
    opts: &GenOptions,
    docs: W1,
    labels: W2,
) -> Result<GenSummary> {
    write_corpus_chunked(opts, Chunking::DEFAULT, docs, labels)
}

/// How output positions are split into work units. It changes speed and
/// memory only, never the bytes (a test checks this).
#[derive(Clone, Copy)]
struct Chunking {
    /// Articles rendered into one buffer by one task.
    articles_per_chunk: usize,
    /// Chunks rendered in parallel before being written in order.
    chunks_per_batch: usize,
}

impl Chunking {
    /// 512 articles ≈ 1.6 MB per chunk; 32 chunks per batch keep both cores
    /// busy while holding ~100 MB (two batches) of output in memory.
    const DEFAULT: Chunking = Chunking {
        articles_per_chunk: 512,
        chunks_per_batch: 32,
    };
}

fn write_corpus_chunked<W1: Write, W2: Write>(
    opts: &GenOptions,
    chunking: Chunking,
    mut docs: W1,
    mut labels: W2,
) -> Result<GenSummary> {
    // Plans index articles with u32 to stay compact at millions of articles.
    anyhow::ensure!(
        u32::try_from(opts.n).is_ok(),
        "at most {} articles",
        u32::MAX
    );
    let generator = Generator {
        lang: Language::build(),
        plan: Plan::build(opts),
        seed: opts.seed,
        chunking,
    };
    labels
        .write_all(b"id,dup,story\n")
        .context("writing labels")?;

    // Chunks are rendered in parallel a batch at a time. While this thread
    // writes one batch (in chunk order), the pool renders the next: writing
    // costs about half as much as rendering, so overlapping them pays.
    let batch_count = opts
        .n
        .div_ceil(chunking.articles_per_chunk * chunking.chunks_per_batch);
    let mut ready = Batch::new(chunking);
    let mut next = Batch::new(chunking);
    if batch_count > 0 {
        generator.render_batch(0, &mut ready);
    }
    let mut bytes = 0u64;
    for batch in 0..batch_count {
        // `in_place_scope` keeps this closure (and the writers, which need
        // not be `Send`) on this thread and sends the rendering to the
        // current rayon pool, so a caller's `ThreadPool::install` is honoured.
        bytes += rayon::in_place_scope(|scope| {
            if batch + 1 < batch_count {
                let next = &mut next;
                let generator = &generator;
                scope.spawn(move |_| generator.render_batch(batch + 1, next));
            }
            ready.write_to(&mut docs, &mut labels)
        })?;
        std::mem::swap(&mut ready, &mut next);
    }
    docs.flush().context("flushing docs")?;
    labels.flush().context("flushing labels")?;

    Ok(GenSummary {
        articles: opts.n,
        dup_groups: generator.plan.groups.len(),
        stories: generator.plan.stories,
        bytes,
    })
}

fn create_buffered(path: &Path) -> Result<BufWriter<File>> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}

// ---------------------------------------------------------------------------
// Tuning knobs. Comments give the target each value was chosen for.
// ---------------------------------------------------------------------------

/// The language (words, names, places, sites) is the same for every seed, as
/// real corpora share a language; only stories and articles depend on the seed.
const LANGUAGE_SEED: u64 = 0x5EED_0F1A_460A_6E00;
const SITE_COUNT: usize = 50;
const VOCAB_SIZE: usize = 20_000;
/// Zipf exponent of word ranks (English news measures about 1.0–1.1).
const ZIPF_EXPONENT: f64 = 1.07;
const FIRST_NAME_COUNT: usize = 400;
const LAST_NAME_COUNT: usize = 1_500;
const PLACE_COUNT: usize = 600;
/// Topic words are drawn log-uniformly from these ranks: past the function
/// words, biased towards mid-frequency content words.
const TOPIC_RANKS: (usize, usize) = (150, VOCAB_SIZE);

/// Log-normal body length: median e^mu = 400 words; sigma = 0.668 makes the
/// mean 400 * e^(sigma^2 / 2) ≈ 500 and puts ~0.8% of articles above 2,000.
const LENGTH_MEDIAN_WORDS: f64 = 400.0;
const LENGTH_SIGMA: f64 = 0.668;
const MIN_WORDS: usize = 50;
const MAX_WORDS: usize = 8_000;
const SHORT_WORDS: (usize, usize) = (10, 40);
/// Per original; originals are ~69% of articles, so ~0.5% of all articles.
const SHORT_PROBABILITY: f64 = 0.0072;

/// Distinct originals per story (first report plus follow-ups): weights of 1..=5.
const ORIGINALS_PER_STORY_WEIGHTS: [u32; 5] = [45, 22, 15, 10, 8];
/// Most originals are never copied; those that are get 1..=6 copies with
/// these weights (mean ≈ 2.7). Together: ~31% of articles are copies and
/// ~43% belong to a dup group of size >= 2.
const NO_COPY_PROBABILITY: f64 = 0.83;
const COPY_COUNT_WEIGHTS: [u32; 6] = [35, 20, 15, 12, 10, 8];
/// Share of copies that are byte-identical mirrors: ~1% of all articles.
const EXACT_COPY_PROBABILITY: f64 = 0.033;

/// Story start dates cover 2023-01-01 .. 2024-12-31.
const DATE_SPAN_DAYS: u64 = 730;
/// Days from 1970-01-01 to 2023-01-01.
const EPOCH_DAY_2023: u64 = 19_358;
/// Follow-ups come 1..=150 days after the first report, log-uniformly.
const FOLLOW_UP_MAX_DAYS: f64 = 150.0;
const COPY_MAX_DELAY_DAYS: u64 = 2;

/// Per body word: chance of a story topic word, a cast member, a story place,
/// a random (non-story) name. Everything else is a Zipf word.
const TOPIC_WORD_RATE: f64 = 0.07;
const CAST_MENTION_RATE: f64 = 0.025;
const PLACE_MENTION_RATE: f64 = 0.01;
const STRAY_NAME_RATE: f64 = 0.003;
const FULL_NAME_PROBABILITY: f64 = 0.4;
const COMMA_RATE: f64 = 0.06;
const SENTENCE_WORDS: (usize, usize) = (8, 30);
const PARAGRAPH_SENTENCES: (usize, usize) = (2, 6);
const TITLE_WORDS: (usize, usize) = (5, 11);

const COPY_WORD_EDITS: (usize, usize) = (1, 5);
const TRIM_LAST_PARAGRAPH_PROBABILITY: f64 = 0.4;
const MIN_PARAGRAPHS_TO_TRIM: usize = 3;
const FRESH_HEADLINE_PROBABILITY: f64 = 0.3;
const HEADLINE_SITE_SUFFIX_PROBABILITY: f64 = 0.25;

// ---------------------------------------------------------------------------
// PRNG
// ---------------------------------------------------------------------------

/// Independent random streams; the tag keeps e.g. story 7 and original 7 apart.
#[derive(Clone, Copy)]
enum Stream {
    Plan = 1,
    Language = 2,
    Story = 3,
    Original = 4,
    Copy = 5,
}

/// SplitMix64 step: used to derive stream keys and seed xoshiro.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn mix64(mut x: u64) -> u64 {
    splitmix64(&mut x)
}

/// xoshiro256** (Blackman & Vigna): tiny, fast and statistically sound.
/// Unlike plain SplitMix64, streams from random seeds cannot overlap in practice.
struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// The stream of one entity. Content depends only on `(seed, stream,
    /// index)`, never on which thread or chunk asks for it.
    fn stream(seed: u64, stream: Stream, index: u64) -> Self {
        let mut state = mix64(mix64(mix64(seed) ^ stream as u64) ^ index);
        let s = [
            splitmix64(&mut state),
            splitmix64(&mut state),
            splitmix64(&mut state),
            splitmix64(&mut state),
        ];
        Rng { s }
    }

    fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` by multiply-shift (bias <= n / 2^64, irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    fn between(&mut self, (low, high): (usize, usize)) -> usize {
        low + self.index(high - low + 1)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    /// Box–Muller; one of the pair is thrown away to keep the RNG stateless.
    fn standard_normal(&mut self) -> f64 {
        let radius = (-2.0 * (1.0 - self.unit()).ln()).sqrt();
        radius * (std::f64::consts::TAU * self.unit()).cos()
    }

    /// Index drawn with probability proportional to `weights`.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut target = self.below(u64::from(total)) as u32;
        for (i, &weight) in weights.iter().enumerate() {
            if target < weight {
                return i;
            }
            target -= weight;
        }
        weights.len() - 1
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// `pick` for word lists, where `&&str` would not coerce to `&str`.
    fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        items[self.index(items.len())]
    }
}

/// Walker/Vose alias table: O(1) sampling from a fixed discrete distribution.
struct AliasTable {
    slots: Vec<AliasSlot>,
}

#[derive(Clone, Copy)]
struct AliasSlot {
    /// Keep the slot's own index when the high 32 random bits are below this
    /// (2^32 = always keep).
    keep_below: u64,
    alias: u32,
}

impl AliasTable {
    fn new(weights: &[f64]) -> Self {
        let n = weights.len();
        let total: f64 = weights.iter().sum();
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        let mut slots = vec![
            AliasSlot {
                keep_below: 1 << 32,
                alias: 0,
            };
            n
        ];
        // Leftovers of either list (rounding) keep the default "always self".
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            slots[s] = AliasSlot {
                keep_below: (scaled[s] * (1u64 << 32) as f64) as u64,
                alias: l as u32,
            };
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        AliasTable { slots }
    }

    fn zipf(n: usize, exponent: f64) -> Self {
        let weights: Vec<f64> = (1..=n).map(|rank| (rank as f64).powf(-exponent)).collect();
        Self::new(&weights)
    }

    /// One 64-bit draw: low half picks the slot, high half decides slot vs alias.
    fn sample(&self, rng: &mut Rng) -> u32 {
        let r = rng.next_u64();
        let slot_index = ((r & 0xFFFF_FFFF) * self.slots.len() as u64) >> 32;
        let slot = self.slots[slot_index as usize];
        if (r >> 32) < slot.keep_below {
            slot_index as u32
        } else {
            slot.alias
        }
    }
}

// ---------------------------------------------------------------------------
// Language: words, names, places and sites shared by every corpus
// ---------------------------------------------------------------------------

/// The most frequent words of English news, in rough rank order, so that the
/// top of the Zipf curve looks like the real thing.
#[rustfmt::skip]
const COMMON_WORDS: &[&str] = &[
    "the", "of", "to", "and", "a", "in", "that", "said", "for", "on", "is", "was", "with", "he",
    "it", "as", "at", "by", "his", "from", "be", "has", "have", "an", "but", "are", "not", "they",
    "who", "this", "were", "had", "been", "their", "would", "will", "which", "after", "more",
    "its", "or", "one", "also", "new", "we", "about", "there", "year", "people", "than", "when",
    "two", "she", "up", "her", "all", "last", "first", "over", "out", "can", "told", "could",
    "into", "years", "other", "no", "if", "some", "what", "them", "three", "week", "state", "city",
    "government", "police", "officials", "percent", "million", "before", "while", "since",
    "because", "during", "report", "company", "president", "minister", "court", "public", "local",
    "health", "market", "according", "between", "under", "against", "former", "made", "many",
    "most", "where", "did", "says", "those", "may", "being", "just", "only", "him", "our", "you",
    "do", "time", "so", "now", "back", "still", "such", "how", "including", "per", "cent", "four",
    "next", "month", "told", "day", "home", "work", "group", "country", "national", "any",
];

#[rustfmt::skip]
const ONSETS: &[&str] = &[
    "b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "b", "d", "l",
    "m", "n", "r", "s", "t", "br", "ch", "dr", "gr", "st", "th",
];
#[rustfmt::skip]
const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "a", "e", "i", "o", "a", "e", "ea", "ou", "ai"];
#[rustfmt::skip]
const CODAS: &[&str] = &["", "", "", "", "", "", "", "", "n", "r", "s", "t", "l", "m", "nd", "st"];
#[rustfmt::skip]
const LAST_NAME_ENDINGS: &[&str] = &[
    "", "son", "ani", "ez", "ski", "ova", "berg", "ley", "ton", "elli", "ard", "sen", "ino", "ic",
];
const PLACE_PREFIXES: &[&str] = &[
    "Port", "New", "Lake", "Mount", "Fort", "East", "West", "San",
];
const PLACE_SUFFIX_WORDS: &[&str] = &["Falls", "Bay", "Springs", "Valley", "Heights", "Harbor"];
const PLACE_SUFFIXES: &[&str] = &["ton", "ford", "burg", "field", "ville", "mouth"];

#[rustfmt::skip]
const OUTLET_NOUNS: &[&str] = &[
    "Ledger", "Herald", "Tribune", "Gazette", "Courier", "Post", "Times", "Chronicle", "Observer",
    "Dispatch", "Sentinel", "Record", "Journal", "Monitor", "Examiner", "Bulletin", "Express",
    "Standard", "Review", "Beacon",
];
/// `{name}`, `{domain}` and `{year}` are filled in per site.
const HEADER_TEMPLATES: &[&str] = &[
    "{name} | News, Politics, Business, Sport",
    "Home / News / {name}",
    "{name} - independent news since {year}",
    "Menu Search {name} Sign in",
    "Latest from {name}",
];
const FOOTER_TEMPLATES: &[&str] = &[
    "Subscribe to the {name} newsletter",
    "Image copyright {name}",
    "Share this article",
    "Copyright {year} {name}. All rights reserved.",
    "Follow {name} for the latest updates",
    "Read more at {domain}",
    "Related stories",
    "Sign up for breaking news alerts from {name}",
];

/// All words in one string: lookups stay in cache and rendering never allocates.
#[derive(Default)]
struct Lexicon {
    text: String,
    spans: Vec<(u32, u32)>,
    ids: HashMap<String, u32>,
}

impl Lexicon {
    fn intern(&mut self, word: &str) -> u32 {
        if let Some(&id) = self.ids.get(word) {
            return id;
        }
        let id = self.spans.len() as u32;
        self.spans.push((self.text.len() as u32, word.len() as u32));
        self.text.push_str(word);
        self.ids.insert(word.to_owned(), id);
        id
    }

    fn word(&self, id: u32) -> &str {
        let (start, len) = self.spans[id as usize];
        &self.text[start as usize..(start + len) as usize]
    }
}

/// A place is one or two capitalised words ("Port Ellison", "Gravenford").
#[derive(Clone, Copy, Default)]
struct Place {
    words: [u32; 2],
    len: u8,
}

impl Place {
    fn tokens(&self) -> &[u32] {
        &self.words[..self.len as usize]
    }
}

struct Site {
    domain: String,
    name: String,
    header: String,
    footers: Vec<String>,
}

struct Language {
    lexicon: Lexicon,
    /// Over vocabulary ids `0..VOCAB_SIZE`, which are also lexicon ids.
    zipf: AliasTable,
    first_names: Vec<u32>,
    last_names: Vec<u32>,
    places: Vec<Place>,
    sites: Vec<Site>,
}

impl Language {
    fn build() -> Self {
        let mut rng = Rng::stream(LANGUAGE_SEED, Stream::Language, 0);
        let mut lexicon = Lexicon::default();
        // Lowercase forms already used, so names never collide with words
        // after the usual lowercasing tokenizer.
        let mut taken = HashSet::new();
        add_vocabulary(&mut rng, &mut lexicon, &mut taken);
        let first_names = (0..FIRST_NAME_COUNT)
            .map(|_| lexicon.intern(&unique(&mut rng, &mut taken, synth_first_name)))
            .collect();
        let last_names = (0..LAST_NAME_COUNT)
            .map(|_| lexicon.intern(&unique(&mut rng, &mut taken, synth_last_name)))
            .collect();
        let places = (0..PLACE_COUNT)
            .map(|_| synth_place(&mut rng, &mut lexicon, &mut taken))
            .collect();
        let sites = (1..=SITE_COUNT).map(|i| synth_site(&mut rng, i)).collect();
        Language {
            lexicon,
            zipf: AliasTable::zipf(VOCAB_SIZE, ZIPF_EXPONENT),
            first_names,
            last_names,
            places,
            sites,
        }
    }

    fn zipf_word(&self, rng: &mut Rng) -> u32 {
        self.zipf.sample(rng)
    }
}

/// Vocabulary ids are Zipf ranks: common English words first, then synthetic
/// words that get longer as they get rarer, as in real text.
fn add_vocabulary(rng: &mut Rng, lexicon: &mut Lexicon, taken: &mut HashSet<String>) {
    for word in COMMON_WORDS {
        if taken.insert((*word).to_owned()) {
            lexicon.intern(word);
        }
    }
    while lexicon.spans.len() < VOCAB_SIZE {
        let syllables = if lexicon.spans.len() < 2_000 {
            rng.between((1, 2))
        } else {
            rng.between((2, 3))
        };
        let word = unique(rng, taken, |rng| synth_root(rng, syllables));
        lexicon.intern(&word);
    }
}

/// Draws from `make` until the lowercase form is new, then reserves it.
fn unique(rng: &mut Rng, taken: &mut HashSet<String>, make: impl Fn(&mut Rng) -> String) -> String {
    loop {
        let candidate = make(rng);
        if taken.insert(candidate.to_ascii_lowercase()) {
            return candidate;
        }
    }
}

fn synth_root(rng: &mut Rng, syllables: usize) -> String {
    let mut root = String::new();
    for i in 0..syllables {
        // A bare vowel start now and then ("alder", "ilva").
        if i > 0 || !rng.chance(0.15) {
            root.push_str(rng.pick_str(ONSETS));
        }
        root.push_str(rng.pick_str(VOWELS));
        root.push_str(rng.pick_str(CODAS));
    }
    root
}

fn capitalised(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    push_capitalised(&mut out, word);
    out
}

fn synth_first_name(rng: &mut Rng) -> String {
    capitalised(&synth_root(rng, 2))
}

fn synth_last_name(rng: &mut Rng) -> String {
    let root = synth_root(rng, 2);
    capitalised(&(root + rng.pick_str(LAST_NAME_ENDINGS)))
}

fn synth_place(rng: &mut Rng, lexicon: &mut Lexicon, taken: &mut HashSet<String>) -> Place {
    match rng.below(3) {
        0 => {
            let prefix = lexicon.intern(rng.pick_str(PLACE_PREFIXES));
            let root = unique(rng, taken, |rng| capitalised(&synth_root(rng, 2)));
            Place {
                words: [prefix, lexicon.intern(&root)],
                len: 2,
            }
        }
        1 => {
            let root = unique(rng, taken, |rng| capitalised(&synth_root(rng, 2)));
            let suffix = lexicon.intern(rng.pick_str(PLACE_SUFFIX_WORDS));
            Place {
                words: [lexicon.intern(&root), suffix],
                len: 2,
            }
        }
        _ => {
            let name = unique(rng, taken, |rng| {
                capitalised(&(synth_root(rng, 1) + rng.pick_str(PLACE_SUFFIXES)))
            });
            Place {
                words: [lexicon.intern(&name), 0],
                len: 1,
            }
        }
    }
}

fn synth_site(rng: &mut Rng, number: usize) -> Site {
    let domain = format!("site{number}.example");
    let name = format!("Site{number} {}", rng.pick_str(OUTLET_NOUNS));
    let year = (1850 + rng.below(160)).to_string();
    let fill = |template: &str| {
        template
            .replace("{name}", &name)
            .replace("{domain}", &domain)
            .replace("{year}", &year)
    };
    let header = fill(rng.pick_str(HEADER_TEMPLATES));
    let mut footer_templates: Vec<&str> = FOOTER_TEMPLATES.to_vec();
    shuffle(rng, &mut footer_templates);
    let footers = footer_templates[..rng.between((1, 3))]
        .iter()
        .map(|t| fill(t))
        .collect();
    Site {
        domain,
        name,
        header,
        footers,
    }
}

fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.index(i + 1));
    }
}

// ---------------------------------------------------------------------------
// Plan: which articles exist, how they relate, and in what order they appear
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// First report or follow-up: fresh text, starts a dup group.
    Original,
    /// Republication with new boilerplate, headline and a few word edits.
    NearCopy,
    /// Byte-identical text and title on another site.
    ExactCopy,
}

/// A dup group: one original and its copies.
struct Group {
    story: u32,
    /// The original's site.
    site: u16,
    short: bool,
}

struct Article {
    group: u32,
    kind: Kind,
    site: u16,
    /// Days since 2023-01-01.
    day: u32,
}

struct Plan {
    groups: Vec<Group>,
    /// In generation order: each original is followed by its copies.
    articles: Vec<Article>,
    stories: usize,
    /// `output_order[position]` = index into `articles`; ids follow positions.
    output_order: Vec<u32>,
}

impl Plan {
    /// Sequential and cheap (no text): stories are added until `n` articles
    /// exist, then the list is cut at `n`, which keeps every group whole up to
    /// the cut since an original always precedes its copies.
    fn build(opts: &GenOptions) -> Self {
        let mut rng = Rng::stream(opts.seed, Stream::Plan, 0);
        let mut plan = Plan {
            groups: Vec::new(),
            articles: Vec::with_capacity(opts.n + 64),
            stories: 0,
            output_order: Vec::new(),
        };
        let mut story = 0u32;
        while plan.articles.len() < opts.n {
            plan.add_story(&mut rng, story);
            story += 1;
        }
        plan.articles.truncate(opts.n);
        let groups_used = plan.articles.last().map_or(0, |a| a.group as usize + 1);
        plan.groups.truncate(groups_used);
        plan.stories = plan.groups.last().map_or(0, |g| g.story as usize + 1);
        plan.output_order = (0..opts.n as u32).collect();
        shuffle(&mut rng, &mut plan.output_order);
        plan
    }

    fn add_story(&mut self, rng: &mut Rng, story: u32) {
        let start_day = rng.below(DATE_SPAN_DAYS) as u32;
        let originals = 1 + rng.weighted(&ORIGINALS_PER_STORY_WEIGHTS);
        for k in 0..originals {
            let day = if k == 0 {
                start_day
            } else {
                start_day + FOLLOW_UP_MAX_DAYS.powf(rng.unit()).round() as u32
            };
            self.add_group(rng, story, day);
        }
    }

    fn add_group(&mut self, rng: &mut Rng, story: u32, day: u32) {
        let group = self.groups.len() as u32;
        let site = rng.index(SITE_COUNT) as u16;
        let short = rng.chance(SHORT_PROBABILITY);
        self.groups.push(Group { story, site, short });
        self.articles.push(Article {
            group,
            kind: Kind::Original,
            site,
            day,
        });
        // Copies of a 10-40 word brief would be mostly edits; briefs stay single.
        if short || rng.chance(NO_COPY_PROBABILITY) {
            return;
        }
        let copies = 1 + rng.weighted(&COPY_COUNT_WEIGHTS);
        for _ in 0..copies {
            let kind = if rng.chance(EXACT_COPY_PROBABILITY) {
                Kind::ExactCopy
            } else {
                Kind::NearCopy
            };
            self.articles.push(Article {
                group,
                kind,
                site: other_site(rng, site),
                day: day + rng.below(COPY_MAX_DELAY_DAYS + 1) as u32,
            });
        }
    }
}

/// A uniformly random site different from `site`.
fn other_site(rng: &mut Rng, site: u16) -> u16 {
    let other = rng.index(SITE_COUNT - 1) as u16;
    if other >= site {
        other + 1
    } else {
        other
    }
}

// ---------------------------------------------------------------------------
// Content: tokens of titles and bodies
// ---------------------------------------------------------------------------

// A token is a lexicon id in the low bits plus layout flags in the high bits,
// so a body is a flat Vec<u32> that copies edit word by word and that renders
// without allocating.
const WORD_MASK: u32 = (1 << 28) - 1;
const SENTENCE_START: u32 = 1 << 28;
const SENTENCE_END: u32 = 1 << 29;
const PARAGRAPH_END: u32 = 1 << 30;
const COMMA_AFTER: u32 = 1 << 31;
const LAYOUT_FLAGS: u32 = !WORD_MASK;
const TRAILING_FLAGS: u32 = SENTENCE_END | PARAGRAPH_END | COMMA_AFTER;

/// What recurs across a story's articles and lets a clusterer link them.
#[derive(Default)]
struct StoryCast {
    /// `[first, last]` lexicon ids; the first person is the lead.
    people: Vec<[u32; 2]>,
    places: Vec<Place>,
    topic: Vec<u32>,
}

impl StoryCast {
    fn fill(&mut self, lang: &Language, seed: u64, story: u32) {
        let mut rng = Rng::stream(seed, Stream::Story, u64::from(story));
        self.people.clear();
        for _ in 0..rng.between((2, 5)) {
            let first = *rng.pick(&lang.first_names);
            let last = *rng.pick(&lang.last_names);
            self.people.push([first, last]);
        }
        self.places.clear();
        for _ in 0..rng.between((1, 2)) {
            self.places.push(*rng.pick(&lang.places));
        }
        self.topic.clear();
        for _ in 0..rng.between((10, 30)) {
            self.topic.push(log_uniform_rank(&mut rng, TOPIC_RANKS));
        }
    }

    /// Skewed towards the lead: the minimum of two uniform draws.
    fn person(&self, rng: &mut Rng) -> [u32; 2] {
        let i = rng.index(self.people.len());
        let j = rng.index(self.people.len());
        self.people[i.min(j)]
    }
}

fn log_uniform_rank(rng: &mut Rng, (low, high): (usize, usize)) -> u32 {
    let ratio = high as f64 / low as f64;
    ((low as f64 * ratio.powf(rng.unit())) as usize).min(high - 1) as u32
}

#[derive(Default)]
struct ArticleContent {
    title: Vec<u32>,
    body: Vec<u32>,
    /// Append " - <site name>" to the headline, as aggregators often do.
    title_site_suffix: bool,
}

/// An original's title and body, regenerated identically by each of its copies.
fn write_original(
    lang: &Language,
    cast: &StoryCast,
    rng: &mut Rng,
    short: bool,
    content: &mut ArticleContent,
) {
    let words = body_length(rng, short);
    write_body(lang, cast, rng, words, &mut content.body);
    write_title(lang, cast, rng, &mut content.title);
    content.title_site_suffix = false;
}

fn body_length(rng: &mut Rng, short: bool) -> usize {
    if short {
        return rng.between(SHORT_WORDS);
    }
    let words = LENGTH_MEDIAN_WORDS * (LENGTH_SIGMA * rng.standard_normal()).exp();
    (words.round() as usize).clamp(MIN_WORDS, MAX_WORDS)
}

fn write_body(lang: &Language, cast: &StoryCast, rng: &mut Rng, words: usize, body: &mut Vec<u32>) {
    body.clear();
    let mut remaining = words;
    while remaining > 0 {
        for _ in 0..rng.between(PARAGRAPH_SENTENCES) {
            if remaining == 0 {
                break;
            }
            let length = sentence_length(rng, remaining);
            let written = write_sentence(lang, cast, rng, length, body);
            remaining = remaining.saturating_sub(written);
        }
        if let Some(last) = body.last_mut() {
            *last |= PARAGRAPH_END;
        }
    }
}

/// The last sentence absorbs a tail too short to stand alone, so bodies hit
/// their target length without 1-word sentences.
fn sentence_length(rng: &mut Rng, remaining: usize) -> usize {
    let length = rng.between(SENTENCE_WORDS);
    if remaining < length + SENTENCE_WORDS.0 {
        remaining
    } else {
        length
    }
}

/// Returns the number of tokens written (a full name counts two).
fn write_sentence(
    lang: &Language,
    cast: &StoryCast,
    rng: &mut Rng,
    length: usize,
    body: &mut Vec<u32>,
) -> usize {
    let start = body.len();
    while body.len() - start < length {
        if body.len() > start && rng.chance(COMMA_RATE) {
            let previous = body.len() - 1;
            body[previous] |= COMMA_AFTER;
        }
        push_body_word(lang, cast, rng, body);
    }
    body[start] |= SENTENCE_START;
    let last = body.len() - 1;
    body[last] = (body[last] & !COMMA_AFTER) | SENTENCE_END;
    body.len() - start
}

fn push_body_word(lang: &Language, cast: &StoryCast, rng: &mut Rng, out: &mut Vec<u32>) {
    let mut r = rng.unit();
    if r < TOPIC_WORD_RATE {
        out.push(*rng.pick(&cast.topic));
        return;
    }
    r -= TOPIC_WORD_RATE;
    if r < CAST_MENTION_RATE {
        let [first, last] = cast.person(rng);
        if rng.chance(FULL_NAME_PROBABILITY) {
            out.push(first);
        }
        out.push(last);
        return;
    }
    r -= CAST_MENTION_RATE;
    if r < PLACE_MENTION_RATE {
        out.extend_from_slice(rng.pick(&cast.places).tokens());
        return;
    }
    r -= PLACE_MENTION_RATE;
    if r < STRAY_NAME_RATE {
        out.push(*rng.pick(&lang.first_names));
        out.push(*rng.pick(&lang.last_names));
        return;
    }
    // "the the" is rare in real text but frequent with independent draws.
    let mut word = lang.zipf_word(rng);
    if out.last().map(|&t| t & WORD_MASK) == Some(word) {
        word = lang.zipf_word(rng);
    }
    out.push(word);
}

/// Headlines name the story: usually the lead's surname, often a place,
/// around topic and common words.
fn write_title(lang: &Language, cast: &StoryCast, rng: &mut Rng, title: &mut Vec<u32>) {
    title.clear();
    for _ in 0..rng.between(TITLE_WORDS) {
        title.push(headline_word(lang, cast, rng));
    }
    if rng.chance(0.75) {
        let at = rng.index(title.len());
        title[at] = cast.person(rng)[1];
    }
    if rng.chance(0.4) {
        let at = rng.index(title.len() + 1);
        let place = *rng.pick(&cast.places);
        title.splice(at..at, place.tokens().iter().copied());
    }
    title[0] |= SENTENCE_START;
}

fn headline_word(lang: &Language, cast: &StoryCast, rng: &mut Rng) -> u32 {
    if rng.chance(0.4) {
        *rng.pick(&cast.topic)
    } else {
        lang.zipf_word(rng)
    }
}

/// Turns an original's content into a republication: trimmed ending (sometimes),
/// a few single-word edits, a new or edited headline.
fn make_near_copy(lang: &Language, cast: &StoryCast, rng: &mut Rng, content: &mut ArticleContent) {
    let body = &mut content.body;
    if paragraph_count(body) >= MIN_PARAGRAPHS_TO_TRIM
        && rng.chance(TRIM_LAST_PARAGRAPH_PROBABILITY)
    {
        trim_last_paragraph(body);
    }
    for _ in 0..rng.between(COPY_WORD_EDITS) {
        match rng.below(3) {
            0 => replace_word(lang, rng, body),
            1 => delete_word(rng, body),
            _ => insert_word(lang, rng, body),
        }
    }
    if rng.chance(FRESH_HEADLINE_PROBABILITY) {
        write_title(lang, cast, rng, &mut content.title);
    } else {
        edit_headline(lang, cast, rng, &mut content.title);
    }
    content.title_site_suffix = rng.chance(HEADLINE_SITE_SUFFIX_PROBABILITY);
}

fn paragraph_count(body: &[u32]) -> usize {
    body.iter().filter(|&&t| t & PARAGRAPH_END != 0).count()
}

fn trim_last_paragraph(body: &mut Vec<u32>) {
    let before_last = body.len().saturating_sub(1);
    if let Some(end) = body[..before_last]
        .iter()
        .rposition(|&t| t & PARAGRAPH_END != 0)
    {
        body.truncate(end + 1);
    }
}

/// Layout flags stay on the position, so sentences keep their shape.
fn replace_word(lang: &Language, rng: &mut Rng, body: &mut [u32]) {
    if body.is_empty() {
        return;
    }
    let at = rng.index(body.len());
    body[at] = (body[at] & LAYOUT_FLAGS) | lang.zipf_word(rng);
}

/// A sentence start moves to the next word, endings to the previous one.
fn delete_word(rng: &mut Rng, body: &mut Vec<u32>) {
    if body.len() < 2 {
        return;
    }
    let at = rng.index(body.len());
    let removed = body.remove(at);
    if removed & SENTENCE_START != 0 && at < body.len() {
        body[at] |= SENTENCE_START;
    }
    let endings = removed & TRAILING_FLAGS;
    if endings != 0 && at > 0 {
        let previous = &mut body[at - 1];
        *previous |= endings;
        if *previous & SENTENCE_END != 0 {
            *previous &= !COMMA_AFTER;
        }
    }
}

/// The new word goes after the chosen one and takes over its trailing
/// punctuation, so the sentence still ends where it did.
fn insert_word(lang: &Language, rng: &mut Rng, body: &mut Vec<u32>) {
    if body.is_empty() {
        return;
    }
    let at = rng.index(body.len());
    let trailing = body[at] & TRAILING_FLAGS;
    body[at] &= !trailing;
    body.insert(at + 1, lang.zipf_word(rng) | trailing);
}

fn edit_headline(lang: &Language, cast: &StoryCast, rng: &mut Rng, title: &mut [u32]) {
    for _ in 0..rng.between((1, 2)) {
        let at = rng.index(title.len());
        title[at] = (title[at] & LAYOUT_FLAGS) | headline_word(lang, cast, rng);
    }
}

// ---------------------------------------------------------------------------
// Rendering: JSON lines and label rows
// ---------------------------------------------------------------------------

struct Generator {
    lang: Language,
    plan: Plan,
    seed: u64,
    chunking: Chunking,
}

/// One chunk's output plus scratch space, all reused from batch to batch.
#[derive(Default)]
struct ChunkOutput {
    docs: String,
    labels: String,
    cast: StoryCast,
    content: ArticleContent,
}

/// The outputs of `chunks_per_batch` consecutive chunks; the buffers are
/// reused from batch to batch.
struct Batch {
    chunks: Vec<ChunkOutput>,
}

impl Batch {
    fn new(chunking: Chunking) -> Self {
        Batch {
            chunks: (0..chunking.chunks_per_batch)
                .map(|_| ChunkOutput::default())
                .collect(),
        }
    }

    /// Returns the number of docs bytes written.
    fn write_to(&self, docs: &mut impl Write, labels: &mut impl Write) -> Result<u64> {
        let mut bytes = 0;
        for chunk in &self.chunks {
            docs.write_all(chunk.docs.as_bytes())
                .context("writing docs")?;
            labels
                .write_all(chunk.labels.as_bytes())
                .context("writing labels")?;
            bytes += chunk.docs.len() as u64;
        }
        Ok(bytes)
    }
}

impl Generator {
    /// Chunks past the end of the corpus render empty.
    fn render_batch(&self, batch: usize, out: &mut Batch) {
        let first_chunk = batch * self.chunking.chunks_per_batch;
        out.chunks
            .par_iter_mut()
            .enumerate()
            .for_each(|(offset, chunk)| self.render_chunk(first_chunk + offset, chunk));
    }

    fn render_chunk(&self, chunk: usize, out: &mut ChunkOutput) {
        out.docs.clear();
        out.labels.clear();
        let start = chunk * self.chunking.articles_per_chunk;
        let end = (start + self.chunking.articles_per_chunk).min(self.plan.output_order.len());
        for position in start..end {
            let article_index = self.plan.output_order[position] as usize;
            self.build_content(article_index, &mut out.cast, &mut out.content);
            self.render_doc(position, article_index, &out.content, &mut out.docs);
            self.render_label(position, article_index, &mut out.labels);
        }
    }

    /// Copies regenerate their original from its stream, then edit it: no
    /// article needs another one to have been rendered first.
    fn build_content(
        &self,
        article_index: usize,
        cast: &mut StoryCast,
        content: &mut ArticleContent,
    ) {
        let article = &self.plan.articles[article_index];
        let group = &self.plan.groups[article.group as usize];
        cast.fill(&self.lang, self.seed, group.story);
        let mut rng = Rng::stream(self.seed, Stream::Original, u64::from(article.group));
        write_original(&self.lang, cast, &mut rng, group.short, content);
        if article.kind == Kind::NearCopy {
            let mut rng = Rng::stream(self.seed, Stream::Copy, article_index as u64);
            make_near_copy(&self.lang, cast, &mut rng, content);
        }
    }

    fn render_doc(
        &self,
        position: usize,
        article_index: usize,
        content: &ArticleContent,
        out: &mut String,
    ) {
        let article = &self.plan.articles[article_index];
        let group = &self.plan.groups[article.group as usize];
        let site = &self.lang.sites[article.site as usize];
        // A mirror keeps the original's boilerplate: its text is byte-identical.
        let text_site = match article.kind {
            Kind::ExactCopy => &self.lang.sites[group.site as usize],
            _ => site,
        };
        out.push_str("{\"id\":\"");
        push_id(out, position);
        out.push_str("\",\"title\":\"");
        render_title(out, &self.lang.lexicon, &content.title);
        if content.title_site_suffix {
            out.push_str(" - ");
            push_json_escaped(out, &site.name);
        }
        out.push_str("\",\"text\":\"");
        render_text(
            out,
            &self.lang.lexicon,
            &content.body,
            text_site,
            group.short,
        );
        out.push_str("\",\"date\":\"");
        push_date(out, article.day, '-');
        out.push_str("\",\"url\":\"https://");
        push_json_escaped(out, &site.domain);
        out.push('/');
        push_date(out, article.day, '/');
        out.push('/');
        push_slug(out, &self.lang.lexicon, &content.title);
        out.push('-');
        push_decimal(out, position as u64, 1);
        out.push_str("\",\"source\":\"");
        push_json_escaped(out, &site.domain);
        out.push_str("\"}\n");
    }

    fn render_label(&self, position: usize, article_index: usize, out: &mut String) {
        let group_index = self.plan.articles[article_index].group;
        let story = self.plan.groups[group_index as usize].story;
        push_id(out, position);
        out.push_str(",g");
        push_decimal(out, u64::from(group_index), 1);
        out.push_str(",s");
        push_decimal(out, u64::from(story), 1);
        out.push('\n');
    }
}

/// "a0000042": ids follow output positions.
fn push_id(out: &mut String, position: usize) {
    out.push('a');
    push_decimal(out, position as u64, 7);
}

fn push_decimal(out: &mut String, value: u64, min_width: usize) {
    let mut digits = [0u8; 20];
    let mut len = 0;
    let mut rest = value;
    loop {
        digits[len] = b'0' + (rest % 10) as u8;
        len += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for _ in len..min_width {
        out.push('0');
    }
    for &digit in digits[..len].iter().rev() {
        out.push(char::from(digit));
    }
}

fn push_capitalised(out: &mut String, word: &str) {
    let mut chars = word.chars();
    if let Some(first) = chars.next() {
        out.push(first.to_ascii_uppercase());
        out.push_str(chars.as_str());
    }
}

/// Lexicon words are ASCII letters (checked by a test), so token text needs
/// no JSON escaping; newlines are written already escaped.
fn push_token(out: &mut String, lexicon: &Lexicon, token: u32) {
    let word = lexicon.word(token & WORD_MASK);
    if token & SENTENCE_START != 0 {
        push_capitalised(out, word);
    } else {
        out.push_str(word);
    }
}

fn render_title(out: &mut String, lexicon: &Lexicon, title: &[u32]) {
    for (i, &token) in title.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        push_token(out, lexicon, token);
    }
}

/// Header line, paragraphs, footer lines, separated by (escaped) newlines.
/// Short briefs carry no boilerplate.
fn render_text(out: &mut String, lexicon: &Lexicon, body: &[u32], site: &Site, short: bool) {
    if !short {
        push_json_escaped(out, &site.header);
        out.push_str("\\n");
    }
    for (i, &token) in body.iter().enumerate() {
        push_token(out, lexicon, token);
        if token & COMMA_AFTER != 0 {
            out.push(',');
        }
        if token & SENTENCE_END != 0 {
            out.push('.');
        }
        if i + 1 < body.len() {
            out.push_str(if token & PARAGRAPH_END != 0 {
                "\\n"
            } else {
                " "
            });
        }
    }
    if !short {
        for footer in &site.footers {
            out.push_str("\\n");
            push_json_escaped(out, footer);
        }
    }
}

/// First title words, lowercased and hyphenated, as in most news URLs.
fn push_slug(out: &mut String, lexicon: &Lexicon, title: &[u32]) {
    for (i, &token) in title.iter().take(8).enumerate() {
        if i > 0 {
            out.push('-');
        }
        for c in lexicon.word(token & WORD_MASK).chars() {
            out.push(c.to_ascii_lowercase());
        }
    }
}

/// YYYY-MM-DD (or YYYY/MM/DD for URLs) of a day counted from 2023-01-01.
fn push_date(out: &mut String, day: u32, separator: char) {
    let (year, month, day_of_month) = civil_from_days(EPOCH_DAY_2023 + u64::from(day));
    push_decimal(out, year, 4);
    out.push(separator);
    push_decimal(out, month, 2);
    out.push(separator);
    push_decimal(out, day_of_month, 2);
}

/// Howard Hinnant's days-to-civil algorithm, for days since 1970-01-01 (>= 0).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day_of_month = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day_of_month)
}

/// General JSON string escaping for the few strings not built from tokens.
fn push_json_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(char::from(b"0123456789abcdef"[(c as usize) >> 4]));
                out.push(char::from(b"0123456789abcdef"[(c as usize) & 0xF]));
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Doc {
        id: String,
        text: String,
        source: String,
    }

    fn corpus(n: usize, seed: u64) -> (Vec<u8>, Vec<u8>, GenSummary) {
        let mut docs = Vec::new();
        let mut labels = Vec::new();
        let summary = write_corpus(&GenOptions { n, seed }, &mut docs, &mut labels)
            .expect("writing to memory");
        (docs, labels, summary)
    }

    fn parse_docs(docs: &[u8]) -> Vec<Doc> {
        let text = std::str::from_utf8(docs).expect("utf-8");
        text.lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
                let field = |key: &str| value[key].as_str().expect(key).to_owned();
                for key in ["title", "date", "url"] {
                    field(key);
                }
                Doc {
                    id: field("id"),
                    text: field("text"),
                    source: field("source"),
                }
            })
            .collect()
    }

    /// id -> (dup label, story label)
    fn parse_labels(labels: &[u8]) -> Vec<(String, String, String)> {
        let text = std::str::from_utf8(labels).expect("utf-8");
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("id,dup,story"));
        lines
            .map(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                assert_eq!(fields.len(), 3, "{line}");
                (fields[0].into(), fields[1].into(), fields[2].into())
            })
            .collect()
    }

    fn boilerplate_lines() -> HashSet<String> {
        let lang = Language::build();
        lang.sites
            .iter()
            .flat_map(|site| std::iter::once(site.header.clone()).chain(site.footers.clone()))
            .collect()
    }

    /// Word 5-gram shingles of lowercase \w+ tokens, boilerplate lines excluded.
    fn shingles(text: &str, boilerplate: &HashSet<String>) -> HashSet<String> {
        let words: Vec<String> = text
            .lines()
            .filter(|line| !boilerplate.contains(*line))
            .flat_map(|line| {
                line.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .filter(|w| !w.is_empty())
                    .map(str::to_lowercase)
                    .collect::<Vec<_>>()
            })
            .collect();
        words.windows(5).map(|w| w.join(" ")).collect()
    }

    fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
        let intersection = a.intersection(b).count();
        let union = a.len() + b.len() - intersection;
        if union == 0 {
            1.0
        } else {
            intersection as f64 / union as f64
        }
    }

    #[test]
    fn same_seed_same_bytes_different_seed_different_bytes() {
        let (docs_a, labels_a, summary_a) = corpus(1_500, 7);
        let (docs_b, labels_b, summary_b) = corpus(1_500, 7);
        assert_eq!(docs_a, docs_b);
        assert_eq!(labels_a, labels_b);
        assert_eq!(summary_a, summary_b);
        let (docs_c, _, _) = corpus(1_500, 8);
        assert_ne!(docs_a, docs_c);
    }

    #[test]
    fn thread_count_and_chunking_do_not_change_output() {
        let opts = GenOptions { n: 1_200, seed: 3 };
        let chunked = |chunking| {
            let (mut docs, mut labels) = (Vec::new(), Vec::new());
            write_corpus_chunked(&opts, chunking, &mut docs, &mut labels).expect("in memory");
            (docs, labels)
        };
        // Many small batches exercise the overlap of writing and rendering.
        let small = Chunking {
            articles_per_chunk: 7,
            chunks_per_batch: 3,
        };
        let reference = chunked(Chunking::DEFAULT);
        let single = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("thread pool");
        assert!(reference == single.install(|| chunked(Chunking::DEFAULT)));
        assert!(reference == chunked(small));
        assert!(reference == single.install(|| chunked(small)));
    }

    #[test]
    fn labels_cover_ids_once_and_groups_nest_in_stories() {
        let (raw_docs, labels, summary) = corpus(2_000, 11);
        assert_eq!(summary.bytes, raw_docs.len() as u64);
        let docs = parse_docs(&raw_docs);
        let labels = parse_labels(&labels);
        assert_eq!(docs.len(), 2_000);
        assert_eq!(summary.articles, 2_000);
        let doc_ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
        let label_ids: Vec<&str> = labels.iter().map(|(id, _, _)| id.as_str()).collect();
        assert_eq!(doc_ids, label_ids);
        assert_eq!(doc_ids.iter().collect::<HashSet<_>>().len(), 2_000);
        assert_eq!(doc_ids[42], "a0000042");

        let mut story_of_group: HashMap<&str, &str> = HashMap::new();
        for (_, dup, story) in &labels {
            assert!(dup.starts_with('g') && story.starts_with('s'));
            let previous = story_of_group.insert(dup, story);
            assert!(previous.is_none_or(|s| s == story), "{dup} spans stories");
        }
        let stories: HashSet<&str> = labels.iter().map(|(_, _, s)| s.as_str()).collect();
        assert_eq!(story_of_group.len(), summary.dup_groups);
        assert_eq!(stories.len(), summary.stories);
    }

    #[test]
    fn lengths_and_duplicate_share_look_like_news() {
        let (docs, labels, _) = corpus(2_000, 5);
        let docs = parse_docs(&docs);
        let mut words: Vec<usize> = docs
            .iter()
            .map(|d| d.text.split_whitespace().count())
            .collect();
        words.sort_unstable();
        let median = words[words.len() / 2];
        assert!((300..=500).contains(&median), "median {median}");
        assert!(
            words[words.len() - 1] > 2_000,
            "max {}",
            words[words.len() - 1]
        );
        assert!(words[0] >= SHORT_WORDS.0, "min {}", words[0]);

        let labels = parse_labels(&labels);
        let mut group_sizes: HashMap<&str, usize> = HashMap::new();
        for (_, dup, _) in &labels {
            *group_sizes.entry(dup).or_default() += 1;
        }
        let in_groups = labels
            .iter()
            .filter(|(_, dup, _)| group_sizes[dup.as_str()] >= 2)
            .count();
        let share = in_groups as f64 / labels.len() as f64;
        assert!(
            (0.25..=0.50).contains(&share),
            "share in dup groups {share}"
        );
    }

    #[test]
    fn copies_are_similar_and_originals_are_not() {
        let opts = GenOptions { n: 2_000, seed: 21 };
        let (docs, _, _) = corpus(opts.n, opts.seed);
        let docs = parse_docs(&docs);
        let plan = Plan::build(&opts);
        let boilerplate = boilerplate_lines();
        let mut position_of = vec![0; opts.n];
        for (position, &article) in plan.output_order.iter().enumerate() {
            position_of[article as usize] = position;
        }
        let mut original_of_group = HashMap::new();
        for (index, article) in plan.articles.iter().enumerate() {
            if article.kind == Kind::Original {
                original_of_group.insert(article.group, position_of[index]);
            }
        }
        let shingles_at = |position: usize| shingles(&docs[position].text, &boilerplate);

        let mut near_copy_similarities = Vec::new();
        for (index, article) in plan.articles.iter().enumerate() {
            let copy = position_of[index];
            let original = original_of_group[&article.group];
            match article.kind {
                Kind::Original => {}
                Kind::ExactCopy => {
                    assert_eq!(docs[copy].text, docs[original].text);
                    assert_ne!(docs[copy].source, docs[original].source);
                }
                Kind::NearCopy => {
                    assert_ne!(docs[copy].source, docs[original].source);
                    near_copy_similarities
                        .push(jaccard(&shingles_at(copy), &shingles_at(original)));
                }
            }
        }
        let mean = near_copy_similarities.iter().sum::<f64>() / near_copy_similarities.len() as f64;
        assert!(near_copy_similarities.len() > 300);
        assert!(mean >= 0.75, "mean copy Jaccard {mean}");

        // The first 150 originals, including follow-ups of the same story.
        let originals: Vec<HashSet<String>> = plan
            .articles
            .iter()
            .enumerate()
            .filter(|(_, a)| a.kind == Kind::Original)
            .take(150)
            .map(|(index, _)| shingles_at(position_of[index]))
            .collect();
        for (i, a) in originals.iter().enumerate() {
            for b in &originals[i + 1..] {
                let similarity = jaccard(a, b);
                assert!(similarity < 0.1, "two originals at Jaccard {similarity}");
            }
        }
    }

    #[test]
    fn lexicon_needs_no_json_escaping() {
        let lang = Language::build();
        assert!(lang.lexicon.text.bytes().all(|b| b.is_ascii_alphabetic()));
        assert_eq!(lang.lexicon.word(0), "the");
        assert!(lang.lexicon.spans.len() < WORD_MASK as usize);
    }

    #[test]
    fn dates_are_calendar_dates() {
        let mut out = String::new();
        push_date(&mut out, 0, '-');
        push_date(&mut out, 59, '-');
        push_date(&mut out, 365 + 59, '/');
        assert_eq!(out, "2023-01-012023-03-012024/02/29");
    }

    #[test]
    fn empty_corpus_has_only_the_header() {
        let (docs, labels, summary) = corpus(0, 1);
        assert!(docs.is_empty());
        assert_eq!(labels, b"id,dup,story\n");
        assert_eq!(summary, GenSummary::default());
    }
}
