//! `InvokeWithResponseStream` through the AWS SDK for Rust, whose event stream decoder checks
//! every message's prelude and message CRC32 and refuses an event it cannot place: chunks of a
//! Node.js streaming handler, the one chunk of a Python handler, and `InvokeComplete`.

mod support;

use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, InvokeWithResponseStreamResponseEvent, LogType, Runtime, State};
use aws_sdk_lambda::Client;
use base64::Engine as _;

use support::{python_zip, zip_of, KumoServer, ROLE};

const STREAMING_NODE: &str = r#"
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  for (const part of ['one ', 'two ', 'three']) {
    responseStream.write(part);
    await new Promise((resolve) => setImmediate(resolve));
  }
  responseStream.end();
});
"#;

const FAILING_PYTHON: &str = r#"
def handler(event, context):
    print("failing on purpose")
    raise ValueError("bad input")
"#;

async fn create(client: &Client, name: &str, runtime: Runtime, handler: &str, code: Vec<u8>) {
    client
        .create_function()
        .function_name(name)
        .runtime(runtime)
        .role(ROLE)
        .handler(handler)
        .code(FunctionCode::builder().zip_file(Blob::new(code)).build())
        .send()
        .await
        .expect("CreateFunction");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let configuration =
            client.get_function_configuration().function_name(name).send().await.expect("GetFunctionConfiguration");
        if configuration.state() == Some(&State::Active) {
            return;
        }
        assert!(Instant::now() < deadline, "function {name} not Active: {configuration:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The payload chunks and the `InvokeComplete` event of a streaming invocation.
async fn events(
    client: &Client,
    name: &str,
    log_type: Option<LogType>,
) -> (Vec<Vec<u8>>, aws_sdk_lambda::types::InvokeWithResponseStreamCompleteEvent) {
    let mut output = client
        .invoke_with_response_stream()
        .function_name(name)
        .set_log_type(log_type)
        .send()
        .await
        .expect("InvokeWithResponseStream");
    assert_eq!(output.status_code(), 200);
    assert_eq!(output.executed_version(), Some("$LATEST"));
    let (mut chunks, mut complete) = (Vec::new(), None);
    while let Some(event) = output.event_stream.recv().await.expect("a well-formed event") {
        assert!(complete.is_none(), "an event after InvokeComplete: {event:?}");
        match event {
            InvokeWithResponseStreamResponseEvent::PayloadChunk(chunk) => {
                chunks.push(chunk.payload().expect("Payload").as_ref().to_vec())
            }
            InvokeWithResponseStreamResponseEvent::InvokeComplete(done) => complete = Some(done),
            other => panic!("an event the model does not have: {other:?}"),
        }
    }
    (chunks, complete.expect("InvokeComplete"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_responses_with_the_rust_sdk() {
    let server = KumoServer::start();
    let client = server.lambda_client();

    create(&client, "sdk-stream", Runtime::Nodejs20x, "index.handler", zip_of(&[("index.js", STREAMING_NODE)])).await;
    let (chunks, complete) = events(&client, "sdk-stream", None).await;
    assert_eq!(chunks.concat(), b"one two three");
    assert!(chunks.len() >= 2, "each write is its own chunk: {chunks:?}");
    assert_eq!((complete.error_code(), complete.error_details(), complete.log_result()), (None, None, None));

    create(&client, "sdk-failing", Runtime::Python312, "lambda_function.handler", python_zip(FAILING_PYTHON)).await;
    let (chunks, complete) = events(&client, "sdk-failing", Some(LogType::Tail)).await;
    assert!(chunks.is_empty(), "{chunks:?}");
    assert_eq!(complete.error_code(), Some("ValueError"));
    assert_eq!(complete.error_details(), Some("bad input"));
    let log = base64::engine::general_purpose::STANDARD.decode(complete.log_result().expect("LogResult")).unwrap();
    assert!(String::from_utf8_lossy(&log).contains("failing on purpose"), "{}", String::from_utf8_lossy(&log));

    let error = client.invoke_with_response_stream().function_name("no-such-function").send().await.expect_err("404");
    assert!(error.as_service_error().is_some_and(|error| error.is_resource_not_found_exception()), "{error:?}");
}
