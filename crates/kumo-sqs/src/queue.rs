//! One queue in memory: its settings and messages, indexed by when each message can next be
//! received (covering delays and visibility timeouts alike) and, for FIFO queues, by group.
//! The store is the durable copy; this is what requests read. All methods run under the
//! queue's mutex, which is never held across an `.await`.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::attributes::QueueAttributes;
use crate::store::StoredMessage;

/// A FIFO deduplication entry: a repeated id within 5 minutes returns the first send's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupEntry {
    /// Message id of the first send.
    pub message_id: String,
    /// Its position (the sequence number derives from it).
    pub seq: u64,
    /// End of the window, epoch ms.
    pub expires_ms: u64,
}

/// Message counts as GetQueueAttributes reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Receivable now.
    pub visible: usize,
    /// Received and within their visibility timeout.
    pub in_flight: usize,
    /// Not yet receivable because of a delay.
    pub delayed: usize,
}

/// The mutable part of a queue.
#[derive(Debug)]
pub struct QueueState {
    /// Settings.
    pub attributes: QueueAttributes,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Creation, epoch ms.
    pub created_ms: u64,
    /// Last attribute change, epoch ms.
    pub modified_ms: u64,
    /// Messages by position.
    pub messages: HashMap<u64, StoredMessage>,
    /// `(available_ms, seq)` of messages not yet moved to `ready`: those at or before now are
    /// receivable too, and the next receive moves them.
    pub by_availability: BTreeSet<(u64, u64)>,
    /// Positions known to be receivable, in send order: a standard receive takes the oldest
    /// first, so a message whose visibility ended comes back before newer ones, as in AWS.
    pub ready: BTreeSet<u64>,
    /// `(enqueued_ms, seq)`: oldest first, for the retention sweep.
    pub by_age: BTreeSet<(u64, u64)>,
    /// FIFO: positions per message group, in order.
    pub groups: HashMap<String, VecDeque<u64>>,
    /// FIFO: the turn at which each group last gave messages to a receive; groups take turns
    /// (never served first, then the least recently served), as AWS rotates them.
    pub group_turns: HashMap<String, u64>,
    /// FIFO: the last turn given.
    pub turn: u64,
    /// FIFO: deduplication entries by key.
    pub dedup: HashMap<String, DedupEntry>,
    /// Last PurgeQueue, epoch ms.
    pub last_purge_ms: Option<u64>,
}

impl QueueState {
    /// An empty queue.
    pub fn new(attributes: QueueAttributes, tags: BTreeMap<String, String>, created_ms: u64, modified_ms: u64) -> Self {
        Self {
            attributes,
            tags,
            created_ms,
            modified_ms,
            messages: HashMap::new(),
            by_availability: BTreeSet::new(),
            ready: BTreeSet::new(),
            by_age: BTreeSet::new(),
            groups: HashMap::new(),
            group_turns: HashMap::new(),
            turn: 0,
            dedup: HashMap::new(),
            last_purge_ms: None,
        }
    }

    /// Adds a committed message.
    pub fn insert(&mut self, message: StoredMessage) {
        let seq = message.seq;
        self.by_availability.insert((message.available_ms, seq));
        self.by_age.insert((message.enqueued_ms, seq));
        // A standard (fair) queue keeps group ids but orders nothing by them.
        if let Some(group) = message.group_id.as_ref().filter(|_| self.attributes.fifo_queue) {
            let queue = self.groups.entry(group.clone()).or_default();
            let position = queue.partition_point(|other| *other < seq);
            queue.insert(position, seq);
        }
        if let Some(old) = self.messages.insert(seq, message) {
            // Re-inserting a position (never expected) must not leave stale index entries.
            self.by_availability.remove(&(old.available_ms, seq));
            self.ready.remove(&seq);
            self.by_age.remove(&(old.enqueued_ms, seq));
        }
    }

    /// Removes a message, returning it.
    pub fn remove(&mut self, seq: u64) -> Option<StoredMessage> {
        let message = self.messages.remove(&seq)?;
        self.by_availability.remove(&(message.available_ms, seq));
        self.ready.remove(&seq);
        self.by_age.remove(&(message.enqueued_ms, seq));
        if let Some(group) = &message.group_id {
            if let Some(queue) = self.groups.get_mut(group) {
                if let Some(position) = queue.iter().position(|other| *other == seq) {
                    queue.remove(position);
                }
                if queue.is_empty() {
                    self.groups.remove(group);
                    self.group_turns.remove(group);
                }
            }
        }
        Some(message)
    }

    /// Removes every message; returns how many there were.
    pub fn clear(&mut self) -> usize {
        let count = self.messages.len();
        self.messages.clear();
        self.by_availability.clear();
        self.ready.clear();
        self.by_age.clear();
        self.groups.clear();
        self.group_turns.clear();
        count
    }

    /// Moves a message's next availability.
    pub fn set_available(&mut self, seq: u64, available_ms: u64) {
        if let Some(message) = self.messages.get_mut(&seq) {
            self.by_availability.remove(&(message.available_ms, seq));
            self.ready.remove(&seq);
            message.available_ms = available_ms;
            self.by_availability.insert((available_ms, seq));
        }
    }

    /// Visible, in-flight and delayed counts at `now_ms`.
    pub fn counts(&self, now_ms: u64) -> Counts {
        let mut counts = Counts::default();
        for (_, seq) in self.by_availability.range((now_ms + 1, 0)..) {
            match self.messages.get(seq) {
                Some(message) if message.receive_count > 0 => counts.in_flight += 1,
                Some(_) => counts.delayed += 1,
                None => {}
            }
        }
        counts.visible = self.messages.len() - counts.in_flight - counts.delayed;
        counts
    }

    /// When the next currently unavailable message becomes receivable.
    pub fn next_available_after(&self, now_ms: u64) -> Option<u64> {
        self.by_availability.range((now_ms + 1, 0)..).next().map(|(at, _)| *at)
    }

    /// Whether the message at `seq` is past its retention period.
    pub fn is_expired(&self, message: &StoredMessage, now_ms: u64) -> bool {
        message.enqueued_ms + u64::from(self.attributes.message_retention_period) * 1000 <= now_ms
    }

    /// Removes messages past their retention period; returns their positions.
    pub fn drop_expired(&mut self, now_ms: u64) -> Vec<u64> {
        let retention_ms = u64::from(self.attributes.message_retention_period) * 1000;
        let expired: Vec<u64> = self
            .by_age
            .iter()
            .take_while(|(enqueued, _)| enqueued + retention_ms <= now_ms)
            .map(|(_, seq)| *seq)
            .collect();
        for seq in &expired {
            self.remove(*seq);
        }
        expired
    }

    /// Standard queues: positions receivable at `now_ms`, oldest sent first, skipping `taken`.
    pub fn receivable(&mut self, now_ms: u64, limit: usize, taken: &BTreeSet<u64>) -> Vec<u64> {
        // Each message moves once per availability change, so a receive costs what became due,
        // not the whole backlog.
        while let Some(&(available_ms, seq)) = self.by_availability.first() {
            if available_ms > now_ms {
                break;
            }
            self.by_availability.pop_first();
            self.ready.insert(seq);
        }
        self.ready.iter().copied().filter(|seq| !taken.contains(seq)).take(limit).collect()
    }
}

/// A queue: identity plus guarded state and the long-poll wake-up.
#[derive(Debug)]
pub struct Queue {
    /// Store id, never reused.
    pub id: i64,
    /// The owning account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// FIFO queue.
    pub fifo: bool,
    /// Created before queue URLs carried the region: keeps its `<endpoint>/<account>/<name>` URL.
    pub legacy_url: bool,
    state: Mutex<QueueState>,
    /// Woken when messages may have become receivable (or the queue was deleted).
    pub notify: Notify,
    deleted: AtomicBool,
    /// Messages sent, received and deleted since start-up.
    pub counters: crate::metrics::QueueCounters,
}

impl Queue {
    /// A queue over `state`.
    pub fn new(id: i64, account: String, region: String, name: String, state: QueueState) -> Self {
        let fifo = state.attributes.fifo_queue;
        let arn = crate::attributes::queue_arn(&region, &account, &name);
        Self {
            id,
            account,
            region,
            name,
            arn,
            fifo,
            legacy_url: false,
            state: Mutex::new(state),
            notify: Notify::new(),
            deleted: AtomicBool::new(false),
            counters: crate::metrics::QueueCounters::default(),
        }
    }

    /// Locks the state.
    pub fn lock(&self) -> MutexGuard<'_, QueueState> {
        // State changes are single assignments and index updates that cannot panic half-way in
        // a way that matters more than losing the queue; keep serving after a poisoning panic.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Marks the queue deleted and wakes its long polls.
    pub fn mark_deleted(&self) {
        self.deleted.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Whether DeleteQueue removed it.
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::types::MessageAttributes;

    fn message(seq: u64, enqueued_ms: u64, available_ms: u64, receive_count: u32) -> StoredMessage {
        StoredMessage {
            seq,
            queue_id: 1,
            message_id: format!("m{seq}"),
            body: Arc::from("b"),
            attributes: Arc::new(MessageAttributes::new()),
            system_attributes: Arc::new(MessageAttributes::new()),
            sent_ms: enqueued_ms,
            enqueued_ms,
            available_ms,
            receive_count,
            first_receive_ms: 0,
            receipt: 0,
            group_id: None,
            dedup_id: None,
            sender_id: "s".into(),
            dead_letter_source: None,
        }
    }

    fn state() -> QueueState {
        QueueState::new(QueueAttributes::defaults(false), BTreeMap::new(), 0, 0)
    }

    #[test]
    fn counts_visible_in_flight_and_delayed() {
        let mut state = state();
        state.insert(message(1, 0, 0, 0)); // visible
        state.insert(message(2, 0, 500, 1)); // in flight until 500
        state.insert(message(3, 0, 800, 0)); // delayed until 800
        assert_eq!(state.counts(100), Counts { visible: 1, in_flight: 1, delayed: 1 });
        assert_eq!(state.next_available_after(100), Some(500));
        // Visibility ends: the message is receivable again, in its send order.
        assert_eq!(state.counts(600), Counts { visible: 2, in_flight: 0, delayed: 1 });
        assert_eq!(state.receivable(600, 10, &BTreeSet::new()), vec![1, 2]);
        assert_eq!(state.counts(600), Counts { visible: 2, in_flight: 0, delayed: 1 });
        state.set_available(1, 700);
        assert_eq!(state.receivable(600, 10, &BTreeSet::new()), vec![2]);
        // Message 1 came back after 2 was receivable, yet it was sent first: it goes first.
        assert_eq!(state.receivable(900, 10, &BTreeSet::new()), vec![1, 2, 3]);
        assert_eq!(state.receivable(900, 10, &BTreeSet::from([1])), vec![2, 3]);
    }

    #[test]
    fn retention_drops_the_oldest() {
        let mut state = state();
        state.attributes.message_retention_period = 60;
        state.insert(message(1, 0, 0, 0));
        state.insert(message(2, 30_000, 0, 0));
        assert_eq!(state.receivable(0, 10, &BTreeSet::new()), vec![1, 2]);
        assert!(state.drop_expired(59_999).is_empty());
        assert_eq!(state.drop_expired(60_000), vec![1]);
        assert_eq!(state.messages.len(), 1);
        assert_eq!(state.drop_expired(90_000), vec![2]);
        assert!(state.by_availability.is_empty() && state.ready.is_empty() && state.by_age.is_empty());
    }
}
