//! Small helpers shared by the modules: randomness, error chains, abort-on-drop.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::task::JoinHandle;

/// 64 unpredictable-enough bits for a WebSocket key or a back-off jitter.
///
/// Neither needs cryptographic strength (RFC 6455 only asks the key to be fresh),
/// so this hashes a counter and the clock with std's randomly seeded SipHash keys.
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    hasher.write_u128(nanos);
    hasher.finish()
}

/// One home for reading an error's sources: agent-proto's.
pub(crate) use agent_proto::{error_chain, find_source};

/// A spawned task that is aborted when this guard drops.
#[derive(Debug)]
pub(crate) struct AbortOnDrop(pub(crate) JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_values_differ() {
        let a = random_u64();
        let b = random_u64();
        assert_ne!(a, b);
    }

    #[test]
    fn chains_skip_repeats() {
        let inner = std::io::Error::other("refused");
        let outer = std::io::Error::other(inner);
        assert_eq!(error_chain(&outer), "refused");
    }
}
