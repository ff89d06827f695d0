"""SQS with Lambda: event source mappings draining queues (as the function's execution role, which
may lose and regain the permission), and SQS as async destination and DLQ."""

import json
import time

import pytest
from botocore.exceptions import ClientError

from e2e_support import ACCOUNT, SQS_EXECUTION_POLICY, error_of, poll, unique_name
from test_sqs import make_queue, queue_arn, sqs, sqs_client  # noqa: F401 (fixtures)

DRAIN = """
def handler(event, context):
    failures = []
    for record in event["Records"]:
        assert record["eventSource"] == "aws:sqs"
        if record["body"].startswith("poison"):
            failures.append({"itemIdentifier": record["messageId"]})
        else:
            print("OK " + record["body"])
    print("BATCH", len(event["Records"]))
    return {"batchItemFailures": failures}
"""

FAILING = """
def handler(event, context):
    raise RuntimeError("nope")
"""


def counts(sqs, url):
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_mapping_api_and_errors(kumo, sqs, make_queue, make_function):
    function = make_function(DRAIN, role=kumo.delivery_role())
    url = make_queue()
    arn = queue_arn(sqs, url)
    client = function.client
    created = client.create_event_source_mapping(EventSourceArn=arn, FunctionName=function.name, BatchSize=5)
    assert created["State"] == "Creating"
    assert created["EventSourceArn"] == arn and created["FunctionArn"] == function.arn
    assert created["BatchSize"] == 5
    uuid = created["UUID"]
    assert client.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    listed = client.list_event_source_mappings(FunctionName=function.name)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uuid]
    updated = client.update_event_source_mapping(UUID=uuid, Enabled=False, BatchSize=100, MaximumBatchingWindowInSeconds=1)
    assert updated["State"] == "Updating"
    assert client.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    with pytest.raises(ClientError) as excinfo:
        client.update_event_source_mapping(UUID=uuid, BatchSize=100, MaximumBatchingWindowInSeconds=0)
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as excinfo:
        client.create_event_source_mapping(
            EventSourceArn=arn.replace(arn.rsplit(":", 1)[1], "missing-queue"), FunctionName=function.name
        )
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    deleted = client.delete_event_source_mapping(UUID=uuid)
    assert deleted["State"] == "Deleting"
    with pytest.raises(ClientError) as excinfo:
        client.get_event_source_mapping(UUID=uuid)
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_thousand_messages_drained_with_partial_failures_to_the_dlq(kumo, sqs, make_queue, make_function):
    dlq = make_queue("dlq")
    redrive = json.dumps({"deadLetterTargetArn": queue_arn(sqs, dlq), "maxReceiveCount": "2"})
    # As AWS advises, the visibility timeout leaves room for a batch to finish; poison messages
    # come back after it and reach the DLQ on their third receive.
    url = make_queue("work", VisibilityTimeout=4, RedrivePolicy=redrive)
    function = make_function(DRAIN, role=kumo.delivery_role(), Timeout=30)
    bodies = [f"poison-{i}" if i % 200 == 13 else f"msg-{i}" for i in range(1000)]
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start : start + 10])]
        assert not sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")
    mapping = function.client.create_event_source_mapping(
        EventSourceArn=queue_arn(sqs, url),
        FunctionName=function.name,
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig={"MaximumConcurrency": 5},
    )
    poll(lambda: counts(sqs, url) == (0, 0), timeout=120, interval=0.5, what="the queue to drain")
    poison = sorted(body for body in bodies if body.startswith("poison"))
    moved = []
    while True:
        received = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not received:
            break
        moved.extend(message["Body"] for message in received)
        sqs.delete_message_batch(
            QueueUrl=dlq, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)]
        )
    assert sorted(moved) == poison, "only the poison messages reach the DLQ"
    processed = {line[3:] for line in kumo.log_text(function.name).splitlines() if line.startswith("OK ")}
    assert processed == {body for body in bodies if not body.startswith("poison")}
    assert function.client.get_event_source_mapping(UUID=mapping["UUID"])["LastProcessingResult"] == "OK"
    function.client.delete_event_source_mapping(UUID=mapping["UUID"])


def test_filter_criteria_drop_unmatched_messages(kumo, sqs, make_queue, make_function):
    url = make_queue()
    function = make_function(DRAIN, role=kumo.delivery_role())
    function.client.create_event_source_mapping(
        EventSourceArn=queue_arn(sqs, url),
        FunctionName=function.name,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["keep"]}})}]},
    )
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "drop", "n": 1}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "keep", "n": 2}))
    poll(lambda: counts(sqs, url) == (0, 0), timeout=30, what="both messages to be consumed")
    text = kumo.log_text(function.name)
    assert '"n": 2' in text and '"n": 1' not in text


def test_failed_event_goes_to_an_sqs_destination_and_dead_letter_queue(kumo, sqs, make_queue, make_function):
    destination = make_queue("dest")
    dead_letters = make_queue("dlq")
    function = make_function(FAILING, role=kumo.delivery_role(), DeadLetterConfig={"TargetArn": queue_arn(sqs, dead_letters)})
    function.client.put_function_event_invoke_config(
        FunctionName=function.name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn(sqs, destination)}},
    )
    accepted = function.client.invoke(FunctionName=function.name, InvocationType="Event", Payload=b'{"order": 7}')

    def first_message(url):
        received = sqs.receive_message(
            QueueUrl=url, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages", [])
        return received[0] if received else None

    record = json.loads(poll(lambda: first_message(destination), timeout=30, what="the destination record")["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["requestId"] == accepted["ResponseMetadata"]["RequestId"]
    assert record["requestPayload"] == {"order": 7}
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    dead = poll(lambda: first_message(dead_letters), timeout=30, what="the dead letter")
    assert json.loads(dead["Body"]) == {"order": 7}
    attributes = {name: value["StringValue"] for name, value in dead["MessageAttributes"].items()}
    assert attributes["ErrorCode"] == "RuntimeError"
    assert attributes["RequestID"] == accepted["ResponseMetadata"]["RequestId"]


def hold(check, seconds, what):
    """Asserts `check()` stays true for `seconds` (a state that must not change, observed repeatedly)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert check(), what
        time.sleep(0.1)


def test_a_mapping_whose_role_loses_receive_keeps_its_messages_and_resumes(kumo, sqs, make_queue, make_function):
    iam = kumo.client("iam")
    role_name = unique_name("poller")
    role = kumo.role_with_policies(role_name, [SQS_EXECUTION_POLICY])
    bare = kumo.role_with_policies(unique_name("bare"))
    function = make_function(DRAIN, role=role)
    url = make_queue()
    arn = queue_arn(sqs, url)
    mapping = function.client.create_event_source_mapping(EventSourceArn=arn, FunctionName=function.name)["UUID"]
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{function.name}"

    def last_result():
        return function.client.get_event_source_mapping(UUID=mapping)["LastProcessingResult"]

    def processed(body):
        return f"OK {body}" in kumo.log_text(function.name)

    try:
        sqs.send_message(QueueUrl=url, MessageBody="before")
        poll(lambda: processed("before"), timeout=20, what="the first message")
        poll(lambda: last_result() == "OK", what="the batch to be reported")

        # The role loses the permission: the poller, acting as the role, stops taking messages.
        iam.detach_role_policy(RoleName=role_name, PolicyArn=SQS_EXECUTION_POLICY)
        problem = poll(lambda: (result := last_result()).startswith("PROBLEM") and result, what="the problem")
        assert problem == (
            f"PROBLEM: User: {session} is not authorized to perform: sqs:receivemessage on resource: {arn} "
            "because no identity-based policy allows the sqs:receivemessage action"
        )
        for index in range(3):
            sqs.send_message(QueueUrl=url, MessageBody=f"held-{index}")
        # Longer than a receive's long poll and the poller's pause: nothing is taken.
        hold(lambda: counts(sqs, url) == (3, 0), 4, "the messages stay in the queue, none in flight")
        assert function.client.get_event_source_mapping(UUID=mapping)["State"] == "Enabled"

        # The grant comes back: the poller resumes by itself and loses nothing.
        iam.attach_role_policy(RoleName=role_name, PolicyArn=SQS_EXECUTION_POLICY)
        poll(lambda: all(processed(f"held-{index}") for index in range(3)), timeout=20, what="the held messages")
        poll(lambda: counts(sqs, url) == (0, 0), what="the queue to drain")
        poll(lambda: last_result() == "OK", what="the mapping to report its batches again")

        # The function's role is changed to one without the permission: the same.
        function.client.update_function_configuration(FunctionName=function.name, Role=bare)
        poll(lambda: last_result().startswith("PROBLEM: User: arn:aws:sts::"), what="the new role's problem")
        sqs.send_message(QueueUrl=url, MessageBody="after")
        hold(lambda: counts(sqs, url) == (1, 0), 4, "the message stays in the queue")
        function.client.update_function_configuration(FunctionName=function.name, Role=role)
        poll(lambda: processed("after"), timeout=20, what="the message after the role came back")
    finally:
        function.client.delete_event_source_mapping(UUID=mapping)
