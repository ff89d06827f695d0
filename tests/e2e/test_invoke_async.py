"""The deprecated InvokeAsync, still in every SDK: the event runs asynchronously and the answer
is AWS's 202, its `Status` bound to the HTTP status by the model (so the body is empty and SDKs
read `{"Status": 202}`, botocore's model example), through boto3 and the AWS CLI."""

import json

import pytest
from botocore.exceptions import ClientError

from e2e_support import error_of, poll

ECHO = "def handler(event, context):\n    print('EVENT ' + str(event['n']))\n    return event\n"


def test_invoke_async_runs_the_event_and_answers_202(kumo, make_function):
    function = make_function(ECHO)
    answer = function.client.invoke_async(FunctionName=function.name, InvokeArgs=json.dumps({"n": 7}))
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert {key: value for key, value in answer.items() if key != "ResponseMetadata"} == {"Status": 202}
    assert answer["ResponseMetadata"]["HTTPHeaders"].get("content-length", "0") == "0"
    poll(lambda: "EVENT 7" in kumo.log_text(function.name), timeout=20, what="the async event to run")
    # A qualifier travels in the name.
    version = function.client.publish_version(FunctionName=function.name)["Version"]
    function.client.invoke_async(FunctionName=f"{function.name}:{version}", InvokeArgs=b'{"n": 8}')
    poll(lambda: "EVENT 8" in kumo.log_text(function.name), timeout=20, what="the versioned event to run")


def test_invoke_async_errors(kumo, make_function):
    function = make_function(ECHO)
    with pytest.raises(ClientError) as excinfo:
        function.client.invoke_async(FunctionName="doesnotexist", InvokeArgs="{}")
    assert error_of(excinfo) == (
        "ResourceNotFoundException", 404,
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:doesnotexist:$LATEST",
    )
    # InvokeAsync's limit is 256 KB (Invoke's Event type takes 1 MB).
    big = json.dumps({"n": 1, "pad": "x" * (256 * 1024)})
    with pytest.raises(ClientError) as excinfo:
        function.client.invoke_async(FunctionName=function.name, InvokeArgs=big)
    assert error_of(excinfo) == (
        "RequestEntityTooLargeException", 413,
        "Request must be smaller than 262144 bytes for the InvokeAsync operation",
    )


def test_invoke_async_through_the_aws_cli(kumo, make_function, tmp_path):
    function = make_function(ECHO)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"n": 9}))
    answer = kumo.aws("lambda", "invoke-async", "--function-name", function.name, "--invoke-args", str(event))
    assert answer == {"Status": 202}
    poll(lambda: "EVENT 9" in kumo.log_text(function.name), timeout=20, what="the CLI's event to run")
