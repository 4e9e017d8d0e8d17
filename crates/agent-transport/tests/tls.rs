//! TLS with a self-signed certificate made in the test: refused without its root,
//! accepted with it, for HTTP and WebSocket alike.

mod common;

use agent_proto::ClientError;
use agent_transport::{HttpTransport, Request, Transport, WsMessage, WsOptions};
use bytes::Bytes;
use common::{accept_websocket, handler, http_server, status, test_cert, test_cert_for};
use fastwebsockets::{Frame, OpCode, Payload};
use http::{Method, StatusCode};
use std::time::Duration;

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
