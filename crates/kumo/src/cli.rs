//! The commands for people: `deploy`, `invoke`, `ls`, `logs`. Human output on a terminal,
//! JSON with `--json`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use http::Method;

use crate::client::Endpoint;

/// Flags of `kumo deploy`.
#[derive(clap::Args)]
pub struct DeployArgs {
    /// Directory holding the function's code.
    dir: PathBuf,
    /// Function name.
    #[arg(long)]
    name: String,
    /// Runtime id (python3.12, nodejs20.x, provided.al2023, …).
    #[arg(long)]
    runtime: String,
    /// Handler (`module.function`).
    #[arg(long)]
    handler: String,
    /// Memory in MB.
    #[arg(long)]
    memory: Option<u32>,
    /// Timeout in seconds.
    #[arg(long)]
    timeout: Option<u32>,
    /// Execution role ARN. Without it a new function gets `lambda-role` of the caller's
    /// account (created, with basic execution permissions, if missing) and an existing one
    /// keeps its role.
    #[arg(long)]
    role: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    endpoint: Endpoint,
}

/// Flags of `kumo invoke`.
#[derive(clap::Args)]
pub struct InvokeArgs {
    /// Function name or ARN.
    name: String,
    /// Event JSON.
    #[arg(long, default_value = "{}")]
    payload: String,
    /// Queue the event (InvocationType Event) instead of waiting.
    #[arg(long = "async")]
    asynchronous: bool,
    /// Print JSON (status, function error, payload, log tail).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    endpoint: Endpoint,
}

/// Flags of `kumo ls`.
#[derive(clap::Args)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    endpoint: Endpoint,
}

/// Flags of `kumo status`.
#[derive(clap::Args)]
pub struct StatusArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    endpoint: Endpoint,
}

/// Flags of `kumo logs`.
#[derive(clap::Args)]
pub struct LogsArgs {
    /// Function name.
    name: String,
    /// Account of the function (default, and the only one allowed: the signing key's account).
    #[arg(long)]
    account: Option<String>,
    /// Keep printing new lines.
    #[arg(long, short)]
    follow: bool,
    /// Print JSON lines.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    endpoint: Endpoint,
}

/// Zips `dir`, keeping executable bits (a custom runtime's `bootstrap` needs them).
fn zip_directory(dir: &Path) -> anyhow::Result<Vec<u8>> {
    use std::os::unix::fs::PermissionsExt;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry?;
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry.path().strip_prefix(dir)?.to_string_lossy().replace('\\', "/");
        let mode = entry.metadata()?.permissions().mode();
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(mode & 0o777);
        writer.start_file(relative, options)?;
        writer.write_all(&std::fs::read(entry.path())?)?;
    }
    Ok(writer.finish()?.into_inner())
}

fn print_json(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// `kumo deploy`.
pub async fn deploy(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let zip = zip_directory(&args.dir).with_context(|| format!("zipping {}", args.dir.display()))?;
    let zip_base64 = base64::engine::general_purpose::STANDARD.encode(&zip);
    let path = format!("/2015-03-31/functions/{}", args.name);
    let existing = args.endpoint.send(Method::GET, &path, &[], Vec::new()).await?;
    let configuration = if existing.status == 404 {
        let role = match &args.role {
            Some(role) => role.clone(),
            None => default_role(&args.endpoint).await?,
        };
        let mut request = serde_json::json!({
            "FunctionName": args.name, "Runtime": args.runtime, "Handler": args.handler,
            "Role": role, "Code": { "ZipFile": zip_base64 },
        });
        if let Some(memory) = args.memory {
            request["MemorySize"] = memory.into();
        }
        if let Some(timeout) = args.timeout {
            request["Timeout"] = timeout.into();
        }
        let body = serde_json::to_vec(&request)?;
        args.endpoint.send(Method::POST, "/2015-03-31/functions", &[], body).await?.json()?
    } else {
        existing.json()?;
        let code = serde_json::to_vec(&serde_json::json!({ "ZipFile": zip_base64 }))?;
        args.endpoint.send(Method::PUT, &format!("{path}/code"), &[], code).await?.json()?;
        let mut request = serde_json::json!({ "Runtime": args.runtime, "Handler": args.handler });
        if let Some(role) = &args.role {
            request["Role"] = role.clone().into();
        }
        if let Some(memory) = args.memory {
            request["MemorySize"] = memory.into();
        }
        if let Some(timeout) = args.timeout {
            request["Timeout"] = timeout.into();
        }
        let body = serde_json::to_vec(&request)?;
        args.endpoint.send(Method::PUT, &format!("{path}/configuration"), &[], body).await?.json()?
    };
    if args.json {
        print_json(&configuration);
    } else {
        println!(
            "deployed {} ({}, {} bytes, sha256 {})",
            configuration["FunctionArn"].as_str().unwrap_or_default(),
            configuration["Runtime"].as_str().unwrap_or_default(),
            configuration["CodeSize"],
            configuration["CodeSha256"].as_str().unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Name of the role `kumo deploy` uses when none is given.
const DEFAULT_ROLE_NAME: &str = "lambda-role";
/// Trust policy of that role: Lambda may assume it.
const LAMBDA_TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// The ARN of `lambda-role` in the caller's account, creating the role (with
/// AWSLambdaBasicExecutionRole attached) when it does not exist.
async fn default_role(endpoint: &Endpoint) -> anyhow::Result<String> {
    let identity = endpoint.query("sts", &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]).await?;
    let account = identity.xml_field("Account").context("GetCallerIdentity answered without an account")?;
    let role_arn = format!("arn:aws:iam::{account}:role/{DEFAULT_ROLE_NAME}");
    let get = [("Action", "GetRole"), ("Version", "2010-05-08"), ("RoleName", DEFAULT_ROLE_NAME)];
    let existing = endpoint.query("iam", &get).await;
    match existing {
        Ok(_) => return Ok(role_arn),
        Err(error) if error.to_string().starts_with("NoSuchEntity") => {}
        Err(error) => return Err(error),
    }
    let create = [
        ("Action", "CreateRole"),
        ("Version", "2010-05-08"),
        ("RoleName", DEFAULT_ROLE_NAME),
        ("AssumeRolePolicyDocument", LAMBDA_TRUST_POLICY),
        ("Description", "Execution role created by kumo deploy"),
    ];
    endpoint.query("iam", &create).await?;
    let attach = [
        ("Action", "AttachRolePolicy"),
        ("Version", "2010-05-08"),
        ("RoleName", DEFAULT_ROLE_NAME),
        ("PolicyArn", "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"),
    ];
    endpoint.query("iam", &attach).await?;
    eprintln!("created execution role {role_arn}");
    Ok(role_arn)
}

/// `kumo invoke`.
pub async fn invoke(args: InvokeArgs) -> anyhow::Result<ExitCode> {
    let invocation_type = if args.asynchronous { "Event" } else { "RequestResponse" };
    let headers = [("x-amz-invocation-type", invocation_type.to_string()), ("x-amz-log-type", "Tail".to_string())];
    let path = format!("/2015-03-31/functions/{}/invocations", args.name);
    let reply = args.endpoint.send(Method::POST, &path, &headers, args.payload.into_bytes()).await?;
    if reply.status >= 400 {
        reply.json()?;
    }
    let function_error = reply.headers.get("x-amz-function-error").and_then(|v| v.to_str().ok()).map(str::to_string);
    let log = reply
        .headers
        .get("x-amz-log-result")
        .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v.as_bytes()).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    let payload = String::from_utf8_lossy(&reply.body).into_owned();
    if args.json {
        print_json(&serde_json::json!({
            "StatusCode": reply.status, "FunctionError": function_error, "Payload": payload, "LogResult": log,
        }));
    } else {
        if let Some(log) = log.filter(|_| std::io::stderr().is_terminal()) {
            eprint!("{log}");
        }
        if reply.status == 202 {
            println!("accepted (202): the event runs in the background");
        } else {
            println!("{payload}");
        }
    }
    Ok(if function_error.is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// `kumo ls`.
pub async fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let mut functions = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let path = match &marker {
            Some(marker) => format!("/2015-03-31/functions/?Marker={marker}"),
            None => "/2015-03-31/functions/".to_string(),
        };
        let page = args.endpoint.send(Method::GET, &path, &[], Vec::new()).await?.json()?;
        functions.extend(page["Functions"].as_array().cloned().unwrap_or_default());
        match page["NextMarker"].as_str() {
            Some(next) => marker = Some(next.to_string()),
            None => break,
        }
    }
    if args.json {
        print_json(&serde_json::Value::Array(functions));
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:<40} {:<16} {:>7} {:>8} {:>6}  LAST MODIFIED", "NAME", "RUNTIME", "MEMORY", "TIMEOUT", "LAYERS");
    for function in &functions {
        println!(
            "{:<40} {:<16} {:>5}MB {:>7}s {:>6}  {}",
            function["FunctionName"].as_str().unwrap_or_default(),
            function["Runtime"].as_str().unwrap_or_default(),
            function["MemorySize"],
            function["Timeout"],
            function["Layers"].as_array().map_or(0, Vec::len),
            function["LastModified"].as_str().unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `kumo logs`.
pub async fn logs(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let mut after: i64 = 0;
    loop {
        let of_account = args.account.as_ref().map(|account| format!("&account={account}")).unwrap_or_default();
        let path = format!("/_kumo/logs/{}?after={after}{of_account}", args.name);
        let page = args.endpoint.kumo(&path).await?;
        let events = page["events"].as_array().cloned().unwrap_or_default();
        let mut stdout = std::io::stdout().lock();
        for event in &events {
            after = event["id"].as_i64().unwrap_or(after);
            if args.json {
                writeln!(stdout, "{event}")?;
            } else {
                let at = kumo_core::time::rfc3339(event["timestamp_ms"].as_u64().unwrap_or(0));
                writeln!(stdout, "{at} {}", event["message"].as_str().unwrap_or_default())?;
            }
        }
        stdout.flush()?;
        drop(stdout);
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        if events.is_empty() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// `kumo status`: warm pools, concurrency limits and what runs now.
pub async fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let status = args.endpoint.kumo("/_kumo/status").await?;
    if args.json {
        print_json(&status);
        return Ok(ExitCode::SUCCESS);
    }
    let concurrency = &status["concurrency"];
    println!("account concurrency limit per region: {}", concurrency["account_limit_per_region"]);
    if let Some(reserved) = concurrency["reserved"].as_object().filter(|r| !r.is_empty()) {
        println!("reserved concurrency:");
        for (function, value) in reserved {
            println!("  {function:<50} {value}");
        }
    }
    println!(
        "{:<50} {:>6} {:>6} {:>12} {:>8}",
        "ENVIRONMENTS (region/function:version)", "IDLE", "BUSY", "PROVISIONED", "RUNNING"
    );
    for (key, pool) in status["pools"].as_object().into_iter().flatten() {
        let function = key.split(':').next().unwrap_or(key);
        let running = concurrency["running"][function].as_u64().unwrap_or(0);
        println!("{key:<50} {:>6} {:>6} {:>12} {running:>8}", pool["idle"], pool["busy"], pool["provisioned"]);
    }
    if let Some(reason) = status["zygotes_unavailable"].as_str() {
        println!("zygotes: off ({reason})");
    }
    for zygote in status["zygotes"].as_array().into_iter().flatten() {
        println!(
            "zygote {}: {}, {} environments started, {} parked",
            zygote["program"].as_str().unwrap_or_default(),
            zygote["state"].as_str().unwrap_or_default(),
            zygote["environments"],
            zygote["parked"]
        );
    }
    for pool in status["prestarted"].as_array().into_iter().flatten() {
        println!(
            "pre-started {}: {} environments started, {} parked",
            pool["program"].as_str().unwrap_or_default(),
            pool["environments"],
            pool["parked"]
        );
    }
    Ok(ExitCode::SUCCESS)
}
