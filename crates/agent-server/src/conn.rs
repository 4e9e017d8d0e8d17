//! The cap on open connections: which ones are open, which have proved the token, and
//! which one gives way when a new one comes and the cap is reached.
//!
//! A connection counts from its accept until its socket is closed (an upgraded
//! WebSocket too). Once one of its requests passed the token check it is
//! *authenticated* and is never evicted. Before that it is *fresh* until it has
//! finished its TLS handshake, then *shaken* (a plain-HTTP connection stays fresh
//! until it is authenticated). When the table is full, a newcomer takes the place of
//! a fresh connection if there is one, else of a shaken one; within that rank, one
//! of the *source* holding the most (the newcomer counted with its own source, which
//! pays first on a tie), the oldest of that source's. A source is an IPv4 address or
//! an IPv6 /64 (what one host is usually given).
//!
//! So a flood from one source evicts its own connections: it can evict another
//! source's connection of the same rank only when that source holds more of them
//! than the flood does (a flood that holds one connection at a time cannot push
//! anyone out). And a flood that does not finish its TLS handshakes never evicts a
//! client that did, even one sharing its address (behind one NAT, or on one host); a
//! flood that finishes them pays a full handshake for each connection. Between a
//! flood and a client of one source and one rank, the oldest still gives way first.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// Where connections come from, for the fairness of eviction: an IPv4 address, or
/// the first 64 bits of an IPv6 one (an IPv4-mapped IPv6 address is its IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Source(IpAddr);

impl Source {
    pub(crate) fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Source(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    Source(IpAddr::V6(Ipv6Addr::new(
                        s[0], s[1], s[2], s[3], 0, 0, 0, 0,
                    )))
                }
            },
        }
    }
}

/// The open connections of a server.
#[derive(Debug)]
pub(crate) struct ConnTable {
    max: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    /// By id, which grows with the accept order.
    open: BTreeMap<u64, Arc<ConnState>>,
    /// The fresh connections (unauthenticated, handshake not finished) of each
    /// source that has some, oldest first.
    fresh: Rank,
    /// The shaken ones (unauthenticated, TLS handshake finished), the same way.
    shaken: Rank,
}

/// The unauthenticated connections of one rank, by source, oldest first.
type Rank = HashMap<Source, BTreeSet<u64>>;

/// Takes `id` out of `rank`; true when it was there.
fn forget(rank: &mut Rank, source: Source, id: u64) -> bool {
    let Some(ids) = rank.get_mut(&source) else {
        return false;
    };
    let was = ids.remove(&id);
    if ids.is_empty() {
        rank.remove(&source);
    }
    was
}

/// The connection of `rank` to evict for a newcomer from `newcomer`: the oldest of
/// the source holding the most (the newcomer counted with its own source, which
/// pays first on a tie; between other sources, the one with the oldest connection).
fn victim_in(rank: &Rank, newcomer: Source) -> Option<(Source, u64)> {
    let own = rank.get(&newcomer);
    let own_weight = own.map_or(0, BTreeSet::len) + 1;
    let heaviest = rank
        .iter()
        .filter(|(source, _)| **source != newcomer)
        .filter_map(|(source, ids)| Some((ids.len(), std::cmp::Reverse(*ids.first()?), *source)))
        .max();
    match (own.and_then(|ids| ids.first()), heaviest) {
        (Some(&id), Some((n, _, _))) if own_weight >= n => Some((newcomer, id)),
        (Some(&id), None) => Some((newcomer, id)),
        (_, Some((_, std::cmp::Reverse(id), source))) => Some((source, id)),
        (None, None) => None,
    }
}

impl Inner {
    /// Takes `id` out of both ranks (it is authenticated, evicted or closed).
    fn forget_unauthenticated(&mut self, source: Source, id: u64) {
        forget(&mut self.fresh, source, id);
        forget(&mut self.shaken, source, id);
    }

    /// The connection to evict for a newcomer from `newcomer`: a fresh one before a
    /// shaken one (see the module's doc).
    fn victim(&self, newcomer: Source) -> Option<(Source, u64)> {
        victim_in(&self.fresh, newcomer).or_else(|| victim_in(&self.shaken, newcomer))
    }
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
    /// The unauthenticated connection of this id (in accept order) was told to go.
    Evicted(u64),
}

/// A connection's place in the table; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct ConnGuard {
    id: u64,
    source: Source,
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

    /// A place for a new connection from `peer`, making room when the table is full
    /// by evicting an unauthenticated one (see the module's doc); `None` when every
    /// open connection is authenticated.
    pub(crate) fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<(ConnGuard, Admitted)> {
        let source = Source::of(peer);
        let mut inner = lock(&self.inner);
        let mut how = Admitted::Room;
        if inner.open.len() >= self.max {
            let (victim_source, victim) = inner.victim(source)?;
            inner.forget_unauthenticated(victim_source, victim);
            if let Some(state) = inner.open.remove(&victim) {
                // a stored permit: the task sees it even if it is not waiting yet
                state.evict.notify_one();
            }
            how = Admitted::Evicted(victim);
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let state = Arc::new(ConnState::default());
        inner.open.insert(id, Arc::clone(&state));
        inner.fresh.entry(source).or_default().insert(id);
        Some((
            ConnGuard {
                id,
                source,
                state,
                table: Arc::clone(self),
            },
            how,
        ))
    }
}

impl ConnGuard {
    /// Marks the connection as having sent an authenticated request: it is never
    /// evicted from now on.
    pub(crate) fn authenticated(&self) {
        if !self.state.authenticated.swap(true, Ordering::Relaxed) {
            lock(&self.table.inner).forget_unauthenticated(self.source, self.id);
        }
    }

    /// Marks the connection as having finished its TLS handshake: it gives way only
    /// when no fresh connection is left to evict. Nothing when it is authenticated
    /// already.
    pub(crate) fn handshake_done(&self) {
        let mut inner = lock(&self.table.inner);
        if forget(&mut inner.fresh, self.source, self.id) {
            inner.shaken.entry(self.source).or_default().insert(self.id);
        }
    }

    /// Resolves when the connection was evicted to make room.
    pub(crate) async fn evicted(&self) {
        self.state.evict.notified().await;
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut inner = lock(&self.table.inner);
        inner.open.remove(&self.id);
        inner.forget_unauthenticated(self.source, self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    fn ip(source: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, source))
    }

    /// A held connection, as the test sees it.
    struct Held {
        guard: ConnGuard,
        source: u8,
        authenticated: bool,
        /// Its TLS handshake is done.
        shaken: bool,
    }

    /// How many unauthenticated connections of each of the four sources are of the
    /// rank `shaken`.
    fn rank_counts(held: &[Held], shaken: bool) -> Vec<usize> {
        (0..4)
            .map(|s| {
                held.iter()
                    .filter(|h| h.source == s && !h.authenticated && h.shaken == shaken)
                    .count()
            })
            .collect()
    }

    proptest! {
        /// Whatever the order of accepts (from four sources), finished handshakes,
        /// authentications and closes: the table never holds more than its cap; it
        /// refuses only when every open connection is authenticated; it never evicts an
        /// authenticated one; it never evicts one past its handshake while one in its
        /// handshake is open; the one evicted is the oldest of its source and rank;
        /// and within that rank a source is evicted from for another's newcomer only
        /// when it holds more of that rank than the newcomer's source with the
        /// newcomer (or the newcomer's source has none of it), and at least as many as
        /// any other source.
        #[test]
        fn eviction_is_fair_and_spares_the_authenticated(
            max in 1usize..8,
            ops in proptest::collection::vec((0u8..4, 0u8..4, 0usize..16), 1..120),
        ) {
            let table = ConnTable::new(max);
            let mut held: Vec<Held> = Vec::new();
            for (op, source, i) in ops {
                match op {
                    0 => {
                        let all_authed = held.len() >= max && held.iter().all(|h| h.authenticated);
                        let fresh = rank_counts(&held, false);
                        let shaken = rank_counts(&held, true);
                        match table.admit(ip(source)) {
                            None => prop_assert!(all_authed),
                            Some((guard, how)) => {
                                prop_assert!(!all_authed);
                                if let Admitted::Evicted(victim) = how {
                                    prop_assert!(held.len() >= max);
                                    let pos = held.iter().position(|h| h.guard.id == victim);
                                    prop_assert!(pos.is_some(), "the victim was open");
                                    let v = held.remove(pos.unwrap_or_default());
                                    prop_assert!(!v.authenticated, "an authenticated one was evicted");
                                    prop_assert!(
                                        !v.shaken || fresh.iter().sum::<usize>() == 0,
                                        "one past its handshake was evicted before a fresh one: {:?}", fresh
                                    );
                                    prop_assert!(
                                        held.iter().all(|h| h.source != v.source || h.authenticated
                                            || h.shaken != v.shaken || h.guard.id > v.guard.id),
                                        "not the oldest of its source and rank"
                                    );
                                    let before = if v.shaken { &shaken } else { &fresh };
                                    let vs = usize::from(v.source);
                                    if v.source != source {
                                        let own = before[usize::from(source)];
                                        prop_assert!(own == 0 || before[vs] > own + 1,
                                            "source {} evicted for {}: {:?}", v.source, source, before);
                                        for (s, n) in before.iter().enumerate() {
                                            if s != usize::from(source) {
                                                prop_assert!(before[vs] >= *n, "not the heaviest: {:?}", before);
                                            }
                                        }
                                    }
                                } else {
                                    prop_assert!(held.len() < max);
                                }
                                held.push(Held { guard, source, authenticated: false, shaken: false });
                            }
                        }
                    }
                    1 if !held.is_empty() => {
                        let n = held.len();
                        held[i % n].guard.authenticated();
                        held[i % n].authenticated = true;
                    }
                    2 if !held.is_empty() => {
                        let n = held.len();
                        held.remove(i % n);
                    }
                    3 if !held.is_empty() => {
                        let n = held.len();
                        held[i % n].guard.handshake_done();
                        held[i % n].shaken = true;
                    }
                    _ => {}
                }
                prop_assert!(table.open() <= max);
                prop_assert_eq!(table.open(), held.len());
            }
        }

        /// A flood from the clients' own source that never finishes a handshake,
        /// however long, never evicts a client that did (up to three clients, all
        /// from the flood's source, arriving at generated times, authenticated or
        /// not).
        #[test]
        fn a_flood_in_its_handshakes_spares_a_client_past_its_own(
            max in 4usize..64,
            arrivals in proptest::collection::vec((0usize..2000, any::<bool>()), 0..3),
        ) {
            let table = ConnTable::new(max);
            let mut flood = std::collections::VecDeque::new();
            let mut clients: Vec<ConnGuard> = Vec::new();
            for n in 0..2000usize {
                for (at, authenticate) in &arrivals {
                    if *at == n {
                        let (guard, how) = table.admit(ip(0)).unwrap_or_else(|| unreachable!());
                        if let Admitted::Evicted(victim) = how {
                            prop_assert!(clients.iter().all(|c| c.id != victim));
                            flood.retain(|g: &ConnGuard| g.id != victim);
                        }
                        guard.handshake_done();
                        if *authenticate {
                            guard.authenticated();
                        }
                        clients.push(guard);
                    }
                }
                let (guard, how) = table.admit(ip(0)).unwrap_or_else(|| unreachable!());
                if let Admitted::Evicted(victim) = how {
                    prop_assert!(clients.iter().all(|c| c.id != victim), "a client was evicted");
                    flood.retain(|g: &ConnGuard| g.id != victim);
                }
                flood.push_back(guard);
            }
            prop_assert_eq!(table.open(), flood.len() + clients.len());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A flood from one source, however long, never evicts a client of another
        /// source that holds fewer unauthenticated connections than the flood (here:
        /// up to three clients from three other sources, each holding one, while the
        /// flood fills the rest of the table), whenever the clients come and whether
        /// or not they authenticate.
        #[test]
        fn a_flood_from_one_source_evicts_only_its_own(
            max in 4usize..64,
            arrivals in proptest::collection::vec((0usize..2000, any::<bool>()), 0..3),
        ) {
            let arrivals: Vec<(usize, u8, bool)> = arrivals
                .into_iter()
                .zip(1u8..)
                .map(|((at, authenticate), source)| (at, source, authenticate))
                .collect();
            let table = ConnTable::new(max);
            let mut flood = std::collections::VecDeque::new();
            let mut clients = Vec::new();
            for n in 0..2000usize {
                for (at, source, authenticate) in &arrivals {
                    if *at == n {
                        let (guard, how) = table.admit(ip(*source)).unwrap_or_else(|| unreachable!());
                        if let Admitted::Evicted(victim) = how {
                            prop_assert!(clients.iter().all(|c: &ConnGuard| c.id != victim));
                            flood.retain(|g: &ConnGuard| g.id != victim);
                        }
                        if *authenticate {
                            guard.authenticated();
                        }
                        clients.push(guard);
                    }
                }
                let (guard, how) = table.admit(ip(0)).unwrap_or_else(|| unreachable!());
                if let Admitted::Evicted(victim) = how {
                    prop_assert!(clients.iter().all(|c| c.id != victim), "a client was evicted");
                    // the flood's own: its task would drop it
                    flood.retain(|g: &ConnGuard| g.id != victim);
                }
                flood.push_back(guard);
            }
            prop_assert_eq!(table.open(), flood.len() + clients.len());
        }
    }

    #[test]
    fn an_ipv6_source_is_its_64_bit_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or_else(|_| unreachable!());
        let b: IpAddr = "2001:db8:1:2:bbbb::2"
            .parse()
            .unwrap_or_else(|_| unreachable!());
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(Source::of(a), Source::of(b));
        assert_ne!(Source::of(a), Source::of(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(Source::of(mapped), Source::of(ip(1)));
    }
}
