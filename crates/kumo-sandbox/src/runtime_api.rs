//! The Lambda Runtime API (`/2018-06-01/runtime/...`) served to one execution environment at
//! `127.0.0.1:9001` in its own network namespace, as AWS gives each sandbox its own endpoint (or,
//! where the host gives environments no namespace, on a port of the host's loopback).
//!
//! One invocation is in flight at a time: `/next` hands out the event queued by the invoker,
//! `/response` and `/error` complete it, `/init/error` fails the environment. A `/response`
//! posted in streaming mode reaches the invoker as it arrives (see `response_stream`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use crate::response_stream::{self, Forwarded, StreamedResponse};

/// Largest response or error body a runtime may post.
const MAX_RESPONSE_BYTES: usize = kumo_core::limits::SYNC_RESPONSE_MAX_BYTES;
/// Largest header section (or trailer section) of a Runtime API request.
const MAX_HEADER_BYTES: usize = 256 * 1024;
/// Largest response a runtime may stream.
const MAX_STREAMED_BYTES: usize = kumo_core::limits::STREAMED_RESPONSE_MAX_BYTES;

/// An event handed to the runtime through `/next`.
#[derive(Debug)]
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// The event payload.
    pub payload: Bytes,
    /// `Lambda-Runtime-Deadline-Ms`: epoch ms when the invocation times out.
    pub deadline_ms: u64,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub invoked_function_arn: String,
    /// `Lambda-Runtime-Trace-Id`.
    pub trace_id: String,
    /// `Lambda-Runtime-Client-Context` (decoded JSON), when the caller sent one.
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity` (JSON), when present.
    pub cognito_identity: Option<String>,
}

/// What the runtime answered for an invocation.
#[derive(Debug)]
pub enum RuntimeAnswer {
    /// `/response` with this body.
    Response(Bytes),
    /// `/response` in streaming mode: the body arrives piece by piece.
    Streamed(StreamedResponse),
    /// `/error` with the error type header and body.
    Error { error_type: Option<String>, body: Bytes },
    /// The runtime tried to post more than 6 MB.
    ResponseTooLarge,
}

/// An init failure posted to `/init/error`.
#[derive(Debug, Clone)]
pub struct InitError {
    /// `Lambda-Runtime-Function-Error-Type`.
    pub error_type: Option<String>,
    /// The error JSON.
    pub body: Bytes,
}

/// Lifecycle signals of the environment, as seen by the Runtime API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeState {
    /// The process is starting and has not asked for work yet.
    Initializing,
    /// The runtime called `/next` at least once: Init is over.
    Ready,
    /// The runtime posted `/init/error`.
    InitFailed,
}

struct Current {
    request_id: String,
    answer: Option<oneshot::Sender<RuntimeAnswer>>,
}

struct Shared {
    next: tokio::sync::Mutex<mpsc::Receiver<(Invocation, oneshot::Sender<RuntimeAnswer>)>>,
    current: Mutex<Option<Current>>,
    state: watch::Sender<RuntimeState>,
    init_error: Mutex<Option<InitError>>,
}

/// The Runtime API endpoint of one environment.
pub struct RuntimeApiServer {
    address: SocketAddr,
    sender: mpsc::Sender<(Invocation, oneshot::Sender<RuntimeAnswer>)>,
    shared: Arc<Shared>,
    accept_task: tokio::task::JoinHandle<()>,
}

impl RuntimeApiServer {
    /// Binds a fresh port on the host's loopback and starts serving (environments without a
    /// network namespace of their own).
    pub async fn start() -> std::io::Result<Self> {
        Self::serve_on(TcpListener::bind(("127.0.0.1", 0)).await?)
    }

    /// Serves a listener made in the environment's network namespace (`127.0.0.1:9001` there).
    pub fn serve(listener: std::net::TcpListener) -> std::io::Result<Self> {
        listener.set_nonblocking(true)?;
        Self::serve_on(TcpListener::from_std(listener)?)
    }

    fn serve_on(listener: TcpListener) -> std::io::Result<Self> {
        let address = listener.local_addr()?;
        let (sender, receiver) = mpsc::channel(1);
        let (state, _) = watch::channel(RuntimeState::Initializing);
        let shared = Arc::new(Shared {
            next: tokio::sync::Mutex::new(receiver),
            current: Mutex::new(None),
            state,
            init_error: Mutex::new(None),
        });
        let accept_task = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(Self { address, sender, shared, accept_task })
    }

    /// `host:port` for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Watches the lifecycle (Initializing → Ready, or InitFailed).
    pub fn state(&self) -> watch::Receiver<RuntimeState> {
        self.shared.state.subscribe()
    }

    /// The error the runtime posted to `/init/error`, if any.
    pub fn init_error(&self) -> Option<InitError> {
        lock(&self.shared.init_error).clone()
    }

    /// Queues an invocation for the runtime's next `/next`; resolves with its answer.
    pub async fn submit(&self, invocation: Invocation) -> oneshot::Receiver<RuntimeAnswer> {
        let (answer_sender, answer_receiver) = oneshot::channel();
        // The receiver lives in `shared` as long as the server; a send only fails after shutdown,
        // in which case the dropped answer sender reports the failure to the caller.
        let _ = self.sender.send((invocation, answer_sender)).await;
        answer_receiver
    }
}

impl Drop for RuntimeApiServer {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing panics while holding these locks; recover the data if it ever happens.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request| handle(Arc::clone(&shared), request));
            let _ = hyper::server::conn::http1::Builder::new()
                // Also the bound of a streamed response's trailers, whose error body (base64 of the
                // error JSON with its stack trace) can outgrow hyper's 16 KiB default.
                .max_header_size(MAX_HEADER_BYTES)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
        // Reap finished connection tasks so the set does not grow; aborting the accept task drops the set.
        while connections.try_join_next().is_some() {}
    }
}

type HttpResponse = Response<Full<Bytes>>;

fn json_response(status: StatusCode, body: impl Into<Bytes>) -> HttpResponse {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> HttpResponse {
    let body = serde_json::json!({ "errorMessage": message, "errorType": error_type }).to_string();
    json_response(status, body)
}

fn accepted() -> HttpResponse {
    json_response(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
}

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Result<HttpResponse, Infallible> {
    let path = request.uri().path().to_string();
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return Ok(runtime_error(StatusCode::NOT_FOUND, "NotFound", "unknown Runtime API path"));
    };
    let response = match (request.method(), rest) {
        (&Method::GET, "invocation/next") => next(&shared).await,
        (&Method::POST, "init/error") => init_error(&shared, request).await,
        (&Method::POST, tail) => match tail.strip_prefix("invocation/").and_then(|t| t.split_once('/')) {
            Some((id, "response")) => answer(&shared, id.to_string(), request, false).await,
            Some((id, "error")) => answer(&shared, id.to_string(), request, true).await,
            _ => runtime_error(StatusCode::NOT_FOUND, "NotFound", "unknown Runtime API path"),
        },
        _ => runtime_error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "method not allowed"),
    };
    Ok(response)
}

async fn next(shared: &Shared) -> HttpResponse {
    shared.state.send_if_modified(|state| {
        let initializing = *state == RuntimeState::Initializing;
        if initializing {
            *state = RuntimeState::Ready;
        }
        initializing
    });
    let mut receiver = shared.next.lock().await;
    let Some((invocation, answer)) = receiver.recv().await else {
        return runtime_error(StatusCode::GONE, "ShuttingDown", "the environment is shutting down");
    };
    drop(receiver);
    *lock(&shared.current) = Some(Current { request_id: invocation.request_id.clone(), answer: Some(answer) });
    let mut response = Response::new(Full::new(invocation.payload));
    let headers = response.headers_mut();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    put("content-type", "application/json");
    put("lambda-runtime-aws-request-id", &invocation.request_id);
    put("lambda-runtime-deadline-ms", &invocation.deadline_ms.to_string());
    put("lambda-runtime-invoked-function-arn", &invocation.invoked_function_arn);
    put("lambda-runtime-trace-id", &invocation.trace_id);
    if let Some(context) = invocation.client_context.as_deref().filter(|c| !c.is_empty()) {
        put("lambda-runtime-client-context", context);
    }
    if let Some(identity) = invocation.cognito_identity.as_deref().filter(|c| !c.is_empty()) {
        put("lambda-runtime-cognito-identity", identity);
    }
    response
}

/// Reads a body of at most 6 MB; `None` when it is larger.
async fn read_limited(request: Request<Incoming>) -> Option<Bytes> {
    let body = Limited::new(request.into_body(), MAX_RESPONSE_BYTES);
    body.collect().await.ok().map(|collected| collected.to_bytes())
}

fn error_type_header(request: &Request<Incoming>) -> Option<String> {
    request
        .headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

async fn answer(shared: &Shared, request_id: String, request: Request<Incoming>, is_error: bool) -> HttpResponse {
    let sender = {
        let mut current = lock(&shared.current);
        match current.as_mut() {
            Some(current) if current.request_id == request_id => match current.answer.take() {
                Some(sender) => sender,
                None => {
                    return runtime_error(
                        StatusCode::FORBIDDEN,
                        "InvalidStateTransition",
                        "Invalid state transition: the invocation already has a response",
                    )
                }
            },
            _ => return runtime_error(StatusCode::BAD_REQUEST, "InvalidRequestID", "Invalid request ID"),
        }
    };
    if !is_error && response_stream::is_streaming(request.headers()) {
        return stream_response(sender, request).await;
    }
    let error_type = error_type_header(&request);
    let Some(body) = read_limited(request).await else {
        let _ = sender.send(RuntimeAnswer::ResponseTooLarge);
        return runtime_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
        );
    };
    let answer = if is_error { RuntimeAnswer::Error { error_type, body } } else { RuntimeAnswer::Response(body) };
    // The invoker may have given up (timeout); the runtime still gets its 202 as on AWS.
    let _ = sender.send(answer);
    accepted()
}

/// A `/response` in streaming mode: the invoker gets the body as it arrives, and the runtime
/// its answer once the body has ended.
async fn stream_response(sender: oneshot::Sender<RuntimeAnswer>, request: Request<Incoming>) -> HttpResponse {
    let content_type =
        request.headers().get(http::header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).map(str::to_string);
    let (streamed, pieces) = response_stream::channel(content_type);
    // The invoker may have given up (timeout): the body is still read, and dropped.
    let _ = sender.send(RuntimeAnswer::Streamed(streamed));
    match response_stream::forward(request.into_body(), pieces, MAX_STREAMED_BYTES).await {
        Forwarded::Complete => accepted(),
        Forwarded::TooLarge => runtime_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            &format!("Exceeded maximum allowed payload size ({MAX_STREAMED_BYTES} bytes)."),
        ),
        Forwarded::Broken => {
            runtime_error(StatusCode::BAD_REQUEST, "InvalidRequest", "the response body ended before its last chunk")
        }
    }
}

async fn init_error(shared: &Shared, request: Request<Incoming>) -> HttpResponse {
    let error_type = error_type_header(&request);
    let body = read_limited(request).await.unwrap_or_default();
    *lock(&shared.init_error) = Some(InitError { error_type, body });
    shared.state.send_replace(RuntimeState::InitFailed);
    accepted()
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;
    use crate::response_stream::StreamPiece;

    fn invocation(request_id: &str) -> Invocation {
        Invocation {
            request_id: request_id.to_string(),
            payload: Bytes::from_static(b"{}"),
            deadline_ms: 0,
            invoked_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".to_string(),
            trace_id: String::new(),
            client_context: None,
            cognito_identity: None,
        }
    }

    /// Sends `request` on a new connection and reads the answer's status line.
    async fn exchange(server: &RuntimeApiServer, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(server.address()).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = vec![0u8; 1024];
        let read = stream.read(&mut answer).await.unwrap();
        String::from_utf8_lossy(&answer[..read]).lines().next().unwrap_or_default().to_string()
    }

    /// What a runtime client sends: the chunked body as written, then the error trailers.
    #[tokio::test]
    async fn a_streamed_response_arrives_in_pieces_and_ends_with_its_trailers() {
        let server = RuntimeApiServer::start().await.unwrap();
        let answer = server.submit(invocation("r1")).await;
        let next = exchange(&server, b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(next.starts_with("HTTP/1.1 200"), "{next}");

        // An error body with a long stack trace: past hyper's default 16 KiB for trailers.
        let error = serde_json::json!({"errorType": "Error", "errorMessage": "boom", "trace": vec!["at x"; 3000]});
        let encoded = base64::engine::general_purpose::STANDARD.encode(error.to_string());
        assert!(encoded.len() > 16 * 1024);
        let request = format!(
            "POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: x\r\n\
             Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\
             Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\
             Content-Type: text/plain\r\n\r\n\
             5\r\nhello\r\n6\r\n world\r\n0\r\n\
             Lambda-Runtime-Function-Error-Type: Error\r\nLambda-Runtime-Function-Error-Body: {encoded}\r\n\r\n"
        );
        let posting = tokio::spawn({
            let address = server.address();
            async move {
                let mut stream = TcpStream::connect(address).await.unwrap();
                stream.write_all(request.as_bytes()).await.unwrap();
                let mut answer = vec![0u8; 1024];
                let read = stream.read(&mut answer).await.unwrap();
                String::from_utf8_lossy(&answer[..read]).lines().next().unwrap_or_default().to_string()
            }
        });
        let Ok(RuntimeAnswer::Streamed(mut streamed)) = answer.await else { panic!("not a streamed answer") };
        assert_eq!(streamed.content_type.as_deref(), Some("text/plain"));
        let mut body = Vec::new();
        let end = loop {
            match streamed.next().await.expect("the stream's end") {
                StreamPiece::Chunk(data) => body.extend_from_slice(&data),
                end => break end,
            }
        };
        assert_eq!(body, b"hello world");
        let StreamPiece::Failed { error_type, body } = end else { panic!("{end:?}") };
        assert_eq!(error_type.as_deref(), Some("Error"));
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap(), error);
        assert!(posting.await.unwrap().starts_with("HTTP/1.1 202"));

        // The invocation has its answer: another one for it is a wrong state transition.
        let again =
            "POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
        assert!(exchange(&server, again.as_bytes()).await.starts_with("HTTP/1.1 403"));
    }
}
