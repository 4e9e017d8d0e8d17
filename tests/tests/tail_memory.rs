//! The memory a tail holds while a server sends a line that never ends, measured: a
//! counting allocator (this binary holds this one test, so nothing else allocates
//! meanwhile but the test server, in the same process).

mod common;

use agent_client_async::{AsyncAgentClient, Protocol, StreamLimits, TailOptions};
use agent_testkit::{AgentTestServer, JobSpec, TailFault};
use common::{lines, next, read_nothing_until, take, within, Proxy};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The system allocator, counting the bytes allocated and not yet freed.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the counter
// only observes sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// An endless line over HTTP is skipped as it streams: 64 MiB go by, the live heap
/// does not grow with them (the line decoder holds at most about twice its framed
/// limit, 1 MiB here), nothing is delivered, no error, no end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_line_costs_bounded_memory() {
    const MIB: u64 = 1 << 20;
    let server = AgentTestServer::builder()
        .job(
            JobSpec::new("raysubmit_endless")
                .lines(lines("tail", 10))
                .tail_fault(TailFault::endless_line(3)),
        )
        .build()
        .await
        .unwrap();
    let proxy = Proxy::start(server.local_addr()).await;
    let client = AsyncAgentClient::new(proxy.http_url(), server.token()).unwrap();
    let limits = StreamLimits {
        max_message_size: 1024,
        ..StreamLimits::default()
    };
    let options = TailOptions::new()
        .protocol(Protocol::Http)
        .limits(limits)
        .timeout(Duration::from_secs(10));
    let mut tail = client
        .tail_job_logs("raysubmit_endless", options)
        .await
        .unwrap();
    assert_eq!(take(&mut tail, 3).await, lines("tail", 3));

    read_nothing_until(&mut tail, "8 MiB of the endless line", || {
        proxy.down_bytes() > 8 * MIB
    })
    .await;
    let warm = live();
    let mut peak = warm;
    within(async {
        while proxy.down_bytes() < 72 * MIB {
            // nothing delivered, no error, no end while the line streams
            let item = tokio::time::timeout(Duration::from_millis(5), next(&mut tail)).await;
            assert!(item.is_err(), "an endless line gave {item:?}");
            peak = peak.max(live());
        }
    })
    .await;
    let grown = peak.saturating_sub(warm) as u64;
    assert!(
        grown < 4 * MIB,
        "the live heap grew by {grown} bytes while 64 MiB of one line went by"
    );
    assert_eq!(tail.counters().delivered, 3);
}

/// Issue 24, item 1: a 64 MiB WebSocket message of short lines, in 64 KiB
/// fragments, is split into lines as its fragments arrive: every line is
/// delivered, and the live heap grows by the line limit and a read buffer or two,
/// not by the message's size. (The test server holds the whole message from the
/// start, before the baseline is read.) The peak is printed for BENCHMARKS.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_message_of_short_lines_streams_in_bounded_memory() {
    const MIB: usize = 1 << 20;
    const LINE: usize = 100;
    let count = 64 * MIB / (LINE + 1);
    let mut message = Vec::with_capacity(count * (LINE + 1));
    for i in 0..count {
        message.extend_from_slice(format!("{i:0>LINE$}\n").as_bytes());
    }
    let len = message.len();
    let server = AgentTestServer::builder()
        .job(
            JobSpec::new("raysubmit_bigbatch")
                .lines(["(scripted)"])
                .tail_fault(
                    TailFault::script([message], true)
                        .websocket_only()
                        .fragmented(64 * 1024),
                ),
        )
        .build()
        .await
        .unwrap();
    let client = AsyncAgentClient::new(server.url(), server.token()).unwrap();
    let options = TailOptions::new()
        .protocol(Protocol::WebSocket)
        .timeout(Duration::from_secs(30))
        .limits(StreamLimits {
            max_message_size: StreamLimits::default().max_message_size,
            ..StreamLimits::unlimited()
        });
    let warm = live();
    let mut peak = warm;
    let mut tail = client
        .tail_job_logs("raysubmit_bigbatch", options)
        .await
        .unwrap();
    let mut delivered = 0;
    tokio::time::timeout(Duration::from_secs(300), async {
        while let Some(line) = next(&mut tail).await {
            let line = line.unwrap();
            assert_eq!(line.len(), LINE);
            delivered += 1;
            if delivered % 64 == 0 {
                peak = peak.max(live());
            }
        }
    })
    .await
    .expect("the tail ends");
    let grown = peak.saturating_sub(warm);
    eprintln!(
        "a {len}-byte message of {count} lines in 64 KiB fragments: peak live heap grew by {grown} bytes"
    );
    assert_eq!(delivered, count);
    assert_eq!(tail.counters().skipped_oversized, 0);
    assert!(
        grown < 8 * MIB,
        "the live heap grew by {grown} bytes while a {len}-byte message streamed"
    );
}
