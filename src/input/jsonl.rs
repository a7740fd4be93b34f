//! JSONL: one JSON object per line, read in large blocks and parsed in parallel.
//!
//! A block of about [`CHUNK_BYTES`] is read at once and cut into lines in place (no allocation
//! per line); its lines are parsed in parallel and handed to the sink in input order. Parsing
//! keeps only the members that the field map names: the others are checked for valid JSON and
//! skipped without being copied, so a record's unused fields (a raw HTML copy, say) cost a scan
//! and nothing more. A wanted string is decoded here from serde_json's raw value, in one pass
//! ([`decode_json_string`]); anything else goes through serde_json's own deserializer.

use std::borrow::Cow;
use std::fmt;
use std::io::{BufRead, Read};

use rayon::prelude::*;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

use super::{
    build_article, push_unreadable, FieldMap, FieldValue, Format, Parsed, RawRecord, ReadOptions,
    RecordFields, RecordSink, RecordSpan, Reject, RejectReason, Source,
};

/// Lines are parsed in parallel in blocks of about this many bytes, then appended in order.
const CHUNK_BYTES: usize = 8 << 20;

pub(super) fn read_jsonl(
    source: &Source,
    mut stream: Box<dyn BufRead + '_>,
    opts: &ReadOptions,
    sink: &mut dyn RecordSink,
) {
    // `block[..filled]` holds whole lines followed by the start of a line not yet complete.
    // The block stays initialized from one read to the next and is read into in place
    // (`read_to_end` zeroed its 8 MB of spare room before every read, on the reading thread).
    let mut block: Vec<u8> = Vec::new();
    let mut filled = 0;
    let mut next_line: u64 = 1;
    // Where `block` starts in the file, when the stream is the file's own bytes (records can
    // then be read again by their spans).
    let plain_file = source
        .path
        .as_deref()
        .is_some_and(|path| !super::is_gzip(path));
    let mut block_start: Option<u64> = plain_file.then_some(0);
    loop {
        let before = filled;
        if block.len() < filled + CHUNK_BYTES {
            block.resize(filled + CHUNK_BYTES, 0);
        }
        let (read, error) = read_into(&mut stream, &mut block[filled..filled + CHUNK_BYTES]);
        filled += read;
        if let Some(err) = error {
            // The whole lines read so far still go through; then the file is reported.
            let complete = memchr::memrchr(b'\n', &block[..filled]).map_or(0, |end| end + 1);
            let at = (next_line, block_start);
            let line = parse_lines(source, &block[..complete], at, opts, sink);
            push_unreadable(sink, source, line, &format!("read error: {err}"));
            return;
        }
        if read == 0 {
            parse_lines(
                source,
                &block[..filled],
                (next_line, block_start),
                opts,
                sink,
            );
            return;
        }
        // Parse up to the last line end; a line longer than a block keeps growing the block.
        let Some(last_end) = memchr::memrchr(b'\n', &block[before..filled]) else {
            continue;
        };
        let complete = before + last_end + 1;
        next_line = parse_lines(
            source,
            &block[..complete],
            (next_line, block_start),
            opts,
            sink,
        );
        block.copy_within(complete..filled, 0);
        filled -= complete;
        block_start = block_start.map(|start| start + complete as u64);
    }
}

/// Reads into `buffer` until it is full or the stream ends: the bytes read, and the error that
/// stopped it early (the bytes before it count).
fn read_into(stream: &mut impl Read, buffer: &mut [u8]) -> (usize, Option<std::io::Error>) {
    let mut read = 0;
    while read < buffer.len() {
        match stream.read(&mut buffer[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return (read, Some(err)),
        }
    }
    (read, None)
}

/// Parses the lines of `bytes` (the first is line `first_line`, at `start` in the file when
/// known) in parallel and passes their records on in order. Returns the number of the line
/// after the last.
fn parse_lines(
    source: &Source,
    bytes: &[u8],
    (first_line, start): (u64, Option<u64>),
    opts: &ReadOptions,
    sink: &mut dyn RecordSink,
) -> u64 {
    let mut lines: Vec<(u64, &[u8], Option<RecordSpan>)> = Vec::new();
    let mut line = first_line;
    let mut rest = bytes;
    while !rest.is_empty() {
        let end = memchr::memchr(b'\n', rest);
        let (text, after) = match end {
            Some(end) => (&rest[..end], &rest[end + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        if sink.wants(&source.display, line) {
            let span = start.and_then(|start| {
                Some(RecordSpan {
                    offset: start + (bytes.len() - rest.len()) as u64,
                    len: u32::try_from(text.len()).ok()?,
                })
            });
            lines.push((line, text, span));
        }
        line += 1;
        rest = after;
    }
    let parsed: Vec<Option<Parsed>> = lines
        .into_par_iter()
        .map(|(line, bytes, span)| parse_jsonl_line(source, line, bytes, span, opts))
        .collect();
    for record in parsed.into_iter().flatten() {
        sink.record(record.record, record.lossy);
    }
    line
}

/// Parses one JSONL line (without its `\n`; at `span` in the file when known); `None` for a
/// blank line (not a record).
pub(super) fn parse_jsonl_line(
    source: &Source,
    line: u64,
    bytes: &[u8],
    span: Option<RecordSpan>,
    opts: &ReadOptions,
) -> Option<Parsed> {
    let (decoded, lossy) = match std::str::from_utf8(bytes) {
        Ok(text) => (Cow::Borrowed(text), false),
        Err(_) => (String::from_utf8_lossy(bytes), true),
    };
    let mut text = decoded.trim_end_matches(['\n', '\r']);
    if line == 1 {
        text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    }
    if text.trim().is_empty() {
        return None;
    }
    let reject = |reason| Reject {
        file: source.display.to_string(),
        line,
        id: String::new(),
        reason,
    };
    let mut fields = match parse_members(text, &opts.fields) {
        Ok(fields) => fields,
        Err(reason) => {
            return Some(Parsed {
                record: Err(reject(reason)),
                lossy,
            })
        }
    };
    let record =
        build_article(&mut fields, source, line, Format::Jsonl, opts).map(|mut article| {
            article.origin.span = span;
            if opts.keep_raw {
                article.raw = Some(RawRecord::JsonLine(text.to_string()));
            }
            article
        });
    Some(Parsed { record, lossy })
}

/// The members of a JSON object that the field map names, or why the line is not one.
fn parse_members<'a>(text: &'a str, fields: &FieldMap) -> Result<JsonFields<'a>, RejectReason> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let parsed = MembersSeed { fields }
        .deserialize(&mut deserializer)
        .and_then(|members| deserializer.end().map(|()| members));
    parsed.map_err(|_| {
        // Rare: tell a line that is not an object from one that is not JSON, with the JSON
        // parser's own message.
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(_)) => RejectReason::InvalidJson("unreadable object".into()),
            Ok(_) => RejectReason::NotAnObject,
            Err(err) => RejectReason::InvalidJson(err.to_string()),
        }
    })
}

/// A record's named members, as the article builder reads them (the last of duplicate keys
/// wins, as in a JSON map).
struct JsonFields<'a> {
    members: Vec<(Cow<'a, str>, FieldValue<'a>)>,
}

impl RecordFields for JsonFields<'_> {
    fn get(&self, name: &str) -> FieldValue<'_> {
        match self.members.iter().rev().find(|(key, _)| key == name) {
            Some((_, FieldValue::Text(text))) => FieldValue::Text(Cow::Borrowed(text)),
            Some((_, value)) => value.clone(),
            None => FieldValue::Missing,
        }
    }

    fn take_text(&mut self, name: &str) -> Option<String> {
        let member = self.members.iter_mut().rev().find(|(key, _)| key == name)?;
        match std::mem::replace(&mut member.1, FieldValue::Missing) {
            FieldValue::Text(text) => Some(text.into_owned()),
            other => {
                member.1 = other;
                None
            }
        }
    }
}

/// Whether the field map reads member `key`.
fn is_wanted(fields: &FieldMap, key: &str) -> bool {
    [
        &fields.id,
        &fields.text,
        &fields.title,
        &fields.date,
        &fields.url,
        &fields.source,
    ]
    .iter()
    .any(|names| names.iter().any(|name| name == key))
}

/// Deserializes an object, keeping only the wanted members.
struct MembersSeed<'m> {
    fields: &'m FieldMap,
}

impl<'de> DeserializeSeed<'de> for MembersSeed<'_> {
    type Value = JsonFields<'de>;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<JsonFields<'de>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MembersSeed<'_> {
    type Value = JsonFields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonFields<'de>, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<MemberKey<'de>>()? {
            if is_wanted(self.fields, &key.0) {
                let raw = map.next_value::<&'de RawValue>()?;
                let value = member_value(raw.get()).map_err(de::Error::custom)?;
                members.push((key.0, value));
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(JsonFields { members })
    }
}

/// A wanted member's value from its JSON text (as [`MemberValue`] reads it). A string is
/// decoded here: serde_json decodes an escaped one into a buffer that starts empty for every
/// line and grows by reallocation, then hands it over to be copied once more (news texts all
/// have escaped line ends); here it is written once, into a string of the literal's length.
/// Other values, and a string whose escapes do not decode, go through serde_json (which then
/// says what is wrong).
fn member_value(raw: &str) -> serde_json::Result<FieldValue<'_>> {
    let decoded = raw
        .strip_prefix('"')
        .and_then(|literal| literal.strip_suffix('"'))
        .and_then(decode_json_string);
    match decoded {
        Some(text) => Ok(FieldValue::Text(text)),
        None => serde_json::from_str::<MemberValue>(raw).map(|value| value.0),
    }
}

/// The text of a JSON string literal's body (between its quotes, as serde_json has checked it:
/// no raw control characters, an escape before every quote), escapes decoded; borrowed when it
/// has none. `None` for an escape serde_json would refuse (an unknown one, bad hex digits, a
/// lone or reversed surrogate).
fn decode_json_string(body: &str) -> Option<Cow<'_, str>> {
    let Some(first) = memchr::memchr(b'\\', body.as_bytes()) else {
        return Some(Cow::Borrowed(body));
    };
    // Escapes only shrink the text: one allocation of the body's length.
    let mut text = String::with_capacity(body.len());
    let mut rest = body;
    let mut at = first;
    loop {
        // `at` is a backslash (ASCII), so both sides are character boundaries.
        text.push_str(&rest[..at]);
        let escape = &rest[at + 1..];
        let (decoded, len) = match escape.as_bytes().first()? {
            b'"' => ('"', 1),
            b'\\' => ('\\', 1),
            b'/' => ('/', 1),
            b'b' => ('\u{8}', 1),
            b'f' => ('\u{c}', 1),
            b'n' => ('\n', 1),
            b'r' => ('\r', 1),
            b't' => ('\t', 1),
            b'u' => unicode_escape(&escape[1..]).map(|(c, len)| (c, len + 1))?,
            _ => return None,
        };
        text.push(decoded);
        rest = &escape[len..];
        match memchr::memchr(b'\\', rest.as_bytes()) {
            Some(next) => at = next,
            None => break,
        }
    }
    text.push_str(rest);
    Some(Cow::Owned(text))
}

/// The character of a `\\u` escape from the hex digits after the `u` (a surrogate pair takes
/// a second escape), and the bytes it took; `None` where serde_json refuses the escape.
fn unicode_escape(digits: &str) -> Option<(char, usize)> {
    let hex4 = |s: &str| -> Option<u32> {
        let digits = s
            .get(..4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))?;
        u32::from_str_radix(digits, 16).ok()
    };
    let first = hex4(digits)?;
    if !(0xD800..=0xDFFF).contains(&first) {
        return Some((char::from_u32(first)?, 4));
    }
    if first > 0xDBFF {
        return None; // a trailing surrogate first
    }
    let second = hex4(digits[4..].strip_prefix("\\u")?)?;
    if !(0xDC00..=0xDFFF).contains(&second) {
        return None;
    }
    let c = char::from_u32(0x1_0000 + ((first - 0xD800) << 10 | (second - 0xDC00)))?;
    Some((c, 10))
}

/// A member name, borrowed from the line when it has no escapes.
struct MemberKey<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for MemberKey<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(MemberKeyVisitor)
    }
}

struct MemberKeyVisitor;

impl<'de> Visitor<'de> for MemberKeyVisitor {
    type Value = MemberKey<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Self::Value, E> {
        Ok(MemberKey(Cow::Borrowed(key)))
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(MemberKey(Cow::Owned(key.to_string())))
    }
}

/// A wanted member's value as text: strings as they are, numbers and booleans written out, a
/// list of strings (paragraphs) joined with newlines; null is missing; anything else is not
/// text.
/// A string without escapes stays borrowed from the line.
struct MemberValue<'de>(FieldValue<'de>);

impl<'de> de::Deserialize<'de> for MemberValue<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MemberValueVisitor)
    }
}

struct MemberValueVisitor;

impl<'de> Visitor<'de> for MemberValueVisitor {
    type Value = MemberValue<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(MemberValue(FieldValue::Text(Cow::Borrowed(value))))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(MemberValue(FieldValue::Text(Cow::Owned(value.to_string()))))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        Ok(MemberValue(FieldValue::Text(Cow::Owned(value))))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(MemberValue(FieldValue::Text(Cow::Owned(value.to_string()))))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(MemberValue(FieldValue::Text(Cow::Owned(value.to_string()))))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(MemberValue(FieldValue::Text(Cow::Owned(value.to_string()))))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        // Written as serde_json writes numbers, as the reader did with a JSON value tree.
        let text = serde_json::Number::from_f64(value)
            .map_or_else(|| value.to_string(), |n| n.to_string());
        Ok(MemberValue(FieldValue::Text(Cow::Owned(text))))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(MemberValue(FieldValue::Missing))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Self::Value, A::Error> {
        let mut parts = Some(Vec::new());
        while let Some(item) = items.next_element::<ListItem>()? {
            match (&mut parts, item.0) {
                (Some(parts), Some(text)) => parts.push(text),
                _ => parts = None,
            }
        }
        Ok(MemberValue(match parts {
            Some(parts) => FieldValue::Text(Cow::Owned(parts.join("\n"))),
            None => FieldValue::NotText,
        }))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(MemberValue(FieldValue::NotText))
    }
}

/// An item of a list member: a string, or `None` for anything else (read and dropped).
struct ListItem(Option<String>);

impl<'de> de::Deserialize<'de> for ListItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ListItemVisitor)
    }
}

struct ListItemVisitor;

impl<'de> Visitor<'de> for ListItemVisitor {
    type Value = ListItem;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<ListItem, E> {
        Ok(ListItem(Some(value.to_string())))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<ListItem, E> {
        Ok(ListItem(Some(value)))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<ListItem, E> {
        Ok(ListItem(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<ListItem, E> {
        Ok(ListItem(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<ListItem, E> {
        Ok(ListItem(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<ListItem, E> {
        Ok(ListItem(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<ListItem, E> {
        Ok(ListItem(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<ListItem, A::Error> {
        while items.next_element::<IgnoredAny>()?.is_some() {}
        Ok(ListItem(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ListItem, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(ListItem(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What serde_json makes of a JSON string literal.
    fn serde_reads(literal: &str) -> Option<String> {
        serde_json::from_str::<String>(literal).ok()
    }

    /// What the reader makes of it (`None` where it leaves the literal to serde_json).
    fn decoded(literal: &str) -> Option<String> {
        let body = literal.strip_prefix('"')?.strip_suffix('"')?;
        decode_json_string(body).map(Cow::into_owned)
    }

    #[test]
    fn escapes_decode_as_serde_json_decodes_them() {
        for literal in [
            r#""plain""#,
            r#""""#,
            r#""line one\nline two""#,
            r#""\"quoted\" \\ back\/slash""#,
            r#""\b\f\n\r\t""#,
            r#""caf\u00e9 \u00E9 \u4e2d""#,
            r#""\ud83d\ude00 emoji""#,
            r#""\uD83D\uDE00""#,
            r#""ends with escape\n""#,
            r#""\u0000 nul""#,
            "\"d\u{e9}j\u{e0} vu \\n\"",
        ] {
            assert_eq!(decoded(literal), serde_reads(literal), "{literal}");
            assert!(decoded(literal).is_some(), "{literal}");
        }
    }

    #[test]
    fn escapes_serde_json_refuses_are_left_to_it() {
        for literal in [
            r#""\ud83d alone""#,
            r#""\ude00 trailing first""#,
            r#""\ud83d\u0041""#,
            r#""\ud83d\n""#,
            r#""\u12g4""#,
            r#""\u+123""#,
            r#""\x41""#,
            r#""\u12""#,
        ] {
            assert_eq!(decoded(literal), None, "{literal}");
            assert_eq!(serde_reads(literal), None, "{literal}");
        }
    }

    proptest::proptest! {
        /// Any text, written by serde_json (control characters as \u escapes), reads back.
        #[test]
        fn serde_json_strings_read_back(text in "(\\PC|[\\x00-\\x1f\"\\\\/\u{2028}])*") {
            let literal = serde_json::to_string(&text).expect("a string serializes");
            proptest::prop_assert_eq!(decoded(&literal), Some(text));
        }

        /// Any literal with escapes, valid or not, reads as serde_json reads it, or is left to it.
        #[test]
        fn escaped_literals_read_as_serde_json_reads_them(
            body in "([a-z\u{e9} ]|\\\\[\"\\\\/bfnrtux]|\\\\u[0-9a-fA-FdD]{4})*"
        ) {
            let literal = format!("\"{body}\"");
            if let Some(text) = decoded(&literal) {
                proptest::prop_assert_eq!(Some(text), serde_reads(&literal));
            } else {
                proptest::prop_assert_eq!(serde_reads(&literal), None);
            }
        }
    }

    #[test]
    fn lines_across_blocks_are_read_whole_and_numbered() {
        // Over two blocks of lines of many lengths, one broken line among them.
        let mut jsonl = String::new();
        let mut line = 0;
        while jsonl.len() < 2 * CHUNK_BYTES + CHUNK_BYTES / 2 {
            line += 1;
            let words = "word ".repeat(line % 500);
            jsonl.push_str(&format!(
                "{{\"id\": \"{line}\", \"text\": \"{words}end\"}}\n"
            ));
            if line == 3000 {
                jsonl.push_str("{\"id\": \"broken\", \"text\": \n");
                line += 1;
            }
        }
        let corpus =
            crate::input::read_bytes("blocks.jsonl", jsonl.as_bytes(), &ReadOptions::default());
        assert_eq!(corpus.articles.len(), line - 1);
        assert_eq!(corpus.rejects.len(), 1);
        assert_eq!(corpus.rejects[0].line, 3001);
        let last = &corpus.articles[corpus.articles.len() - 1];
        assert_eq!(last.id, line.to_string());
        assert_eq!(last.origin.line, line as u64);
        assert!(last.text.ends_with("end"));
    }

    /// A reader that hands out a few bytes at a time, is interrupted once, then fails.
    struct Flaky<'a> {
        bytes: &'a [u8],
        calls: usize,
    }

    impl Read for Flaky<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
            self.calls += 1;
            if self.calls == 2 {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            if self.bytes.is_empty() {
                return Err(std::io::Error::other("disk on fire"));
            }
            let n = buffer.len().min(self.bytes.len()).min(3);
            buffer[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    #[test]
    fn reads_fill_the_buffer_and_keep_the_bytes_before_an_error() {
        let mut reader = Flaky {
            bytes: b"0123456789",
            calls: 0,
        };
        let mut buffer = [0u8; 4];
        let (read, error) = read_into(&mut reader, &mut buffer);
        assert_eq!((read, &buffer[..]), (4, &b"0123"[..]));
        assert!(error.is_none());
        let mut buffer = [0u8; 16];
        let (read, error) = read_into(&mut reader, &mut buffer);
        assert_eq!(&buffer[..read], b"456789");
        assert_eq!(
            error.map(|e| e.to_string()).as_deref(),
            Some("disk on fire")
        );
        let mut at_end = [0u8; 4];
        assert_eq!(read_into(&mut &b""[..], &mut at_end).0, 0);
    }

    #[test]
    fn members_read_the_same_through_the_raw_value() {
        let opts = ReadOptions::default();
        let line = r#"{"id": "a\u0031", "title": "T\u00e9st \"q\"", "text": "One\ntwo", "extra": {"x": [1, "\u0000"]}, "date": 20180530, "url": null, "source": ["a", "b"]}"#;
        let fields = parse_members(line, &opts.fields).expect("an object");
        let text = |name: &str| match fields.get(name) {
            FieldValue::Text(text) => Some(text.into_owned()),
            _ => None,
        };
        assert_eq!(text("id").as_deref(), Some("a1"));
        assert_eq!(text("title").as_deref(), Some("T\u{e9}st \"q\""));
        assert_eq!(text("text").as_deref(), Some("One\ntwo"));
        assert_eq!(text("date").as_deref(), Some("20180530"));
        assert_eq!(text("url"), None);
        assert_eq!(text("source").as_deref(), Some("a\nb"));
        // A wanted member whose escape serde_json refuses rejects the line, as before.
        assert!(parse_members(r#"{"text": "\ud83d alone"}"#, &opts.fields).is_err());
    }
}
