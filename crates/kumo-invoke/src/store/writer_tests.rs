//! Tests of the SQLite store's group-committed writers: the async queue's ids and order, its
//! writer never waiting on the runtime, WAL checkpoints under it, and flushes of logs.

use std::sync::mpsc;
use std::sync::Arc;

use kumo_store::StoreError;

use super::{AsyncEvent, BatchWrite, LambdaStore, LogEvent, SqliteLambdaStore};

fn event(request_id: &str) -> AsyncEvent {
    AsyncEvent {
        request_id: request_id.into(),
        account: "111111111111".into(),
        region: "us-east-1".into(),
        function_name: "f".into(),
        qualifier: None,
        payload: request_id.as_bytes().to_vec(),
        client_context: None,
        enqueued_ms: 1,
        attempts: 0,
    }
}

#[tokio::test]
async fn each_enqueuer_gets_its_id_and_changes_apply_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = Arc::new(SqliteLambdaStore::open(&path, "111111111111").unwrap());
    let writer = store.spawn_queue_writer();
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    for name in ["a", "b", "c"] {
        let sender = sender.clone();
        writer.enqueue(event(name), Box::new(move |event, id| sender.send((event, id.unwrap())).unwrap()));
    }
    let mut enqueued: Vec<(AsyncEvent, i64)> = Vec::new();
    while enqueued.len() < 3 {
        enqueued.push(receiver.recv().await.unwrap());
    }
    assert_eq!(enqueued.iter().map(|(event, _)| event.request_id.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
    let (a, b) = (enqueued[0].1, enqueued[1].1);
    let mut retried = event("b");
    retried.attempts = 1;
    writer.update(b, &retried);
    writer.complete(a);
    // The writer applies changes in order: once "d" is committed, so are the two before it.
    let (committed, committed_receiver) = tokio::sync::oneshot::channel();
    writer.enqueue(event("d"), Box::new(move |_, id| committed.send(id).unwrap()));
    assert!(committed_receiver.await.unwrap().unwrap() > enqueued[2].1);
    let pending = store.pending_async().unwrap();
    let pending: Vec<(&str, u32)> =
        pending.iter().map(|(_, event)| (event.request_id.as_str(), event.attempts)).collect();
    assert_eq!(pending, [("b", 1), ("c", 0), ("d", 0)]);
}

#[tokio::test]
async fn the_writer_does_not_wait_for_a_busy_connection_on_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteLambdaStore::open(&dir.path().join("db"), "111111111111").unwrap());
    let writer = store.spawn_queue_writer();
    // Another user holds the connection until this test lets go, or 5 s have passed.
    let (holding, held) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let holder = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || {
            store.shared().in_transaction(|_| -> Result<bool, StoreError> {
                holding.send(()).unwrap();
                Ok(released.recv_timeout(std::time::Duration::from_secs(5)).is_ok())
            })
        })
    };
    held.recv().unwrap();
    let (done, committed) = tokio::sync::oneshot::channel();
    writer.enqueue(event("e"), Box::new(move |_, id| done.send(id).unwrap()));
    // This runtime has one thread: had the writer waited for the connection on it, this
    // task would only go on once the holder gave up by itself.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    release.send(()).unwrap();
    assert!(holder.join().unwrap().unwrap(), "the runtime was blocked until the holder timed out");
    assert!(committed.await.unwrap().unwrap() > 0);
    assert_eq!(store.pending_async().unwrap().len(), 1);
}

#[tokio::test]
async fn the_wal_is_checkpointed_and_restarted_under_the_queue_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let wal = dir.path().join("db-wal");
    let store = Arc::new(SqliteLambdaStore::open(&path, "111111111111").unwrap());
    let writer = store.spawn_queue_writer();
    // 60 batches of 50 events of 4 KiB: over 6,000 WAL frames without checkpoints.
    let mut largest_wal = 0;
    for batch in 0..60 {
        let mut waiting = Vec::new();
        for i in 0..50 {
            let (done, committed) = tokio::sync::oneshot::channel();
            let mut event = event(&format!("e{batch}-{i}"));
            event.payload = vec![b'x'; 4096];
            writer.enqueue(event, Box::new(move |_, id| done.send(id).unwrap()));
            waiting.push(committed);
        }
        for committed in waiting {
            committed.await.unwrap().unwrap();
        }
        largest_wal = largest_wal.max(std::fs::metadata(&wal).unwrap().len());
    }
    assert_eq!(store.pending_async().unwrap().len(), 3000);
    // The WAL file keeps its largest size; restarted after each checkpoint, it stays near
    // 1,000 frames of 4,120 bytes (plus a batch) instead of growing with every commit.
    assert!(largest_wal < 1500 * 4120, "the WAL grew to {largest_wal} bytes");
    let database = std::fs::metadata(&path).unwrap().len();
    assert!(database > 2000 * 4096, "only {database} bytes reached the database file");
}

#[test]
fn a_flush_runs_after_the_writes_before_it_are_committed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteLambdaStore::open(&dir.path().join("db"), "111111111111").unwrap());
    let writer = store.spawn_batch_writer();
    for line in 0..100 {
        writer.send(BatchWrite::Log(LogEvent {
            account: "111111111111".into(),
            region: "us-east-1".into(),
            log_group: "/aws/lambda/f".into(),
            log_stream: "s".into(),
            timestamp_ms: line,
            message: format!("line {line}"),
        }));
    }
    let (sender, receiver) = mpsc::channel();
    writer.send(BatchWrite::Flush(Box::new(move || sender.send(()).unwrap())));
    receiver.recv().unwrap();
    assert_eq!(store.log_events("111111111111", "us-east-1", "/aws/lambda/f", 0, 1000).unwrap().len(), 100);
}

#[tokio::test]
async fn health_reports_a_failing_or_stopped_queue_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteLambdaStore::open(&dir.path().join("kumo.sqlite3"), "111111111111").unwrap());
    let writer = store.spawn_queue_writer();
    assert_eq!(store.health(), Ok(()));
    store.shared().lock().execute_batch("ALTER TABLE async_events RENAME TO moved").unwrap();
    let (done, outcome) = tokio::sync::oneshot::channel();
    writer.enqueue(event("a"), Box::new(move |_, id| done.send(id).unwrap()));
    assert!(outcome.await.unwrap().is_err());
    let why = store.health().unwrap_err();
    assert!(why.starts_with("the async queue writer failed its last commit: sqlite: no such table"), "{why}");
    store.shared().lock().execute_batch("ALTER TABLE moved RENAME TO async_events").unwrap();
    let (done, outcome) = tokio::sync::oneshot::channel();
    writer.enqueue(event("b"), Box::new(move |_, id| done.send(id).unwrap()));
    assert!(outcome.await.unwrap().is_ok());
    assert_eq!(store.health(), Ok(()));
    // Every handle dropped: the writer task ends, and with it the queue's durability.
    drop(writer);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.health().is_ok() && tokio::time::Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
    assert_eq!(store.health(), Err("the async queue writer stopped".to_string()));
}

#[test]
fn health_reports_a_failed_control_plane_write_until_one_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteLambdaStore::open(&dir.path().join("kumo.sqlite3"), "111111111111").unwrap();
    store.shared().lock().execute_batch("ALTER TABLE functions RENAME TO moved").unwrap();
    assert!(store.put_function("111111111111", "us-east-1", "f", "$LATEST", "{}").is_err());
    let why = store.health().unwrap_err();
    assert!(why.starts_with("the lambda store failed its last commit: no such table: functions"), "{why}");
    store.shared().lock().execute_batch("ALTER TABLE moved RENAME TO functions").unwrap();
    store.put_function("111111111111", "us-east-1", "f", "$LATEST", "{}").unwrap();
    assert_eq!(store.health(), Ok(()));
}
