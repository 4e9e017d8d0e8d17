//! Small helpers shared by the modules.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, going on past a poisoned lock (a panicked test must not wedge the server).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
