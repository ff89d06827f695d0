//! FIFO queue rules: 5-minute deduplication (explicit id or SHA-256 of the body), sequence
//! numbers, and which messages a receive may take: messages in order within a group, none of a
//! group whose oldest message is in flight, groups in turns.

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

/// Positions a FIFO receive may take at `now_ms`, at most `limit`, in delivery order: a group
/// whose oldest message is receivable gives its messages in order up to the first that is not
/// (in flight or delayed), so a message whose visibility ended comes back while later ones of
/// its group are still in flight; groups take turns, those never served first (oldest first),
/// then the least recently served, as AWS rotates them.
pub fn receivable(state: &QueueState, now_ms: u64, limit: usize, taken: &BTreeSet<u64>) -> Vec<u64> {
    let mut ready: Vec<(u64, u64, &std::collections::VecDeque<u64>)> = Vec::new();
    for (group, positions) in &state.groups {
        let Some(head) = positions.iter().copied().find(|seq| !taken.contains(seq)) else { continue };
        if state.messages.get(&head).is_none_or(|message| message.available_ms > now_ms) {
            continue;
        }
        let turn = state.group_turns.get(group).copied().unwrap_or(0);
        ready.push((turn, head, positions));
    }
    ready.sort_by_key(|(turn, head, _)| (*turn, *head));
    let mut chosen = Vec::new();
    for (_, _, positions) in ready {
        for seq in positions.iter().filter(|seq| !taken.contains(seq)) {
            if chosen.len() >= limit {
                return chosen;
            }
            match state.messages.get(seq) {
                Some(message) if message.available_ms <= now_ms => chosen.push(*seq),
                _ => break,
            }
        }
    }
    chosen
}

/// Records that a receive took messages of `groups` (in the order it took them): they go to
/// the back of the rotation.
pub fn served<'a>(state: &mut QueueState, groups: impl IntoIterator<Item = &'a str>) {
    for group in groups {
        state.turn += 1;
        let turn = state.turn;
        if let Some(slot) = state.group_turns.get_mut(group) {
            *slot = turn;
        } else if state.groups.contains_key(group) {
            state.group_turns.insert(group.to_string(), turn);
        }
    }
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
    fn a_group_with_its_oldest_message_in_flight_is_locked() {
        // Message 1 of group a is in flight until t=100: nothing of group a may be received.
        let state = state(vec![message(1, "a", 100, 1), message(2, "a", 0, 0), message(3, "b", 0, 0)]);
        assert_eq!(receivable(&state, 10, 10, &BTreeSet::new()), vec![3]);
        // Once its visibility timeout expires, it is delivered again, first.
        assert_eq!(receivable(&state, 100, 10, &BTreeSet::new()), vec![1, 2, 3]);
    }

    #[test]
    fn a_message_visible_again_comes_back_while_later_ones_are_in_flight() {
        // 1 and 2 were received; 1's visibility ended (t=5), 2's runs until t=100.
        let state = state(vec![message(1, "a", 5, 1), message(2, "a", 100, 1), message(3, "b", 0, 0)]);
        assert_eq!(receivable(&state, 10, 10, &BTreeSet::new()), vec![1, 3]);
    }

    #[test]
    fn groups_take_turns() {
        let mut state = state(vec![message(1, "a", 0, 0), message(2, "b", 0, 0), message(3, "c", 0, 0)]);
        served(&mut state, ["a", "b"]);
        // Never served first, then the least recently served.
        assert_eq!(receivable(&state, 10, 10, &BTreeSet::new()), vec![3, 1, 2]);
        served(&mut state, ["c", "a"]);
        assert_eq!(receivable(&state, 10, 10, &BTreeSet::new()), vec![2, 3, 1]);
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
