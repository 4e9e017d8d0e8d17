//! The tail's promise, proved on generated inputs (issue 11): whatever the log, its
//! encoding on each protocol, the chunking of the HTTP body and the point where the
//! WebSocket breaks, a tail delivers the job's whole log exactly once and in order, or
//! fails loudly with what it delivered a prefix of the log. Never anything else.
//!
//! Each case serves a scripted tail from the test server ([`TailFault::script`]) and
//! reads it with both clients, over WebSocket, HTTP or `auto`.
//!
//! Issue 24 widened the generator to tails as they come in the wild: WebSocket
//! messages holding many lines past the size limit, whole and in fragments (a long
//! line sharing a message with short ones costs that line only); SSE bodies with
//! `: ping` comments, `id:`/`event:`/`retry:` fields, pretty-printed JSON events
//! over several `data:` lines, a BOM, and CR, LF or CRLF line ends cut anywhere.
//!
//! `TAIL_PROPERTY_CASES` sets the number of cases (`cargo xtask fuzz-tails` runs
//! many more than `cargo test`).

mod common;

use agent_client_async::{
    AsyncAgentClient, ClientError, LogTail, Protocol, StreamLimits, TailOptions,
};
use agent_client_blocking::AgentClient;
use agent_testkit::{AgentTestServer, Fault, FaultTarget, JobSpec, RouteKind, TailFault};
use common::{drain, drain_blocking, within};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Cases run by `cargo test` unless `TAIL_PROPERTY_CASES` says otherwise.
const DEFAULT_CASES: u32 = 160;

/// The size limit of every case: small, so that lines at and around it are cheap.
const MAX: usize = 48;

/// One line of a generated log, as bytes (no `\n`, no `\r`).
fn log_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // repeats: the same few texts again and again
        6 => prop::sample::select(&["tick", "tick", "a", "b", "done", "step 50%"][..])
            .prop_map(|s| s.as_bytes().to_vec()),
        3 => "[a-z0-9 .:%]{1,20}".prop_map(String::into_bytes),
        3 => Just(Vec::new()),
        // at and around max_message_size
        2 => (MAX - 2..=MAX + 2).prop_map(|n| vec![b'm'; n]),
        // far past it, sharing a batch with short lines
        1 => (2 * MAX..20 * MAX).prop_map(|n| vec![b'L'; n]),
        // invalid UTF-8 (a U+FFFD is 3 bytes: `bad \xff` delivers 7)
        1 => Just(b"bad \xff byte".to_vec()),
        1 => Just(b"\xfe\xff".to_vec()),
    ]
    .prop_filter("a line must not start like an event", |l| {
        !looks_like_sse(l) && !l.starts_with(b"{") && l.iter().any(|b| *b != b' ') || l.is_empty()
    })
}

/// Whether a plain line would be read as something else in an event stream: a
/// comment or a field (agent-server answers tails as `text/event-stream`).
fn looks_like_sse(line: &[u8]) -> bool {
    let name = line.split(|b| *b == b':').next().unwrap_or_default();
    line.starts_with(b":") || [&b"data"[..], b"id", b"event", b"retry"].contains(&name)
}

/// How the WebSocket sends the log.
#[derive(Debug, Clone, Copy)]
enum WsEncoding {
    /// One JSON event per line (an empty message for a blank line).
    Json,
    /// One raw text frame per line (an empty frame for a blank line).
    Raw,
    /// Raw frames of several lines, `a\nb\n`, as Ray's own tail.
    RawBatch,
    /// JSON events whose message holds several lines.
    JsonBatch,
}

/// How the HTTP stream sends the log.
#[derive(Debug, Clone, Copy)]
enum HttpEncoding {
    /// `data: {json}` lines, blank lines between events, then `complete`.
    SseJson,
    /// JSON events holding several lines, pretty-printed over several `data:`
    /// lines when `pretty`.
    SseJsonBatch,
    /// `data: line` lines, then `complete`.
    SseRaw,
    /// Plain lines, then a `complete` event.
    PlainComplete,
    /// Plain lines, then a clean end of the body (no `complete`; not an event
    /// stream, so no CR-only line ends).
    PlainCleanEnd,
}

/// How lines end in the HTTP body.
#[derive(Debug, Clone, Copy, PartialEq)]
enum LineEnd {
    Lf,
    CrLf,
    /// A `\r` alone (an event stream only).
    Cr,
}

impl LineEnd {
    fn bytes(self) -> &'static [u8] {
        match self {
            LineEnd::Lf => b"\n",
            LineEnd::CrLf => b"\r\n",
            LineEnd::Cr => b"\r",
        }
    }
}

/// What an event stream carries besides events: signs of life and fields.
const NOISE: &[&[u8]] = &[
    b": ping",
    b":",
    b"id: 42",
    b"event: log",
    b"retry: 3000",
    b"id",
];

#[derive(Debug, Clone)]
struct Case {
    log: Vec<Vec<u8>>,
    ws: WsEncoding,
    http: HttpEncoding,
    /// Batch sizes (cycled) for the batch encodings.
    batches: Vec<usize>,
    /// Where the HTTP body is cut into chunks.
    cuts: Vec<usize>,
    line_end: LineEnd,
    /// A UTF-8 BOM starts the HTTP body.
    bom: bool,
    /// Comments and fields put before events (indexes into `NOISE`, cycled; none
    /// when empty).
    noise: Vec<usize>,
    /// JSON events over several `data:` lines.
    pretty: bool,
    /// Each WebSocket message is sent in frames of this many bytes.
    fragment: Option<usize>,
    /// The WebSocket breaks after this many frames (`None`: it completes).
    ws_break: Option<usize>,
    protocol: Protocol,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(log_line(), 0..24),
        prop_oneof![
            Just(WsEncoding::Json),
            Just(WsEncoding::Raw),
            Just(WsEncoding::RawBatch),
            Just(WsEncoding::JsonBatch)
        ],
        prop_oneof![
            Just(HttpEncoding::SseJson),
            Just(HttpEncoding::SseJsonBatch),
            Just(HttpEncoding::SseRaw),
            Just(HttpEncoding::PlainComplete),
            Just(HttpEncoding::PlainCleanEnd)
        ],
        prop::collection::vec(prop_oneof![3 => 1usize..5, 1 => 5usize..40], 1..4),
        prop::collection::vec(any::<usize>(), 0..8),
        prop_oneof![Just(LineEnd::Lf), Just(LineEnd::CrLf), Just(LineEnd::Cr)],
        (
            any::<bool>(),
            prop_oneof![1 => Just(Vec::new()), 1 => prop::collection::vec(0..NOISE.len(), 1..4)],
            any::<bool>(),
            prop_oneof![1 => Just(None), 1 => (1usize..64).prop_map(Some)],
        ),
        prop_oneof![1 => Just(None), 4 => (0usize..30).prop_map(Some)],
        prop_oneof![
            1 => Just(Protocol::WebSocket),
            1 => Just(Protocol::Http),
            2 => Just(Protocol::Auto)
        ],
    )
        .prop_map(
            |(
                log,
                ws,
                http,
                batches,
                cuts,
                line_end,
                (bom, noise, pretty, fragment),
                ws_break,
                protocol,
            )| {
                // A body that is not an event stream ends lines with `\n` or `\r\n`.
                let line_end = match (http, line_end) {
                    (HttpEncoding::PlainCleanEnd, LineEnd::Cr) => LineEnd::Lf,
                    (_, end) => end,
                };
                Case {
                    log,
                    ws,
                    http,
                    batches,
                    cuts,
                    line_end,
                    bom,
                    noise,
                    pretty,
                    fragment,
                    ws_break,
                    protocol,
                }
            },
        )
}

/// A JSON log event whose message is `text` (raw bytes: invalid UTF-8 stays invalid,
/// as a broken server would send it). The generated lines need no escaping but `\n`.
fn json_event(text: &[u8]) -> Vec<u8> {
    let mut out = br#"{"type":"log","message":""#.to_vec();
    for b in text {
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => out.push(*b),
        }
    }
    out.extend_from_slice(b"\"}");
    out
}

impl Case {
    /// The lines a tail must deliver: each line as lossy UTF-8, blank ones and those
    /// over the limit skipped.
    fn expected(&self) -> Vec<String> {
        self.log
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .filter(|l| !l.is_empty() && l.len() <= MAX)
            .collect()
    }

    /// The WebSocket frames.
    fn ws_frames(&self) -> Vec<Vec<u8>> {
        match self.ws {
            WsEncoding::Json => self.log.iter().map(|l| json_event(l)).collect(),
            WsEncoding::Raw => self.log.clone(),
            WsEncoding::RawBatch => self.batched(),
            WsEncoding::JsonBatch => self.batched().iter().map(|b| json_event(b)).collect(),
        }
    }

    /// The log in batches of lines (`a\nb\n`), of the sizes `batches` cycles through.
    fn batched(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut rest = &self.log[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = self.batches[i % self.batches.len()].min(rest.len());
            i += 1;
            let mut text = Vec::new();
            for line in &rest[..n] {
                text.extend_from_slice(line);
                text.push(b'\n');
            }
            rest = &rest[n..];
            out.push(text);
        }
        out
    }

    /// A JSON event as `data:` lines (pretty-printed over four of them when
    /// `pretty`), and the blank line that ends it.
    fn sse_json(&self, json: &[u8], body: &mut Vec<u8>) {
        let end = self.line_end.bytes();
        let lines: Vec<&[u8]> = if self.pretty {
            // `{"type":"log","message":"..."}` as `{` / `"type":"log",` / `"message":"..."` / `}`.
            let inner = &json[1..json.len() - 1];
            let comma = inner.iter().position(|b| *b == b',').unwrap_or(inner.len());
            vec![
                b"{",
                &inner[..=comma.min(inner.len() - 1)],
                &inner[comma + 1..],
                b"}",
            ]
        } else {
            vec![json]
        };
        for line in lines {
            body.extend_from_slice(b"data: ");
            body.extend_from_slice(line);
            body.extend_from_slice(end);
        }
        body.extend_from_slice(end);
    }

    /// Comments and fields before the `n`th event (nothing for a plain body).
    fn noise(&self, n: usize, body: &mut Vec<u8>) {
        if self.noise.is_empty() || matches!(self.http, HttpEncoding::PlainCleanEnd) {
            return;
        }
        body.extend_from_slice(NOISE[self.noise[n % self.noise.len()]]);
        body.extend_from_slice(self.line_end.bytes());
    }

    /// The HTTP body, without its end.
    fn http_body(&self) -> Vec<u8> {
        let end = self.line_end.bytes();
        let mut body = Vec::new();
        if self.bom {
            body.extend_from_slice(b"\xEF\xBB\xBF");
        }
        if let HttpEncoding::SseJsonBatch = self.http {
            for (n, batch) in self.batched().iter().enumerate() {
                self.noise(n, &mut body);
                self.sse_json(&json_event(batch), &mut body);
            }
            return body;
        }
        for (n, line) in self.log.iter().enumerate() {
            self.noise(n, &mut body);
            match self.http {
                HttpEncoding::SseJson => self.sse_json(&json_event(line), &mut body),
                HttpEncoding::SseRaw if line.is_empty() => {}
                HttpEncoding::SseRaw => {
                    body.extend_from_slice(b"data: ");
                    body.extend_from_slice(line);
                    body.extend_from_slice(end);
                    body.extend_from_slice(end);
                }
                HttpEncoding::SseJsonBatch
                | HttpEncoding::PlainComplete
                | HttpEncoding::PlainCleanEnd => {
                    body.extend_from_slice(line);
                    body.extend_from_slice(end);
                }
            }
        }
        body
    }

    /// The HTTP body cut into chunks.
    fn http_chunks(&self) -> Vec<Vec<u8>> {
        let body = self.http_body();
        let mut at: Vec<usize> = self.cuts.iter().map(|c| c % (body.len() + 1)).collect();
        at.sort_unstable();
        at.dedup();
        let mut chunks = Vec::new();
        let mut start = 0;
        for cut in at {
            if cut > start {
                chunks.push(body[start..cut].to_vec());
                start = cut;
            }
        }
        chunks.push(body[start..].to_vec());
        chunks
    }

    /// Arms the faults that serve this case's tails for `job` on `server`.
    fn serve(&self, server: &AgentTestServer, job: &str) {
        let frames = self.ws_frames();
        let mut ws = match self.ws_break {
            Some(k) => TailFault::script(frames[..k.min(frames.len())].to_vec(), false),
            None => TailFault::script(frames, true),
        };
        if let Some(size) = self.fragment {
            ws = ws.fragmented(size);
        }
        let http = match self.http {
            HttpEncoding::PlainCleanEnd => {
                // A canned answer: the whole body and a clean end, no `complete`.
                server.set_fault(
                    FaultTarget::route(RouteKind::TailHttp).id(job),
                    Fault::bytes(200, self.http_body()),
                );
                None
            }
            _ => Some(TailFault::script(self.http_chunks(), true).http_only()),
        };
        let mut spec = JobSpec::new(job)
            .lines(["(scripted)"])
            .tail_fault(ws.websocket_only());
        if let Some(http) = http {
            spec = spec.tail_fault(http);
        }
        server.add_job(spec).expect("a new job");
    }

    fn options(&self) -> TailOptions {
        TailOptions::new()
            .protocol(self.protocol)
            .timeout(Duration::from_secs(10))
            .limits(StreamLimits {
                max_message_size: MAX,
                ..StreamLimits::default()
            })
    }

    /// The promise, for one tail's outcome.
    fn check(
        &self,
        client: &str,
        lines: &[String],
        err: Option<&ClientError>,
    ) -> Result<(), TestCaseError> {
        let want = self.expected();
        match err {
            None => prop_assert_eq!(lines, &want[..], "{}: delivered != log", client),
            Some(e) => {
                prop_assert!(
                    want.starts_with(lines),
                    "{}: failed ({}) after lines that are not a prefix of the log: {:?}",
                    client,
                    e,
                    lines
                );
                prop_assert!(e.status_code() >= 400, "{}: {:?}", client, e);
                // HTTP, and `auto` (whose HTTP stream always completes), have nothing
                // to fail on: a conforming server, an exact resume.
                prop_assert_eq!(
                    self.protocol,
                    Protocol::WebSocket,
                    "{}: a conforming tail failed: {}",
                    client,
                    e
                );
            }
        }
        Ok(())
    }
}

async fn tail_async(
    client: &AsyncAgentClient,
    job: &str,
    options: TailOptions,
) -> (Vec<String>, Option<ClientError>, Protocol) {
    let mut tail: LogTail = match within(client.tail_job_logs(job, options)).await {
        Ok(tail) => tail,
        Err(e) => return (Vec::new(), Some(e), Protocol::Auto),
    };
    let (lines, err) = drain(&mut tail).await;
    (lines, err, tail.protocol_used())
}

#[test]
fn a_tail_delivers_the_log_or_fails_loudly_with_a_prefix_of_it() {
    let cases = std::env::var("TAIL_PROPERTY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(AgentTestServer::builder().build()).unwrap();
    let async_client = {
        let _guard = rt.enter();
        AsyncAgentClient::new(server.url(), server.token()).unwrap()
    };
    let blocking_client = AgentClient::new(server.url(), server.token()).unwrap();
    let next_job = AtomicUsize::new(0);
    // What the cases exercised, so that a generator gone wrong cannot pass quietly.
    let delivered = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let resumed = AtomicUsize::new(0);

    let mut runner = TestRunner::new(Config {
        cases,
        // the workspace's rule for integration tests: a failing case is saved beside
        // this file and its seed printed (a `cc` line), so the next run replays it
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        source_file: Some(file!()),
        ..Config::default()
    });
    let result = runner.run(&case(), |case| {
        // Two jobs, one per client: each client's tails get the whole script.
        let n = next_job.fetch_add(1, Ordering::SeqCst);
        let (job_a, job_b) = (format!("raysubmit_p{n}a"), format!("raysubmit_p{n}b"));
        case.serve(&server, &job_a);
        case.serve(&server, &job_b);
        let (lines, err, protocol) = rt.block_on(tail_async(&async_client, &job_a, case.options()));
        case.check("async", &lines, err.as_ref())?;
        let mut outcomes = vec![(lines.len(), err.is_some(), protocol)];
        let (lines, err, protocol) = match blocking_client.tail_job_logs(&job_b, case.options()) {
            Ok(mut tail) => {
                let (lines, err) = drain_blocking(&mut tail);
                (lines, err, tail.protocol_used())
            }
            Err(e) => (Vec::new(), Some(e), Protocol::Auto),
        };
        case.check("blocking", &lines, err.as_ref())?;
        outcomes.push((lines.len(), err.is_some(), protocol));
        for (n, err, protocol) in outcomes {
            delivered.fetch_add(n, Ordering::SeqCst);
            failed.fetch_add(usize::from(err), Ordering::SeqCst);
            let fell_back = case.protocol == Protocol::Auto && protocol == Protocol::Http;
            resumed.fetch_add(usize::from(fell_back), Ordering::SeqCst);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (delivered, failed, resumed) = (
        delivered.into_inner(),
        failed.into_inner(),
        resumed.into_inner(),
    );
    eprintln!("{cases} cases: {delivered} lines delivered, {failed} tails failed loudly, {resumed} resumed over HTTP");
    // Every kind of outcome happened (the generator is not degenerate).
    assert!(delivered > cases as usize, "{delivered} lines delivered");
    assert!(
        failed > 0 && resumed > 0,
        "{failed} failed, {resumed} resumed"
    );
}
