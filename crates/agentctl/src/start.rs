//! Where a tail starts: `--tail N` (the last N lines written so far, then what
//! follows) or `--from-line K`.
//!
//! The start is asked of the server ([`agent_proto::TailOptions::start()`]:
//! `?tail=N`, `?from_line=K`); the client library knows it was honoured from the
//! tail's first event ([`agent_client_async::LogTail::start_honoured`]), and then
//! every line passes. A server that does not honour it (the SDK's agent) sends
//! the log from its first line: the [`Window`] keeps the spec's fallback, the last
//! N lines in a ring (memory bounded by N lines), or the lines from K on. Those
//! line numbers count the lines the tail delivers (blank lines are not delivered,
//! so not counted).

use std::collections::VecDeque;

/// Where to start: the client library's own.
pub use agent_proto::TailStart as Start;

/// A job's lines before its start: what one tail holds back.
#[derive(Debug)]
pub struct Window {
    start: Start,
    /// Lines seen so far (the number of the last one).
    seen: u64,
    /// `Last(n)`, while the log written so far is read: its last lines (at most n).
    ring: VecDeque<String>,
    /// `Last(n)`: the log written so far has been read; lines pass.
    settled: bool,
}

impl Window {
    /// A window for `start`.
    pub fn new(start: Start) -> Window {
        Window {
            start,
            seen: 0,
            ring: VecDeque::new(),
            settled: !matches!(start, Start::Last(_)),
        }
    }

    /// True while lines are held back until [`Window::settle`].
    pub fn holding(&self) -> bool {
        !self.settled
    }

    /// The server honoured the start: it sends only the lines from there, and every
    /// line passes.
    pub fn honoured(&mut self) {
        self.start = Start::Beginning;
        self.settled = true;
    }

    /// The next line of the log: `Some` when it is to be printed now.
    pub fn offer(&mut self, line: String) -> Option<String> {
        self.seen += 1;
        match self.start {
            Start::Beginning => Some(line),
            Start::FromLine(k) => (self.seen >= k).then_some(line),
            Start::Last(_) if self.settled => Some(line),
            Start::Last(n) => {
                if n == 0 {
                    return None;
                }
                // Never more than n lines held: the oldest goes first.
                if self.ring.len() as u64 >= n {
                    self.ring.pop_front();
                }
                self.ring.push_back(line);
                None
            }
        }
    }

    /// The log written so far has been read: the lines held back, in order; from now
    /// on every line passes.
    pub fn settle(&mut self) -> impl Iterator<Item = String> + '_ {
        self.settled = true;
        self.ring.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(start: Start, before: &[String], after: &[String]) -> (Vec<String>, usize) {
        let mut w = Window::new(start);
        let mut out = Vec::new();
        let mut most = 0;
        for l in before {
            out.extend(w.offer(l.clone()));
            most = most.max(w.ring.len());
        }
        out.extend(w.settle());
        for l in after {
            out.extend(w.offer(l.clone()));
        }
        (out, most)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        /// `--tail N`: the last N lines read before settling, then every later one,
        /// with never more than N lines held.
        #[test]
        fn last_n_holds_at_most_n(
            n in 0u64..20,
            before in proptest::collection::vec("[a-z]{1,4}", 0..60),
            after in proptest::collection::vec("[a-z]{1,4}", 0..10),
        ) {
            let (out, most) = run(Start::Last(n), &before, &after);
            let keep = before.len().saturating_sub(n as usize);
            let mut want: Vec<String> = before[keep..].to_vec();
            want.extend(after.iter().cloned());
            prop_assert_eq!(out, want);
            prop_assert!(most as u64 <= n);
        }

        /// `--from-line K`: lines K, K+1, ... (1-based).
        #[test]
        fn from_line_k_skips_the_first_k_minus_one(
            k in 0u64..30,
            lines in proptest::collection::vec("[a-z]{1,4}", 0..40),
        ) {
            let (out, most) = run(Start::FromLine(k), &lines, &[]);
            let skip = (k.max(1) - 1) as usize;
            prop_assert_eq!(out, lines.iter().skip(skip).cloned().collect::<Vec<_>>());
            prop_assert_eq!(most, 0);
        }
    }
}
