//! Fork safety: what a child process does with objects made before `os.fork()`.
//!
//! A forked child has one thread: the tokio runtime that served the parent's
//! clients has no worker left in it, and their pooled connections are sockets the
//! parent still uses. So an object holding such state ([`ForkOwned`]) answers a
//! clear `ClientError` in the child instead of waiting forever on a runtime that
//! will never run, and is *leaked* there when dropped: dropping it would wake tasks
//! of the dead runtime, take locks a vanished thread may hold, or wait for threads
//! that do not exist. A client made in the child works: the module starts a fresh
//! runtime per process ([`crate::runtime::runtime`]).

use agent_client_async::ClientError;

/// What a child process is told when it uses a client made before `fork()`.
pub const MADE_BEFORE_FORK: &str = "this client (or log tail) was created in another \
    process, before os.fork(); its connections and runtime stay with that process. \
    Create the client after the fork, in the process that uses it";

/// A value that belongs to the process it was made in.
pub struct ForkOwned<T> {
    pid: u32,
    /// `None` only while being dropped.
    value: Option<T>,
}

impl<T> ForkOwned<T> {
    /// `value`, owned by the calling process.
    pub fn new(value: T) -> Self {
        ForkOwned {
            pid: std::process::id(),
            value: Some(value),
        }
    }

    /// True in a process forked after this value was made.
    pub fn is_foreign(&self) -> bool {
        self.pid != std::process::id()
    }

    /// The value, in the process that made it; a 500 `ClientError` saying to create
    /// the client after the fork in any other.
    pub fn get(&self) -> Result<&T, ClientError> {
        match &self.value {
            Some(v) if !self.is_foreign() => Ok(v),
            _ => Err(ClientError::Usage {
                message: MADE_BEFORE_FORK.into(),
            }),
        }
    }

    /// The value in its own process, `None` in a forked child.
    pub fn get_local(&self) -> Option<&T> {
        self.get().ok()
    }
}

impl<T> Drop for ForkOwned<T> {
    fn drop(&mut self) {
        if self.is_foreign() {
            // See the module docs: in a child, dropping the parent's state could
            // hang; the memory goes with the process.
            if let Some(value) = self.value.take() {
                std::mem::forget(value);
            }
        }
    }
}
