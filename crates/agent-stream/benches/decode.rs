//! Decoding throughput of a large log: plain lines and SSE `data:` events, through the
//! whole [`TailDecoder`] (owned lines out, limits on) and through the bare
//! [`LineDecoder`], in realistic body chunk sizes; and WebSocket messages.
//!
//! `cargo bench -p agent-stream --bench decode -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use agent_proto::StreamLimits;
use agent_stream::{LineDecoder, TailDecoder, TailItem};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// The size of each benchmarked log.
const LOG_SIZE: usize = 64 * 1024 * 1024;

/// A log line of `len` bytes (newline not included), different for each `i`.
fn message(i: usize, len: usize) -> String {
    let mut line = format!(
        "2026-11-23 23:47:{:02},{:03}\tINFO worker.py:{} -- step {i} of the job: ",
        i % 60,
        i % 1000,
        i % 977
    );
    while line.len() < len {
        line.push(char::from(b'a' + (line.len() % 26) as u8));
    }
    line.truncate(len);
    line
}

/// About `LOG_SIZE` bytes of 100-byte lines (99 bytes and a newline).
fn plain_log() -> Vec<u8> {
    let mut log = Vec::with_capacity(LOG_SIZE + 200);
    let mut i = 0;
    while log.len() < LOG_SIZE {
        log.extend_from_slice(message(i, 99).as_bytes());
        log.push(b'\n');
        i += 1;
    }
    log
}

/// About `LOG_SIZE` bytes of SSE events `data: {"type":"log","message":"..."}` with
/// 99-byte messages, each followed by a blank line, as an SSE server sends them.
fn sse_log() -> Vec<u8> {
    let mut log = Vec::with_capacity(LOG_SIZE + 200);
    let mut i = 0;
    while log.len() < LOG_SIZE {
        let event = serde_json::json!({"type": "log", "message": message(i, 99)});
        log.extend_from_slice(b"data: ");
        log.extend_from_slice(event.to_string().as_bytes());
        log.extend_from_slice(b"\n\n");
        i += 1;
    }
    log
}

fn tail_http(c: &mut Criterion) {
    let mut group = c.benchmark_group("tail_http");
    group.sample_size(10);
    for (name, log) in [("plain", plain_log()), ("sse", sse_log())] {
        group.throughput(Throughput::Bytes(log.len() as u64));
        for chunk_size in [16 * 1024, 64 * 1024] {
            let id = BenchmarkId::new(name, format!("{}KiB", chunk_size / 1024));
            group.bench_with_input(id, &chunk_size, |b, &chunk_size| {
                b.iter(|| {
                    let mut tail = TailDecoder::http(StreamLimits::unlimited());
                    let mut out: Vec<TailItem> = Vec::with_capacity(1024);
                    let mut lines = 0usize;
                    for chunk in log.chunks(chunk_size) {
                        tail.push_bytes(chunk, &mut out).ok();
                        lines += out.len();
                        // The client hands the lines on; they are dropped there.
                        black_box(&mut out).clear();
                    }
                    tail.finish(&mut out).ok();
                    black_box(lines + out.len())
                })
            });
        }
    }
    group.finish();
}

fn line_decoder(c: &mut Criterion) {
    let mut group = c.benchmark_group("line_decoder");
    group.sample_size(10);
    let log = plain_log();
    group.throughput(Throughput::Bytes(log.len() as u64));
    for chunk_size in [16 * 1024, 64 * 1024] {
        let id = BenchmarkId::new("plain", format!("{}KiB", chunk_size / 1024));
        group.bench_with_input(id, &chunk_size, |b, &chunk_size| {
            b.iter(|| {
                let mut decoder = LineDecoder::new(1024 * 1024);
                let mut bytes = 0usize;
                let mut count = |line: agent_stream::Line<'_>| {
                    bytes += line.text().map_or(0, str::len);
                };
                for chunk in log.chunks(chunk_size) {
                    decoder.push(chunk, &mut count);
                }
                decoder.finish(&mut count);
                black_box(bytes)
            })
        });
    }
    group.finish();
}

fn tail_websocket(c: &mut Criterion) {
    let mut group = c.benchmark_group("tail_websocket");
    group.sample_size(10);
    let cases: [(&str, Vec<String>); 2] = [
        (
            "plain",
            (0..LOG_SIZE / 100).map(|i| message(i, 100)).collect(),
        ),
        (
            "json",
            (0..LOG_SIZE / 132)
                .map(|i| serde_json::json!({"type": "log", "message": message(i, 99)}).to_string())
                .collect(),
        ),
    ];
    // Each case bare, and with the digest of every delivered line that `auto` keeps
    // in case it must resume over HTTP.
    for (name, messages) in cases {
        let total: usize = messages.iter().map(String::len).sum();
        group.throughput(Throughput::Bytes(total as u64));
        for digest in [false, true] {
            let id = if digest {
                format!("{name}+digest")
            } else {
                name.to_owned()
            };
            group.bench_function(id, |b| {
                b.iter(|| {
                    let mut tail = TailDecoder::websocket(StreamLimits::unlimited());
                    if digest {
                        tail = tail.with_digest();
                    }
                    let mut out: Vec<TailItem> = Vec::with_capacity(1);
                    for message in &messages {
                        tail.push_message(message.as_bytes(), &mut out).ok();
                        black_box(&mut out).clear();
                    }
                    black_box(tail.counters().delivered)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, tail_http, line_decoder, tail_websocket);
criterion_main!(benches);
