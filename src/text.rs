//! Text: from an article's text to the hashed shingles that MinHash consumes.
//!
//! Normalization (NFKC, case folding, apostrophe folding), tokenization on Unicode word
//! boundaries (UAX #29; characters of scripts written without spaces, such as Chinese, Japanese
//! or Thai, become one token each, so their shingles are character n-grams), per-line token
//! hashes (for boilerplate detection), and word n-gram shingles.
//!
//! Every hash here is a fixed function of the bytes and the user's seed (a multiply-rotate word
//! hash, polynomial hashes over token sequences): stable across runs, machines and crate
//! versions, unlike ahash (used only for in-memory maps). This module does not decide what is
//! boilerplate; it only skips the lines it is told to skip (see [`BoilerplateLines`]).

use ahash::AHashSet;
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

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

    pub fn extend(&mut self, hashes: impl IntoIterator<Item = u64>) {
        self.hashes.extend(hashes);
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

/// A token: the hash of one normalized word. 32 bits keep the spooled token streams small
/// (see `pipeline`); two different words share a token about once per 4 billion pairs, and a
/// shingle would also need its four neighbours to match before it changed a signature.
pub type Token = u32;

/// An article's words as tokens, plus one hash per non-empty line.
#[derive(Debug, Default, Clone)]
pub struct TokenizedDoc {
    pub tokens: Vec<Token>,
    /// One entry per line that has at least one word: the hash of the line's token sequence,
    /// so that lines differing only in case, spacing or punctuation hash the same.
    pub line_hashes: Vec<u64>,
}

/// Reusable buffers, one per worker thread, so that tokenizing does not allocate per token.
#[derive(Debug, Default)]
pub struct Scratch {
    normalized: String,
    /// An ASCII line framed for [`ascii_word_spans`].
    padded: Vec<u8>,
    line_tokens: Vec<Token>,
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

/// The lines of `text`, exactly as [`str::lines`] gives them (split at `\n`, a `\r` before it
/// dropped, no empty line after a final `\n`), found with the `memchr` crate's vector search:
/// `str::lines` searches with the standard library's word-at-a-time `memchr`, which took ~7%
/// of the processor time of a run without stories.
pub fn lines(text: &str) -> impl Iterator<Item = &str> + '_ {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (line, after) = match memchr::memchr(b'\n', rest.as_bytes()) {
            // `\n` is ASCII: both sides of it are character boundaries.
            Some(end) => {
                let line = &rest[..end];
                (line.strip_suffix('\r').unwrap_or(line), &rest[end + 1..])
            }
            None => (rest, ""),
        };
        rest = after;
        Some(line)
    })
}

/// Calls `each(tokens)` for every line of `text` that has words, in order. A line's hash, for
/// the callers that need it, is [`tokens_line_hash`] of its tokens: only they pay for it.
pub fn for_each_line(
    text: &str,
    opts: &ShingleOptions,
    scratch: &mut Scratch,
    mut each: impl FnMut(&[Token]),
) {
    for line in lines(capped(text, opts.max_doc_bytes)) {
        let tokens = line_tokens(line, opts.seed, scratch);
        if !tokens.is_empty() {
            each(tokens);
        }
    }
}

/// Streams the shingles of `text` (without the lines in `skip`) into `emit`, and records the
/// hash of every line with words in `line_hashes` (boilerplate or not). Returns the number of
/// tokens shingled: 0 means the text has no words outside `skip`.
pub fn shingle_text(
    text: &str,
    opts: &ShingleOptions,
    skip: Option<&BoilerplateLines>,
    scratch: &mut Scratch,
    line_hashes: &mut Vec<u64>,
    emit: impl FnMut(u64),
) -> usize {
    line_hashes.clear();
    shingle_lines(
        text,
        opts,
        skip,
        scratch,
        |_, line_hash| line_hashes.push(line_hash),
        emit,
    )
}

/// [`shingle_text`], showing the tokens and the hash of every line with words (boilerplate or
/// not) to `each_line` instead of recording line hashes.
pub fn shingle_lines(
    text: &str,
    opts: &ShingleOptions,
    skip: Option<&BoilerplateLines>,
    scratch: &mut Scratch,
    each_line: impl FnMut(&[Token], u64),
    emit: impl FnMut(u64),
) -> usize {
    shingle_each_line(text, opts, skip, scratch, true, each_line, emit)
}

/// [`shingle_text`] without the line hashes: a line is hashed only to be looked up in `skip`.
pub fn shingle_skipping(
    text: &str,
    opts: &ShingleOptions,
    skip: Option<&BoilerplateLines>,
    scratch: &mut Scratch,
    emit: impl FnMut(u64),
) -> usize {
    shingle_each_line(text, opts, skip, scratch, false, |_, _| {}, emit)
}

/// The loop of [`shingle_lines`] and [`shingle_skipping`]: each line is hashed once at most,
/// when `each_line` wants it or `skip` is to be checked.
fn shingle_each_line(
    text: &str,
    opts: &ShingleOptions,
    skip: Option<&BoilerplateLines>,
    scratch: &mut Scratch,
    hash_every_line: bool,
    mut each_line: impl FnMut(&[Token], u64),
    mut emit: impl FnMut(u64),
) -> usize {
    let mut window = ShingleWindow::new(opts.size);
    for_each_line(text, opts, scratch, |tokens| {
        if hash_every_line || skip.is_some() {
            let line_hash = tokens_line_hash(tokens, opts.seed);
            each_line(tokens, line_hash);
            if skip.is_some_and(|lines| lines.contains(line_hash)) {
                return;
            }
        }
        for &token in tokens {
            window.push(token, &mut emit);
        }
    });
    window.finish(&mut emit);
    window.seen()
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
    for_each_line(text, opts, scratch, |tokens| {
        let line_hash = tokens_line_hash(tokens, opts.seed);
        if skip.is_some_and(|lines| lines.contains(line_hash)) {
            return;
        }
        doc.line_hashes.push(line_hash);
        doc.tokens.extend_from_slice(tokens);
    });
}

/// The hash of a line's normalized word sequence (`None` for a line without words); the line's
/// tokens are left in `scratch` for the caller.
pub fn line_hash(line: &str, seed: u64, scratch: &mut Scratch) -> Option<u64> {
    let tokens = line_tokens(line, seed, scratch);
    (!tokens.is_empty()).then(|| tokens_line_hash(tokens, seed))
}

/// The tokens of one line, in `scratch`'s buffer.
fn line_tokens<'s>(line: &str, seed: u64, scratch: &'s mut Scratch) -> &'s [Token] {
    scratch.line_tokens.clear();
    tokenize_line(line, seed, scratch);
    &scratch.line_tokens
}

/// Normalizes one line and appends its tokens.
fn tokenize_line(line: &str, seed: u64, scratch: &mut Scratch) {
    let (normalized, padded, out) = (
        &mut scratch.normalized,
        &mut scratch.padded,
        &mut scratch.line_tokens,
    );
    // Most text is ASCII: no unspaced scripts, and a plain byte scanner finds the words.
    if line.is_ascii() {
        tokenize_ascii(line.as_bytes(), seed, padded, out);
        return;
    }
    if normalize(line, normalized) {
        tokenize_ascii(normalized.as_bytes(), seed, padded, out);
        return;
    }
    for word in normalized.unicode_words() {
        if !word.chars().any(is_unspaced_script) {
            out.push(word_token(word.as_bytes(), seed));
            continue;
        }
        // Scripts without spaces: each character is a token (a run of Latin or digits inside
        // such a word stays together).
        let mut start = None;
        for (i, c) in word.char_indices() {
            if is_unspaced_script(c) {
                if let Some(s) = start.take() {
                    out.push(word_token(&word.as_bytes()[s..i], seed));
                }
                out.push(word_token(&word.as_bytes()[i..i + c.len_utf8()], seed));
            } else if start.is_none() {
                start = Some(i);
            }
        }
        if let Some(s) = start {
            out.push(word_token(&word.as_bytes()[s..], seed));
        }
    }
}

/// The token of a normalized word: 8 bytes at a time through a multiply-rotate step, then
/// one multiplication down to 32 bits. Words are short, so this beats a general-purpose hash:
/// one or two steps and no branching on the length class.
fn word_token(word: &[u8], seed: u64) -> Token {
    let mut padded = [0u8; 8];
    let full = word.len() - word.len() % 8;
    let mut hash = token_start(word.len(), seed);
    for chunk in word[..full].chunks_exact(8) {
        hash = token_step(hash, u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
    }
    let rest = &word[full..];
    if rest.is_empty() {
        return token_finish(hash);
    }
    padded[..rest.len()].copy_from_slice(rest);
    token_finish(hash ^ u64::from_le_bytes(padded))
}

/// [`word_token`] of `padded[start..end]`, where at least 16 bytes follow `start` and 8 follow
/// `end`: the last partial lane is one load and a mask instead of a copy (a copy then a load
/// stalls on store forwarding), and a word of up to 15 bytes, nearly every word, is hashed
/// without a branch on its length (which word lengths make unpredictable).
#[inline(always)]
fn padded_word_token(padded: &[u8], start: usize, end: usize, seed: u64) -> Token {
    let len = end - start;
    let hash = token_start(len, seed);
    if len < 16 {
        let (first, second) = (load_lane(padded, start), load_lane(padded, start + 8));
        // All ones when the word fills the first lane: then the first lane is a step and the
        // second the tail, else the first is the tail.
        let long = 0u64.wrapping_sub(u64::from(len >= 8));
        let hash = (token_step(hash, first) & long) | (hash & !long);
        let tail = (second & long) | (first & !long);
        let keep = (1u64 << (8 * (len & 7))) - 1;
        return token_finish(hash ^ (tail & keep));
    }
    let mut hash = hash;
    let mut at = start;
    while end - at >= 8 {
        hash = token_step(hash, load_lane(padded, at));
        at += 8;
    }
    let keep = (1u64 << (8 * (end - at))) - 1;
    token_finish(hash ^ (load_lane(padded, at) & keep))
}

#[inline]
fn load_lane(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

#[inline]
fn token_start(len: usize, seed: u64) -> u64 {
    seed ^ (len as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

#[inline]
fn token_step(hash: u64, lane: u64) -> u64 {
    (hash ^ lane)
        .wrapping_mul(0xff51_afd7_ed55_8ccd)
        .rotate_left(29)
}

/// The high half of one multiplication (Knuth's multiplicative hashing): every bit of `hash`
/// reaches it, and shingles and signatures mix their inputs again anyway.
#[inline]
fn token_finish(hash: u64) -> Token {
    (hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as Token
}

/// The multiplier of the polynomial hashes over token sequences (shingles and lines): odd, so
/// every step is a bijection, with well-spread bits.
const SEQUENCE_BASE: u64 = 0x9fb2_1c65_1e98_df25;

/// Word n-gram shingles of a token stream, one at a time: the polynomial hash of the last
/// `size` tokens, rolled forward in two multiplications per token. A stream shorter than `size`
/// gives one shingle of all its tokens when it ends.
#[derive(Debug, Clone)]
pub struct ShingleWindow {
    size: usize,
    /// `SEQUENCE_BASE` to the power `size`, to take the oldest token out of the hash.
    drop_factor: u64,
    recent: [Token; 16],
    /// Where the next token goes in `recent` (a ring of `size` tokens).
    slot: usize,
    seen: usize,
    hash: u64,
}

impl ShingleWindow {
    /// A window of `size` tokens (clamped to 1..=16).
    pub fn new(size: usize) -> Self {
        let size = size.clamp(1, 16);
        ShingleWindow {
            size,
            drop_factor: (0..size).fold(1u64, |power, _| power.wrapping_mul(SEQUENCE_BASE)),
            recent: [0; 16],
            slot: 0,
            seen: 0,
            hash: 0,
        }
    }

    /// Tokens pushed so far.
    pub fn seen(&self) -> usize {
        self.seen
    }

    /// Adds a token; once the window is full, every token completes a shingle.
    #[inline]
    pub fn push(&mut self, token: Token, emit: &mut impl FnMut(u64)) {
        let slot = self.slot;
        self.slot = if slot + 1 == self.size { 0 } else { slot + 1 };
        self.hash = self
            .hash
            .wrapping_mul(SEQUENCE_BASE)
            .wrapping_add(sequence_term(token));
        if self.seen >= self.size {
            let oldest = sequence_term(self.recent[slot]);
            self.hash = self
                .hash
                .wrapping_sub(oldest.wrapping_mul(self.drop_factor));
        }
        self.recent[slot] = token;
        self.seen += 1;
        if self.seen >= self.size {
            emit(self.hash);
        }
    }

    /// Ends the stream: a stream shorter than the window still gives one shingle.
    pub fn finish(&self, emit: &mut impl FnMut(u64)) {
        if self.seen > 0 && self.seen < self.size {
            emit(self.hash);
        }
    }
}

/// A token's term in the sequence polynomials: offset so that a zero token still counts.
#[inline]
fn sequence_term(token: Token) -> u64 {
    u64::from(token) | 1 << 32
}

/// Appends the tokens of an ASCII line (not yet lower-cased).
fn tokenize_ascii(line: &[u8], seed: u64, padded: &mut Vec<u8>, out: &mut Vec<Token>) {
    pad_ascii(line, padded);
    let padded = &padded[..];
    ascii_word_spans(padded, |start, end| {
        out.push(padded_word_token(padded, start, end, seed));
    });
}

/// Calls `each(start, end)` for the words of an ASCII line, with positions in `line`, exactly as
/// `unicode_words()` finds them (by [`ascii_word_spans`]); `padded` is a reused buffer.
pub(crate) fn ascii_words(line: &[u8], padded: &mut Vec<u8>, mut each: impl FnMut(usize, usize)) {
    pad_ascii(line, padded);
    ascii_word_spans(padded, |start, end| each(start - 1, end - 1));
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

/// Calls `each(start, end)` for the words of `padded[1..padded.len() - 1]`, an ASCII string
/// framed by [`pad_ascii`], exactly as `unicode_words()` finds them (positions are in `padded`).
///
/// A fast path for [`tokenize_line`], since news text is mostly ASCII. It mirrors the UAX #29
/// word-boundary rules as they apply to ASCII: letters, digits and `_` (ALetter, Numeric,
/// ExtendNumLet) join (WB5, WB8–WB10, WB13a/b); `:` `.` `'` join two letters (WB6/WB7), `,` `;`
/// `.` `'` join two digits (WB11/WB12); everything else (spaces, newlines, other punctuation)
/// is a boundary on both sides (WB3–WB3d, WB999) and is never part of a word. Like
/// `unicode_words()`, it yields only segments with a letter or digit, so a run of `_` alone is
/// not a word. The equivalence tests below check this against `unicode_words()` and
/// `split_word_bounds()` on random strings.
///
/// Each 64-byte block becomes a bit mask of word bytes, computed without branches, and words
/// are the runs of ones: a byte-at-a-time scanner mispredicts at nearly every word end.
fn ascii_word_spans(padded: &[u8], mut each: impl FnMut(usize, usize)) {
    let text_end = padded.len().saturating_sub(PAD_AFTER);
    // The start of a word that runs on past the block being read.
    let mut open: Option<usize> = None;
    // Whether the last byte of the previous block belongs to a word.
    let mut carry = 0u64;
    let mut base = 1;
    while base < text_end {
        let mut mask = word_mask(padded, base);
        let valid = text_end - base;
        if valid < 64 {
            mask &= (1u64 << valid) - 1;
        }
        // A word starts where a word byte follows a non-word byte, and ends (exclusive) where
        // a non-word byte follows a word byte. Within a block the two alternate, so each start
        // pairs with the next end: no branch on the state at every word boundary.
        let follows_word = (mask << 1) | carry;
        let mut starts = mask & !follows_word;
        let mut ends = !mask & follows_word;
        carry = mask >> 63;
        if let Some(start) = open {
            if ends == 0 {
                base += 64;
                continue; // the word goes on through this whole block
            }
            emit_word(
                padded,
                start,
                base + ends.trailing_zeros() as usize,
                &mut each,
            );
            ends &= ends - 1;
            open = None;
        }
        while starts != 0 {
            let start = base + starts.trailing_zeros() as usize;
            starts &= starts - 1;
            if ends == 0 {
                open = Some(start); // ends in a later block
                break;
            }
            emit_word(
                padded,
                start,
                base + ends.trailing_zeros() as usize,
                &mut each,
            );
            ends &= ends - 1;
        }
        base += 64;
    }
    if let Some(start) = open {
        emit_word(padded, start, text_end, &mut each);
    }
}

/// Bytes of padding after the text in [`pad_ascii`]'s buffer: a whole block of zeros, so that
/// [`word_mask`] reads a full block and its right neighbour without bounds checks failing.
const PAD_AFTER: usize = 65;

/// Copies an ASCII line, lower-cased, into `padded` between a zero byte and `PAD_AFTER` zeros.
fn pad_ascii(line: &[u8], padded: &mut Vec<u8>) {
    padded.clear();
    padded.reserve(line.len() + 1 + PAD_AFTER);
    padded.push(0);
    padded.extend(line.iter().map(u8::to_ascii_lowercase));
    padded.resize(padded.len() + PAD_AFTER, 0);
}

/// One bit per byte of `padded[base..base + 64]`: set for the bytes that belong to a word.
/// The text is lower-case ASCII here, so plain byte comparisons classify it; written as loops
/// over fixed arrays, they compile to vector compares.
#[inline(always)]
fn word_mask(padded: &[u8], base: usize) -> u64 {
    let window: &[u8; 66] = padded[base - 1..base + 65]
        .try_into()
        .expect("the text is padded");
    let mut letter = [0u8; 66];
    let mut digit = [0u8; 66];
    for i in 0..66 {
        letter[i] = u8::from(window[i].wrapping_sub(b'a') < 26);
        digit[i] = u8::from(window[i].wrapping_sub(b'0') < 10);
    }
    let mut word = [0u8; 64];
    for i in 0..64 {
        let byte = window[i + 1];
        // WB6/WB7: `:` `.` `'` between letters; WB11/WB12: `,` `;` `.` `'` between digits.
        let mid_letter = u8::from(byte == b':') | u8::from(byte == b'.') | u8::from(byte == b'\'');
        let mid_digit = u8::from(byte == b',')
            | u8::from(byte == b';')
            | u8::from(byte == b'.')
            | u8::from(byte == b'\'');
        word[i] = letter[i + 1]
            | digit[i + 1]
            | u8::from(byte == b'_')
            | mid_letter & letter[i] & letter[i + 2]
            | mid_digit & digit[i] & digit[i + 2];
    }
    let mut mask = 0u64;
    for (lane, flags) in word.chunks_exact(8).enumerate() {
        let flags = u64::from_le_bytes(flags.try_into().expect("8 flags"));
        mask |= pack_flags(flags) << (8 * lane);
    }
    mask
}

/// Eight 0/1 bytes to eight bits (byte `j` to bit `j`): one multiplication moves every byte's
/// bit into the top byte at its own place, with no carries between them.
#[inline]
fn pack_flags(flags: u64) -> u64 {
    flags.wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// Passes a run of word bytes on, unless it is all `_` (not a word: it has no letter or digit).
#[inline(always)]
fn emit_word(padded: &[u8], start: usize, end: usize, each: &mut impl FnMut(usize, usize)) {
    // Nearly every word starts with a letter or digit: one comparison.
    if padded[start] != b'_' || padded[start..end].iter().any(|&b| b != b'_') {
        each(start, end);
    }
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

/// The hash of a line from its tokens: a stable hash of the token sequence, so that lines
/// differing only in case, spacing or punctuation hash the same.
pub fn tokens_line_hash(tokens: &[Token], seed: u64) -> u64 {
    let hash = tokens.iter().fold(0u64, |hash, &token| {
        hash.wrapping_mul(SEQUENCE_BASE)
            .wrapping_add(sequence_term(token))
    });
    crate::minhash::mix64(hash ^ seed ^ (tokens.len() as u64).rotate_left(48))
}

/// Word n-gram shingle hashes of a token stream, appended to `out` (not deduplicated).
/// A stream shorter than `size` words gives one shingle of all its words.
pub fn shingles(tokens: &[Token], size: usize, out: &mut Vec<u64>) {
    out.clear();
    let mut window = ShingleWindow::new(size);
    let mut emit = |shingle| out.push(shingle);
    for &token in tokens {
        window.push(token, &mut emit);
    }
    window.finish(&mut emit);
}

/// The sorted, deduplicated shingle set of a text: used for exact Jaccard (`--verify exact`).
pub fn shingle_set(text: &str, opts: &ShingleOptions, skip: Option<&BoilerplateLines>) -> Vec<u64> {
    let mut set = Vec::new();
    shingle_text(
        text,
        opts,
        skip,
        &mut Scratch::default(),
        &mut Vec::new(),
        |shingle| set.push(shingle),
    );
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

    #[test]
    fn lines_are_the_standard_librarys() {
        let cases = [
            "",
            "\n",
            "\n\n",
            "a",
            "a\n",
            "a\r\n",
            "a\r",
            "\r",
            "\r\n",
            "a\r\rb\r\n\r\n",
            "é\nü\r\n€",
            "a\n\nb\n",
            "\na",
            " \r \n",
        ];
        for text in cases {
            let ours: Vec<&str> = lines(text).collect();
            let std: Vec<&str> = text.lines().collect();
            assert_eq!(ours, std, "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn lines_are_the_standard_librarys_on_random_text(text in "[a\r\n é€]{0,40}") {
            let ours: Vec<&str> = lines(&text).collect();
            let std: Vec<&str> = text.lines().collect();
            proptest::prop_assert_eq!(ours, std);
        }
    }

    fn tokens(text: &str) -> Vec<Token> {
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
        shingles(&tokens("two words"), 5, &mut out);
        assert_eq!(out.len(), 1);
        shingles(&tokens("one two three four five six"), 5, &mut out);
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
        let mut padded = Vec::new();
        pad_ascii(s.as_bytes(), &mut padded);
        let mut fast = Vec::new();
        ascii_word_spans(&padded, |start, end| {
            fast.push(s[start - 1..end - 1].to_string());
        });
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

    /// [`assert_same_words`] on `count` random strings of fewer than `max_len` bytes of
    /// `alphabet`.
    fn assert_same_words_on_random_strings(alphabet: &[u8], count: usize, max_len: u64, seed: u64) {
        let mut state = seed;
        let mut s = String::new();
        for _ in 0..count {
            s.clear();
            let len = crate::minhash::splitmix64(&mut state) % max_len;
            for _ in 0..len {
                let pick = crate::minhash::splitmix64(&mut state) % alphabet.len() as u64;
                s.push(char::from(alphabet[pick as usize]));
            }
            assert_same_words(&s);
        }
    }

    #[test]
    fn ascii_words_match_unicode_words_on_random_strings() {
        // Up to three 64-byte blocks, so that words cross block boundaries.
        assert_same_words_on_random_strings(b"abzAZ019'.,;:_- \t\r\n\"!/", 100_000, 200, 0x5eed);
    }

    #[test]
    fn ascii_words_longer_than_a_block_match_unicode_words() {
        // Few boundaries: words of tens to hundreds of bytes, ending at every place of a block,
        // and words that run through whole blocks.
        const ALPHABET: &[u8] = b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab1_. ";
        assert_same_words_on_random_strings(ALPHABET, 20_000, 400, 0x10ad);
    }

    #[test]
    fn rolled_shingles_equal_shingles_hashed_from_scratch() {
        let mut state = 5;
        let stream: Vec<Token> = (0..200)
            .map(|_| crate::minhash::splitmix64(&mut state) as Token)
            .collect();
        for size in [1, 2, 5, 9, 16] {
            let direct = |window: &[Token]| {
                window.iter().fold(0u64, |hash, &token| {
                    hash.wrapping_mul(SEQUENCE_BASE)
                        .wrapping_add(sequence_term(token))
                })
            };
            let mut rolled = Vec::new();
            shingles(&stream, size, &mut rolled);
            let expected: Vec<u64> = stream.windows(size).map(direct).collect();
            assert_eq!(rolled, expected, "size {size}");
            shingles(&stream[..size - 1], size, &mut rolled);
            let short: Vec<u64> = (size > 1)
                .then(|| direct(&stream[..size - 1]))
                .into_iter()
                .collect();
            assert_eq!(rolled, short, "short stream, size {size}");
        }
    }

    #[test]
    fn streamed_shingles_equal_collected_shingles() {
        let text = "Line one has words.\nSubscribe now!\n\nThe third line, with 1,000.5 km.\nA";
        let opts = ShingleOptions::default();
        let mut scratch = Scratch::default();
        let mut doc = TokenizedDoc::default();
        tokenize(text, &opts, None, &mut scratch, &mut doc);
        let skip = BoilerplateLines::new([doc.line_hashes[1]]);
        for skip in [None, Some(&skip)] {
            tokenize(text, &opts, skip, &mut scratch, &mut doc);
            let mut collected = Vec::new();
            shingles(&doc.tokens, opts.size, &mut collected);
            let mut streamed = Vec::new();
            let mut lines = Vec::new();
            let count = shingle_text(text, &opts, skip, &mut scratch, &mut lines, |shingle| {
                streamed.push(shingle)
            });
            assert_eq!(streamed, collected);
            assert_eq!(count, doc.tokens.len());
            assert_eq!(
                lines.len(),
                4,
                "every line with words, boilerplate included"
            );
        }
    }

    #[test]
    fn padded_tokens_equal_plain_tokens() {
        let mut state = 11;
        for len in 0..40 {
            let word: Vec<u8> = (0..len)
                .map(|_| b'a' + (crate::minhash::splitmix64(&mut state) % 26) as u8)
                .collect();
            let mut padded = vec![b'x'; 3];
            padded.extend_from_slice(&word);
            // What follows the word is masked away (pad_ascii leaves 65 bytes after a line).
            padded.extend_from_slice(b"zzzzzzzzzzzzzzzz");
            assert_eq!(
                padded_word_token(&padded, 3, 3 + len, 9),
                word_token(&word, 9),
                "{len}"
            );
        }
    }

    #[test]
    fn flags_pack_into_bits_in_order() {
        for bits in [0u64, 1, 0x80, 0xa5, 0xff, 0x3c] {
            let flags = (0..8).fold(0u64, |flags, j| flags | ((bits >> j) & 1) << (8 * j));
            assert_eq!(pack_flags(flags), bits);
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
                slow.push(word_token(word.as_bytes(), 7));
            }
        }
        let mut scratch = Scratch::default();
        let mut fast = Vec::new();
        for line in text.lines() {
            scratch.line_tokens.clear();
            tokenize_line(line, 7, &mut scratch);
            fast.extend_from_slice(&scratch.line_tokens);
        }
        assert_eq!(fast, slow);
    }

    #[test]
    fn exact_jaccard() {
        assert_eq!(jaccard(&[1, 2, 3], &[2, 3, 4]), 0.5);
        assert_eq!(jaccard(&[], &[1]), 0.0);
    }
}
