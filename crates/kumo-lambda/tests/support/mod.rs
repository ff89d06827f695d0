//! What the Lambda service's integration tests share: a `LambdaService` over a fresh store in a
//! temporary directory, its engine running plain child processes.

use std::sync::Arc;
use std::time::Duration;

use kumo_invoke::store::Store;
use kumo_invoke::{EngineConfig, InvokeEngine};
use kumo_lambda::LambdaService;
use kumo_sandbox::RuntimeRegistry;

/// The account the tests act in.
pub const ACCOUNT: &str = "000000000000";
/// The region the tests act in.
pub const REGION: &str = "us-east-1";

/// A Lambda service keeping its state under `dir` (opened again over the same `dir`, it is the
/// same node after a restart).
pub fn service(dir: &std::path::Path) -> Arc<LambdaService> {
    let store = Store::open(&dir.join("data"), ACCOUNT).unwrap();
    // Plain child processes: a test binary cannot act as the sandbox launcher.
    let sandbox = Arc::new(kumo_sandbox::Sandbox::off("lambda test"));
    let runtimes = RuntimeRegistry::prepare(&dir.join("runtimes"), None, sandbox).unwrap();
    let config = EngineConfig {
        endpoint_url: "http://127.0.0.1:9".to_string(),
        access_key_id: "test".to_string(),
        secret_access_key: "test".to_string(),
        idle_timeout: Duration::from_secs(60),
        async_retry_delay: Duration::from_secs(1),
        account_concurrency: 1000,
        async_backlog_memory: 64 << 20,
        account: ACCOUNT.to_string(),
    };
    let engine = InvokeEngine::new(config, runtimes, store.clone());
    LambdaService::new(store, engine, ACCOUNT.to_string(), "http://127.0.0.1:9".to_string())
}
