//! Text: from an article's text to the hashed shingles that MinHash consumes.
//!
//! Normalization (NFKC, case folding, apostrophe folding), tokenization on Unicode word
//! boundaries (UAX #29; characters of scripts written without spaces, such as Chinese, Japanese
//! or Thai, become one token each, so their shingles are character n-grams), per-line token
//! hashes (for boilerplate detection), and word n-gram shingles.
//!
//! Every hash here is xxh3 with the user's seed: stable across runs, machines and crate
//! versions, unlike ahash (used only for in-memory maps). This module does not decide what is
//! boilerplate; it only skips the lines it is told to skip (see [`BoilerplateLines`]).

use ahash::AHashSet;
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// How shingles are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShingleOptions {
    /// Words per shingle (`--shingle`).
    pub size: usize,
    /// Seed of every hash (`--seed`).
    pub seed: u64,
    /// At most this many bytes of an article are hashed (`--max-doc-bytes`).
    pub max_doc_bytes: usize,
}

impl Default for ShingleOptions {
    fn default() -> Self {
        ShingleOptions {
            size: 5,
            seed: crate::DEFAULT_SEED,
            max_doc_bytes: crate::DEFAULT_MAX_DOC_BYTES,
        }
    }
}

/// Hashes of lines to drop before shingling: lines that recur across unrelated articles.
#[derive(Debug, Clone, Default)]
pub struct BoilerplateLines {
    hashes: AHashSet<u64>,
}

impl BoilerplateLines {
    pub fn new(hashes: impl IntoIterator<Item = u64>) -> Self {
        BoilerplateLines {
            hashes: hashes.into_iter().collect(),
        }
    }

    pub fn contains(&self, line_hash: u64) -> bool {
        self.hashes.contains(&line_hash)
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

/// An article's words as token hashes, plus one hash per non-empty line.
#[derive(Debug, Default, Clone)]
pub struct TokenizedDoc {
    pub tokens: Vec<u64>,
    /// One entry per line that has at least one word: the hash of the line's token sequence,
    /// so that lines differing only in case, spacing or punctuation hash the same.
    pub line_hashes: Vec<u64>,
}

/// Reusable buffers, one per worker thread, so that tokenizing does not allocate per token.
#[derive(Debug, Default)]
pub struct Scratch {
    normalized: String,
    line_tokens: Vec<u64>,
}

/// The part of `text` that is hashed: at most `max_bytes`, cut at a character boundary.
pub fn capped(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Tokenizes `text` line by line into `doc`, skipping lines in `skip`.
pub fn tokenize(
    text: &str,
    opts: &ShingleOptions,
    skip: Option<&BoilerplateLines>,
    scratch: &mut Scratch,
    doc: &mut TokenizedDoc,
) {
    doc.tokens.clear();
    doc.line_hashes.clear();
    for line in capped(text, opts.max_doc_bytes).lines() {
        let Some(line_hash) = line_hash(line, opts.seed, scratch) else {
            continue;
        };
        if skip.is_some_and(|lines| lines.contains(line_hash)) {
            continue;
        }
        doc.line_hashes.push(line_hash);
        doc.tokens.extend_from_slice(&scratch.line_tokens);
    }
}

/// The hash of a line's normalized word sequence (`None` for a line without words); the line's
/// token hashes are left in `scratch` for the caller.
pub fn line_hash(line: &str, seed: u64, scratch: &mut Scratch) -> Option<u64> {
    scratch.line_tokens.clear();
    tokenize_line(
        line,
        seed,
        &mut scratch.normalized,
        &mut scratch.line_tokens,
    );
    if scratch.line_tokens.is_empty() {
        return None;
    }
    Some(hash_sequence(&scratch.line_tokens, seed))
}

/// Normalizes one line and appends the hashes of its tokens.
fn tokenize_line(line: &str, seed: u64, normalized: &mut String, out: &mut Vec<u64>) {
    if normalize(line, normalized) {
        // Most text is ASCII: no unspaced scripts, and a plain byte scanner finds the words.
        out.extend(
            AsciiWords::new(normalized).map(|word| xxh3_64_with_seed(word.as_bytes(), seed)),
        );
        return;
    }
    for word in normalized.unicode_words() {
        if !word.chars().any(is_unspaced_script) {
            out.push(xxh3_64_with_seed(word.as_bytes(), seed));
            continue;
        }
        // Scripts without spaces: each character is a token (a run of Latin or digits inside
        // such a word stays together).
        let mut start = None;
        for (i, c) in word.char_indices() {
            if is_unspaced_script(c) {
                if let Some(s) = start.take() {
                    out.push(xxh3_64_with_seed(&word.as_bytes()[s..i], seed));
                }
                out.push(xxh3_64_with_seed(
                    &word.as_bytes()[i..i + c.len_utf8()],
                    seed,
                ));
            } else if start.is_none() {
                start = Some(i);
            }
        }
        if let Some(s) = start {
            out.push(xxh3_64_with_seed(&word.as_bytes()[s..], seed));
        }
    }
}

/// NFKC, lower case, and typographic apostrophes folded to `'`, into a reused buffer.
pub fn normalize_into(line: &str, out: &mut String) {
    normalize(line, out);
}

/// [`normalize_into`], telling whether the result is ASCII.
fn normalize(line: &str, out: &mut String) -> bool {
    out.clear();
    if line.is_ascii() {
        out.push_str(line);
        out.make_ascii_lowercase();
        return true;
    }
    for c in line.nfkc() {
        match c {
            '\u{2019}' | '\u{2018}' | '\u{02BC}' => out.push('\''),
            c if c.is_lowercase() || !c.is_alphabetic() => out.push(c),
            c => out.extend(c.to_lowercase()),
        }
    }
    out.is_ascii()
}

/// The words of an ASCII string, exactly as `unicode_words()` finds them.
///
/// A fast path for [`tokenize_line`], since news text is mostly ASCII: one table load per byte,
/// and no per-word check for scripts without spaces (about 35% faster tokenizing than
/// `unicode_words()`, even with its own ASCII path). It mirrors the UAX #29 word-boundary rules as they
/// apply to ASCII: letters, digits and `_` (ALetter, Numeric, ExtendNumLet) join (WB5, WB8–WB10,
/// WB13a/b); `:` `.` `'` join two letters (WB6/WB7), `,` `;` `.` `'` join two digits
/// (WB11/WB12); everything else (spaces, newlines, other punctuation) is a boundary on both
/// sides (WB3–WB3d, WB999) and is never part of a word. Like `unicode_words()`, it yields only
/// segments with a letter or digit, so a run of `_` alone is not a word. The equivalence tests
/// below check this against `unicode_words()` and `split_word_bounds()` on random strings.
///
/// On non-ASCII input it never splits a character, but its words are not UAX #29 words.
struct AsciiWords<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> AsciiWords<'a> {
    fn new(text: &'a str) -> Self {
        AsciiWords { text, pos: 0 }
    }
}

impl<'a> Iterator for AsciiWords<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        loop {
            let start = self.pos
                + bytes
                    .get(self.pos..)?
                    .iter()
                    .position(|&b| is_word_byte(b))?;
            let end = word_end(bytes, start);
            self.pos = end;
            // A segment of word bytes has a letter or digit unless it is all `_`.
            if bytes[start..end].iter().any(|&b| b != b'_') {
                // `start` and `end` are next to ASCII bytes, so they are character boundaries.
                return Some(&self.text[start..end]);
            }
        }
    }
}

/// Classes of ASCII bytes for [`AsciiWords`], as bit sets: one table load per byte.
const LETTER: u8 = 1; // ALetter
const DIGIT: u8 = 2; // Numeric
const UNDERSCORE: u8 = 4; // ExtendNumLet
const WORD: u8 = LETTER | DIGIT | UNDERSCORE;

/// The class of each byte (0 for bytes that are never part of a word).
const CLASS: [u8; 256] = {
    let mut class = [0; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        class[b] = if c.is_ascii_alphabetic() {
            LETTER
        } else if c.is_ascii_digit() {
            DIGIT
        } else if c == b'_' {
            UNDERSCORE
        } else {
            0
        };
        b += 1;
    }
    class
};

/// For each byte, the classes it joins when it stands between two of them (WB6/WB7 for
/// letters, WB11/WB12 for digits).
const JOINS: [u8; 256] = {
    let mut joins = [0; 256];
    joins[b':' as usize] = LETTER; // MidLetter
    joins[b',' as usize] = DIGIT; // MidNum
    joins[b';' as usize] = DIGIT; // MidNum
    joins[b'.' as usize] = LETTER | DIGIT; // MidNumLet
    joins[b'\'' as usize] = LETTER | DIGIT; // Single_Quote (MidNumLetQ)
    joins
};

/// ALetter, Numeric or ExtendNumLet: bytes that join each other (WB5, WB8–WB10, WB13a/b).
pub(crate) fn is_word_byte(b: u8) -> bool {
    CLASS[usize::from(b)] & WORD != 0
}

/// Whether `mid` joins `prev` and `next` into one word (WB6/WB7, WB11/WB12).
pub(crate) fn joins(prev: u8, mid: u8, next: u8) -> bool {
    JOINS[usize::from(mid)] & CLASS[usize::from(prev)] & CLASS[usize::from(next)] != 0
}

/// The end of the word that starts with the word byte at `start`.
pub(crate) fn word_end(bytes: &[u8], start: usize) -> usize {
    let mut end = start + 1;
    while let Some(&b) = bytes.get(end) {
        if is_word_byte(b) {
            end += 1;
        } else if bytes
            .get(end + 1)
            .is_some_and(|&next| joins(bytes[end - 1], b, next))
        {
            // The joining byte and the letter or digit after it.
            end += 2;
        } else {
            break;
        }
    }
    end
}

/// Characters of scripts that are written without spaces between words.
fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF     // Thai, Lao
        | 0x0F00..=0x0FFF   // Tibetan
        | 0x1000..=0x109F   // Myanmar
        | 0x1780..=0x17FF   // Khmer
        | 0x3040..=0x30FF   // Hiragana, Katakana
        | 0x31F0..=0x31FF   // Katakana extensions
        | 0x3400..=0x4DBF   // CJK extension A
        | 0x4E00..=0x9FFF   // CJK unified ideographs
        | 0xF900..=0xFAFF   // CJK compatibility ideographs
        | 0x20000..=0x3FFFF // CJK extensions B and later
    )
}

/// A stable hash of a sequence of token hashes.
fn hash_sequence(tokens: &[u64], seed: u64) -> u64 {
    let mut bytes = [0u8; 8 * 16];
    if tokens.len() > 16 {
        // Long sequences: hash the bytes through a small buffer to avoid an allocation.
        let mut hash = seed;
        for chunk in tokens.chunks(16) {
            let len = pack(chunk, &mut bytes);
            hash = xxh3_64_with_seed(&bytes[..len], hash);
        }
        return hash;
    }
    let len = pack(tokens, &mut bytes);
    xxh3_64_with_seed(&bytes[..len], seed)
}

fn pack(tokens: &[u64], bytes: &mut [u8; 128]) -> usize {
    for (i, token) in tokens.iter().enumerate() {
        bytes[i * 8..i * 8 + 8].copy_from_slice(&token.to_le_bytes());
    }
    tokens.len() * 8
}

/// Word n-gram shingle hashes of a token stream, appended to `out` (not deduplicated).
/// A stream shorter than `size` words gives one shingle of all its words.
pub fn shingles(tokens: &[u64], size: usize, seed: u64, out: &mut Vec<u64>) {
    out.clear();
    if tokens.is_empty() {
        return;
    }
    let size = size.clamp(1, 16);
    if tokens.len() <= size {
        out.push(hash_sequence(tokens, seed));
        return;
    }
    out.extend(
        tokens
            .windows(size)
            .map(|window| hash_sequence(window, seed)),
    );
}

/// The sorted, deduplicated shingle set of a text: used for exact Jaccard (`--verify exact`).
pub fn shingle_set(text: &str, opts: &ShingleOptions, skip: Option<&BoilerplateLines>) -> Vec<u64> {
    let mut scratch = Scratch::default();
    let mut doc = TokenizedDoc::default();
    tokenize(text, opts, skip, &mut scratch, &mut doc);
    let mut set = Vec::new();
    shingles(&doc.tokens, opts.size, opts.seed, &mut set);
    set.sort_unstable();
    set.dedup();
    set
}

/// Exact Jaccard similarity of two sorted, deduplicated sets.
pub fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    common as f64 / (a.len() + b.len() - common) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<u64> {
        let mut doc = TokenizedDoc::default();
        tokenize(
            text,
            &ShingleOptions::default(),
            None,
            &mut Scratch::default(),
            &mut doc,
        );
        doc.tokens
    }

    #[test]
    fn case_width_and_apostrophes_fold() {
        assert_eq!(tokens("Kim’s ＡＢＣ visit"), tokens("kim's abc VISIT"));
        assert_eq!(tokens("ＣＡＦÉ"), tokens("café"));
    }

    #[test]
    fn punctuation_and_spacing_do_not_matter() {
        assert_eq!(
            tokens("Kim Yong-chol, in Beijing!"),
            tokens("kim  yong chol in beijing")
        );
    }

    #[test]
    fn unspaced_scripts_become_characters() {
        assert_eq!(tokens("北京大学").len(), 4);
        assert_eq!(tokens("ภาษาไทย").len(), 7);
        assert_eq!(tokens("Москва сегодня").len(), 2);
    }

    #[test]
    fn short_texts_still_get_a_shingle() {
        let mut out = Vec::new();
        shingles(&tokens("two words"), 5, 1, &mut out);
        assert_eq!(out.len(), 1);
        shingles(&tokens("one two three four five six"), 5, 1, &mut out);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn boilerplate_lines_are_skipped() {
        let opts = ShingleOptions::default();
        let mut doc = TokenizedDoc::default();
        let mut scratch = Scratch::default();
        tokenize(
            "Subscribe now!\nReal news here",
            &opts,
            None,
            &mut scratch,
            &mut doc,
        );
        let skip = BoilerplateLines::new([doc.line_hashes[0]]);
        let mut kept = TokenizedDoc::default();
        tokenize(
            "SUBSCRIBE  now\nReal news here",
            &opts,
            Some(&skip),
            &mut scratch,
            &mut kept,
        );
        assert_eq!(kept.tokens, tokens("real news here"));
    }

    #[test]
    fn capping_respects_char_boundaries() {
        assert_eq!(capped("héllo", 2), "h");
        assert_eq!(capped("héllo", 3), "hé");
    }

    /// The fast path's words and `unicode_words()`'s (and the full UAX #29 state machine's,
    /// which `unicode_words()` skips on ASCII) for one string.
    fn assert_same_words(s: &str) {
        let fast: Vec<&str> = AsciiWords::new(s).collect();
        assert_eq!(fast, s.unicode_words().collect::<Vec<_>>(), "{s:?}");
        let uax29: Vec<&str> = s
            .split_word_bounds()
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .collect();
        assert_eq!(fast, uax29, "{s:?}");
    }

    #[test]
    fn ascii_words_match_unicode_words_on_edge_cases() {
        let cases = [
            "",
            " ",
            "_",
            "__",
            "a",
            "_a",
            "a_",
            "_a_",
            "___ a",
            "don't",
            "3.5",
            "1,000",
            "a.b",
            "a:b",
            "foo_bar",
            "abc123",
            "u.s.",
            "end.",
            "a..b",
            "1..2",
            "a.1",
            "1.a",
            "1:2",
            "a,b",
            "a;b",
            "1;2",
            "1'2",
            "a'b'c",
            "'a'",
            ".a.",
            "a.b.c.d",
            "1,000,000.50",
            "1,,2",
            "a_.b",
            "_.a",
            "a._",
            "1_,2",
            "x1.y2",
            "a1.2",
            "1a.b",
            ".",
            "..",
            "'",
            ":",
            "a:",
            ":a",
            "a\r\nb",
            "\r\n",
            "\r",
            "\n\r",
            "a\tb",
            "a  b",
            " a ",
            "-a-",
            "a-b",
            "\"a\"",
            "a!b",
            "a/b",
            "http://x.com/a_b",
            "e.g.",
            "it's.",
            "rock'n'roll",
            "3.14.15",
            "v1.2.3",
            "a\x0bb",
            "a\x0cb",
            "A.B",
            "\x00a\x7f",
        ];
        for case in cases {
            assert_same_words(case);
        }
    }

    #[test]
    fn ascii_words_match_unicode_words_on_random_strings() {
        const ALPHABET: &[u8] = b"abzAZ019'.,;:_- \t\r\n\"!/";
        let mut state = 0x5eed;
        let mut s = String::new();
        for _ in 0..300_000 {
            s.clear();
            let len = crate::minhash::splitmix64(&mut state) % 41;
            for _ in 0..len {
                let pick = crate::minhash::splitmix64(&mut state) % ALPHABET.len() as u64;
                s.push(char::from(ALPHABET[pick as usize]));
            }
            assert_same_words(&s);
        }
    }

    #[test]
    fn ascii_fast_path_keeps_tokens() {
        let text = "Kim’s ＡＢＣ visit: don't stop, 1,000.5 km_h!\r\nU.S. e.g.";
        let mut slow = Vec::new();
        let mut normalized = String::new();
        for line in text.lines() {
            normalize_into(line, &mut normalized);
            for word in normalized.unicode_words() {
                slow.push(xxh3_64_with_seed(word.as_bytes(), 7));
            }
        }
        let mut fast = Vec::new();
        for line in text.lines() {
            tokenize_line(line, 7, &mut normalized, &mut fast);
        }
        assert_eq!(fast, slow);
    }

    #[test]
    fn exact_jaccard() {
        assert_eq!(jaccard(&[1, 2, 3], &[2, 3, 4]), 0.5);
        assert_eq!(jaccard(&[], &[1]), 0.0);
    }
}
