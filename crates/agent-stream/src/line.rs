//! Bytes in, whole lines out: [`LineDecoder`] splits a body that arrives in chunks of
//! any size into lines, with bounded memory.
//!
//! Rules, the same whatever the chunking:
//! - a line ends with `\n`; a `\r` right before it is stripped (`\r\n`), so is a `\r`
//!   that ends the body; a `\r` anywhere else is part of the line, unless the
//!   decoder was told that a `\r` alone ends a line (an event stream's rule,
//!   [`LineDecoder::set_cr_ends_lines`]);
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
    /// A line that [`LineDecoder::allow_long`] let be long, and that was longer
    /// still; `len` is its length in bytes, without its line end.
    TooLong {
        /// The line's length in bytes.
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
            Line::Oversized { .. } | Line::TooLong { .. } => None,
        }
    }

    /// An owned copy of this line, no longer tied to the chunk it came from.
    pub fn into_owned(self) -> Line<'static> {
        match self {
            Line::Text(text) => Line::Text(Cow::Owned(text.into_owned())),
            Line::Lossy(text) => Line::Lossy(text),
            Line::Oversized { len } => Line::Oversized { len },
            Line::TooLong { len } => Line::TooLong { len },
        }
    }
}

/// Whether a line may be long: looks at the line's first bytes (see
/// [`LineDecoder::allow_long`]).
pub type MayBeLong = fn(&[u8]) -> bool;

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
    /// Lines that may be longer, up to this many bytes (see `allow_long`).
    long: Option<(usize, MayBeLong)>,
    /// The start of a line that spans chunks (at most the line's limit + 1 bytes:
    /// one more for a `\r` that may turn out to be part of the line end).
    buf: Vec<u8>,
    /// Whether the line in `buf` was found to be one that may be long.
    buf_long: bool,
    /// `Some(n)` while skipping an oversized line: `n` bytes of it seen so far.
    skipping: Option<u64>,
    /// While skipping: whether the last byte seen was `\r`.
    skipped_cr: bool,
    /// Whether a `\r` alone ends a line (an event stream's rule).
    cr_ends_lines: bool,
    /// A line just ended with a `\r` at the end of a chunk (`cr_ends_lines`): a
    /// `\n` starting the next chunk belongs to that line end.
    skip_lf: bool,
    invalid_utf8: u64,
}

/// What a whole line is, by its length.
enum Verdict {
    Fits,
    Oversized,
    TooLong,
}

impl LineDecoder {
    /// A decoder that skips lines longer than `max_line_len` bytes (line end not
    /// counted).
    pub fn new(max_line_len: usize) -> Self {
        LineDecoder {
            max_line_len,
            long: None,
            buf: Vec::new(),
            buf_long: false,
            skipping: None,
            skipped_cr: false,
            cr_ends_lines: false,
            skip_lf: false,
            invalid_utf8: 0,
        }
    }

    /// Lets the lines for which `may_be_long` says so be up to `max_long` bytes
    /// (memory then stays below about `2 * max_long`); a longer one is reported as
    /// [`Line::TooLong`]. `may_be_long` sees the first bytes of a line, at least
    /// `max_line_len + 1` of them (or the whole line), and is asked only about
    /// lines longer than `max_line_len`.
    ///
    /// An event stream's `data:` lines, say, carry a whole JSON event that is split
    /// into log lines later, while any other line is one log line:
    ///
    /// ```
    /// use agent_stream::{Line, LineDecoder};
    ///
    /// let mut d = LineDecoder::new(4).allow_long(16, |head| head.starts_with(b"data:"));
    /// let mut lines = Vec::new();
    /// d.push(b"data: 0123456789\nplain line\ndata: 0123456789012345\n", &mut |l: Line<'_>| {
    ///     lines.push(l.into_owned())
    /// });
    /// assert_eq!(lines, [
    ///     Line::Text("data: 0123456789".into()),
    ///     Line::Oversized { len: 10 },
    ///     Line::TooLong { len: 22 },
    /// ]);
    /// ```
    pub fn allow_long(mut self, max_long: usize, may_be_long: MayBeLong) -> Self {
        self.long = Some((max_long.max(self.max_line_len), may_be_long));
        self
    }

    /// From now on a `\r` alone ends a line too (as in an event stream: `\r`, `\n`
    /// and `\r\n` all end a line, also when the `\r` and the `\n` arrive in
    /// different chunks). See also [`LineDecoder::push_switching`].
    pub fn set_cr_ends_lines(&mut self) {
        self.cr_ends_lines = true;
    }

    /// Whether a `\r` alone ends a line.
    pub fn cr_ends_lines(&self) -> bool {
        self.cr_ends_lines
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
    /// about `2 * max_line_len` whatever the input (`2 * max_long` with
    /// [`LineDecoder::allow_long`]).
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
        self.push_switching(chunk, &mut |line| {
            on_line(line);
            false
        });
    }

    /// [`LineDecoder::push`], where `on_line` returns `true` to have a `\r` alone
    /// end lines from the next line on ([`LineDecoder::set_cr_ends_lines`]): how a
    /// reader that learns from a line that the body is an event stream applies its
    /// rules to the rest of the same chunk, so that the chunking never matters.
    ///
    /// ```
    /// use agent_stream::{Line, LineDecoder};
    ///
    /// let mut d = LineDecoder::new(100);
    /// let mut lines = Vec::new();
    /// d.push_switching(b"a\rb\nevent-stream\nc\rd\r", &mut |l: Line<'_>| {
    ///     let text = l.text().unwrap_or("").to_owned();
    ///     let switch = text == "event-stream";
    ///     lines.push(text);
    ///     switch
    /// });
    /// d.push(b"\ne\n", &mut |l: Line<'_>| lines.push(l.text().unwrap_or("").to_owned()));
    /// assert_eq!(lines, ["a\rb", "event-stream", "c", "d", "e"]);
    /// ```
    pub fn push_switching<F>(&mut self, chunk: &[u8], on_line: &mut F)
    where
        F: FnMut(Line<'_>) -> bool,
    {
        let mut rest = chunk;
        if self.skip_lf {
            let Some((&first, tail)) = rest.split_first() else {
                return;
            };
            self.skip_lf = false;
            if first == b'\n' {
                rest = tail;
            }
        }

        // The end of a line that started in an earlier chunk.
        if self.has_partial_line() {
            let Some((end, next)) = self.line_end(rest) else {
                self.keep_partial(rest);
                return;
            };
            let switch = self.end_partial(&rest[..end], on_line);
            self.cr_ends_lines |= switch;
            rest = &rest[next..];
        }

        // Whole lines inside this chunk: borrowed from it.
        while let Some((end, next)) = self.line_end(rest) {
            let mut line = &rest[..end];
            if let [head @ .., b'\r'] = line {
                line = head; // `\r\n` (only without `cr_ends_lines`)
            }
            let switch = match self.verdict(line) {
                Verdict::Fits => on_line(decode(line, &mut self.invalid_utf8)),
                Verdict::Oversized => on_line(Line::Oversized {
                    len: line.len() as u64,
                }),
                Verdict::TooLong => on_line(Line::TooLong {
                    len: line.len() as u64,
                }),
            };
            self.cr_ends_lines |= switch;
            rest = &rest[next..];
        }

        // The start of a line that ends in a later chunk.
        self.keep_partial(rest);
    }

    /// Where the first line in `bytes` ends: the end of its text (a `\r` before a
    /// `\n` included, without `cr_ends_lines`), and where the next line starts.
    /// With `cr_ends_lines`, a `\r` that ends the chunk ends its line, and a `\n`
    /// starting the next chunk is then skipped.
    fn line_end(&mut self, bytes: &[u8]) -> Option<(usize, usize)> {
        if !self.cr_ends_lines {
            let pos = memchr::memchr(b'\n', bytes)?;
            return Some((pos, pos + 1));
        }
        let pos = memchr::memchr2(b'\r', b'\n', bytes)?;
        if bytes[pos] == b'\n' {
            return Some((pos, pos + 1));
        }
        match bytes.get(pos + 1) {
            Some(b'\n') => Some((pos, pos + 2)),
            Some(_) => Some((pos, pos + 1)),
            None => {
                self.skip_lf = true;
                Some((pos, pos + 1))
            }
        }
    }

    /// What a whole line is, by its length (and its start, for a long one).
    fn verdict(&self, line: &[u8]) -> Verdict {
        if line.len() <= self.max_line_len {
            return Verdict::Fits;
        }
        match self.long {
            Some((max_long, may_be_long)) if may_be_long(line) => {
                if line.len() <= max_long {
                    Verdict::Fits
                } else {
                    Verdict::TooLong
                }
            }
            _ => Verdict::Oversized,
        }
    }

    /// Ends the line that started in an earlier chunk with `piece`, its last part
    /// (without the line end). Returns what `on_line` returned.
    fn end_partial<F>(&mut self, piece: &[u8], on_line: &mut F) -> bool
    where
        F: FnMut(Line<'_>) -> bool,
    {
        let cr = !self.cr_ends_lines
            && match piece.last() {
                Some(&last) => last == b'\r',
                None => self.skipped_cr || self.buf.last() == Some(&b'\r'),
            };
        if let Some(seen) = self.skipping.take() {
            let len = seen + piece.len() as u64 - u64::from(cr);
            self.skipped_cr = false;
            let long = std::mem::take(&mut self.buf_long);
            return on_line(if long {
                Line::TooLong { len }
            } else {
                Line::Oversized { len }
            });
        }
        let len = self.buf.len() + piece.len() - usize::from(cr);
        let switch = self.end_buffered(len, piece, on_line);
        self.buf.clear();
        if std::mem::take(&mut self.buf_long) {
            // A long line's room is not kept for the short ones after it.
            self.buf.shrink_to(self.max_line_len + 2);
        }
        switch
    }

    /// Hands on the line of `len` bytes that is `buf` followed by `piece`.
    fn end_buffered<F>(&mut self, len: usize, piece: &[u8], on_line: &mut F) -> bool
    where
        F: FnMut(Line<'_>) -> bool,
    {
        let max_long = self.long.map_or(self.max_line_len, |(max, _)| max);
        if len > max_long || (len > self.max_line_len && self.long.is_none()) {
            // Too long whatever it is: only its head is needed, to say which.
            let head = (self.max_line_len + 2).saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&piece[..head.min(piece.len())]);
            let long = self.buf_long || matches!(self.verdict_of_head(), Some(true));
            let len = len as u64;
            return on_line(if long && self.long.is_some() {
                Line::TooLong { len }
            } else {
                Line::Oversized { len }
            });
        }
        self.buf.extend_from_slice(piece);
        self.buf.truncate(len);
        let verdict = if self.buf_long {
            Verdict::Fits
        } else {
            self.verdict(&self.buf)
        };
        match verdict {
            Verdict::Fits => on_line(decode(&self.buf, &mut self.invalid_utf8)),
            Verdict::Oversized => on_line(Line::Oversized { len: len as u64 }),
            Verdict::TooLong => on_line(Line::TooLong { len: len as u64 }),
        }
    }

    /// Whether the line started in `buf` may be long (`None` without `allow_long`).
    fn verdict_of_head(&self) -> Option<bool> {
        self.long.map(|(_, may_be_long)| may_be_long(&self.buf))
    }

    /// Ends the stream: delivers a last line that had no newline (a trailing `\r` is
    /// stripped), or reports it as oversized. The decoder is then empty and ready for
    /// a new stream.
    pub fn finish<F>(&mut self, on_line: &mut F)
    where
        F: FnMut(Line<'_>),
    {
        let mut on_line = |line: Line<'_>| {
            on_line(line);
            false
        };
        self.skip_lf = false;
        if self.has_partial_line() {
            self.end_partial(b"", &mut on_line);
        }
    }

    /// Keeps `piece` (a line's start or middle, no line end in it) for later, or
    /// starts skipping the line once it is certainly too long.
    fn keep_partial(&mut self, mut piece: &[u8]) {
        if piece.is_empty() {
            return;
        }
        if self.skipping.is_some() {
            self.skip_more(piece);
            return;
        }
        let limit = if self.buf_long {
            self.long.map_or(self.max_line_len, |(max, _)| max)
        } else {
            self.max_line_len
        };
        // One byte of slack: a `\r` at the end may belong to the line end.
        if self.buf.len() + piece.len() <= limit + 1 {
            self.buf.extend_from_slice(piece);
            return;
        }
        if !self.buf_long && self.long.is_some() {
            // Enough of the line to tell whether it may be long.
            let head = (self.max_line_len + 2).saturating_sub(self.buf.len());
            let (first, rest) = piece.split_at(head.min(piece.len()));
            self.buf.extend_from_slice(first);
            piece = rest;
            if self.verdict_of_head() == Some(true) {
                self.buf_long = true;
                return self.keep_partial(piece);
            }
        }
        self.skipping = Some(self.buf.len() as u64);
        self.skipped_cr = !self.cr_ends_lines && self.buf.last() == Some(&b'\r');
        self.buf.clear();
        self.skip_more(piece);
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
                Line::TooLong { len } => format!("<<{len}>>"),
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
    fn a_line_tells_its_text() {
        assert_eq!(Line::Text("t".into()).text(), Some("t"));
        assert_eq!(Line::Lossy("l".into()).text(), Some("l"));
        assert_eq!(Line::Oversized { len: 3 }.text(), None);
        assert_eq!(Line::TooLong { len: 3 }.text(), None);
        assert_eq!(
            Line::TooLong { len: 3 }.into_owned(),
            Line::TooLong { len: 3 }
        );
    }

    /// Issue 24, item 3: with `cr_ends_lines`, CR, LF and CRLF each end one line
    /// (a CRLF is one line end, not two), whatever the chunking.
    #[test]
    fn cr_lf_and_crlf_each_end_one_line() {
        let body = b"a\r\nb\rc\nd\r\r\ne\r";
        for cut in 0..=body.len() {
            let mut d = LineDecoder::new(100);
            assert!(!d.cr_ends_lines());
            d.set_cr_ends_lines();
            assert!(d.cr_ends_lines());
            let mut lines = Vec::new();
            let mut on = |l: Line<'_>| lines.push(l.text().unwrap_or("<>").to_owned());
            d.push(&body[..cut], &mut on);
            d.push(&body[cut..], &mut on);
            d.push(b"\nf", &mut on);
            d.finish(&mut on);
            assert_eq!(lines, ["a", "b", "c", "d", "", "e", "f"], "cut {cut}");
        }
    }

    /// A line that may be long, started in one chunk and ended in a later one far
    /// past the long limit, is too long: never delivered, never buffered whole.
    #[test]
    fn a_long_line_ending_far_past_its_limit_is_too_long() {
        let mut d = LineDecoder::new(4).allow_long(16, |head| head.starts_with(b"data:"));
        let mut lines = Vec::new();
        d.push(b"data: 0123", &mut |l| lines.push(l.into_owned()));
        let mut end = vec![b'x'; 1000];
        end.push(b'\n');
        d.push(&end, &mut |l| lines.push(l.into_owned()));
        assert_eq!(lines, [Line::TooLong { len: 1010 }]);
        assert!(
            d.buffered_capacity() <= 2 * 16 + 2,
            "{}",
            d.buffered_capacity()
        );
    }

    /// Long lines (and short ones) that span chunks: every way to cut the body in
    /// two, and byte by byte, gives what the whole body gives.
    #[test]
    fn long_lines_do_not_depend_on_the_chunking() {
        let body = b"data: 0123456789\nplain line\nplain line longer than 16\ndata: 01234567890123456789\nda\nd\ndata:\n";
        let want = [
            Line::Text("data: 0123456789".into()),
            Line::Oversized { len: 10 },
            Line::Oversized { len: 25 },
            Line::TooLong { len: 26 },
            Line::Text("da".into()),
            Line::Text("d".into()),
            Line::Text("data:".into()),
        ];
        let decoder = || LineDecoder::new(4).allow_long(16, |head| head.starts_with(b"data:"));
        let run = |chunks: &[&[u8]]| {
            let mut d = decoder();
            let mut lines = Vec::new();
            for c in chunks {
                d.push(c, &mut |l| lines.push(l.into_owned()));
                assert!(d.buffered_capacity() <= 2 * 16 + 2);
            }
            d.finish(&mut |l| lines.push(l.into_owned()));
            lines
        };
        assert_eq!(run(&[body]), want);
        for cut in 0..=body.len() {
            assert_eq!(run(&[&body[..cut], &body[cut..]]), want, "cut {cut}");
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(run(&bytes), want);
    }

    /// A line found not to be long, skipped from its head on: a `\r` that ends
    /// the head is not counted if the line ends right after it (`\r\n`).
    #[test]
    fn a_line_skipped_from_its_head_counts_its_bytes_right() {
        for (head, len) in [(&b"abcde\r"[..], 5), (b"abcdef", 6)] {
            let mut d = LineDecoder::new(4).allow_long(16, |h| h.starts_with(b"data:"));
            let mut lines = Vec::new();
            d.push(head, &mut |l| lines.push(l.into_owned()));
            d.push(b"\n", &mut |l| lines.push(l.into_owned()));
            assert_eq!(lines, [Line::Oversized { len }]);
        }
    }

    /// `may_be_long` sees at least `max_line_len + 1` bytes of a line, also with a
    /// zero limit and a line that starts a chunk.
    #[test]
    fn may_be_long_sees_the_head_it_is_promised() {
        let mut d = LineDecoder::new(0).allow_long(16, |h| h.first() == Some(&b'd'));
        let mut lines = Vec::new();
        d.push(b"dx", &mut |l| lines.push(l.into_owned()));
        d.push(b"\nxy", &mut |l| lines.push(l.into_owned()));
        d.finish(&mut |l| lines.push(l.into_owned()));
        assert_eq!(lines, [Line::Text("dx".into()), Line::Oversized { len: 2 }]);
    }

    /// A long line's room is given back once it is delivered.
    #[test]
    fn a_long_lines_room_is_given_back() {
        let mut d = LineDecoder::new(10).allow_long(100_000, |_| true);
        let mut n = 0;
        d.push(&[b'x'; 50_000], &mut |_| n += 1);
        assert!(d.buffered_capacity() >= 50_000);
        d.push(b"\n", &mut |_| n += 1);
        assert_eq!(n, 1);
        assert!(d.buffered_capacity() <= 12, "{}", d.buffered_capacity());
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
