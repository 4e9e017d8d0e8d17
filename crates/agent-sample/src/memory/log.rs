//! A job's log: lines in order, read by index, so that a tail never copies the log and a
//! slow reader costs the server nothing. Generated lines are computed on demand.

use std::sync::Arc;

/// A run of lines of the log.
#[derive(Debug, Clone)]
enum Chunk {
    /// One line given as text.
    Text(Arc<str>),
    /// Generated lines `first..first + count` (see [`generated_line`]).
    Generated { first: u64, count: u64 },
}

/// The text of generated line `index`: `line {index}`, padded with letters to `bytes`
/// bytes when `bytes` is longer.
///
/// ```
/// # use agent_sample::generated_line;
/// assert_eq!(generated_line(3, 0), "line 3");
/// assert_eq!(generated_line(3, 10), "line 3 abc");
/// ```
pub fn generated_line(index: u64, bytes: usize) -> String {
    let mut s = format!("line {index}");
    if bytes > s.len() {
        s.push(' ');
        const FILL: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
        let mut i = 0;
        while s.len() < bytes {
            s.push(FILL[i % FILL.len()] as char);
            i += 1;
        }
    }
    s
}

/// A job's log lines.
#[derive(Debug, Default)]
pub(crate) struct LogStore {
    /// (index of the chunk's first line, chunk), in order.
    chunks: Vec<(u64, Chunk)>,
    len: u64,
    /// The length of generated lines.
    generated_bytes: usize,
}

impl LogStore {
    /// An empty log whose generated lines are `generated_bytes` long.
    pub(crate) fn new(generated_bytes: usize) -> Self {
        LogStore {
            chunks: Vec::new(),
            len: 0,
            generated_bytes,
        }
    }

    /// How many lines there are.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Appends a line.
    pub(crate) fn push(&mut self, line: &str) {
        self.chunks.push((self.len, Chunk::Text(Arc::from(line))));
        self.len += 1;
    }

    /// Appends generated lines `first..first + count`.
    pub(crate) fn push_generated(&mut self, first: u64, count: u64) {
        if count == 0 {
            return;
        }
        if let Some((_, Chunk::Generated { first: f, count: c })) = self.chunks.last_mut() {
            if *f + *c == first {
                *c += count;
                self.len += count;
                return;
            }
        }
        self.chunks
            .push((self.len, Chunk::Generated { first, count }));
        self.len += count;
    }

    /// Line `index`, if there is one.
    pub(crate) fn line(&self, index: u64) -> Option<String> {
        if index >= self.len {
            return None;
        }
        let pos = self.chunks.partition_point(|(start, _)| *start <= index);
        let (start, chunk) = self.chunks.get(pos.checked_sub(1)?)?;
        match chunk {
            Chunk::Text(t) => Some(t.to_string()),
            Chunk::Generated { first, count } => {
                let offset = index - start;
                (offset < *count).then(|| generated_line(first + offset, self.generated_bytes))
            }
        }
    }

    /// Up to `max` lines from `from` on.
    pub(crate) fn lines(&self, from: u64, max: u64) -> Vec<String> {
        let end = self.len.min(from.saturating_add(max));
        (from..end).filter_map(|i| self.line(i)).collect()
    }

    /// The whole log as text: every line followed by `\n`.
    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        for (_, chunk) in &self.chunks {
            match chunk {
                Chunk::Text(t) => {
                    out.push_str(t);
                    out.push('\n');
                }
                Chunk::Generated { first, count } => {
                    for i in *first..*first + *count {
                        out.push_str(&generated_line(i, self.generated_bytes));
                        out.push('\n');
                    }
                }
            }
        }
        out
    }

    /// The last `n` lines.
    pub(crate) fn last_lines(&self, n: u64) -> Vec<String> {
        self.lines(self.len.saturating_sub(n), n)
    }

    #[cfg(test)]
    fn chunk_count(&self) -> usize {
        self.chunks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_generated_lines_interleave_by_index() {
        let mut log = LogStore::new(0);
        log.push("first");
        log.push_generated(0, 3);
        log.push_generated(3, 2);
        log.push("last");
        assert_eq!(log.len(), 7);
        assert_eq!(log.chunk_count(), 3, "contiguous generated runs merge");
        let all: Vec<String> = (0..7).filter_map(|i| log.line(i)).collect();
        assert_eq!(
            all,
            ["first", "line 0", "line 1", "line 2", "line 3", "line 4", "last"]
        );
        assert_eq!(log.line(7), None);
        assert_eq!(log.lines(5, 10), ["line 4", "last"]);
        assert_eq!(log.last_lines(2), ["line 4", "last"]);
        assert_eq!(
            log.text(),
            "first\nline 0\nline 1\nline 2\nline 3\nline 4\nlast\n"
        );
    }

    #[test]
    fn generated_lines_have_the_asked_length() {
        for n in [0usize, 5, 12, 100, 4096] {
            let l = generated_line(12345, n);
            assert!(l.starts_with("line 12345"));
            assert_eq!(l.len(), n.max("line 12345".len()), "{n}");
        }
    }
}
