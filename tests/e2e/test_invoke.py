"""Invoke semantics: invocation types, log tails, errors, the context object, the environment a
function sees, and metering."""

import base64
import json
import math
import re
import time

import pytest

from e2e_support import ACCOUNT, SECRET_CANARY, invoke, poll

REPORT = re.compile(
    r"REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: (?P<duration>\d+\.\d\d) ms\t"
    r"Billed Duration: (?P<billed>\d+) ms\tMemory Size: (?P<memory>\d+) MB\tMax Memory Used: (?P<used>\d+) MB\t"
    r"(Init Duration: (?P<init>\d+\.\d\d) ms\t)?"
)

PRINTER = """
def handler(event, context):
    print("handler saw", event.get("marker"))
    return {"echo": event}
"""

RAISER = """
def handler(event, context):
    raise KeyError("no such thing")
"""

CONTEXT_DUMP = """
def handler(event, context):
    client_context = context.client_context
    return {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "custom": client_context.custom if client_context else None,
        "env": client_context.env if client_context else None,
        "installation_id": client_context.client.installation_id if client_context else None,
    }
"""

ENVIRONMENT_DUMP = """
import os
import time

def handler(event, context):
    return {"environ": dict(os.environ), "utc_offset": time.localtime().tm_gmtoff}
"""


def test_request_response_answers_200_with_executed_version(make_function):
    result = make_function(PRINTER).invoke({"marker": "sync"})
    assert result.status == 200
    assert result.executed_version == "$LATEST"
    assert result.function_error is None
    assert result.payload == {"echo": {"marker": "sync"}}
    assert result.log is None  # no LogType, no tail


def test_event_answers_202_and_runs_later(kumo, make_function):
    function = make_function(PRINTER)
    result = function.invoke({"marker": "async-1"}, InvocationType="Event")
    assert result.status == 202
    assert result.raw == b""
    poll(lambda: "handler saw async-1" in kumo.log_text(function.name), what="the event to run")


def test_dry_run_answers_204_and_runs_nothing(kumo, make_function):
    function = make_function(PRINTER)
    result = function.invoke({"marker": "dry"}, InvocationType="DryRun")
    assert result.status == 204
    assert result.raw == b""
    function.invoke({"marker": "real"})  # logs and metering are flushed up to here
    assert len(kumo.metering(function.name)) == 1
    assert "handler saw dry" not in kumo.log_text(function.name)


def parse_tail(log, request_id):
    lines = log.splitlines()
    assert f"START RequestId: {request_id} Version: $LATEST" in lines, log
    assert f"END RequestId: {request_id}" in lines, log
    report = REPORT.fullmatch(lines[-1])
    assert report, f"no REPORT line at the end of:\n{log}"
    assert report["id"] == request_id
    return lines, report


def test_log_tail_has_start_output_end_and_report(make_function):
    function = make_function(PRINTER)
    cold = function.invoke({"marker": "tail-1"}, LogType="Tail")
    lines, report = parse_tail(cold.log, cold.request_id)
    assert "handler saw tail-1" in lines
    assert lines.index(f"START RequestId: {cold.request_id} Version: $LATEST") < lines.index("handler saw tail-1")
    assert lines.index("handler saw tail-1") < lines.index(f"END RequestId: {cold.request_id}")
    assert int(report["memory"]) == 128
    assert 1 <= int(report["used"]) <= 128
    assert report["init"] is not None, "the first invocation of an environment reports Init Duration"
    duration, init, billed = float(report["duration"]), float(report["init"]), int(report["billed"])
    assert abs(billed - math.ceil(duration + init)) <= 1
    assert billed >= duration

    warm = function.invoke({"marker": "tail-2"}, LogType="Tail")
    _, report = parse_tail(warm.log, warm.request_id)
    assert report["init"] is None, "a warm invocation reports no Init Duration"
    assert int(report["billed"]) >= max(1, math.floor(float(report["duration"])))
    assert abs(int(report["billed"]) - math.ceil(float(report["duration"]))) <= 1


def test_log_tail_is_the_last_4_kb(make_function):
    function = make_function(
        """
        def handler(event, context):
            for i in range(400):
                print(f"line {i:04d} " + "x" * 40)
            return "done"
        """
    )
    result = function.invoke(LogType="Tail")
    assert len(result.log.encode()) <= 4096
    assert "line 0399" in result.log and "line 0000" not in result.log
    assert REPORT.fullmatch(result.log.splitlines()[-1])


def test_large_output_is_fully_logged_in_order(kumo, make_function):
    function = make_function(
        """
        import sys

        def handler(event, context):
            for i in range(5000):
                print("line %05d " % i + "y" * 60)
            sys.stdout.write("last words without a newline")
            return "ok"
        """,
        Timeout=10,
    )
    result = function.invoke({}, LogType="Tail")
    assert result.payload == "ok"
    assert result.log.splitlines()[-3] == "last words without a newline"
    messages = [event["message"] for event in kumo.log_events(function.name)]
    output = [message for message in messages if message.startswith("line ")]
    assert output == ["line %05d " % i + "y" * 60 for i in range(5000)]
    assert messages.index("last words without a newline") == messages.index(f"END RequestId: {result.request_id}") - 1


def test_handler_exception_is_an_unhandled_function_error(make_function):
    result = make_function(RAISER).invoke(LogType="Tail")
    assert result.status == 200
    assert result.function_error == "Unhandled"
    assert result.executed_version == "$LATEST"
    error = result.payload
    assert error["errorType"] == "KeyError"
    assert error["errorMessage"] == "'no such thing'"
    assert error["requestId"] == result.request_id
    assert isinstance(error["stackTrace"], list) and any("raise KeyError" in frame for frame in error["stackTrace"])
    assert "[ERROR] KeyError: 'no such thing'" in result.log


def test_oversized_response_is_a_function_error(make_function):
    function = make_function(
        """
        def handler(event, context):
            return "x" * (event["size"])
        """
    )
    result = function.invoke({"size": 6_300_000})
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Function.ResponseSizeTooLarge"
    assert function.invoke({"size": 3}).payload == "xxx"


def test_response_of_6291556_bytes_is_delivered(make_function):
    function = make_function(
        """
        def handler(event, context):
            return "x" * (event["size"] - 2)  # a JSON string of exactly `size` bytes
        """
    )
    result = function.invoke({"size": 6_291_556})
    assert result.function_error is None, result.raw[:300]
    assert len(result.raw) == 6_291_556


@pytest.mark.parametrize(
    "payload", [b"null", b"[1, 2]", b'"text"', b"42", '{"text": "h\u00e9llo \u2603"}'.encode()],
    ids=["null", "array", "string", "number", "unicode"],
)
def test_any_json_document_is_an_event(make_function, payload):
    function = make_function("def handler(event, context):\n    return event\n")
    assert function.invoke(payload).payload == json.loads(payload)


def test_empty_payload_is_an_empty_object(make_function):
    function = make_function("def handler(event, context):\n    return {'event': event}\n")
    assert function.invoke().payload == {"event": {}}


def test_unserializable_result_is_a_marshal_error(make_function):
    result = make_function("def handler(event, context):\n    return {1, 2}\n").invoke({})
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Runtime.MarshalError"
    assert "Unable to marshal response" in result.payload["errorMessage"]


def test_logging_lines_carry_level_time_and_request_id(make_function):
    function = make_function(
        """
        import logging

        logger = logging.getLogger()
        logger.setLevel(logging.INFO)

        def handler(event, context):
            logger.info("logged %s", "here")
            return None
        """
    )
    result = function.invoke({}, LogType="Tail")
    pattern = rf"\[INFO\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{result.request_id}\tlogged here"
    assert any(re.fullmatch(pattern, line) for line in result.log.splitlines()), result.log


def test_client_context_reaches_the_handler(make_function):
    function = make_function(CONTEXT_DUMP)
    context = {"custom": {"tenant": "acme", "n": 7}, "env": {"locale": "fr_FR"}, "client": {"installation_id": "i-1"}}
    encoded = base64.b64encode(json.dumps(context).encode()).decode()
    seen = function.invoke(ClientContext=encoded).payload
    assert seen["custom"] == {"tenant": "acme", "n": 7}
    assert seen["env"] == {"locale": "fr_FR"}
    assert seen["installation_id"] == "i-1"
    assert function.invoke().payload["custom"] is None


def test_client_context_reaches_an_async_invocation(kumo, make_function):
    function = make_function(
        "def handler(event, context):\n    print('custom is', context.client_context.custom)\n"
    )
    encoded = base64.b64encode(json.dumps({"custom": {"via": "event"}}).encode()).decode()
    function.invoke({}, InvocationType="Event", ClientContext=encoded)
    poll(lambda: "custom is {'via': 'event'}" in kumo.log_text(function.name), what="the event to run")


def test_context_object_fields(make_function):
    function = make_function(CONTEXT_DUMP, Timeout=5, MemorySize=192)
    result = function.invoke()
    seen = result.payload
    assert seen["function_name"] == function.name
    assert seen["function_version"] == "$LATEST"
    assert int(seen["memory_limit_in_mb"]) == 192
    assert seen["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function.name}"
    assert seen["aws_request_id"] == result.request_id
    assert seen["log_group_name"] == f"/aws/lambda/{function.name}"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", seen["log_stream_name"])
    assert 0 < seen["remaining_ms"] <= 5000

    qualified = function.invoke(Qualifier="$LATEST").payload
    assert qualified["invoked_function_arn"] == f"{function.arn}:$LATEST"
    by_arn = invoke(function.client, function.arn).payload
    assert by_arn["invoked_function_arn"] == function.arn


def test_environment_variables_match_lambda(kumo, make_function):
    function = make_function(ENVIRONMENT_DUMP, Environment={"Variables": {"MY_SETTING": "on"}}, MemorySize=256)
    seen = function.invoke().payload
    environ = seen["environ"]
    expected = {
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_ENDPOINT_URL": kumo.endpoint,
        "_HANDLER": "lambda_function.handler",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "MY_SETTING": "on",
    }
    assert {key: environ.get(key) for key in expected} == expected
    assert re.fullmatch(r"127\.0\.0\.1:\d+", environ["AWS_LAMBDA_RUNTIME_API"])
    assert environ["AWS_LAMBDA_LOG_STREAM_NAME"].startswith(time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()))
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "LAMBDA_RUNTIME_DIR", "PATH"):
        assert environ.get(key), key
    assert environ["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert seen["utc_offset"] == 0


def test_unreserved_variables_are_the_functions_own(make_function):
    # LANG, PATH, LD_LIBRARY_PATH, NODE_PATH and PYTHONPATH are "unreserved" on AWS: a function's
    # own values replace the runtime's defaults (and boto3 stays importable with its PYTHONPATH).
    function = make_function(
        files={
            "lambda_function.py": (
                "import os\nimport boto3\nimport helper\n\n"
                "def handler(event, context):\n"
                "    keys = ('LANG', 'PATH', 'LD_LIBRARY_PATH', 'PYTHONPATH')\n"
                "    return {'environ': {key: os.environ.get(key) for key in keys}, 'helper': helper.NAME}\n"
            ),
            "vendor/helper.py": "NAME = 'vendored'\n",
        },
        Environment={
            "Variables": {
                "LANG": "C.UTF-8",
                "PATH": "/var/task/bin:/usr/bin:/bin",
                "LD_LIBRARY_PATH": "/var/task/lib",
                "PYTHONPATH": "/var/task/vendor",
            }
        },
    )
    result = function.invoke()
    assert result.function_error is None, result.payload
    seen = result.payload
    assert seen["helper"] == "vendored"
    environ = seen["environ"]
    assert (environ["LANG"], environ["PATH"], environ["LD_LIBRARY_PATH"]) == (
        "C.UTF-8",
        "/var/task/bin:/usr/bin:/bin",
        "/var/task/lib",
    )
    assert environ["PYTHONPATH"].split(":")[0] == "/var/task/vendor"


def test_task_root_holds_the_package(make_function):
    function = make_function(
        """
        import os

        def handler(event, context):
            root = os.environ["LAMBDA_TASK_ROOT"]
            return {"files": sorted(os.listdir(root)), "cwd_is_root": os.getcwd() == root}
        """
    )
    seen = function.invoke().payload
    assert set(seen["files"]) - {"__pycache__"} == {"lambda_function.py"}
    assert seen["cwd_is_root"]


def test_kumo_environment_does_not_leak_into_functions(make_function):
    environ = make_function(ENVIRONMENT_DUMP).invoke().payload["environ"]
    assert not [key for key in environ if key.startswith("KUMO_")]
    assert not [key for key, value in environ.items() if SECRET_CANARY in value]


def test_metering_records_every_invocation(kumo, make_function):
    function = make_function(PRINTER, MemorySize=256)
    request_ids = [function.invoke({"marker": i}).request_id for i in range(3)]
    records = kumo.metering(function.name)
    assert [record["request_id"] for record in records] == request_ids
    for index, record in enumerate(records):
        assert record["function_name"] == function.name
        assert record["version"] == "$LATEST"
        assert record["memory_mb"] == 256
        assert isinstance(record["billed_ms"], int) and record["billed_ms"] >= 1
        assert record["billed_ms"] >= record["duration_ms"]
        assert record["gb_seconds"] == pytest.approx(256 / 1024 * record["billed_ms"] / 1000)
        assert (record["init_duration_ms"] is not None) == (index == 0), record
        assert 1 <= record["max_memory_used_mb"] <= 256


def test_failed_event_is_retried_twice_with_the_same_request_id(kumo, make_function):
    # The session server retries after 1 s, then 2 s (KUMO_ASYNC_RETRY_DELAY=1).
    function = make_function(
        """
        def handler(event, context):
            print("attempt for", context.aws_request_id)
            raise RuntimeError("always fails")
        """
    )
    accepted = function.invoke({}, InvocationType="Event")
    attempts = lambda: kumo.log_text(function.name).count(f"attempt for {accepted.request_id}")  # noqa: E731
    poll(lambda: attempts() >= 3, timeout=20, what="three attempts")
    assert attempts() == 3


def test_logs_endpoint_pages_with_after(kumo, make_function):
    function = make_function(PRINTER)
    first = function.invoke({"marker": "one"})
    events = kumo.log_events(function.name)
    ids = [event["id"] for event in events]
    assert ids == sorted(ids)
    assert any(first.request_id in event["message"] for event in events)
    second = function.invoke({"marker": "two"})
    newer = kumo.log_events(function.name, after=ids[-1])
    messages = [event["message"] for event in newer]
    assert messages[0] == f"START RequestId: {second.request_id} Version: $LATEST"
    assert "handler saw two" in messages and "handler saw one" not in messages
    assert all(event["log_stream"] == events[0]["log_stream"] for event in newer)
