//! FIFO queue rules: 5-minute deduplication (explicit id or SHA-256 of the body), sequence
//! numbers, and which messages a receive may take: groups in order of their oldest message,
//! messages in order within a group, and no group while any of its messages is in flight.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use crate::queue::QueueState;

/// How long a deduplication id suppresses repeats.
pub const DEDUP_WINDOW_MS: u64 = 5 * 60 * 1000;

/// Offset that gives sequence numbers AWS's 20-digit look; they increase with the position.
const SEQUENCE_BASE: u64 = 10_000_000_000_000_000_000;

/// The `SequenceNumber` of the message at position `seq`.
pub fn sequence_number(seq: u64) -> String {
    SEQUENCE_BASE.saturating_add(seq).to_string()
}

/// The deduplication id of a send: the explicit one, or the body's SHA-256 when the queue
/// has content-based deduplication; `None` when neither applies (an error for the caller).
pub fn deduplication_id(explicit: Option<&str>, body: &str, content_based: bool) -> Option<String> {
    match explicit {
        Some(id) => Some(id.to_string()),
        None if content_based => Some(hex::encode(Sha256::digest(body.as_bytes()))),
        None => None,
    }
}

/// The key a deduplication id is remembered under, per the queue's `DeduplicationScope`.
pub fn dedup_key(scope: &str, group: &str, dedup_id: &str) -> String {
    if scope == "messageGroup" {
        format!("{group}\u{0}{dedup_id}")
    } else {
        dedup_id.to_string()
    }
}

/// Positions a FIFO receive may take at `now_ms`, at most `limit`, in delivery order.
pub fn receivable(state: &QueueState, now_ms: u64, limit: usize, taken: &BTreeSet<u64>) -> Vec<u64> {
    let mut ready: Vec<(u64, &std::collections::VecDeque<u64>)> = Vec::new();
    'groups: for positions in state.groups.values() {
        // Messages received at least once form a prefix of the group: while any of them is
        // in flight, the group is locked.
        let mut head = None;
        for seq in positions {
            let Some(message) = state.messages.get(seq) else { continue };
            if message.available_ms > now_ms {
                if message.receive_count > 0 {
                    continue 'groups;
                }
                break;
            }
            if head.is_none() && !taken.contains(seq) {
                head = Some(*seq);
            }
            if message.receive_count == 0 {
                break;
            }
        }
        if let Some(head) = head {
            ready.push((head, positions));
        }
    }
    ready.sort_by_key(|(head, _)| *head);
    let mut chosen = Vec::new();
    for (_, positions) in ready {
        for seq in positions {
            if chosen.len() >= limit {
                return chosen;
            }
            if taken.contains(seq) {
                continue;
            }
            match state.messages.get(seq) {
                Some(message) if message.available_ms <= now_ms => chosen.push(*seq),
                _ => break,
            }
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;
    use crate::attributes::QueueAttributes;
    use crate::store::StoredMessage;
    use crate::types::MessageAttributes;

    fn message(seq: u64, group: &str, available_ms: u64, receive_count: u32) -> StoredMessage {
        StoredMessage {
            seq,
            queue_id: 1,
            message_id: format!("m{seq}"),
            body: Arc::from("b"),
            attributes: Arc::new(MessageAttributes::new()),
            system_attributes: Arc::new(MessageAttributes::new()),
            sent_ms: 0,
            enqueued_ms: 0,
            available_ms,
            receive_count,
            first_receive_ms: 0,
            receipt: 0,
            group_id: Some(group.to_string()),
            dedup_id: Some(seq.to_string()),
            sender_id: "s".into(),
            dead_letter_source: None,
        }
    }

    fn state(messages: Vec<StoredMessage>) -> QueueState {
        let mut state = QueueState::new(QueueAttributes::defaults(true), BTreeMap::new(), 0, 0);
        for message in messages {
            state.insert(message);
        }
        state
    }

    #[test]
    fn orders_within_and_across_groups() {
        let state =
            state(vec![message(3, "b", 0, 0), message(1, "a", 0, 0), message(2, "a", 0, 0), message(4, "b", 0, 0)]);
        assert_eq!(receivable(&state, 10, 10, &BTreeSet::new()), vec![1, 2, 3, 4]);
        assert_eq!(receivable(&state, 10, 3, &BTreeSet::new()), vec![1, 2, 3]);
    }

    #[test]
    fn a_group_with_a_message_in_flight_is_locked() {
        // Message 1 of group a is in flight until t=100: nothing of group a may be received.
        let state = state(vec![message(1, "a", 100, 1), message(2, "a", 0, 0), message(3, "b", 0, 0)]);
        assert_eq!(receivable(&state, 10, 10, &BTreeSet::new()), vec![3]);
        // Once its visibility timeout expires, it is delivered again, first.
        assert_eq!(receivable(&state, 100, 10, &BTreeSet::new()), vec![1, 2, 3]);
    }

    #[test]
    fn deduplication_ids() {
        assert_eq!(deduplication_id(Some("x"), "body", true).as_deref(), Some("x"));
        assert_eq!(
            deduplication_id(None, "body", true).as_deref(),
            Some("230d8358dc8e8890b4c58deeb62912ee2f20357ae92a5cc861b98e68fe31acb5")
        );
        assert_eq!(deduplication_id(None, "body", false), None);
        assert_eq!(dedup_key("queue", "g", "d"), "d");
        assert_ne!(dedup_key("messageGroup", "g", "d"), dedup_key("messageGroup", "h", "d"));
    }

    #[test]
    fn sequence_numbers_increase() {
        assert!(sequence_number(9) < sequence_number(10));
        assert_eq!(sequence_number(1).len(), 20);
    }
}
