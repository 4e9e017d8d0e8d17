//! The tail state machine against a scripted transport: fallback, resume by lines,
//! idle time-outs, early closes, error events, back-pressure, cancellation.

use super::*;
use crate::RetryPolicy;
use agent_transport::{Response, StreamingResponse};
use bytes::Bytes;
use http::HeaderMap;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

const TOKEN: &str = "s3cret-agent-token";

/// One step of a scripted connection.
#[derive(Clone)]
enum Step {
    /// A WebSocket message.
    Ws(WsMessage),
    /// An HTTP body chunk.
    Chunk(&'static str),
    /// A transport error.
    Fail(ClientError),
    /// Nothing for this long (virtual time), then the next step.
    Delay(Duration),
    /// Never anything again.
    Hang,
    /// HTTP chunks of `n` lines each, forever.
    Endless(usize),
}

fn text(s: &str) -> Step {
    Step::Ws(WsMessage::Text(Bytes::copy_from_slice(s.as_bytes())))
}

fn complete_ws() -> Step {
    text(r#"{"type":"complete"}"#)
}

/// What opening a connection does.
enum Opening {
    Fail(ClientError),
    /// Status and steps (for WebSockets the status is ignored).
    Open(u16, Vec<Step>),
}

#[derive(Default)]
struct Counts {
    ws_opens: AtomicUsize,
    http_opens: AtomicUsize,
    chunks_served: AtomicU64,
    dropped: AtomicBool,
}

#[derive(Default)]
struct Script {
    ws: Mutex<VecDeque<Opening>>,
    http: Mutex<VecDeque<Opening>>,
    counts: Arc<Counts>,
}

#[derive(Clone)]
struct ScriptTransport(Arc<Script>);

impl fmt::Debug for ScriptTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScriptTransport")
    }
}

impl ScriptTransport {
    fn new(ws: Vec<Opening>, http: Vec<Opening>) -> Self {
        ScriptTransport(Arc::new(Script {
            ws: Mutex::new(ws.into()),
            http: Mutex::new(http.into()),
            counts: Arc::default(),
        }))
    }

    fn counts(&self) -> &Counts {
        &self.0.counts
    }

    /// A tail of `raysubmit_1` with `options`, opened (the script decides the rest).
    async fn tail(&self, options: TailOptions) -> LogTail {
        self.client()
            .tail_job_logs("raysubmit_1", options)
            .await
            .expect("the tail opens")
    }

    fn client(&self) -> AsyncAgentClient {
        AsyncAgentClient::builder("http://agent.invalid/", TOKEN)
            .transport(Arc::new(self.clone()))
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap()
    }
}

struct Scripted {
    steps: VecDeque<Step>,
    counts: Arc<Counts>,
    endless_n: u64,
    /// The `Delay` step under way.
    delay: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.counts.dropped.store(true, Ordering::SeqCst);
    }
}

enum Out {
    Ws(WsMessage),
    Chunk(Bytes),
}

impl Scripted {
    fn new(steps: Vec<Step>, counts: &Arc<Counts>) -> Self {
        Scripted {
            steps: steps.into(),
            counts: Arc::clone(counts),
            endless_n: 0,
            delay: None,
        }
    }

    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Out>, ClientError>> {
        loop {
            let Some(step) = self.steps.front().cloned() else {
                return Poll::Ready(Ok(None));
            };
            match step {
                Step::Delay(d) => {
                    let sleep = self
                        .delay
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(d)));
                    std::task::ready!(sleep.as_mut().poll(cx));
                    self.delay = None;
                    self.steps.pop_front();
                }
                Step::Hang => return Poll::Pending,
                Step::Endless(n) => {
                    let mut s = String::new();
                    for _ in 0..n {
                        self.endless_n += 1;
                        s.push_str(&format!("line {}\n", self.endless_n));
                    }
                    self.counts.chunks_served.fetch_add(1, Ordering::SeqCst);
                    return Poll::Ready(Ok(Some(Out::Chunk(Bytes::from(s)))));
                }
                Step::Ws(m) => {
                    self.steps.pop_front();
                    return Poll::Ready(Ok(Some(Out::Ws(m))));
                }
                Step::Chunk(c) => {
                    self.steps.pop_front();
                    self.counts.chunks_served.fetch_add(1, Ordering::SeqCst);
                    return Poll::Ready(Ok(Some(Out::Chunk(Bytes::from_static(c.as_bytes())))));
                }
                Step::Fail(e) => {
                    self.steps.pop_front();
                    return Poll::Ready(Err(e));
                }
            }
        }
    }
}

/// A scripted HTTP body.
struct ScriptedBody(Scripted);

impl Stream for ScriptedBody {
    type Item = Result<Bytes, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(match std::task::ready!(self.0.poll_step(cx)) {
            Err(e) => Some(Err(e)),
            Ok(None) => None,
            Ok(Some(Out::Chunk(b))) => Some(Ok(b)),
            Ok(Some(Out::Ws(_))) => panic!("a WebSocket step in an HTTP script"),
        })
    }
}

impl BodyStream for ScriptedBody {}

/// A scripted WebSocket.
struct ScriptedWs(Scripted);

impl Stream for ScriptedWs {
    type Item = Result<WsMessage, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(match std::task::ready!(self.0.poll_step(cx)) {
            Err(e) => Some(Err(e)),
            Ok(None) => None,
            Ok(Some(Out::Ws(m))) => Some(Ok(m)),
            Ok(Some(Out::Chunk(_))) => panic!("an HTTP step in a WebSocket script"),
        })
    }
}

impl WsStream for ScriptedWs {
    fn poll_close(&mut self, _: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

#[async_trait::async_trait]
impl Transport for ScriptTransport {
    async fn request(&self, _request: Request) -> Result<Response, ClientError> {
        panic!("the tail sends no plain request")
    }

    async fn stream(&self, request: Request) -> Result<StreamingResponse, ClientError> {
        assert_eq!(request.path, "jobs/raysubmit_1/logs/stream/");
        assert_eq!(request.headers["authorization"], TOKEN);
        self.0.counts.http_opens.fetch_add(1, Ordering::SeqCst);
        let next = self.0.http.lock().unwrap().pop_front();
        match next.expect("an unexpected HTTP stream") {
            Opening::Fail(e) => Err(e),
            Opening::Open(status, steps) => Ok(StreamingResponse {
                status,
                headers: HeaderMap::new(),
                body: Box::new(ScriptedBody(Scripted::new(steps, &self.0.counts))),
            }),
        }
    }

    async fn websocket(
        &self,
        request: Request,
        options: WsOptions,
    ) -> Result<Box<dyn WsStream>, ClientError> {
        assert_eq!(request.path, "jobs/raysubmit_1/logs/");
        assert_eq!(request.headers["authorization"], TOKEN);
        assert!(options.ping_interval > Duration::ZERO);
        self.0.counts.ws_opens.fetch_add(1, Ordering::SeqCst);
        let next = self.0.ws.lock().unwrap().pop_front();
        match next.expect("an unexpected WebSocket") {
            Opening::Fail(e) => Err(e),
            Opening::Open(_, steps) => {
                Ok(Box::new(ScriptedWs(Scripted::new(steps, &self.0.counts))))
            }
        }
    }
}

async fn next(tail: &mut LogTail) -> Option<Result<String, ClientError>> {
    poll_fn(|cx| Pin::new(&mut *tail).poll_next(cx)).await
}

/// Every line until the end, and the error that ended the tail, if any.
async fn drain(tail: &mut LogTail) -> (Vec<String>, Option<ClientError>) {
    let mut lines = Vec::new();
    while let Some(item) = next(tail).await {
        match item {
            Ok(line) => lines.push(line),
            Err(e) => {
                assert!(
                    next(tail).await.is_none(),
                    "the stream goes on after an error"
                );
                return (lines, Some(e));
            }
        }
    }
    (lines, None)
}

fn opts(protocol: Protocol) -> TailOptions {
    TailOptions::new().protocol(protocol)
}

fn unavailable() -> ClientError {
    ClientError::from_response(503, None, b"websocket handshake refused")
}

fn reset() -> ClientError {
    ClientError::connect("connection reset by peer")
}

#[tokio::test(start_paused = true)]
async fn auto_falls_back_to_http_when_the_handshake_is_refused() {
    let t = ScriptTransport::new(
        vec![Opening::Fail(unavailable())],
        vec![Opening::Open(
            200,
            vec![
                Step::Chunk("one\ndata: {\"type\":\"log\",\"message\":\"two\"}\n"),
                Step::Chunk("data: {\"type\":\"complete\"}\n"),
            ],
        )],
    );
    let mut tail = t.tail(opts(Protocol::Auto)).await;
    assert_eq!(tail.protocol_used(), Protocol::Http);
    let (lines, err) = drain(&mut tail).await;
    assert_eq!(lines, ["one", "two"]);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(tail.counters().delivered, 2);
    assert_eq!(t.counts().ws_opens.load(Ordering::SeqCst), 1);
    assert_eq!(t.counts().http_opens.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn auto_does_not_fall_back_on_other_refusals() {
    let t = ScriptTransport::new(
        vec![Opening::Fail(ClientError::from_response(
            404,
            None,
            b"no such job",
        ))],
        vec![],
    );
    let err = t
        .client()
        .tail_job_logs("raysubmit_1", opts(Protocol::Auto))
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 404);
    assert_eq!(t.counts().http_opens.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn websocket_only_never_falls_back() {
    let t = ScriptTransport::new(vec![Opening::Fail(unavailable())], vec![]);
    let err = t
        .client()
        .tail_job_logs("raysubmit_1", opts(Protocol::WebSocket))
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 503);
    assert_eq!(t.counts().http_opens.load(Ordering::SeqCst), 0);

    let t = ScriptTransport::new(
        vec![Opening::Open(0, vec![text("a"), Step::Fail(reset())])],
        vec![],
    );
    let mut tail = t.tail(opts(Protocol::WebSocket)).await;
    let (lines, err) = drain(&mut tail).await;
    assert_eq!(lines, ["a"]);
    assert_eq!(err.unwrap().status_code(), 503);
    assert_eq!(t.counts().http_opens.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_websocket_that_breaks_mid_stream_resumes_over_http_without_duplicates() {
    let limits = StreamLimits {
        max_message_size: 40,
        ..StreamLimits::default()
    };
    let t = ScriptTransport::new(
        vec![Opening::Open(
            0,
            vec![
                text("one"),
                text(r#"{"type":"log","message":"two"}"#),
                Step::Ws(WsMessage::Oversized { len: 100 }),
                text("three"),
                text(r#"{"type":"progress"}"#),
                Step::Fail(reset()),
            ],
        )],
        vec![Opening::Open(
            200,
            vec![
                // The HTTP stream replays the log from the start, cut anywhere.
                Step::Chunk(
                    "data: one\n\ndata: {\"type\":\"log\",\"message\":\"two\"}\nxxxxxxxxxxxxxx",
                ),
                Step::Chunk("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\nthr"),
                Step::Chunk("ee\ndata: {\"type\":\"progress\"}\nfour\n"),
                Step::Chunk("five\ndata: {\"type\":\"complete\"}\n"),
            ],
        )],
    );
    let mut tail = t.tail(opts(Protocol::Auto).limits(limits)).await;
    assert_eq!(tail.protocol_used(), Protocol::WebSocket);
    let (lines, err) = drain(&mut tail).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(lines, ["one", "two", "three", "four", "five"]);
    assert_eq!(tail.protocol_used(), Protocol::Http);
    let c = tail.counters();
    assert_eq!(c.delivered, 5);
    assert_eq!(c.delivered_bytes, 3 + 3 + 5 + 4 + 4);
    // The replay is by lines: one two (oversized) three; the `progress` event after
    // `three` is received again (events that deliver nothing are counted per stream).
    assert_eq!(c.replayed, 4, "{c:?}");
    assert_eq!(c.skipped_oversized, 1, "{c:?}");
    assert_eq!(c.ignored, 2, "{c:?}");
    // one two oversized three progress | progress four five complete
    assert_eq!(c.received, 9, "{c:?}");
}

#[tokio::test(start_paused = true)]
async fn a_resume_before_any_line_replays_nothing() {
    let t = ScriptTransport::new(
        vec![Opening::Open(
            0,
            vec![text(r#"{"message":""}"#), text(r#"{"type":"progress"}"#), Step::Fail(reset())],
        )],
        vec![Opening::Open(
            200,
            vec![Step::Chunk(
                "data: {\"message\":\"\"}\ndata: {\"type\":\"progress\"}\nfirst\ndata: {\"type\":\"complete\"}\n",
            )],
        )],
    );
    let mut tail = t.tail(opts(Protocol::Auto)).await;
    let (lines, err) = drain(&mut tail).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(lines, ["first"]);
    let c = tail.counters();
    // No line was delivered: nothing to skip, every event counted on each stream.
    assert_eq!(
        (c.replayed, c.skipped_empty, c.ignored, c.delivered),
        (0, 2, 2, 1),
        "{c:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_websocket_closed_before_complete_resumes_under_auto() {
    let t = ScriptTransport::new(
        vec![Opening::Open(0, vec![text("a"), text("b")])],
        vec![Opening::Open(
            200,
            vec![Step::Chunk("a\nb\nc\ndata: {\"type\":\"complete\"}\n")],
        )],
    );
    let mut tail = t.tail(opts(Protocol::Auto)).await;
    let (lines, err) = drain(&mut tail).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(lines, ["a", "b", "c"]);
}

#[tokio::test(start_paused = true)]
async fn a_resume_whose_replay_differs_fails_clearly() {
    let t = ScriptTransport::new(
        vec![Opening::Open(
            0,
            vec![text("one"), text("two"), Step::Fail(reset())],
        )],
        vec![Opening::Open(
            200,
            // The log the HTTP stream replays is not the one the WebSocket sent.
            vec![Step::Chunk(
                "one\nTWO\nthree\ndata: {\"type\":\"complete\"}\n",
            )],
        )],
    );
    let mut tail = t.tail(opts(Protocol::Auto)).await;
    let (lines, err) = drain(&mut tail).await;
    assert_eq!(lines, ["one", "two"]);
    let err = err.expect("a mismatch is an error");
    assert!(matches!(err, ClientError::Protocol { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("would repeat or lose lines"), "{text}");
    assert!(
        text.contains("connection reset"),
        "the WebSocket's cause: {text}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_resume_over_a_shorter_http_log_fails_clearly() {
    let t = ScriptTransport::new(
        vec![Opening::Open(
            0,
            vec![text("one"), text("two"), Step::Fail(reset())],
        )],
        vec![Opening::Open(200, vec![Step::Chunk("one\n")])],
    );
    let mut tail = t.tail(opts(Protocol::Auto)).await;
    let (lines, err) = drain(&mut tail).await;
    assert_eq!(lines, ["one", "two"]);
    assert!(matches!(err, Some(ClientError::Protocol { .. })), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn a_failed_resume_says_both_causes() {
    let t = ScriptTransport::new(
        vec![Opening::Open(0, vec![text("one"), Step::Fail(reset())])],
        vec![Opening::Fail(ClientError::connect("refused"))],
    );
    let mut tail = t.tail(opts(Protocol::Auto)).await;
    let (lines, err) = drain(&mut tail).await;
    assert_eq!(lines, ["one"]);
    let err = err.unwrap();
    assert_eq!(err.status_code(), 503);
    assert!(err.to_string().contains("reset by peer"), "{err}");
    assert!(err.to_string().contains("refused"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_quiet_websocket_is_an_idle_timeout_not_the_end() {
    let t = ScriptTransport::new(vec![Opening::Open(0, vec![text("a"), Step::Hang])], vec![]);
    let options = opts(Protocol::Auto).timeout(Duration::from_secs(5));
    let mut tail = t.tail(options).await;
    let (lines, err) = drain(&mut tail).await;
    assert_eq!(lines, ["a"]);
    let err = err.expect("an idle tail is an error, not a success");
    assert_eq!(err.status_code(), 408);
    assert!(
        matches!(
            err,
            ClientError::Timeout {
                kind: TimeoutKind::Idle,
                after
            } if after == Duration::from_secs(5)
        ),
        "{err:?}"
    );
    // No fallback on an idle time-out.
    assert_eq!(t.counts().http_opens.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn keep_alives_reset_the_idle_timer() {
    let t = ScriptTransport::new(
        vec![Opening::Open(
            0,
            vec![
                text("a"),
                Step::Delay(Duration::from_secs(4)),
                Step::Ws(WsMessage::KeepAlive),
                Step::Delay(Duration::from_secs(4)),
                Step::Ws(WsMessage::KeepAlive),
                Step::Delay(Duration::from_secs(4)),
                text("b"),
                complete_ws(),
            ],
        )],
        vec![],
    );
    let options = opts(Protocol::WebSocket).timeout(Duration::from_secs(5));
    let mut tail = t.tail(options).await;
    let (lines, err) = drain(&mut tail).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(lines, ["a", "b"]);
}

#[tokio::test(start_paused = true)]
async fn a_quiet_http_stream_is_an_idle_timeout() {
    let t = ScriptTransport::new(
        vec![],
        vec![Opening::Open(200, vec![Step::Chunk("a\n"), Step::Hang])],
    );
    let options = opts(Protocol::Http).timeout(Duration::from_secs(7));
    let mut tail = t.tail(options).await;
    let (lines, err) = drain(&mut tail).await;
    assert_eq!(lines, ["a"]);
    assert_eq!(err.unwrap().status_code(), 408);
}

#[tokio::test(start_paused = true)]
async fn a_close_before_complete_is_an_error() {
    // WebSocket: a normal close before `complete`.
    let t = ScriptTransport::new(vec![Opening::Open(0, vec![text("a")])], vec![]);
    let mut tail = t.tail(opts(Protocol::WebSocket)).await;
    let (lines, err) = drain(&mut tail).await;
    assert_eq!(lines, ["a"]);
    let err = err.expect("an early close is not a complete log");
    assert_eq!(err.status_code(), 503);
    assert!(
        err.to_string().contains("before the job's log completed"),
        "{err}"
    );

    // HTTP: an SSE body ends without `complete`; its last line (no newline) comes
    // first.
    let t = ScriptTransport::new(
        vec![],
        vec![Opening::Open(200, vec![Step::Chunk("data: a\nb")])],
    );
    let mut tail = t.tail(opts(Protocol::Http)).await;
    let (lines, err) = drain(&mut tail).await;
    assert_eq!(lines, ["a", "b"]);
    assert_eq!(err.unwrap().status_code(), 503);
}

/// Issue 11, item 4 (scripted transport): a plain-lines body that ends cleanly is
/// the end of the log; a cut one is not.
#[tokio::test(start_paused = true)]
async fn a_plain_lines_body_that_ends_cleanly_ends_the_tail() {
    let t = ScriptTransport::new(
        vec![],
        vec![Opening::Open(
            200,
            vec![Step::Chunk("a\r\nb\r\n"), Step::Chunk("c")],
        )],
    );
    let mut tail = t.tail(opts(Protocol::Http)).await;
    let (lines, err) = drain(&mut tail).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(lines, ["a", "b", "c"]);

    let t = ScriptTransport::new(
        vec![],
        vec![Opening::Open(
            200,
            vec![Step::Chunk("a\n"), Step::Fail(reset())],
        )],
    );
    let mut tail = t.tail(opts(Protocol::Http)).await;
    let (lines, err) = drain(&mut tail).await;
    assert_eq!(lines, ["a"]);
    assert_eq!(err.unwrap().status_code(), 503);
}

#[tokio::test(start_paused = true)]
async fn an_error_event_is_final_and_never_falls_back() {
    let t = ScriptTransport::new(
        vec![Opening::Open(
            0,
            vec![
                text("a"),
                text(&format!(
                    r#"{{"type":"error","message":"job lost, token {TOKEN}"}}"#
                )),
                text("never"),
            ],
        )],
        vec![],
    );
    let mut tail = t.tail(opts(Protocol::Auto)).await;
    let (lines, err) = drain(&mut tail).await;
    assert_eq!(lines, ["a"]);
    let err = err.unwrap();
    assert_eq!(err.status_code(), 500);
    assert!(matches!(err, ClientError::StreamFailed { .. }), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("job lost"), "{shown}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert_eq!(t.counts().http_opens.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_limit_is_final_and_never_falls_back() {
    let limits = StreamLimits {
        max_messages: 2,
        ..StreamLimits::default()
    };
    let t = ScriptTransport::new(
        vec![Opening::Open(0, vec![text("a"), text("b"), text("c")])],
        vec![],
    );
    let mut tail = t.tail(opts(Protocol::Auto).limits(limits)).await;
    let (lines, err) = drain(&mut tail).await;
    assert_eq!(lines, ["a", "b"]);
    assert!(
        matches!(
            err,
            Some(ClientError::LimitExceeded {
                kind: LimitKind::Messages,
                limit: 2
            })
        ),
        "{err:?}"
    );
    assert_eq!(t.counts().http_opens.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn max_bytes_holds_across_a_fallback() {
    let limits = StreamLimits {
        max_bytes: 6,
        ..StreamLimits::default()
    };
    let t = ScriptTransport::new(
        vec![Opening::Open(0, vec![text("abcd"), Step::Fail(reset())])],
        vec![Opening::Open(200, vec![Step::Chunk("abcd\nef\ngh\n")])],
    );
    let mut tail = t.tail(opts(Protocol::Auto).limits(limits)).await;
    let (lines, err) = drain(&mut tail).await;
    assert_eq!(lines, ["abcd", "ef"]);
    assert!(
        matches!(
            err,
            Some(ClientError::LimitExceeded {
                kind: LimitKind::Bytes,
                limit: 6
            })
        ),
        "{err:?}"
    );
    assert_eq!(tail.counters().delivered_bytes, 6);
}

#[tokio::test(start_paused = true)]
async fn a_slow_consumer_stops_the_reader_at_about_queue_size_lines() {
    let limits = StreamLimits {
        queue_size: 50,
        ..StreamLimits::unlimited()
    };
    let t = ScriptTransport::new(vec![], vec![Opening::Open(200, vec![Step::Endless(10)])]);
    let mut tail = t.tail(opts(Protocol::Http).limits(limits)).await;
    // The tail reads the network only while it is polled: nobody asks, nothing is
    // decoded (virtual time only advances once every task is blocked).
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(tail.counters().delivered, 0);
    // Asking for one line decodes until the queue is full, then waits.
    assert_eq!(next(&mut tail).await.unwrap().unwrap(), "line 1");
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let served = t.counts().chunks_served.load(Ordering::SeqCst);
    let decoded = tail.counters().delivered;
    assert!(
        served <= 50 / 10 + 1,
        "{served} chunks read for a queue of 50"
    );
    assert!(
        decoded <= 50 + 10,
        "{decoded} lines decoded for a queue of 50"
    );
    assert!(decoded >= 50, "{decoded}: the queue fills up");

    // Reading on makes room, and the reader goes on, in order.
    for i in 2..=200 {
        assert_eq!(next(&mut tail).await.unwrap().unwrap(), format!("line {i}"));
    }
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let decoded = tail.counters().delivered;
    assert!((200..=260).contains(&decoded), "{decoded}");
}

#[tokio::test(start_paused = true)]
async fn dropping_the_tail_closes_the_connection() {
    let t = ScriptTransport::new(vec![Opening::Open(0, vec![text("a"), Step::Hang])], vec![]);
    let mut tail = t.tail(opts(Protocol::WebSocket)).await;
    assert_eq!(next(&mut tail).await.unwrap().unwrap(), "a");
    assert!(!t.counts().dropped.load(Ordering::SeqCst));
    drop(tail);
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(t.counts().dropped.load(Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn closing_the_client_ends_its_tails_with_an_error() {
    let t = ScriptTransport::new(vec![Opening::Open(0, vec![text("a"), Step::Hang])], vec![]);
    let client = t.client();
    let mut tail = client
        .tail_job_logs("raysubmit_1", opts(Protocol::WebSocket))
        .await
        .unwrap();
    assert_eq!(next(&mut tail).await.unwrap().unwrap(), "a");
    client.close().await;
    let err = next(&mut tail).await.unwrap().unwrap_err();
    assert!(matches!(err, ClientError::Usage { .. }), "{err:?}");
    assert!(next(&mut tail).await.is_none());
    assert!(t.counts().dropped.load(Ordering::SeqCst));
    let again = client
        .tail_job_logs("raysubmit_1", opts(Protocol::WebSocket))
        .await
        .unwrap_err();
    assert_eq!(again.status_code(), 500);
}

#[tokio::test(start_paused = true)]
async fn bad_ids_and_options_are_refused_before_any_request() {
    let t = ScriptTransport::new(vec![], vec![]);
    let client = t.client();
    for id in ["", "../x", "a/b", "a?b"] {
        let err = client
            .tail_job_logs(id, opts(Protocol::Auto))
            .await
            .unwrap_err();
        assert_eq!(err.status_code(), 400, "{id:?}");
    }
    for timeout in [Duration::ZERO, Duration::from_secs(301)] {
        let err = client
            .tail_job_logs("raysubmit_1", opts(Protocol::Auto).timeout(timeout))
            .await
            .unwrap_err();
        assert_eq!(err.status_code(), 400);
    }
    let zero = StreamLimits {
        queue_size: 0,
        ..StreamLimits::default()
    };
    let err = client
        .tail_job_logs("raysubmit_1", opts(Protocol::Auto).limits(zero))
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 400);
    assert_eq!(t.counts().ws_opens.load(Ordering::SeqCst), 0);
    assert_eq!(t.counts().http_opens.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn an_http_error_answer_is_mapped_and_scrubbed() {
    let t = ScriptTransport::new(
        vec![],
        vec![Opening::Open(
            404,
            vec![Step::Chunk(
                r#"{"detail":"Job raysubmit_1 does not exist (s3cret-agent-token)"}"#,
            )],
        )],
    );
    let err = t
        .client()
        .tail_job_logs("raysubmit_1", opts(Protocol::Http))
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 404);
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(!err.to_string().contains(TOKEN), "{err}");
}

#[test]
fn a_tail_is_send_unpin_and_static() {
    fn check<T: Stream<Item = Result<String, ClientError>> + Send + Unpin + 'static>() {}
    check::<LogTail>();
    fn client<T: Clone + Send + Sync + 'static>() {}
    client::<AsyncAgentClient>();
}

/// `max_quiet` counts from the last new line (not from the start), keep-alives
/// do not reset it, and when both time-outs run out at once the job's quiet is
/// what is reported; without `max_quiet` only the server's silence counts.
#[tokio::test(start_paused = true)]
async fn max_quiet_counts_from_the_last_new_line() {
    let secs = Duration::from_secs;
    let ka = || Step::Ws(WsMessage::KeepAlive);
    let t = ScriptTransport::new(
        vec![Opening::Open(
            0,
            vec![
                text("a"),
                Step::Delay(secs(10)),
                ka(),
                Step::Delay(secs(10)),
                text("b"), // at 20 s: the job's clock restarts
                Step::Delay(secs(10)),
                ka(),
                Step::Delay(secs(10)),
                ka(),
                Step::Delay(secs(5)),
                text("c"), // at 45 s, within 30 s of `b`
                Step::Hang,
            ],
        )],
        vec![],
    );
    let options = opts(Protocol::WebSocket)
        .timeout(secs(30))
        .max_quiet(secs(30));
    let mut tail = t.tail(options).await;
    let (lines, err) = drain(&mut tail).await;
    assert_eq!(lines, ["a", "b", "c"]);
    // At 75 s both the server's 30 s and the job's 30 s ran out: the job's.
    assert!(
        matches!(
            err,
            Some(ClientError::Timeout {
                kind: TimeoutKind::Quiet,
                ..
            })
        ),
        "{err:?}"
    );

    // A server that goes silent before the job's bound: the server's.
    let t = ScriptTransport::new(vec![Opening::Open(0, vec![text("a"), Step::Hang])], vec![]);
    let options = opts(Protocol::WebSocket)
        .timeout(secs(30))
        .max_quiet(secs(60));
    let mut tail = t.tail(options).await;
    let (lines, err) = drain(&mut tail).await;
    assert_eq!(lines, ["a"]);
    assert!(
        matches!(
            err,
            Some(ClientError::Timeout {
                kind: TimeoutKind::Idle,
                ..
            })
        ),
        "{err:?}"
    );
}

/// `poll_next_batch` appends at most `max` lines to what the caller's batch
/// already holds, and hands over what is ready as soon as the connection has
/// nothing more (it does not hold lines back until a time-out).
#[tokio::test(start_paused = true)]
async fn a_batch_takes_max_lines_after_the_callers_own_and_what_is_ready_at_once() {
    let t = ScriptTransport::new(vec![], vec![Opening::Open(200, vec![Step::Endless(1)])]);
    let mut tail = t.tail(opts(Protocol::Http)).await;
    let mut batch: Vec<String> = (0..5).map(|i| format!("mine {i}")).collect();
    let got = poll_fn(|cx| tail.poll_next_batch(cx, &mut batch, 3)).await;
    assert!(matches!(got, Some(Ok(()))), "{got:?}");
    assert_eq!(batch[5..], ["line 1", "line 2", "line 3"]);

    let t = ScriptTransport::new(vec![Opening::Open(0, vec![text("a"), Step::Hang])], vec![]);
    let mut tail = t
        .tail(opts(Protocol::WebSocket).timeout(Duration::from_secs(30)))
        .await;
    let mut batch = Vec::new();
    let got = tokio::time::timeout(
        Duration::from_secs(1),
        poll_fn(|cx| tail.poll_next_batch(cx, &mut batch, 100)),
    )
    .await;
    assert!(matches!(got, Ok(Some(Ok(())))), "{got:?}");
    assert_eq!(batch, ["a"]);
}
