//! Re-splitting Ray's log bytes into whole lines, with a bounded buffer.
//!
//! Ray's tail WebSocket sends the log file in batches (up to 10 lines or about
//! 20 KB of text each), and a batch may end in the middle of a line; its log-file
//! API streams the file's raw bytes in chunks of any size. The agent protocol
//! sends one line per event, so the gateway keeps the unfinished end of a piece
//! until the rest of its line arrives. Nothing is merged: the lines counted here
//! are exactly the lines of the log file, which is what the exactly-once logic of
//! [`crate::tail`] relies on.
//!
//! The unfinished end is kept only up to `max_line` bytes: a longer line is read
//! through and reported as [`Line::Oversized`] (skipped and counted, as the
//! clients do with a message past their `max_message_size`), so a job that prints
//! gigabytes without a newline costs `max_line` bytes, not gigabytes. Bytes are
//! decoded when a line is sent, invalid UTF-8 becoming U+FFFD ([`decode`]).

use std::borrow::Cow;

/// The default longest line kept whole: 1 MiB.
pub const DEFAULT_MAX_LINE: usize = 1024 * 1024;

/// One line of the log, without its line ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// A line of at most `max_line` bytes, as the file holds it.
    Whole(&'a [u8]),
    /// A line longer than `max_line`, read through and dropped; its length in
    /// bytes.
    Oversized(u64),
}

/// Turns bytes arriving in arbitrary pieces into whole lines (`\n`-terminated; a
/// trailing `\r` is dropped), keeping at most `max_line` bytes of the unfinished
/// end for the next piece.
///
/// ```
/// use agent_gateway::lines::{Line, LineSplitter};
///
/// let mut s = LineSplitter::new(8);
/// let mut out = Vec::new();
/// let mut keep = |l: Line<'_>| out.push(format!("{l:?}"));
/// s.push(b"line 1\nline", &mut keep);
/// s.push(b" 2\r\nmuch too long\nend", &mut keep);
/// s.finish(&mut keep);
/// assert_eq!(out, [r#"Whole([108, 105, 110, 101, 32, 49])"#,
///                  r#"Whole([108, 105, 110, 101, 32, 50])"#,
///                  "Oversized(13)", r#"Whole([101, 110, 100])"#]);
/// ```
#[derive(Debug, Clone)]
pub struct LineSplitter {
    partial: Vec<u8>,
    /// The length of an unfinished line past `max_line` (its bytes are dropped).
    oversized: Option<u64>,
    max_line: usize,
}

impl Default for LineSplitter {
    fn default() -> Self {
        LineSplitter::new(DEFAULT_MAX_LINE)
    }
}

impl LineSplitter {
    /// An empty splitter keeping lines of up to `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        LineSplitter {
            partial: Vec::new(),
            oversized: None,
            max_line,
        }
    }

    /// Feeds one piece; calls `on_line` with each line it completes, in order.
    pub fn push<F: FnMut(Line<'_>)>(&mut self, bytes: &[u8], on_line: &mut F) {
        let mut rest = bytes;
        while let Some(pos) = memchr::memchr(b'\n', rest) {
            let head = &rest[..pos];
            rest = &rest[pos + 1..];
            if let Some(len) = self.oversized.take() {
                on_line(Line::Oversized(len + head.len() as u64));
            } else if self.partial.is_empty() {
                on_line(self.whole(trim_cr(head)));
            } else {
                self.partial.extend_from_slice(head);
                let line = std::mem::take(&mut self.partial);
                on_line(self.whole(trim_cr(&line)));
                // Keep the allocation for the next line, unless it grew large.
                if line.capacity() <= 64 * 1024 {
                    self.partial = line;
                    self.partial.clear();
                }
            }
        }
        self.keep(rest);
    }

    /// The end of the log: the unterminated last line, if there is one (a job's
    /// last `print(..., end="")`), then the splitter is empty.
    pub fn finish<F: FnMut(Line<'_>)>(&mut self, on_line: &mut F) {
        if let Some(len) = self.oversized.take() {
            on_line(Line::Oversized(len));
        } else if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            on_line(self.whole(trim_cr(&line)));
        }
    }

    /// The unfinished end kept so far (at most `max_line` bytes).
    pub fn partial(&self) -> &[u8] {
        &self.partial
    }

    /// The bytes held for the unfinished end (its allocation): never more than
    /// `max_line` plus the reserve of the last line.
    pub fn buffered(&self) -> usize {
        self.partial.capacity()
    }

    /// Forgets the unfinished end (a new connection replays the log from the start).
    pub fn reset(&mut self) {
        self.partial = Vec::new();
        self.oversized = None;
    }

    fn whole<'a>(&self, line: &'a [u8]) -> Line<'a> {
        if line.len() > self.max_line {
            Line::Oversized(line.len() as u64)
        } else {
            Line::Whole(line)
        }
    }

    fn keep(&mut self, rest: &[u8]) {
        if rest.is_empty() {
            return;
        }
        if let Some(len) = &mut self.oversized {
            *len += rest.len() as u64;
        } else if self.partial.len() + rest.len() > self.max_line + 1 {
            // `+ 1`: a line of exactly `max_line` bytes may still end in `\r\n`.
            self.oversized = Some((self.partial.len() + rest.len()) as u64);
            self.partial = Vec::new();
        } else {
            self.partial.extend_from_slice(rest);
        }
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A line's bytes as text, as the clients decode them: invalid UTF-8 sequences
/// become U+FFFD.
///
/// ```
/// assert_eq!(agent_gateway::lines::decode(b"a\xffb"), "a\u{FFFD}b");
/// ```
pub fn decode(line: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(line)
}

/// The lines of a whole log: every `\n`-terminated line, then the unterminated
/// end if the log does not end with a newline (a job's last `print(..., end="")`).
///
/// ```
/// let lines: Vec<&str> = agent_gateway::lines::split_log("a\nb\r\n\nlast").collect();
/// assert_eq!(lines, ["a", "b", "", "last"]);
/// assert_eq!(agent_gateway::lines::split_log("a\n").count(), 1);
/// assert_eq!(agent_gateway::lines::split_log("").count(), 0);
/// ```
pub fn split_log(log: &str) -> impl Iterator<Item = &str> + '_ {
    let body = log.strip_suffix('\n').unwrap_or(log);
    let empty = log.is_empty();
    body.split('\n')
        .filter(move |_| !empty)
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split_all(pieces: &[&[u8]], max: usize) -> Vec<Result<String, u64>> {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        let mut keep = |l: Line<'_>| {
            out.push(match l {
                Line::Whole(b) => Ok(decode(b).into_owned()),
                Line::Oversized(n) => Err(n),
            })
        };
        for p in pieces {
            s.push(p, &mut keep);
        }
        s.finish(&mut keep);
        out
    }

    #[test]
    fn any_cut_of_a_log_gives_the_same_lines() {
        let log = "first\nsecond line\r\n\nfourth é line\nend";
        let whole: Vec<Result<String, u64>> = split_log(log).map(|l| Ok(l.to_owned())).collect();
        for cut in 0..=log.len() {
            let (a, b) = log.as_bytes().split_at(cut);
            assert_eq!(split_all(&[a, b], 100), whole, "cut at {cut}");
        }
    }

    #[test]
    fn fixture_transcript_resplits_to_the_log() {
        let frames = crate::test_fixtures::tail_frames();
        let frames: Vec<&[u8]> = frames.iter().map(|f| f.as_bytes()).collect();
        let lines = split_all(&frames, DEFAULT_MAX_LINE);
        let log = crate::test_fixtures::job_log();
        let expected: Vec<Result<String, u64>> =
            split_log(&log).map(|l| Ok(l.to_owned())).collect();
        assert_eq!(lines, expected);
        assert_eq!(lines.last(), Some(&Ok("last line".to_owned())));
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let lines = split_all(&[b"ok\n\xff\xfe bad\nhalf \xe2\x82", b"\xac done\n"], 100);
        assert_eq!(
            lines,
            [
                Ok("ok".to_owned()),
                Ok("\u{FFFD}\u{FFFD} bad".to_owned()),
                Ok("half € done".to_owned())
            ]
        );
    }

    #[test]
    fn a_line_past_the_cap_is_skipped_counted_and_never_buffered() {
        let mut s = LineSplitter::new(1000);
        let mut out = Vec::new();
        let chunk = vec![b'x'; 64 * 1024];
        // 64 MiB without a newline: the buffer stays within the cap throughout.
        for _ in 0..1024 {
            s.push(&chunk, &mut |l| out.push(format!("{l:?}")));
            assert!(s.buffered() <= 1001, "{}", s.buffered());
        }
        s.push(b"x\nnext\n", &mut |l| out.push(format!("{l:?}")));
        assert_eq!(out, ["Oversized(67108865)", "Whole([110, 101, 120, 116])"]);
    }

    proptest! {
        /// However the bytes are cut, the lines are the same, lines past the cap are
        /// reported with their length, and the buffer never exceeds the cap.
        #[test]
        fn pieces_never_change_the_lines_and_the_buffer_is_bounded(
            lines in prop::collection::vec(prop::collection::vec(
                prop::sample::select(vec![b'a', b'\r', 0xff, b' ']), 0..40), 0..20),
            newline_at_end in any::<bool>(),
            cuts in prop::collection::vec(1usize..50, 1..20),
            max in 1usize..30,
        ) {
            let mut log = lines.join(&b'\n');
            if newline_at_end && !log.is_empty() { log.push(b'\n'); }
            let whole = split_all(&[&log], max);
            let mut pieces = Vec::new();
            let mut rest = &log[..];
            for c in cuts.iter().cycle() {
                if rest.is_empty() { break; }
                let (a, b) = rest.split_at((*c).min(rest.len()));
                pieces.push(a);
                rest = b;
            }
            let mut s = LineSplitter::new(max);
            let mut cut: Vec<Result<String, u64>> = Vec::new();
            let mut keep = |l: Line<'_>| cut.push(match l {
                Line::Whole(b) => Ok(decode(b).into_owned()),
                Line::Oversized(_) => Err(0),
            });
            for p in &pieces {
                s.push(p, &mut keep);
                prop_assert!(s.partial().len() <= max + 1);
            }
            s.finish(&mut keep);
            // (An oversized line's length may count its `\r`.)
            let whole: Vec<Result<String, u64>> =
                whole.into_iter().map(|l| l.map_err(|_| 0)).collect();
            prop_assert_eq!(&cut, &whole);
            let text = String::from_utf8_lossy(&log).into_owned();
            let expected: Vec<Result<String, u64>> = split_log(&text)
                .zip(log.split(|b| *b == b'\n'))
                .map(|(t, raw)| {
                    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                    if raw.len() > max { Err(0) } else { Ok(t.to_owned()) }
                })
                .collect();
            prop_assert_eq!(whole, expected);
        }
    }
}
