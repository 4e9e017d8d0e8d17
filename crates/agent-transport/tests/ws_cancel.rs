//! The WebSocket is read in the caller's task, and a call can be dropped at any
//! point (the tail wraps every call in an idle time-out and polls ready messages
//! once): generated messages, fragmentings, control frames, cut points on the wire
//! and cancellation times, and every message must arrive whole, once, in order.

mod common;

use agent_transport::{HttpTransport, Request, Transport, WsMessage, WsOptions};
use base64::Engine as _;
use bytes::Bytes;
use common::{raw_server, read_head, write_all};
use http::Method;
use proptest::prelude::*;
use sha1::{Digest, Sha1};
use std::time::Duration;

/// One thing the server sends.
#[derive(Debug, Clone)]
enum Sent {
    /// A text message, split into `fragments` frames.
    Text {
        text: Vec<u8>,
        fragments: usize,
    },
    Ping,
    Pong,
}

fn sent() -> impl Strategy<Value = Sent> {
    // Lengths across the 7-bit, 16-bit and 64-bit length encodings.
    let len = prop_oneof![0usize..130, 60_000usize..70_000, 0usize..3_000];
    prop_oneof![
        8 => (len, 1usize..4).prop_map(|(n, fragments)| Sent::Text {
            text: (0..n).map(|i| b'a' + (i % 26) as u8).collect(),
            fragments,
        }),
        1 => Just(Sent::Ping),
        1 => Just(Sent::Pong),
    ]
}

/// An unmasked (server-to-client) frame.
fn frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8]) {
    out.push(if fin { 0x80 } else { 0 } | opcode);
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= u16::MAX as usize => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

/// The wire bytes of `script` followed by a normal close, and the messages the
/// client must yield for it.
fn encode(script: &[Sent]) -> (Vec<u8>, Vec<WsMessage>) {
    let (mut wire, mut want) = (Vec::new(), Vec::new());
    for s in script {
        match s {
            Sent::Text { text, fragments } => {
                let step = text.len().div_ceil(*fragments).max(1);
                let pieces: Vec<&[u8]> = if text.is_empty() {
                    vec![&[]]
                } else {
                    text.chunks(step).collect()
                };
                for (i, piece) in pieces.iter().enumerate() {
                    let opcode = if i == 0 { 0x1 } else { 0x0 };
                    frame(&mut wire, i + 1 == pieces.len(), opcode, piece);
                }
                // A message in one frame comes whole, a fragmented one frame by
                // frame (its reader splits it into lines as it arrives).
                if pieces.len() == 1 {
                    want.push(WsMessage::Text(Bytes::from(text.clone())));
                } else {
                    for (i, piece) in pieces.iter().enumerate() {
                        want.push(WsMessage::Fragment {
                            data: Bytes::copy_from_slice(piece),
                            last: i + 1 == pieces.len(),
                        });
                    }
                }
            }
            Sent::Ping => frame(&mut wire, true, 0x9, b"p"),
            Sent::Pong => {
                frame(&mut wire, true, 0xA, b"");
                want.push(WsMessage::KeepAlive);
            }
        }
    }
    frame(&mut wire, true, 0x8, &1000u16.to_be_bytes());
    (wire, want)
}

fn accept(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

async fn run_case(wire: Vec<u8>, cuts: Vec<usize>, waits: Vec<u64>) -> Vec<WsMessage> {
    let server = raw_server(move |mut tcp| {
        let (wire, cuts) = (wire.clone(), cuts.clone());
        async move {
            let head = read_head(&mut tcp).await;
            let key = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("sec-websocket-key")
                        .then(|| value.trim().to_owned())
                })
                .unwrap_or_default();
            let answer = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                accept(&key)
            );
            write_all(&mut tcp, answer.as_bytes()).await;
            // The wire in pieces cut anywhere (mid-header too), a pause after each.
            let mut at = 0;
            for (i, cut) in cuts.iter().cycle().enumerate() {
                if at >= wire.len() {
                    break;
                }
                let end = (at + cut).min(wire.len());
                write_all(&mut tcp, &wire[at..end]).await;
                at = end;
                if i % 3 == 0 {
                    tokio::time::sleep(Duration::from_micros(200)).await;
                } else {
                    tokio::task::yield_now().await;
                }
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    })
    .await;
    let transport = HttpTransport::builder(server.url("/")).build().unwrap();
    let options = WsOptions {
        max_message_size: 1 << 20,
        ping_interval: Duration::from_secs(30),
    };
    let mut ws = transport
        .websocket(Request::new(Method::GET, "jobs/j/logs/"), options)
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut wait = waits.iter().cycle();
    loop {
        // A short wait that often runs out mid-frame, and drops the call.
        let micros = *wait.next().unwrap_or(&0);
        let next = if micros == 0 {
            tokio::time::timeout(Duration::from_secs(10), ws.next_message()).await
        } else {
            match tokio::time::timeout(Duration::from_micros(micros), ws.next_message()).await {
                Err(_) => continue,
                Ok(next) => Ok(next),
            }
        };
        match next.expect("a message within 10 s") {
            Ok(Some(message)) => got.push(message),
            Ok(None) => break,
            Err(e) => panic!("the stream failed: {e}"),
        }
    }
    got
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_message_arrives_whole_once_and_in_order_whatever_is_cancelled(
        script in proptest::collection::vec(sent(), 0..24),
        cuts in proptest::collection::vec(1usize..9_000, 1..16),
        waits in proptest::collection::vec(prop_oneof![Just(0u64), 1u64..400], 1..16),
    ) {
        let (wire, want) = encode(&script);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let got = runtime.block_on(run_case(wire, cuts, waits));
        prop_assert_eq!(got, want);
    }
}
