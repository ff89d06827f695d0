"""Hostile request bodies with real signatures: an SQS query key 30,000 levels deep (it aborted the
whole server, a stack overflow building the key tree), too many parameters, and a JSON body nested
100,000 deep each get an AWS error, and Kumo keeps serving."""

import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SQS_XMLNS = {"sqs": "http://queue.amazonaws.com/doc/2012-11-05/"}


def signed_query(kumo, body):
    request = AWSRequest(
        method="POST",
        url=kumo.endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials("test", "test"), "sqs", "us-east-1").add_auth(request)
    prepared = request.prepare()
    http_request = urllib.request.Request(prepared.url, data=prepared.body, headers=dict(prepared.headers), method="POST")
    try:
        with urllib.request.urlopen(http_request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_a_query_key_30000_levels_deep_is_an_aws_error(kumo):
    key = ".".join(["x"] * 30_000)
    status, answer = signed_query(kumo, urllib.parse.urlencode({"Action": "ListQueues", key: "1"}).encode())
    assert status == 400, answer[:300]
    root = ET.fromstring(answer)
    assert root.find("sqs:Error/sqs:Code", SQS_XMLNS).text == "InvalidParameterValue"
    assert "deeper than 16" in root.find("sqs:Error/sqs:Message", SQS_XMLNS).text
    assert kumo.process.poll() is None, kumo.log_tail()
    kumo.client("sqs").list_queues()


def test_too_many_parameters_are_an_aws_error(kumo):
    pairs = [("Action", "ListQueues")] + [(f"Attribute.{n}.Name", "x") for n in range(5000)]
    status, answer = signed_query(kumo, urllib.parse.urlencode(pairs).encode())
    assert status == 400, answer[:300]
    assert b"more than 4096 parameters" in answer


def test_a_json_body_nested_100000_deep_is_an_aws_error(kumo):
    body = ("[" * 100_000 + "]" * 100_000).encode()
    request = AWSRequest(
        method="POST",
        url=kumo.endpoint + "/",
        data=body,
        headers={"X-Amz-Target": "AmazonSQS.ListQueues", "Content-Type": "application/x-amz-json-1.0"},
    )
    SigV4Auth(Credentials("test", "test"), "sqs", "us-east-1").add_auth(request)
    prepared = request.prepare()
    http_request = urllib.request.Request(prepared.url, data=prepared.body, headers=dict(prepared.headers), method="POST")
    try:
        with urllib.request.urlopen(http_request, timeout=30) as response:
            status, answer = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, answer = error.code, error.read()
    assert status == 400, answer[:300]
    assert b"InvalidParameterValue" in answer or b"SerializationException" in answer, answer[:300]
    assert kumo.process.poll() is None, kumo.log_tail()
    kumo.client("sqs").list_queues()
