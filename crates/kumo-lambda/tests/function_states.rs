//! A version a crash left in transition (`Pending`, its code not yet unpacked) settles when Kumo
//! starts again: `Active` with a new `RevisionId` when its package can be prepared, `Failed`
//! with AWS's `StateReasonCode` when it cannot.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use kumo_core::RequestContext;
use kumo_invoke::store::Store;
use kumo_lambda::types::{FunctionConfiguration, FunctionRecord};
use kumo_lambda::LambdaService;

mod support;

use support::{service, ACCOUNT, REGION};

/// A package of its own per function (packages are stored by content).
fn code_zip(name: &str) -> String {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("lambda_function.py", zip::write::SimpleFileOptions::default()).unwrap();
    write!(zip, "# {name}\ndef handler(event, context):\n    return event\n").unwrap();
    base64::engine::general_purpose::STANDARD.encode(zip.finish().unwrap().into_inner())
}

async fn configuration(lambda: &Arc<LambdaService>, name: &str) -> FunctionConfiguration {
    lambda.get_function_configuration(RequestContext::new(ACCOUNT, REGION), name.to_string(), None).await.unwrap()
}

/// Creates `name` and waits until it is Active.
async fn create_active(lambda: &Arc<LambdaService>, name: &str) {
    let request = serde_json::from_value(serde_json::json!({
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": "arn:aws:iam::000000000000:role/lambda-role",
        "Handler": "lambda_function.handler",
        "Code": {"ZipFile": code_zip(name)},
    }))
    .unwrap();
    let created = lambda.create_function(RequestContext::new(ACCOUNT, REGION), request).await.unwrap();
    assert_eq!(created.state.as_deref(), Some("Pending"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while configuration(lambda, name).await.state.as_deref() != Some("Active") {
        assert!(Instant::now() < deadline, "{name} never became Active");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn stored(store: &Store, name: &str) -> FunctionRecord {
    let document = store.metadata.get_function(ACCOUNT, REGION, name, "$LATEST").unwrap().unwrap();
    serde_json::from_str(&document).unwrap()
}

/// Puts a record back as a crash during its creation leaves it: Pending, code not unpacked.
fn leave_pending(store: &Store, mut record: FunctionRecord) -> String {
    let configuration = &mut record.configuration;
    configuration.state = Some("Pending".to_string());
    configuration.state_reason = Some("The function is being created.".to_string());
    configuration.state_reason_code = Some("Creating".to_string());
    configuration.last_update_status = None;
    let name = configuration.function_name.clone();
    let document = serde_json::to_string(&record).unwrap();
    store.metadata.put_function(ACCOUNT, REGION, &name, "$LATEST", &document).unwrap();
    let _ = std::fs::remove_dir_all(store.blobs.code_dir(&record.code_blob));
    record.configuration.revision_id
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_left_pending_by_a_crash_settles_on_start() {
    let dir = tempfile::tempdir().unwrap();
    let lambda = service(dir.path());
    create_active(&lambda, "survivor").await;
    create_active(&lambda, "broken").await;
    drop(lambda);

    // What the crash left, written while Kumo is down.
    let store = Store::open(&dir.path().join("data"), ACCOUNT).unwrap();
    let (good, broken) = (stored(&store, "survivor"), stored(&store, "broken"));

    let good_revision = leave_pending(&store, good.clone());
    let broken_revision = leave_pending(&store, broken.clone());
    // The broken one's package is gone too: it cannot be prepared again.
    std::fs::remove_file(store.blobs.zip_path(&broken.code_blob)).unwrap();
    let blobs = Arc::clone(&store.blobs);
    drop(store);

    let restarted = service(dir.path());
    let settle = Arc::clone(&restarted);
    tokio::task::spawn_blocking(move || settle.restore_states()).await.unwrap().unwrap();

    let survivor = configuration(&restarted, "survivor").await;
    assert_eq!(survivor.state.as_deref(), Some("Active"));
    assert_eq!(survivor.last_update_status.as_deref(), Some("Successful"));
    assert_eq!(survivor.state_reason, None);
    assert_ne!(survivor.revision_id, good_revision, "settling is a transition with a new RevisionId");
    assert!(blobs.code_dir(&good.code_blob).join("lambda_function.py").is_file(), "code unpacked again");

    let failed = configuration(&restarted, "broken").await;
    assert_eq!(failed.state.as_deref(), Some("Failed"));
    assert_eq!(failed.state_reason_code.as_deref(), Some("InvalidZipFileException"));
    assert_ne!(failed.revision_id, broken_revision);
}
