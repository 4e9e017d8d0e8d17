//! Small helpers shared by the modules.

use std::future::Future;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::runtime::Handle;
use tokio::task::JoinSet;

/// Locks `m`, going on past a poisoned lock (a panicked test must not wedge the server).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Milliseconds since the Unix epoch, as Ray's job infos count time.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The tasks a server owns: all aborted at once when the owner goes, so that no task
/// outlives its server. Spawning after [`TaskSet::close`] drops the future unrun.
pub(crate) struct TaskSet {
    set: Mutex<Option<JoinSet<()>>>,
    runtime: Handle,
}

impl TaskSet {
    /// An open set spawning on `runtime`.
    pub(crate) fn new(runtime: Handle) -> Self {
        TaskSet {
            set: Mutex::new(Some(JoinSet::new())),
            runtime,
        }
    }

    /// Runs `fut` as a task of the set (from any thread).
    pub(crate) fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut guard = lock(&self.set);
        if let Some(set) = guard.as_mut() {
            // reap what has finished, so that a long-lived server does not pile up results
            while set.try_join_next().is_some() {}
            set.spawn_on(fut, &self.runtime);
        }
    }

    /// Closes the set and hands its tasks over (`None` when already closed).
    pub(crate) fn close(&self) -> Option<JoinSet<()>> {
        lock(&self.set).take()
    }

    /// Closes the set and aborts every task.
    pub(crate) fn abort_all(&self) {
        let set = self.close();
        drop(set);
    }
}

impl Drop for TaskSet {
    fn drop(&mut self) {
        self.abort_all();
    }
}

/// Waits until `shutdown` turns true (or its sender is gone).
pub(crate) async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
