//! `jobs/{id}/logs/` streamed from Ray's log-file API, against the stand-in Ray
//! (tests/support/standin.rs): any bytes cut anywhere arrive as their lossy
//! decoding, the answer goes out while Ray still sends, and Ray breaking off
//! mid-answer is an error for the client, never a shorter log. And a tail is
//! never held back by a slow status answer from Ray.

mod support;

use agent_client_async::{AsyncAgentClient, ClientError, RetryPolicy};
use agent_gateway::{Gateway, GatewayConfig};
use bytes::Bytes;
use proptest::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use support::standin::{self, FileAnswer, Job, Log, State, GATE_WAIT};
use support::standin_gateway;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn client(url: String) -> AsyncAgentClient {
    AsyncAgentClient::builder(url, "tok")
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

fn job(log: Log, file: FileAnswer) -> Job {
    let mut job = Job::new(log);
    job.socket_sends = false;
    job.file = file;
    job
}

/// One stand-in Ray and one gateway for every generated case.
struct Bench {
    rt: tokio::runtime::Runtime,
    ray: Arc<State>,
    gateway: Gateway,
    next: AtomicU64,
}

fn bench() -> &'static Bench {
    static BENCH: OnceLock<Bench> = OnceLock::new();
    BENCH.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (ray, gateway) = rt.block_on(async {
            let (ray, address, _server) = standin::start(State::default()).await;
            (
                ray,
                standin_gateway(GatewayConfig::new(address, "tok")).await,
            )
        });
        Bench {
            rt,
            ray,
            gateway,
            next: AtomicU64::new(0),
        }
    })
}

/// Bytes that try the decoding and the JSON escaping: ASCII, quotes, backslashes,
/// control characters, multi-byte characters, and broken ones.
fn log_bytes() -> impl Strategy<Value = Vec<u8>> {
    let atom = prop_oneof![
        Just(b"line".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\\".to_vec()),
        Just(vec![0x00]),
        Just(vec![0x1b]),
        Just(b"\r\t".to_vec()),
        Just("é".as_bytes().to_vec()),
        Just("€".as_bytes().to_vec()),
        Just("𝄞".as_bytes().to_vec()),
        Just(vec![0xe2, 0x82]),
        Just(vec![0xf0, 0x9d, 0x84]),
        Just(vec![0xff]),
        Just(vec![0xc0, 0xaf]),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(atom, 0..400).prop_map(|v| v.concat())
}

proptest! {
    // the workspace's rule for integration tests: a failing case is saved beside
    // this file and its seed printed (a `cc` line), so the next run replays it
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::with_cases(48)
    })]

    /// Whatever the log holds and however Ray cuts its answer, `get_job_logs` is
    /// the lossy decoding of the log's bytes.
    #[test]
    fn any_log_cut_anywhere_reads_as_its_lossy_decoding(
        bytes in log_bytes(),
        cuts in prop::collection::vec(1usize..64, 1..8),
        whole_after in any::<bool>(),
    ) {
        let b = bench();
        let id = format!("raysubmit_prop{}", b.next.fetch_add(1, Ordering::Relaxed));
        let mut log = Log::plain(bytes.clone());
        let file = FileAnswer { cuts, ..FileAnswer::default() };
        if whole_after {
            // a part sent after the cut ones (the stand-in's `after`)
            log.after = Bytes::from_static(b"\xe2\x82\xac end \xf0");
        }
        let mut expected = bytes.clone();
        expected.extend_from_slice(&log.after);
        b.ray.add(&id, job(log, file));
        let got = b.rt.block_on(client(b.gateway.url()).get_job_logs(&id));
        prop_assert_eq!(got.unwrap(), String::from_utf8_lossy(&expected).into_owned());
    }
}

/// An empty log (a job that has not printed yet) reads as `""`: the server reads
/// the first piece on its own, and the stream must not be polled after its end
/// (issue 27: it used to panic the server's task).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_log_reads_as_an_empty_string() {
    let (ray, address, server) = standin::start(State::default()).await;
    ray.add(
        "raysubmit_empty",
        job(Log::plain(""), FileAnswer::default()),
    );
    let gw = standin_gateway(GatewayConfig::new(address, "tok")).await;
    let got = client(gw.url()).get_job_logs("raysubmit_empty").await;
    assert_eq!(got.unwrap(), "");
    gw.shutdown().await;
    server.abort();
}

/// Reads from `stream` into `buf` until `want` is in it; `false` at the end of the
/// stream or after `GATE_WAIT`.
async fn read_until(stream: &mut tokio::net::TcpStream, buf: &mut Vec<u8>, want: &[u8]) -> bool {
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            if buf.windows(want.len()).any(|w| w == want) {
                return true;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(GATE_WAIT, read).await.unwrap_or(false)
}

/// A raw `GET jobs/{id}/logs/` to the gateway at `url` (`Connection: close`).
async fn raw_get_logs(url: &str, id: &str) -> tokio::net::TcpStream {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, prefix) = rest.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!(
        "GET /{prefix}jobs/{id}/logs/ HTTP/1.1\r\nHost: {host}\r\nAuthorization: tok\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

/// The answer is streamed: the client reads the first part of the log while Ray
/// is still holding the rest back (it sends the rest only once the client has
/// read the first part, so a gateway that gathered the log first would never
/// answer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_goes_out_while_ray_still_sends() {
    let (ray, address, server) = standin::start(State::default()).await;
    let gate = Arc::new(tokio::sync::Notify::new());
    let first = "first part \"quoted\" é\n".repeat(100);
    let rest = "the rest, after the gate\n".repeat(100);
    let file = FileAnswer {
        cuts: vec![first.len(), rest.len()],
        gate: Some(Arc::clone(&gate)),
        ..FileAnswer::default()
    };
    ray.add(
        "raysubmit_gated",
        job(Log::plain(format!("{first}{rest}")), file),
    );
    let gw = standin_gateway(GatewayConfig::new(address, "tok")).await;

    let mut stream = raw_get_logs(&gw.url(), "raysubmit_gated").await;
    let mut seen = Vec::new();
    // the first part, escaped as JSON, with the head before it
    let marker = br#"first part \"quoted\" "#;
    assert!(
        read_until(&mut stream, &mut seen, marker).await,
        "nothing of the log came before Ray sent all of it: {}",
        String::from_utf8_lossy(&seen)
    );
    let head = String::from_utf8_lossy(&seen).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(
        !seen.windows(b"the rest".len()).any(|w| w == b"the rest"),
        "the rest came before the gate opened"
    );
    gate.notify_one();
    let mut tail = Vec::new();
    stream.read_to_end(&mut tail).await.unwrap();
    seen.extend_from_slice(&tail);
    // the closing quote, then the last chunk: the body ended cleanly
    assert!(
        seen.ends_with(b"\"\r\n0\r\n\r\n"),
        "{}",
        String::from_utf8_lossy(&seen[seen.len().saturating_sub(200)..])
    );

    // And through the client, whole.
    gate.notify_one();
    let got = client(gw.url())
        .get_job_logs("raysubmit_gated")
        .await
        .unwrap();
    assert_eq!(got, format!("{first}{rest}"));
    gw.shutdown().await;
    server.abort();
}

/// Ray breaking its answer off after the first byte was sent breaks the client's
/// answer off too: an error, never a shorter log that looks whole. Breaking off
/// before any byte is an error status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ray_failing_mid_answer_is_an_error_never_a_shorter_log() {
    let (ray, address, server) = standin::start(State::default()).await;
    let text: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    for (id, fail_after) in [("raysubmit_cut", 5000), ("raysubmit_cut0", 0)] {
        let file = FileAnswer {
            cuts: vec![1000],
            fail_after: Some(fail_after),
            ..FileAnswer::default()
        };
        ray.add(id, job(Log::plain(text.clone()), file));
    }
    let gw = standin_gateway(GatewayConfig::new(address, "tok")).await;
    let c = client(gw.url());

    let e = c.get_job_logs("raysubmit_cut").await.unwrap_err();
    assert!(
        matches!(e, ClientError::ResponseIncomplete { .. }),
        "a cut answer: {e:?}"
    );
    // On the wire: part of the log, and no last chunk.
    let mut stream = raw_get_logs(&gw.url(), "raysubmit_cut").await;
    let mut seen = Vec::new();
    let _ = stream.read_to_end(&mut seen).await;
    assert!(
        seen.windows(6).any(|w| w == b"line 1"),
        "part of the log came"
    );
    assert!(!seen.ends_with(b"0\r\n\r\n"), "no last chunk after a cut");

    let e = c.get_job_logs("raysubmit_cut0").await.unwrap_err();
    assert!(e.is_status() && e.status_code() >= 500, "{e:?}");

    // The gateway still answers.
    ray.add(
        "raysubmit_fine",
        job(Log::plain("fine\n"), FileAnswer::default()),
    );
    assert_eq!(c.get_job_logs("raysubmit_fine").await.unwrap(), "fine\n");
    gw.shutdown().await;
    server.abort();
}

/// The next line of `tail`, waiting up to `GATE_WAIT`.
async fn next_line(
    tail: &mut agent_client_async::LogTail,
) -> Result<Option<Result<String, ClientError>>, tokio::time::error::Elapsed> {
    use futures_core::Stream;
    let line = std::future::poll_fn(|cx| std::pin::Pin::new(&mut *tail).poll_next(cx));
    tokio::time::timeout(GATE_WAIT, line).await
}

/// While the tail's socket streams, the job's status is read beside it: a slow
/// status answer from Ray never holds the lines back. The stand-in holds the
/// status request and sends the rest of the log only once that request is held;
/// the client must get that rest before the request is let go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_status_answer_never_holds_back_the_tail() {
    use agent_client_async::{Protocol, StreamLimits, TailOptions};

    let (ray, address, server) = standin::start(State::default()).await;
    let hold = standin::StatusHold::default();
    let before: String = (0..50).map(|i| format!("before {i}\n")).collect();
    let after: String = (0..50).map(|i| format!("after {i}\n")).collect();
    let mut log = Log::plain(before.clone());
    log.after = Bytes::from(after.clone());
    let mut j = Job::new(log);
    j.status_hold = Some(hold.clone());
    ray.add("raysubmit_held", j);
    let gw = standin_gateway(GatewayConfig::new(address, "tok")).await;
    let c = AsyncAgentClient::builder(gw.url(), "tok")
        .stream_limits(StreamLimits::unlimited())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let mut tail = c
        .tail_job_logs(
            "raysubmit_held",
            TailOptions::new().protocol(Protocol::WebSocket),
        )
        .await
        .unwrap();
    let mut lines = Vec::new();
    loop {
        let line = next_line(&mut tail)
            .await
            .expect("the rest of the log did not come while Ray's status answer was held")
            .expect("the tail ended early")
            .unwrap();
        let rest_came = line == "after 0";
        lines.push(line);
        if rest_came {
            break;
        }
    }
    hold.release.notify_one();
    while let Some(line) = next_line(&mut tail).await.expect("the tail stalled") {
        lines.push(line.unwrap());
    }
    let expected: Vec<String> = format!("{before}{after}")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines, expected);
    gw.shutdown().await;
    server.abort();
}
