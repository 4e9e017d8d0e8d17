//! What a Rust user would write instead of our clients, on tokio-tungstenite
//! (issue 15): the WebSocket tail, idiomatic and short, not tuned.
//!
//! `connect_async` with the token in the handshake request, then the stream of
//! messages read with `StreamExt::next`, each text message decoded with serde
//! into the same owned [`TailEvent`] as the reqwest contender's, until the
//! `complete` event (or the server's close).

use std::time::Instant;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use crate::by_reqwest::{Step, TailEvent};
use crate::report::Outcome;
use crate::target::{tail_path, Target};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The WebSocket tail `jobs/{job}/logs/` read to its `complete` event.
pub async fn tail_websocket(target: &Target, token: &str, job: &str) -> Result<Outcome, BoxError> {
    let started = Instant::now();
    let url = format!(
        "ws://{}{}",
        target.authority,
        target.path(&tail_path(job, true)?)
    );
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", HeaderValue::from_str(token)?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let (mut lines, mut bytes) = (0u64, 0u64);
    while let Some(message) = socket.next().await {
        match message? {
            Message::Text(text) => match TailEvent::decode(&text)? {
                Step::Line(len) => {
                    lines += 1;
                    bytes += len as u64;
                }
                Step::Skip => {}
                Step::Done => break,
            },
            Message::Close(_) => break,
            _ => {}
        }
    }
    Ok(Outcome {
        workload: "tail-websocket".into(),
        client: "tungstenite".into(),
        count: lines,
        bytes,
        elapsed: started.elapsed(),
    })
}
