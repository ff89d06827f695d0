//! Execution environments against a real custom runtime: a bash `bootstrap` speaking the
//! Runtime API with curl, as a `provided.al2023` function would, inside the real sandbox.
//!
//! This test binary doubles as the sandbox launcher (`<binary> sandbox-init`), exactly as the
//! `kumo` binary does, so it has its own `main` (`harness = false`): the launcher must be
//! dispatched before any test thread exists. As root every protection is active; elsewhere the
//! tests run with whatever the host allows and the sandbox-specific checks are skipped.

use std::collections::BTreeMap;
use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kumo_sandbox::{
    EnvironmentSpec, ExecutionEnvironment, InitErrorDetail, Invocation, InvokeOutcome, LaunchPlan, RuntimeMounts,
    Sandbox,
};

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
    *inspect*)
      touch /var/task/written 2> /dev/null && TASK=writable || TASK=read-only
      echo x > /tmp/probe && TMP=writable || TMP=read-only
      EVENT="uid=$(id -u) gid=$(id -g) host=$(hostname) task=$TASK tmp=$TMP procs=$(ls /proc | grep -c '^[0-9]') root=$(ls / | tr '\n' ,) home=$(ls /home 2>&1 | head -c 20) shadow=$(cat /etc/shadow 2>&1 | head -c 30) nofile=$(ulimit -n)"
      ;;
    *orphan*) setsid sleep 1234.5 > /dev/null 2>&1 & ;;
    # Both allocate at memory speed rather than byte by byte in bash: the environment's CPU
    # quota is proportional to its memory (128 MB = 7% of a core), so a slow allocator takes
    # the same long time to reach any limit. `tail` holds everything it has read from a pipe
    # or `/dev/zero` that has no line end; `exec` makes it the runtime process itself.
    *oom*) exec tail /dev/zero ;;
    *allocate*) EVENT="\"$(head -c 60000000 /dev/zero | tail -c 60000000 | wc -c)\"" ;;
  esac
  curl -sS -X POST "$API/invocation/$ID/response" -d "$EVENT" > /dev/null
done
"#;

/// The sandbox of this test process (probed once; its state lives in a temporary directory).
fn sandbox() -> Arc<Sandbox> {
    static SANDBOX: OnceLock<(tempfile::TempDir, Arc<Sandbox>)> = OnceLock::new();
    let (_, sandbox) = SANDBOX.get_or_init(|| {
        let state = tempfile::tempdir().unwrap();
        let sandbox = Arc::new(Sandbox::probe(&state.path().join("sandbox")));
        eprintln!("sandbox: {}", serde_json::to_string(sandbox.report()).unwrap());
        (state, sandbox)
    });
    Arc::clone(sandbox)
}

/// Whether this host gives environments all of `protections` (as root: all of them;
/// unprivileged: everything but cgroups, unless Kumo's cgroup is delegated to it).
fn sandboxed_with(protections: &[&str]) -> bool {
    let sandbox = sandbox();
    protections.iter().all(|protection| sandbox.report().active.contains(protection))
}

fn spec_with(dir: &Path, mode: &str, sandbox: Arc<Sandbox>, memory_mb: u32) -> EnvironmentSpec {
    let bootstrap = dir.join("bootstrap");
    std::fs::write(&bootstrap, BOOTSTRAP).unwrap();
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let program =
        if sandbox.isolates_filesystem() { Path::new("/var/task/bootstrap").to_path_buf() } else { bootstrap };
    EnvironmentSpec {
        plan: LaunchPlan {
            program,
            args: Vec::new(),
            environment: BTreeMap::new(),
            warning: None,
            execution_env: None,
            mounts: RuntimeMounts::default(),
            zygote: None,
            prestart: None,
        },
        code_dir: dir.to_path_buf(),
        environment: BTreeMap::from([
            ("PATH".to_string(), "/usr/local/bin:/usr/bin:/bin".to_string()),
            ("MODE".to_string(), mode.to_string()),
            ("AWS_LAMBDA_LOG_STREAM_NAME".to_string(), "2026/11/26/[$LATEST]test".to_string()),
        ]),
        memory_mb,
        ephemeral_mb: 512,
        sandbox,
        caller: kumo_core::CallerEnvironment::new(
            "us-east-1",
            "000000000000",
            "test",
            "$LATEST",
            "2026/11/26/[$LATEST]test",
        ),
    }
}

fn spec(dir: &Path, mode: &str) -> EnvironmentSpec {
    spec_with(dir, mode, sandbox(), 128)
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

fn body(outcome: &InvokeOutcome) -> String {
    match outcome {
        InvokeOutcome::Success(body) => String::from_utf8_lossy(body).into_owned(),
        other => panic!("expected a success, got {other:?}"),
    }
}

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

async fn timeout_kills_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let mut environment = ExecutionEnvironment::start(&spec(dir.path(), "")).await.unwrap();
    let result = environment.invoke(invocation("r1", r#""sleep""#), Duration::from_millis(300)).await;
    assert!(matches!(result.outcome, InvokeOutcome::Timeout));
    assert!(result.duration >= Duration::from_millis(300) && result.duration < Duration::from_secs(5));
    assert!(!environment.is_usable());
}

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

async fn a_bootstrap_that_cannot_be_executed_is_an_invalid_entrypoint() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), "");
    std::fs::write(dir.path().join("bootstrap"), "#!/no/such/interpreter\n").unwrap();
    let failure = ExecutionEnvironment::start(&spec).await.err().unwrap();
    assert_eq!(failure.error_type, "Runtime.InvalidEntrypoint");
    assert!(
        matches!(&failure.detail, InitErrorDetail::Platform(message) if message.starts_with("fork/exec ") && message.contains("bootstrap")),
        "{:?}",
        failure.detail
    );
}

async fn the_sandbox_hides_the_host_and_runs_unprivileged() {
    if !sandboxed_with(&["filesystem", "namespaces.pid", "unprivileged-user", "rlimits"]) {
        eprintln!("    skipped: the sandbox is not complete on this host");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut environment = ExecutionEnvironment::start(&spec(dir.path(), "")).await.unwrap();
    let seen = body(&environment.invoke(invocation("r1", "inspect"), Duration::from_secs(10)).await.outcome);
    for expected in ["uid=993", "gid=990", "host=localhost", "task=read-only", "tmp=writable", "nofile=1024"] {
        assert!(seen.contains(expected), "{expected} not in {seen}");
    }
    // Only the environment's own processes: init, bash, its command substitutions.
    let procs: u32 = seen.split("procs=").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(procs < 10, "{seen}");
    let root: Vec<&str> = seen.split("root=").nth(1).unwrap().split(' ').next().unwrap().split(',').collect();
    for expected in ["bin", "dev", "etc", "opt", "proc", "tmp", "usr", "var"] {
        assert!(root.contains(&expected), "/{expected} missing: {seen}");
    }
    for hidden in ["boot", "home", "root", "mnt", "srv", "run", "work", "media"] {
        assert!(!root.contains(&hidden), "/{hidden} visible: {seen}");
    }
    assert!(seen.contains("home=ls: cannot access"), "{seen}");
    assert!(seen.contains("shadow=cat: /etc/shadow: No such"), "{seen}");
    assert!(!dir.path().join("written").exists());
}

async fn everything_a_function_started_dies_with_its_environment() {
    if !sandboxed_with(&["namespaces.pid", "filesystem"]) {
        eprintln!("    skipped: the sandbox is not complete on this host");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut environment = ExecutionEnvironment::start(&spec(dir.path(), "")).await.unwrap();
    body(&environment.invoke(invocation("r1", "orphan"), Duration::from_secs(10)).await.outcome);
    let orphans = || processes_with_cmdline("sleep\x001234.5\x00");
    let deadline = Instant::now() + Duration::from_secs(5);
    while orphans().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(orphans().len(), 1, "the orphan should run while the environment lives");
    drop(environment);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !orphans().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(orphans().is_empty(), "a process the function started (in its own session) outlived the environment");
}

fn processes_with_cmdline(cmdline: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(found) = std::fs::read(format!("/proc/{pid}/cmdline")) else { return false };
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            found == cmdline.as_bytes() && !state.contains(") Z ")
        })
        .collect()
}

async fn memory_is_limited_and_measured() {
    let sandbox = sandbox();
    if !sandbox.report().active.contains(&"cgroups.memory") {
        eprintln!("    skipped: no memory cgroup on this host");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut environment =
        ExecutionEnvironment::start(&spec_with(dir.path(), "", Arc::clone(&sandbox), 256)).await.unwrap();
    let allocated = environment.invoke(invocation("r1", "allocate"), Duration::from_secs(30)).await;
    assert_eq!(body(&allocated.outcome), "\"60000000\"");
    assert!(allocated.max_memory_used_mb >= 57, "Max Memory Used {} MB", allocated.max_memory_used_mb);
    assert!(allocated.max_memory_used_mb <= 256);

    let mut small = ExecutionEnvironment::start(&spec_with(dir.path(), "", sandbox, 128)).await.unwrap();
    let killed = small.invoke(invocation("r2", "oom"), Duration::from_secs(60)).await;
    match killed.outcome {
        InvokeOutcome::OutOfMemory(status) => assert_eq!(status, "signal: killed"),
        other => panic!("expected an out-of-memory kill, got {other:?}"),
    }
    assert!(!small.is_usable());
}

async fn parked_launchers_start_environments() {
    let state = tempfile::tempdir().unwrap();
    let sandbox = Arc::new(Sandbox::probe(&state.path().join("sandbox")));
    sandbox.keep_parked_launchers(1);
    let dir = tempfile::tempdir().unwrap();
    // The first start finds none parked and parks one for the next.
    let mut first = ExecutionEnvironment::start(&spec_with(dir.path(), "", Arc::clone(&sandbox), 128)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut second = ExecutionEnvironment::start(&spec_with(dir.path(), "", Arc::clone(&sandbox), 256)).await.unwrap();
    for (environment, n) in [(&mut first, 1), (&mut second, 2)] {
        let result = environment.invoke(invocation("r", &format!("{{\"n\":{n}}}")), Duration::from_secs(10)).await;
        assert_eq!(body(&result.outcome), format!("{{\"n\":{n}}}"));
        assert_eq!(texts(&result.init_lines), ["init done"]);
    }
    drop((first, second));
    sandbox.shutdown();
}

async fn works_with_the_sandbox_off() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_with(dir.path(), "", Arc::new(Sandbox::off("test")), 128);
    let mut environment = ExecutionEnvironment::start(&spec).await.unwrap();
    let result = environment.invoke(invocation("r1", r#"{"n":1}"#), Duration::from_secs(10)).await;
    assert_eq!(body(&result.outcome), r#"{"n":1}"#);
    assert!(result.max_memory_used_mb > 0);
}

type Test = fn() -> Pin<Box<dyn Future<Output = ()>>>;

macro_rules! tests {
    ($($name:ident),* $(,)?) => {
        [$((stringify!($name), (|| Box::pin($name()) as Pin<Box<dyn Future<Output = ()>>>) as Test)),*]
    };
}

fn main() -> ExitCode {
    if kumo_sandbox::launcher::is_launcher_invocation() {
        return kumo_sandbox::launcher::main();
    }
    let tests = tests![
        reuses_a_warm_environment_and_attributes_output,
        function_errors_keep_the_environment,
        timeout_kills_the_environment,
        a_crash_reports_the_exit_status,
        init_errors_are_reported,
        a_bootstrap_that_cannot_be_executed_is_an_invalid_entrypoint,
        the_sandbox_hides_the_host_and_runs_unprivileged,
        everything_a_function_started_dies_with_its_environment,
        memory_is_limited_and_measured,
        parked_launchers_start_environments,
        works_with_the_sandbox_off,
    ];
    // Like libtest: positional arguments filter by substring; `--list` lists.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filters: Vec<&String> = args.iter().filter(|arg| !arg.starts_with('-')).collect();
    if args.iter().any(|arg| arg == "--list") {
        for (name, _) in &tests {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    let selected: Vec<_> = tests
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    println!("\nrunning {} tests", selected.len());
    let (mut passed, mut failed) = (0, Vec::new());
    for (name, test) in selected {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(test())));
        drop(runtime);
        match outcome {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(_) => {
                println!("test {name} ... FAILED");
                failed.push(*name);
            }
        }
    }
    let result = if failed.is_empty() { "ok" } else { "FAILED" };
    if !failed.is_empty() {
        println!("\nfailures:\n    {}", failed.join("\n    "));
    }
    println!(
        "\ntest result: {result}. {passed} passed; {} failed; 0 ignored; 0 measured; 0 filtered out\n",
        failed.len()
    );
    sandbox().shutdown();
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
