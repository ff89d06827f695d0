"""Per-operation API metrics (issue 11): every request that reaches a registered service counts
in `kumo_api_requests_total{service,operation,outcome}` and in the latency histogram
`kumo_api_request_duration_seconds{service,operation}`, which `/_kumo/metrics/prometheus` serves
in Prometheus' text format to the node's operator (a SigV4-signed request of the configured
account's root, as `/_kumo/status`)."""

import json
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from e2e_support import ACCOUNT, CREDENTIALS, unique_name

PATH = "/_kumo/metrics/prometheus"


def scrape(kumo, credentials=None):
    """Every sample of the exposition, `name{labels}` → value."""
    request = kumo.signed_request(PATH, credentials=credentials)
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def requests(service, operation, outcome):
    return f'kumo_api_requests_total{{service="{service}",operation="{operation}",outcome="{outcome}"}}'


def latency(service, operation, suffix):
    return f'kumo_api_request_duration_seconds_{suffix}{{service="{service}",operation="{operation}"}}'


def test_operations_count_by_outcome_with_their_latency(kumo):
    sqs, iam = kumo.client("sqs"), kumo.client("iam")
    before = scrape(kumo)
    url = sqs.create_queue(QueueName=unique_name("metrics"))["QueueUrl"]
    for index in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{index}")
    with pytest.raises(ClientError):
        sqs.get_queue_url(QueueName=unique_name("missing"))
    with pytest.raises(ClientError):
        iam.get_role(RoleName=unique_name("missing"))
    sqs.delete_queue(QueueUrl=url)
    after = scrape(kumo)

    def moved(key):
        return after[key] - before[key]

    assert moved(requests("sqs", "CreateQueue", "success")) == 1
    assert moved(requests("sqs", "SendMessage", "success")) == 3
    assert moved(requests("sqs", "SendMessage", "client_error")) == 0
    assert moved(requests("sqs", "GetQueueUrl", "client_error")) == 1
    assert moved(requests("sqs", "DeleteQueue", "success")) == 1
    assert moved(requests("iam", "GetRole", "client_error")) == 1
    assert moved(requests("sqs", "ReceiveMessage", "success")) == 0
    assert moved(latency("sqs", "SendMessage", "count")) == 3
    send_buckets = 'kumo_api_request_duration_seconds_bucket{service="sqs",operation="SendMessage",'
    buckets = [key for key in after if key.startswith(send_buckets)]
    assert len(buckets) == 17 and buckets[-1].endswith('le="+Inf"}') and moved(buckets[-1]) == 3
    assert 0 < moved(latency("sqs", "SendMessage", "sum")) < 30
    # Label sets are made when a service registers: every operation is there, bounded.
    assert requests("sts", "AssumeRole", "server_error") in after
    assert requests("iam", "unknown", "success") in after


def test_a_request_that_names_no_operation_counts_as_unknown(kumo):
    before = scrape(kumo)
    headers = {"X-Amz-Target": "AmazonSQS.NoSuchOperation", "Content-Type": "application/x-amz-json-1.0"}
    signed = AWSRequest(method="POST", url=kumo.endpoint + "/", data=b"{}", headers=headers)
    keys = Credentials(CREDENTIALS["aws_access_key_id"], CREDENTIALS["aws_secret_access_key"])
    SigV4Auth(keys, "sqs", "us-east-1").add_auth(signed)
    request = urllib.request.Request(signed.url, data=b"{}", headers=dict(signed.headers.items()), method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert json.load(refused.value)["__type"] == "com.amazonaws.sqs#UnknownOperationException"
    after = scrape(kumo)
    unknown = requests("sqs", "unknown", "client_error")
    assert after[unknown] - before[unknown] == 1
    assert not any("NoSuchOperation" in key for key in after), "client text never becomes a label"


def test_only_the_operator_reads_them(kumo):
    unsigned = urllib.request.Request(kumo.endpoint + PATH)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=30)
    assert refused.value.code == 403
    iam, sts = kumo.client("iam"), kumo.client("sts")
    role = unique_name("reader")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    try:
        session = sts.assume_role(RoleArn=arn, RoleSessionName="reader")["Credentials"]
        credentials = {
            "aws_access_key_id": session["AccessKeyId"],
            "aws_secret_access_key": session["SecretAccessKey"],
            "aws_session_token": session["SessionToken"],
        }
        with pytest.raises(urllib.error.HTTPError) as denied:
            scrape(kumo, credentials)
        assert denied.value.code == 403
        assert denied.value.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    finally:
        iam.delete_role(RoleName=role)


def test_lambda_operations_count_under_their_names(kumo, make_function):
    function = make_function("def handler(event, context):\n    return event\n")
    client = kumo.client("lambda")
    before = scrape(kumo)
    client.invoke(FunctionName=function.name, Payload=b"{}")
    client.invoke(FunctionName=function.name, Payload=b"{}")
    client.get_function(FunctionName=function.name)
    with pytest.raises(ClientError):
        client.get_function(FunctionName=unique_name("missing"))
    after = scrape(kumo)

    def moved(key):
        return after[key] - before[key]

    assert moved(requests("lambda", "Invoke", "success")) == 2
    assert moved(requests("lambda", "GetFunction", "success")) == 1
    assert moved(requests("lambda", "GetFunction", "client_error")) == 1
    assert moved(latency("lambda", "Invoke", "count")) == 2
    assert requests("lambda", "ListLayerVersions", "success") in after
