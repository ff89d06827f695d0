"""Asynchronous invocation semantics: retries, event invoke configuration, destinations."""

import json

import pytest
from botocore.exceptions import ClientError

from e2e_support import error_of, poll

FAILING = """
def handler(event, context):
    print("attempt for", event["id"])
    raise ValueError("always fails")
"""

SUCCEEDING = """
def handler(event, context):
    return {"doubled": event["n"] * 2}
"""

RECORDER = """
import json
def handler(event, context):
    print("RECORD " + json.dumps(event))
    return "recorded"
"""


def records(kumo, function):
    return [
        json.loads(event["message"].split("RECORD ", 1)[1])
        for event in kumo.log_events(function.name)
        if "RECORD " in event["message"]
    ]


def test_event_invoke_config_api(kumo, make_function):
    # Its role may invoke the destination (AWS checks when the configuration is put).
    function = make_function(SUCCEEDING, role=kumo.delivery_role())
    target = make_function(RECORDER)
    client = function.client
    with pytest.raises(ClientError) as excinfo:
        client.get_function_event_invoke_config(FunctionName=function.name)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    put = client.put_function_event_invoke_config(
        FunctionName=function.name,
        MaximumRetryAttempts=1,
        MaximumEventAgeInSeconds=600,
        DestinationConfig={"OnFailure": {"Destination": target.arn}},
    )
    assert put["FunctionArn"] == f"{function.arn}:$LATEST"
    assert put["MaximumRetryAttempts"] == 1 and put["MaximumEventAgeInSeconds"] == 600
    assert put["DestinationConfig"]["OnFailure"] == {"Destination": target.arn}
    assert put["LastModified"].year >= 2025
    updated = client.update_function_event_invoke_config(FunctionName=function.name, MaximumRetryAttempts=0)
    assert updated["MaximumRetryAttempts"] == 0 and updated["MaximumEventAgeInSeconds"] == 600
    listed = client.list_function_event_invoke_configs(FunctionName=function.name)["FunctionEventInvokeConfigs"]
    assert [c["FunctionArn"] for c in listed] == [f"{function.arn}:$LATEST"]
    with pytest.raises(ClientError) as excinfo:
        client.put_function_event_invoke_config(FunctionName=function.name, MaximumRetryAttempts=5)
    assert error_of(excinfo)[1] == 400
    with pytest.raises(ClientError) as excinfo:
        client.put_function_event_invoke_config(FunctionName=function.name, MaximumEventAgeInSeconds=30000)
    assert error_of(excinfo)[1] == 400
    client.delete_function_event_invoke_config(FunctionName=function.name)
    with pytest.raises(ClientError):
        client.get_function_event_invoke_config(FunctionName=function.name)


def test_failing_event_is_retried_twice_then_sent_to_the_on_failure_destination(kumo, make_function):
    target = make_function(RECORDER)
    function = make_function(FAILING, role=kumo.delivery_role())
    function.client.put_function_event_invoke_config(
        FunctionName=function.name, DestinationConfig={"OnFailure": {"Destination": target.arn}}
    )
    accepted = function.client.invoke(FunctionName=function.name, InvocationType="Event", Payload=b'{"id": "e-1"}')
    assert accepted["StatusCode"] == 202
    request_id = accepted["ResponseMetadata"]["RequestId"]
    record = poll(lambda: next(iter(records(kumo, target)), None), timeout=30, what="the failure record")
    attempts = kumo.log_text(function.name).count("attempt for e-1")
    assert attempts == 3, "one attempt and two retries"
    assert record["version"] == "1.0"
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"{function.arn}:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"id": "e-1"}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "ValueError"


def test_zero_retries_means_one_attempt(kumo, make_function):
    target = make_function(RECORDER)
    function = make_function(FAILING, role=kumo.delivery_role())
    function.client.put_function_event_invoke_config(
        FunctionName=function.name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": target.arn}},
    )
    function.client.invoke(FunctionName=function.name, InvocationType="Event", Payload=b'{"id": "once"}')
    record = poll(lambda: next(iter(records(kumo, target)), None), timeout=20, what="the failure record")
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert kumo.log_text(function.name).count("attempt for once") == 1


def test_success_goes_to_the_on_success_destination(kumo, make_function):
    target = make_function(RECORDER)
    function = make_function(SUCCEEDING, role=kumo.delivery_role())
    function.client.put_function_event_invoke_config(
        FunctionName=function.name, DestinationConfig={"OnSuccess": {"Destination": target.arn}}
    )
    function.client.invoke(FunctionName=function.name, InvocationType="Event", Payload=b'{"n": 21}')
    record = poll(lambda: next(iter(records(kumo, target)), None), timeout=20, what="the success record")
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"n": 21}
    assert record["responsePayload"] == {"doubled": 42}
    assert "functionError" not in record["responseContext"]
