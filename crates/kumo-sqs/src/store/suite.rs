//! The behaviour every [`SqsStore`] implementation must have, written against the trait:
//! `suite(open)` runs it for an implementation opened on a directory (the same directory again
//! to check that what was committed survives a restart). Run here for SQLite; a PostgreSQL
//! implementation runs the same function.

use std::path::Path;
use std::sync::{mpsc, Arc};

use super::{DedupRow, Loaded, QueueRow, SqsStore, StoredMessage, WriteOp};
use crate::types::MessageAttributes;

fn queue(id: i64, account: &str, name: &str) -> QueueRow {
    QueueRow {
        id,
        account: account.into(),
        region: "us-east-1".into(),
        name: name.into(),
        attributes: "{}".into(),
        tags: "{}".into(),
        created_ms: 1,
        modified_ms: 1,
        legacy_url: false,
    }
}

fn message(seq: u64, queue_id: i64) -> StoredMessage {
    StoredMessage {
        seq,
        queue_id,
        message_id: format!("m{seq}"),
        body: Arc::from(format!("body {seq}")),
        attributes: Arc::new(MessageAttributes::new()),
        system_attributes: Arc::new(MessageAttributes::new()),
        sent_ms: 1,
        enqueued_ms: 1,
        available_ms: 1,
        receive_count: 0,
        first_receive_ms: 0,
        receipt: 0,
        group_id: Some("g".into()),
        dedup_id: None,
        sender_id: "test".into(),
        dead_letter_source: None,
    }
}

/// Submits `ops` and waits for the commit.
fn commit(store: &dyn SqsStore, ops: Vec<WriteOp>) {
    let (done, committed) = mpsc::channel();
    store.submit(ops, Some(Box::new(move |ok| done.send(ok).unwrap())));
    assert!(committed.recv_timeout(std::time::Duration::from_secs(10)).unwrap(), "the commit failed");
}

/// Runs every check on stores `open` makes (each returning what it loaded). `open` on a
/// directory whose previous store was dropped must read back what that store committed.
pub(crate) fn suite<S: SqsStore + 'static>(open: impl Fn(&Path) -> (S, Loaded)) {
    writes_put_update_and_delete_and_survive_a_restart(&open);
    done_callbacks_run_after_commit_in_submission_order(&open);
}

fn writes_put_update_and_delete_and_survive_a_restart<S: SqsStore>(open: &impl Fn(&Path) -> (S, Loaded)) {
    let dir = tempfile::tempdir().unwrap();
    {
        let (store, loaded) = open(dir.path());
        assert!(loaded.queues.is_empty() && loaded.messages.is_empty() && loaded.dedup.is_empty());
        let mut renamed = queue(7, "111111111111", "q");
        commit(
            &store,
            vec![
                WriteOp::PutQueue(queue(7, "111111111111", "q")),
                WriteOp::PutQueue(queue(8, "222222222222", "q")),
                WriteOp::PutQueue(queue(9, "111111111111", "gone")),
                WriteOp::InsertMessage(Box::new(message(10, 7))),
                WriteOp::InsertMessage(Box::new(message(11, 7))),
                WriteOp::InsertMessage(Box::new(message(12, 8))),
                WriteOp::InsertMessage(Box::new(message(13, 9))),
                WriteOp::InsertDedup(DedupRow {
                    queue_id: 7,
                    key: "d1".into(),
                    message_id: "m11".into(),
                    seq: 11,
                    expires_ms: 100,
                }),
                WriteOp::InsertDedup(DedupRow {
                    queue_id: 7,
                    key: "d2".into(),
                    message_id: "m10".into(),
                    seq: 10,
                    expires_ms: 900,
                }),
            ],
        );
        renamed.attributes = r#"{"changed":true}"#.into();
        renamed.modified_ms = 5;
        commit(
            &store,
            vec![
                WriteOp::PutQueue(renamed),
                WriteOp::DeleteMessage(10),
                WriteOp::UpdateMessage {
                    seq: 11,
                    available_ms: 50,
                    receive_count: 2,
                    first_receive_ms: 20,
                    receipt: 3,
                },
                WriteOp::PurgeQueue(8),
                WriteOp::DeleteQueue(9),
                WriteOp::ExpireDedup(500),
            ],
        );
    }
    let (_store, loaded) = open(dir.path());
    let queues: Vec<(i64, &str, &str, u64)> = loaded
        .queues
        .iter()
        .map(|row| (row.id, row.account.as_str(), row.attributes.as_str(), row.modified_ms))
        .collect();
    assert_eq!(queues, [(7, "111111111111", r#"{"changed":true}"#, 5), (8, "222222222222", "{}", 1)]);
    let mut expected = message(11, 7);
    (expected.available_ms, expected.receive_count, expected.first_receive_ms, expected.receipt) = (50, 2, 20, 3);
    assert_eq!(loaded.messages, [expected]);
    assert_eq!(loaded.dedup.iter().map(|row| row.key.as_str()).collect::<Vec<_>>(), ["d2"]);
    // Positions and queue ids are never handed out twice, even those of deleted rows.
    assert_eq!(loaded.next_seq, 14);
    assert_eq!(loaded.next_queue_id, 10);
}

fn done_callbacks_run_after_commit_in_submission_order<S: SqsStore + 'static>(open: &impl Fn(&Path) -> (S, Loaded)) {
    let dir = tempfile::tempdir().unwrap();
    {
        let (store, _) = open(dir.path());
        let store: Arc<dyn SqsStore> = Arc::new(store);
        commit(&*store, vec![WriteOp::PutQueue(queue(1, "111111111111", "q"))]);
        let (told, outcomes) = mpsc::channel();
        // Submitted together from several threads' worth of jobs: they share commits.
        for seq in 1..=500u64 {
            let told = told.clone();
            let ops = if seq % 50 == 0 { Vec::new() } else { vec![WriteOp::InsertMessage(Box::new(message(seq, 1)))] };
            store.submit(ops, Some(Box::new(move |ok| told.send((seq, ok)).unwrap())));
        }
        store.submit(vec![WriteOp::DeleteMessage(1)], None);
        for expected in 1..=500u64 {
            let (seq, ok) = outcomes.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
            assert_eq!((seq, ok), (expected, true));
        }
        // The last job had no callback: wait for it through one that does.
        commit(&*store, Vec::new());
    }
    let (_store, loaded) = open(dir.path());
    let expected: Vec<u64> = (2..=500).filter(|seq| seq % 50 != 0).collect();
    assert_eq!(loaded.messages.iter().map(|message| message.seq).collect::<Vec<_>>(), expected);
}

#[test]
fn sqlite_sqs_store_passes_the_suite() {
    suite(|dir| super::SqliteSqsStore::open(dir, "000000000000").unwrap());
}
