"""The protocol layer against hostile and edge input, with real signatures: a query key 30,000
levels deep and a JSON body nested 100,000 deep each get an AWS error and Kumo keeps serving; a
declared body over the operation's limit is refused before it is read; every answer carries the
request's one id; a request signed for S3 never reaches Lambda's paths."""

import json
import socket
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
import pytest

from e2e_support import unique_name

SQS_XMLNS = {"sqs": "http://queue.amazonaws.com/doc/2012-11-05/"}
IAM_XMLNS = {"iam": "https://iam.amazonaws.com/doc/2010-05-08/"}
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def signed(kumo, service, body=b"", headers=None, path="/", method="POST"):
    """A SigV4-signed request; returns (status, headers, body)."""
    request = AWSRequest(method=method, url=f"{kumo.endpoint}{path}", data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials("test", "test"), service, "us-east-1").add_auth(request)
    prepared = request.prepare()
    http_request = urllib.request.Request(prepared.url, data=prepared.body, headers=dict(prepared.headers),
                                          method=method)
    try:
        with urllib.request.urlopen(http_request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def assert_still_serving(kumo):
    assert kumo.process.poll() is None, f"kumo died:\n{kumo.log_tail()}"
    kumo.client("sqs").list_queues()
    assert kumo.client("sts").get_caller_identity()["Account"] == "000000000000"


@pytest.mark.parametrize("service, xmlns, code", [
    ("sqs", SQS_XMLNS, "InvalidParameterValue"),
    ("iam", IAM_XMLNS, "MalformedQueryString"),
])
def test_a_query_key_30000_levels_deep_is_an_aws_error(kumo, service, xmlns, code):
    key = ".".join(["x"] * 30_000)
    action = "ListQueues" if service == "sqs" else "ListRoles"
    body = urllib.parse.urlencode({"Action": action, key: "1"}).encode()
    status, headers, answer = signed(kumo, service, body, FORM)
    assert status == 400, answer[:300]
    root = ET.fromstring(answer)
    prefix = next(iter(xmlns))
    assert root.find(f"{prefix}:Error/{prefix}:Code", xmlns).text == code
    assert "deeper than 16" in root.find(f"{prefix}:Error/{prefix}:Message", xmlns).text
    assert root.find(f"{prefix}:RequestId", xmlns).text == headers["x-amzn-RequestId"]
    assert_still_serving(kumo)


def test_a_json_body_nested_100000_deep_is_an_aws_error(kumo):
    body = ("[" * 100_000 + "]" * 100_000).encode()
    headers = {"X-Amz-Target": "AmazonSQS.ListQueues", "Content-Type": "application/x-amz-json-1.0"}
    status, answer_headers, answer = signed(kumo, "sqs", body, headers)
    assert status == 400, answer[:300]
    error = json.loads(answer)
    assert error["__type"] == "com.amazonaws.sqs#InvalidParameterValueException"
    assert "deeper than 128" in error["message"]
    assert answer_headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"
    assert answer_headers["x-amzn-RequestId"]
    assert_still_serving(kumo)


def test_a_declared_body_over_the_operations_limit_is_refused_before_it_is_read(kumo):
    # 100 MB declared, 16 bytes sent: the answer comes before Kumo waits for (or buffers) the rest.
    head = (
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: AmazonSQS.ListQueues\r\n"
        "Content-Type: application/x-amz-json-1.0\r\nContent-Length: 100000000\r\n"
        "Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, "
        "SignedHeaders=host, Signature=00\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", kumo.port), timeout=10) as connection:
        connection.sendall(head.encode() + b'{"QueueName": 1}')
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert b" 413 " in status_line, answer[:300]
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["__type"] == "com.amazonaws.sqs#RequestEntityTooLargeException"
    assert_still_serving(kumo)


def test_every_answer_carries_the_requests_one_id(kumo):
    sqs = kumo.client("sqs")
    answer = sqs.list_queues()
    metadata = answer["ResponseMetadata"]
    assert metadata["RequestId"] == metadata["HTTPHeaders"]["x-amzn-requestid"]
    second = sqs.list_queues()["ResponseMetadata"]["RequestId"]
    assert second != metadata["RequestId"]

    # awsQuery errors: the XML's RequestId is the header's.
    with pytest.raises(ClientError) as caught:
        kumo.client("iam").get_role(RoleName=unique_name("missing"))
    metadata = caught.value.response["ResponseMetadata"]
    assert caught.value.response["Error"]["Code"] == "NoSuchEntity"
    assert metadata["RequestId"] == metadata["HTTPHeaders"]["x-amzn-requestid"]

    # SQS's query form, success and error.
    name = unique_name("ids")
    form = urllib.parse.urlencode({"Action": "CreateQueue", "QueueName": name}).encode()
    status, headers, answer = signed(kumo, "sqs", form, FORM)
    assert status == 200
    root = ET.fromstring(answer)
    assert root.find("sqs:ResponseMetadata/sqs:RequestId", SQS_XMLNS).text == headers["x-amzn-RequestId"]
    try:
        form = urllib.parse.urlencode({"Action": "GetQueueUrl", "QueueName": unique_name("none")}).encode()
        status, headers, answer = signed(kumo, "sqs", form, FORM)
        assert status == 400
        root = ET.fromstring(answer)
        assert root.find("sqs:Error/sqs:Code", SQS_XMLNS).text == "AWS.SimpleQueueService.NonExistentQueue"
        assert root.find("sqs:RequestId", SQS_XMLNS).text == headers["x-amzn-RequestId"]
    finally:
        sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])

    # restJson1 (Lambda) errors carry it too.
    with pytest.raises(ClientError) as caught:
        kumo.lambda_client().get_function(FunctionName=unique_name("missing"))
    assert caught.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_a_request_signed_for_s3_never_reaches_lambdas_paths(kumo):
    # An S3 path-style request for a bucket named `2015-03-31`: Lambda's ListFunctions path, which
    # S3 answers (GetObject of a bucket that does not exist).
    status, _, answer = signed(kumo, "s3", path="/2015-03-31/functions/", method="GET")
    assert status == 404, answer[:300]
    assert b"<Code>NoSuchBucket</Code>" in answer and b"Functions" not in answer
    # The same path signed for Lambda is Lambda's.
    status, _, answer = signed(kumo, "lambda", path="/2015-03-31/functions/", method="GET")
    assert status == 200 and "Functions" in json.loads(answer)
