"""Publish and PublishBatch through boto3 and the AWS CLI: the SNS envelope and raw delivery to
SQS, the SNS event to Lambda (asynchronous invoke), MessageStructure=json, filter policies on
attributes and on the body, FIFO topics, fan-out to 100 queues without blocking the publisher,
durability across kill -9, and AWS's errors and limits."""

import json
import time

import pytest
from botocore.exceptions import ClientError

from e2e_support import ACCOUNT, error_of, poll, unique_name
from sns_support import make_topic, sns  # noqa: F401 (fixtures)
from test_sqs import make_queue, queue_arn, sqs  # noqa: F401 (fixtures)


def receive(sqs, url, count=1, timeout=10):
    """The bodies and attributes of `count` messages from `url` (deleted as they come)."""
    messages = []

    def more():
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"])
        for message in got.get("Messages", []):
            messages.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages) >= count

    poll(more, timeout=timeout, what=f"{count} message(s) in {url}")
    return messages


def subscribed_queue(sns, sqs, make_queue, topic, **attributes):
    url = make_queue("sub")
    arn = sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn(sqs, url), Attributes=attributes, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    return url, arn


def test_envelope_and_raw_delivery_to_sqs(kumo, sns, sqs, make_topic, make_queue):
    topic = make_topic("env")
    wrapped, subscription = subscribed_queue(sns, sqs, make_queue, topic)
    raw, _ = subscribed_queue(sns, sqs, make_queue, topic, RawMessageDelivery="true")
    attributes = {
        "color": {"DataType": "String", "StringValue": "red"},
        "size": {"DataType": "Number", "StringValue": "42"},
    }
    published = sns.publish(TopicArn=topic, Message="hello", Subject="greeting", MessageAttributes=attributes)
    envelope = json.loads(receive(sqs, wrapped)[0]["Body"])
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == published["MessageId"]
    assert envelope["TopicArn"] == topic
    assert envelope["Subject"] == "greeting"
    assert envelope["Message"] == "hello"
    assert envelope["SignatureVersion"] == "1" and envelope["Signature"]
    assert envelope["SigningCertURL"].startswith(kumo.endpoint)
    assert subscription.replace(":", "%3A") in envelope["UnsubscribeURL"]
    assert envelope["Timestamp"].endswith("Z") and "." in envelope["Timestamp"]
    assert envelope["MessageAttributes"] == {
        "color": {"Type": "String", "Value": "red"},
        "size": {"Type": "Number", "Value": "42"},
    }
    assert list(envelope)[:4] == ["Type", "MessageId", "TopicArn", "Subject"]
    message = receive(sqs, raw)[0]
    assert message["Body"] == "hello"
    assert message["MessageAttributes"]["color"] == {"DataType": "String", "StringValue": "red"}
    assert message["MessageAttributes"]["size"] == {"DataType": "Number", "StringValue": "42"}
    # TargetArn names the topic too; the CLI publishes the same way.
    sns.publish(TargetArn=topic, Message="by target")
    assert json.loads(receive(sqs, wrapped)[0]["Body"])["Message"] == "by target"
    answer = kumo.aws("sns", "publish", "--topic-arn", topic, "--message", "from the cli")
    assert answer["MessageId"]
    assert json.loads(receive(sqs, wrapped)[0]["Body"])["Message"] == "from the cli"


def test_message_structure_json(sns, sqs, make_topic, make_queue):
    topic = make_topic("json")
    url, _ = subscribed_queue(sns, sqs, make_queue, topic)
    message = json.dumps({"default": "for everyone", "sqs": "for queues", "lambda": "for functions"})
    sns.publish(TopicArn=topic, Message=message, MessageStructure="json")
    assert json.loads(receive(sqs, url)[0]["Body"])["Message"] == "for queues"
    with pytest.raises(ClientError) as excinfo:
        sns.publish(TopicArn=topic, Message=json.dumps({"sqs": "x"}), MessageStructure="json")
    assert error_of(excinfo) == (
        "InvalidParameter", 400, "Invalid parameter: Message Structure - No default entry in JSON message body"
    )
    with pytest.raises(ClientError) as excinfo:
        sns.publish(TopicArn=topic, Message="not json", MessageStructure="json")
    assert error_of(excinfo) == (
        "InvalidParameter", 400, "Invalid parameter: Message Structure - JSON message body failed to parse"
    )


def test_filter_policies_route_messages(sns, sqs, make_topic, make_queue):
    topic = make_topic("route")
    cards, _ = subscribed_queue(
        sns, sqs, make_queue, topic,
        FilterPolicy=json.dumps({"kind": [{"prefix": "card-"}], "amount": [{"numeric": [">=", 100]}]}),
    )
    not_cards, _ = subscribed_queue(sns, sqs, make_queue, topic, FilterPolicy=json.dumps({"kind": [{"anything-but": {"prefix": "card-"}}]}))
    untagged, _ = subscribed_queue(sns, sqs, make_queue, topic, FilterPolicy=json.dumps({"kind": [{"exists": False}]}))
    eur, _ = subscribed_queue(
        sns, sqs, make_queue, topic, RawMessageDelivery="true", FilterPolicyScope="MessageBody",
        FilterPolicy=json.dumps({"order": {"currency": ["EUR"]}}),
    )

    def publish(body, **attributes):
        message_attributes = {
            name: {"DataType": "Number" if isinstance(value, int) else "String", "StringValue": str(value)}
            for name, value in attributes.items()
        }
        sns.publish(TopicArn=topic, Message=body, MessageAttributes=message_attributes)

    publish("big card", kind="card-visa", amount=250)
    publish("small card", kind="card-visa", amount=5)
    publish("cash", kind="cash", amount=500)
    publish(json.dumps({"order": {"currency": "EUR"}}))
    publish(json.dumps({"order": {"currency": "USD"}}))
    assert [json.loads(m["Body"])["Message"] for m in receive(sqs, cards)] == ["big card"]
    assert [json.loads(m["Body"])["Message"] for m in receive(sqs, not_cards)] == ["cash"]
    assert sorted(json.loads(m["Body"])["Message"] for m in receive(sqs, untagged, 2)) == sorted(
        [json.dumps({"order": {"currency": "EUR"}}), json.dumps({"order": {"currency": "USD"}})]
    )
    assert [m["Body"] for m in receive(sqs, eur)] == [json.dumps({"order": {"currency": "EUR"}})]
    # Nothing else arrives: a final message every queue takes marks the end of the stream.
    for queue in (cards, not_cards, untagged, eur):
        extra = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages", [])
        assert extra == [], queue


LAMBDA_PRINTER = """
import json
def handler(event, context):
    print("EVENT " + json.dumps(event))
"""


def test_delivery_to_lambda_is_an_async_sns_event(kumo, sns, make_topic, make_function):
    function = make_function(LAMBDA_PRINTER)
    topic = make_topic("fn")
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function.arn)["SubscriptionArn"]
    published = sns.publish(
        TopicArn=topic, Message="to a function", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}}
    )

    def event():
        for line in kumo.log_text(function.name).splitlines():
            if "EVENT " in line:
                return json.loads(line.split("EVENT ", 1)[1])
        return None

    record = poll(event, timeout=30, what="the function to receive the SNS event")["Records"][0]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == subscription
    assert record["Sns"]["MessageId"] == published["MessageId"]
    assert record["Sns"]["Message"] == "to a function"
    assert record["Sns"]["TopicArn"] == topic
    assert record["Sns"]["Subject"] is None
    assert record["Sns"]["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
    assert record["Sns"]["UnsubscribeUrl"] and record["Sns"]["SigningCertUrl"]


def test_fifo_publish_dedup_and_order(sns, make_topic):
    topic = make_topic("order", fifo=True)
    with pytest.raises(ClientError) as excinfo:
        sns.publish(TopicArn=topic, Message="m", MessageDeduplicationId="d")
    assert error_of(excinfo) == (
        "InvalidParameter", 400, "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
    )
    with pytest.raises(ClientError) as excinfo:
        sns.publish(TopicArn=topic, Message="m", MessageGroupId="g")
    assert error_of(excinfo) == (
        "InvalidParameter",
        400,
        "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or "
        "MessageDeduplicationId provided explicitly",
    )
    first = sns.publish(TopicArn=topic, Message="m", MessageGroupId="g", MessageDeduplicationId="d1")
    again = sns.publish(TopicArn=topic, Message="m", MessageGroupId="g", MessageDeduplicationId="d1")
    second = sns.publish(TopicArn=topic, Message="m", MessageGroupId="g", MessageDeduplicationId="d2")
    assert again["MessageId"] == first["MessageId"]
    assert second["MessageId"] != first["MessageId"]
    assert int(second["SequenceNumber"]) > int(first["SequenceNumber"])
    standard = make_topic("std")
    with pytest.raises(ClientError) as excinfo:
        sns.publish(TopicArn=standard, Message="m", MessageDeduplicationId="d")
    assert error_of(excinfo)[:2] == ("InvalidParameter", 400)
    assert "MessageDeduplicationId" in error_of(excinfo)[2]


def test_publish_errors_and_limits(sns, make_topic):
    topic = make_topic("lim")
    cases = [
        ({"Message": ""}, ("InvalidParameter", 400, "Invalid parameter: Empty message")),
        ({"Message": "x" * 262_145}, ("InvalidParameter", 400, "Invalid parameter: Message too long")),
        ({"Message": "m", "Subject": "two\nlines"}, ("InvalidParameter", 400, "Invalid parameter: Subject")),
        ({"Message": "m", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "x"}}},
         ("ParameterValueInvalid", 400, "Could not cast message attribute 'n' value to number.")),
        ({"Message": "m", "MessageAttributes": {"b": {"DataType": "Blob", "StringValue": "x"}}},
         ("ParameterValueInvalid", 400, "The message attribute 'b' has an invalid message attribute type, "
          "the set of supported type prefixes is Binary, Number, and String.")),
        ({"Message": "m", "MessageAttributes": {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)}},
         ("ParameterValueInvalid", 400, "Number of message attributes [11] exceeds the allowed maximum [10].")),
    ]
    for params, expected in cases:
        with pytest.raises(ClientError) as excinfo:
            sns.publish(TopicArn=topic, **params)
        assert error_of(excinfo) == expected, list(params)
    # Exactly 256 KiB is allowed.
    assert sns.publish(TopicArn=topic, Message="x" * 262_144)["MessageId"]
    with pytest.raises(ClientError) as excinfo:
        sns.publish(TopicArn=topic + "-missing", Message="m")
    assert error_of(excinfo) == ("NotFound", 404, "Topic does not exist")


def test_publish_batch(sns, sqs, make_topic, make_queue):
    topic = make_topic("batch")
    url, _ = subscribed_queue(sns, sqs, make_queue, topic, RawMessageDelivery="true")
    entries = [{"Id": f"e{i}", "Message": f"message {i}"} for i in range(10)]
    answer = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
    assert [entry["Id"] for entry in answer["Successful"]] == [f"e{i}" for i in range(10)]
    assert answer.get("Failed", []) == []
    bodies = sorted(message["Body"] for message in receive(sqs, url, 10))
    assert bodies == sorted(f"message {i}" for i in range(10))
    errors = [
        ([], ("EmptyBatchRequest", 400, "The batch request doesn't contain any entries.")),
        (entries + [{"Id": "e10", "Message": "m"}],
         ("TooManyEntriesInBatchRequest", 400, "The batch request contains more entries than permissible.")),
        ([{"Id": "a", "Message": "m"}, {"Id": "a", "Message": "n"}],
         ("BatchEntryIdsNotDistinct", 400, "Two or more batch entries in the request have the same Id.")),
        ([{"Id": "bad id", "Message": "m"}],
         ("InvalidBatchEntryId", 400,
          "The Id of a batch entry in the batch request contains an impermissible character: bad id")),
        ([{"Id": f"e{i}", "Message": "x" * 30_000} for i in range(10)],
         ("BatchRequestTooLong", 400, "The length of all the messages put together is more than the limit.")),
    ]
    for batch, expected in errors:
        with pytest.raises(ClientError) as excinfo:
            sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=batch)
        assert error_of(excinfo) == expected


def test_fan_out_to_a_hundred_queues_does_not_block_the_publisher(sns, sqs, make_topic, make_queue):
    topic = make_topic("fan")
    urls = [make_queue("fan") for _ in range(100)]
    for url in urls:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn(sqs, url), Attributes={"RawMessageDelivery": "true"})
    started = time.monotonic()
    sns.publish(TopicArn=topic, Message="to everyone")
    elapsed = time.monotonic() - started
    # Accepting the message is one commit, whatever the number of subscribers.
    assert elapsed < 0.5, f"Publish took {elapsed:.3f}s with 100 subscribers"
    for url in urls:
        assert [m["Body"] for m in receive(sqs, url)] == ["to everyone"]


def test_a_message_accepted_before_kill_9_is_still_delivered(start_server):
    # Deliveries wait 3 s here, so the kill lands after Publish answered and before any delivery.
    server = start_server(KUMO_SNS_DELIVERY_DELAY_MS="3000")
    sns_client, sqs_client = server.client("sns"), server.client("sqs")
    url = sqs_client.create_queue(QueueName=unique_name("durable"))["QueueUrl"]
    arn = sqs_client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns_client.create_topic(Name=unique_name("durable"))["TopicArn"]
    sns_client.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    sns_client.publish(TopicArn=topic, Message="survives")
    assert sqs_client.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []
    server.kill()
    server.extra_env.pop("KUMO_SNS_DELIVERY_DELAY_MS")
    server.start()
    sqs_client = server.client("sqs")
    assert [m["Body"] for m in receive(sqs_client, url)] == ["survives"]
    assert f"{ACCOUNT}" in arn
