//! The few Lambda REST API calls the benchmark makes (CreateFunction, Invoke, DeleteFunction and
//! Kumo's health check), each over one keep-alive HTTP/1.1 connection that the caller owns.
//!
//! A [`Connection`] is hyper's low-level `http1` client connection on a `TcpStream` with
//! `TCP_NODELAY`, not a pooled client: a load task owning one `Connection` is guaranteed to use
//! exactly one TCP connection for its whole run.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

/// How long one request may take before it counts as failed (a cold start included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The execution role of the benchmark's functions (created by [`Connection::ensure_role`]).
const ROLE_NAME: &str = "bench";

/// The echo handler deployed for every measurement.
const ECHO_HANDLER: &str = "def lambda_handler(event, context):\n    return event\n";

/// Where Kumo listens.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The resolved socket address.
    address: SocketAddr,
    /// `host:port`, sent as the `Host` header.
    authority: HeaderValue,
}

impl Endpoint {
    /// Parses an `http://host:port` URL and resolves its host once.
    pub async fn resolve(url: &str) -> anyhow::Result<Self> {
        let uri: hyper::Uri = url.parse().with_context(|| format!("invalid endpoint URL {url}"))?;
        anyhow::ensure!(uri.scheme_str() == Some("http"), "the endpoint must be an http:// URL, got {url}");
        let host = uri.host().with_context(|| format!("no host in {url}"))?;
        let port = uri.port_u16().unwrap_or(80);
        let address = tokio::net::lookup_host((host, port))
            .await
            .with_context(|| format!("resolving {host}"))?
            .next()
            .with_context(|| format!("{host} has no address"))?;
        let authority = HeaderValue::from_str(&format!("{host}:{port}")).context("invalid host")?;
        Ok(Self { address, authority })
    }

    /// Opens a new keep-alive connection.
    pub async fn connect(&self) -> anyhow::Result<Connection> {
        let stream = tokio::net::TcpStream::connect(self.address)
            .await
            .with_context(|| format!("connecting to {}", self.address))?;
        stream.set_nodelay(true).context("setting TCP_NODELAY")?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.context("HTTP/1.1 handshake")?;
        // The connection task ends when the sender is dropped or the server closes the socket; a
        // failure shows up as an error on the next request, so its result is not needed here.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Connection { sender, endpoint: self.clone() })
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: hyper::HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Reply {
    /// A short description of an unexpected reply for error messages.
    pub fn describe(&self) -> String {
        let error_type = self.headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok()).unwrap_or("");
        let function_error = self.headers.get("x-amz-function-error").and_then(|v| v.to_str().ok()).unwrap_or("");
        let body = String::from_utf8_lossy(&self.body[..self.body.len().min(200)]).into_owned();
        format!("HTTP {} {error_type}{function_error}: {body}", self.status.as_u16())
    }
}

/// One keep-alive HTTP/1.1 connection to Kumo. Requests on it are sequential.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    /// Where it goes: the `Host` header, and a fresh connection when the server closed this one.
    endpoint: Endpoint,
}

impl Connection {
    /// Sends a request and reads the whole response, within [`REQUEST_TIMEOUT`].
    pub(crate) async fn send(&mut self, mut request: Request<Full<Bytes>>) -> anyhow::Result<Reply> {
        request.headers_mut().insert(HOST, self.endpoint.authority.clone());
        if self.sender.ready().await.is_err() {
            // Closed by the server after the previous answer (moto closes some connections;
            // Kumo keeps them alive): reconnect as any HTTP client pool would.
            *self = self.endpoint.connect().await?;
        }
        let exchange = async {
            self.sender.ready().await.context("connection closed")?;
            let response = self.sender.send_request(request).await.context("sending the request")?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.context("reading the response body")?.to_bytes();
            anyhow::Ok(Reply { status: parts.status, headers: parts.headers, body })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange).await.context("request timed out")?
    }

    /// Signs a Lambda request with SigV4 (key `test`/`test`, region `us-east-1`), as any AWS
    /// client does; `body` is the request's body, whose hash the signature covers.
    fn sign(&self, request: &mut Request<Full<Bytes>>, body: &Bytes) {
        self.sign_for("lambda", request, body);
    }

    /// Signs a request for `service`.
    pub(crate) fn sign_for(&self, service: &str, request: &mut Request<Full<Bytes>>, body: &Bytes) {
        self.sign_with_payload_hash(service, request, kumo_core::sigv4::payload_hash(body));
    }

    /// Signs a request for `service` whose `x-amz-content-sha256` is `payload_hash` (S3 takes
    /// `UNSIGNED-PAYLOAD`, as clients send large bodies, so the client does not hash them).
    pub(crate) fn sign_with_payload_hash(
        &self,
        service: &str,
        request: &mut Request<Full<Bytes>>,
        payload_hash: String,
    ) {
        request.headers_mut().insert(HOST, self.endpoint.authority.clone());
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        let method = request.method().as_str().to_string();
        let path = request.uri().path().to_string();
        let query = request.uri().query().unwrap_or("").to_string();
        let mut parts =
            kumo_core::sigv4::RequestParts { method: &method, path: &path, query: &query, headers, payload_hash };
        let now = (kumo_core::time::now_millis() / 1000) as i64;
        for (name, value) in kumo_core::sigv4::sign(&mut parts, "test", "test", "us-east-1", service, now) {
            if let (Ok(name), Ok(value)) =
                (hyper::header::HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value))
            {
                request.headers_mut().insert(name, value);
            }
        }
    }

    /// Sends a request and hands each chunk of the response body to `chunk` as it arrives
    /// (a large GET is never held whole); returns the status and headers.
    pub(crate) async fn send_streaming(
        &mut self,
        mut request: Request<Full<Bytes>>,
        mut chunk: impl FnMut(&[u8]),
    ) -> anyhow::Result<(StatusCode, hyper::HeaderMap)> {
        request.headers_mut().insert(HOST, self.endpoint.authority.clone());
        if self.sender.ready().await.is_err() {
            *self = self.endpoint.connect().await?;
        }
        self.sender.ready().await.context("connection closed")?;
        let response = self.sender.send_request(request).await.context("sending the request")?;
        let (parts, mut body) = response.into_parts();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.context("reading the response body")?.into_data() {
                chunk(&data);
            }
        }
        Ok((parts.status, parts.headers))
    }

    /// Whether the server or the network closed the connection.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// `GET /_kumo/health`: the bare HTTP round trip through Kumo's gateway.
    pub async fn health(&mut self) -> anyhow::Result<Reply> {
        let request = Request::get("/_kumo/health").body(Full::default())?;
        self.send(request).await
    }

    /// Creates [`ROLE_NAME`], the execution role of the benchmark's functions, unless it exists,
    /// with what the SQS→Lambda mapping needs of it (AWSLambdaSQSQueueExecutionRole, as on AWS).
    pub async fn ensure_role(&mut self) -> anyhow::Result<()> {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let create = format!(
            "Action=CreateRole&Version=2010-05-08&RoleName={ROLE_NAME}&AssumeRolePolicyDocument={}",
            kumo_core::sigv4::uri_encode(trust, false)
        );
        let reply = self.iam(create).await?;
        let exists = reply.status == StatusCode::CONFLICT
            && reply.body.windows(19).any(|window| window == b"EntityAlreadyExists");
        anyhow::ensure!(reply.status.is_success() || exists, "CreateRole {ROLE_NAME} failed: {}", reply.describe());
        let policy = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole";
        let attach = format!(
            "Action=AttachRolePolicy&Version=2010-05-08&RoleName={ROLE_NAME}&PolicyArn={}",
            kumo_core::sigv4::uri_encode(policy, false)
        );
        let reply = self.iam(attach).await?;
        anyhow::ensure!(reply.status.is_success(), "AttachRolePolicy {ROLE_NAME} failed: {}", reply.describe());
        Ok(())
    }

    /// An IAM awsQuery request with the form `body`.
    async fn iam(&mut self, body: String) -> anyhow::Result<Reply> {
        let body = Bytes::from(body);
        let mut request = Request::post("/")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded; charset=utf-8")
            .body(Full::new(body.clone()))?;
        self.sign_for("iam", &mut request, &body);
        self.send(request).await
    }

    /// `CreateFunction` for the echo handler; `zip_base64` is [`echo_function_zip`], encoded.
    pub async fn create_function(
        &mut self,
        name: &str,
        runtime: &str,
        zip_base64: &str,
        memory_mb: u32,
    ) -> anyhow::Result<()> {
        let document = serde_json::json!({
            "FunctionName": name,
            "Runtime": runtime,
            "Role": format!("arn:aws:iam::000000000000:role/{ROLE_NAME}"),
            "Handler": "lambda_function.lambda_handler",
            "Code": { "ZipFile": zip_base64 },
            "MemorySize": memory_mb,
            "Timeout": 10,
        });
        let body = Bytes::from(serde_json::to_vec(&document)?);
        let mut request = Request::post("/2015-03-31/functions")
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(body.clone()))?;
        self.sign(&mut request, &body);
        let reply = self.send(request).await?;
        anyhow::ensure!(reply.status == StatusCode::CREATED, "CreateFunction {name} failed: {}", reply.describe());
        Ok(())
    }

    /// `DeleteFunction`.
    pub async fn delete_function(&mut self, name: &str) -> anyhow::Result<()> {
        let mut request = Request::delete(format!("/2015-03-31/functions/{name}")).body(Full::default())?;
        self.sign(&mut request, &Bytes::new());
        let reply = self.send(request).await?;
        anyhow::ensure!(reply.status.is_success(), "DeleteFunction {name} failed: {}", reply.describe());
        Ok(())
    }

    /// An asynchronous `Invoke` (InvocationType Event): 202 once the event is stored durably.
    pub async fn invoke_event(&mut self, name: &str, payload: Bytes) -> anyhow::Result<Reply> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(format!("/2015-03-31/functions/{name}/invocations"))
            .header(CONTENT_TYPE, "application/json")
            .header("x-amz-invocation-type", "Event")
            .body(Full::new(payload.clone()))?;
        self.sign(&mut request, &payload);
        self.send(request).await
    }

    /// `PutFunctionConcurrency`: caps (or with 0, stops) a function's concurrent executions.
    pub async fn put_function_concurrency(&mut self, name: &str, reserved: u32) -> anyhow::Result<()> {
        let body = Bytes::from(serde_json::to_vec(&serde_json::json!({ "ReservedConcurrentExecutions": reserved }))?);
        let mut request = Request::put(format!("/2017-10-31/functions/{name}/concurrency"))
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(body.clone()))?;
        self.sign(&mut request, &body);
        let reply = self.send(request).await?;
        anyhow::ensure!(reply.status.is_success(), "PutFunctionConcurrency {name} failed: {}", reply.describe());
        Ok(())
    }

    /// `CreateEventSourceMapping` from a queue to a function; returns the mapping's UUID.
    pub async fn create_event_source_mapping(
        &mut self,
        queue_arn: &str,
        function: &str,
        batch_size: u32,
    ) -> anyhow::Result<String> {
        let document =
            serde_json::json!({ "EventSourceArn": queue_arn, "FunctionName": function, "BatchSize": batch_size });
        let body = Bytes::from(serde_json::to_vec(&document)?);
        let mut request = Request::post("/2015-03-31/event-source-mappings")
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(body.clone()))?;
        self.sign(&mut request, &body);
        let reply = self.send(request).await?;
        anyhow::ensure!(reply.status.is_success(), "CreateEventSourceMapping failed: {}", reply.describe());
        let mapping: serde_json::Value = serde_json::from_slice(&reply.body)?;
        mapping["UUID"].as_str().map(str::to_string).context("CreateEventSourceMapping: no UUID")
    }

    /// `DeleteEventSourceMapping`.
    pub async fn delete_event_source_mapping(&mut self, uuid: &str) -> anyhow::Result<()> {
        let mut request = Request::delete(format!("/2015-03-31/event-source-mappings/{uuid}")).body(Full::default())?;
        self.sign(&mut request, &Bytes::new());
        let reply = self.send(request).await?;
        anyhow::ensure!(reply.status.is_success(), "DeleteEventSourceMapping failed: {}", reply.describe());
        Ok(())
    }

    /// `GET /_kumo/logs/{function}?after=`: a page of the function's stored log lines.
    pub async fn kumo_logs(&mut self, function: &str, after: i64) -> anyhow::Result<serde_json::Value> {
        let mut request = Request::get(format!("/_kumo/logs/{function}?after={after}")).body(Full::default())?;
        // `/_kumo` needs a signature, for the service `kumo`, like any AWS API.
        self.sign_for("kumo", &mut request, &Bytes::new());
        let reply = self.send(request).await?;
        anyhow::ensure!(reply.status.is_success(), "logs failed: {}", reply.describe());
        Ok(serde_json::from_slice(&reply.body)?)
    }

    /// `GET /_kumo/status` (warm pools and concurrency), parsed.
    pub async fn status(&mut self) -> anyhow::Result<serde_json::Value> {
        let mut request = Request::get("/_kumo/status").body(Full::default())?;
        self.sign_for("kumo", &mut request, &Bytes::new());
        let reply = self.send(request).await?;
        anyhow::ensure!(reply.status.is_success(), "status failed: {}", reply.describe());
        Ok(serde_json::from_slice(&reply.body)?)
    }

    /// A synchronous `Invoke` (RequestResponse); with `tail` the reply carries the log tail.
    pub async fn invoke(&mut self, name: &str, payload: Bytes, tail: bool) -> anyhow::Result<Reply> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(format!("/2015-03-31/functions/{name}/invocations"))
            .header(CONTENT_TYPE, "application/json");
        if tail {
            request = request.header("x-amz-log-type", "Tail");
        }
        let mut request = request.body(Full::new(payload.clone()))?;
        self.sign(&mut request, &payload);
        self.send(request).await
    }
}

/// A handler that sleeps `event["sleep"]` seconds, for bursts of concurrent invocations.
const SLEEPER_HANDLER: &str =
    "import time\n\ndef lambda_handler(event, context):\n    time.sleep(event[\"sleep\"])\n    return \"slept\"\n";

/// A Python handler that creates a boto3 client at import, as most real functions do.
const BOTO3_HANDLER: &str = "import boto3\n\nclient = boto3.client(\"lambda\")\n\n\
                             def lambda_handler(event, context):\n    return event\n";

/// The echo handler in Node.js.
const NODE_HANDLER: &str = "exports.lambda_handler = async (event) => event;\n";

/// A deployment package with one file, zipped in memory.
fn single_file_zip(name: &str, source: &str) -> anyhow::Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    writer.start_file(name, options)?;
    writer.write_all(source.as_bytes())?;
    Ok(writer.finish()?.into_inner())
}

/// The deployment package of the sleeper.
pub fn sleeper_function_zip() -> anyhow::Result<Vec<u8>> {
    single_file_zip("lambda_function.py", SLEEPER_HANDLER)
}

/// The deployment package: `lambda_function.py` with the echo handler.
pub fn echo_function_zip() -> anyhow::Result<Vec<u8>> {
    single_file_zip("lambda_function.py", ECHO_HANDLER)
}

/// The echo handler behind a module-level `boto3.client("lambda")`.
pub fn boto3_function_zip() -> anyhow::Result<Vec<u8>> {
    single_file_zip("lambda_function.py", BOTO3_HANDLER)
}

/// The echo handler in Node.js (`lambda_function.js`).
pub fn node_function_zip() -> anyhow::Result<Vec<u8>> {
    single_file_zip("lambda_function.js", NODE_HANDLER)
}

/// A JSON event of exactly `size` bytes (at least 14), written the way Python's `json.dumps`
/// writes it (`{"data": "..."}`) so that the echoed body is byte-for-byte the payload.
pub fn payload_of_size(size: usize) -> Bytes {
    const FRAME: usize = r#"{"data": ""}"#.len();
    let filler = "x".repeat(size.saturating_sub(FRAME));
    Bytes::from(format!(r#"{{"data": "{filler}"}}"#))
}

/// Whether an invoke's body is the payload echoed back: byte-equal, or equal as JSON when the
/// runtime formats it differently.
pub fn is_echo(body: &[u8], payload: &[u8]) -> bool {
    if body == payload {
        return true;
    }
    match (serde_json::from_slice::<serde_json::Value>(body), serde_json::from_slice::<serde_json::Value>(payload)) {
        (Ok(echoed), Ok(sent)) => echoed == sent,
        _ => false,
    }
}

/// The `Init Duration` (ms) of the `REPORT` line in an `X-Amz-Log-Result` header (base64 log tail).
pub fn init_duration_ms(reply: &Reply) -> Option<f64> {
    let encoded = reply.headers.get("x-amz-log-result")?.to_str().ok()?;
    let log = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    let log = String::from_utf8_lossy(&log);
    let report = log.lines().rev().find(|line| line.starts_with("REPORT "))?;
    let (_, rest) = report.split_once("Init Duration: ")?;
    let (number, _) = rest.split_once(" ms")?;
    number.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_has_the_requested_size_and_python_formatting() {
        let payload = payload_of_size(1024);
        assert_eq!(payload.len(), 1024);
        assert!(payload.starts_with(br#"{"data": "xxx"#));
        assert!(is_echo(&payload, &payload));
        assert!(is_echo(br#"{"data":"x"}"#, br#"{"data": "x"}"#));
        assert!(!is_echo(br#"{"data": "y"}"#, br#"{"data": "x"}"#));
    }

    #[test]
    fn reads_init_duration_from_the_log_tail() {
        let log = "START RequestId: a\nEND RequestId: a\nREPORT RequestId: a\tDuration: 1.20 ms\t\
                   Billed Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: 41.57 ms\t\n";
        let mut headers = hyper::HeaderMap::new();
        let encoded = base64::engine::general_purpose::STANDARD.encode(log);
        headers.insert("x-amz-log-result", HeaderValue::from_str(&encoded).expect("base64 is a valid header value"));
        let reply = Reply { status: StatusCode::OK, headers, body: Bytes::new() };
        assert_eq!(init_duration_ms(&reply), Some(41.57));
    }
}
