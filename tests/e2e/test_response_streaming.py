"""Lambda response streaming through boto3's `invoke_with_response_stream`: chunks reach the
caller while the handler still runs, buffered handlers answer in one chunk, errors end the stream
in `InvokeComplete`, and everything that fails before the function runs is an ordinary error.

The AWS CLI v1 has no `invoke-with-response-stream` command (it leaves out operations whose
output is an event stream), so boto3 is the client here.
"""

import base64
import json
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e_support import ACCOUNT, CREDENTIALS, Deployer, error_of, poll, unique_name

EVENT_STREAM = "application/vnd.amazon.eventstream"

# Writes a chunk, then waits until the object behind `event.signal` (a presigned S3 URL) exists,
# which the test creates only once it has received that chunk: the handler cannot end before
# its first chunk reached the caller.
SIGNALLED_NODE = """
const http = require('http');

function status(url) {
  return new Promise((resolve) => {
    http.get(url, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode));
    }).on('error', () => resolve(0));
  });
}

exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType('text/plain');
  responseStream.write(`first ${Date.now()}\\n`);
  while ((await status(event.signal)) !== 200) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  responseStream.write(`second ${Date.now()}\\n`);
  responseStream.end();
});
"""

MIDSTREAM_ERROR_NODE = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  console.log('about to fail');
  responseStream.write('partial');
  await new Promise((resolve) => setImmediate(resolve));
  throw new Error('boom');
});
"""

STREAMING_NODE = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  for (const part of ['one ', 'two ', 'three']) {
    responseStream.write(part);
    await new Promise((resolve) => setImmediate(resolve));
  }
  responseStream.end();
});
"""

# Writes `event.megabytes` MB as fast as the stream takes them (honouring backpressure).
LARGE_NODE = """
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const block = Buffer.alloc(64 * 1024, 'x');
  for (let i = 0; i < event.megabytes * 16; i++) {
    if (!responseStream.write(block)) {
      await new Promise((resolve) => responseStream.once('drain', resolve));
    }
  }
  responseStream.end();
});
"""

BUFFERED_PYTHON = """
def handler(event, context):
    print("buffered handler ran")
    return {"echo": event, "ok": True}
"""

FAILING_PYTHON = """
def handler(event, context):
    raise ValueError("bad input")
"""

SLOW_PYTHON = """
import time

def handler(event, context):
    time.sleep(5)
"""


def node_function(make_function, source, **options):
    return make_function(files={"index.js": source}, runtime="nodejs20.x", handler="index.handler", **options)


def stream_events(response):
    """The events of an InvokeWithResponseStream answer: (payload bytes, InvokeComplete)."""
    chunks, complete = [], None
    for event in response["EventStream"]:
        assert complete is None, "nothing may follow InvokeComplete"
        if "PayloadChunk" in event:
            chunks.append(event["PayloadChunk"]["Payload"])
        else:
            complete = event["InvokeComplete"]
    assert complete is not None, "the stream must end with InvokeComplete"
    return chunks, complete


@pytest.fixture
def signals(kumo):
    """`(s3 client, presigned GET URL of an object that does not exist yet, bucket)`: a handler
    polls the URL until the test creates the object."""
    # SigV4 query signing (boto3 presigns S3 with SigV2 unless told; Kumo verifies SigV4 only).
    s3 = boto3.session.Session().client(
        "s3",
        endpoint_url=kumo.endpoint,
        region_name="us-east-1",
        config=Config(signature_version="s3v4"),
        **CREDENTIALS,
    )
    bucket = unique_name("signals")
    s3.create_bucket(Bucket=bucket)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "go"}, ExpiresIn=300)
    yield s3, url, bucket
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=bucket)


def test_chunks_reach_the_caller_while_the_handler_still_runs(kumo, make_function, signals):
    s3, signal, bucket = signals
    function = node_function(make_function, SIGNALLED_NODE, Timeout=30)
    response = kumo.lambda_client().invoke_with_response_stream(
        FunctionName=function.name, Payload=json.dumps({"signal": signal})
    )
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert response["ResponseStreamContentType"] == EVENT_STREAM
    events = iter(response["EventStream"])
    first = next(events)
    received_ms = time.time() * 1000
    assert first["PayloadChunk"]["Payload"].startswith(b"first "), first
    # Only now may the handler go on: had Kumo held the chunk back, it would still wait.
    s3.put_object(Bucket=bucket, Key="go", Body=b"go")
    rest = list(events)
    second = b"".join(event["PayloadChunk"]["Payload"] for event in rest if "PayloadChunk" in event)
    assert second.startswith(b"second "), rest
    assert int(second.split()[1]) >= received_ms - 1000, "the handler wrote its second chunk after the first arrived"
    assert rest[-1] == {"InvokeComplete": {}}


def test_a_stream_holds_its_concurrency_until_it_ends(kumo, make_function, signals):
    s3, signal, bucket = signals
    client = kumo.lambda_client()
    function = node_function(make_function, SIGNALLED_NODE, Timeout=30)
    client.put_function_concurrency(FunctionName=function.name, ReservedConcurrentExecutions=1)
    response = client.invoke_with_response_stream(FunctionName=function.name, Payload=json.dumps({"signal": signal}))
    events = iter(response["EventStream"])
    assert "PayloadChunk" in next(events)
    with pytest.raises(ClientError) as excinfo:
        client.invoke(FunctionName=function.name, Payload=json.dumps({"signal": signal}))
    assert error_of(excinfo)[:2] == ("TooManyRequestsException", 429)
    s3.put_object(Bucket=bucket, Key="go", Body=b"go")
    assert list(events)[-1] == {"InvokeComplete": {}}
    # The slot is free again once the stream has ended.
    invoked = client.invoke(FunctionName=function.name, Payload=json.dumps({"signal": signal}))
    assert invoked["Payload"].read().startswith(b"first ")


def test_each_write_is_a_payload_chunk(kumo, make_function):
    function = node_function(make_function, STREAMING_NODE)
    response = kumo.lambda_client().invoke_with_response_stream(FunctionName=function.name)
    chunks, complete = stream_events(response)
    assert b"".join(chunks) == b"one two three"
    assert len(chunks) >= 2, chunks
    assert complete == {}


def test_a_buffered_handler_answers_its_whole_payload_as_one_chunk(kumo, make_function):
    function = make_function(BUFFERED_PYTHON)
    response = kumo.lambda_client().invoke_with_response_stream(
        FunctionName=function.name, Payload=json.dumps({"n": 1}), LogType="Tail"
    )
    assert response["StatusCode"] == 200
    chunks, complete = stream_events(response)
    assert len(chunks) == 1
    assert json.loads(chunks[0]) == {"echo": {"n": 1}, "ok": True}
    assert "ErrorCode" not in complete
    log = base64.b64decode(complete["LogResult"]).decode()
    assert "buffered handler ran" in log
    assert "REPORT RequestId: " + response["ResponseMetadata"]["RequestId"] in log


def test_a_mid_stream_error_ends_the_stream_in_invoke_complete(kumo, make_function):
    function = node_function(make_function, MIDSTREAM_ERROR_NODE)
    response = kumo.lambda_client().invoke_with_response_stream(FunctionName=function.name, LogType="Tail")
    assert response["StatusCode"] == 200
    chunks, complete = stream_events(response)
    assert b"".join(chunks) == b"partial"
    assert complete["ErrorCode"] == "Error"
    assert complete["ErrorDetails"] == "boom"
    assert "about to fail" in base64.b64decode(complete["LogResult"]).decode()


def test_a_handler_error_and_a_timeout_end_the_stream_in_invoke_complete(kumo, make_function):
    client = kumo.lambda_client()
    failing = make_function(FAILING_PYTHON)
    chunks, complete = stream_events(client.invoke_with_response_stream(FunctionName=failing.name))
    assert chunks == []
    assert complete["ErrorCode"] == "ValueError"
    assert complete["ErrorDetails"] == "bad input"
    assert "LogResult" not in complete, "the log's tail only when LogType is Tail"

    slow = make_function(SLOW_PYTHON, Timeout=1)
    chunks, complete = stream_events(client.invoke_with_response_stream(FunctionName=slow.name))
    assert chunks == []
    assert complete["ErrorCode"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in complete["ErrorDetails"]


def test_a_plain_invoke_of_a_streaming_function_answers_the_whole_response(kumo, make_function):
    client = kumo.lambda_client()
    function = node_function(make_function, STREAMING_NODE)
    response = client.invoke(FunctionName=function.name)
    assert "FunctionError" not in response
    assert response["Payload"].read() == b"one two three"

    failing = node_function(make_function, MIDSTREAM_ERROR_NODE)
    response = client.invoke(FunctionName=failing.name)
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert (error["errorType"], error["errorMessage"]) == ("Error", "boom")


def test_a_stream_larger_than_a_buffered_response_arrives_whole(kumo, make_function):
    function = node_function(make_function, LARGE_NODE, Timeout=60, MemorySize=256)
    client = kumo.lambda_client()
    response = client.invoke_with_response_stream(FunctionName=function.name, Payload=json.dumps({"megabytes": 12}))
    received = 0
    for event in response["EventStream"]:
        if "PayloadChunk" in event:
            received += len(event["PayloadChunk"]["Payload"])
        else:
            assert event["InvokeComplete"] == {}
    assert received == 12 * 1024 * 1024

    # The same function through a plain Invoke goes past the 6 MB a buffered answer may hold.
    response = client.invoke(FunctionName=function.name, Payload=json.dumps({"megabytes": 7}))
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "Function.ResponseSizeTooLarge"


def test_a_slow_reader_holds_the_function_back_instead_of_filling_kumos_memory(start_server):
    server = start_server()
    deployer = Deployer(server)
    try:
        function = deployer.create(
            files={"index.js": LARGE_NODE}, runtime="nodejs20.x", handler="index.handler", Timeout=120
        )
        client = server.lambda_client()

        def peak_rss_kb():
            with open(f"/proc/{server.process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
            raise AssertionError("no VmHWM")

        # Warm the environment, so the measured invocation allocates nothing else of note.
        stream_events(client.invoke_with_response_stream(FunctionName=function.name, Payload=b'{"megabytes": 1}'))
        before = peak_rss_kb()
        response = client.invoke_with_response_stream(FunctionName=function.name, Payload=b'{"megabytes": 48}')
        received = 0
        for event in response["EventStream"]:
            if "PayloadChunk" in event:
                received += len(event["PayloadChunk"]["Payload"])
                # A slow reader: about 20 MB/s, slower than the function writes.
                time.sleep(len(event["PayloadChunk"]["Payload"]) / (20 * 1024 * 1024))
        assert received == 48 * 1024 * 1024
        grown_mb = (peak_rss_kb() - before) / 1024
        assert grown_mb < 24, f"Kumo's peak memory grew {grown_mb:.1f} MB while streaming 48 MB"
    finally:
        deployer.cleanup()


def test_errors_before_the_stream_are_ordinary_error_answers(kumo, make_function):
    client = kumo.lambda_client()
    with pytest.raises(ClientError) as excinfo:
        client.invoke_with_response_stream(FunctionName=unique_name("missing"))
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert message.startswith(f"Function not found: arn:aws:lambda:us-east-1:{ACCOUNT}:function:")

    function = make_function(BUFFERED_PYTHON)
    with pytest.raises(ClientError) as excinfo:
        client.invoke_with_response_stream(FunctionName=function.name, InvocationType="Event")
    assert error_of(excinfo) == (
        "ValidationException",
        400,
        "1 validation error detected: Value 'Event' at 'invocationType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [RequestResponse, DryRun]",
    )
    with pytest.raises(ClientError) as excinfo:
        client.invoke_with_response_stream(FunctionName=function.name, Payload=b"{not json")
    assert error_of(excinfo)[:2] == ("InvalidRequestContentException", 400)
    with pytest.raises(ClientError) as excinfo:
        client.invoke_with_response_stream(FunctionName=function.name, LogType="Everything")
    assert error_of(excinfo)[:2] == ("ValidationException", 400)
    with pytest.raises(ClientError) as excinfo:
        client.invoke_with_response_stream(FunctionName=function.name, ClientContext="%%%")
    assert error_of(excinfo)[:2] == ("InvalidRequestContentException", 400)
    with pytest.raises(ClientError) as excinfo:
        client.invoke_with_response_stream(FunctionName=function.name, Payload=b'"' + b"x" * (7 * 1024 * 1024) + b'"')
    assert error_of(excinfo) == (
        "RequestEntityTooLargeException",
        413,
        "Request must be smaller than 6291456 bytes for the InvokeWithResponseStream operation",
    )

    dry = client.invoke_with_response_stream(FunctionName=function.name, InvocationType="DryRun")
    assert dry["StatusCode"] == 204
    assert list(dry["EventStream"]) == []

    client.put_function_concurrency(FunctionName=function.name, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as excinfo:
        client.invoke_with_response_stream(FunctionName=function.name)
    assert error_of(excinfo)[:2] == ("TooManyRequestsException", 429)
    assert excinfo.value.response.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_versions_and_aliases_report_the_version_that_ran(kumo, make_function):
    client = kumo.lambda_client()
    function = make_function(BUFFERED_PYTHON)
    version = client.publish_version(FunctionName=function.name)["Version"]
    client.create_alias(FunctionName=function.name, Name="live", FunctionVersion=version)
    for qualifier in (version, "live"):
        response = client.invoke_with_response_stream(FunctionName=function.name, Qualifier=qualifier)
        assert response["ExecutedVersion"] == version
        assert stream_events(response)[1] == {}


def test_streaming_invokes_are_authorized_as_invoke_function(kumo, make_function):
    function = make_function(BUFFERED_PYTHON)
    role_name = unique_name("streamer")
    allow_get = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": function.arn}],
    }
    role_arn = kumo.role_with_policies(role_name, inline=allow_get)
    credentials = kumo.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="s1")["Credentials"]
    keys = {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }
    session = kumo.client("lambda", **keys)
    with pytest.raises(ClientError) as excinfo:
        session.invoke_with_response_stream(FunctionName=function.name)
    assert error_of(excinfo) == (
        "AccessDeniedException",
        403,
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/s1 is not authorized to perform: "
        f"lambda:InvokeFunction on resource: {function.arn} "
        "because no identity-based policy allows the lambda:InvokeFunction action",
    )
    allow_invoke = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function.arn}],
    }
    kumo.client("iam").put_role_policy(
        RoleName=role_name, PolicyName="inline", PolicyDocument=json.dumps(allow_invoke)
    )
    chunks, complete = stream_events(session.invoke_with_response_stream(FunctionName=function.name))
    assert json.loads(b"".join(chunks))["ok"] is True
    assert complete == {}


def test_streamed_invocations_are_logged_and_metered(kumo, make_function):
    function = node_function(make_function, STREAMING_NODE)
    response = kumo.lambda_client().invoke_with_response_stream(FunctionName=function.name)
    stream_events(response)
    request_id = response["ResponseMetadata"]["RequestId"]
    records = poll(
        lambda: [record for record in kumo.metering(function.name) if record["request_id"] == request_id],
        what="the streamed invocation's metering record",
    )
    assert records[0]["billed_ms"] >= 1
    log = poll(
        lambda: (text := kumo.log_text(function.name)) and f"REPORT RequestId: {request_id}" in text and text,
        what="the streamed invocation's REPORT line",
    )
    assert f"START RequestId: {request_id}" in log


def test_a_client_that_goes_away_mid_stream_leaves_the_function_to_finish(kumo, make_function):
    client = kumo.lambda_client()
    function = node_function(make_function, LARGE_NODE, Timeout=60)
    response = client.invoke_with_response_stream(FunctionName=function.name, Payload=b'{"megabytes": 32}')
    stream = response["EventStream"]
    assert "PayloadChunk" in next(iter(stream))
    stream.close()
    request_id = response["ResponseMetadata"]["RequestId"]
    # The rest was read and dropped: the invocation ended normally and was metered.
    records = poll(
        lambda: [record for record in kumo.metering(function.name) if record["request_id"] == request_id],
        timeout=60,
        what="the abandoned stream's metering record",
    )
    assert records
    report = poll(
        lambda: [
            line for line in kumo.log_text(function.name).splitlines() if f"REPORT RequestId: {request_id}" in line
        ],
        what="its REPORT line",
    )
    assert "Status:" not in report[0], report[0]
    again = client.invoke_with_response_stream(FunctionName=function.name, Payload=b'{"megabytes": 1}')
    chunks, complete = stream_events(again)
    assert sum(map(len, chunks)) == 1024 * 1024
    assert complete == {}
