"""SQS answers compared whole with AWS's, on the wire: the AWS JSON 1.0 bodies current boto3
reads and the awsQuery XML that the AWS CLI v1 and older SDKs read. Generated values (ids,
receipt handles, timestamps, request ids) are masked; every other member must be there, with
AWS's name and value, and no other. The expected documents follow the examples of the Amazon SQS
API Reference (each action's "Examples" section) and responses recorded from AWS."""

import hashlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from e2e_support import ACCOUNT, unique_name
from test_sqs import md5_of_attributes

MASK = "<masked>"
NAMESPACE = "http://queue.amazonaws.com/doc/2012-11-05/"
# Members whose values AWS generates.
GENERATED = {"MessageId", "ReceiptHandle", "RequestId", "SentTimestamp", "ApproximateFirstReceiveTimestamp",
             "SenderId", "SequenceNumber"}


def send(kumo, method, path, body=b"", headers=None, region="us-east-1"):
    """A SigV4-signed request; (status, headers, body bytes)."""
    request = AWSRequest(method=method, url=f"{kumo.endpoint}{path}", data=body, headers=headers or {})
    SigV4Auth(Credentials("test", "test"), "sqs", region).add_auth(request)
    prepared = request.prepare()
    raw = urllib.request.Request(prepared.url, data=prepared.body or None, headers=dict(prepared.headers),
                                 method=method)
    try:
        with urllib.request.urlopen(raw, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def json_call(kumo, operation, body, region="us-east-1"):
    """An AWS JSON 1.0 call as boto3 makes it; (status, parsed body)."""
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{operation}"}
    status, _, raw = send(kumo, "POST", "/", json.dumps(body).encode(), headers, region)
    return status, json.loads(raw)


def query_call(kumo, params, path="/", method="POST", headers=None):
    """An awsQuery call; (status, headers, body text)."""
    encoded = urllib.parse.urlencode(params)
    if method == "GET":
        status, response_headers, raw = send(kumo, "GET", f"{path}?{encoded}" if encoded else path,
                                             headers=headers)
    else:
        form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", **(headers or {})}
        status, response_headers, raw = send(kumo, "POST", path, encoded.encode(), form)
    return status, response_headers, raw.decode()


def masked(value, name=None):
    """`value` with every generated member's value replaced by MASK."""
    if isinstance(value, dict):
        return {key: masked(item, key) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item, name) for item in value]
    return MASK if name in GENERATED else value


def xml_tree(text):
    """An XML document as nested (tag, text-or-children) pairs, namespace kept on the root only,
    generated values masked: element order and every element count."""
    def convert(element, parent=None):
        tag = element.tag.replace("{" + NAMESPACE + "}", "")
        children = list(element)
        if children:
            pairs = [convert(child) for child in children]
            # An attribute-map entry: mask the value of a generated name.
            names = dict(pairs)
            if tag == "Attribute" and names.get("Name") in GENERATED:
                pairs = [("Name", names["Name"]), ("Value", MASK)]
            return tag, pairs
        content = element.text or ""
        return tag, MASK if tag in GENERATED else content
    root = ET.fromstring(text)
    return root.tag, convert(root)[1]


def xml_of(expected):
    """The tree of an expected document written without whitespace between elements."""
    return xml_tree(re.sub(r">\s+<", "><", expected.strip()))


@pytest.fixture
def queue(kumo):
    """A fresh standard queue's (name, url); deleted after the test."""
    name = unique_name("wire")
    _, created = json_call(kumo, "CreateQueue", {"QueueName": name})
    yield name, created["QueueUrl"]
    json_call(kumo, "DeleteQueue", {"QueueUrl": created["QueueUrl"]})


# --------------------------------------------------------------------------------------------
# AWS JSON 1.0


def test_json_answers_whole(kumo, queue):
    name, url = queue
    assert url == f"{kumo.endpoint}/queue/us-east-1/{ACCOUNT}/{name}"
    assert json_call(kumo, "GetQueueUrl", {"QueueName": name}) == (200, {"QueueUrl": url})
    status, sent = json_call(kumo, "SendMessage", {
        "QueueUrl": url, "MessageBody": "This is a test message",
        "MessageAttributes": {"City": {"DataType": "String", "StringValue": "Any City"}}})
    body_md5 = hashlib.md5(b"This is a test message").hexdigest()
    attributes_md5 = md5_of_attributes({"City": {"DataType": "String", "StringValue": "Any City"}})
    assert (status, masked(sent)) == (200, {
        "MD5OfMessageBody": body_md5,
        "MD5OfMessageAttributes": attributes_md5,
        "MessageId": MASK,
    })
    status, received = json_call(kumo, "ReceiveMessage", {
        "QueueUrl": url, "MessageSystemAttributeNames": ["All"], "MessageAttributeNames": ["All"]})
    assert (status, masked(received)) == (200, {"Messages": [{
        "Attributes": {"ApproximateFirstReceiveTimestamp": MASK, "ApproximateReceiveCount": "1",
                       "SenderId": MASK, "SentTimestamp": MASK},
        "Body": "This is a test message",
        "MD5OfBody": body_md5,
        "MD5OfMessageAttributes": attributes_md5,
        "MessageAttributes": {"City": {"DataType": "String", "StringValue": "Any City"}},
        "MessageId": MASK,
        "ReceiptHandle": MASK,
    }]})
    assert received["Messages"][0]["MessageId"] == sent["MessageId"]
    handle = received["Messages"][0]["ReceiptHandle"]
    status, deleted = json_call(kumo, "DeleteMessageBatch", {
        "QueueUrl": url, "Entries": [{"Id": "a", "ReceiptHandle": handle}]})
    assert (status, deleted) == (200, {"Successful": [{"Id": "a"}]})
    status, batch = json_call(kumo, "SendMessageBatch", {
        "QueueUrl": url, "Entries": [{"Id": "one", "MessageBody": "x"}, {"Id": "two!", "MessageBody": "y"}]})
    assert status == 400 and batch["__type"] == "com.amazonaws.sqs#InvalidBatchEntryId"
    json_call(kumo, "SetQueueAttributes", {"QueueUrl": url, "Attributes": {"MaximumMessageSize": "1024"}})
    status, batch = json_call(kumo, "SendMessageBatch", {
        "QueueUrl": url, "Entries": [{"Id": "one", "MessageBody": "x"}, {"Id": "two", "MessageBody": "y" * 1025}]})
    assert (status, masked(batch)) == (200, {
        "Successful": [{"Id": "one", "MD5OfMessageBody": hashlib.md5(b"x").hexdigest(), "MessageId": MASK}],
        "Failed": [{"Id": "two", "SenderFault": True, "Code": "InvalidParameterValue",
                    "Message": "One or more parameters cannot be validated. "
                               "Reason: Message must be shorter than 1024 bytes."}],
    })


def test_json_omits_empty_collections(kumo, queue):
    name, url = queue
    assert json_call(kumo, "ReceiveMessage", {"QueueUrl": url}) == (200, {})
    assert json_call(kumo, "ListQueues", {"QueueNamePrefix": "no-such-prefix-" + name}) == (200, {})
    assert json_call(kumo, "ListQueueTags", {"QueueUrl": url}) == (200, {})
    assert json_call(kumo, "GetQueueAttributes", {"QueueUrl": url}) == (200, {})
    assert json_call(kumo, "ListDeadLetterSourceQueues", {"QueueUrl": url}) == (200, {})
    assert json_call(kumo, "ListQueues", {"QueueNamePrefix": name}) == (200, {"QueueUrls": [url]})


def test_json_missing_queue(kumo):
    status, body = json_call(kumo, "GetQueueUrl", {"QueueName": "missing-" + unique_name()})
    assert (status, body) == (400, {"__type": "com.amazonaws.sqs#QueueDoesNotExist",
                                    "message": "The specified queue does not exist."})


# --------------------------------------------------------------------------------------------
# awsQuery


def test_query_answers_whole(kumo, queue):
    name, url = queue
    path = urllib.parse.urlparse(url).path
    status, _, text = query_call(kumo, {"Action": "GetQueueUrl", "QueueName": name})
    assert status == 200
    assert xml_tree(text) == xml_of(f"""
        <GetQueueUrlResponse xmlns="{NAMESPACE}">
          <GetQueueUrlResult><QueueUrl>{url}</QueueUrl></GetQueueUrlResult>
          <ResponseMetadata><RequestId>x</RequestId></ResponseMetadata>
        </GetQueueUrlResponse>""")
    status, _, text = query_call(kumo, {"Action": "SendMessage", "MessageBody": "line\r\nbreak"}, path=path)
    assert status == 200
    assert "<MD5OfMessageBody>" in text
    # An empty result is one self-closing element.
    status, _, text = query_call(kumo, {"Action": "ListQueues", "QueueNamePrefix": "none-" + name})
    assert status == 200
    assert re.sub(r"<RequestId>[^<]*</RequestId>", "<RequestId/>", text) == (
        f'<ListQueuesResponse xmlns="{NAMESPACE}"><ListQueuesResult/>'
        "<ResponseMetadata><RequestId/></ResponseMetadata></ListQueuesResponse>")
    status, _, text = query_call(kumo, {"Action": "ReceiveMessage", "AttributeName.1": "All"}, path=path)
    assert status == 200
    # A carriage return is written as a character reference, so that it survives XML parsing.
    assert "<Body>line&#xD;\nbreak</Body>" in text
    assert xml_tree(text) == xml_of(f"""
        <ReceiveMessageResponse xmlns="{NAMESPACE}">
          <ReceiveMessageResult>
            <Message>
              <Attribute><Name>ApproximateFirstReceiveTimestamp</Name><Value>x</Value></Attribute>
              <Attribute><Name>ApproximateReceiveCount</Name><Value>1</Value></Attribute>
              <Attribute><Name>SenderId</Name><Value>x</Value></Attribute>
              <Attribute><Name>SentTimestamp</Name><Value>x</Value></Attribute>
              <Body>line&#xD;\nbreak</Body>
              <MD5OfBody>{hashlib.md5(b"line" + bytes([13, 10]) + b"break").hexdigest()}</MD5OfBody>
              <MessageId>x</MessageId>
              <ReceiptHandle>x</ReceiptHandle>
            </Message>
          </ReceiveMessageResult>
          <ResponseMetadata><RequestId>x</RequestId></ResponseMetadata>
        </ReceiveMessageResponse>""")
    status, _, text = query_call(kumo, {"Action": "ReceiveMessage"}, path=path)
    assert status == 200 and f"<ReceiveMessageResult/>" in text


def test_query_errors_whole(kumo, queue):
    name, url = queue
    path = urllib.parse.urlparse(url).path
    status, _, text = query_call(kumo, {"Action": "GetQueueUrl", "QueueName": "missing-" + name})
    assert status == 400
    assert xml_tree(text) == xml_of(f"""
        <ErrorResponse xmlns="{NAMESPACE}">
          <Error>
            <Type>Sender</Type>
            <Code>AWS.SimpleQueueService.NonExistentQueue</Code>
            <Message>The specified queue does not exist for this wsdl version.</Message>
            <Detail/>
          </Error>
          <RequestId>x</RequestId>
        </ErrorResponse>""")
    # Actions that act on no queue are not valid at a queue's URL; unknown actions nowhere.
    for action in ["CreateQueue", "ListQueues"]:
        status, _, text = query_call(kumo, {"Action": action, "QueueName": "other"}, path=path, method="GET")
        assert status == 400
        assert f"<Code>InvalidAction</Code><Message>The action {action} is not valid for this endpoint.</Message>" in text
    status, _, text = query_call(kumo, {"Action": "FooBar", "Version": "2012-11-05"}, path=path, method="GET")
    assert status == 400
    assert "<Type>Sender</Type><Code>InvalidAction</Code><Message>The action FooBar is not valid for this endpoint." in text
    # GetQueueUrl is valid there, for any queue.
    status, _, text = query_call(kumo, {"Action": "GetQueueUrl", "QueueName": name}, path=path, method="GET")
    assert status == 200 and f"<QueueUrl>{url}</QueueUrl>" in text
    # A GET of the queue's URL without an action: AWS's bare element, in XML whatever is accepted.
    status, _, text = query_call(kumo, {}, path=path, method="GET")
    assert (status, text) == (404, "<UnknownOperationException/>")
    status, _, text = query_call(kumo, {}, path=path, method="GET", headers={"Accept": "application/json"})
    assert (status, text) == (404, "<UnknownOperationException/>")


def test_query_empty_list_parameters(kumo, queue):
    """botocore's query serializer writes an empty list as the bare name (`AttributeName=`)."""
    _, url = queue
    status, _, text = query_call(kumo, {"Action": "GetQueueAttributes", "QueueUrl": url, "AttributeName": ""})
    assert status == 200 and "<GetQueueAttributesResult/>" in text
    status, _, text = query_call(kumo, {"Action": "SendMessageBatch", "QueueUrl": url,
                                        "SendMessageBatchRequestEntry": ""})
    assert status == 400 and "<Code>AWS.SimpleQueueService.EmptyBatchRequest</Code>" in text


def test_query_requests_accepting_json_are_answered_in_json(kumo, queue):
    """AWS's query endpoint answers `Accept: application/json` in JSON of the XML document's shape
    (recorded from AWS: `ReceiveMessageResponse.ReceiveMessageResult.messages[0].Body`); without
    it, XML."""
    name, url = queue
    accept = {"Accept": "application/json"}
    query_call(kumo, {"Action": "SendMessage", "QueueUrl": url, "MessageBody": "ba\rr"})
    status, headers, text = query_call(kumo, {"Action": "ReceiveMessage", "QueueUrl": url, "Version": "2012-11-05",
                                              "VisibilityTimeout": "0"}, method="GET", headers=accept)
    assert status == 200 and headers["Content-Type"] == "application/json"
    document = json.loads(text)
    assert document["ReceiveMessageResponse"]["ReceiveMessageResult"]["messages"][0]["Body"] == "ba\rr"
    status, _, text = query_call(kumo, {"Action": "ListQueues", "QueueNamePrefix": name}, method="GET", headers=accept)
    assert (status, masked(json.loads(text))) == (200, {"ListQueuesResponse": {
        "ListQueuesResult": {"queueUrls": [url]}, "ResponseMetadata": {"RequestId": MASK}}})
    status, _, text = query_call(kumo, {"Action": "ListQueues", "QueueNamePrefix": name}, method="GET")
    assert status == 200 and text.startswith("<ListQueuesResponse")
