//! The cap on open connections: which ones are open, which have proved the token, and
//! which one gives way when a new one comes and the cap is reached.
//!
//! A connection counts from its accept until its socket is closed (an upgraded
//! WebSocket too). Once one of its requests passed the token check it is
//! *authenticated* and is never evicted; the oldest unauthenticated one is evicted
//! for a newcomer, so that an attacker holding connections without a token cannot
//! keep a client with one out.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// The open connections of a server.
#[derive(Debug)]
pub(crate) struct ConnTable {
    max: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    /// By id, which grows with the accept order: the first entry is the oldest.
    open: BTreeMap<u64, Arc<ConnState>>,
}

/// What the table and a connection's task share.
#[derive(Debug, Default)]
pub(crate) struct ConnState {
    authenticated: AtomicBool,
    evict: Notify,
}

/// What [`ConnTable::admit`] did to make room.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admitted {
    /// There was room.
    Room,
    /// The oldest unauthenticated connection was told to go.
    Evicted,
}

/// A connection's place in the table; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct ConnGuard {
    id: u64,
    state: Arc<ConnState>,
    table: Arc<ConnTable>,
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ConnTable {
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(ConnTable {
            max: max.max(1),
            inner: Mutex::new(Inner::default()),
        })
    }

    /// How many connections are open.
    pub(crate) fn open(&self) -> usize {
        lock(&self.inner).open.len()
    }

    /// A place for a new connection, making room by evicting the oldest
    /// unauthenticated one when the table is full; `None` when every open connection
    /// is authenticated.
    pub(crate) fn admit(self: &Arc<Self>) -> Option<(ConnGuard, Admitted)> {
        let mut inner = lock(&self.inner);
        let mut how = Admitted::Room;
        if inner.open.len() >= self.max {
            let victim = inner
                .open
                .iter()
                .find(|(_, s)| !s.authenticated.load(Ordering::Relaxed))
                .map(|(id, _)| *id)?;
            if let Some(state) = inner.open.remove(&victim) {
                // a stored permit: the task sees it even if it is not waiting yet
                state.evict.notify_one();
            }
            how = Admitted::Evicted;
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let state = Arc::new(ConnState::default());
        inner.open.insert(id, Arc::clone(&state));
        Some((
            ConnGuard {
                id,
                state,
                table: Arc::clone(self),
            },
            how,
        ))
    }
}

impl ConnGuard {
    /// Marks the connection as having sent an authenticated request.
    pub(crate) fn authenticated(&self) {
        self.state.authenticated.store(true, Ordering::Relaxed);
    }

    /// Resolves when the connection was evicted to make room.
    pub(crate) async fn evicted(&self) {
        self.state.evict.notified().await;
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        lock(&self.table.inner).open.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the order of accepts, authentications and closes: the table never
        /// holds more than its cap, never evicts an authenticated connection, and
        /// refuses only when every open connection is authenticated.
        #[test]
        fn the_cap_holds_and_spares_the_authenticated(
            max in 1usize..6,
            ops in proptest::collection::vec((0u8..3, 0usize..8), 1..60),
        ) {
            let table = ConnTable::new(max);
            let mut held: Vec<ConnGuard> = Vec::new();
            for (op, i) in ops {
                match op {
                    0 => {
                        let all_authed = held.len() >= max
                            && held.iter().all(|g| g.state.authenticated.load(Ordering::Relaxed));
                        match table.admit() {
                            Some((g, how)) => {
                                prop_assert!(!all_authed);
                                if how == Admitted::Evicted {
                                    // the evicted one is unauthenticated; its task would drop it
                                    let pos = held.iter().position(|g| {
                                        !g.state.authenticated.load(Ordering::Relaxed)
                                    });
                                    prop_assert!(pos.is_some());
                                    if let Some(p) = pos {
                                        held.remove(p);
                                    }
                                }
                                held.push(g);
                            }
                            None => prop_assert!(all_authed),
                        }
                    }
                    1 if !held.is_empty() => {
                        let n = held.len();
                        held[i % n].authenticated();
                    }
                    2 if !held.is_empty() => {
                        let n = held.len();
                        held.remove(i % n);
                    }
                    _ => {}
                }
                prop_assert!(table.open() <= max);
                prop_assert_eq!(table.open(), held.len());
            }
        }
    }
}
