//! SQS workloads: send+receive+delete cycles with and without batching, against Kumo and, in the
//! same run, against moto's server mode (the emulator most Python projects test with), and the
//! SQS→Lambda latency of an event source mapping at idle (send → handler start).
//!
//! Requests speak AWS JSON 1.0 (`X-Amz-Target: AmazonSQS.*`), as boto3 and the AWS CLI do, and
//! are SigV4-signed like any client's.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::CONTENT_TYPE;
use hyper::{Request, StatusCode};
use serde_json::{json, Value};

use crate::lambda::{Connection, Endpoint};

/// Size of each message body in the throughput cycles.
const MESSAGE_BYTES: usize = 256;

/// Where kumo-bench installs moto when it is not on `PATH`.
const MOTO_VENV: &str = "/tmp/kumo-bench-moto";

/// How long moto may take to answer after it starts.
const MOTO_START_TIMEOUT: Duration = Duration::from_secs(30);

/// The latency probe: records when the handler started, per message, in its log.
const PROBE_HANDLER: &str = "import time\n\ndef lambda_handler(event, context):\n    started = time.time()\n    \
                             for record in event[\"Records\"]:\n        print(\"PROBE %s %.3f\" % (record[\"body\"], \
                             started * 1000))\n";

impl Connection {
    /// Calls an SQS action with a JSON request body; returns the reply parsed (an error reply
    /// is an `Err`).
    pub async fn sqs(&mut self, action: &str, body: &Value) -> anyhow::Result<Value> {
        let body = Bytes::from(serde_json::to_vec(body)?);
        let mut request = Request::post("/")
            .header(CONTENT_TYPE, "application/x-amz-json-1.0")
            .header("x-amz-target", format!("AmazonSQS.{action}"))
            .body(Full::new(body.clone()))?;
        self.sign_for("sqs", &mut request, &body);
        let reply = self.send(request).await?;
        anyhow::ensure!(reply.status == StatusCode::OK, "{action}: {}", reply.describe());
        if reply.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&reply.body).with_context(|| format!("{action}: the reply is not JSON"))
    }

    /// Creates a queue; returns its URL.
    pub async fn create_queue(&mut self, name: &str) -> anyhow::Result<String> {
        let reply = self.sqs("CreateQueue", &json!({ "QueueName": name })).await?;
        reply["QueueUrl"].as_str().map(str::to_string).context("CreateQueue: no QueueUrl")
    }

    /// The ARN of a queue.
    pub async fn queue_arn(&mut self, url: &str) -> anyhow::Result<String> {
        let reply = self.sqs("GetQueueAttributes", &json!({ "QueueUrl": url, "AttributeNames": ["QueueArn"] })).await?;
        reply["Attributes"]["QueueArn"].as_str().map(str::to_string).context("GetQueueAttributes: no QueueArn")
    }

    /// Deletes a queue.
    pub async fn delete_queue(&mut self, url: &str) -> anyhow::Result<()> {
        self.sqs("DeleteQueue", &json!({ "QueueUrl": url })).await.map(|_| ())
    }
}

/// One send+receive+delete cycle on a queue; returns the messages deleted.
pub async fn cycle(connection: &mut Connection, queue_url: &str, batched: bool, body: &str) -> anyhow::Result<usize> {
    let count = if batched { 10 } else { 1 };
    if batched {
        let entries: Vec<Value> =
            (0..count).map(|index| json!({ "Id": index.to_string(), "MessageBody": body })).collect();
        let sent = connection.sqs("SendMessageBatch", &json!({ "QueueUrl": queue_url, "Entries": entries })).await?;
        let failed = sent["Failed"].as_array().map_or(0, Vec::len);
        anyhow::ensure!(failed == 0, "SendMessageBatch: {failed} entries failed");
    } else {
        connection.sqs("SendMessage", &json!({ "QueueUrl": queue_url, "MessageBody": body })).await?;
    }
    let received = connection
        .sqs("ReceiveMessage", &json!({ "QueueUrl": queue_url, "MaxNumberOfMessages": count, "WaitTimeSeconds": 0 }))
        .await?;
    let handles: Vec<&str> = received["Messages"]
        .as_array()
        .map(|messages| messages.iter().filter_map(|m| m["ReceiptHandle"].as_str()).collect())
        .unwrap_or_default();
    if handles.is_empty() {
        return Ok(0);
    }
    if batched {
        let entries: Vec<Value> = handles
            .iter()
            .enumerate()
            .map(|(index, handle)| json!({ "Id": index.to_string(), "ReceiptHandle": handle }))
            .collect();
        let deleted =
            connection.sqs("DeleteMessageBatch", &json!({ "QueueUrl": queue_url, "Entries": entries })).await?;
        let failed = deleted["Failed"].as_array().map_or(0, Vec::len);
        anyhow::ensure!(failed == 0, "DeleteMessageBatch: {failed} entries failed");
    } else {
        for handle in &handles {
            connection.sqs("DeleteMessage", &json!({ "QueueUrl": queue_url, "ReceiptHandle": handle })).await?;
        }
    }
    Ok(handles.len())
}

/// The message body of the throughput cycles.
pub fn message_body() -> Arc<str> {
    Arc::from("m".repeat(MESSAGE_BYTES))
}

/// A `moto_server` child process on a free port.
pub struct MotoServer {
    child: tokio::process::Child,
    /// Its URL.
    pub url: String,
    /// `moto` version, for the report.
    pub version: String,
}

impl MotoServer {
    /// Finds `moto_server` (`explicit`, then `PATH`, then [`MOTO_VENV`]), installing it into
    /// [`MOTO_VENV`] with pip when it is nowhere; `Err` says why moto cannot run.
    pub async fn start(explicit: Option<&Path>) -> anyhow::Result<Self> {
        let binary = match explicit {
            Some(path) => path.to_path_buf(),
            None => find_or_install_moto().await?,
        };
        let python = binary.with_file_name("python");
        let version = tokio::process::Command::new(&python)
            .args(["-c", "import moto; print(moto.__version__)"])
            .output()
            .await
            .ok()
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
            .filter(|version| !version.is_empty())
            .unwrap_or_else(|| "?".to_string());
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = tokio::process::Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let server = Self { child, url: format!("http://127.0.0.1:{port}"), version };
        let endpoint = Endpoint::resolve(&server.url).await?;
        let deadline = Instant::now() + MOTO_START_TIMEOUT;
        loop {
            if let Ok(mut connection) = endpoint.connect().await {
                if connection.sqs("ListQueues", &json!({})).await.is_ok() {
                    return Ok(server);
                }
            }
            anyhow::ensure!(Instant::now() < deadline, "moto_server did not answer within {MOTO_START_TIMEOUT:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops moto.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

async fn find_or_install_moto() -> anyhow::Result<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|dir| dir.join("moto_server")).collect::<Vec<_>>())
        .unwrap_or_default();
    let in_venv = Path::new(MOTO_VENV).join("bin/moto_server");
    if let Some(found) = on_path.into_iter().chain([in_venv.clone()]).find(|path| path.is_file()) {
        return Ok(found);
    }
    eprintln!("kumo-bench: installing moto[server] into {MOTO_VENV} (pip)");
    let venv = tokio::process::Command::new("python3").args(["-m", "venv", MOTO_VENV]).status().await;
    anyhow::ensure!(venv.is_ok_and(|status| status.success()), "python3 -m venv {MOTO_VENV} failed");
    let pip = Path::new(MOTO_VENV).join("bin/pip");
    let installed = tokio::process::Command::new(&pip)
        .args(["install", "--quiet", "moto[server]"])
        .stdout(Stdio::null())
        .status()
        .await;
    anyhow::ensure!(installed.is_ok_and(|status| status.success()), "pip install 'moto[server]' failed");
    anyhow::ensure!(in_venv.is_file(), "pip installed moto but no moto_server appeared");
    Ok(in_venv)
}

/// The deployment package of the latency probe.
pub fn probe_function_zip() -> anyhow::Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    writer.start_file("lambda_function.py", options)?;
    writer.write_all(PROBE_HANDLER.as_bytes())?;
    Ok(writer.finish()?.into_inner())
}

/// Milliseconds since the epoch, with microseconds, from the wall clock the handler also reads.
pub(crate) fn wall_ms() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Probe lines (`PROBE <body> <ms>`) logged so far: body → handler start (epoch ms).
pub(crate) async fn probe_starts(connection: &mut Connection, function: &str) -> anyhow::Result<Vec<(String, f64)>> {
    let mut starts = Vec::new();
    let mut after = 0;
    loop {
        let page = connection.kumo_logs(function, after).await?;
        let Some(events) = page["events"].as_array().filter(|events| !events.is_empty()) else { break };
        for event in events {
            after = event["id"].as_i64().unwrap_or(after);
            let message = event["message"].as_str().unwrap_or("");
            let mut words = message.split_whitespace();
            if words.next() == Some("PROBE") {
                if let (Some(body), Some(Ok(ms))) = (words.next(), words.next().map(str::parse::<f64>)) {
                    starts.push((body.to_string(), ms));
                }
            }
        }
    }
    Ok(starts)
}

/// Measures send → handler start through an event source mapping (batch size 1) at idle:
/// `samples` messages, one at a time, `gap` apart. Returns the latencies.
pub async fn lambda_latency(
    connection: &mut Connection,
    queue_url: &str,
    function: &str,
    samples: usize,
    gap: Duration,
) -> anyhow::Result<Vec<Duration>> {
    // The first message pays the cold start: wait for it before measuring.
    connection.sqs("SendMessage", &json!({ "QueueUrl": queue_url, "MessageBody": "warm" })).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !probe_starts(connection, function).await?.iter().any(|(body, _)| body == "warm") {
        anyhow::ensure!(Instant::now() < deadline, "the mapped function did not run within 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut sent_at = Vec::with_capacity(samples);
    for index in 0..samples {
        tokio::time::sleep(gap).await;
        let body = format!("p{index}");
        sent_at.push((body.clone(), wall_ms()));
        connection.sqs("SendMessage", &json!({ "QueueUrl": queue_url, "MessageBody": body })).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let starts = probe_starts(connection, function).await?;
        let latencies: Vec<Duration> = sent_at
            .iter()
            .filter_map(|(body, sent)| {
                let started = starts.iter().find(|(probe, _)| probe == body)?.1;
                Some(Duration::from_secs_f64((started - sent).max(0.0) / 1000.0))
            })
            .collect();
        if latencies.len() == samples {
            return Ok(latencies);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {samples} probe messages reached the handler within 30 s",
            latencies.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
