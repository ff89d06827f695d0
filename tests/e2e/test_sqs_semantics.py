"""SQS semantics as AWS has them, through boto3 (AWS JSON 1.0): FIFO delays and deduplication
after a purge and per message group, the X-Ray trace header, message attribute name filters,
`FifoQueue` attribute rules, fair queues (a group id on a standard queue), receive counts after
dead-lettering, message move tasks, AddPermission/RemovePermission and empty batches. Expected
answers are AWS's as recorded from it (generated values masked)."""

import base64
import json

import pytest
from botocore.exceptions import ClientError

from e2e_support import ACCOUNT, error_of, poll, unique_name
from test_sqs import make_queue, md5_of_attributes, queue_arn, sqs  # noqa: F401 (fixtures)


def error_response(excinfo):
    """The error as botocore parsed it, without response metadata."""
    response = dict(excinfo.value.response)
    response.pop("ResponseMetadata", None)
    return response


def test_fifo_delay_zero_keeps_the_queue_delay_and_purge_forgets_dedup_ids(sqs, make_queue):
    url = make_queue("fifodelay", fifo=True, DelaySeconds=2)
    sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g", MessageDeduplicationId="d", DelaySeconds=0)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert attributes["Attributes"] == {"ApproximateNumberOfMessagesDelayed": "1"}
    poll(lambda: sqs.receive_message(QueueUrl=url).get("Messages"), timeout=10, what="the delayed message")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "0"})
    sqs.purge_queue(QueueUrl=url)
    # The same deduplication id right after the purge is a new message.
    sent = sqs.send_message(QueueUrl=url, MessageBody="b", MessageGroupId="g", MessageDeduplicationId="d")
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)["Messages"]
    assert (message["Body"], message["MessageId"]) == ("b", sent["MessageId"])


def test_deduplication_per_message_group(sqs, make_queue):
    url = make_queue("scope", fifo=True, DeduplicationScope="messageGroup", FifoThroughputLimit="perMessageGroupId")
    first = sqs.send_message(QueueUrl=url, MessageBody="1", MessageGroupId="a", MessageDeduplicationId="same")
    second = sqs.send_message(QueueUrl=url, MessageBody="2", MessageGroupId="b", MessageDeduplicationId="same")
    repeat = sqs.send_message(QueueUrl=url, MessageBody="3", MessageGroupId="a", MessageDeduplicationId="same")
    assert first["MessageId"] != second["MessageId"] and repeat["MessageId"] == first["MessageId"]
    bodies = sorted(m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"])
    assert bodies == ["1", "2"]


def test_trace_header_becomes_the_aws_trace_header_attribute(sqs, make_queue):
    url = make_queue("trace")
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

    def add_header(request, **kwargs):
        request.headers["X-Amzn-Trace-Id"] = trace

    sqs.meta.events.register("before-sign.sqs.SendMessage", add_header)
    try:
        sent = sqs.send_message(QueueUrl=url, MessageBody="traced")
    finally:
        sqs.meta.events.unregister("before-sign.sqs.SendMessage", add_header)
    assert set(sent) - {"ResponseMetadata"} == {"MD5OfMessageBody", "MessageId"}
    (message,) = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["AWSTraceHeader"])["Messages"]
    assert message["Attributes"] == {"AWSTraceHeader": trace}


def test_message_attribute_name_filters(sqs, make_queue):
    url = make_queue("filters", VisibilityTimeout=0)
    attributes = {
        "Help.Me": {"DataType": "String", "StringValue": "Me"},
        "Hello": {"DataType": "String", "StringValue": "There"},
        "General": {"DataType": "String", "StringValue": "Kenobi"},
    }
    sqs.send_message(QueueUrl=url, MessageBody="msg", MessageAttributes=attributes)

    def received(names):
        (message,) = sqs.receive_message(QueueUrl=url, MessageAttributeNames=names, WaitTimeSeconds=1)["Messages"]
        return message.get("MessageAttributes"), message.get("MD5OfMessageAttributes")

    def expected(*names):
        chosen = {name: attributes[name] for name in names}
        return (chosen or None), (md5_of_attributes(chosen) if chosen else None)

    assert received([]) == expected()
    for everything in (["All"], ["*"], [".*"]):
        assert received(everything) == expected("Help.Me", "Hello", "General"), everything
    assert received(["Foo", "Help"]) == expected()
    assert received(["Hello", "General"]) == expected("Hello", "General")
    assert received(["Foo", "Hello"]) == expected("Hello")
    assert received(["Hel.*"]) == expected("Hello", "Help.Me")


def test_fifo_queue_attribute_rules(sqs, make_queue):
    name = unique_name("typed")
    cases = [
        ({"FifoQueue": "false"}, "InvalidAttributeName", "Unknown Attribute FifoQueue."),
        ({"ContentBasedDeduplication": "false"}, "InvalidAttributeName",
         "Unknown Attribute ContentBasedDeduplication."),
        ({"DeduplicationScope": "queue"}, "InvalidAttributeName",
         "You can specify the DeduplicationScope only when FifoQueue is set to true."),
        ({"FifoThroughputLimit": "perQueue"}, "InvalidAttributeName",
         "You can specify the FifoThroughputLimit only when FifoQueue is set to true."),
    ]
    for attributes, code, message in cases:
        with pytest.raises(ClientError) as excinfo:
            sqs.create_queue(QueueName=name, Attributes=attributes)
        assert error_response(excinfo) == {
            "Error": {"Code": code, "Message": message, "QueryErrorCode": code, "Type": "Sender"},
            "message": message,
        }
    standard, fifo = make_queue("std"), make_queue("fifo", fifo=True)
    for value in ("true", "false"):
        with pytest.raises(ClientError) as excinfo:
            sqs.set_queue_attributes(QueueUrl=standard, Attributes={"FifoQueue": value})
        assert error_of(excinfo) == ("InvalidAttributeName", 400, "Unknown Attribute FifoQueue.")
    sqs.set_queue_attributes(QueueUrl=fifo, Attributes={"FifoQueue": "true"})
    with pytest.raises(ClientError) as excinfo:
        sqs.set_queue_attributes(QueueUrl=fifo, Attributes={"FifoQueue": "false"})
    assert error_of(excinfo) == ("InvalidAttributeValue", 400,
                                 "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.")


def test_fair_queue_group_ids_on_standard_queues(sqs, make_queue):
    url = make_queue("fair")
    sqs.send_message(QueueUrl=url, MessageBody="tenant a", MessageGroupId="tenant-a")
    (message,) = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["MessageGroupId"])["Messages"]
    assert message["Attributes"] == {"MessageGroupId": "tenant-a"}
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="not valid")
    code, status, _ = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValue", 400)


def test_receive_count_continues_in_the_dead_letter_queue(sqs, make_queue):
    dlq = make_queue("dlq")
    source = make_queue("src", VisibilityTimeout=0,
                        RedrivePolicy=json.dumps({"deadLetterTargetArn": queue_arn(sqs, dlq), "maxReceiveCount": 1}))
    sqs.send_message(QueueUrl=source, MessageBody="message-1")
    assert len(sqs.receive_message(QueueUrl=source)["Messages"]) == 1
    # The second receive moves it to the dead-letter queue.
    assert sqs.receive_message(QueueUrl=source).get("Messages") is None
    (message,) = poll(lambda: sqs.receive_message(QueueUrl=dlq, MessageSystemAttributeNames=["All"]).get("Messages"),
                      timeout=10, what="the dead-lettered message")
    assert message["Attributes"]["ApproximateReceiveCount"] == "2"
    assert message["Attributes"]["DeadLetterQueueSourceArn"] == queue_arn(sqs, source)


def dead_letter_queue_with(sqs, make_queue, count):
    """A dead-letter queue holding `count` messages from its source; (source, dlq) URLs."""
    dlq = make_queue("movedlq")
    source = make_queue("movesrc", VisibilityTimeout=0,
                        RedrivePolicy=json.dumps({"deadLetterTargetArn": queue_arn(sqs, dlq), "maxReceiveCount": 1}))
    for i in range(count):
        sqs.send_message(QueueUrl=source, MessageBody=f"message-{i}")

    def all_moved():
        sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10)
        attributes = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
        return attributes["Attributes"]["ApproximateNumberOfMessages"] == str(count)

    poll(all_moved, timeout=15, what="messages in the dead-letter queue")
    return source, dlq


def test_message_move_tasks(sqs, make_queue):
    source, dlq = dead_letter_queue_with(sqs, make_queue, 10)
    destination = make_queue("movedst")
    dlq_arn, destination_arn = queue_arn(sqs, dlq), queue_arn(sqs, destination)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=destination_arn,
                                         MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    document = json.loads(base64.b64decode(handle))
    assert list(document) == ["taskId", "sourceArn"] and document["sourceArn"] == dlq_arn
    # One running task per source.
    with pytest.raises(ClientError) as excinfo:
        sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=destination_arn, MaxNumberOfMessagesPerSecond=1)
    assert error_of(excinfo) == ("InvalidParameterValue", 400, "There is already a task running. Only one active "
                                 "task is allowed for a source queue arn at a given time.")
    # The destination disappears: the task fails and the rest stays in the dead-letter queue.
    sqs.delete_queue(QueueUrl=destination)

    def finished():
        (task,) = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
        return task if task["Status"] != "RUNNING" else None

    task = poll(finished, timeout=20, what="the move task to fail")
    moved = task["ApproximateNumberOfMessagesMoved"]
    assert task == {
        "ApproximateNumberOfMessagesMoved": moved,
        "ApproximateNumberOfMessagesToMove": 10,
        "DestinationArn": destination_arn,
        "FailureReason": "AWS.SimpleQueueService.NonExistentQueue",
        "MaxNumberOfMessagesPerSecond": 1,
        "SourceArn": dlq_arn,
        "StartedTimestamp": task["StartedTimestamp"],
        "Status": "FAILED",
    }
    assert moved < 10
    left = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert left == {"ApproximateNumberOfMessages": str(10 - moved)}


def test_cancel_message_move_task_errors(sqs, make_queue):
    with pytest.raises(ClientError) as excinfo:
        sqs.cancel_message_move_task(TaskHandle="foobared")
    assert error_response(excinfo) == {"Error": {
        "Code": "InvalidParameterValue", "Message": "Value for parameter TaskHandle is invalid.",
        "QueryErrorCode": "InvalidParameterValueException", "Type": "Sender"}}

    def handle(source_arn):
        text = '{"taskId":"10f57157-fc38-4da9-a113-4de7e12d05dd","sourceArn":"%s"}' % source_arn
        return base64.b64encode(text.encode()).decode()

    with pytest.raises(ClientError) as excinfo:
        sqs.cancel_message_move_task(TaskHandle=handle(f"arn:aws:sqs:us-east-1:{ACCOUNT}:no-such-queue-{unique_name()}"))
    message = "The resource that you specified for the SourceArn parameter doesn't exist."
    assert error_response(excinfo) == {
        "Error": {"Code": "ResourceNotFoundException", "Message": message,
                  "QueryErrorCode": "ResourceNotFoundException", "Type": "Sender"},
        "message": message}
    url = make_queue("nomove")
    with pytest.raises(ClientError) as excinfo:
        sqs.cancel_message_move_task(TaskHandle=handle(queue_arn(sqs, url)))
    assert error_of(excinfo) == ("ResourceNotFoundException", 404, "Task does not exist.")


def test_add_and_remove_permission(sqs, make_queue):
    url = make_queue("perm")
    arn = queue_arn(sqs, url)
    assert set(sqs.add_permission(QueueUrl=url, Label="crossaccountpermission", AWSAccountIds=[ACCOUNT, "668614515564"],
                                  Actions=["ReceiveMessage"])) == {"ResponseMetadata"}
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert policy == {
        "Version": "2008-10-17",
        "Id": f"{arn}/SQSDefaultPolicy",
        "Statement": [{
            "Sid": "crossaccountpermission",
            "Effect": "Allow",
            "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:root", "arn:aws:iam::668614515564:root"]},
            "Action": "SQS:ReceiveMessage",
            "Resource": arn,
        }],
    }
    with pytest.raises(ClientError) as excinfo:
        sqs.add_permission(QueueUrl=url, Label="crossaccountpermission", AWSAccountIds=[ACCOUNT],
                           Actions=["SendMessage"])
    assert error_response(excinfo) == {"Error": {
        "Code": "InvalidParameterValue",
        "Message": "Value crossaccountpermission for parameter Label is invalid. Reason: Already exists.",
        "QueryErrorCode": "InvalidParameterValueException", "Type": "Sender"}}
    sqs.add_permission(QueueUrl=url, Label="second", AWSAccountIds=[ACCOUNT], Actions=["SendMessage", "DeleteMessage"])
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert policy["Statement"][1] == {"Sid": "second", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                      "Action": ["SQS:SendMessage", "SQS:DeleteMessage"], "Resource": arn}
    sqs.remove_permission(QueueUrl=url, Label="crossaccountpermission")
    sqs.remove_permission(QueueUrl=url, Label="second")
    # The policy goes with its last statement.
    assert set(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])) == {"ResponseMetadata"}
    with pytest.raises(ClientError) as excinfo:
        sqs.remove_permission(QueueUrl=url, Label="second")
    assert error_of(excinfo) == ("InvalidParameterValue", 400,
                                 "Value second for parameter Label is invalid. Reason: can't find label.")


def test_empty_batches(sqs, make_queue):
    url = make_queue("emptybatch")
    for call, shape in [(sqs.send_message_batch, "SendMessageBatchRequestEntry"),
                        (sqs.delete_message_batch, "DeleteMessageBatchRequestEntry"),
                        (sqs.change_message_visibility_batch, "ChangeMessageVisibilityBatchRequestEntry")]:
        with pytest.raises(ClientError) as excinfo:
            call(QueueUrl=url, Entries=[])
        assert error_of(excinfo) == ("AWS.SimpleQueueService.EmptyBatchRequest", 400,
                                     f"There should be at least one {shape} in the request.")


def test_fifo_groups_take_turns(sqs, make_queue):
    """AWS's recorded order: the receive after one that served groups 1 and 2 starts with group 3."""
    url = make_queue("turns", fifo=True, ContentBasedDeduplication="true")
    for body in ["g1-m1", "g2-m1", "g2-m2", "g3-m1", "g1-m2"]:
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=body.split("-")[0])

    def bodies(count):
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=count, VisibilityTimeout=0)
        return [message["Body"] for message in received["Messages"]]

    assert bodies(3) == ["g1-m1", "g1-m2", "g2-m1"]
    assert bodies(10) == ["g3-m1", "g1-m1", "g1-m2", "g2-m1", "g2-m2"]


def test_fifo_message_visible_again_returns_while_its_group_has_others_in_flight(sqs, make_queue):
    url = make_queue("pervisibility", fifo=True, ContentBasedDeduplication="true", VisibilityTimeout=30)
    for body in ["g1-m1", "g1-m2", "g2-m1"]:
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=body.split("-")[0])
    first, second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    assert (first["Body"], second["Body"]) == ("g1-m1", "g1-m2")
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0)
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3)["Messages"]
    assert [message["Body"] for message in received] == ["g2-m1", "g1-m1"]


@pytest.mark.parametrize("requeue", ["change", "change_batch", "expire"])
def test_requeued_message_comes_back_before_newer_ones(sqs, make_queue, requeue):
    # A standard queue is best-effort first in, first out by send order: a message whose
    # visibility ends goes back where it was, not behind messages sent after it.
    url = make_queue("requeue")
    first = sqs.send_message(QueueUrl=url, MessageBody="first")["MessageId"]
    second = sqs.send_message(QueueUrl=url, MessageBody="second")["MessageId"]
    if requeue == "expire":
        (taken,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=1)["Messages"]
    else:
        (taken,) = sqs.receive_message(QueueUrl=url)["Messages"]
    assert taken["MessageId"] == first
    if requeue == "change":
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=taken["ReceiptHandle"], VisibilityTimeout=0)
    elif requeue == "change_batch":
        result = sqs.change_message_visibility_batch(
            QueueUrl=url, Entries=[{"Id": "a", "ReceiptHandle": taken["ReceiptHandle"], "VisibilityTimeout": 0}]
        )
        assert [entry["Id"] for entry in result["Successful"]] == ["a"]
    else:

        def visible():
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
            return attributes["Attributes"]["ApproximateNumberOfMessages"] == "2"

        poll(visible, timeout=10, what="the first message's visibility timeout to end")
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"])
    messages = received["Messages"]
    assert [message["MessageId"] for message in messages] == [first, second]
    assert [message["Attributes"]["ApproximateReceiveCount"] for message in messages] == ["2", "1"]


@pytest.mark.parametrize("name", ["öther_encodings", "名前", "caf\u00e9", "Ω.x"])
def test_non_ascii_message_attribute_names_are_refused(sqs, make_queue, name):
    # The documented name alphabet is A-Z, a-z, 0-9, underscore, hyphen and period only.
    url = make_queue("names")
    attributes = {name: {"DataType": "String", "StringValue": "v"}}
    with pytest.raises(ClientError) as excinfo:
        sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes=attributes)
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValue", 400)
    assert f"'{name}'" in message
    batch = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "bad", "MessageBody": "m", "MessageAttributes": attributes},
            {"Id": "good", "MessageBody": "m", "MessageAttributes": {"ascii": attributes[name]}},
        ],
    )
    assert [entry["Id"] for entry in batch["Successful"]] == ["good"]
    (failed,) = batch["Failed"]
    assert (failed["Id"], failed["Code"], failed["SenderFault"]) == ("bad", "InvalidParameterValue", True)
    # A receive filter naming a non-ASCII attribute matches nothing, and the stored one is whole.
    (received,) = sqs.receive_message(QueueUrl=url, MessageAttributeNames=[name, f"{name}.*"])["Messages"]
    assert "MessageAttributes" not in received
    attributes_after = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert attributes_after["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"
