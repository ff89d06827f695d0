//! The behaviour every [`LambdaStore`] implementation must have, written against the trait:
//! `suite(open)` runs it for an implementation opened on a directory (the same directory again
//! to check that what was committed survives a restart). Run here for SQLite; a PostgreSQL
//! implementation runs the same function.

use std::path::Path;
use std::sync::mpsc;

use super::{AsyncEvent, BatchWrite, LambdaStore, LogEvent};

const A: &str = "111111111111";
const B: &str = "222222222222";
const REGION: &str = "us-east-1";

/// Runs every check on stores `open` makes in fresh directories.
pub(crate) fn suite<S: LambdaStore>(open: impl Fn(&Path) -> S) {
    functions_put_get_list_delete(&open);
    layer_versions_count_up_and_are_deleted(&open);
    event_source_mappings_put_get_list_delete(&open);
    code_signing_configs_put_get_list_delete(&open);
    committed_state_survives_a_restart(&open);
    queue_writer_tells_enqueuers_in_order_after_commit(&open);
    batch_writer_flushes_after_the_writes_before_it(&open);
}

fn event(request_id: &str) -> AsyncEvent {
    AsyncEvent {
        request_id: request_id.into(),
        account: A.into(),
        region: REGION.into(),
        function_name: "f".into(),
        qualifier: None,
        payload: request_id.as_bytes().to_vec(),
        client_context: None,
        enqueued_ms: 1,
        attempts: 0,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn functions_put_get_list_delete<S: LambdaStore>(open: &impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for name in ["c", "a", "b"] {
        assert!(store.insert_function(A, REGION, name, "$LATEST", name).unwrap());
    }
    assert!(!store.insert_function(A, REGION, "a", "$LATEST", "again").unwrap());
    store.put_function(A, REGION, "a", "1", "a1").unwrap();
    store.put_function(A, REGION, "a", "1", "a1 replaced").unwrap();
    assert!(store.insert_function(B, REGION, "a", "$LATEST", "other account").unwrap());
    assert_eq!(store.get_function(A, REGION, "a", "1").unwrap().as_deref(), Some("a1 replaced"));
    assert_eq!(store.get_function(A, REGION, "a", "$LATEST").unwrap().as_deref(), Some("a"));
    assert_eq!(store.get_function(B, REGION, "a", "$LATEST").unwrap().as_deref(), Some("other account"));
    assert_eq!(store.get_function(A, "eu-west-1", "a", "$LATEST").unwrap(), None);
    let page = store.list_functions(A, REGION, "$LATEST", None, 2).unwrap();
    assert_eq!(page, [("a".into(), "a".into()), ("b".into(), "b".into())]);
    let rest = store.list_functions(A, REGION, "$LATEST", Some("b"), 2).unwrap();
    assert_eq!(rest, [("c".to_string(), "c".to_string())]);
    let mut versions = store.list_function_versions(A, REGION, "a").unwrap();
    versions.sort();
    assert_eq!(versions, [("$LATEST".into(), "a".into()), ("1".into(), "a1 replaced".into())]);
    let mut latest = store.all_latest_functions().unwrap();
    latest.sort();
    assert_eq!(latest.len(), 4);
    assert_eq!(latest[3], (B.into(), REGION.into(), "other account".into()));
    assert!(store.delete_function_version(A, REGION, "a", "1").unwrap());
    assert!(!store.delete_function_version(A, REGION, "a", "1").unwrap());
    assert_eq!(store.delete_function(A, REGION, "a").unwrap(), 1);
    assert_eq!(store.get_function(A, REGION, "a", "$LATEST").unwrap(), None);
    assert!(store.get_function(B, REGION, "a", "$LATEST").unwrap().is_some());
}

fn layer_versions_count_up_and_are_deleted<S: LambdaStore>(open: &impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert_eq!(store.insert_layer_version(A, REGION, "deps", "d1").unwrap(), 1);
    assert_eq!(store.insert_layer_version(A, REGION, "deps", "d2").unwrap(), 2);
    assert_eq!(store.insert_layer_version(B, REGION, "deps", "b1").unwrap(), 1);
    assert_eq!(store.insert_layer_version(A, REGION, "aaa", "a1").unwrap(), 1);
    let listed = store.list_layer_versions(A, REGION).unwrap();
    assert_eq!(
        listed,
        [("aaa".into(), 1, "a1".into()), ("deps".into(), 2, "d2".into()), ("deps".into(), 1, "d1".into())]
    );
    store.update_layer_version(A, REGION, "deps", 2, "d2 with policy").unwrap();
    assert_eq!(store.get_layer_version(A, REGION, "deps", 2).unwrap().as_deref(), Some("d2 with policy"));
    assert!(store.delete_layer_version(A, REGION, "deps", 1).unwrap());
    assert!(store.delete_layer_version(A, REGION, "deps", 2).unwrap());
    assert!(!store.delete_layer_version(A, REGION, "deps", 2).unwrap());
    assert_eq!(store.get_layer_version(A, REGION, "deps", 2).unwrap(), None);
    // Numbers are never reused, even once every version is gone.
    assert_eq!(store.insert_layer_version(A, REGION, "deps", "d3").unwrap(), 3);
    assert_eq!(store.list_layer_versions(B, REGION).unwrap(), [("deps".into(), 1, "b1".into())]);
}

fn event_source_mappings_put_get_list_delete<S: LambdaStore>(open: &impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.put_event_source_mapping("u2", B, REGION, "m2").unwrap();
    store.put_event_source_mapping("u1", A, REGION, "m1").unwrap();
    store.put_event_source_mapping("u1", A, REGION, "m1 changed").unwrap();
    assert_eq!(store.get_event_source_mapping("u1", A, REGION).unwrap().as_deref(), Some("m1 changed"));
    // A mapping is found only in its own account and region.
    assert_eq!(store.get_event_source_mapping("u1", B, REGION).unwrap(), None);
    assert_eq!(store.get_event_source_mapping("u1", A, "eu-west-1").unwrap(), None);
    let listed = store.list_event_source_mappings().unwrap();
    assert_eq!(listed, [(A.into(), REGION.into(), "m1 changed".into()), (B.into(), REGION.into(), "m2".into())]);
    assert!(store.delete_event_source_mapping("u1").unwrap());
    assert!(!store.delete_event_source_mapping("u1").unwrap());
    assert_eq!(store.list_event_source_mappings().unwrap().len(), 1);
}

fn committed_state_survives_a_restart<S: LambdaStore>(open: &impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let enqueued_ids = {
        let store = open(dir.path());
        store.put_function(A, REGION, "f", "$LATEST", "function").unwrap();
        store.insert_layer_version(A, REGION, "deps", "layer").unwrap();
        store.put_event_source_mapping("u1", A, REGION, "mapping").unwrap();
        let runtime = runtime();
        let ids = runtime.block_on(async {
            let writer = store.spawn_queue_writer();
            let mut waiting = Vec::new();
            for name in ["first", "second", "handled"] {
                let (done, committed) = tokio::sync::oneshot::channel();
                writer.enqueue(event(name), Box::new(move |_, id| done.send(id).unwrap()));
                waiting.push(committed);
            }
            let mut ids = Vec::new();
            for committed in waiting {
                ids.push(committed.await.unwrap().unwrap());
            }
            let mut retried = event("second");
            retried.attempts = 1;
            writer.update(ids[1], &retried);
            writer.complete(ids[2]);
            // Changes apply in order: once this one is committed, so are the two before it.
            let (done, committed) = tokio::sync::oneshot::channel();
            writer.enqueue(event("last"), Box::new(move |_, id| done.send(id).unwrap()));
            ids.push(committed.await.unwrap().unwrap());
            ids
        });
        // Dropping the runtime ends the writer task before the store closes.
        drop(runtime);
        ids
    };
    let store = open(dir.path());
    assert_eq!(store.get_function(A, REGION, "f", "$LATEST").unwrap().as_deref(), Some("function"));
    assert_eq!(store.get_layer_version(A, REGION, "deps", 1).unwrap().as_deref(), Some("layer"));
    assert_eq!(store.get_event_source_mapping("u1", A, REGION).unwrap().as_deref(), Some("mapping"));
    assert_eq!(store.insert_layer_version(A, REGION, "deps", "next").unwrap(), 2);
    let pending = store.pending_async_ids().unwrap();
    assert_eq!(pending, [enqueued_ids[0], enqueued_ids[1], enqueued_ids[3]]);
    let second = store.async_event(enqueued_ids[1]).unwrap().unwrap();
    assert_eq!((second.request_id.as_str(), second.attempts, second.payload.as_slice()), ("second", 1, &b"second"[..]));
    // The handled event is gone (its id may be given again, to an event enqueued after it).
    let pending_requests: Vec<String> =
        pending.iter().map(|id| store.async_event(*id).unwrap().unwrap().request_id).collect();
    assert_eq!(pending_requests, ["first", "second", "last"]);
}

fn queue_writer_tells_enqueuers_in_order_after_commit<S: LambdaStore>(open: &impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let runtime = runtime();
    runtime.block_on(async {
        let writer = store.spawn_queue_writer();
        let (told, mut outcomes) = tokio::sync::mpsc::unbounded_channel();
        // Sent together: they share commits, and are told in the order they were sent.
        for i in 0..100 {
            let told = told.clone();
            writer
                .enqueue(event(&format!("e{i}")), Box::new(move |event, id| told.send((event, id.unwrap())).unwrap()));
        }
        let mut previous_id = 0;
        for i in 0..100 {
            let (event, id) = outcomes.recv().await.unwrap();
            assert_eq!(event.request_id, format!("e{i}"));
            assert!(id > previous_id, "ids must grow in submission order");
            previous_id = id;
            // Told after the commit: the event reads back.
            assert_eq!(store.async_event(id).unwrap().map(|stored| stored.request_id), Some(event.request_id));
        }
    });
}

fn batch_writer_flushes_after_the_writes_before_it<S: LambdaStore>(open: &impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let writer = store.spawn_batch_writer();
    let (flushed, flushes) = mpsc::channel();
    for line in 0..50u64 {
        writer.send(BatchWrite::Log(LogEvent {
            account: A.into(),
            region: REGION.into(),
            log_group: "/aws/lambda/f".into(),
            log_stream: "s".into(),
            timestamp_ms: line,
            message: format!("line {line}"),
        }));
        if line % 10 == 9 {
            let flushed = flushed.clone();
            writer.send(BatchWrite::Flush(Box::new(move || flushed.send(line).unwrap())));
        }
    }
    // Flushes run in submission order, each once the lines before it are readable.
    for expected in [9, 19, 29, 39, 49] {
        let line = flushes.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(line, expected);
        let stored = store.log_events(A, REGION, "/aws/lambda/f", 0, 1000).unwrap();
        assert!(stored.len() as u64 > line, "line {line} flushed before it was stored");
    }
    let stored = store.log_events(A, REGION, "/aws/lambda/f", 0, 1000).unwrap();
    assert_eq!(stored.iter().map(|event| event.timestamp_ms).collect::<Vec<_>>(), (0..50).collect::<Vec<_>>());
    assert!(store.log_events(B, REGION, "/aws/lambda/f", 0, 1000).unwrap().is_empty());
    let after = stored[24].id;
    assert_eq!(store.log_events(A, REGION, "/aws/lambda/f", after, 5).unwrap()[0].message, "line 25");
}

#[test]
fn sqlite_lambda_store_passes_the_suite() {
    suite(|dir| super::SqliteLambdaStore::open(&dir.join("kumo.sqlite3"), A).unwrap());
}

fn code_signing_configs_put_get_list_delete<S: LambdaStore>(open: &impl Fn(&Path) -> S) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.put_code_signing_config(A, REGION, "csc-b", "b").unwrap();
    store.put_code_signing_config(A, REGION, "csc-a", "a").unwrap();
    store.put_code_signing_config(A, REGION, "csc-a", "a replaced").unwrap();
    store.put_code_signing_config(B, REGION, "csc-a", "other account").unwrap();
    assert_eq!(store.get_code_signing_config(A, REGION, "csc-a").unwrap().as_deref(), Some("a replaced"));
    assert_eq!(store.get_code_signing_config(A, "eu-west-1", "csc-a").unwrap(), None);
    let listed = store.list_code_signing_configs(A, REGION).unwrap();
    assert_eq!(listed, [("csc-a".into(), "a replaced".into()), ("csc-b".to_string(), "b".to_string())]);
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.get_code_signing_config(B, REGION, "csc-a").unwrap().as_deref(), Some("other account"));
    assert!(store.delete_code_signing_config(A, REGION, "csc-a").unwrap());
    assert!(!store.delete_code_signing_config(A, REGION, "csc-a").unwrap());
    assert_eq!(store.list_code_signing_configs(A, REGION).unwrap().len(), 1);
    assert_eq!(store.get_code_signing_config(B, REGION, "csc-a").unwrap().as_deref(), Some("other account"));
}
