//! A channel bounded by bytes as well as by items: how far the WebSocket reader
//! task may run ahead of its consumer.
//!
//! Why both bounds: a deep channel lets the reader fill it in one go and the
//! consumer drain it in one wake-up (16 slots capped a tail at 0.9 M lines/s on two
//! cores; 1,024 reach the wire's 1.6 M), but slots alone bound memory only by
//! `slots x largest message`. Counting bytes keeps what waits under a fixed budget
//! whatever the messages weigh.

use std::sync::Arc;

use tokio::sync::{mpsc, Semaphore};

/// What one item costs beyond its bytes (its slot and bookkeeping), so that empty
/// items are not free.
const ITEM_OVERHEAD: usize = 64;

/// The bytes taken go back in this many steps per budget (see `Receiver`).
const RETURN_STEPS: usize = 16;

/// A channel holding at most `depth` items and about `budget` bytes (an item larger
/// than the whole budget waits until the channel is empty, then goes alone).
pub(crate) fn channel<T>(budget: usize, depth: usize) -> (Sender<T>, Receiver<T>) {
    let budget = budget.clamp(1, u32::MAX as usize);
    let (tx, rx) = mpsc::channel(depth.max(1));
    let permits = Arc::new(Semaphore::new(budget));
    (
        Sender {
            tx,
            permits: permits.clone(),
            budget,
        },
        Receiver {
            rx,
            permits,
            unreturned: 0,
            return_step: budget / RETURN_STEPS,
        },
    )
}

/// The sending half; see [`channel`].
pub(crate) struct Sender<T> {
    tx: mpsc::Sender<(T, u32)>,
    permits: Arc<Semaphore>,
    budget: usize,
}

impl<T> Sender<T> {
    /// Sends `item`, which holds `bytes` bytes, once there is room for it; gives it
    /// back if the receiver is gone.
    pub(crate) async fn send(&self, item: T, bytes: usize) -> Result<(), T> {
        // `budget` fits in a u32 (see `channel`), so the cost does too.
        let cost = bytes.saturating_add(ITEM_OVERHEAD).min(self.budget) as u32;
        let Ok(permit) = self.permits.acquire_many(cost).await else {
            return Err(item);
        };
        self.tx.send((item, cost)).await.map_err(|e| e.0 .0)?;
        // Only now: a send cancelled while waiting for a slot gives the bytes back.
        permit.forget();
        Ok(())
    }
}

/// The receiving half; see [`channel`].
pub(crate) struct Receiver<T> {
    rx: mpsc::Receiver<(T, u32)>,
    permits: Arc<Semaphore>,
    /// Bytes taken but not yet given back: returning them costs a lock, so they go
    /// back in batches, and always once the channel is empty (a sender waiting for
    /// room then gets it, so the two never wait for each other).
    unreturned: usize,
    return_step: usize,
}

impl<T> Receiver<T> {
    /// The next item, or `None` once every sender is gone. Cancel-safe: an item is
    /// either returned or left in the channel.
    pub(crate) async fn recv(&mut self) -> Option<T> {
        let (item, cost) = self.rx.recv().await?;
        self.unreturned += cost as usize;
        if self.unreturned >= self.return_step || self.rx.is_empty() {
            self.permits
                .add_permits(std::mem::take(&mut self.unreturned));
        }
        Some(item)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // A sender waiting for room would otherwise wait for ever.
        self.permits.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::time::timeout;

    const SHORT: Duration = Duration::from_millis(50);

    #[tokio::test]
    async fn the_byte_budget_holds_back_the_sender_until_the_receiver_takes() {
        let (tx, mut rx) = channel::<Vec<u8>>(1_000, 100);
        tx.send(vec![0; 600], 600).await.unwrap();
        // 664 + 664 would pass the 1,000-byte budget
        let second = timeout(SHORT, tx.send(vec![1; 600], 600)).await;
        assert!(second.is_err(), "the second item must wait");
        assert_eq!(rx.recv().await.unwrap()[0], 0);
        timeout(SHORT, tx.send(vec![1; 600], 600))
            .await
            .expect("room again")
            .unwrap();
        assert_eq!(rx.recv().await.unwrap()[0], 1);
    }

    #[tokio::test]
    async fn the_depth_bounds_small_items() {
        let (tx, mut rx) = channel::<u8>(1 << 20, 3);
        for i in 0..3 {
            tx.send(i, 1).await.unwrap();
        }
        assert!(timeout(SHORT, tx.send(3, 1)).await.is_err());
        assert_eq!(rx.recv().await, Some(0));
    }

    #[tokio::test]
    async fn an_item_larger_than_the_budget_goes_alone() {
        let (tx, mut rx) = channel::<u8>(100, 10);
        tx.send(1, 10).await.unwrap();
        let big = tokio::spawn(async move {
            tx.send(2, 10_000).await.unwrap();
            tx
        });
        assert_eq!(rx.recv().await, Some(1));
        let tx = big.await.unwrap();
        assert_eq!(rx.recv().await, Some(2));
        drop(tx);
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn a_send_after_the_receiver_is_gone_gives_the_item_back() {
        let (tx, rx) = channel::<u8>(100, 10);
        drop(rx);
        assert_eq!(tx.send(7, 1).await, Err(7));
    }

    #[tokio::test]
    async fn a_sender_waiting_for_room_is_released_when_the_receiver_goes() {
        let (tx, rx) = channel::<u8>(100, 10);
        tx.send(1, 50).await.unwrap();
        let waiting = tokio::spawn(async move { tx.send(2, 50).await });
        tokio::time::sleep(SHORT).await;
        drop(rx);
        let sent = timeout(Duration::from_secs(5), waiting).await;
        assert_eq!(sent.expect("released").unwrap(), Err(2));
    }
}
