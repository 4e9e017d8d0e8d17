//! The real Ray tail transcript (`fixtures/ray/tail_transcript.json` at the repository's root, every
//! WebSocket text frame of Ray's dashboard tail, then its close code) through the
//! decoders.
//!
//! Ray's frames are batches of lines. In the agent protocol one WebSocket message is
//! one event, and a log event holding several lines is split into them (spec: "Stream
//! limits", decided 2026-12), so a Ray frame gives the lines the HTTP stream gives.

use std::path::PathBuf;

use agent_proto::StreamLimits;
use agent_stream::{TailDecoder, TailItem};

fn fixture(name: &str) -> serde_json::Value {
    // The recorded Ray answers live at the repository's root.
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/ray")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the Ray fixture {} is missing: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The transcript's text frames, and its close code.
fn transcript() -> (Vec<String>, u64) {
    let entries = fixture("tail_transcript.json");
    let mut frames = Vec::new();
    let mut close = None;
    for entry in entries.as_array().unwrap() {
        if let Some(data) = entry.get("data") {
            frames.push(data.as_str().unwrap().to_owned());
        } else {
            close = entry["close_code"].as_u64();
        }
    }
    (frames, close.unwrap())
}

/// The whole log, as Ray's `logs` endpoint answered it.
fn whole_log() -> String {
    fixture("logs.json")["logs"].as_str().unwrap().to_owned()
}

fn texts(items: &[TailItem]) -> Vec<&str> {
    items
        .iter()
        .filter_map(|i| match i {
            TailItem::Line(l) => Some(l.as_str()),
            TailItem::Complete => None,
        })
        .collect()
}

#[test]
fn a_raw_ray_frame_is_split_into_its_lines() {
    let (frames, close) = transcript();
    assert_eq!(close, 1000);
    assert_eq!(frames.len(), 5);
    let mut tail = TailDecoder::websocket(StreamLimits::default());
    let mut out = Vec::new();
    for frame in &frames {
        tail.push_message(frame.as_bytes(), &mut out).unwrap();
    }
    tail.finish(&mut out).unwrap();
    // Nothing lost, nothing joined: the whole log, line by line.
    let log = whole_log();
    assert_eq!(texts(&out), log.lines().collect::<Vec<_>>());
    let c = tail.counters();
    assert_eq!((c.received, c.delivered), (5, 36));
    // Ray closes with 1000 and sends no `complete` event: the decoder does not invent
    // one (the client decides what a close without `complete` means).
    assert!(!tail.is_complete());
}

#[test]
fn a_ray_line_over_the_size_limit_is_skipped_and_counted() {
    let (frames, _) = transcript();
    let log = whole_log();
    let longest = log.lines().map(str::len).max().unwrap();
    // The longest line is skipped; its frame's other lines are not.
    let limits = StreamLimits {
        max_message_size: longest - 1,
        ..StreamLimits::default()
    };
    let mut tail = TailDecoder::websocket(limits);
    let mut out = Vec::new();
    for frame in &frames {
        tail.push_message(frame.as_bytes(), &mut out).unwrap();
    }
    let want: Vec<&str> = log.lines().filter(|l| l.len() < longest).collect();
    assert_eq!(texts(&out), want);
    let c = tail.counters();
    assert_eq!(c.delivered, want.len() as u64);
    assert_eq!(c.skipped_oversized, 36 - want.len() as u64);
}

/// What an agent gateway makes of Ray's frames: one `log` event per line (a line cut
/// at a frame's end waits for the next frame), then `complete` when Ray closes.
fn gateway_events(frames: &[String]) -> Vec<String> {
    let mut events = Vec::new();
    let mut pending = String::new();
    for frame in frames {
        pending.push_str(frame);
        while let Some(pos) = pending.find('\n') {
            let line: String = pending.drain(..=pos).collect();
            let line = line.trim_end_matches('\n');
            events.push(serde_json::json!({"type": "log", "message": line}).to_string());
        }
    }
    if !pending.is_empty() {
        events.push(serde_json::json!({"type": "log", "message": pending}).to_string());
    }
    events.push(r#"{"type":"complete"}"#.to_owned());
    events
}

#[test]
fn the_agent_protocol_gives_the_same_lines_over_both_protocols() {
    let (frames, _) = transcript();
    let events = gateway_events(&frames);
    let log = whole_log();
    let want_lines: Vec<&str> = log.lines().collect();
    assert_eq!(want_lines.len(), 36);

    // WebSocket: one event per message.
    let mut ws = TailDecoder::websocket(StreamLimits::default());
    let mut ws_out = Vec::new();
    for event in &events {
        ws.push_message(event.as_bytes(), &mut ws_out).unwrap();
    }
    assert_eq!(texts(&ws_out), want_lines);
    assert_eq!(ws_out.last(), Some(&TailItem::Complete));
    assert!(ws.is_complete());

    // HTTP: the same events as SSE, cut in awkward chunks (every 7 bytes).
    let body: String = events
        .iter()
        .map(|e| format!("data: {e}\r\n\r\n"))
        .collect();
    let mut http = TailDecoder::http(StreamLimits::default());
    let mut http_out = Vec::new();
    for chunk in body.as_bytes().chunks(7) {
        http.push_bytes(chunk, &mut http_out).unwrap();
    }
    http.finish(&mut http_out).unwrap();
    assert_eq!(http_out, ws_out);
    assert_eq!(http.counters(), ws.counters());

    // HTTP, plain lines (a server that streams the log as is): the same lines.
    let mut plain = TailDecoder::http(StreamLimits::default());
    let mut plain_out = Vec::new();
    for chunk in log.as_bytes().chunks(5) {
        plain.push_bytes(chunk, &mut plain_out).unwrap();
    }
    plain.finish(&mut plain_out).unwrap();
    assert_eq!(texts(&plain_out), want_lines);
}

#[test]
fn fallback_mid_stream_delivers_every_line_once() {
    // The WebSocket breaks after 10 events; `auto` falls back to HTTP, which replays
    // the log from the start.
    let (frames, _) = transcript();
    let events = gateway_events(&frames);
    let mut delivered = Vec::new();

    let mut ws = TailDecoder::websocket(StreamLimits::default()).with_digest();
    for event in &events[..10] {
        ws.push_message(event.as_bytes(), &mut delivered).unwrap();
    }
    let mut http = TailDecoder::http(StreamLimits::default());
    http.resume_after(ws.digest().unwrap());
    let body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    http.push_bytes(body.as_bytes(), &mut delivered).unwrap();
    http.finish(&mut delivered).unwrap();

    let log = whole_log();
    assert_eq!(texts(&delivered), log.lines().collect::<Vec<_>>());
    assert_eq!(delivered.last(), Some(&TailItem::Complete));
    assert_eq!(http.counters().replayed, 10);
    assert_eq!(http.counters().received, events.len() as u64);
}
