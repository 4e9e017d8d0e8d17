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
