"""The canonical scenario: function A calls function B through boto3 inside Lambda, by ARN,
synchronously and asynchronously."""

import uuid

import pytest

from e2e_support import Deployer, poll

FUNCTION_B = """
import json
import time
import uuid


def handler(event, context):
    print("B received " + json.dumps(event, sort_keys=True))
    time.sleep(event.get("SleepSeconds", 0))
    return {"CustomerId": event["CustomerId"], "Success": "true", "TransactionId": str(uuid.uuid1())}
"""

FUNCTION_A = """
import json
import os
import time

import boto3

lambda_client = boto3.client("lambda")


def handler(event, context):
    invocation_type = event.get("InvocationType", "RequestResponse")
    started = time.monotonic()
    response = lambda_client.invoke(
        FunctionName=os.environ["FUNCTION_B_ARN"],
        InvocationType=invocation_type,
        Payload=json.dumps({"CustomerId": event["CustomerId"], "SleepSeconds": event.get("SleepSeconds", 0)}),
    )
    seconds = time.monotonic() - started
    if invocation_type == "Event":
        return {"StatusCode": response["StatusCode"], "Seconds": seconds}
    return json.load(response["Payload"])
"""


@pytest.fixture(scope="module")
def a_and_b(kumo):
    deployer = Deployer(kumo)
    b = deployer.create(FUNCTION_B, prefix="canonical-b", Timeout=10)
    # A calls B: its role needs lambda:InvokeFunction, as on AWS.
    invoker = kumo.role_with_policies("canonical-invoker", ["arn:aws:iam::aws:policy/service-role/AWSLambdaRole"])
    a = deployer.create(
        FUNCTION_A,
        prefix="canonical-a",
        role=invoker,
        Timeout=10,
        Environment={"Variables": {"FUNCTION_B_ARN": b.arn}},
    )
    yield a, b
    deployer.cleanup()


def test_a_invokes_b_synchronously_by_arn(a_and_b):
    a, _ = a_and_b
    result = a.invoke({"CustomerId": "C-1001"})
    assert result.status == 200
    assert result.function_error is None, result.raw
    answer = result.payload
    assert answer["CustomerId"] == "C-1001"
    assert answer["Success"] == "true"
    assert uuid.UUID(answer["TransactionId"]).version == 1


def test_a_invokes_b_asynchronously_and_b_runs(kumo, a_and_b):
    a, b = a_and_b
    customer = f"C-{uuid.uuid4().hex[:8]}"
    # B sleeps a second: A must get its 202 without waiting for B.
    result = a.invoke({"CustomerId": customer, "InvocationType": "Event", "SleepSeconds": 1})
    assert result.function_error is None, result.raw
    assert result.payload["StatusCode"] == 202
    assert result.payload["Seconds"] < 0.8
    poll(
        lambda: f'B received {{"CustomerId": "{customer}", "SleepSeconds": 1}}' in kumo.log_text(b.name),
        timeout=15,
        what="B's log to show the event",
    )
