//! The behaviour every [`SnsStore`] implementation must have, written against the trait:
//! `suite(open)` runs it for an implementation opened on a directory (the same directory again
//! to check that what was committed survives a restart). Run here for SQLite; a PostgreSQL
//! implementation runs the same function.

use std::path::Path;
use std::sync::mpsc;

use super::{Loaded, OutboxRow, SnsStore, SubscriptionRow, TopicRow, WriteOp};

const TOPIC: &str = "arn:aws:sns:us-east-1:000000000000:orders";

fn subscription(id: &str) -> SubscriptionRow {
    SubscriptionRow {
        arn: format!("{TOPIC}:{id}"),
        topic_arn: TOPIC.into(),
        owner: "000000000000".into(),
        protocol: "sqs".into(),
        endpoint: format!("arn:aws:sqs:us-east-1:000000000000:{id}"),
        attributes: "{}".into(),
        pending_token: None,
    }
}

/// Submits `ops` and waits for the commit.
fn commit(store: &dyn SnsStore, ops: Vec<WriteOp>) {
    let (done, committed) = mpsc::channel();
    store.submit(ops, Some(Box::new(move |ok| done.send(ok).unwrap())));
    assert!(committed.recv_timeout(std::time::Duration::from_secs(10)).unwrap(), "the commit failed");
}

/// Runs every check on stores `open` makes (each returning what it loaded). `open` on a
/// directory whose previous store was dropped must read back what that store committed.
pub(crate) fn suite<S: SnsStore + 'static>(open: impl Fn(&Path) -> (S, Loaded)) {
    let dir = tempfile::tempdir().unwrap();
    let (store, loaded) = open(dir.path());
    assert!(loaded.topics.is_empty() && loaded.subscriptions.is_empty() && loaded.undelivered == 0);
    assert_eq!(loaded.next_seq, 1);
    let topic = TopicRow { arn: TOPIC.into(), attributes: r#"{"DisplayName":"x"}"#.into(), tags: "{}".into() };
    commit(
        &store,
        vec![
            WriteOp::PutTopic(topic.clone()),
            WriteOp::PutSubscription(subscription("a")),
            WriteOp::PutSubscription(subscription("b")),
            WriteOp::InsertOutbox(OutboxRow { seq: 1, message: "one".into() }),
            WriteOp::InsertOutbox(OutboxRow { seq: 2, message: "two".into() }),
        ],
    );
    commit(&store, vec![WriteOp::DeleteSubscription(subscription("a").arn), WriteOp::DeleteOutbox(1)]);
    drop(store);

    let (store, loaded) = open(dir.path());
    assert_eq!(loaded.topics, vec![topic]);
    assert_eq!(loaded.subscriptions, vec![subscription("b")]);
    assert_eq!(loaded.undelivered, 1);
    assert_eq!(store.outbox_page(0, 10).unwrap(), vec![OutboxRow { seq: 2, message: "two".into() }]);
    assert_eq!(loaded.next_seq, 3);
    commit(&store, vec![WriteOp::DeleteTopic(TOPIC.into())]);
    drop(store);

    let (_store, loaded) = open(dir.path());
    assert!(loaded.topics.is_empty(), "a deleted topic is gone");
    assert!(loaded.subscriptions.is_empty(), "a deleted topic's subscriptions go with it");

    // Callbacks run after their commit, in submission order.
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(dir.path());
    let (sender, order) = mpsc::channel();
    for index in 0..50u64 {
        let sender = sender.clone();
        let row = OutboxRow { seq: index + 1, message: index.to_string() };
        store.submit(vec![WriteOp::InsertOutbox(row)], Some(Box::new(move |ok| sender.send((index, ok)).unwrap())));
    }
    let seen: Vec<_> = (0..50).map(|_| order.recv_timeout(std::time::Duration::from_secs(10)).unwrap()).collect();
    assert_eq!(seen, (0..50u64).map(|index| (index, true)).collect::<Vec<_>>());

    // The outbox is read in pages, in order, from any position.
    let first = store.outbox_page(0, 20).unwrap();
    assert_eq!(first.iter().map(|row| row.seq).collect::<Vec<_>>(), (1..=20).collect::<Vec<_>>());
    let rest = store.outbox_page(40, 20).unwrap();
    assert_eq!(rest.iter().map(|row| row.seq).collect::<Vec<_>>(), (41..=50).collect::<Vec<_>>());
    assert!(store.outbox_page(50, 20).unwrap().is_empty());
}
