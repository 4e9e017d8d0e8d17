//! `HttpTransport` requests and streamed bodies against real loopback servers.

mod common;

use agent_proto::{ClientError, TimeoutKind, Timeouts};
use agent_transport::{HttpTransport, Request, Transport, DEFAULT_USER_AGENT};
use bytes::Bytes;
use common::{closed_port, raw_server, read_head, serve, status, write_all, TestBody};
use http::{HeaderValue, Method, Response, StatusCode};
use http_body_util::BodyExt;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

fn transport(base: &str, read: Duration) -> HttpTransport {
    HttpTransport::builder(base)
        .timeouts(Timeouts {
            connect: Duration::from_secs(5),
            read,
        })
        .build()
        .unwrap()
}

/// A server that answers with what it received, as JSON.
async fn echo_server() -> common::Server {
    serve(|req: http::Request<hyper::body::Incoming>| async move {
        let method = req.method().to_string();
        let uri = req.uri().to_string();
        let auth = req
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned());
        let agent = req
            .headers()
            .get("user-agent")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::json!({
            "method": method,
            "uri": uri,
            "authorization": auth,
            "user_agent": agent,
            "body": String::from_utf8_lossy(&body),
        });
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .body(TestBody::from(json.to_string()))
            .unwrap()
    })
    .await
}

fn json(body: &Bytes) -> serde_json::Value {
    serde_json::from_slice(body).unwrap()
}

#[tokio::test]
async fn request_round_trip_with_path_prefix() {
    let server = echo_server().await;
    for base in [server.url("/agent/"), server.url("/agent")] {
        let t = transport(&base, Duration::from_secs(10));
        let mut req = Request::new(Method::POST, "plugin_releases/x/run/?dry=1");
        let mut token = HeaderValue::from_static("s3cret");
        token.set_sensitive(true);
        req.headers.insert("authorization", token);
        req.body = Bytes::from_static(br#"{"action":"go"}"#);
        let resp = t.request(req).await.unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.headers["content-type"], "application/json");
        let got = json(&resp.body);
        assert_eq!(got["method"], "POST");
        assert_eq!(got["uri"], "/agent/plugin_releases/x/run/?dry=1");
        assert_eq!(got["authorization"], "s3cret");
        assert_eq!(got["user_agent"], DEFAULT_USER_AGENT);
        assert_eq!(got["body"], r#"{"action":"go"}"#);
    }
    // No prefix; a custom user agent; the pool serves several requests.
    let t = HttpTransport::builder(server.url(""))
        .user_agent("tests/1")
        .build()
        .unwrap();
    for _ in 0..3 {
        let resp = t
            .request(Request::new(Method::GET, "health/"))
            .await
            .unwrap();
        let got = json(&resp.body);
        assert_eq!(got["uri"], "/health/");
        assert_eq!(got["user_agent"], "tests/1");
    }
}

#[tokio::test]
async fn error_statuses_are_answers() {
    let server = serve(|_req| async {
        let mut resp = status(StatusCode::SERVICE_UNAVAILABLE, r#"{"detail":"busy"}"#);
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from_static("3"));
        resp
    })
    .await;
    let t = transport(&server.url("/"), Duration::from_secs(10));
    let resp = t.request(Request::new(Method::GET, "jobs/")).await.unwrap();
    assert_eq!(resp.status, 503);
    assert_eq!(resp.headers["retry-after"], "3");
    assert_eq!(&resp.body[..], br#"{"detail":"busy"}"#);
}

#[tokio::test]
async fn stream_delivers_chunks_without_a_body_time_out() {
    let server = serve(|_req| async {
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            for i in 0..3 {
                tx.send(Ok(Bytes::from(format!("line {i}\n"))))
                    .await
                    .unwrap();
                // Longer than the read time-out: a stream's body has none.
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
        });
        Response::new(TestBody::Channel(rx))
    })
    .await;
    let t = transport(&server.url("/agent/"), Duration::from_millis(200));
    let mut resp = t
        .stream(Request::new(Method::GET, "jobs/j/logs/stream/"))
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    let mut all = Vec::new();
    while let Some(chunk) = resp.body.next_chunk().await.unwrap() {
        all.extend_from_slice(&chunk);
    }
    assert_eq!(all, b"line 0\nline 1\nline 2\n");
    assert_eq!(resp.body.next_chunk().await.unwrap(), None);
}

#[tokio::test]
async fn next_chunk_survives_cancellation() {
    let server = serve(|_req| async {
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            tx.send(Ok(Bytes::from_static(b"late\n"))).await.unwrap();
        });
        Response::new(TestBody::Channel(rx))
    })
    .await;
    let t = transport(&server.url("/"), Duration::from_secs(10));
    let mut resp = t.stream(Request::new(Method::GET, "s/")).await.unwrap();
    // Cancelled reads (the client's idle time-out) lose nothing.
    for _ in 0..3 {
        let r = tokio::time::timeout(Duration::from_millis(20), resp.body.next_chunk()).await;
        assert!(r.is_err());
    }
    let chunk = tokio::time::timeout(Duration::from_secs(10), resp.body.next_chunk())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(chunk.as_deref(), Some(&b"late\n"[..]));
    assert_eq!(resp.body.next_chunk().await.unwrap(), None);
}

#[tokio::test]
async fn dropping_a_body_stream_closes_its_connection() {
    let (done_tx, done_rx) = oneshot::channel::<()>();
    let done_tx = std::sync::Mutex::new(Some(done_tx));
    let done_tx = std::sync::Arc::new(done_tx);
    let server = serve(move |_req| {
        let done_tx = done_tx.clone();
        async move {
            let (tx, rx) = mpsc::channel(1);
            tokio::spawn(async move {
                // Sends until the client side is gone.
                while tx.send(Ok(Bytes::from_static(b"tick\n"))).await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                if let Some(done) = done_tx.lock().unwrap().take() {
                    let _ = done.send(());
                }
            });
            Response::new(TestBody::Channel(rx))
        }
    })
    .await;
    let t = transport(&server.url("/"), Duration::from_secs(10));
    let mut resp = t.stream(Request::new(Method::GET, "s/")).await.unwrap();
    assert!(resp.body.next_chunk().await.unwrap().is_some());
    drop(resp);
    tokio::time::timeout(Duration::from_secs(10), done_rx)
        .await
        .expect("the server should see the connection close")
        .unwrap();
}

#[tokio::test]
async fn connect_refused_is_a_503_connect_error() {
    let addr = closed_port().await;
    let t = transport(&format!("http://{addr}/"), Duration::from_secs(10));
    let e = t
        .request(Request::new(Method::POST, "jobs/"))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Connect { .. }), "{e:?}");
    assert_eq!(e.status_code(), 503);
    let e = t
        .stream(Request::new(Method::GET, "jobs/"))
        .await
        .err()
        .unwrap();
    assert!(matches!(e, ClientError::Connect { .. }), "{e:?}");
}

#[tokio::test]
async fn a_silent_server_is_a_408_response_incomplete() {
    let server = raw_server(|mut tcp| async move {
        let _ = read_head(&mut tcp).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
    })
    .await;
    let t = transport(&server.url("/"), Duration::from_millis(300));
    let e = t
        .request(Request::new(Method::POST, "jobs/j/stop/"))
        .await
        .unwrap_err();
    assert_eq!(e.status_code(), 408);
    match &e {
        ClientError::ResponseIncomplete {
            method,
            path,
            cause,
        } => {
            assert_eq!(method, "POST");
            assert_eq!(path, "jobs/j/stop/");
            assert!(matches!(
                **cause,
                ClientError::Timeout {
                    kind: TimeoutKind::Read,
                    ..
                }
            ));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_stalled_body_is_a_408_response_incomplete() {
    let server = raw_server(|mut tcp| async move {
        let _ = read_head(&mut tcp).await;
        write_all(
            &mut tcp,
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial",
        )
        .await;
        tokio::time::sleep(Duration::from_secs(60)).await;
    })
    .await;
    let t = transport(&server.url("/"), Duration::from_millis(300));
    let e = t
        .request(Request::new(Method::GET, "jobs/"))
        .await
        .unwrap_err();
    assert_eq!(e.status_code(), 408);
    assert!(matches!(e, ClientError::ResponseIncomplete { .. }), "{e:?}");
}

#[tokio::test]
async fn a_server_closing_mid_body_is_a_response_incomplete() {
    let server = raw_server(|mut tcp| async move {
        let _ = read_head(&mut tcp).await;
        write_all(
            &mut tcp,
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789",
        )
        .await;
        // Closing here leaves 90 bytes missing.
    })
    .await;
    let t = transport(&server.url("/"), Duration::from_secs(10));
    let e = t
        .request(Request::new(Method::POST, "plugin_releases/"))
        .await
        .unwrap_err();
    assert_eq!(e.status_code(), 503);
    match &e {
        ClientError::ResponseIncomplete { cause, .. } => {
            assert!(matches!(**cause, ClientError::Connect { .. }), "{cause:?}");
            let said = agent_proto::error_chain(&e);
            assert!(
                said.contains("connection closed before the answer"),
                "{said}"
            );
        }
        other => panic!("{other:?}"),
    }

    let mut resp = t.stream(Request::new(Method::GET, "s/")).await.unwrap();
    let mut got = Vec::new();
    let err = loop {
        match resp.body.next_chunk().await {
            Ok(Some(chunk)) => got.extend_from_slice(&chunk),
            Ok(None) => panic!("a cut body must not end normally"),
            Err(e) => break e,
        }
    };
    assert_eq!(got, b"0123456789");
    assert!(
        matches!(err, ClientError::ResponseIncomplete { .. }),
        "{err:?}"
    );
    assert_eq!(err.status_code(), 503);
    // The error repeats rather than turning into a normal end.
    assert!(resp.body.next_chunk().await.is_err());
}

#[tokio::test]
async fn a_server_closing_before_answering_is_a_response_incomplete() {
    let server = raw_server(|mut tcp| async move {
        let _ = read_head(&mut tcp).await;
    })
    .await;
    let t = transport(&server.url("/"), Duration::from_secs(10));
    let e = t
        .request(Request::new(Method::POST, "jobs/j/stop/"))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::ResponseIncomplete { .. }), "{e:?}");
    assert_eq!(e.status_code(), 503);
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let server = serve(|req: http::Request<hyper::body::Incoming>| async move {
        let big = Bytes::from(vec![b'x'; 10_000]);
        if req.uri().path() == "/chunked/" {
            let (tx, rx) = mpsc::channel(16);
            tokio::spawn(async move {
                for _ in 0..100 {
                    if tx.send(Ok(big.slice(..1000))).await.is_err() {
                        return;
                    }
                }
            });
            Response::new(TestBody::Channel(rx))
        } else {
            Response::new(TestBody::from(big))
        }
    })
    .await;
    let t = HttpTransport::builder(server.url("/"))
        .max_response_body(4096)
        .build()
        .unwrap();
    for path in ["sized/", "chunked/"] {
        let e = t
            .request(Request::new(Method::GET, path))
            .await
            .unwrap_err();
        let said = agent_proto::error_chain(&e);
        assert!(said.contains("4096-byte limit"), "{said}");
        assert!(matches!(e, ClientError::ResponseIncomplete { .. }), "{e:?}");
    }
    let t = HttpTransport::builder(server.url("/")).build().unwrap();
    let resp = t
        .request(Request::new(Method::GET, "sized/"))
        .await
        .unwrap();
    assert_eq!(resp.body.len(), 10_000);
}

#[tokio::test]
async fn a_tls_handshake_that_hangs_is_a_connect_time_out() {
    let server = raw_server(|tcp| async move {
        let _keep = tcp;
        tokio::time::sleep(Duration::from_secs(60)).await;
    })
    .await;
    let t = HttpTransport::builder(server.https_url("/"))
        .timeouts(Timeouts {
            connect: Duration::from_millis(300),
            read: Duration::from_secs(10),
        })
        .build()
        .unwrap();
    let e = t
        .request(Request::new(Method::POST, "jobs/"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Timeout {
                kind: TimeoutKind::Connect,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.status_code(), 408);
}

#[tokio::test]
async fn over_the_wire_a_post_whose_answer_is_lost_is_sent_once() {
    use agent_transport::{RetryPolicy, RetryingTransport};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let seen = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let server = raw_server(move |mut tcp| {
        let counter = counter.clone();
        async move {
            let head = read_head(&mut tcp).await;
            if !head.is_empty() {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            // Closes without an answer.
        }
    })
    .await;
    let policy = RetryPolicy {
        initial_backoff: Duration::from_millis(1),
        ..RetryPolicy::default()
    };
    let t = RetryingTransport::new(transport(&server.url("/"), Duration::from_secs(10)), policy);
    let e = t
        .request(Request::new(Method::POST, "plugin_releases/x/run/"))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::ResponseIncomplete { .. }), "{e:?}");
    assert_eq!(seen.load(Ordering::SeqCst), 1);

    // A connect error is retried, and reported as such when retries run out.
    let addr = closed_port().await;
    let t = RetryingTransport::new(
        transport(&format!("http://{addr}/"), Duration::from_secs(10)),
        RetryPolicy {
            initial_backoff: Duration::from_millis(1),
            ..RetryPolicy::default()
        },
    );
    let e = t
        .request(Request::new(Method::POST, "plugin_releases/"))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Connect { .. }), "{e:?}");
}
