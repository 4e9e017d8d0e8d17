//! The Ray token in `Authorization`, in `X-Ray-Authorization` (as KubeRay's
//! dashboard client sends it, for a dashboard behind a proxy that consumes
//! `Authorization`) or in both (issue 22, item 5), against the stand-in Ray of
//! tests/support/standin.rs, which reads the token as Ray's dashboard does
//! (`Authorization` first, `X-Ray-Authorization` when there is none) and records
//! both headers. Whatever the header, the token never comes out: not in an
//! answer, an error, a `Debug` print or any log line.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex, Once};

use agent_client_async::{AsyncAgentClient, Protocol};
use agent_gateway::{GatewayConfig, RayClient, RayTokenHeader};
use agent_proto::{JobId, Secret};
use agent_transport::memory::{MemoryReply, MemoryTransport};
use agent_transport::Request;
use proptest::prelude::*;
use support::standin::{self, Job, Log, State};
use support::{collect, standin_client, standin_gateway, tail_options};

/// Every log line written in this test binary (the gateway's, the serving
/// layer's, the transport's: everything at TRACE, spans included).
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Captured;

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        tracing_subscriber::fmt()
            .with_writer(|| Captured)
            .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
            .with_ansi(false)
            .init();
    });
}

fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

fn client(url: String) -> AsyncAgentClient {
    standin_client(url, "tok")
}

const HEADERS: [RayTokenHeader; 3] = [
    RayTokenHeader::Authorization,
    RayTokenHeader::XRayAuthorization,
    RayTokenHeader::Both,
];

/// One walk: a stand-in wanting `token` (behind a proxy that takes
/// `Authorization` when `proxy`), a gateway sending it in `header`; what reached
/// Ray and what came out are checked.
async fn walk(token: &str, header: RayTokenHeader, proxy: bool) {
    let (ray, address, server) = standin::start(State {
        token: Some(token.into()),
        proxy_takes_authorization: proxy,
        ..State::default()
    })
    .await;
    ray.add("raysubmit_auth", Job::new(Log::plain("one\ntwo\n")));
    let config = GatewayConfig::new(address, "tok")
        .ray_token(token)
        .ray_token_header(header);
    let mut shown = vec![
        format!("{config:?}"),
        format!("{:?}", agent_gateway::ray_client(&config).unwrap()),
    ];
    let gw = standin_gateway(config).await;
    let c = client(gw.url());

    let sends_authorization = header != RayTokenHeader::XRayAuthorization;
    let sends_x_ray = header != RayTokenHeader::Authorization;
    // Through a proxy that takes `Authorization`, only `X-Ray-Authorization` gets in.
    let admitted = sends_x_ray || !proxy;
    let job = c.get_job("raysubmit_auth").await;
    let unknown = c.get_job("raysubmit_nope").await.unwrap_err();
    shown.push(format!("{unknown} {unknown:?}"));
    if admitted {
        shown.push(serde_json::to_string(&job.unwrap()).unwrap());
        assert_eq!(unknown.status_code(), 404, "{unknown}");
        for protocol in [Protocol::WebSocket, Protocol::Http] {
            let lines = collect(&c, "raysubmit_auth", tail_options(protocol))
                .await
                .unwrap();
            assert_eq!(lines, ["one", "two"], "{protocol}");
        }
        assert_eq!(
            c.get_job_logs("raysubmit_auth").await.unwrap(),
            "one\ntwo\n"
        );
    } else {
        // Ray refuses the gateway: a 502 that says so, without the token.
        let e = job.unwrap_err();
        assert_eq!(e.status_code(), 502, "{e}");
        assert!(e.to_string().contains("refused the gateway (401)"), "{e}");
        shown.push(format!("{e} {e:?}"));
        let tail = collect(&c, "raysubmit_auth", tail_options(Protocol::WebSocket)).await;
        let e = tail.unwrap_err();
        shown.push(format!("{e} {e:?}"));
    }
    gw.shutdown().await;
    server.abort();

    // Every request that reached Ray carried the token in exactly the configured
    // headers, as `Bearer <token>`.
    let sent = ray.requests.lock().unwrap().len();
    assert!(sent >= 2, "{sent}");
    let bearer = format!("Bearer {token}");
    let authorizations = ray.authorizations.lock().unwrap().clone();
    let x_ray = ray.ray_authorizations.lock().unwrap().clone();
    let expect = |sends: bool| {
        if sends {
            vec![bearer.clone(); sent]
        } else {
            Vec::new()
        }
    };
    assert_eq!(
        authorizations,
        expect(sends_authorization && !proxy),
        "{header}"
    );
    assert_eq!(x_ray, expect(sends_x_ray), "{header}");

    let logs = logs();
    // the capture works: the serving layer's request lines are in it
    assert!(logs.contains("path=/jobs/raysubmit_auth/"), "{logs}");
    for text in shown.iter().chain([&logs]) {
        assert!(!text.contains(token), "the token came out: {text}");
    }
}

proptest! {
    #![proptest_config(support::replayed(12))]

    /// Generated tokens (any characters a header value carries), each header
    /// choice, with and without a proxy that takes `Authorization`.
    #[test]
    fn the_ray_token_goes_in_the_configured_headers_and_never_comes_out(
        token in "Zt[A-Za-z0-9._~+/=-]{6,30}",
        header in prop::sample::select(HEADERS.to_vec()),
        proxy in any::<bool>(),
    ) {
        capture_logs();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(walk(&token, header, proxy));
    }
}

/// Each header choice and proxy case once, whatever the generator picks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_header_choice_reaches_ray_as_configured() {
    capture_logs();
    for header in HEADERS {
        for proxy in [false, true] {
            walk("Zt-fixed.t0ken", header, proxy).await;
        }
    }
}

/// Every kind of request to Ray (whole answers, streamed logs, the tail
/// WebSocket) carries the token in the configured headers, each value marked
/// sensitive, so that no `Debug` print of a request shows it.
#[tokio::test]
async fn every_request_carries_the_token_marked_sensitive() {
    let token = "Zt-sensitive-t0ken";
    for header in HEADERS {
        let transport = MemoryTransport::new(|req: Request| {
            Ok(match req.path.as_str() {
                p if p.contains("logs/tail") => MemoryReply::messages(["x"]),
                p if p.contains("logs/file") => MemoryReply::chunks(200, ["x\n"]),
                _ => MemoryReply::body(200, "{}"),
            })
        });
        let ray = RayClient::new(Arc::new(transport.clone()), "http://ray.invalid")
            .with_token(&Secret::new(token))
            .unwrap()
            .with_token_header(header);
        let id = JobId::new("raysubmit_s").unwrap();
        let _ = ray.version().await;
        let _ = ray.get_job_value(&id).await;
        let _ = ray.driver_log("raysubmit_s", Some("ab12")).await;
        let _ = ray.tail_socket(&id, 4096).await;
        let _ = ray
            .submit_job(&serde_json::json!({"entrypoint": "true"}))
            .await;
        let requests = transport.requests();
        assert_eq!(requests.len(), 5, "{requests:?}");
        for request in &requests {
            let names: Vec<_> = request
                .headers
                .iter()
                .filter(|(_, v)| v.as_bytes() == format!("Bearer {token}").as_bytes())
                .map(|(n, v)| {
                    assert!(v.is_sensitive(), "{n} is not marked sensitive");
                    n.clone()
                })
                .collect();
            assert_eq!(names, header.names(), "{header} {}", request.path);
            let shown = format!("{request:?}");
            assert!(!shown.contains(token), "{shown}");
        }
    }
}

/// The binary: `--ray-token-header x-ray-authorization` with the token from
/// `RAY_AUTH_TOKEN`; the token is in no line it writes (request lines on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_sends_x_ray_authorization_and_never_prints_the_token() {
    use std::io::{BufRead, Read};
    let token = "Zt-binary-t0ken-s3cret";
    let (ray, address, server) = standin::start(State {
        token: Some(token.into()),
        ..State::default()
    })
    .await;
    ray.add("raysubmit_bin", Job::new(Log::plain("a\nb\n")));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_agent-gateway"))
        .args(["--ray-address", &address, "--listen", "127.0.0.1:0"])
        .args(["--ray-token-header", "x-ray-authorization"])
        .env("AGENT_TOKEN", "tok")
        .env("RAY_AUTH_TOKEN", token)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut printed = String::new();
    let url = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "exited: {printed}"
        );
        printed.push_str(&line);
        if let Some(rest) = line.split("serving the agent API at ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let c = client(url);
    assert_eq!(c.get_job_logs("raysubmit_bin").await.unwrap(), "a\nb\n");
    let lines = collect(&c, "raysubmit_bin", tail_options(Protocol::Auto))
        .await
        .unwrap();
    assert_eq!(lines, ["a", "b"]);
    assert_eq!(
        c.get_job("raysubmit_nope").await.unwrap_err().status_code(),
        404
    );
    let _ = child.kill();
    let _ = child.wait();
    stderr.read_to_string(&mut printed).unwrap();
    server.abort();

    assert!(
        printed.contains("path=/jobs/raysubmit_bin/logs/"),
        "{printed}"
    );
    assert!(!printed.contains(token), "{printed}");
    let sent = ray.requests.lock().unwrap().len();
    assert!(ray.authorizations.lock().unwrap().is_empty());
    assert_eq!(
        *ray.ray_authorizations.lock().unwrap(),
        vec![format!("Bearer {token}"); sent]
    );
}
