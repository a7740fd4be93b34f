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

use ahash::AHashMap;
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;
use xxhash_rust::xxh3::xxh3_64_with_seed;

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
    static SET: std::sync::OnceLock<ahash::AHashSet<&'static str>> = std::sync::OnceLock::new();
    SET.get_or_init(|| STOP_WORDS.iter().copied().collect())
        .contains(word)
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
struct Word<'a> {
    text: &'a str,
    /// First word of a sentence (or of the line).
    sentence_start: bool,
    /// Joined to the previous word by a hyphen without spaces ("Yong-chol").
    hyphen_joined: bool,
}

/// The words of a line, with sentence starts and hyphen joins.
fn line_words(line: &str) -> Vec<Word<'_>> {
    let mut words = Vec::new();
    let mut sentence_start = true;
    let mut previous_was_hyphen = false;
    let mut previous_was_word = false;
    for segment in line.split_word_bounds() {
        let is_word = segment.chars().any(char::is_alphanumeric);
        if is_word {
            words.push(Word {
                text: segment,
                sentence_start,
                hyphen_joined: previous_was_hyphen && !words.is_empty(),
            });
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
    words
}

fn is_capitalized(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
}

fn has_digit(word: &str) -> bool {
    word.chars().any(|c| c.is_ascii_digit())
}

/// Lower case, and plural/possessive endings folded ("shootings" → "shooting", "Kim's" → "kim").
fn fold_word(word: &str) -> String {
    let mut folded = word.to_lowercase();
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
    folded
}

/// Accumulates one article's term scores.
struct TermCollector {
    seed: u64,
    weights: TermWeights,
    scores: AHashMap<u64, f32>,
    labels: AHashMap<u64, String>,
    /// A reused buffer for lower-casing words.
    lower: String,
}

impl TermCollector {
    fn add(&mut self, kind: TermKind, key: &str, label: &str, in_title: bool) {
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
        let hash = term_hash(kind, key, self.seed);
        *self.scores.entry(hash).or_default() += weight;
        self.labels.entry(hash).or_insert_with(|| label.to_string());
    }
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
    let lines: Vec<Cow<'a, str>> = lines.map(nfkc).collect();
    // Words the article also writes in lower case are common words, not names.
    let lower_words: ahash::AHashSet<&str> = lines
        .iter()
        .flat_map(|line| line.unicode_words())
        .filter(|word| word.chars().next().is_some_and(char::is_lowercase))
        .collect();
    let mut collector = TermCollector {
        seed,
        weights,
        scores: AHashMap::new(),
        labels: AHashMap::new(),
        lower: String::new(),
    };
    collect_line(&nfkc(headline), true, &lower_words, &mut collector);
    for line in &lines {
        collect_line(line, false, &lower_words, &mut collector);
    }
    let mut scores: Vec<(u64, f32)> = collector.scores.into_iter().collect();
    scores.sort_unstable_by_key(|&(hash, _)| hash);
    let mut labels: Vec<(u64, String)> = collector.labels.into_iter().collect();
    labels.sort_unstable();
    DocTerms { scores, labels }
}

/// Lower-cases `word` into a reused buffer.
fn lower_into<'b>(word: &str, buffer: &'b mut String) -> &'b str {
    buffer.clear();
    if word.is_ascii() {
        buffer.push_str(word);
        buffer.make_ascii_lowercase();
    } else {
        buffer.extend(word.chars().flat_map(char::to_lowercase));
    }
    buffer
}

/// Adds the terms of one line.
fn collect_line(
    line: &str,
    in_title: bool,
    lower_words: &ahash::AHashSet<&str>,
    collector: &mut TermCollector,
) {
    let words = line_words(line);
    let mut name: Vec<&str> = Vec::new();
    for word in &words {
        let continues_name = !name.is_empty() && word.hyphen_joined;
        if is_name_part(word, in_title, lower_words, &mut collector.lower) || continues_name {
            name.push(word.text);
        } else {
            flush_name(&mut name, in_title, collector);
        }
        add_word(word.text, in_title, collector);
    }
    flush_name(&mut name, in_title, collector);
}

/// Whether a word can be part of a name: capitalized, not a stop word, and — at a sentence start
/// or in a title-case headline — not a word the article also uses in lower case.
fn is_name_part(
    word: &Word<'_>,
    in_title: bool,
    lower_words: &ahash::AHashSet<&str>,
    buffer: &mut String,
) -> bool {
    if !is_capitalized(word.text) || has_digit(word.text) {
        return false;
    }
    let lower = lower_into(word.text, buffer);
    if is_stop_word(lower) {
        return false;
    }
    if word.sentence_start || in_title {
        return !lower_words.contains(lower);
    }
    true
}

fn flush_name(name: &mut Vec<&str>, in_title: bool, collector: &mut TermCollector) {
    if name.len() >= 2 {
        let key = name
            .iter()
            .map(|part| part.to_lowercase())
            .collect::<Vec<_>>()
            .join(" ");
        let label = name.join(" ");
        collector.add(TermKind::Name, &key, &label, in_title);
    }
    if name.len() == 1 {
        let key = fold_word(name[0]);
        collector.add(TermKind::Name, &key, name[0], in_title);
    }
    name.clear();
}

fn add_word(word: &str, in_title: bool, collector: &mut TermCollector) {
    if has_digit(word) {
        collector.add(TermKind::Number, word, word, in_title);
        return;
    }
    let mut lower = std::mem::take(&mut collector.lower);
    lower_into(word, &mut lower);
    let folded = fold_word(&lower);
    let skip = folded.chars().count() < 3 || is_stop_word(&folded) || is_stop_word(&lower);
    if !skip {
        collector.add(TermKind::Word, &folded, &lower, in_title);
    }
    collector.lower = lower;
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
