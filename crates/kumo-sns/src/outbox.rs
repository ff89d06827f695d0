//! Committed messages on their way to the fan-out, in bounded memory.
//!
//! Publish commits a message to the outbox table; the writer's callback, which runs after the
//! commit and in commit order, hands it to a bounded channel. When the channel is full (the
//! fan-out is slower than Publish), the callback does not wait, so Publish is never held up by
//! delivery: it drops the message from memory and marks the outbox as *spilled* from that
//! position. The dispatcher then reads the spilled messages back from the table a page at a
//! time, in order, until it has caught up, and goes back to the channel. A restart starts
//! spilled: what earlier runs left undelivered is paged the same way, never loaded whole.
//!
//! Every message after the first one dropped is dropped too while spilled, so the channel only
//! ever holds messages older than the first spilled one and nothing is delivered twice by this
//! hand-over (a crash still may: delivery is at least once).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc::error::TrySendError;

use crate::delivery::Notification;
use crate::store::SnsStore;

/// Messages the channel holds (up to 256 KiB each).
const CHANNEL_CAPACITY: usize = 128;
/// Rows read from the table at once.
const PAGE_ROWS: usize = 64;
/// Pause before reading again after a failed read.
const READ_RETRY: Duration = Duration::from_secs(1);

/// Where the spilled messages start and end.
#[derive(Debug, Default)]
struct Spill {
    /// Whether messages wait in the table only.
    spilled: bool,
    /// The position to read after (the last one handed over before the spill).
    after: u64,
    /// The last position dropped from memory.
    last: u64,
}

/// The hand-over from Publish's commits to the dispatcher.
pub struct Outbox {
    sender: tokio::sync::mpsc::Sender<Notification>,
    receiver: Mutex<Option<tokio::sync::mpsc::Receiver<Notification>>>,
    spill: Mutex<Spill>,
    /// Wakes the dispatcher when messages were dropped into the table.
    spilled: tokio::sync::Notify,
}

impl Outbox {
    /// An outbox whose table holds `undelivered` messages before `next_seq` from earlier runs.
    pub(crate) fn new(undelivered: u64, next_seq: u64) -> Self {
        let (sender, receiver) = tokio::sync::mpsc::channel(CHANNEL_CAPACITY);
        let spill = Spill { spilled: undelivered > 0, after: 0, last: next_seq.saturating_sub(1) };
        Self {
            sender,
            receiver: Mutex::new(Some(receiver)),
            spill: Mutex::new(spill),
            spilled: tokio::sync::Notify::new(),
        }
    }

    fn spill(&self) -> MutexGuard<'_, Spill> {
        // Three integers: a panic cannot leave them torn.
        self.spill.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Hands a committed message on; called in commit order, never waits.
    pub(crate) fn push(&self, notification: Notification) {
        let mut spill = self.spill();
        if spill.spilled {
            spill.last = spill.last.max(notification.seq);
            return;
        }
        let seq = notification.seq;
        match self.sender.try_send(notification) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                *spill = Spill { spilled: true, after: seq - 1, last: seq };
                drop(spill);
                self.spilled.notify_one();
            }
            // The dispatcher is gone (shutting down): the table keeps the message for next time.
            Err(TrySendError::Closed(_)) => {}
        }
    }

    /// Takes the channel's receiving end (once).
    pub(crate) fn take_receiver(&self) -> Option<tokio::sync::mpsc::Receiver<Notification>> {
        self.receiver.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
    }

    /// Feeds `dispatch` every committed message, in order, from the channel or (spilled) the
    /// table; `dispatch` applies the backpressure. Runs until the channel closes.
    pub(crate) async fn run<F, Fut>(
        self: Arc<Self>,
        mut receiver: tokio::sync::mpsc::Receiver<Notification>,
        store: Arc<dyn SnsStore>,
        mut dispatch: F,
    ) where
        F: FnMut(Notification) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        loop {
            let reading_from = {
                let spill = self.spill();
                spill.spilled.then_some(spill.after)
            };
            let Some(mut after) = reading_from else {
                tokio::select! {
                    received = receiver.recv() => match received {
                        Some(notification) => dispatch(notification).await,
                        None => return,
                    },
                    () = self.spilled.notified() => {}
                }
                continue;
            };
            // What the channel still holds is older than the spill: it goes first.
            while let Ok(notification) = receiver.try_recv() {
                dispatch(notification).await;
            }
            loop {
                let page = {
                    let store = Arc::clone(&store);
                    tokio::task::spawn_blocking(move || store.outbox_page(after, PAGE_ROWS)).await
                };
                let rows = match page {
                    Ok(Ok(rows)) => rows,
                    Ok(Err(error)) => {
                        tracing::error!(%error, "reading undelivered sns messages failed; retrying");
                        tokio::time::sleep(READ_RETRY).await;
                        continue;
                    }
                    Err(_) => return,
                };
                let full_page = rows.len() == PAGE_ROWS;
                for row in rows {
                    after = row.seq;
                    match serde_json::from_str::<Notification>(&row.message) {
                        Ok(notification) => dispatch(notification).await,
                        Err(error) => {
                            tracing::error!(%error, seq = row.seq, "an undelivered sns message could not be read")
                        }
                    }
                }
                if full_page {
                    continue;
                }
                // Caught up, unless more were dropped meanwhile (committed, so the next read sees them).
                let mut spill = self.spill();
                if spill.last <= after {
                    *spill = Spill::default();
                    break;
                }
            }
        }
    }
}
