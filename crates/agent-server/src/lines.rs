//! Line numbers and start positions of a job's log, the serving layer's one rule
//! for every backend (the spec's "Line numbers and cursors").
//!
//! Lines are numbered from 1 in log order; an empty line counts. A log event's
//! `message` holds one line or several (`a\nb\n`): it is numbered by its first line,
//! and its lines are counted by [`lines_in`]. A tail may start elsewhere
//! ([`LogStart`], read from the request by [`tail_start`]); the backend is asked for
//! it ([`crate::AgentBackend::tail_at`]) and says where its events really start
//! ([`TailAt`]); the lines before the start asked for are dropped here, never sent
//! ([`numbered`]).

use std::pin::Pin;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use http::HeaderMap;

use agent_proto::JobId;

use crate::backend::{
    AgentBackend, BackendError, BackendResult, LogBody, RequestContext, TailEvent, TailProtocol,
    TailStream,
};

/// Where a log tail (or the answer of `jobs/{id}/logs/`) starts.
///
/// ```
/// use agent_server::LogStart;
///
/// assert_eq!(LogStart::default(), LogStart::Line(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStart {
    /// At line K (1-based): `?from_line=K`, or `Last-Event-ID: K-1`. `Line(1)` is
    /// the whole log.
    Line(u64),
    /// With the last N lines written so far: `?tail=N`.
    Last(u64),
}

impl Default for LogStart {
    fn default() -> Self {
        LogStart::Line(1)
    }
}

/// A tail as a backend starts it for a [`LogStart`] (see
/// [`crate::AgentBackend::tail_at`]).
///
/// ```
/// use agent_server::{TailAt, TailEvent, TailStream};
///
/// let events: TailStream = Box::pin(futures_util::stream::iter([TailEvent::Complete]));
/// // a backend that can only replay its log from line 1, asked for line 40:
/// let at = TailAt::new(events, Some(1), 40);
/// assert_eq!((at.first_line, at.from_line), (Some(1), 40));
/// ```
pub struct TailAt {
    /// The events.
    pub events: TailStream,
    /// The number of the first line `events` carries; `None` when the backend does
    /// not know it (its lines then go out unnumbered, and none is dropped).
    pub first_line: Option<u64>,
    /// The first line to send: the serving layer drops the lines before it.
    pub from_line: u64,
}

impl TailAt {
    /// Events whose first line is `first_line`, to be sent from line `from_line`.
    pub fn new(events: TailStream, first_line: Option<u64>, from_line: u64) -> Self {
        TailAt {
            events,
            first_line,
            from_line,
        }
    }
}

impl std::fmt::Debug for TailAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TailAt")
            .field("first_line", &self.first_line)
            .field("from_line", &self.from_line)
            .finish_non_exhaustive()
    }
}

/// The default of [`AgentBackend::tail_at`], for a backend that overrides it only
/// for some starts: [`AgentBackend::tail`] replayed from line 1 (the serving layer
/// drops the lines before the start, unsent), the start of the last N lines found
/// by counting the lines of [`AgentBackend::job_logs`].
pub async fn replayed_tail_at<B: AgentBackend + ?Sized>(
    backend: &B,
    ctx: &RequestContext,
    job: &JobId,
    protocol: TailProtocol,
    start: LogStart,
) -> BackendResult<TailAt> {
    let from_line = match start {
        LogStart::Line(k) => k,
        LogStart::Last(n) => {
            let total = count_lines(backend.job_logs(ctx, job).await?).await?;
            total.saturating_sub(n) + 1
        }
    };
    Ok(TailAt::new(
        backend.tail(ctx, job, protocol).await?,
        Some(1),
        from_line,
    ))
}

/// How many lines a log event's `message` holds: its `\n`-ended lines plus an
/// unended last one; an empty message is one (empty) line.
///
/// ```
/// use agent_server::lines_in;
///
/// assert_eq!(lines_in(""), 1);
/// assert_eq!(lines_in("a"), 1);
/// assert_eq!(lines_in("a\n"), 1);
/// assert_eq!(lines_in("a\n\nb"), 3);
/// ```
pub fn lines_in(message: &str) -> u64 {
    // One rule, shared with the clients that count the lines the same way.
    agent_proto::lines_in(message)
}

fn bad_query(message: String) -> BackendError {
    BackendError::detail(400, message)
}

fn number(value: &str, name: &str) -> BackendResult<u64> {
    value
        .parse::<u64>()
        .map_err(|_| bad_query(format!("{name} must be a whole number, not {value:?}")))
}

/// Where a tail starts, from its query (`from_line`, `tail`) and, over HTTP, its
/// `Last-Event-ID` header. A bad value, or two of them at once, is a 400.
pub(crate) fn tail_start(query: Option<&str>, headers: &HeaderMap) -> BackendResult<LogStart> {
    let from = agent_proto::query::param(query, "from_line")
        .map(|v| number(&v, "from_line"))
        .transpose()?;
    if from == Some(0) {
        return Err(bad_query("from_line counts from 1".into()));
    }
    let last_id = match headers.get("last-event-id") {
        None => None,
        Some(v) => {
            let text = v
                .to_str()
                .map_err(|_| bad_query("Last-Event-ID must be a whole number".into()))?;
            let id = number(text.trim(), "Last-Event-ID")?;
            Some(id.checked_add(1).ok_or_else(|| {
                bad_query("Last-Event-ID is past the last line there can be".into())
            })?)
        }
    };
    let tail = logs_tail(query)?;
    match (from, last_id, tail) {
        (None, None, None) => Ok(LogStart::default()),
        (Some(k), None, None) | (None, Some(k), None) => Ok(LogStart::Line(k)),
        (Some(a), Some(b), None) if a == b => Ok(LogStart::Line(a)),
        (Some(_), Some(_), None) => Err(bad_query(
            "from_line and Last-Event-ID ask for different lines".into(),
        )),
        (None, None, Some(n)) => Ok(LogStart::Last(n)),
        _ => Err(bad_query(
            "tail cannot be asked together with from_line or Last-Event-ID".into(),
        )),
    }
}

/// `?tail=N` of `jobs/{id}/logs/` (and of tails), if asked.
pub(crate) fn logs_tail(query: Option<&str>) -> BackendResult<Option<u64>> {
    agent_proto::query::param(query, "tail")
        .map(|v| number(&v, "tail"))
        .transpose()
}

/// A log event to send, with the number of its first line (`None` when unnumbered)
/// and how many lines it holds (for the lines-sent counter).
pub(crate) struct Numbered {
    pub(crate) event: TailEvent,
    pub(crate) n: Option<u64>,
    pub(crate) lines: u64,
}

/// The events of a tail as they are sent.
pub(crate) type NumberedStream = Pin<Box<dyn Stream<Item = Numbered> + Send>>;

/// Numbers the lines of `at`'s events and drops those before `at.from_line`: a
/// message is cut to its first kept line, and one wholly before the start is not
/// sent at all.
pub(crate) fn numbered(at: TailAt) -> NumberedStream {
    let TailAt {
        events,
        first_line,
        from_line,
    } = at;
    let mut next = first_line;
    Box::pin(events.filter_map(move |event| {
        // bytes sent as they are (a test server's broken events) may hold any
        // number of lines: the numbers stop there rather than go wrong
        #[cfg(feature = "test-util")]
        if matches!(event, TailEvent::Raw(_) | TailEvent::Fragment { .. }) {
            next = None;
        }
        let out = match event {
            TailEvent::Log(message) => {
                let lines = lines_in(&message);
                match next {
                    None => Some(Numbered {
                        event: TailEvent::Log(message),
                        n: None,
                        lines,
                    }),
                    Some(first) => {
                        next = Some(first.saturating_add(lines));
                        let drop = from_line.saturating_sub(first);
                        if drop >= lines {
                            None
                        } else {
                            let message = if drop == 0 {
                                message
                            } else {
                                skip_lines_of(&message, drop).to_owned()
                            };
                            Some(Numbered {
                                event: TailEvent::Log(message),
                                n: Some(first + drop),
                                lines: lines - drop,
                            })
                        }
                    }
                }
            }
            event => Some(Numbered {
                event,
                n: None,
                lines: 0,
            }),
        };
        std::future::ready(out)
    }))
}

/// `message` without its first `drop` lines (fewer than it holds).
fn skip_lines_of(message: &str, drop: u64) -> &str {
    let mut rest = message;
    for _ in 0..drop {
        match rest.find('\n') {
            Some(i) => rest = &rest[i + 1..],
            None => return "",
        }
    }
    rest
}

/// How many lines a log holds: its `\n`-ended lines plus an unended last one
/// (read piece by piece: memory does not grow with the log).
pub async fn count_lines(log: LogBody) -> BackendResult<u64> {
    let mut pieces = log.into_stream();
    let (mut lines, mut open) = (0u64, false);
    while let Some(piece) = pieces.next().await {
        let piece = piece?;
        lines += memchr_count(&piece);
        if let Some(&last) = piece.last() {
            open = last != b'\n';
        }
    }
    Ok(lines + u64::from(open))
}

fn memchr_count(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// The last `n` lines of a log of `total` lines, read from `log` (the same log,
/// read again): the lines before them are read and dropped, and the answer ends
/// with line `total`, so a log that grew between the two reads still answers `n`.
pub(crate) fn last_lines(log: LogBody, total: u64, n: u64) -> LogBody {
    let skip = total.saturating_sub(n);
    let take = total - skip;
    let state = (log.into_stream(), skip, take);
    LogBody::wrap_stream(futures_util::stream::unfold(
        state,
        |(mut pieces, mut skip, mut take)| async move {
            loop {
                if take == 0 {
                    return None;
                }
                let mut piece = match pieces.next().await? {
                    Ok(piece) => piece,
                    Err(e) => return Some((Err(e), (pieces, 0, 0))),
                };
                while skip > 0 && !piece.is_empty() {
                    match piece.iter().position(|&b| b == b'\n') {
                        Some(i) => {
                            skip -= 1;
                            piece = piece.slice(i + 1..);
                        }
                        None => piece = Bytes::new(),
                    }
                }
                if piece.is_empty() {
                    continue;
                }
                // keep `take` lines: cut after the `take`-th newline
                let mut end = piece.len();
                let mut seen = 0u64;
                for (i, &b) in piece.iter().enumerate() {
                    if b == b'\n' {
                        seen += 1;
                        if seen == take {
                            end = i + 1;
                            break;
                        }
                    }
                }
                take -= seen.min(take);
                return Some((Ok(piece.slice(..end)), (pieces, skip, take)));
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// The lines a sequence of messages holds, in order.
    fn lines_of(messages: &[String]) -> Vec<String> {
        messages
            .iter()
            .flat_map(|m| {
                if m.is_empty() {
                    vec![String::new()]
                } else {
                    m.split_terminator('\n').map(str::to_owned).collect()
                }
            })
            .collect()
    }

    fn message() -> impl Strategy<Value = String> {
        let line = prop_oneof![Just(String::new()), "[a-c ]{1,4}"];
        (prop::collection::vec(line, 1..4), any::<bool>()).prop_map(|(lines, batch)| {
            if batch {
                lines.iter().map(|l| format!("{l}\n")).collect()
            } else {
                lines.join("\n")
            }
        })
    }

    fn sent(messages: Vec<String>, first: Option<u64>, from: u64) -> Vec<(String, Option<u64>)> {
        let mut events: Vec<TailEvent> = messages.into_iter().map(TailEvent::Log).collect();
        events.push(TailEvent::Complete);
        let at = TailAt::new(Box::pin(futures_util::stream::iter(events)), first, from);
        run(numbered(at).collect::<Vec<_>>())
            .into_iter()
            .filter_map(|s| match s.event {
                TailEvent::Log(m) => {
                    assert_eq!(s.lines, lines_in(&m));
                    Some((m, s.n))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_bad_query_is_a_400() {
        let h = HeaderMap::new();
        for q in [
            "from_line=0",
            "from_line=x",
            "from_line=-1",
            "tail=x",
            "tail=1&from_line=2",
        ] {
            let e = tail_start(Some(q), &h).unwrap_err();
            assert_eq!(e.status.as_u16(), 400, "{q}");
        }
        let mut h = HeaderMap::new();
        h.insert("last-event-id", "4".parse().unwrap());
        assert_eq!(tail_start(None, &h).unwrap(), LogStart::Line(5));
        assert_eq!(
            tail_start(Some("from_line=5"), &h).unwrap(),
            LogStart::Line(5)
        );
        assert!(tail_start(Some("from_line=6"), &h).is_err());
        assert_eq!(
            tail_start(Some("tail=0"), &HeaderMap::new()).unwrap(),
            LogStart::Last(0)
        );
    }

    #[test]
    fn counting_a_log_counts_an_unended_last_line() {
        let count = |t: &'static str| run(count_lines(t.into())).unwrap();
        assert_eq!(count(""), 0);
        assert_eq!(count("a"), 1);
        assert_eq!(count("a\n"), 1);
        assert_eq!(count("a\n\nb"), 3);
    }

    proptest! {
        /// Numbers are exactly from_line.. in order with no gap, and the lines
        /// sent are exactly the lines from `from_line` on.
        #[test]
        fn from_line_sends_exactly_the_lines_from_there(
            messages in prop::collection::vec(message(), 0..12),
            from in 1u64..40,
        ) {
            let all = lines_of(&messages);
            let out = sent(messages, Some(1), from);
            let mut expected_n = from;
            for (m, n) in &out {
                prop_assert_eq!(*n, Some(expected_n));
                expected_n += lines_in(m);
            }
            let got = lines_of(&out.into_iter().map(|(m, _)| m).collect::<Vec<_>>());
            let want: Vec<String> = all.into_iter().skip(from as usize - 1).collect();
            prop_assert_eq!(got, want);
        }

        /// The last `n` lines of a log cut anywhere are its last `n` lines.
        #[test]
        fn last_lines_are_the_last_lines(
            text in "[ab\n]{0,40}",
            n in 0u64..12,
            cuts in prop::collection::vec(1usize..7, 1..5),
        ) {
            let mut pieces = Vec::new();
            let mut rest = text.as_bytes();
            for c in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (a, b) = rest.split_at((*c).min(rest.len()));
                pieces.push(Ok(Bytes::copy_from_slice(a)));
                rest = b;
            }
            let total = run(count_lines(text.clone().into())).unwrap();
            let body = LogBody::wrap_stream(futures_util::stream::iter(pieces));
            let got: Vec<u8> = run(last_lines(body, total, n).into_stream().map(|p| p.unwrap()).collect::<Vec<_>>()).concat();
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            let want = lines[lines.len().saturating_sub(n as usize)..].concat();
            prop_assert_eq!(String::from_utf8(got).unwrap(), want);
        }
    }
}
