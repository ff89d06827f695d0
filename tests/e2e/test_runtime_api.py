"""The Runtime API contract, seen from a custom runtime written against it directly
(`/invocation/next`, `/response`, `/error`, `/init/error`)."""

import base64
import json
import time

from e2e_support import ACCOUNT

RUNTIME = """#!{python}
import json
import os
import urllib.error
import urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"


def call(method, path, body=None, headers=None):
    request = urllib.request.Request(API + path, data=body, method=method, headers=headers or {{}})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def error_type(body):
    return json.loads(body).get("errorType")


if os.environ["_HANDLER"] == "fail-init":
    body = json.dumps({{"errorMessage": "cannot start", "errorType": "Custom.InitFailed"}}).encode()
    call("POST", "/init/error", body, {{"Lambda-Runtime-Function-Error-Type": "Runtime.CustomInit"}})
    raise SystemExit(1)

previous = None
while True:
    status, headers, body = call("GET", "/invocation/next")
    request_id = headers["Lambda-Runtime-Aws-Request-Id"]
    event = json.loads(body)
    if event.get("fail"):
        error = {{"errorMessage": "custom failure", "errorType": "MyError", "stackTrace": ["here"]}}
        call("POST", "/invocation/%s/error" % request_id, json.dumps(error).encode(),
             {{"Lambda-Runtime-Function-Error-Type": "Function.MyError"}})
        continue
    unknown = call("POST", "/invocation/not-a-request-id/response", b"{{}}")
    report = {{
        "request_id": request_id,
        "deadline_ms": int(headers["Lambda-Runtime-Deadline-Ms"]),
        "arn": headers["Lambda-Runtime-Invoked-Function-Arn"],
        "trace_id": headers.get("Lambda-Runtime-Trace-Id"),
        "client_context": headers.get("Lambda-Runtime-Client-Context"),
        "unknown_id": [unknown[0], error_type(unknown[2])],
        "previous": previous,
        "event": event,
    }}
    first = call("POST", "/invocation/%s/response" % request_id, json.dumps(report).encode())
    second = call("POST", "/invocation/%s/response" % request_id, b'"again"')
    previous = {{"first": [first[0], json.loads(first[2])], "second": [second[0], error_type(second[2])]}}
"""


def runtime_files():
    # The interpreter the sandbox offers custom runtimes (a host path such as the venv's is not visible).
    return {"bootstrap": RUNTIME.format(python="/usr/bin/env python3")}


def test_next_headers_and_answers(make_function):
    function = make_function(files=runtime_files(), runtime="provided.al2023", handler="echo", Timeout=4)
    context = {"custom": {"who": "runtime-api-test"}}
    before_ms = time.time() * 1000
    result = function.invoke({"k": "v"}, ClientContext=base64.b64encode(json.dumps(context).encode()).decode())
    after_ms = time.time() * 1000
    assert result.function_error is None, result.raw
    report = result.payload
    assert report["request_id"] == result.request_id
    assert report["event"] == {"k": "v"}
    assert before_ms + 3000 < report["deadline_ms"] <= after_ms + 4000
    assert report["arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function.name}"
    assert report["trace_id"].startswith("Root=1-")
    assert json.loads(report["client_context"])["custom"] == {"who": "runtime-api-test"}
    assert report["unknown_id"] == [400, "InvalidRequestID"]
    assert report["previous"] is None

    # The next invocation reports how the first one's answers were received.
    previous = function.invoke({}).payload["previous"]
    assert previous["first"] == [202, {"status": "OK"}]
    assert previous["second"] == [403, "InvalidStateTransition"]
    assert function.invoke({}).payload["client_context"] is None, "no client context, no header"


def test_error_endpoint_returns_the_runtimes_error(make_function):
    function = make_function(files=runtime_files(), runtime="provided.al2023", handler="echo")
    result = function.invoke({"fail": True})
    assert result.status == 200
    assert result.function_error == "Unhandled"
    assert result.payload == {"errorMessage": "custom failure", "errorType": "MyError", "stackTrace": ["here"]}
    assert function.invoke({}).function_error is None, "an error answer leaves the environment usable"


def test_init_error_endpoint_fails_the_invocation(make_function):
    function = make_function(files=runtime_files(), runtime="provided.al2023", handler="fail-init")
    result = function.invoke({}, LogType="Tail")
    assert result.function_error == "Unhandled"
    assert result.payload == {"errorMessage": "cannot start", "errorType": "Custom.InitFailed"}
    assert "INIT_REPORT" in result.log and "Status: error" in result.log


def test_runtime_exiting_during_init_is_an_exit_error(make_function):
    function = make_function(files={"bootstrap": "#!/bin/sh\necho starting\nexit 2\n"}, runtime="provided.al2")
    result = function.invoke({}, LogType="Tail")
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Runtime.ExitError"
    assert result.payload["errorMessage"] == (
        f"RequestId: {result.request_id} Error: Runtime exited with error: exit status 2"
    )
    assert "starting" in result.log
