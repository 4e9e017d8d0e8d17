//! Bytes in, whole lines out: [`LineDecoder`] splits a body that arrives in chunks of
//! any size into lines, with bounded memory.
//!
//! Rules, the same whatever the chunking:
//! - a line ends with `\n`; a `\r` right before it is stripped (`\r\n`), so is a `\r`
//!   that ends the body; a `\r` anywhere else is part of the line;
//! - a last line without a newline is delivered by [`LineDecoder::finish`];
//! - UTF-8: invalid byte sequences are replaced by U+FFFD and the line is still
//!   delivered, as [`Line::Lossy`] (nothing is lost, and the decoder counts such lines
//!   in [`LineDecoder::invalid_utf8`]); a multi-byte character split across chunks is
//!   *not* invalid: a line is decoded once it is whole;
//! - a line longer than `max_line_len` bytes (without its line end) is skipped *while it
//!   streams*: once its buffered part is over the limit the buffer is dropped and only
//!   its length is counted; when its end comes it is reported as [`Line::Oversized`].
//!   A server sending gigabytes without a newline costs about `2 * max_line_len` bytes
//!   of memory, never more.
//!
//! A line wholly inside one chunk is handed out borrowed from the chunk; a line that
//! spans chunks is handed out borrowed from the decoder's buffer. Nothing is
//! allocated per line unless a line is not valid UTF-8.

use std::borrow::Cow;

/// One line out of a [`LineDecoder`], without its line end.
///
/// ```
/// use agent_stream::{Line, LineDecoder};
///
/// let mut lines = Vec::new();
/// let mut decoder = LineDecoder::new(8);
/// decoder.push(b"ok\nbad \xff\nmuch too long\n", &mut |line: Line<'_>| {
///     lines.push(line.into_owned())
/// });
/// assert_eq!(lines, [
///     Line::Text("ok".into()),
///     Line::Lossy("bad \u{fffd}".into()),
///     Line::Oversized { len: 13 },
/// ]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// A line of valid UTF-8, borrowed from the chunk (or from the decoder's buffer
    /// when the line spans chunks).
    Text(Cow<'a, str>),
    /// A line that was not valid UTF-8: each invalid sequence is replaced by U+FFFD.
    Lossy(String),
    /// A line longer than the decoder's `max_line_len`, skipped; `len` is its length
    /// in bytes, without its line end.
    Oversized {
        /// The skipped line's length in bytes.
        len: u64,
    },
}

impl Line<'_> {
    /// The line's text (`None` for an oversized line).
    ///
    /// ```
    /// use agent_stream::Line;
    ///
    /// assert_eq!(Line::Text("hi".into()).text(), Some("hi"));
    /// assert_eq!(Line::Oversized { len: 99 }.text(), None);
    /// ```
    pub fn text(&self) -> Option<&str> {
        match self {
            Line::Text(text) => Some(text),
            Line::Lossy(text) => Some(text),
            Line::Oversized { .. } => None,
        }
    }

    /// An owned copy of this line, no longer tied to the chunk it came from.
    pub fn into_owned(self) -> Line<'static> {
        match self {
            Line::Text(text) => Line::Text(Cow::Owned(text.into_owned())),
            Line::Lossy(text) => Line::Lossy(text),
            Line::Oversized { len } => Line::Oversized { len },
        }
    }
}

/// Splits a stream of bytes, pushed in chunks of any size, into lines.
///
/// See the [module documentation](self) for the rules. Lines go to a callback, so
/// that a line inside a chunk can be borrowed from it:
///
/// ```
/// use agent_stream::{Line, LineDecoder};
///
/// let mut decoder = LineDecoder::new(1024);
/// let mut lines: Vec<String> = Vec::new();
/// let mut collect = |line: Line<'_>| lines.push(line.text().unwrap_or("").to_owned());
/// for chunk in [&b"first\r\nsec"[..], b"ond\n\nth", b"ird"] {
///     decoder.push(chunk, &mut collect);
/// }
/// decoder.finish(&mut collect);
/// assert_eq!(lines, ["first", "second", "", "third"]);
/// ```
#[derive(Debug, Clone)]
pub struct LineDecoder {
    max_line_len: usize,
    /// The start of a line that spans chunks (at most `max_line_len + 1` bytes: one
    /// more for a `\r` that may turn out to be part of the line end).
    buf: Vec<u8>,
    /// `Some(n)` while skipping an oversized line: `n` bytes of it seen so far.
    skipping: Option<u64>,
    /// While skipping: whether the last byte seen was `\r`.
    skipped_cr: bool,
    invalid_utf8: u64,
}

impl LineDecoder {
    /// A decoder that skips lines longer than `max_line_len` bytes (line end not
    /// counted).
    pub fn new(max_line_len: usize) -> Self {
        LineDecoder {
            max_line_len,
            buf: Vec::new(),
            skipping: None,
            skipped_cr: false,
            invalid_utf8: 0,
        }
    }

    /// The longest line delivered, in bytes.
    pub fn max_line_len(&self) -> usize {
        self.max_line_len
    }

    /// How many lines so far were not valid UTF-8 (delivered as [`Line::Lossy`]).
    pub fn invalid_utf8(&self) -> u64 {
        self.invalid_utf8
    }

    /// The capacity of the buffer holding a line that spans chunks: stays below
    /// about `2 * max_line_len` whatever the input.
    ///
    /// ```
    /// use agent_stream::LineDecoder;
    ///
    /// let mut decoder = LineDecoder::new(100);
    /// let chunk = vec![b'x'; 64 * 1024];
    /// for _ in 0..100 {
    ///     decoder.push(&chunk, &mut |_| {}); // 6.4 MB and no newline
    /// }
    /// assert!(decoder.buffered_capacity() <= 2 * 100 + 2);
    /// ```
    pub fn buffered_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Whether a line has started and not ended yet (its end may be in the next chunk,
    /// or [`LineDecoder::finish`] delivers it).
    pub fn has_partial_line(&self) -> bool {
        self.skipping.is_some() || !self.buf.is_empty()
    }

    /// While an oversized line is being skipped: how many of its bytes went by so far.
    /// A line that never ends shows here long before [`Line::Oversized`] could.
    ///
    /// ```
    /// let mut d = agent_stream::LineDecoder::new(4);
    /// d.push(b"0123456789", &mut |_| {});
    /// assert_eq!(d.skipping_len(), Some(10));
    /// ```
    pub fn skipping_len(&self) -> Option<u64> {
        // A last `\r` may turn out to be the line end: it is not counted yet.
        self.skipping.map(|seen| seen - u64::from(self.skipped_cr))
    }

    /// Decodes one chunk, calling `on_line` for every line that ends in it.
    pub fn push<F>(&mut self, chunk: &[u8], on_line: &mut F)
    where
        F: FnMut(Line<'_>),
    {
        let mut rest = chunk;

        // The end of a line that started in an earlier chunk.
        if let Some(seen) = self.skipping {
            match memchr::memchr(b'\n', rest) {
                None => {
                    self.skip_more(rest);
                    return;
                }
                Some(pos) => {
                    let cr = if pos > 0 {
                        rest[pos - 1] == b'\r'
                    } else {
                        self.skipped_cr
                    };
                    let len = seen + pos as u64 - u64::from(cr);
                    self.skipping = None;
                    self.skipped_cr = false;
                    on_line(Line::Oversized { len });
                    rest = &rest[pos + 1..];
                }
            }
        } else if !self.buf.is_empty() {
            match memchr::memchr(b'\n', rest) {
                None => {
                    self.keep_partial(rest);
                    return;
                }
                Some(pos) => {
                    let piece = &rest[..pos];
                    let cr = match piece.last() {
                        Some(&last) => last == b'\r',
                        None => self.buf.last() == Some(&b'\r'),
                    };
                    let len = self.buf.len() + pos - usize::from(cr);
                    if len > self.max_line_len {
                        self.buf.clear();
                        on_line(Line::Oversized { len: len as u64 });
                    } else {
                        self.buf.extend_from_slice(piece);
                        self.buf.truncate(len);
                        let line = decode(&self.buf, &mut self.invalid_utf8);
                        on_line(line);
                        self.buf.clear();
                    }
                    rest = &rest[pos + 1..];
                }
            }
        }

        // Whole lines inside this chunk: borrowed from it.
        let mut start = 0;
        for pos in memchr::memchr_iter(b'\n', rest) {
            let mut line = &rest[start..pos];
            if let [head @ .., b'\r'] = line {
                line = head;
            }
            start = pos + 1;
            if line.len() > self.max_line_len {
                on_line(Line::Oversized {
                    len: line.len() as u64,
                });
            } else {
                on_line(decode(line, &mut self.invalid_utf8));
            }
        }

        // The start of a line that ends in a later chunk.
        self.keep_partial(&rest[start..]);
    }

    /// Ends the stream: delivers a last line that had no newline (a trailing `\r` is
    /// stripped), or reports it as oversized. The decoder is then empty and ready for
    /// a new stream.
    pub fn finish<F>(&mut self, on_line: &mut F)
    where
        F: FnMut(Line<'_>),
    {
        if let Some(seen) = self.skipping.take() {
            let len = seen - u64::from(self.skipped_cr);
            self.skipped_cr = false;
            on_line(Line::Oversized { len });
        } else if !self.buf.is_empty() {
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
            if self.buf.len() > self.max_line_len {
                on_line(Line::Oversized {
                    len: self.buf.len() as u64,
                });
            } else {
                on_line(decode(&self.buf, &mut self.invalid_utf8));
            }
            self.buf.clear();
        }
    }

    /// Keeps `piece` (a line's start or middle, no newline in it) for later, or starts
    /// skipping the line once it is certainly too long.
    fn keep_partial(&mut self, piece: &[u8]) {
        if piece.is_empty() {
            return;
        }
        // One byte of slack: a `\r` at the end may belong to the line end.
        if self.buf.len() + piece.len() > self.max_line_len + 1 {
            self.skipping = Some(self.buf.len() as u64);
            self.buf.clear();
            self.skip_more(piece);
        } else {
            self.buf.extend_from_slice(piece);
        }
    }

    fn skip_more(&mut self, piece: &[u8]) {
        if let (Some(seen), Some(&last)) = (self.skipping.as_mut(), piece.last()) {
            *seen += piece.len() as u64;
            self.skipped_cr = last == b'\r';
        }
    }
}

/// Decodes one line's bytes, lossily, counting an invalid line.
fn decode<'a>(bytes: &'a [u8], invalid_utf8: &mut u64) -> Line<'a> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Line::Text(Cow::Borrowed(text)),
        Err(_) => {
            *invalid_utf8 += 1;
            Line::Lossy(String::from_utf8_lossy(bytes).into_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `\r` at the end of what arrived may be the line's end: it is not counted
    /// among the skipped bytes until the next byte says it is not.
    #[test]
    fn a_last_carriage_return_is_not_counted_as_skipped_yet() {
        let mut d = LineDecoder::new(4);
        d.push(b"0123456789\r", &mut |_| {});
        assert_eq!(d.skipping_len(), Some(10));
        d.push(b"x", &mut |_| {});
        assert_eq!(d.skipping_len(), Some(12));
    }

    /// Lines as strings, oversized ones as `<N>`, lossy ones marked with `~`.
    fn run(max: usize, chunks: &[&[u8]]) -> (Vec<String>, u64) {
        let mut d = LineDecoder::new(max);
        let mut out = Vec::new();
        let mut f = |line: Line<'_>| {
            out.push(match line {
                Line::Text(t) => t.into_owned(),
                Line::Lossy(t) => format!("~{t}"),
                Line::Oversized { len } => format!("<{len}>"),
            })
        };
        for c in chunks {
            d.push(c, &mut f);
        }
        d.finish(&mut f);
        (out, d.invalid_utf8())
    }

    #[test]
    fn lines_inside_one_chunk_are_borrowed() {
        let chunk = b"alpha\nbeta\r\n".to_vec();
        let mut d = LineDecoder::new(100);
        let mut borrowed = 0;
        d.push(&chunk, &mut |line| {
            if let Line::Text(Cow::Borrowed(_)) = line {
                borrowed += 1;
            }
        });
        assert_eq!(borrowed, 2);
    }

    #[test]
    fn a_line_split_across_many_chunks() {
        let (lines, _) = run(100, &[b"he", b"l", b"", b"lo wo", b"rld\nnext\n"]);
        assert_eq!(lines, ["hello world", "next"]);
    }

    #[test]
    fn crlf_is_stripped_even_when_split_between_chunks() {
        assert_eq!(run(100, &[b"a\r", b"\nb\r\n"]).0, ["a", "b"]);
        assert_eq!(run(100, &[b"a\r\n"]).0, ["a"]);
        // A lone \r inside a line stays.
        assert_eq!(run(100, &[b"a\rb\n"]).0, ["a\rb"]);
        // A \r ending the body is a line end too.
        assert_eq!(run(100, &[b"last\r"]).0, ["last"]);
    }

    #[test]
    fn the_accessors_say_what_the_decoder_holds() {
        let mut d = LineDecoder::new(100);
        assert_eq!(d.max_line_len(), 100);
        d.push(&[b'x'; 60], &mut |_| {});
        assert!(d.buffered_capacity() >= 60, "{}", d.buffered_capacity());
        assert!(d.has_partial_line());
    }

    #[test]
    fn blank_lines_are_lines() {
        assert_eq!(run(100, &[b"\n\r\n\n"]).0, ["", "", ""]);
    }

    #[test]
    fn the_last_line_without_newline_comes_from_finish() {
        assert_eq!(run(100, &[b"one\ntwo"]).0, ["one", "two"]);
        assert_eq!(run(100, &[b"one\n"]).0, ["one"]);
        assert_eq!(run(100, &[]).0, Vec::<String>::new());
    }

    #[test]
    fn invalid_utf8_is_replaced_and_counted() {
        let (lines, invalid) = run(100, &[b"ok\n\xffbad\xc3\n", b"fine\n"]);
        assert_eq!(lines, ["ok", "~\u{fffd}bad\u{fffd}", "fine"]);
        assert_eq!(invalid, 1);
    }

    #[test]
    fn a_character_split_across_chunks_is_valid() {
        // "é" is C3 A9, "€" is E2 82 AC.
        let (lines, invalid) = run(100, &[b"caf\xc3", b"\xa9 \xe2", b"\x82", b"\xac\n"]);
        assert_eq!(lines, ["café €"]);
        assert_eq!(invalid, 0);
    }

    #[test]
    fn oversized_lines_are_reported_with_their_length() {
        // Exactly at the limit passes, one more byte is skipped.
        assert_eq!(run(4, &[b"abcd\nabcde\nok\n"]).0, ["abcd", "<5>", "ok"]);
        // Same, split: the limit holds across chunks, \r\n not counted.
        assert_eq!(
            run(4, &[b"ab", b"cd\r", b"\nabc", b"de\r", b"\nok\n"]).0,
            ["abcd", "<5>", "ok"]
        );
        assert_eq!(run(4, &[b"ab", b"cdefgh", b"ij", b"\n"]).0, ["<10>"]);
        assert_eq!(run(4, &[b"abcdefgh\r", b"\nx\n"]).0, ["<8>", "x"]);
    }

    #[test]
    fn an_oversized_last_line_is_reported_by_finish() {
        assert_eq!(run(4, &[b"ok\nabcdefg"]).0, ["ok", "<7>"]);
        assert_eq!(run(4, &[b"ok\nab", b"cdefg\r"]).0, ["ok", "<7>"]);
        assert_eq!(run(4, &[b"ok\nabcde"]).0, ["ok", "<5>"]);
    }

    #[test]
    fn a_zero_limit_skips_every_non_empty_line() {
        assert_eq!(run(0, &[b"a\n\nb"]).0, ["<1>", "", "<1>"]);
    }

    #[test]
    fn two_hundred_megabytes_without_newline_stay_in_bounded_memory() {
        let max = 10_240;
        let mut d = LineDecoder::new(max);
        let chunk = vec![b'x'; 64 * 1024];
        let mut lines = Vec::new();
        let mut pushed: u64 = 0;
        while pushed < 200 * 1024 * 1024 {
            d.push(&chunk, &mut |l| lines.push(l.into_owned()));
            pushed += chunk.len() as u64;
            assert!(
                d.buffered_capacity() <= 2 * max + 2,
                "{}",
                d.buffered_capacity()
            );
        }
        d.push(b"\nafter\n", &mut |l| lines.push(l.into_owned()));
        assert_eq!(
            lines,
            [
                Line::Oversized { len: pushed },
                Line::Text(Cow::Borrowed("after"))
            ]
        );
        assert!(d.buffered_capacity() <= 2 * max + 2);
    }

    #[test]
    fn many_small_chunks_of_a_long_line_stay_bounded_too() {
        let mut d = LineDecoder::new(1000);
        for _ in 0..100_000 {
            d.push(b"abc", &mut |_| panic!("no line yet"));
            assert!(d.buffered_capacity() <= 2002);
        }
        assert!(d.has_partial_line());
        let mut got = None;
        d.finish(&mut |l| got = Some(l.into_owned()));
        assert_eq!(got, Some(Line::Oversized { len: 300_000 }));
        assert!(!d.has_partial_line());
    }
}
