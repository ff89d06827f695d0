"""Kumo's in-memory metrics at /_kumo/metrics: async invocation counters per function and SQS
counters per queue, checked against the traffic a test sends."""

from e2e_support import poll
from test_sqs import make_queue, queue_arn, sqs, sqs_client  # noqa: F401 (fixtures)

SUCCEEDING = """
def handler(event, context):
    return event
"""

FAILING = """
def handler(event, context):
    raise ValueError("always fails")
"""


def function_metrics(kumo, name, region="us-east-1"):
    for entry in kumo.get_json("/_kumo/metrics")["lambda"]["functions"]:
        if entry["FunctionName"] == name and entry["Region"] == region:
            return entry
    return None


def queue_metrics(kumo, name, region="us-east-1"):
    for entry in kumo.get_json("/_kumo/metrics")["sqs"]["queues"]:
        if entry["QueueName"] == name and entry["Region"] == region:
            return entry
    return None


def test_async_events_are_counted_received_and_aged(kumo, make_function):
    function = make_function(SUCCEEDING)
    assert function_metrics(kumo, function.name) is None, "no traffic, no entry"
    for index in range(3):
        accepted = function.client.invoke(FunctionName=function.name, InvocationType="Event", Payload=f'{{"i": {index}}}')
        assert accepted["StatusCode"] == 202
    # Counted when accepted, before the 202: no waiting needed.
    assert function_metrics(kumo, function.name)["AsyncEventsReceived"] == 3
    metrics = poll(
        lambda: (m := function_metrics(kumo, function.name))["AsyncEventAge"]["count"] == 3 and m,
        timeout=20,
        what="three attempts to start",
    )
    age = metrics["AsyncEventAge"]
    assert age["max_ms"] >= age["last_ms"] >= 0 and age["sum_ms"] >= age["max_ms"]
    assert age["max_ms"] < 20_000
    assert metrics["AsyncEventsDropped"] == 0
    assert metrics["DestinationDeliveryFailures"] == 0
    # A sync invoke is not an async event.
    function.client.invoke(FunctionName=function.name, Payload=b"{}")
    assert function_metrics(kumo, function.name)["AsyncEventsReceived"] == 3


def test_dropped_events_and_destination_failures_are_counted(kumo, sqs, make_queue, make_function):
    # Its role may send to the destination (AWS checks when the configuration is put).
    function = make_function(FAILING, role=kumo.delivery_role())
    url = make_queue()
    function.client.put_function_event_invoke_config(
        FunctionName=function.name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn(sqs, url)}},
    )
    # The destination disappears: the failure record cannot be delivered.
    sqs.delete_queue(QueueUrl=url)
    function.client.invoke(FunctionName=function.name, InvocationType="Event", Payload=b'{"id": 1}')
    metrics = poll(
        lambda: (m := function_metrics(kumo, function.name))["AsyncEventsDropped"] == 1 and m,
        timeout=20,
        what="the event to be dropped",
    )
    assert metrics["AsyncEventsReceived"] == 1
    assert metrics["AsyncEventAge"]["count"] == 1, "MaximumRetryAttempts 0: one attempt"
    assert metrics["DestinationDeliveryFailures"] == 1


def test_sqs_sent_received_deleted_and_visible(kumo, sqs, make_queue):
    url = make_queue()
    name = url.rsplit("/", 1)[1]
    assert queue_metrics(kumo, name) == {
        "Region": "us-east-1",
        "QueueName": name,
        "NumberOfMessagesSent": 0,
        "NumberOfMessagesReceived": 0,
        "NumberOfMessagesDeleted": 0,
        "ApproximateNumberOfMessagesVisible": 0,
    }
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10)])
    sqs.send_message(QueueUrl=url, MessageBody="single")
    received = []
    while len(received) < 6:
        received += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=6 - len(received))["Messages"]
    deleted = received[:4]
    sqs.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(deleted)]
    )
    # Deleting again with the same handle succeeds but deletes nothing more.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=deleted[0]["ReceiptHandle"])
    metrics = queue_metrics(kumo, name)
    assert metrics["NumberOfMessagesSent"] == 11
    assert metrics["NumberOfMessagesReceived"] == 6
    assert metrics["NumberOfMessagesDeleted"] == 4
    # 11 sent, 6 received and still invisible (2 of them in flight, 4 deleted): 5 visible.
    assert metrics["ApproximateNumberOfMessagesVisible"] == 5
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert int(attributes["Attributes"]["ApproximateNumberOfMessages"]) == 5
