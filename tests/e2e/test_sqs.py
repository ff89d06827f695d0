"""SQS end to end: every operation through boto3 (AWS JSON 1.0), the AWS CLI, and the query
protocol over plain signed HTTP; AWS's error codes; visibility, delays, long polling, FIFO
ordering and deduplication, dead-letter queues and redrive, MD5s, and durability across
`kill -9`."""

import hashlib
import struct
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from e2e_support import ACCOUNT, CREDENTIALS, KumoServer, error_of, poll, unique_name

XMLNS = {"sqs": "http://queue.amazonaws.com/doc/2012-11-05/"}


def sqs_client(kumo, region="us-east-1"):
    """A boto3 SQS client for this server; no retries, long enough reads for long polls."""
    return boto3.session.Session().client(
        "sqs",
        endpoint_url=kumo.endpoint,
        region_name=region,
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=60),
        **CREDENTIALS,
    )


@pytest.fixture
def sqs(kumo):
    return sqs_client(kumo)


@pytest.fixture
def make_queue(sqs):
    """`make_queue(prefix="q", fifo=False, **attributes)` → queue URL; deleted after the test."""
    created = []

    def make(prefix="q", fifo=False, **attributes):
        name = unique_name(prefix) + (".fifo" if fifo else "")
        if fifo:
            attributes["FifoQueue"] = "true"
        url = sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
        created.append(url)
        return url

    yield make
    for url in created:
        try:
            sqs.delete_queue(QueueUrl=url)
        except ClientError:
            pass


def queue_arn(sqs, url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def md5_of_attributes(attributes):
    """MD5OfMessageAttributes computed independently, as AWS defines it."""
    digest = hashlib.md5()
    for name in sorted(attributes):
        value = attributes[name]
        for part in (name.encode(), value["DataType"].encode()):
            digest.update(struct.pack(">I", len(part)) + part)
        if "BinaryValue" in value:
            digest.update(b"\x02" + struct.pack(">I", len(value["BinaryValue"])) + value["BinaryValue"])
        else:
            encoded = value["StringValue"].encode()
            digest.update(b"\x01" + struct.pack(">I", len(encoded)) + encoded)
    return digest.hexdigest()


def receive_all(sqs, url, expected, timeout=10, **params):
    """Receives until `expected` messages arrived (deleting none)."""
    messages = []

    def more():
        messages.extend(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **params).get("Messages", []))
        return len(messages) >= expected

    poll(more, timeout=timeout, what=f"{expected} messages")
    return messages


def counts(sqs, url):
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        int(attributes["ApproximateNumberOfMessagesDelayed"]),
    )


# --------------------------------------------------------------------------------------------
# Queues


def test_queue_lifecycle_and_attributes(kumo, sqs, make_queue):
    url = make_queue("life", VisibilityTimeout=20, DelaySeconds=0)
    name = url.rsplit("/", 1)[1]
    assert url == f"{kumo.endpoint}/queue/us-east-1/{ACCOUNT}/{name}"
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    # Same attributes: idempotent. Different: QueueAlreadyExists.
    assert sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "20"})["QueueUrl"] == url
    with pytest.raises(ClientError) as excinfo:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "21"})
    code, status, message = error_of(excinfo)
    assert (code, status) == ("QueueAlreadyExists", 400)
    assert "VisibilityTimeout" in message

    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["QueueArn"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"
    assert attributes["VisibilityTimeout"] == "20"
    assert attributes["MaximumMessageSize"] == "1048576"
    assert attributes["MessageRetentionPeriod"] == "345600"
    assert attributes["DelaySeconds"] == "0"
    assert attributes["ReceiveMessageWaitTimeSeconds"] == "0"
    for key in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"):
        assert attributes[key] == "0"
    assert abs(int(attributes["CreatedTimestamp"]) - time.time()) < 60
    assert "FifoQueue" not in attributes

    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "69", "MaximumMessageSize": "2048"})
    named = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout", "MaximumMessageSize"])
    assert named["Attributes"] == {"VisibilityTimeout": "69", "MaximumMessageSize": "2048"}

    with pytest.raises(ClientError) as excinfo:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "43201"})
    assert error_of(excinfo)[:2] == ("InvalidAttributeValue", 400)
    with pytest.raises(ClientError) as excinfo:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Bogus": "1"})
    assert error_of(excinfo)[:2] == ("InvalidAttributeName", 400)
    with pytest.raises(ClientError) as excinfo:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Bogus"])
    assert error_of(excinfo)[:2] == ("InvalidAttributeName", 400)

    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(ClientError) as excinfo:
        sqs.get_queue_url(QueueName=name)
    assert error_of(excinfo) == ("AWS.SimpleQueueService.NonExistentQueue", 400, "The specified queue does not exist.")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=url, MessageBody="x")


def test_queue_names_and_types_are_validated(sqs, make_queue):
    for name, attributes in [
        ("bad.name", {}),
        ("x" * 81, {}),
        ("plain.fifo", {}),
        ("nofifosuffix", {"FifoQueue": "true"}),
    ]:
        with pytest.raises(ClientError) as excinfo:
            sqs.create_queue(QueueName=name, Attributes=attributes)
        assert error_of(excinfo)[:2] == ("InvalidParameterValue", 400), name
    url = make_queue("typed")
    with pytest.raises(ClientError) as excinfo:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"ContentBasedDeduplication": "true"})
    assert error_of(excinfo)[0] == "InvalidAttributeName"
    fifo = make_queue("typed", fifo=True)
    with pytest.raises(ClientError) as excinfo:
        sqs.set_queue_attributes(QueueUrl=fifo, Attributes={"FifoQueue": "false"})
    assert error_of(excinfo)[0] == "InvalidAttributeValue"


def test_list_queues_prefix_pagination_and_regions(kumo, sqs, make_queue):
    prefix = unique_name("lst")
    urls = sorted(sqs.create_queue(QueueName=f"{prefix}-{i}")["QueueUrl"] for i in range(5))
    try:
        assert sorted(sqs.list_queues(QueueNamePrefix=prefix)["QueueUrls"]) == urls
        page = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2)
        assert len(page["QueueUrls"]) == 2 and "NextToken" in page
        seen = list(page["QueueUrls"])
        while "NextToken" in page:
            page = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2, NextToken=page["NextToken"])
            seen.extend(page["QueueUrls"])
        assert seen == urls
        paginated = [u for p in sqs.get_paginator("list_queues").paginate(QueueNamePrefix=prefix, MaxResults=3) for u in p["QueueUrls"]]
        assert paginated == urls
        # Queues are per region.
        west = sqs_client(kumo, "us-west-2")
        assert west.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []) == []
        with pytest.raises(west.exceptions.QueueDoesNotExist):
            west.get_queue_url(QueueName=f"{prefix}-0")
        west_url = west.create_queue(QueueName=f"{prefix}-0")["QueueUrl"]
        assert west.get_queue_attributes(QueueUrl=west_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] == (
            f"arn:aws:sqs:us-west-2:{ACCOUNT}:{prefix}-0"
        )
        west.delete_queue(QueueUrl=west_url)
    finally:
        for url in urls:
            sqs.delete_queue(QueueUrl=url)


def test_tags(sqs):
    name = unique_name("tags")
    url = sqs.create_queue(QueueName=name, tags={"team": "a", "env": "dev"})["QueueUrl"]
    try:
        assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a", "env": "dev"}
        sqs.tag_queue(QueueUrl=url, Tags={"team": "b", "cost": ""})
        assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "b", "env": "dev", "cost": ""}
        sqs.untag_queue(QueueUrl=url, TagKeys=["team", "cost", "env"])
        assert sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) == {}
    finally:
        sqs.delete_queue(QueueUrl=url)


# --------------------------------------------------------------------------------------------
# Messages


def test_send_receive_delete_with_attributes_and_md5s(sqs, make_queue):
    url = make_queue("msg")
    attributes = {
        "color": {"DataType": "String", "StringValue": "red"},
        "count": {"DataType": "Number", "StringValue": "42"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xffbytes"},
        "unit.kind": {"DataType": "String.custom", "StringValue": "kg"},
    }
    body = "héllo wörld 😀"
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody=body,
        MessageAttributes=attributes,
        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793"}},
    )
    assert sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(attributes)
    assert "MD5OfMessageSystemAttributes" in sent

    before = int(time.time() * 1000)
    (message,) = sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"], WaitTimeSeconds=1
    )["Messages"]
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == body
    assert message["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert message["MessageAttributes"] == attributes
    assert message["MD5OfMessageAttributes"] == md5_of_attributes(attributes)
    system = message["Attributes"]
    assert system["ApproximateReceiveCount"] == "1"
    assert system["SenderId"] == "test"
    assert abs(int(system["SentTimestamp"]) - before) < 10_000
    assert int(system["ApproximateFirstReceiveTimestamp"]) >= int(system["SentTimestamp"])
    assert system["AWSTraceHeader"] == "Root=1-5759e988-bd862e3fe1be46a994272793"
    assert counts(sqs, url) == (0, 1, 0)

    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    # Deleting again is fine; a malformed handle is not.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    with pytest.raises(ClientError) as excinfo:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    assert error_of(excinfo)[:2] == ("ReceiptHandleIsInvalid", 400)
    assert counts(sqs, url) == (0, 0, 0)


def test_receive_attribute_selection(sqs, make_queue):
    url = make_queue("sel")
    attributes = {name: {"DataType": "String", "StringValue": value} for name, value in
                  [("General", "Kenobi"), ("Hello", "There"), ("Help.Me", "Me")]}
    sqs.send_message(QueueUrl=url, MessageBody="msg", MessageAttributes=attributes)

    def receive(**params):
        (message,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0, **params)["Messages"]
        return message

    plain = receive()
    assert "MessageAttributes" not in plain and "Attributes" not in plain
    assert receive(MessageAttributeNames=[".*"])["MD5OfMessageAttributes"] == "4c360f3fdafd970e05fae2f149d997f5"
    only = receive(MessageAttributeNames=["Hello", "General"])
    assert set(only["MessageAttributes"]) == {"Hello", "General"}
    assert only["MD5OfMessageAttributes"] == "fca026605781cb4126a1e9044df24232"
    prefixed = receive(MessageAttributeNames=["Help.*", "Hello"])
    assert set(prefixed["MessageAttributes"]) == {"Hello", "Help.Me"}
    assert prefixed["MD5OfMessageAttributes"] == "83fee93c1bcd8b9a5a923ffacdc636c7"
    named = receive(AttributeNames=["SenderId"], MessageSystemAttributeNames=["ApproximateReceiveCount"])
    assert set(named["Attributes"]) == {"SenderId", "ApproximateReceiveCount"}
    assert int(named["Attributes"]["ApproximateReceiveCount"]) == 5


def test_message_validation_errors(sqs, make_queue):
    url = make_queue("val")
    limit = 1_048_576
    # Exactly the maximum is accepted; one byte more is not.
    sqs.send_message(QueueUrl=url, MessageBody="a" * limit)
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="a" * (limit + 1))
    assert error_of(excinfo) == (
        "InvalidParameterValue",
        400,
        "One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes.",
    )
    small = make_queue("val", MaximumMessageSize=1024)
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=small, MessageBody="a" * 1025)
    assert "shorter than 1024 bytes" in error_of(excinfo)[2]
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="bad \x00 char")
    assert error_of(excinfo)[:2] == ("InvalidMessageContents", 400)
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes={"n": {"DataType": "Number", "StringValue": "abc"}})
    assert error_of(excinfo)[:2] == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes={"e": {"DataType": "String", "StringValue": ""}})
    assert error_of(excinfo)[2] == "Message (user) attribute 'e' must contain a non-empty value of type 'String'."
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes={"t": {"DataType": "Date", "StringValue": "x"}})
    assert error_of(excinfo)[0] == "InvalidParameterValue"
    too_many = {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)}
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=too_many)
    assert error_of(excinfo)[0] == "InvalidParameterValue"
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901)
    assert error_of(excinfo)[0] == "InvalidParameterValue"
    with pytest.raises(ClientError) as excinfo:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    assert error_of(excinfo)[2] == "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
    with pytest.raises(ClientError) as excinfo:
        sqs.receive_message(QueueUrl=url, WaitTimeSeconds=21)
    assert error_of(excinfo)[0] == "InvalidParameterValue"


def test_send_message_batch(sqs, make_queue):
    url = make_queue("batch")
    attributes = {"k": {"DataType": "String", "StringValue": "v"}}
    result = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "ok1", "MessageBody": "one", "MessageAttributes": attributes},
            {"Id": "bad", "MessageBody": "x", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "nan?"}}},
            {"Id": "ok2", "MessageBody": "two", "DelaySeconds": 0},
        ],
    )
    assert [entry["Id"] for entry in result["Successful"]] == ["ok1", "ok2"]
    assert result["Successful"][0]["MD5OfMessageAttributes"] == md5_of_attributes(attributes)
    assert result["Successful"][1]["MD5OfMessageBody"] == hashlib.md5(b"two").hexdigest()
    (failed,) = result["Failed"]
    assert failed["Id"] == "bad" and failed["SenderFault"] is True and failed["Code"] == "InvalidParameterValue"

    def batch_error(entries):
        with pytest.raises(ClientError) as excinfo:
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
        return error_of(excinfo)

    assert batch_error([])[:2] == ("AWS.SimpleQueueService.EmptyBatchRequest", 400)
    assert batch_error([{"Id": str(i), "MessageBody": "x"} for i in range(11)]) == (
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        400,
        "Maximum number of entries per request are 10. You have sent 11.",
    )
    assert batch_error([{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}])[0] == (
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    )
    assert batch_error([{"Id": "bad:id", "MessageBody": "x"}])[0] == "AWS.SimpleQueueService.InvalidBatchEntryId"
    too_long = batch_error([{"Id": "a", "MessageBody": "a" * 600_000}, {"Id": "b", "MessageBody": "b" * 600_000}])
    assert too_long[:2] == ("AWS.SimpleQueueService.BatchRequestTooLong", 400)
    assert counts(sqs, url)[0] == 2


def test_long_poll_returns_as_soon_as_a_message_arrives(sqs, make_queue):
    url = make_queue("poll")
    sender = sqs_client_like(sqs)

    def send_later():
        time.sleep(1.0)
        sender.send_message(QueueUrl=url, MessageBody="wake up")

    thread = threading.Thread(target=send_later)
    started = time.monotonic()
    thread.start()
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10).get("Messages", [])
    elapsed = time.monotonic() - started
    thread.join()
    assert [m["Body"] for m in messages] == ["wake up"]
    assert 0.9 <= elapsed < 2.5, elapsed

    # An empty long poll waits the whole time; the queue's default wait applies too.
    started = time.monotonic()
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []) == []
    assert 0.9 <= time.monotonic() - started < 2.5
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"ReceiveMessageWaitTimeSeconds": "1"})
    started = time.monotonic()
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    assert 0.9 <= time.monotonic() - started < 2.5


def sqs_client_like(client):
    """A second client on the same endpoint and region (boto3 clients are not thread-safe to share)."""
    return boto3.session.Session().client(
        "sqs",
        endpoint_url=client.meta.endpoint_url,
        region_name=client.meta.region_name,
        config=Config(retries={"total_max_attempts": 1}),
        **CREDENTIALS,
    )


def test_visibility_timeout_redelivery_and_receipt_handles(sqs, make_queue):
    url = make_queue("vis", VisibilityTimeout=30)
    sqs.send_message(QueueUrl=url, MessageBody="again")
    (first,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=1)["Messages"]
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    assert counts(sqs, url) == (0, 1, 0)
    started = time.monotonic()
    (second,) = sqs.receive_message(
        QueueUrl=url, WaitTimeSeconds=5, MessageSystemAttributeNames=["ApproximateReceiveCount"]
    )["Messages"]
    assert time.monotonic() - started < 2.5, "the long poll should wake when the visibility timeout ends"
    assert second["MessageId"] == first["MessageId"]
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"

    # A stale handle deletes nothing (and does not fail); the current one does.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    assert counts(sqs, url) == (0, 1, 0)
    # ChangeMessageVisibility(0) makes it receivable at once.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=0)
    (third,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=60)["Messages"]
    with pytest.raises(ClientError) as excinfo:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=10)
    assert error_of(excinfo)[0] == "InvalidParameterValue"
    with pytest.raises(ClientError) as excinfo:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"], VisibilityTimeout=43201)
    assert error_of(excinfo)[0] == "InvalidParameterValue"
    with pytest.raises(ClientError) as excinfo:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle="nonsense", VisibilityTimeout=10)
    assert error_of(excinfo)[0] == "ReceiptHandleIsInvalid"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"])
    assert counts(sqs, url) == (0, 0, 0)


def test_batch_delete_and_change_visibility(sqs, make_queue):
    url = make_queue("bdel")
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(4)])
    messages = receive_all(sqs, url, 4, VisibilityTimeout=60)
    changed = sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[{"Id": "a", "ReceiptHandle": messages[0]["ReceiptHandle"], "VisibilityTimeout": 0},
                 {"Id": "b", "ReceiptHandle": "bogus", "VisibilityTimeout": 0}],
    )
    assert [e["Id"] for e in changed["Successful"]] == ["a"]
    assert changed["Failed"][0]["Id"] == "b" and changed["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    poll(lambda: counts(sqs, url) == (1, 3, 0), what="one message visible again")
    deleted = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages[1:])]
        + [{"Id": "bad", "ReceiptHandle": "x"}],
    )
    assert sorted(e["Id"] for e in deleted["Successful"]) == ["d0", "d1", "d2"]
    assert deleted["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    assert counts(sqs, url) == (1, 0, 0)
    with pytest.raises(ClientError) as excinfo:
        sqs.delete_message_batch(QueueUrl=url, Entries=[])
    assert error_of(excinfo)[0] == "AWS.SimpleQueueService.EmptyBatchRequest"


def test_delays(sqs, make_queue):
    url = make_queue("delay", DelaySeconds=3)
    sqs.send_message(QueueUrl=url, MessageBody="queue delay")
    sqs.send_message(QueueUrl=url, MessageBody="no delay", DelaySeconds=0)
    sqs.send_message(QueueUrl=url, MessageBody="own delay", DelaySeconds=4)
    assert counts(sqs, url) == (1, 0, 2)
    (now,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert now["Body"] == "no delay"
    later = receive_all(sqs, url, 2, timeout=10)
    assert sorted(m["Body"] for m in later) == ["own delay", "queue delay"]


def test_purge_queue(sqs, make_queue):
    url = make_queue("purge")
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(5)])
    sqs.receive_message(QueueUrl=url)
    sqs.purge_queue(QueueUrl=url)
    assert counts(sqs, url) == (0, 0, 0)
    with pytest.raises(ClientError) as excinfo:
        sqs.purge_queue(QueueUrl=url)
    code, status, message = error_of(excinfo)
    assert (code, status) == ("AWS.SimpleQueueService.PurgeQueueInProgress", 403)
    assert "every 60 seconds" in message


# --------------------------------------------------------------------------------------------
# FIFO


def test_fifo_ordering_groups_and_sequence_numbers(sqs, make_queue):
    url = make_queue("order", fifo=True, ContentBasedDeduplication="true")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["FifoQueue"] == "true" and attributes["ContentBasedDeduplication"] == "true"
    sequence = []
    for i in range(6):
        group = "a" if i % 2 == 0 else "b"
        sent = sqs.send_message(QueueUrl=url, MessageBody=f"{group}{i}", MessageGroupId=group)
        sequence.append(int(sent["SequenceNumber"]))
    assert sequence == sorted(sequence) and len(set(sequence)) == 6

    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=30,
                                MessageSystemAttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in first] == ["a0", "a2"]
    assert first[0]["Attributes"]["MessageGroupId"] == "a"
    assert int(first[0]["Attributes"]["SequenceNumber"]) == sequence[0]
    # Group a is locked while its messages are in flight: only group b comes next.
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)["Messages"]
    assert [m["Body"] for m in second] == ["b1", "b3", "b5"]
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []
    for message in first:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in rest] == ["a4"]


def test_fifo_visibility_expiry_keeps_group_order(sqs, make_queue):
    url = make_queue("fvis", fifo=True)
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g", MessageDeduplicationId=f"d{i}")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=1)["Messages"]
    assert [m["Body"] for m in first] == ["m0"]
    again = receive_all(sqs, url, 1, timeout=5, VisibilityTimeout=30)
    assert again[0]["Body"] == "m0", "the expired message comes back before later ones"
    # Deleting with the handle of an expired receive fails on FIFO queues.
    with pytest.raises(ClientError) as excinfo:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    assert error_of(excinfo)[0] == "InvalidParameterValue"


def test_fifo_deduplication(sqs, make_queue):
    url = make_queue("dedup", fifo=True)
    one = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="same")
    two = sqs.send_message(QueueUrl=url, MessageBody="y", MessageGroupId="g", MessageDeduplicationId="same")
    assert two["MessageId"] == one["MessageId"]
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    # Still deduplicated after the delete (5-minute window).
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="same")
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []

    content = make_queue("cdedup", fifo=True, ContentBasedDeduplication="true")
    batch = sqs.send_message_batch(QueueUrl=content, Entries=[
        {"Id": "1", "MessageBody": "same body", "MessageGroupId": "g"},
        {"Id": "2", "MessageBody": "same body", "MessageGroupId": "h"},
        {"Id": "3", "MessageBody": "other body", "MessageGroupId": "g"},
    ])
    ids = [entry["MessageId"] for entry in batch["Successful"]]
    assert ids[0] == ids[1] and ids[2] != ids[0]
    assert len(receive_all(sqs, content, 2)) == 2

    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert error_of(excinfo) == ("MissingParameter", 400, "The request must contain the parameter MessageGroupId.")
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert error_of(excinfo)[2] == (
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"
    )
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="e", DelaySeconds=2)
    assert error_of(excinfo)[2] == (
        "Value 2 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type."
    )


# --------------------------------------------------------------------------------------------
# Dead-letter queues


def test_dead_letter_queue_and_redrive(sqs, make_queue):
    dlq = make_queue("dlq")
    dlq_arn = queue_arn(sqs, dlq)
    source = make_queue("src", RedrivePolicy=f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}')
    source_arn = queue_arn(sqs, source)
    sent = sqs.send_message(QueueUrl=source, MessageBody="poison")
    for receive in range(2):
        (message,) = sqs.receive_message(QueueUrl=source, VisibilityTimeout=0, WaitTimeSeconds=1)["Messages"]
        assert message["MessageId"] == sent["MessageId"]
    # The third receive exceeds maxReceiveCount: the message moves to the DLQ instead.
    assert sqs.receive_message(QueueUrl=source, WaitTimeSeconds=1).get("Messages", []) == []
    (dead,) = receive_all(sqs, dlq, 1, MessageSystemAttributeNames=["All"], VisibilityTimeout=0)
    assert dead["MessageId"] == sent["MessageId"] and dead["Body"] == "poison"
    assert dead["Attributes"]["DeadLetterQueueSourceArn"] == source_arn
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [source]

    policy = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    assert dlq_arn in policy
    with pytest.raises(ClientError) as excinfo:
        sqs.set_queue_attributes(QueueUrl=source, Attributes={"RedrivePolicy": '{"deadLetterTargetArn":"dummy","maxReceiveCount":3}'})
    assert error_of(excinfo)[0] == "InvalidParameterValue"

    # Redrive: the message goes back to its source queue.
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert handle
    (back,) = receive_all(sqs, source, 1)
    assert back["MessageId"] == sent["MessageId"]
    tasks = poll(lambda: [t for t in sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"] if t["Status"] == "COMPLETED"],
                 what="the move task to complete")
    assert tasks[0]["ApproximateNumberOfMessagesMoved"] == 1
    with pytest.raises(ClientError) as excinfo:
        sqs.start_message_move_task(SourceArn=source_arn)
    assert error_of(excinfo)[0] == "InvalidParameterValue"


# --------------------------------------------------------------------------------------------
# Other clients and protocols


def test_aws_cli(kumo):
    name = unique_name("cli")
    url = kumo.aws("sqs", "create-queue", "--queue-name", name)["QueueUrl"]
    try:
        sent = kumo.aws("sqs", "send-message", "--queue-url", url, "--message-body", "from the cli",
                        "--message-attributes", '{"k":{"DataType":"String","StringValue":"v"}}')
        assert sent["MD5OfMessageBody"] == hashlib.md5(b"from the cli").hexdigest()
        received = kumo.aws("sqs", "receive-message", "--queue-url", url, "--message-attribute-names", "All",
                            "--wait-time-seconds", "2")
        (message,) = received["Messages"]
        assert message["Body"] == "from the cli" and message["MessageAttributes"]["k"]["StringValue"] == "v"
        kumo.aws("sqs", "delete-message", "--queue-url", url, "--receipt-handle", message["ReceiptHandle"])
        attributes = kumo.aws("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")
        assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
        assert url in kumo.aws("sqs", "list-queues", "--queue-name-prefix", name)["QueueUrls"]
    finally:
        kumo.aws("sqs", "delete-queue", "--queue-url", url)


def query_request(kumo, params, path="/", method="POST", region="us-east-1"):
    """A SigV4-signed query-protocol request; returns (status, parsed XML root)."""
    encoded = urllib.parse.urlencode(params)
    if method == "GET":
        request = AWSRequest(method="GET", url=f"{kumo.endpoint}{path}?{encoded}")
    else:
        request = AWSRequest(method="POST", url=f"{kumo.endpoint}{path}", data=encoded.encode(),
                             headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials("test", "test"), "sqs", region).add_auth(request)
    prepared = request.prepare()
    http_request = urllib.request.Request(prepared.url, data=prepared.body, headers=dict(prepared.headers), method=method)
    try:
        with urllib.request.urlopen(http_request, timeout=30) as response:
            return response.status, ET.fromstring(response.read())
    except urllib.error.HTTPError as error:
        return error.code, ET.fromstring(error.read())


def test_query_protocol(kumo, sqs):
    name = unique_name("xml")
    status, root = query_request(kumo, {"Action": "CreateQueue", "Version": "2012-11-05", "QueueName": name,
                                        "Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "45"})
    assert status == 200 and root.tag == "{http://queue.amazonaws.com/doc/2012-11-05/}CreateQueueResponse"
    url = root.find("sqs:CreateQueueResult/sqs:QueueUrl", XMLNS).text
    assert url == f"{kumo.endpoint}/queue/us-east-1/{ACCOUNT}/{name}"
    assert root.find("sqs:ResponseMetadata/sqs:RequestId", XMLNS).text
    try:
        path = f"/{ACCOUNT}/{name}"
        # POST to the queue URL: the queue comes from the path.
        status, root = query_request(kumo, {
            "Action": "SendMessage", "MessageBody": "via query",
            "MessageAttribute.1.Name": "color", "MessageAttribute.1.Value.DataType": "String",
            "MessageAttribute.1.Value.StringValue": "blue",
        }, path=path)
        assert status == 200
        result = root.find("sqs:SendMessageResult", XMLNS)
        assert result.find("sqs:MD5OfMessageBody", XMLNS).text == hashlib.md5(b"via query").hexdigest()
        assert result.find("sqs:MD5OfMessageAttributes", XMLNS).text == md5_of_attributes(
            {"color": {"DataType": "String", "StringValue": "blue"}})
        # GET with parameters in the query string.
        status, root = query_request(kumo, {"Action": "ReceiveMessage", "AttributeName.1": "All",
                                            "MessageAttributeName.1": "All", "WaitTimeSeconds": "1"},
                                     path=path, method="GET")
        assert status == 200
        message = root.find("sqs:ReceiveMessageResult/sqs:Message", XMLNS)
        assert message.find("sqs:Body", XMLNS).text == "via query"
        system = {a.find("sqs:Name", XMLNS).text: a.find("sqs:Value", XMLNS).text
                  for a in message.findall("sqs:Attribute", XMLNS)}
        assert system["ApproximateReceiveCount"] == "1"
        attribute = message.find("sqs:MessageAttribute", XMLNS)
        assert attribute.find("sqs:Name", XMLNS).text == "color"
        assert attribute.find("sqs:Value/sqs:StringValue", XMLNS).text == "blue"
        handle = message.find("sqs:ReceiptHandle", XMLNS).text
        status, root = query_request(kumo, {"Action": "DeleteMessage", "QueueUrl": url, "ReceiptHandle": handle})
        assert status == 200 and root.find("sqs:ResponseMetadata", XMLNS) is not None
        status, root = query_request(kumo, {"Action": "GetQueueAttributes", "QueueUrl": url, "AttributeName.1": "All"})
        values = {a.find("sqs:Name", XMLNS).text: a.find("sqs:Value", XMLNS).text
                  for a in root.findall("sqs:GetQueueAttributesResult/sqs:Attribute", XMLNS)}
        assert values["VisibilityTimeout"] == "45" and values["ApproximateNumberOfMessages"] == "0"
        status, root = query_request(kumo, {"Action": "SendMessageBatch", "QueueUrl": url,
                                            "SendMessageBatchRequestEntry.1.Id": "a",
                                            "SendMessageBatchRequestEntry.1.MessageBody": "one",
                                            "SendMessageBatchRequestEntry.2.Id": "b",
                                            "SendMessageBatchRequestEntry.2.MessageBody": "two"})
        ids = [e.find("sqs:Id", XMLNS).text for e in root.findall("sqs:SendMessageBatchResult/sqs:SendMessageBatchResultEntry", XMLNS)]
        assert ids == ["a", "b"]
        # XML errors carry the legacy code.
        status, root = query_request(kumo, {"Action": "GetQueueUrl", "QueueName": "no-such-queue-" + name})
        assert status == 400 and root.tag.endswith("ErrorResponse")
        assert root.find("sqs:Error/sqs:Code", XMLNS).text == "AWS.SimpleQueueService.NonExistentQueue"
        assert root.find("sqs:Error/sqs:Type", XMLNS).text == "Sender"
        assert root.find("sqs:RequestId", XMLNS).text
        status, root = query_request(kumo, {"Action": "NoSuchAction"})
        assert status == 400 and root.find("sqs:Error/sqs:Code", XMLNS).text == "InvalidAction"
    finally:
        sqs.delete_queue(QueueUrl=url)


def test_json_errors_carry_the_query_code_header(kumo, sqs):
    """The raw JSON answer: `__type` with the JSON shape, `x-amzn-query-error` with the legacy code."""
    captured = {}

    def capture(http_response, **kwargs):
        captured["headers"] = dict(http_response.headers)
        captured["body"] = http_response.content

    sqs.meta.events.register("after-call.sqs.GetQueueUrl", capture)
    with pytest.raises(ClientError):
        sqs.get_queue_url(QueueName="missing-" + unique_name())
    assert b'"__type":"com.amazonaws.sqs#QueueDoesNotExist"' in captured["body"]
    assert captured["headers"]["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"


# --------------------------------------------------------------------------------------------
# Durability


def test_messages_survive_kill_9(spare_kumo):
    client = sqs_client(spare_kumo)
    url = client.create_queue(QueueName="durable", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    fifo = client.create_queue(QueueName="durable.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    bodies = {f"m{i}" for i in range(100)}
    for start in range(0, 100, 10):
        client.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, start + 10)])
    for i in range(5):
        client.send_message(QueueUrl=fifo, MessageBody=f"f{i}", MessageGroupId="g", MessageDeduplicationId=f"d{i}")
    # One message deleted, one in flight: after the restart 99 remain and the in-flight one returns.
    (gone,) = client.receive_message(QueueUrl=url, VisibilityTimeout=300)["Messages"]
    client.delete_message(QueueUrl=url, ReceiptHandle=gone["ReceiptHandle"])
    client.receive_message(QueueUrl=url, VisibilityTimeout=2)
    spare_kumo.kill()

    restarted = KumoServer(spare_kumo.data_dir, spare_kumo.log_path, port=spare_kumo.port, env=spare_kumo.extra_env).start()
    try:
        client = sqs_client(restarted)
        assert client.get_queue_url(QueueName="durable")["QueueUrl"] == url
        received = {}

        def drain():
            for message in client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", []):
                received[message["Body"]] = message
            return len(received) >= 99

        poll(drain, timeout=15, what="99 messages after the restart")
        assert set(received) == bodies - {gone["Body"]}
        ordered = [m["Body"] for m in client.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10)["Messages"]]
        assert ordered == [f"f{i}" for i in range(5)]
        # Deduplication ids are remembered across the restart too.
        client.send_message(QueueUrl=fifo, MessageBody="f0", MessageGroupId="g", MessageDeduplicationId="d0")
        assert counts(client, fifo) == (0, 5, 0)
    finally:
        restarted.stop()
