//! The private runtime of a blocking client: one thread running a tokio
//! current-thread runtime for as long as the client lives.
//!
//! Calls hand their future to that thread ([`RuntimeThread::run`]) and wait for the
//! answer on the calling thread; nothing ever blocks inside an async context (a call
//! made from one is refused), and the thread stops when the last clone of the client
//! drops or on `close()`, which join it.
//!
//! A log tail is the exception: it is polled on the calling thread
//! ([`RuntimeThread::poll_here`]), so its lines do not cross threads, while the
//! runtime's thread watches the socket and the timers. The runtime is dropped only
//! when no tail is being polled.

use agent_client_async::AsyncAgentClient;
use agent_proto::ClientError;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{JoinHandle, Thread};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// What every blocking method answers inside an async runtime.
pub(crate) const IN_RUNTIME: &str =
    "AgentClient is blocking and cannot run inside an async runtime; use AsyncAgentClient";

/// Refuses to block a thread that runs async code (reqwest#1017: a blocking client
/// that panics or deadlocks there).
pub(crate) fn refuse_inside_runtime() -> Result<(), ClientError> {
    if Handle::try_current().is_ok() {
        return Err(ClientError::Usage {
            message: IN_RUNTIME.into(),
        });
    }
    Ok(())
}

pub(crate) fn closed() -> ClientError {
    ClientError::Usage {
        message: "the client was closed; build a new one".into(),
    }
}

/// The thread and runtime behind a blocking client (shared by its clones).
pub(crate) struct RuntimeThread {
    handle: Handle,
    /// Dropping (or sending on) this stops the thread.
    stop: Mutex<Option<oneshot::Sender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    stopped: AtomicBool,
    /// Held (shared) while a log tail is polled on a caller's thread; the runtime
    /// is dropped only under it (exclusive), since a tail's timers panic when
    /// polled after their runtime is gone.
    polling: Arc<RwLock<()>>,
}

impl RuntimeThread {
    /// Starts the thread; `make` builds the async client inside the runtime's
    /// context (on the calling thread, which may itself be inside another runtime).
    pub(crate) fn start(
        make: impl FnOnce() -> Result<AsyncAgentClient, ClientError>,
    ) -> Result<(Arc<RuntimeThread>, AsyncAgentClient), ClientError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("agent-client-blocking")
            .build()
            .map_err(|e| ClientError::Usage {
                message: format!("could not start the blocking client's runtime: {e}"),
            })?;
        let handle = runtime.handle().clone();
        let made = {
            let _context = handle.enter();
            make()
        };
        let client = match made {
            Ok(client) => client,
            Err(err) => {
                // Dropping a runtime blocks, which panics inside an async context (the
                // caller may be in one): let it go in the background instead.
                runtime.shutdown_background();
                return Err(err);
            }
        };
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let closing = client.clone();
        let polling = Arc::new(RwLock::new(()));
        let gate = Arc::clone(&polling);
        let thread = std::thread::Builder::new()
            .name("agent-client-blocking".into())
            .spawn(move || {
                runtime.block_on(async move {
                    // A send or the sender's drop: either way, stop.
                    let _ = stop_rx.await;
                    closing.close().await;
                });
                // Dropping the runtime here cancels whatever still runs on it; a
                // tail being polled elsewhere was told the client closed, and ends.
                let _no_polls = gate.write().unwrap_or_else(PoisonError::into_inner);
                drop(runtime);
            })
            .map_err(|e| ClientError::Usage {
                message: format!("could not start the blocking client's thread: {e}"),
            })?;
        let rt = RuntimeThread {
            handle,
            stop: Mutex::new(Some(stop_tx)),
            thread: Mutex::new(Some(thread)),
            stopped: AtomicBool::new(false),
            polling,
        };
        Ok((Arc::new(rt), client))
    }

    /// Runs `fut` on the runtime thread and waits for its output here.
    pub(crate) fn run<T, F>(&self, fut: F) -> Result<T, ClientError>
    where
        F: Future<Output = Result<T, ClientError>> + Send + 'static,
        T: Send + 'static,
    {
        refuse_inside_runtime()?;
        if self.is_stopped() {
            return Err(closed());
        }
        // On a runtime that has shut down the task is dropped at once and its
        // handle answers "cancelled".
        let task = self.handle.spawn(fut);
        match block_on(task) {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(closed()),
        }
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Polls `fut` to completion on this thread (see [`block_on`]) while the runtime
    /// is guaranteed to exist; `None` if it was stopped.
    pub(crate) fn poll_here<F: Future>(&self, fut: F) -> Option<F::Output> {
        let _polling = self.polling.read().unwrap_or_else(PoisonError::into_inner);
        if self.is_stopped() {
            return None;
        }
        Some(block_on(fut))
    }

    /// Stops the runtime (its tasks end, the async client is closed) and, unless
    /// called inside an async runtime, waits for its thread to finish.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let stop = lock(&self.stop).take();
        if let Some(tx) = stop {
            let _ = tx.send(());
        }
        if refuse_inside_runtime().is_ok() {
            self.join();
        }
    }

    fn join(&self) {
        let thread = lock(&self.thread).take();
        if let Some(thread) = thread {
            // The last clone can only drop on the runtime thread if a task of the
            // runtime held it; joining there would wait for itself.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for RuntimeThread {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        drop(lock(&self.stop).take());
        // Joining is quick: the thread only closes the client and drops its runtime.
        self.join();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Wakes a parked thread.
struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `fut` to completion on this thread, parking between polls. The work itself
/// happens on the runtime thread; this only waits for its result (a join handle, a
/// log tail's next line).
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let waker = Waker::from(Arc::new(Unparker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_on_waits_for_another_thread() {
        let (tx, rx) = oneshot::channel();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(10));
            tx.send(7).unwrap();
        });
        assert_eq!(block_on(rx).unwrap(), 7);
        t.join().unwrap();
    }

    #[test]
    fn refusal_inside_a_runtime_only() {
        assert!(refuse_inside_runtime().is_ok());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let err = rt.block_on(async { refuse_inside_runtime().unwrap_err() });
        assert_eq!(err.status_code(), 500);
        assert!(err.to_string().contains(IN_RUNTIME));
    }
}
