//! Injected latency with sub-millisecond precision.
//!
//! `tokio::time::sleep` rounds every deadline up to its next 1 ms tick, so a "10 ms" lab answered
//! in 11-12 ms and every benchmark ratio against concurrency ÷ latency was skewed by 10-20 %. One
//! timer thread keeps the pending deadlines in a heap and wakes each request with an OS timed wait
//! (tens of microseconds late, not a millisecond).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// A handle to the timer thread; the thread ends when every handle is dropped.
#[derive(Clone)]
pub struct Delays {
    tx: mpsc::Sender<Pending>,
}

struct Pending {
    deadline: Instant,
    wake: oneshot::Sender<()>,
}

impl Delays {
    pub fn start() -> Self {
        let (tx, rx) = mpsc::channel::<Pending>();
        std::thread::Builder::new()
            .name("lab-delays".into())
            .spawn(move || run(rx))
            .expect("spawn the lab's timer thread");
        Delays { tx }
    }

    /// Completes `latency` after now.
    pub async fn sleep(&self, latency: Duration) {
        let (wake, woken) = oneshot::channel();
        let pending = Pending {
            deadline: Instant::now() + latency,
            wake,
        };
        if self.tx.send(pending).is_ok() {
            let _ = woken.await;
        } else {
            tokio::time::sleep(latency).await;
        }
    }
}

fn run(rx: mpsc::Receiver<Pending>) {
    // Ordered by deadline; the sequence number keeps equal deadlines apart (senders don't order).
    let mut heap: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
    let mut wakers = std::collections::HashMap::new();
    let mut seq = 0u64;
    loop {
        let now = Instant::now();
        while let Some(Reverse((deadline, id))) = heap.peek().copied() {
            if deadline > now {
                break;
            }
            heap.pop();
            if let Some(wake) = wakers.remove(&id) {
                let _: Result<(), ()> = oneshot::Sender::send(wake, ());
            }
        }
        let next = match heap.peek() {
            Some(Reverse((deadline, _))) => {
                rx.recv_timeout(deadline.saturating_duration_since(now))
            }
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match next {
            Ok(pending) => {
                seq += 1;
                heap.push(Reverse((pending.deadline, seq)));
                wakers.insert(seq, pending.wake);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delays_are_at_least_the_latency_and_not_a_tick_more() {
        let delays = Delays::start();
        let latency = Duration::from_millis(5);
        let mut worst = Duration::ZERO;
        for _ in 0..20 {
            let start = Instant::now();
            delays.sleep(latency).await;
            let took = start.elapsed();
            assert!(took >= latency, "{took:?}");
            worst = worst.max(took - latency);
        }
        // Generous for a loaded CI machine; tokio's timer alone overshoots by up to 1 ms.
        assert!(worst < Duration::from_millis(20), "{worst:?}");
    }

    #[tokio::test]
    async fn concurrent_delays_wake_in_deadline_order() {
        let delays = Delays::start();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for ms in [30u64, 10, 20] {
            let delays = delays.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                delays.sleep(Duration::from_millis(ms)).await;
                let _ = tx.send(ms);
            });
        }
        drop(tx);
        let mut order = Vec::new();
        while let Some(ms) = rx.recv().await {
            order.push(ms);
        }
        assert_eq!(order, [10, 20, 30]);
    }
}
