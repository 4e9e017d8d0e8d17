//! The tasks a server owns, and waiting for its shutdown signal.

use std::future::Future;
use std::sync::{Mutex, MutexGuard};

use tokio::runtime::Handle;
use tokio::task::JoinSet;

/// Locks `m`, going on past a poisoned lock (a panicked task must not wedge the server).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The tasks a server owns: all aborted at once when the owner goes, so that no task
/// outlives its server. Spawning after [`TaskSet::close`] drops the future unrun. A
/// task that panics is ended and logged (target `agent_server::panic`), never lost
/// in the set's unread results.
///
/// ```
/// use agent_server::TaskSet;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let tasks = TaskSet::new(tokio::runtime::Handle::current());
/// tasks.spawn(async { /* work owned by the server */ });
/// tasks.abort_all(); // what dropping the set does
/// # });
/// ```
pub struct TaskSet {
    set: Mutex<Option<JoinSet<()>>>,
    runtime: Handle,
}

impl std::fmt::Debug for TaskSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskSet")
            .field("open", &lock(&self.set).is_some())
            .finish()
    }
}

impl TaskSet {
    /// An open set spawning on `runtime`.
    pub fn new(runtime: Handle) -> Self {
        TaskSet {
            set: Mutex::new(Some(JoinSet::new())),
            runtime,
        }
    }

    /// Runs `fut` as a task of the set (from any thread).
    pub fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut guard = lock(&self.set);
        if let Some(set) = guard.as_mut() {
            // reap what has finished, so that a long-lived server does not pile up results
            while set.try_join_next().is_some() {}
            set.spawn_on(logged_panic(fut), &self.runtime);
        }
    }

    /// Closes the set and hands its tasks over (`None` when already closed).
    pub fn close(&self) -> Option<JoinSet<()>> {
        lock(&self.set).take()
    }

    /// Closes the set and aborts every task.
    pub fn abort_all(&self) {
        let set = self.close();
        drop(set);
    }
}

impl Drop for TaskSet {
    fn drop(&mut self) {
        self.abort_all();
    }
}

/// Runs `fut`, turning a panic into an error line (target `agent_server::panic`):
/// the task ends (a connection's socket is dropped, so its answer is cut, never
/// completed) and the server goes on. Without this a panicked task would only be
/// seen by whoever joins it, and the server's sets are reaped unread.
async fn logged_panic<F: Future<Output = ()>>(fut: F) {
    use futures_util::FutureExt;
    // The task's state is dropped with it: nothing broken is used after the panic.
    if std::panic::AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .is_err()
    {
        tracing::error!(
            target: "agent_server::panic",
            "a server task panicked and was ended; its connection, if any, was cut"
        );
    }
}

/// Waits until `shutdown` turns true (or its sender is gone).
pub async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Resolves when the process is asked to stop: SIGTERM or SIGINT (Ctrl-C) on Unix,
/// Ctrl-C elsewhere. A server binary awaits it, then calls
/// [`crate::ServerHandle::shutdown`]: stop accepting, let requests finish, end tails
/// with a WebSocket close 1001 or the end of the HTTP stream, never with a `complete`
/// the log did not earn (clients under `auto` resume or fail loudly).
///
/// An error means the signal handlers could not be installed.
pub async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
