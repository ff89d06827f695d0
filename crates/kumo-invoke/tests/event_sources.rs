//! Event source mapping pollers against an in-memory queue and a real Python function:
//! batching, partial batch failures, filters, redelivery of failed batches, and a poller acting
//! as the function's execution role.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kumo_core::AwsError;
use kumo_invoke::event_sources::{MappingSpec, ProcessingResult, QueueSource, SourceMessage};
use kumo_invoke::store::Store;
use kumo_invoke::{BoxFuture, EngineConfig, FunctionResolver, FunctionVersion, InvokeEngine};
use kumo_sandbox::RuntimeRegistry;

/// A queue in memory: received messages stay in flight until deleted, as in SQS. Its policy
/// refuses the actions in `refused` to everyone, and counts the refusals.
#[derive(Default)]
struct MemoryQueue {
    visible: Mutex<VecDeque<SourceMessage>>,
    in_flight: Mutex<Vec<SourceMessage>>,
    deleted: Mutex<Vec<String>>,
    refused: Mutex<Vec<String>>,
    refusals: AtomicUsize,
}

impl MemoryQueue {
    fn send(&self, id: &str, body: &str) {
        self.visible.lock().unwrap().push_back(SourceMessage {
            message_id: id.to_string(),
            receipt_handle: format!("rh-{id}"),
            body: body.to_string(),
            attributes: BTreeMap::from([("ApproximateReceiveCount".to_string(), "1".to_string())]),
            message_attributes: serde_json::json!({}),
            md5_of_body: String::new(),
        });
    }

    /// Makes every in-flight message visible again (what a visibility timeout does).
    fn expire_in_flight(&self) {
        let expired: Vec<SourceMessage> = self.in_flight.lock().unwrap().drain(..).collect();
        self.visible.lock().unwrap().extend(expired);
    }

    fn deleted(&self) -> Vec<String> {
        let mut deleted = self.deleted.lock().unwrap().clone();
        deleted.sort();
        deleted
    }
}

impl QueueSource for MemoryQueue {
    fn exists<'a>(&'a self, _arn: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async { true })
    }

    fn receive<'a>(
        &'a self,
        _arn: &'a str,
        max: usize,
        wait: Duration,
    ) -> BoxFuture<'a, Result<Vec<SourceMessage>, String>> {
        Box::pin(async move {
            let deadline = Instant::now() + wait;
            loop {
                let batch: Vec<SourceMessage> = {
                    let mut visible = self.visible.lock().unwrap();
                    let count = max.min(visible.len());
                    visible.drain(..count).collect()
                };
                if !batch.is_empty() || Instant::now() >= deadline {
                    self.in_flight.lock().unwrap().extend(batch.clone());
                    return Ok(batch);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    }

    fn delete<'a>(&'a self, _arn: &'a str, receipt_handles: Vec<String>) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.in_flight.lock().unwrap().retain(|m| !receipt_handles.contains(&m.receipt_handle));
            let ids = receipt_handles.iter().map(|h| h.trim_start_matches("rh-").to_string());
            self.deleted.lock().unwrap().extend(ids);
            Ok(())
        })
    }

    fn authorize(&self, _arn: &str, caller: &kumo_core::policy::Caller<'_>, action: &str) -> Result<(), String> {
        if !self.refused.lock().unwrap().iter().any(|refused| refused == action) {
            return Ok(());
        }
        self.refusals.fetch_add(1, Ordering::SeqCst);
        Err(format!("User: {} is not authorized to perform: {action}", caller.arn))
    }
}

/// Resolves every name to one Python function in `code_dir`, whose pollers act as its role.
struct OneFunction(FunctionVersion);

impl FunctionResolver for OneFunction {
    fn resolve(
        &self,
        _account: &str,
        _region: &str,
        _name: &str,
        _qualifier: Option<&str>,
    ) -> Result<FunctionVersion, AwsError> {
        Ok(self.0.clone())
    }

    fn execution_role(&self, _account: &str, _region: &str, _name: &str, _qualifier: Option<&str>) -> Option<String> {
        Some(self.0.role.clone())
    }
}

const HANDLER: &str = r#"
def handler(event, context):
    print("BATCH", sorted(r["messageId"] for r in event["Records"]))
    if any(r["body"] == "crash" for r in event["Records"]):
        raise ValueError("bad batch")
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "poison"]}
"#;

async fn engine_with_function(dir: &std::path::Path) -> (Arc<InvokeEngine>, Arc<OneFunction>) {
    let store = Store::open(&dir.join("data"), "000000000000").unwrap();
    let code = dir.join("code");
    std::fs::create_dir_all(&code).unwrap();
    std::fs::write(code.join("lambda_function.py"), HANDLER).unwrap();
    // Plain child processes: this test binary cannot act as the sandbox launcher (`kumo sandbox-init`).
    let sandbox = Arc::new(kumo_sandbox::Sandbox::off("engine test"));
    let runtimes = RuntimeRegistry::prepare(&dir.join("runtimes"), None, sandbox).unwrap();
    let config = EngineConfig {
        endpoint_url: "http://127.0.0.1:9".to_string(),
        access_key_id: "test".to_string(),
        secret_access_key: "test".to_string(),
        idle_timeout: Duration::from_secs(60),
        async_retry_delay: Duration::from_secs(1),
        account_concurrency: 1000,
        async_backlog_memory: 64 << 20,
        account: "000000000000".to_string(),
    };
    let engine = InvokeEngine::new(config, runtimes, store);
    let function = FunctionVersion {
        region: "us-east-1".into(),
        account: "000000000000".into(),
        name: "drain".into(),
        version: "$LATEST".into(),
        revision: "r1".into(),
        runtime: "python3.12".into(),
        handler: "lambda_function.handler".into(),
        role: "arn:aws:iam::000000000000:role/lambda-role".into(),
        memory_mb: 128,
        timeout_s: 10,
        ephemeral_mb: 512,
        code_dir: code,
        layers_dir: None,
        variables: BTreeMap::new(),
    };
    (engine, Arc::new(OneFunction(function)))
}

fn spec(batch_size: usize, filters: Vec<serde_json::Value>) -> MappingSpec {
    MappingSpec {
        uuid: "m-1".into(),
        account: "000000000000".into(),
        region: "us-east-1".into(),
        event_source_arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
        function_name: "drain".into(),
        qualifier: None,
        batch_size,
        batching_window: Duration::from_millis(200),
        filters,
        report_batch_item_failures: true,
        maximum_concurrency: 2,
        enabled: true,
    }
}

async fn wait_for(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drains_in_batches_and_keeps_only_reported_failures() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, resolver) = engine_with_function(dir.path()).await;
    let queue = Arc::new(MemoryQueue::default());
    for index in 0..25 {
        let body = if index == 7 { "poison" } else { "fine" };
        queue.send(&format!("m{index:02}"), body);
    }
    engine.event_sources().connect(Arc::clone(&queue) as Arc<dyn QueueSource>, resolver);
    engine.event_sources().apply(spec(10, Vec::new()));
    wait_for("24 deletions", || queue.deleted().len() == 24).await;
    let deleted = queue.deleted();
    assert!(!deleted.contains(&"m07".to_string()), "the reported failure stays on the queue");
    assert_eq!(queue.in_flight.lock().unwrap().len(), 1);
    engine.event_sources().remove("m-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_is_redelivered_and_filters_drop_messages() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, resolver) = engine_with_function(dir.path()).await;
    let queue = Arc::new(MemoryQueue::default());
    queue.send("a", "crash");
    engine.event_sources().connect(Arc::clone(&queue) as Arc<dyn QueueSource>, resolver);
    engine.event_sources().apply(spec(1, vec![serde_json::json!({ "body": [{ "anything-but": "skip" }] })]));
    wait_for("the crashing batch to be taken", || queue.in_flight.lock().unwrap().len() == 1).await;
    assert!(queue.deleted().is_empty(), "a function error leaves the batch on the queue");

    queue.in_flight.lock().unwrap().clear();
    queue.send("b", "skip");
    queue.send("c", "fine");
    wait_for("b and c to be deleted", || queue.deleted() == ["b", "c"]).await;
    queue.expire_in_flight();
    engine.event_sources().remove("m-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_may_not_receive_leaves_the_messages_and_the_poller_resumes_when_it_may() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, resolver) = engine_with_function(dir.path()).await;
    let queue = Arc::new(MemoryQueue::default());
    queue.refused.lock().unwrap().push("sqs:ReceiveMessage".to_string());
    engine.event_sources().connect(Arc::clone(&queue) as Arc<dyn QueueSource>, resolver);
    engine.event_sources().apply(spec(10, Vec::new()));
    wait_for("the poller to be refused", || queue.refusals.load(Ordering::SeqCst) >= 1).await;
    let problem = "PROBLEM: User: arn:aws:sts::000000000000:assumed-role/lambda-role/drain is not authorized to perform: sqs:ReceiveMessage";
    assert_eq!(engine.event_sources().last_result("m-1").render(), problem);

    queue.send("kept", "fine");
    // Two more refusals: the poller went round again after the message arrived, took nothing.
    let seen = queue.refusals.load(Ordering::SeqCst);
    wait_for("two more refusals", || queue.refusals.load(Ordering::SeqCst) >= seen + 2).await;
    assert_eq!(queue.visible.lock().unwrap().len(), 1, "the message stays in the queue");
    assert!(queue.deleted().is_empty());

    queue.refused.lock().unwrap().clear();
    wait_for("the message to be processed", || queue.deleted() == ["kept"]).await;
    assert_eq!(engine.event_sources().last_result("m-1"), ProcessingResult::Ok);
    engine.event_sources().remove("m-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_may_not_delete_leaves_the_batch_for_redelivery() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, resolver) = engine_with_function(dir.path()).await;
    let queue = Arc::new(MemoryQueue::default());
    queue.refused.lock().unwrap().push("sqs:DeleteMessage".to_string());
    queue.send("a", "fine");
    engine.event_sources().connect(Arc::clone(&queue) as Arc<dyn QueueSource>, resolver);
    engine.event_sources().apply(spec(1, Vec::new()));
    wait_for("the delete to be refused", || queue.refusals.load(Ordering::SeqCst) >= 1).await;
    assert!(queue.deleted().is_empty());
    assert_eq!(queue.in_flight.lock().unwrap().len(), 1, "in flight until its visibility timeout");
    assert!(engine.event_sources().last_result("m-1").render().ends_with("sqs:DeleteMessage"));

    queue.refused.lock().unwrap().clear();
    queue.expire_in_flight();
    wait_for("the redelivered message to be deleted", || queue.deleted() == ["a"]).await;
    engine.event_sources().remove("m-1");
}
