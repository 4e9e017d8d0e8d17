//! TLS with a self-signed certificate made in the test: refused without its root,
//! accepted with it, for HTTP and WebSocket alike.

mod common;

use agent_proto::{ClientError, TimeoutKind, Timeouts};
use agent_transport::{HttpTransport, Request, Transport, WsMessage, WsOptions};
use bytes::Bytes;
use common::{
    accept_websocket, handler, http_server, raw_server, read_head, status, test_cert, test_cert_for,
};
use fastwebsockets::{Frame, OpCode, Payload};
use http::{Method, StatusCode};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

async fn tls_server(acceptor: tokio_rustls::TlsAcceptor) -> common::Server {
    http_server(
        handler(|req: http::Request<hyper::body::Incoming>| async move {
            if req.uri().path() == "/agent/ws/" {
                accept_websocket(req, |mut ws| async move {
                    let f =
                        Frame::new(true, OpCode::Text, None, Payload::Owned(b"secure".to_vec()));
                    ws.write_frame(f).await.unwrap();
                    ws.write_frame(Frame::close(1000, b"")).await.unwrap();
                    let _ = ws.read_frame().await;
                })
            } else {
                status(StatusCode::OK, &format!("tls ok {}", req.uri().path()))
            }
        }),
        Some(acceptor),
    )
    .await
}

const OPTS: WsOptions = WsOptions {
    max_message_size: 1024,
    ping_interval: Duration::from_secs(30),
};

#[tokio::test]
async fn an_unknown_certificate_fails_closed() {
    let cert = test_cert();
    let server = tls_server(cert.acceptor.clone()).await;
    let t = HttpTransport::builder(server.https_url("/agent/"))
        .build()
        .unwrap();
    let e = t
        .request(Request::new(Method::POST, "jobs/"))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Connect { .. }), "{e:?}");
    assert_eq!(e.status_code(), 503);
    assert!(e.to_string().contains("certificate"), "{e}");

    let e = t
        .websocket(Request::new(Method::GET, "ws/"), OPTS)
        .await
        .err()
        .unwrap();
    assert!(matches!(e, ClientError::Connect { .. }), "{e:?}");
    assert!(e.to_string().contains("certificate"), "{e}");
}

#[tokio::test]
async fn an_added_root_is_trusted_for_http_and_wss() {
    let cert = test_cert();
    let server = tls_server(cert.acceptor.clone()).await;
    let by_pem = HttpTransport::builder(server.https_url("/agent/"))
        .add_root_certificate_pem(cert.pem.as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let by_der = HttpTransport::builder(server.https_url("/agent"))
        .web_roots(false)
        .add_root_certificate_der(cert.der.clone())
        .unwrap()
        .build()
        .unwrap();
    for t in [by_pem, by_der] {
        let resp = t
            .request(Request::new(Method::GET, "health/"))
            .await
            .unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(&resp.body[..], b"tls ok /agent/health/");

        let mut ws = t
            .websocket(Request::new(Method::GET, "ws/"), OPTS)
            .await
            .unwrap();
        assert_eq!(
            ws.next_message().await.unwrap(),
            Some(WsMessage::Text(Bytes::from_static(b"secure")))
        );
        assert_eq!(ws.next_message().await.unwrap(), None);
    }
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let cert = test_cert_for(&["agent.example.com"]);
    let server = tls_server(cert.acceptor.clone()).await;
    let t = HttpTransport::builder(server.https_url("/"))
        .add_root_certificate_pem(cert.pem.as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let e = t
        .request(Request::new(Method::GET, "health/"))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Connect { .. }), "{e:?}");
    assert!(e.to_string().contains("certificate"), "{e}");
}

/// A server whose TLS handshake starts `handshake` late and whose answer comes
/// `answer` after the request arrived.
async fn slow_tls_server(
    acceptor: tokio_rustls::TlsAcceptor,
    handshake: Duration,
    answer: Duration,
) -> common::Server {
    raw_server(move |tcp| {
        let acceptor = acceptor.clone();
        async move {
            tokio::time::sleep(handshake).await;
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                return;
            };
            read_head(&mut tls).await;
            tokio::time::sleep(answer).await;
            let _ = tls
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await;
            let _ = tls.flush().await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    })
    .await
}

/// The read time-out counts from the moment the request is on the wire, not from
/// the call: a slow handshake does not eat into it, and it still ends a silent
/// answer at its own length.
#[tokio::test]
async fn the_read_time_out_starts_when_the_request_is_sent() {
    let cert = test_cert();
    let timeouts = Timeouts {
        connect: Duration::from_secs(5),
        read: Duration::from_millis(600),
    };
    let transport = |server: &common::Server| {
        HttpTransport::builder(server.https_url("/"))
            .add_root_certificate_pem(cert.pem.as_bytes())
            .unwrap()
            .timeouts(timeouts)
            .build()
            .unwrap()
    };
    // 500 ms of handshake + 400 ms of answer: over 600 ms from the call, under
    // 600 ms from the sending.
    let server = slow_tls_server(
        cert.acceptor.clone(),
        Duration::from_millis(500),
        Duration::from_millis(400),
    )
    .await;
    let resp = transport(&server)
        .request(Request::new(Method::GET, "health/"))
        .await
        .unwrap();
    assert_eq!(&resp.body[..], b"ok");

    let server = slow_tls_server(
        cert.acceptor.clone(),
        Duration::from_millis(500),
        Duration::from_secs(10),
    )
    .await;
    let started = std::time::Instant::now();
    let e = transport(&server)
        .request(Request::new(Method::GET, "health/"))
        .await
        .unwrap_err();
    let took = started.elapsed();
    match &e {
        ClientError::ResponseIncomplete { cause, .. } => assert!(
            matches!(
                **cause,
                ClientError::Timeout {
                    kind: TimeoutKind::Read,
                    ..
                }
            ),
            "{e:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(took >= Duration::from_millis(1_100), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}
