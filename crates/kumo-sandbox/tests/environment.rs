//! Execution environments against a real custom runtime: a bash `bootstrap` speaking the
//! Runtime API with curl, as a `provided.al2023` function would.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use kumo_sandbox::{EnvironmentSpec, ExecutionEnvironment, InitErrorDetail, Invocation, InvokeOutcome, LaunchPlan};

const BOOTSTRAP: &str = r#"#!/bin/bash
set -u
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
if [ "${MODE:-}" = "init-error" ]; then
  curl -sS -X POST "$API/init/error" -H 'Lambda-Runtime-Function-Error-Type: Runtime.Custom' \
    -d '{"errorMessage":"cannot start","errorType":"Runtime.Custom"}' > /dev/null
  exit 1
fi
if [ "${MODE:-}" = "exit" ]; then
  echo "dying during init"
  exit 7
fi
echo "init done"
while true; do
  HEADERS=$(mktemp)
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  ID=$(grep -i '^lambda-runtime-aws-request-id' "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$HEADERS"
  echo "got $EVENT"
  case "$EVENT" in
    *sleep*) sleep 30 ;;
    *crash*) exit 3 ;;
    *fail*) curl -sS -X POST "$API/invocation/$ID/error" -H 'Lambda-Runtime-Function-Error-Type: Function.Failed' \
              -d '{"errorMessage":"failed","errorType":"Function.Failed"}' > /dev/null; continue ;;
  esac
  curl -sS -X POST "$API/invocation/$ID/response" -d "$EVENT" > /dev/null
done
"#;

fn spec(dir: &Path, mode: &str) -> EnvironmentSpec {
    let bootstrap = dir.join("bootstrap");
    std::fs::write(&bootstrap, BOOTSTRAP).unwrap();
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).unwrap();
    EnvironmentSpec {
        plan: LaunchPlan {
            program: bootstrap,
            args: Vec::new(),
            environment: BTreeMap::new(),
            warning: None,
            execution_env: None,
        },
        code_dir: dir.to_path_buf(),
        environment: BTreeMap::from([
            ("PATH".to_string(), "/usr/local/bin:/usr/bin:/bin".to_string()),
            ("MODE".to_string(), mode.to_string()),
            ("AWS_LAMBDA_LOG_STREAM_NAME".to_string(), "2026/11/26/[$LATEST]test".to_string()),
        ]),
    }
}

fn invocation(id: &str, payload: &str) -> Invocation {
    Invocation {
        request_id: id.to_string(),
        payload: Bytes::from(payload.to_string()),
        deadline_ms: kumo_core::time::now_millis() + 60_000,
        invoked_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".to_string(),
        trace_id: "Root=1-0-0".to_string(),
        client_context: None,
        cognito_identity: None,
    }
}

fn texts(lines: &[kumo_sandbox::LogLine]) -> Vec<&str> {
    lines.iter().map(|line| line.text.as_str()).collect()
}

#[tokio::test]
async fn reuses_a_warm_environment_and_attributes_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut environment = ExecutionEnvironment::start(&spec(dir.path(), "")).await.unwrap();
    let pid = environment.pid();

    let first = environment.invoke(invocation("r1", r#"{"n":1}"#), Duration::from_secs(10)).await;
    assert!(matches!(&first.outcome, InvokeOutcome::Success(body) if body.as_ref() == br#"{"n":1}"#));
    assert!(first.init_duration.is_some(), "the first invocation reports Init");
    assert_eq!(texts(&first.init_lines), ["init done"]);
    assert_eq!(texts(&first.log_lines), [r#"got {"n":1}"#]);

    let second = environment.invoke(invocation("r2", r#"{"n":2}"#), Duration::from_secs(10)).await;
    assert!(matches!(&second.outcome, InvokeOutcome::Success(body) if body.as_ref() == br#"{"n":2}"#));
    assert!(second.init_duration.is_none(), "a warm invocation has no Init");
    assert_eq!(texts(&second.log_lines), [r#"got {"n":2}"#]);
    assert_eq!(environment.pid(), pid);
    assert!(environment.is_usable());
}

#[tokio::test]
async fn function_errors_keep_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let mut environment = ExecutionEnvironment::start(&spec(dir.path(), "")).await.unwrap();
    let result = environment.invoke(invocation("r1", r#""fail""#), Duration::from_secs(10)).await;
    match result.outcome {
        InvokeOutcome::FunctionError { error_type, body } => {
            assert_eq!(error_type.as_deref(), Some("Function.Failed"));
            assert!(String::from_utf8_lossy(&body).contains("failed"));
        }
        other => panic!("expected a function error, got {other:?}"),
    }
    assert!(environment.is_usable());
}

#[tokio::test]
async fn timeout_kills_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let mut environment = ExecutionEnvironment::start(&spec(dir.path(), "")).await.unwrap();
    let result = environment.invoke(invocation("r1", r#""sleep""#), Duration::from_millis(300)).await;
    assert!(matches!(result.outcome, InvokeOutcome::Timeout));
    assert!(result.duration >= Duration::from_millis(300) && result.duration < Duration::from_secs(5));
    assert!(!environment.is_usable());
}

#[tokio::test]
async fn a_crash_reports_the_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let mut environment = ExecutionEnvironment::start(&spec(dir.path(), "")).await.unwrap();
    let result = environment.invoke(invocation("r1", r#""crash""#), Duration::from_secs(10)).await;
    match result.outcome {
        InvokeOutcome::Crashed(status) => assert_eq!(status, "exit status 3"),
        other => panic!("expected a crash, got {other:?}"),
    }
    assert!(!environment.is_usable());
}

#[tokio::test]
async fn init_errors_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let failure = ExecutionEnvironment::start(&spec(dir.path(), "init-error")).await.err().unwrap();
    assert_eq!(failure.error_type, "Runtime.Custom");
    assert!(
        matches!(&failure.detail, InitErrorDetail::Posted(body) if String::from_utf8_lossy(body).contains("cannot start"))
    );

    let exited = ExecutionEnvironment::start(&spec(dir.path(), "exit")).await.err().unwrap();
    assert_eq!(exited.error_type, "Runtime.ExitError");
    assert!(matches!(&exited.detail, InitErrorDetail::Platform(message) if message.contains("exit status 7")));
    assert_eq!(texts(&exited.log_lines), ["dying during init"]);
}
