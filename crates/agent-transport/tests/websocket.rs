//! `HttpTransport` WebSockets against real loopback servers (hyper + fastwebsockets).

mod common;

use agent_proto::{ClientError, TimeoutKind, Timeouts};
use agent_transport::{HttpTransport, Request, Transport, WsMessage, WsOptions, MAX_WS_FRAME_SIZE};
use bytes::Bytes;
use common::{accept_websocket, closed_port, raw_server, read_head, serve, write_all};
use fastwebsockets::{Frame, OpCode, Payload};
use http::{HeaderValue, Method, Response, StatusCode};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

const WAIT: Duration = Duration::from_secs(10);

fn options(max_message_size: usize) -> WsOptions {
    WsOptions {
        max_message_size,
        ping_interval: Duration::from_secs(30),
    }
}

fn transport(base: &str) -> HttpTransport {
    HttpTransport::builder(base)
        .timeouts(Timeouts {
            connect: Duration::from_secs(5),
            read: Duration::from_secs(5),
        })
        .build()
        .unwrap()
}

async fn next(
    ws: &mut Box<dyn agent_transport::WsStream>,
) -> Result<Option<WsMessage>, ClientError> {
    tokio::time::timeout(WAIT, ws.next_message())
        .await
        .expect("a message within the wait")
}

fn text(s: &'static str) -> WsMessage {
    WsMessage::Text(Bytes::from_static(s.as_bytes()))
}

fn frame(fin: bool, opcode: OpCode, data: Vec<u8>) -> Frame<'static> {
    Frame::new(fin, opcode, None, Payload::Owned(data))
}

#[tokio::test]
async fn messages_arrive_whole_and_a_normal_close_ends_the_stream() {
    let seen = Arc::new(Mutex::new(None::<(String, Option<String>)>));
    let seen2 = seen.clone();
    let server = serve(move |req: http::Request<hyper::body::Incoming>| {
        let seen = seen2.clone();
        async move {
            let auth = req
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned());
            *seen.lock().unwrap() = Some((req.uri().to_string(), auth));
            accept_websocket(req, |mut ws| async move {
                ws.write_frame(frame(true, OpCode::Text, b"hello".to_vec()))
                    .await
                    .unwrap();
                // A fragmented message: "ab" + "cd" + "ef".
                ws.write_frame(frame(false, OpCode::Text, b"ab".to_vec()))
                    .await
                    .unwrap();
                ws.write_frame(frame(false, OpCode::Continuation, b"cd".to_vec()))
                    .await
                    .unwrap();
                ws.write_frame(frame(true, OpCode::Continuation, b"ef".to_vec()))
                    .await
                    .unwrap();
                ws.write_frame(frame(true, OpCode::Binary, b"\x01\x02".to_vec()))
                    .await
                    .unwrap();
                ws.write_frame(Frame::close(1000, b"done")).await.unwrap();
                let _ = ws.read_frame().await;
            })
        }
    })
    .await;
    let t = transport(&server.url("/agent/"));
    let mut req = Request::new(Method::GET, "jobs/j1/logs/");
    req.headers
        .insert("authorization", HeaderValue::from_static("tok"));
    let mut ws = t.websocket(req, options(1024)).await.unwrap();
    assert_eq!(next(&mut ws).await.unwrap(), Some(text("hello")));
    // A fragmented message comes frame by frame, as it arrives.
    for (piece, last) in [("ab", false), ("cd", false), ("ef", true)] {
        assert_eq!(
            next(&mut ws).await.unwrap(),
            Some(WsMessage::Fragment {
                data: Bytes::from_static(piece.as_bytes()),
                last
            })
        );
    }
    assert_eq!(
        next(&mut ws).await.unwrap(),
        Some(WsMessage::Text(Bytes::from_static(b"\x01\x02")))
    );
    assert_eq!(next(&mut ws).await.unwrap(), None);
    assert_eq!(next(&mut ws).await.unwrap(), None);
    let (uri, auth) = seen.lock().unwrap().clone().unwrap();
    assert_eq!(uri, "/agent/jobs/j1/logs/");
    assert_eq!(auth.as_deref(), Some("tok"));
}

#[tokio::test]
async fn an_abnormal_close_or_eof_is_an_error() {
    let server = serve(|req: http::Request<hyper::body::Incoming>| async move {
        let eof = req.uri().path().ends_with("/eof/");
        accept_websocket(req, move |mut ws| async move {
            ws.write_frame(frame(true, OpCode::Text, b"one".to_vec()))
                .await
                .unwrap();
            if eof {
                drop(ws);
            } else {
                ws.write_frame(Frame::close(1011, b"boom")).await.unwrap();
                let _ = ws.read_frame().await;
            }
        })
    })
    .await;
    let t = transport(&server.url("/"));
    for (path, want) in [("ws/close/", "code 1011"), ("ws/eof/", "no close frame")] {
        let mut ws = t
            .websocket(Request::new(Method::GET, path), options(1024))
            .await
            .unwrap();
        assert_eq!(next(&mut ws).await.unwrap(), Some(text("one")));
        let e = next(&mut ws).await.unwrap_err();
        assert_eq!(e.status_code(), 503, "{e:?}");
        assert!(e.to_string().contains("closed mid-stream"), "{e}");
        assert!(e.to_string().contains(want), "{e}");
        // The error repeats; it never turns into a normal end.
        assert!(next(&mut ws).await.is_err());
    }
}

#[tokio::test]
async fn a_refused_upgrade_maps_its_status() {
    let server = serve(|_req| async {
        Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .header("retry-after", "5")
            .body(common::TestBody::from(r#"{"detail":"agent busy"}"#))
            .unwrap()
    })
    .await;
    let t = transport(&server.url("/"));
    let e = t
        .websocket(Request::new(Method::GET, "jobs/j/logs/"), options(1024))
        .await
        .err()
        .unwrap();
    match &e {
        ClientError::Unavailable {
            retry_after,
            message,
        } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(5)));
            assert_eq!(message, "agent busy");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.status_code(), 503);
}

#[tokio::test]
async fn a_wrong_accept_key_is_a_protocol_error() {
    let server = raw_server(|mut tcp| async move {
        let _ = read_head(&mut tcp).await;
        write_all(
            &mut tcp,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: dGhpcyBpcyB3cm9uZw==\r\n\r\n",
        )
        .await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let t = transport(&server.url("/"));
    let e = t
        .websocket(Request::new(Method::GET, "jobs/j/logs/"), options(1024))
        .await
        .err()
        .unwrap();
    assert!(matches!(e, ClientError::Protocol { .. }), "{e:?}");
    assert!(e.to_string().contains("Sec-WebSocket-Accept"), "{e}");
    assert_eq!(e.status_code(), 500);
}

#[tokio::test]
async fn connect_errors_and_time_outs() {
    let addr = closed_port().await;
    let t = transport(&format!("http://{addr}/"));
    let e = t
        .websocket(Request::new(Method::GET, "x/"), options(1024))
        .await
        .err()
        .unwrap();
    assert!(matches!(e, ClientError::Connect { .. }), "{e:?}");

    // A server that never answers the upgrade: the connect time-out covers it.
    let server = raw_server(|mut tcp| async move {
        let _ = read_head(&mut tcp).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let t = HttpTransport::builder(server.url("/"))
        .timeouts(Timeouts {
            connect: Duration::from_millis(300),
            read: Duration::from_secs(10),
        })
        .build()
        .unwrap();
    let e = t
        .websocket(Request::new(Method::GET, "x/"), options(1024))
        .await
        .err()
        .unwrap();
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
}

#[tokio::test]
async fn big_messages_stream_frame_by_frame_and_only_a_frame_past_the_cap_fails() {
    // More than MAX_WS_FRAME_SIZE in all, in fragments of 64 KiB: handed on frame by
    // frame, nothing buffers the whole message (its reader measures each line).
    const FRAGMENT: usize = 64 * 1024;
    const FRAGMENTS: usize = MAX_WS_FRAME_SIZE / FRAGMENT + 16;
    let server = serve(|req| async move {
        accept_websocket(req, |mut ws| async move {
            ws.write_frame(frame(false, OpCode::Text, vec![b'x'; FRAGMENT]))
                .await
                .unwrap();
            for _ in 1..FRAGMENTS - 1 {
                ws.write_frame(frame(false, OpCode::Continuation, vec![b'x'; FRAGMENT]))
                    .await
                    .unwrap();
            }
            ws.write_frame(frame(true, OpCode::Continuation, vec![b'x'; FRAGMENT]))
                .await
                .unwrap();
            // One frame far above the line limit (but within the frame cap).
            ws.write_frame(frame(true, OpCode::Text, vec![b'y'; 100_000]))
                .await
                .unwrap();
            ws.write_frame(frame(true, OpCode::Text, b"after".to_vec()))
                .await
                .unwrap();
            // A single frame above the frame cap: a protocol error.
            ws.write_frame(frame(
                true,
                OpCode::Text,
                vec![b'z'; MAX_WS_FRAME_SIZE + 10],
            ))
            .await
            .unwrap();
            let _ = ws.read_frame().await;
        })
    })
    .await;
    let t = transport(&server.url("/"));
    let mut ws = t
        .websocket(Request::new(Method::GET, "jobs/j/logs/"), options(10_240))
        .await
        .unwrap();
    for i in 0..FRAGMENTS {
        match next(&mut ws).await.unwrap() {
            Some(WsMessage::Fragment { data, last }) => {
                assert_eq!((data.len(), last), (FRAGMENT, i + 1 == FRAGMENTS));
            }
            other => panic!("fragment {i}: {:?}", other.map(|_| "another item")),
        }
    }
    match next(&mut ws).await.unwrap() {
        Some(WsMessage::Text(data)) => assert_eq!(data.len(), 100_000),
        other => panic!("{:?}", other.map(|_| "another item")),
    }
    assert_eq!(next(&mut ws).await.unwrap(), Some(text("after")));
    let e = next(&mut ws).await.unwrap_err();
    assert!(matches!(e, ClientError::Protocol { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains(&format!("frame cap ({MAX_WS_FRAME_SIZE} bytes)")),
        "{e}"
    );
}

#[tokio::test]
async fn pings_keep_a_quiet_connection_alive() {
    let server = serve(|req| async move {
        accept_websocket(req, |mut ws| async move {
            // Silent, but answers pings (fastwebsockets' auto-pong) while reading.
            while let Ok(f) = ws.read_frame().await {
                if f.opcode == OpCode::Close {
                    break;
                }
            }
        })
    })
    .await;
    let t = transport(&server.url("/"));
    let opts = WsOptions {
        max_message_size: 1024,
        ping_interval: Duration::from_millis(100),
    };
    let mut ws = t
        .websocket(Request::new(Method::GET, "jobs/j/logs/"), opts)
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(next(&mut ws).await.unwrap(), Some(WsMessage::KeepAlive));
    }
    ws.close().await;
    assert_eq!(ws.next_message().await.unwrap(), None);
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    let (tx, rx) = oneshot::channel::<String>();
    let tx = Arc::new(Mutex::new(Some(tx)));
    let server = serve(move |req| {
        let tx = tx.clone();
        async move {
            accept_websocket(req, move |mut ws| async move {
                ws.write_frame(frame(true, OpCode::Text, b"hi".to_vec()))
                    .await
                    .unwrap();
                let end = loop {
                    match ws.read_frame().await {
                        Ok(f) if f.opcode == OpCode::Close => break "close".to_owned(),
                        Ok(_) => continue,
                        Err(e) => break e.to_string(),
                    }
                };
                if let Some(tx) = tx.lock().unwrap().take() {
                    let _ = tx.send(end);
                }
            })
        }
    })
    .await;
    let t = transport(&server.url("/"));
    let mut ws = t
        .websocket(Request::new(Method::GET, "jobs/j/logs/"), options(1024))
        .await
        .unwrap();
    assert_eq!(next(&mut ws).await.unwrap(), Some(text("hi")));
    drop(ws);
    let end = tokio::time::timeout(WAIT, rx)
        .await
        .expect("the server should see the connection end")
        .unwrap();
    assert_ne!(end, "close", "a drop closes the socket, not the WebSocket");
}

#[tokio::test]
async fn next_message_survives_cancellation() {
    let server = serve(|req| async move {
        accept_websocket(req, |mut ws| async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            ws.write_frame(frame(true, OpCode::Text, b"late".to_vec()))
                .await
                .unwrap();
            ws.write_frame(Frame::close(1001, b"")).await.unwrap();
            let _ = ws.read_frame().await;
        })
    })
    .await;
    let t = transport(&server.url("/"));
    let mut ws = t
        .websocket(Request::new(Method::GET, "jobs/j/logs/"), options(1024))
        .await
        .unwrap();
    for _ in 0..3 {
        assert!(
            tokio::time::timeout(Duration::from_millis(20), ws.next_message())
                .await
                .is_err()
        );
    }
    assert_eq!(next(&mut ws).await.unwrap(), Some(text("late")));
    assert_eq!(next(&mut ws).await.unwrap(), None);
}
