//! Re-splitting Ray's log batches into whole lines.
//!
//! Ray's tail WebSocket sends the log file in batches (up to 10 lines or about
//! 20 KB of text each), and a batch may end in the middle of a line. The agent
//! protocol sends one line per event, so the gateway keeps the unfinished end of a
//! batch until the rest of its line arrives. Nothing is skipped or merged: the
//! lines counted here are exactly the lines of the log file, which is what the
//! exactly-once logic of [`crate::tail`] relies on.

/// Turns text arriving in arbitrary pieces into whole lines (`\n`-terminated; a
/// trailing `\r` is dropped), keeping the unfinished end for the next piece.
///
/// ```
/// use agent_gateway::lines::LineSplitter;
///
/// let mut s = LineSplitter::new();
/// let mut out = Vec::new();
/// s.push("line 1\nline", &mut |l| out.push(l.to_owned()));
/// s.push(" 2\r\nline 3", &mut |l| out.push(l.to_owned()));
/// assert_eq!(out, ["line 1", "line 2"]);
/// assert_eq!(s.partial(), "line 3");
/// ```
#[derive(Debug, Default, Clone)]
pub struct LineSplitter {
    partial: String,
}

impl LineSplitter {
    /// An empty splitter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one piece of text; calls `on_line` with each line it completes, in
    /// order, without its line ending.
    pub fn push<F: FnMut(&str)>(&mut self, text: &str, on_line: &mut F) {
        let mut rest = text;
        while let Some(pos) = memchr::memchr(b'\n', rest.as_bytes()) {
            let head = &rest[..pos];
            rest = &rest[pos + 1..];
            if self.partial.is_empty() {
                on_line(trim_cr(head));
            } else {
                self.partial.push_str(head);
                on_line(trim_cr(&self.partial));
                self.partial.clear();
            }
        }
        self.partial.push_str(rest);
    }

    /// The unfinished end kept so far (text after the last `\n`).
    pub fn partial(&self) -> &str {
        &self.partial
    }

    /// Forgets the unfinished end (a new connection replays the log from the start).
    pub fn reset(&mut self) {
        self.partial.clear();
    }
}

fn trim_cr(line: &str) -> &str {
    line.strip_suffix('\r').unwrap_or(line)
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
    body.split('\n').filter(move |_| !empty).map(trim_cr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(pieces: &[&str]) -> (Vec<String>, String) {
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        for p in pieces {
            s.push(p, &mut |l| out.push(l.to_owned()));
        }
        (out, s.partial().to_owned())
    }

    #[test]
    fn any_cut_of_a_log_gives_the_same_lines() {
        let log = "first\nsecond line\r\n\nfourth é line\nend";
        let whole: Vec<&str> = split_log(log).collect();
        for cut in 0..=log.len() {
            if !log.is_char_boundary(cut) {
                continue;
            }
            let (mut lines, partial) = split_all(&[&log[..cut], &log[cut..]]);
            if !partial.is_empty() {
                lines.push(partial);
            }
            assert_eq!(lines, whole, "cut at {cut}");
        }
    }

    #[test]
    fn fixture_transcript_resplits_to_the_log() {
        let frames = crate::test_fixtures::tail_frames();
        let frames: Vec<&str> = frames.iter().map(String::as_str).collect();
        let (lines, partial) = split_all(&frames);
        assert_eq!(partial, "");
        let log = crate::test_fixtures::job_log();
        let expected: Vec<&str> = split_log(&log).collect();
        assert_eq!(lines, expected);
        assert_eq!(lines.last().map(String::as_str), Some("last line"));
    }

    #[test]
    fn byte_by_byte_pieces() {
        let log = "a\nbb\nccc\n";
        let pieces: Vec<String> = log.chars().map(String::from).collect();
        let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
        let (lines, partial) = split_all(&refs);
        assert_eq!(lines, ["a", "bb", "ccc"]);
        assert!(partial.is_empty());
    }
}
