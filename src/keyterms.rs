//! Key terms: what an article is about, for story clustering (part of the text stage).
//!
//! From the original casing, an article yields three kinds of terms, each hashed with xxh3:
//! - **names**: runs of capitalized words ("Kim Yong-chol", "Betty Ford Center"), folded so that
//!   hyphen and space variants meet ("kim yong chol"); a capitalized word that the same article
//!   also uses in lower case ("Police" at a sentence start) is not a name;
//! - **numbers**: tokens with digits ("6.3", "1950", "18"), which tell two events of one kind apart;
//! - **words**: the other words, lower-cased, stop words dropped, plurals and possessives folded.
//!
//! Each occurrence scores its kind's weight, times [`TermWeights::title`] in the headline (the
//! title field, or else a short first line). Document frequencies and TF-IDF are computed by the
//! caller over the corpus being clustered; this module sees one article at a time.

use std::borrow::Cow;

use ahash::{AHashMap, AHashSet};
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::text;

/// How much one occurrence of each kind of term counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TermWeights {
    pub word: f32,
    pub name: f32,
    pub number: f32,
    /// Multiplier for occurrences in the headline.
    pub title: f32,
}

impl Default for TermWeights {
    fn default() -> Self {
        TermWeights {
            word: 1.0,
            name: 3.0,
            number: 1.5,
            title: 2.0,
        }
    }
}

/// The kind of a key term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TermKind {
    Word = 0,
    Name = 1,
    Number = 2,
}

/// The hash of a term: xxh3 of its key, with the kind in the two lowest bits (so that a term's
/// kind can be told from its hash).
pub fn term_hash(kind: TermKind, key: &str, seed: u64) -> u64 {
    (xxh3_64_with_seed(key.as_bytes(), seed) & !3) | kind as u64
}

/// The kind of a hashed term.
pub fn term_kind(hash: u64) -> TermKind {
    match hash & 3 {
        1 => TermKind::Name,
        2 => TermKind::Number,
        _ => TermKind::Word,
    }
}

/// One article's key terms: (term hash, accumulated score), sorted by hash, plus the display form
/// of each term (for the `keywords` column).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DocTerms {
    pub scores: Vec<(u64, f32)>,
    pub labels: Vec<(u64, String)>,
}

/// [`DocTerms`] with the display forms in one buffer: two allocations for an article instead of
/// one per label (the pipeline extracts millions of articles on its worker threads and frees
/// their terms on another, where glibc's frees are slow).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompactTerms {
    /// (term hash, score), sorted by hash.
    pub scores: Vec<(u64, f32)>,
    /// (term hash, end of its display form in `label_text`), sorted by hash.
    label_ends: Vec<(u64, u32)>,
    label_text: String,
}

impl CompactTerms {
    /// (term hash, display form), sorted by hash.
    pub fn labels(&self) -> impl Iterator<Item = (u64, &str)> + '_ {
        let starts = std::iter::once(0).chain(self.label_ends.iter().map(|&(_, end)| end));
        self.label_ends
            .iter()
            .zip(starts)
            .map(|(&(hash, end), start)| (hash, &self.label_text[start as usize..end as usize]))
    }

    /// Terms from `scores` (sorted by hash) and `labels` ((term hash, display form), sorted by
    /// hash).
    pub fn new<'l>(
        scores: Vec<(u64, f32)>,
        labels: impl ExactSizeIterator<Item = (u64, &'l str)>,
    ) -> Self {
        let mut compact = CompactTerms {
            scores,
            label_ends: Vec::with_capacity(labels.len()),
            label_text: String::new(),
        };
        for (hash, label) in labels {
            compact.label_text.push_str(label);
            compact
                .label_ends
                .push((hash, compact.label_text.len() as u32));
        }
        compact
    }

    pub fn into_doc_terms(self) -> DocTerms {
        let labels = self
            .labels()
            .map(|(hash, label)| (hash, label.to_string()))
            .collect();
        DocTerms {
            scores: self.scores,
            labels,
        }
    }
}

/// English stop words: function words that say nothing about a story. Other languages rely on
/// IDF alone.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "even",
    "ever",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "however",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "last",
    "least",
    "less",
    "like",
    "made",
    "make",
    "many",
    "may",
    "me",
    "might",
    "more",
    "most",
    "much",
    "must",
    "my",
    "myself",
    "new",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "said",
    "same",
    "say",
    "says",
    "she",
    "should",
    "since",
    "so",
    "some",
    "still",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "though",
    "through",
    "to",
    "told",
    "too",
    "two",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "whether",
    "which",
    "while",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "within",
    "without",
    "would",
    "yet",
    "you",
    "your",
    "yours",
    "yourself",
    "mr",
    "mrs",
    "ms",
    "dr",
    "according",
    "around",
    "another",
    "among",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "today",
    "yesterday",
    "tomorrow",
    "week",
    "year",
    "years",
    "time",
    "people",
    "news",
    "report",
    "reported",
    "reports",
    "reuters",
    "ap",
    "afp",
    "cnn",
    "bbc",
    "image",
    "photo",
    "copyright",
    "read",
    "min",
];

fn is_stop_word(word: &str) -> bool {
    static TABLE: std::sync::OnceLock<StopWordTable> = std::sync::OnceLock::new();
    let Some(packed) = packed_word(word) else {
        return false;
    };
    TABLE.get_or_init(StopWordTable::new).contains(packed)
}

/// The packed [`STOP_WORDS`] in an open-addressing table at most a quarter full, probed from a
/// multiplicative hash: about half the words of a text are looked up, and most find their slot
/// or an empty one at the first probe (an `AHashSet<u128>` spent about twice the instructions).
///
/// A bit per 12-bit hash sits in front of the slots (512 bytes, which stay in the first-level
/// cache where the 16 KiB of slots do not): a word that is no stop word finds its bit clear
/// 96% of the time and is answered without touching a slot.
struct StopWordTable {
    slots: Vec<u128>,
    filter: [u64; 64],
}

// At most a quarter full, so that probing always ends at an empty slot, and soon.
const _: () = assert!(STOP_WORDS.len() * 4 <= 1 << StopWordTable::BITS);

impl StopWordTable {
    const BITS: u32 = 10;

    fn new() -> Self {
        let mut table = StopWordTable {
            slots: vec![0; 1 << Self::BITS],
            filter: [0; 64],
        };
        for packed in STOP_WORDS.iter().filter_map(|w| packed_word(w)) {
            let bit = Self::filter_bit(packed);
            table.filter[bit / 64] |= 1 << (bit % 64);
            let mut i = Self::home(packed);
            while table.slots[i] != 0 && table.slots[i] != packed {
                i = (i + 1) & ((1 << Self::BITS) - 1);
            }
            table.slots[i] = packed;
        }
        table
    }

    fn mixed(packed: u128) -> u64 {
        let folded = (packed as u64) ^ ((packed >> 64) as u64).rotate_left(29);
        folded.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    fn home(packed: u128) -> usize {
        (Self::mixed(packed) >> (64 - Self::BITS)) as usize
    }

    /// The filter bit: other bits of the hash than the home's.
    fn filter_bit(packed: u128) -> usize {
        (Self::mixed(packed) >> 20 & 0xFFF) as usize
    }

    /// `packed` is never 0 (its length byte is set).
    #[inline]
    fn contains(&self, packed: u128) -> bool {
        let bit = Self::filter_bit(packed);
        if self.filter[bit / 64] >> (bit % 64) & 1 == 0 {
            return false;
        }
        let mut i = Self::home(packed);
        loop {
            match self.slots[i] {
                0 => return false,
                slot if slot == packed => return true,
                _ => i = (i + 1) & ((1 << Self::BITS) - 1),
            }
        }
    }
}

/// A word of 1 to 15 bytes as one number (its bytes and its length), which hashes and
/// compares faster than the string. Longer words are no stop words; the empty word is none.
///
/// The bytes are gathered with loads that stay inside the word (two overlapping ones, or three
/// single bytes below four) instead of being copied into a buffer that is read back as one
/// number (measured together with the table's bit filter: key-term extraction 11% faster).
fn packed_word(word: &str) -> Option<u128> {
    let bytes = word.as_bytes();
    let len = bytes.len();
    if len == 0 || len > 15 {
        return None;
    }
    let low_and_high = if len >= 8 {
        let low = read_u64(&bytes[..8]);
        // bytes[len - 8..len] shifted so that bytes[8..] land at the bottom (none when 8).
        let high = read_u64(&bytes[len - 8..]).checked_shr(8 * (16 - len) as u32);
        (low, high.unwrap_or(0))
    } else if len >= 4 {
        let first = u64::from(read_u32(&bytes[..4]));
        let last = u64::from(read_u32(&bytes[len - 4..]));
        (first | last << (8 * (len - 4)), 0)
    } else {
        let middle = u64::from(bytes[len / 2]) << (8 * (len / 2));
        let last = u64::from(bytes[len - 1]) << (8 * (len - 1));
        (u64::from(bytes[0]) | middle | last, 0)
    };
    let (low, high) = low_and_high;
    Some(u128::from(low) | u128::from(high | (len as u64) << 56) << 64)
}

fn read_u64(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes[..8].try_into().expect("eight bytes"))
}

fn read_u32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes[..4].try_into().expect("four bytes"))
}

/// A headline: the title when there is one, else the first line when it is short and does not
/// end like a sentence (scraped text often starts with its headline).
pub fn headline<'a>(title: &'a str, first_line: &'a str) -> &'a str {
    if !title.trim().is_empty() {
        return title;
    }
    let line = first_line.trim();
    let words = line.split_whitespace().count();
    let sentence_end = line.ends_with(['.', '!', '?', '"', '\u{201D}']);
    if (3..=20).contains(&words) && !sentence_end {
        return line;
    }
    ""
}

/// One word of a line with the context the name detection needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Word<'a> {
    text: &'a str,
    /// First word of a sentence (or of the line).
    sentence_start: bool,
    /// Joined to the previous word by a hyphen without spaces ("Yong-chol").
    hyphen_joined: bool,
}

/// Appends the words of a line, with sentence starts and hyphen joins (`padded` is a reused
/// buffer for ASCII lines).
fn line_words<'a>(line: &'a str, padded: &mut Vec<u8>, words: &mut Vec<Word<'a>>) {
    if line.is_ascii() {
        ascii_line_words(line, padded, words);
    } else {
        unicode_line_words(line, words);
    }
}

/// [`line_words`] by the UAX #29 word bounds.
fn unicode_line_words<'a>(line: &'a str, words: &mut Vec<Word<'a>>) {
    let mut sentence_start = true;
    let mut previous_was_hyphen = false;
    let mut previous_was_word = false;
    let mut first = true;
    for segment in line.split_word_bounds() {
        let is_word = segment.chars().any(char::is_alphanumeric);
        if is_word {
            words.push(Word {
                text: segment,
                sentence_start,
                hyphen_joined: previous_was_hyphen && !first,
            });
            first = false;
            sentence_start = false;
            previous_was_hyphen = false;
            previous_was_word = true;
            continue;
        }
        if segment.contains([
            '.', '!', '?', ':', ';', '\u{2014}', '\u{2013}', '"', '\u{201C}',
        ]) {
            sentence_start = true;
        }
        previous_was_hyphen = previous_was_word && segment == "-";
        previous_was_word = false;
    }
}

/// [`unicode_line_words`] for an ASCII line, without the Unicode tables: the words are those of
/// the tokenizer's block scanner ([`text::ascii_words`]: the UAX #29 rules as they apply to
/// ASCII). The text between two words is split into one-byte segments (and runs of spaces) by
/// those rules, so a word starts a sentence when the text before it has a sentence mark, and is
/// hyphen-joined when that text is exactly `-`. A test checks this against
/// [`unicode_line_words`].
fn ascii_line_words<'a>(line: &'a str, padded: &mut Vec<u8>, words: &mut Vec<Word<'a>>) {
    let bytes = line.as_bytes();
    let mut gap_start = 0;
    let mut first = true;
    text::ascii_words(bytes, padded, |start, end| {
        let gap = &bytes[gap_start..start];
        words.push(Word {
            // `start` and `end` are next to ASCII bytes, so they are character boundaries.
            text: &line[start..end],
            sentence_start: first
                || gap
                    .iter()
                    .any(|b| matches!(b, b'.' | b'!' | b'?' | b':' | b';' | b'"')),
            hyphen_joined: !first && gap == b"-",
        });
        first = false;
        gap_start = end;
    });
}

fn is_capitalized(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
}

fn has_digit(word: &str) -> bool {
    word.bytes().any(|b| b.is_ascii_digit())
}

/// Lower case, and plural/possessive endings folded ("shootings" → "shooting", "Kim's" → "kim"),
/// into `out`.
fn fold_word_into(word: &str, out: &mut String) {
    out.clear();
    push_lowercase(word, out);
    fold_suffixes(out);
}

/// Appends `word` in lower case (as `str::to_lowercase` does).
fn push_lowercase(word: &str, out: &mut String) {
    if word.is_ascii() {
        let start = out.len();
        out.push_str(word);
        out[start..].make_ascii_lowercase();
    } else {
        out.push_str(&word.to_lowercase());
    }
}

fn fold_suffixes(folded: &mut String) {
    for suffix in ["'s", "\u{2019}s"] {
        if let Some(stripped) = folded.strip_suffix(suffix) {
            folded.truncate(stripped.len());
        }
    }
    if folded.len() > 4 && folded.ends_with("ies") {
        folded.truncate(folded.len() - 3);
        folded.push('y');
    } else if folded.len() > 3
        && folded.ends_with('s')
        && !folded.ends_with("ss")
        && !folded.ends_with("us")
        && !folded.ends_with("is")
    {
        folded.pop();
    }
}

/// Where a term's display form is: its first occurrence, as (first word, word count) among the
/// article's words. Only the few terms that keep their display form ([`top_terms`]) have it
/// written out: copying the first occurrence of every term took ~6% of the extraction.
type LabelPlace = (u32, u32);

/// In a [`LabelPlace`]'s first word: the word is the headline's (else the body's).
const HEADLINE_WORD: u32 = 1 << 31;
/// In a [`LabelPlace`]'s word count: the display form is the word in lower case.
const LOWER_CASE_LABEL: u32 = 1 << 31;

/// Writes the display form at `place` (see [`LabelPlace`]): its words joined by spaces.
fn write_label(place: LabelPlace, body: &[Word<'_>], headline: &[Word<'_>], out: &mut String) {
    let (first, count) = place;
    let words = if first & HEADLINE_WORD != 0 {
        headline
    } else {
        body
    };
    let start = (first & !HEADLINE_WORD) as usize;
    let end = start + (count & !LOWER_CASE_LABEL) as usize;
    let Some(parts) = words.get(start..end) else {
        return;
    };
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if count & LOWER_CASE_LABEL != 0 {
            push_chars_lowercase(part.text, out);
        } else {
            out.push_str(part.text);
        }
    }
}

/// Accumulates one article's term scores, and where each term occurs first (its display form).
struct TermCollector<'s> {
    seed: u64,
    weights: TermWeights,
    /// Term hash → (score, label place).
    terms: &'s mut AHashMap<u64, (f32, LabelPlace)>,
}

impl TermCollector<'_> {
    fn add(&mut self, kind: TermKind, key: &str, label: LabelPlace, in_title: bool) {
        let hash = term_hash(kind, key, self.seed);
        self.add_hashed(hash, in_title, label);
    }

    /// [`TermCollector::add`] given the term's hash.
    fn add_hashed(&mut self, hash: u64, in_title: bool, label: LabelPlace) {
        let kind = term_kind(hash);
        let weight = match kind {
            TermKind::Word => self.weights.word,
            TermKind::Name => self.weights.name,
            TermKind::Number => self.weights.number,
        };
        let weight = if in_title {
            weight * self.weights.title
        } else {
            weight
        };
        self.terms.entry(hash).or_insert((0.0, label)).0 += weight;
    }
}

/// Reused buffers for the words of one line.
#[derive(Default)]
struct Buffers {
    lower: String,
    key: String,
}

/// NFKC-normalized text; ASCII is already normalized.
fn nfkc(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.nfkc().collect())
}

/// Extracts the key terms of an article from its headline and its (boilerplate-free) lines.
pub fn extract<'a>(
    headline: &str,
    lines: impl Iterator<Item = &'a str>,
    weights: TermWeights,
    seed: u64,
) -> DocTerms {
    extract_top(headline, lines, weights, seed, usize::MAX, usize::MAX)
}

/// [`extract`], keeping only the `max_terms` heaviest terms and the display forms of the
/// `max_labels` heaviest (ties broken by hash), as `story::trim_terms` does, without building
/// the labels that would be dropped.
pub fn extract_top<'a>(
    headline: &str,
    lines: impl Iterator<Item = &'a str>,
    weights: TermWeights,
    seed: u64,
    max_terms: usize,
    max_labels: usize,
) -> DocTerms {
    let limits = TermLimits {
        max_terms,
        max_labels,
    };
    let mut scratch = TermScratch::default();
    extract_top_with(headline, lines, weights, seed, limits, &mut scratch).into_doc_terms()
}

/// How many terms [`extract_top_with`] keeps, and how many of them with their display forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermLimits {
    pub max_terms: usize,
    pub max_labels: usize,
}

/// Buffers that one thread reuses from article to article: allocated once and cleared, where
/// allocating and growing them for every article took ~7% of the key-terms stage. A buffer
/// that a huge article grew past 65,536 items is freed instead of kept.
#[derive(Default)]
pub struct TermScratch {
    lines: Vec<Cow<'static, str>>,
    words: Vec<Word<'static>>,
    headline_words: Vec<Word<'static>>,
    line_ends: Vec<usize>,
    padded: Vec<u8>,
    terms: AHashMap<u64, (f32, LabelPlace)>,
    ranked: Vec<(u64, (f32, LabelPlace))>,
    bucket_counts: Vec<u32>,
    line_scratch: LineScratch,
    lower_uses: LowerUses,
}

/// The most items a [`TermScratch`] buffer keeps between articles (a few MiB at most).
const KEPT_CAPACITY: usize = 1 << 16;

/// An empty vector with `items`' allocation, for items of another type of the same layout
/// (here: words borrowed from another article). The standard library collects a vector's own
/// iterator, mapped, in place when the layouts match; were it not to, this would allocate anew.
fn recycle<T, U>(mut items: Vec<T>) -> Vec<U> {
    items.clear();
    if items.capacity() > KEPT_CAPACITY {
        return Vec::new();
    }
    items.into_iter().map(|_| unreachable!()).collect()
}

/// [`extract_top`], with a thread's reused buffers, the labels in one buffer.
pub fn extract_top_with<'a>(
    headline: &str,
    lines: impl Iterator<Item = &'a str>,
    weights: TermWeights,
    seed: u64,
    limits: TermLimits,
    scratch: &mut TermScratch,
) -> CompactTerms {
    let mut only = CompactTerms::default();
    // One headline: its terms are handed out, never a mean.
    extract_headlines_mean(
        &[headline],
        lines,
        weights,
        seed,
        limits,
        scratch,
        |terms| only = terms,
    );
    only
}

/// The terms of one body under each of `headlines`, the body worked out once: a dup group's
/// terms, its members sharing one body under their own headlines. Each headline's terms are
/// those of `extract_top_with(headline, lines)` (with the default weights, whose sums are exact
/// in any order); the group's are their mean, as `story::merge_member_terms` of them gives it
/// (to the bit, when `limits.max_labels` is `story::LABELLED_TERMS`).
///
/// - For 2 to [`MEAN_HEADLINES_UP_TO`] headlines whose terms all fit `limits.max_terms`, the
///   mean is worked out directly (`mean_of_headlines`) and returned. Working out every
///   headline's own list, sorting it and writing its labels, then merging the lists, took ~10%
///   of the key terms at 100,000 generated articles, where a third of the articles are copies.
/// - Otherwise each headline's terms are handed to `each`, in headline order as they are made,
///   and `None` is returned: the caller merges them (a page copied 100,000 times under as many
///   titles held 100,000 term lists when they were returned together: 813 MB).
///
/// A headline's words and the body's meet only through the words the body writes in lower
/// case (see `lower_case_uses`), which one pass finds for all the headlines at once; names
/// never run from one line into another.
pub fn extract_headlines_mean<'a>(
    headlines: &[&str],
    lines: impl Iterator<Item = &'a str>,
    weights: TermWeights,
    seed: u64,
    limits: TermLimits,
    scratch: &mut TermScratch,
    each: impl FnMut(CompactTerms),
) -> Option<CompactTerms> {
    let options = (weights, seed, limits, true);
    extract_headlines(headlines, lines, options, scratch, each)
}

/// Dup groups of at most this many headlines get their mean terms worked out directly
/// ([`extract_headlines_mean`]); larger ones are handed out a headline at a time (the merge
/// adds them up as they come).
pub const MEAN_HEADLINES_UP_TO: usize = 16;

/// [`extract_headlines_mean`]; without `mean`, every headline's terms are handed to `each`.
fn extract_headlines<'a>(
    headlines: &[&str],
    lines: impl Iterator<Item = &'a str>,
    (weights, seed, limits, mean): (TermWeights, u64, TermLimits, bool),
    scratch: &mut TermScratch,
    mut each: impl FnMut(CompactTerms),
) -> Option<CompactTerms> {
    let mut normalized: Vec<Cow<'a, str>> = recycle(std::mem::take(&mut scratch.lines));
    normalized.extend(lines.map(nfkc));
    let lines = normalized;
    let mut words: Vec<Word<'_>> = recycle(std::mem::take(&mut scratch.words));
    let mut line_ends: Vec<usize> = recycle(std::mem::take(&mut scratch.line_ends));
    let padded = &mut scratch.padded;
    for line in &lines {
        line_words(line, padded, &mut words);
        line_ends.push(words.len());
    }
    let heads: Vec<Cow<'_, str>> = headlines.iter().map(|headline| nfkc(headline)).collect();
    let mut headline_words: Vec<Word<'_>> = recycle(std::mem::take(&mut scratch.headline_words));
    let mut head_ends = Vec::with_capacity(heads.len());
    for head in &heads {
        line_words(head, padded, &mut headline_words);
        head_ends.push(headline_words.len());
    }
    lower_case_uses(
        &lines,
        &words,
        &line_ends,
        &headline_words,
        (
            &mut scratch.lower_uses,
            &mut scratch.line_scratch.known_words,
            seed,
        ),
    );
    let lower_words = &scratch.lower_uses.found;
    if scratch.terms.capacity() > KEPT_CAPACITY {
        scratch.terms = AHashMap::new();
    }
    scratch.terms.clear();
    // Distinct terms are about half the words: sized once instead of grown by rehashing
    // (capped: a 1 MiB article would reserve megabytes a thread).
    scratch.terms.reserve((words.len() / 2 + 16).min(1 << 14));
    let mut collector = TermCollector {
        seed,
        weights,
        terms: &mut scratch.terms,
    };
    let line_scratch = &mut scratch.line_scratch;
    let collect_body = |collector: &mut TermCollector, line_scratch: &mut LineScratch| {
        let mut start = 0;
        for &end in &line_ends {
            let line = (&words[start..end], start as u32);
            collect_line(line, false, lower_words, collector, line_scratch);
            start = end;
        }
    };
    // Headline words `start..end` (a headline's label places count from `start`).
    let collect_headline = |(start, end): (usize, usize),
                            collector: &mut TermCollector,
                            line_scratch: &mut LineScratch| {
        let line = (&headline_words[start..end], HEADLINE_WORD | start as u32);
        collect_line(line, true, lower_words, collector, line_scratch);
    };
    let labels = |place, out: &mut String| write_label(place, &words, &headline_words, out);
    scratch.ranked = recycle(std::mem::take(&mut scratch.ranked));
    let ranked = &mut scratch.ranked;
    let mut merged = None;
    if let [end] = head_ends[..] {
        // One headline: collected before the body, as a term's first occurrence is its label.
        collect_headline((0, end), &mut collector, line_scratch);
        collect_body(&mut collector, line_scratch);
        ranked.extend(scratch.terms.drain());
        each(top_terms(
            ranked,
            labels,
            limits,
            &mut scratch.bucket_counts,
        ));
    } else {
        // The body's terms once, sorted by hash; each headline's added to a copy (a headline's
        // occurrence is the label where it has the term).
        collect_body(&mut collector, line_scratch);
        let mut body: Vec<(u64, (f32, LabelPlace))> = scratch.terms.drain().collect();
        body.sort_unstable_by_key(|&(hash, _)| hash);
        let mut member = |head: &[(u64, (f32, LabelPlace))], ranked: &mut Vec<_>| {
            ranked.clear();
            ranked.extend_from_slice(&body);
            for &(hash, (score, label)) in head {
                match body.binary_search_by_key(&hash, |&(term, _)| term) {
                    Ok(i) => ranked[i].1 = (ranked[i].1 .0 + score, label),
                    Err(_) => ranked.push((hash, (score, label))),
                }
            }
            each(top_terms(
                ranked,
                labels,
                limits,
                &mut scratch.bucket_counts,
            ));
        };
        let mut head_terms = |(start, end), line_scratch: &mut LineScratch| {
            let mut collector = TermCollector {
                seed,
                weights,
                terms: &mut scratch.terms,
            };
            collect_headline((start, end), &mut collector, line_scratch);
            let mut head: Vec<(u64, (f32, LabelPlace))> = scratch.terms.drain().collect();
            head.sort_unstable_by_key(|&(hash, _)| hash);
            head
        };
        let head_spans = head_ends
            .iter()
            .scan(0, |start, &end| Some((std::mem::replace(start, end), end)));
        if mean && head_ends.len() <= MEAN_HEADLINES_UP_TO {
            let heads: Vec<Vec<(u64, (f32, LabelPlace))>> = head_spans
                .map(|span| head_terms(span, line_scratch))
                .collect();
            let fits = |head: &Vec<(u64, (f32, LabelPlace))>| {
                let new = head
                    .iter()
                    .filter(|(hash, _)| body.binary_search_by_key(hash, |&(t, _)| t).is_err());
                body.len() + new.count() <= limits.max_terms
            };
            if heads.iter().all(fits) {
                merged = Some(mean_of_headlines(&body, &heads, limits.max_labels, labels));
            } else {
                for head in &heads {
                    member(head, ranked);
                }
            }
        } else {
            // Each headline handed out as it is made (see `MEAN_HEADLINES_UP_TO`).
            for span in head_spans {
                let head = head_terms(span, line_scratch);
                member(&head, ranked);
            }
        }
    }
    scratch.headline_words = recycle(headline_words);
    scratch.words = recycle(words);
    scratch.line_ends = recycle(line_ends);
    scratch.lines = recycle(lines);
    merged
}

/// A term's (score, label place) in one article's terms, sorted by hash.
type PlacedTerms = [(u64, (f32, LabelPlace))];

/// The mean terms of one body (`body`'s terms) under each of `heads` (each headline's own
/// terms), all sorted by hash, when no headline's terms outgrow the `max_terms` kept: what
/// `story::merge_member_terms` makes of [`top_terms`] of each headline's terms, without them.
/// - A member's score of a term is the body's plus its headline's (in that order), and each
///   term's mean is added up member by member in headline order, from `0.0`, each score divided
///   by the number of headlines (the merge's additions, so the same sums).
/// - A member labels its `max_labels` heaviest terms (its headline's occurrence where its
///   headline has the term); the group keeps a label for its own `max_labels` heaviest terms,
///   the first member's that labels it. A member's heaviest come from the body's heaviest, as
///   many more as its headline has terms, and its headline's terms: a body term below those is
///   outweighed by at least `max_labels` terms its headline leaves as they are.
fn mean_of_headlines(
    body: &PlacedTerms,
    heads: &[Vec<(u64, (f32, LabelPlace))>],
    max_labels: usize,
    write_label: impl Fn(LabelPlace, &mut String),
) -> CompactTerms {
    let find = |terms: &PlacedTerms, hash: u64| {
        let i = terms.binary_search_by_key(&hash, |&(term, _)| term).ok()?;
        Some(terms[i].1)
    };
    // A member's score and label place of a term.
    let member_term = |head: &PlacedTerms, hash: u64, in_body: Option<(f32, LabelPlace)>| match (
        in_body,
        find(head, hash),
    ) {
        (Some((score, _)), Some((extra, label))) => Some((score + extra, label)),
        (in_body, None) => in_body,
        (None, in_head) => in_head,
    };
    let mut hashes: Vec<u64> = body.iter().map(|&(hash, _)| hash).collect();
    hashes.extend(heads.iter().flatten().map(|&(hash, _)| hash));
    hashes.sort_unstable();
    hashes.dedup();
    let divisor = heads.len() as f32;
    let sums: Vec<(u64, f32)> = hashes
        .iter()
        .map(|&hash| {
            let in_body = find(body, hash);
            let mut sum: Option<f32> = None;
            for head in heads {
                let Some((score, _)) = member_term(head, hash, in_body) else {
                    continue;
                };
                let contribution = score / divisor;
                sum = Some(sum.map_or(0.0 + contribution, |sum| sum + contribution));
            }
            (hash, sum.unwrap_or(0.0))
        })
        .collect();
    let heavier = |a: &(u64, f32), b: &(u64, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    let mut leaders: Vec<(u64, f32)> = body
        .iter()
        .map(|&(hash, (score, _))| (hash, score))
        .collect();
    let longest_head = heads.iter().map(Vec::len).max().unwrap_or(0);
    let leading = (max_labels + longest_head).min(leaders.len());
    if leading < leaders.len() {
        leaders.select_nth_unstable_by(leading, heavier);
        leaders.truncate(leading);
    }
    let labelled: Vec<Vec<u64>> = heads
        .iter()
        .map(|head| {
            // The body's leaders its headline leaves as they are, and every term of its
            // headline with the member's score.
            let mut candidates: Vec<(u64, f32)> = leaders
                .iter()
                .filter(|&&(hash, _)| find(head, hash).is_none())
                .copied()
                .collect();
            candidates.extend(head.iter().map(|&(hash, _)| {
                let in_body = find(body, hash);
                let score = member_term(head, hash, in_body).map_or(0.0, |(score, _)| score);
                (hash, score)
            }));
            heaviest_hashes(&candidates, max_labels)
        })
        .collect();
    let mut compact = CompactTerms {
        label_ends: Vec::with_capacity(max_labels.min(sums.len())),
        label_text: String::new(),
        scores: Vec::new(),
    };
    for hash in heaviest_hashes(&sums, max_labels) {
        let Some(first) = labelled
            .iter()
            .position(|terms| terms.binary_search(&hash).is_ok())
        else {
            continue;
        };
        let Some((_, place)) = member_term(&heads[first], hash, find(body, hash)) else {
            continue;
        };
        write_label(place, &mut compact.label_text);
        compact
            .label_ends
            .push((hash, compact.label_text.len() as u32));
    }
    compact.scores = sums;
    compact
}

/// The hashes of the `count` heaviest of `scores` (ties to the smaller hash), ascending: the
/// terms that keep a label.
pub(crate) fn heaviest_hashes(scores: &[(u64, f32)], count: usize) -> Vec<u64> {
    let mut ranked = scores.to_vec();
    // Only which terms are the heaviest matters (they are sorted by hash next): selected, not
    // sorted.
    if ranked.len() > count {
        let heavier = |a: &(u64, f32), b: &(u64, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        ranked.select_nth_unstable_by(count, heavier);
        ranked.truncate(count);
    }
    let mut top: Vec<u64> = ranked.into_iter().map(|(hash, _)| hash).collect();
    top.sort_unstable();
    top
}

/// The heaviest of an article's terms (term hash, (score, label place)), in any order, as
/// [`extract_top`] keeps them; `write_label` writes a label out.
fn top_terms(
    terms: &mut Vec<(u64, (f32, LabelPlace))>,
    write_label: impl Fn(LabelPlace, &mut String),
    limits: TermLimits,
    bucket_counts: &mut Vec<u32>,
) -> CompactTerms {
    let TermLimits {
        max_terms,
        max_labels,
    } = limits;
    let heavier = |a: &(u64, (f32, LabelPlace)), b: &(u64, (f32, LabelPlace))| {
        b.1 .0.total_cmp(&a.1 .0).then(a.0.cmp(&b.0))
    };
    if terms.len() > max_terms {
        terms.select_nth_unstable_by(max_terms, heavier);
        terms.truncate(max_terms);
    }
    // Labels are kept for the `max_labels` heaviest terms: those move to the front, and only
    // they are sorted for their labels; the scores are sorted apart, without the label places.
    let labelled = if terms.len() > max_labels {
        terms.select_nth_unstable_by(max_labels, heavier);
        &mut terms[..max_labels]
    } else {
        &mut terms[..]
    };
    labelled.sort_unstable_by_key(|t| t.0);
    let mut compact = CompactTerms {
        scores: Vec::new(),
        label_ends: Vec::with_capacity(terms.len().min(max_labels)),
        label_text: String::new(),
    };
    for &(hash, (_, place)) in terms.iter().take(max_labels) {
        write_label(place, &mut compact.label_text);
        compact
            .label_ends
            .push((hash, compact.label_text.len() as u32));
    }
    let scores = terms.iter().map(|&(hash, (score, _))| (hash, score));
    compact.scores = sorted_by_hash(scores, terms.len(), bucket_counts);
    compact
}

/// `items` (`len` of them) sorted by hash: placed by the top bits of their hash into about one
/// bucket each (term hashes are uniform), then an insertion sort puts the few that share a
/// bucket in order (criterion, key terms as the pipeline extracts them: 192–193 → 181–189 ms
/// against `sort_unstable`). Hashes crowded into few buckets (made so on purpose) would make the insertion sort
/// quadratic: past 8 moves an item it gives way to a comparison sort. `counts` is a reused
/// buffer.
fn sorted_by_hash<T: Copy + Default>(
    items: impl Iterator<Item = (u64, T)> + Clone,
    len: usize,
    counts: &mut Vec<u32>,
) -> Vec<(u64, T)> {
    if len < 2 {
        return items.collect();
    }
    let bits = (usize::BITS - (len - 1).leading_zeros()).min(16);
    let bucket = |hash: u64| (hash >> (64 - bits)) as usize;
    counts.clear();
    counts.resize((1 << bits) + 1, 0);
    for (hash, _) in items.clone() {
        counts[bucket(hash) + 1] += 1;
    }
    for b in 1..counts.len() {
        counts[b] += counts[b - 1];
    }
    let mut sorted = vec![(0u64, T::default()); len];
    for item in items {
        let next = &mut counts[bucket(item.0)];
        sorted[*next as usize] = item;
        *next += 1;
    }
    let mut moves_left = 8 * len;
    for i in 1..len {
        let item = sorted[i];
        let mut j = i;
        while j > 0 && sorted[j - 1].0 > item.0 {
            sorted[j] = sorted[j - 1];
            j -= 1;
        }
        sorted[j] = item;
        moves_left = moves_left.saturating_sub(i - j);
        if moves_left == 0 {
            sorted.sort_unstable_by_key(|&(hash, _)| hash);
            break;
        }
    }
    sorted
}

/// The words an article also writes in lower case, among those [`is_name_part`] asks about
/// (capitalized words that start a sentence or stand in the headline), into `uses.found`: such
/// a word is a common word, not a name. The words of an ASCII line are its `unicode_words()`;
/// other lines ask the Unicode tables again. Only the few words asked about are kept, not every
/// word.
fn lower_case_uses(
    lines: &[Cow<'_, str>],
    words: &[Word<'_>],
    line_ends: &[usize],
    headline_words: &[Word<'_>],
    (uses, known_words, seed): (&mut LowerUses, &mut KnownWords, u64),
) {
    let LowerUses {
        asked,
        found,
        lower,
    } = uses;
    asked.clear();
    found.clear();
    if lower.capacity() > KEPT_CAPACITY {
        // One huge word of an earlier article is not kept for the thread's lifetime.
        *lower = String::new();
    }
    let body = words.iter().map(|word| (word, false));
    for (word, in_title) in body.chain(headline_words.iter().map(|word| (word, true))) {
        if !(word.sentence_start || in_title) || !known_words.facts(word.text, seed).could_be_name()
        {
            continue;
        }
        asked.insert_lowercase(word.text, lower);
    }
    if asked.is_empty() {
        return;
    }
    let starts_lower = |word: &&str| word.chars().next().is_some_and(char::is_lowercase);
    // The same for an ASCII word, without decoding a character.
    let starts_ascii_lower =
        |word: &&str| word.as_bytes().first().is_some_and(u8::is_ascii_lowercase);
    let mut start = 0;
    for (line, &end) in lines.iter().zip(line_ends) {
        if line.is_ascii() {
            let line_words = words[start..end].iter().map(|word| word.text);
            for word in line_words.filter(|w| starts_ascii_lower(w) && asked.contains(w)) {
                found.insert(word);
            }
        } else {
            for word in line
                .unicode_words()
                .filter(|w| starts_lower(w) && asked.contains(w))
            {
                found.insert(word);
            }
        }
        start = end;
    }
}

/// The sets [`lower_case_uses`] fills, reused from one article to the next.
#[derive(Default)]
struct LowerUses {
    /// Capitalized words at sentence starts and in the headline, in lower case.
    asked: WordSet,
    /// Those of them the article also writes in lower case.
    found: WordSet,
    lower: String,
}

/// A small set of words, cleared and reused between articles: words of up to 15 bytes as their
/// packed numbers ([`packed_word`]: no allocation, one comparison), longer ones as strings. A
/// bit filter in front answers for most words looked up that are not in it, without hashing.
#[derive(Default)]
struct WordSet {
    filter: [u64; 16],
    short: AHashSet<u128>,
    long: AHashSet<String>,
}

impl WordSet {
    /// A bit of 1,024 for the word's length, first and last byte: words of one length and one
    /// last letter ("police", "notice") mostly differ in their first. An ASCII word's bit is
    /// its lower case's (the two bytes are lower-cased, the length stays).
    #[inline]
    fn filter_bit(word: &str) -> (usize, u64) {
        let bytes = word.as_bytes();
        let first = bytes.first().map(u8::to_ascii_lowercase);
        let last = bytes.last().map(u8::to_ascii_lowercase);
        let key = u32::from(first.unwrap_or(0)) | u32::from(last.unwrap_or(0)) << 8;
        let key = (key | (bytes.len() as u32) << 16).wrapping_mul(0x9E37_79B1) >> 22;
        let key = key as usize;
        (key / 64, 1 << (key % 64))
    }

    fn clear(&mut self) {
        self.filter = [0; 16];
        // A set that one article grew past what articles need is freed instead of kept.
        if self.short.capacity() > KEPT_CAPACITY {
            self.short = AHashSet::new();
        }
        self.short.clear();
        self.long.clear();
    }

    fn is_empty(&self) -> bool {
        self.short.is_empty() && self.long.is_empty()
    }

    fn insert(&mut self, word: &str) {
        match packed_word(word) {
            Some(packed) => self.insert_packed(word, packed),
            None => {
                let (i, bit) = Self::filter_bit(word);
                self.filter[i] |= bit;
                if !self.long.contains(word) {
                    self.long.insert(word.to_string());
                }
            }
        }
    }

    #[inline]
    fn contains(&self, word: &str) -> bool {
        let (i, bit) = Self::filter_bit(word);
        if self.filter[i] & bit == 0 {
            return false;
        }
        match packed_word(word) {
            Some(packed) => self.short.contains(&packed),
            None => self.long.contains(word),
        }
    }

    /// [`WordSet::insert`] of `word` in lower case (`buffer` holds it when `word` is no short
    /// ASCII word).
    fn insert_lowercase(&mut self, word: &str, buffer: &mut String) {
        match packed_ascii_lowercase(word) {
            Some(packed) => self.insert_packed(word, packed),
            None => self.insert(lower_into(word, buffer)),
        }
    }

    /// Inserts a short word as its packed number (`word` gives the filter bit: the word itself
    /// or, ASCII, any casing of it).
    fn insert_packed(&mut self, word: &str, packed: u128) {
        let (i, bit) = Self::filter_bit(word);
        self.filter[i] |= bit;
        self.short.insert(packed);
    }

    /// [`WordSet::contains`] of `word` in lower case: a short ASCII word is lower-cased in its
    /// packed number, without being copied (`buffer` holds any other word's lower case).
    #[inline]
    fn contains_lowercase(&self, word: &str, buffer: &mut String) -> bool {
        if !word.is_ascii() {
            return self.contains(lower_into(word, buffer));
        }
        let (i, bit) = Self::filter_bit(word);
        if self.filter[i] & bit == 0 {
            return false;
        }
        match packed_ascii_lowercase(word) {
            Some(packed) => self.short.contains(&packed),
            None => self.long.contains(lower_into(word, buffer)),
        }
    }
}

/// The [`packed_word`] of an ASCII word's lower case, lower-cased in the number: each byte
/// from `A` to `Z` gets its 0x20 bit (every byte is below 0x80, so no sum carries into the
/// next byte). The top byte, the length (1 to 15), and the zero bytes past the word are below
/// `A` and stay as they are. None for a word that is not ASCII or not 1 to 15 bytes long.
fn packed_ascii_lowercase(word: &str) -> Option<u128> {
    if !word.is_ascii() {
        return None;
    }
    let packed = packed_word(word)?;
    const ONES: u64 = 0x0101_0101_0101_0101;
    let lower = |x: u64| {
        let at_least_a = x.wrapping_add(ONES * (0x80 - u64::from(b'A')));
        let past_z = x.wrapping_add(ONES * (0x80 - u64::from(b'Z') - 1));
        let upper = at_least_a & !past_z & (ONES * 0x80);
        x | upper >> 2
    };
    Some(u128::from(lower(packed as u64)) | u128::from(lower((packed >> 64) as u64)) << 64)
}

/// Lower-cases `word` into a reused buffer.
fn lower_into<'b>(word: &str, buffer: &'b mut String) -> &'b str {
    buffer.clear();
    push_chars_lowercase(word, buffer);
    buffer
}

/// Appends `word` in lower case, character by character (unlike [`push_lowercase`], a final
/// sigma is no different from another).
fn push_chars_lowercase(word: &str, out: &mut String) {
    if word.is_ascii() {
        let start = out.len();
        out.push_str(word);
        out[start..].make_ascii_lowercase();
    } else {
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
}

/// Adds the terms of one line: its words, and the index of its first word among the article's
/// (see [`LabelPlace`]).
fn collect_line(
    (words, first_word): (&[Word<'_>], u32),
    in_title: bool,
    lower_words: &WordSet,
    collector: &mut TermCollector,
    line_scratch: &mut LineScratch,
) {
    let LineScratch {
        buffers,
        known_words,
    } = line_scratch;
    let mut name: (usize, usize) = (0, 0); // the current name: words[name.0..name.1]
    let mut name_start = WordFacts::default(); // the facts of words[name.0]
    for (i, word) in words.iter().enumerate() {
        let facts = known_words.facts(word.text, collector.seed);
        let continues_name = name.1 > name.0 && word.hyphen_joined;
        let name_part = is_name_part(word, facts, in_title, lower_words, &mut buffers.lower);
        if name_part || continues_name {
            if name.1 == name.0 {
                name = (i, i);
                name_start = facts;
            }
            name.1 = i + 1;
        } else if name.1 > name.0 {
            let name_words = &words[name.0..name.1];
            let at = first_word + name.0 as u32;
            flush_name(name_words, at, name_start, in_title, collector, buffers);
            name = (0, 0);
        }
        add_word(first_word + i as u32, facts, in_title, collector);
    }
    let name_words = &words[name.0..name.1];
    let at = first_word + name.0 as u32;
    flush_name(name_words, at, name_start, in_title, collector, buffers);
}

/// What [`is_name_part`] and [`add_word`] ask of a word, worked out once per distinct word
/// ([`KnownWords`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct WordFacts {
    /// The word's term hash without its kind bits: of the word itself when it has a digit (a
    /// number), else of its lower case with endings folded (a common word, or a one-word name).
    hash: u64,
    flags: u8,
}

impl WordFacts {
    const CAPITALIZED: u8 = 1;
    const HAS_DIGIT: u8 = 2;
    /// The word in lower case is a stop word.
    const STOP_WORD: u8 = 4;
    /// The word adds a common-word term (no digit, no stop word, folded: 3 characters or more
    /// and no stop word).
    const ADDS_WORD: u8 = 16;
    const ASCII: u8 = 32;

    /// The facts of `word` (`buffer` is reused for its lower case, then folded).
    fn of(word: &str, seed: u64, buffer: &mut String) -> WordFacts {
        let lower = lower_into(word, buffer);
        let lower_len = lower.len();
        let mut flags = 0;
        let mut set = |flag: u8, on: bool| {
            if on {
                flags |= flag;
            }
        };
        set(Self::CAPITALIZED, is_capitalized(word));
        set(Self::ASCII, word.is_ascii());
        let stop_word = is_stop_word(lower);
        set(Self::STOP_WORD, stop_word);
        if has_digit(word) {
            set(Self::HAS_DIGIT, true);
            let hash = term_hash(TermKind::Word, word, seed);
            return WordFacts { hash, flags };
        }
        fold_suffixes(buffer);
        let folded = buffer.as_str();
        let short = if folded.is_ascii() {
            folded.len() < 3
        } else {
            folded.chars().count() < 3
        };
        // A folded word differs from its lower case only when an ending was dropped ("others"
        // → "other").
        let skip = short || (folded.len() != lower_len && is_stop_word(folded));
        set(Self::ADDS_WORD, !stop_word && !skip);
        let hash = term_hash(TermKind::Word, folded, seed);
        WordFacts { hash, flags }
    }

    fn has(self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Capitalized, without digits, no stop word in lower case: [`is_name_part`] unless the
    /// article also writes it in lower case (where that matters).
    fn could_be_name(self) -> bool {
        self.flags & (Self::CAPITALIZED | Self::HAS_DIGIT | Self::STOP_WORD) == Self::CAPITALIZED
    }
}

/// The [`WordFacts`] of the words a thread met lately, by their text: in news text most words
/// are frequent ones, which are looked up here instead of being lower-cased, checked against the
/// stop words, folded and hashed at every occurrence. A slot per word of up to 15 bytes (as
/// [`packed_word`]), the last word to land there; longer words are worked out every time.
///
/// The table starts small (32 KiB) and grows to its full size (512 KiB, in the second-level
/// cache) once a thread has looked up enough words to fill it: one article extracted with
/// fresh buffers ([`extract`]) should not pay for zeroing the full table.
#[derive(Default)]
struct KnownWords {
    /// The seed the hashes were made with.
    seed: u64,
    /// (packed word, its facts); a packed word is never 0, so 0 marks an empty slot.
    slots: Vec<(u128, WordFacts)>,
    /// Words looked up since the table was made (up to [`KnownWords::GROW_AFTER`]).
    lookups: usize,
    lower: String,
}

impl KnownWords {
    const FIRST_BITS: u32 = 10;
    const FULL_BITS: u32 = 14;
    /// Lookups after which a small table grows to its full size (~100 articles).
    const GROW_AFTER: usize = 1 << 16;

    fn facts(&mut self, word: &str, seed: u64) -> WordFacts {
        let Some(packed) = packed_word(word) else {
            return WordFacts::of(word, seed, &mut self.lower);
        };
        if self.slots.is_empty() || self.seed != seed {
            self.reset(Self::FIRST_BITS, seed);
        }
        self.lookups += 1;
        if self.lookups == Self::GROW_AFTER {
            self.reset(Self::FULL_BITS, seed);
        }
        let bits = self.slots.len().trailing_zeros();
        let slot = (StopWordTable::mixed(packed) >> (64 - bits)) as usize;
        if self.slots[slot].0 == packed {
            return self.slots[slot].1;
        }
        let facts = WordFacts::of(word, seed, &mut self.lower);
        self.slots[slot] = (packed, facts);
        facts
    }

    /// An empty table of `1 << bits` slots for hashes made with `seed`.
    fn reset(&mut self, bits: u32, seed: u64) {
        self.slots = vec![(0, WordFacts::default()); 1 << bits];
        self.seed = seed;
        if bits == Self::FIRST_BITS {
            self.lookups = 0;
        }
    }
}

/// [`Buffers`] and [`KnownWords`]: what [`collect_line`] reuses.
#[derive(Default)]
struct LineScratch {
    buffers: Buffers,
    known_words: KnownWords,
}

/// Whether a word can be part of a name: capitalized, not a stop word, and — at a sentence start
/// or in a title-case headline — not a word the article also uses in lower case (`lower` is a
/// buffer for the word in lower case).
fn is_name_part(
    word: &Word<'_>,
    facts: WordFacts,
    in_title: bool,
    lower_words: &WordSet,
    lower: &mut String,
) -> bool {
    if !facts.could_be_name() {
        return false;
    }
    if word.sentence_start || in_title {
        return !lower_words.contains_lowercase(word.text, lower);
    }
    true
}

/// Adds a name (`at` is the index of its first word, `first` that word's facts).
fn flush_name(
    name: &[Word<'_>],
    at: u32,
    first: WordFacts,
    in_title: bool,
    collector: &mut TermCollector,
    buffers: &mut Buffers,
) {
    match name {
        [] => {}
        // An ASCII word's folded lower case is its common-word key: its hash is known. (Not so
        // for other words: `fold_word_into` lower-cases a final sigma as a whole word does.)
        [_] if first.has(WordFacts::ASCII) => {
            let hash = first.hash | TermKind::Name as u64;
            collector.add_hashed(hash, in_title, (at, 1));
        }
        [word] => {
            fold_word_into(word.text, &mut buffers.key);
            collector.add(TermKind::Name, &buffers.key, (at, 1), in_title);
        }
        parts => {
            let key = &mut buffers.key;
            key.clear();
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    key.push(' ');
                }
                push_lowercase(part.text, key);
            }
            collector.add(TermKind::Name, key, (at, parts.len() as u32), in_title);
        }
    }
}

/// Adds the word at `at` (see [`LabelPlace`]) as a number or a common word (labelled by its
/// lower case).
fn add_word(at: u32, facts: WordFacts, in_title: bool, collector: &mut TermCollector) {
    if facts.has(WordFacts::HAS_DIGIT) {
        let hash = facts.hash | TermKind::Number as u64;
        collector.add_hashed(hash, in_title, (at, 1));
        return;
    }
    if !facts.has(WordFacts::ADDS_WORD) {
        return;
    }
    let hash = facts.hash | TermKind::Word as u64;
    collector.add_hashed(hash, in_title, (at, 1 | LOWER_CASE_LABEL));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(text: &str) -> Vec<String> {
        let terms = extract("", text.lines(), TermWeights::default(), 1);
        let mut labels: Vec<String> = terms.labels.into_iter().map(|(_, l)| l).collect();
        labels.sort();
        labels
    }

    #[test]
    fn names_fold_hyphens_and_spaces() {
        let a = extract(
            "",
            ["Kim Yong-chol flew to New York."].into_iter(),
            TermWeights::default(),
            1,
        );
        let b = extract(
            "",
            ["Officials met Kim Yong Chol there."].into_iter(),
            TermWeights::default(),
            1,
        );
        let common: Vec<_> = a
            .scores
            .iter()
            .filter(|(h, _)| b.scores.iter().any(|(g, _)| g == h))
            .collect();
        let a_labels: Vec<&str> = a.labels.iter().map(|(_, l)| l.as_str()).collect();
        assert!(
            a_labels.contains(&"Kim Yong-chol") || a_labels.contains(&"Kim Yong chol"),
            "{a_labels:?}"
        );
        // the folded name and the words kim, yong, chol are shared
        assert!(common.len() >= 4, "{common:?}");
    }

    #[test]
    fn sentence_initial_common_words_are_not_names() {
        let found = labels("Police said the man fled. The police later found him in Springfield.");
        assert!(found.contains(&"Springfield".to_string()), "{found:?}");
        assert!(!found.contains(&"Police".to_string()), "{found:?}");
    }

    #[test]
    fn labels_are_first_occurrences_as_written_or_in_lower_case() {
        let text =
            "Grain prices rose 6.3 percent, said Kim  Yong-chol in ΟΔΟΣ.\nGRAIN exports fell.";
        let terms = extract(
            "Floods hit Ruritania",
            text.lines(),
            TermWeights::default(),
            1,
        );
        let labels: Vec<&str> = terms.labels.iter().map(|(_, l)| l.as_str()).collect();
        // Common words: the first occurrence in lower case, character by character.
        for label in ["grain", "prices", "percent", "floods", "οδοσ"] {
            assert!(labels.contains(&label), "{label} in {labels:?}");
        }
        // Numbers and names as written; a name's words joined by one space; headline words too.
        for label in ["6.3", "Kim Yong chol", "Ruritania", "ΟΔΟΣ"] {
            assert!(labels.contains(&label), "{label} in {labels:?}");
        }
        assert_eq!(terms.labels.len(), terms.scores.len());
    }

    #[test]
    fn numbers_and_plurals() {
        let found = labels("A magnitude 6.3 quake; shootings and a shooting.");
        assert!(found.contains(&"6.3".to_string()));
        // "shootings" and "shooting" are one term (labelled by its first form).
        assert_eq!(
            found.iter().filter(|l| l.starts_with("shooting")).count(),
            1,
            "{found:?}"
        );
    }

    proptest::proptest! {
        #[test]
        fn ascii_words_match_the_unicode_rules(text in "[a-zA-Z0-9_ .,;:'\"!?()\t-]{0,150}") {
            let mut fast = Vec::new();
            ascii_line_words(&text, &mut Vec::new(), &mut fast);
            let mut slow = Vec::new();
            unicode_line_words(&text, &mut slow);
            proptest::prop_assert_eq!(&fast, &slow);
            let words: Vec<&str> = fast.iter().map(|w| w.text).collect();
            let unicode: Vec<&str> = text.unicode_words().collect();
            proptest::prop_assert_eq!(words, unicode);
        }
    }

    #[test]
    fn top_terms_are_trimmed_terms() {
        let text =
            "Kim Yong-chol flew to New York on Tuesday. Officials met Kim Yong Chol there.\n\
            A magnitude 6.3 quake; shootings and a shooting in Springfield and in Shelbyville.\n\
            The police said the Springfield police found 12 people, and 3 more in Ogdenville.";
        for (max_terms, max_labels) in [(400, 40), (10, 4), (3, 3), (2, 40), (40, 0)] {
            let mut trimmed = extract("A headline", text.lines(), TermWeights::default(), 1);
            crate::story::trim_terms(&mut trimmed);
            let mut expected = extract("A headline", text.lines(), TermWeights::default(), 1);
            let mut ranked = expected.scores.clone();
            ranked.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            ranked.truncate(max_terms);
            let labelled: Vec<u64> = ranked.iter().take(max_labels).map(|t| t.0).collect();
            expected.labels.retain(|(h, _)| labelled.contains(h));
            ranked.sort_unstable_by_key(|t| t.0);
            expected.scores = ranked;
            let top = extract_top(
                "A headline",
                text.lines(),
                TermWeights::default(),
                1,
                max_terms,
                max_labels,
            );
            assert_eq!(top, expected, "{max_terms} {max_labels}");
            if (max_terms, max_labels) == (400, 40) {
                assert_eq!(top, trimmed);
            }
        }
    }

    #[test]
    fn several_headlines_over_one_body_give_each_headline_its_own_extraction() {
        let body = "Police said Kim Yong-chol flew to New York on Tuesday.\n\
                    Kim's aides said talks on the summit went on. The police chief, Ann Lee, \
                    said 12 officers and 3 agencies helped. Summit talks resume in 2019.";
        let headlines = [
            "Kim Yong-chol Arrives In New York For Summit Talks",
            "",
            "Police Chief Says 12 Officers Helped",
            "Summit talks: Kim's aides arrive",
            "Kim Yong-chol Arrives In New York For Summit Talks",
        ];
        let limits = TermLimits {
            max_terms: 12,
            max_labels: 5,
        };
        let weights = TermWeights::default();
        let mut scratch = TermScratch::default();
        let mut together = Vec::new();
        let lines = body.lines();
        // Without the mean: every headline's terms handed out.
        let options = (weights, 3, limits, false);
        extract_headlines(&headlines, lines, options, &mut scratch, |terms| {
            together.push(terms)
        });
        assert_eq!(together.len(), headlines.len());
        for (headline, terms) in headlines.iter().zip(together) {
            let alone = extract_top(headline, body.lines(), weights, 3, 12, 5);
            assert_eq!(terms.into_doc_terms(), alone, "{headline}");
        }
    }

    /// Random news-like text: lower-case words, stop words, capitalized and hyphenated names,
    /// numbers, sentence ends; `count` words from a vocabulary of `vocabulary` words.
    fn random_text(state: &mut u64, count: usize, vocabulary: u64, line_every: u64) -> String {
        let mut text = String::new();
        for i in 0..count {
            let r = crate::minhash::splitmix64(state);
            let word = match r % 10 {
                0 => format!("Name{}", r % 37),
                1 => format!("Kim-Name{}", r % 11),
                2 => ["the", "of", "said", "and", "Police", "police"][(r % 6) as usize].into(),
                3 => format!("{}", r % 400),
                _ => format!("word{}", r % vocabulary),
            };
            text.push_str(&word);
            text.push(match r % line_every {
                0 if i > 0 => '\n',
                1 => '.',
                _ => ' ',
            });
            if text.ends_with('.') {
                text.push(' ');
            }
        }
        text
    }

    #[test]
    fn headlines_mean_is_the_merge_of_each_headlines_terms() {
        // Bodies of 0..700 words under 1..20 headlines (some empty, some repeated, words from
        // the body and new ones), with the pipeline's limits and with few terms kept (then no
        // mean: each headline is handed out): the mean is what the merge makes of each
        // headline's own terms, to the bit, labels included.
        let mut state = 0x5eed_u64;
        let weights = TermWeights::default();
        let mut scratch = TermScratch::default();
        let mut reference_scratch = TermScratch::default();
        let (mut means, mut handed_out) = (0, 0);
        for round in 0..300 {
            let words = (crate::minhash::splitmix64(&mut state) % 700) as usize;
            let body = random_text(&mut state, words, 300, 9);
            let count = 1 + (crate::minhash::splitmix64(&mut state) % 20) as usize;
            let mut headlines: Vec<String> = (0..count)
                .map(|_| {
                    let words = (crate::minhash::splitmix64(&mut state) % 12) as usize;
                    random_text(&mut state, words, 600, 1000)
                })
                .collect();
            if count > 2 {
                headlines[1] = headlines[0].clone();
                headlines[2] = String::new();
            }
            let headlines: Vec<&str> = headlines.iter().map(String::as_str).collect();
            let limits = TermLimits {
                max_terms: if round % 4 == 3 { 60 } else { 400 },
                max_labels: crate::story::LABELLED_TERMS,
            };
            let mut each = Vec::new();
            let mean = extract_headlines_mean(
                &headlines,
                body.lines(),
                weights,
                7,
                limits,
                &mut scratch,
                |terms| each.push(terms),
            );
            let mut reference = Vec::new();
            let options = (weights, 7, limits, false);
            extract_headlines(
                &headlines,
                body.lines(),
                options,
                &mut reference_scratch,
                |terms| reference.push(terms),
            );
            let Some(mean) = mean else {
                handed_out += 1;
                assert_eq!(each, reference, "round {round}");
                continue;
            };
            means += 1;
            assert!(each.is_empty() && (2..=MEAN_HEADLINES_UP_TO).contains(&count));
            let expected = crate::story::merge_member_terms(&reference);
            let bits = |terms: &CompactTerms| -> Vec<(u64, u32)> {
                terms
                    .scores
                    .iter()
                    .map(|&(hash, w)| (hash, w.to_bits()))
                    .collect()
            };
            assert_eq!(bits(&mean), bits(&expected), "round {round}");
            let labels = |terms: &CompactTerms| -> Vec<(u64, String)> {
                terms
                    .labels()
                    .map(|(hash, label)| (hash, label.to_string()))
                    .collect()
            };
            assert_eq!(labels(&mean), labels(&expected), "round {round}");
        }
        assert!(
            means > 100 && handed_out > 50,
            "{means} means, {handed_out} handed out"
        );
    }

    #[test]
    fn reused_buffers_give_the_terms_of_fresh_ones() {
        let huge: String = (0..KEPT_CAPACITY + 100)
            .map(|i| format!("Word{} said word{}.\n", i % 5000, i % 7))
            .collect();
        let articles: Vec<(&str, String)> = vec![
            (
                "Quake hits Springfield",
                "A magnitude 6.3 quake hit Springfield. Police said 12 died.".into(),
            ),
            ("", String::new()),
            (
                "Ünïcode Çity",
                "Der Bürgermeister von Köln traf Olaf Scholz. Straße gesperrt.".into(),
            ),
            ("Huge", huge),
            (
                "After the huge one",
                "Kim Yong-chol flew to New York on Tuesday.\nOfficials met him.".into(),
            ),
            (
                "Quake hits Springfield",
                "A magnitude 6.3 quake hit Springfield. Police said 12 died.".into(),
            ),
        ];
        let limits = TermLimits {
            max_terms: 64,
            max_labels: 8,
        };
        let mut scratch = TermScratch::default();
        for (headline, text) in &articles {
            let fresh = extract_top(headline, text.lines(), TermWeights::default(), 3, 64, 8);
            let reused = extract_top_with(
                headline,
                text.lines(),
                TermWeights::default(),
                3,
                limits,
                &mut scratch,
            )
            .into_doc_terms();
            assert_eq!(reused, fresh, "{headline}");
            assert!(scratch.words.capacity() <= KEPT_CAPACITY, "{headline}");
        }
    }

    #[test]
    fn known_words_give_the_facts_worked_out_afresh() {
        let words = [
            "police",
            "Police",
            "POLICE",
            "the",
            "The",
            "others",
            "Others",
            "shootings",
            "Kim's",
            "6.3",
            "1950s",
            "B52",
            "ab",
            "abs",
            "Ünïcode",
            "straße",
            "ΟΔΟΣ",
            "über",
            "x",
            "counterintelligence",
            "Counterintelligence",
            "isn't",
            "theirs",
        ];
        let mut known = KnownWords::default();
        // Seeds change the hashes: a cache filled under one seed is not used under another.
        for seed in [1, 2, 1] {
            // Twice round: the second finds the words in their slots (or the words that took
            // their slots since).
            for _ in 0..2 {
                for word in words {
                    let fresh = WordFacts::of(word, seed, &mut String::new());
                    assert_eq!(known.facts(word, seed), fresh, "{word} {seed}");
                }
            }
        }
        let police = WordFacts::of("Police", 1, &mut String::new());
        assert!(police.could_be_name() && police.has(WordFacts::ADDS_WORD));
        let the = WordFacts::of("The", 1, &mut String::new());
        assert!(the.has(WordFacts::STOP_WORD) && !the.has(WordFacts::ADDS_WORD));
        let number = WordFacts::of("6.3", 1, &mut String::new());
        assert_eq!(number.hash | 2, term_hash(TermKind::Number, "6.3", 1));
        let plural = WordFacts::of("Shootings", 1, &mut String::new());
        assert_eq!(plural.hash, term_hash(TermKind::Word, "shooting", 1));
    }

    #[test]
    fn sorted_by_hash_is_sorted() {
        let mut counts = Vec::new();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for len in [0, 1, 2, 3, 31, 250, 400, 5000] {
            // Uniform hashes; hashes crowded into one bucket (the comparison-sort way out);
            // repeated hashes.
            let uniform: Vec<(u64, f32)> = (0..len).map(|i| (next(), i as f32)).collect();
            let crowded: Vec<(u64, f32)> = (0..len).map(|i| (next() >> 20, i as f32)).collect();
            let repeated: Vec<(u64, f32)> = (0..len).map(|i| (next() % 7, i as f32)).collect();
            for items in [uniform, crowded, repeated] {
                let sorted = sorted_by_hash(items.iter().copied(), items.len(), &mut counts);
                let mut expected = items.clone();
                expected.sort_by_key(|&(hash, _)| hash);
                let hashes = |v: &[(u64, f32)]| v.iter().map(|t| t.0).collect::<Vec<_>>();
                assert_eq!(hashes(&sorted), hashes(&expected), "{len}");
                let mut weights: Vec<u32> = sorted.iter().map(|t| t.1.to_bits()).collect();
                let mut original: Vec<u32> = items.iter().map(|t| t.1.to_bits()).collect();
                weights.sort_unstable();
                original.sort_unstable();
                assert_eq!(weights, original, "{len}: the same items");
            }
        }
    }

    /// Lower-cased in the packed number or as a string: the same set members, for every ASCII
    /// byte at every place of a short word, and for words that take the string path.
    #[test]
    fn word_sets_lower_case_as_the_strings_do() {
        let mut buffer = String::new();
        for len in 1..=16usize {
            for byte in 0u8..0x80 {
                for at in [0, len / 2, len - 1] {
                    let mut bytes = vec![b'Q'; len];
                    bytes[at] = byte;
                    let word = String::from_utf8(bytes).expect("ASCII");
                    let lower = word.to_lowercase();
                    let expected = packed_word(&lower);
                    assert_eq!(packed_ascii_lowercase(&word), expected, "{word:?}");
                }
            }
        }
        let words = [
            "Police",
            "KIM",
            "Counterintelligence",
            "ÜNÏCODE",
            "Ünïcode",
            "a",
            "Zz",
        ];
        let mut by_string = WordSet::default();
        let mut by_number = WordSet::default();
        for word in words {
            by_string.insert(lower_into(word, &mut buffer));
            by_number.insert_lowercase(word, &mut buffer);
        }
        let asked = [
            "police",
            "POLICE",
            "pOlIcE",
            "kim",
            "Kims",
            "ünïcode",
            "ÜnÏcode",
            "z",
        ];
        for word in words.iter().chain(&asked) {
            let expected = by_string.contains(lower_into(word, &mut buffer));
            assert_eq!(
                by_number.contains_lowercase(word, &mut buffer),
                expected,
                "{word}"
            );
            assert_eq!(
                by_string.contains_lowercase(word, &mut buffer),
                expected,
                "{word}"
            );
        }
    }

    #[test]
    fn word_sets_hold_exactly_their_words() {
        let inserted = ["police", "kim", "counterintelligence", "ünïcode", "a"];
        // Same length and last letter, other first letters; prefixes; longer; empty.
        let others = [
            "notice",
            "rolice",
            "him",
            "ki",
            "kims",
            "counterintelligences",
            "",
            "b",
        ];
        let mut set = WordSet::default();
        for round in 0..2 {
            assert!(set.is_empty());
            for word in inserted {
                set.insert(word);
            }
            for word in inserted {
                assert!(set.contains(word), "{word} {round}");
            }
            for word in others {
                assert!(!set.contains(word), "{word} {round}");
            }
            set.clear();
        }
    }

    #[test]
    fn packed_words_are_the_bytes_and_the_length() {
        for len in 0..=17usize {
            let word: String = (0..len).map(|i| (b'a' + i as u8) as char).collect();
            let expected = (1..=15).contains(&len).then(|| {
                let mut packed = [0u8; 16];
                packed[..len].copy_from_slice(word.as_bytes());
                packed[15] = len as u8;
                u128::from_le_bytes(packed)
            });
            assert_eq!(packed_word(&word), expected, "{word}");
        }
    }

    #[test]
    fn stop_word_table_finds_exactly_the_stop_words() {
        for word in STOP_WORDS {
            assert!(is_stop_word(word), "{word}");
        }
        for word in [
            "",
            "police",
            "thes",
            "th",
            "abouts",
            "Kim",
            "a-",
            "theaboutabovewithin",
        ] {
            assert!(!is_stop_word(word), "{word}");
        }
        // Every other word of up to three letters: none is a stop word unless listed.
        let letters = b"abcdefghijklmnopqrstuvwxyz'";
        for &a in letters {
            for &b in letters {
                for word in [vec![a], vec![a, b], vec![a, b, b'e']] {
                    let word = String::from_utf8(word).expect("ASCII");
                    assert_eq!(is_stop_word(&word), STOP_WORDS.contains(&word.as_str()));
                }
            }
        }
    }

    #[test]
    fn short_first_line_is_a_headline() {
        assert_eq!(
            headline("", "Lindsay Lohan checks into Betty Ford Center"),
            "Lindsay Lohan checks into Betty Ford Center"
        );
        assert_eq!(
            headline("", "She said it was a long day at the clinic."),
            ""
        );
        assert_eq!(headline("Given", "Whatever"), "Given");
    }
}
