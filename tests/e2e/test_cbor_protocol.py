"""Smithy RPC v2 CBOR with a real client (issue 11): botocore's `cloudwatch` client, and Kumo
started with `KUMO_TEST_SERVICES=1`, which serves a test-only CloudWatch (see
docs/architecture.md) under CloudWatch's Smithy name and signing name.

CloudWatch's model names `smithy-rpc-v2-cbor` as its protocol, but lists `json` and `query` too,
and botocore 1.44 picks by its own preference (`json` first). The clients here load CloudWatch's
own model with its `protocols` narrowed to `smithy-rpc-v2-cbor`, so botocore's CBOR serializer
and parser do the work, unchanged.

Data put with `PutMetricData` (timestamps as CBOR tag 1, doubles, nested lists and structures)
comes back through `ListMetrics` and `GetMetricData` with the right types; CloudWatch's errors
reach boto3 as `ClientError`s with their code, status and message, named as CloudWatch (an
`awsQueryCompatible` service) names them: the error shape's id in `__type`, its awsQuery code
and fault in `x-amzn-query-error`, which botocore reads as the error's code; every answer names its
protocol in `smithy-protocol`. A CBOR request signed for another service, a body nested deeper
than Kumo decodes and a body that is not CBOR are refused with CBOR errors."""

import datetime
import json
import math
import struct
import urllib.error
import urllib.request

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.parsers import RpcV2CBORParser

from e2e_support import KumoServer, unique_name

SMITHY_NAME = "GraniteServiceVersion20100801"
UTC = datetime.timezone.utc


@pytest.fixture(scope="module")
def kumo_test(tmp_path_factory):
    """A Kumo with the test-only services registered."""
    base = tmp_path_factory.mktemp("kumo-cbor")
    server = KumoServer(base / "data", base / "kumo.log", env={"KUMO_TEST_SERVICES": "1"})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cbor_model_path(tmp_path_factory):
    """A botocore data path holding CloudWatch's model with `smithy-rpc-v2-cbor` as its only protocol."""
    root = tmp_path_factory.mktemp("botocore-data")
    model = botocore.loaders.Loader().load_service_model("cloudwatch", "service-2")
    assert model["metadata"]["protocol"] == "smithy-rpc-v2-cbor"
    model["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
    directory = root / "cloudwatch" / model["metadata"]["apiVersion"]
    directory.mkdir(parents=True)
    (directory / "service-2.json").write_text(json.dumps(model))
    return root


def cbor_cloudwatch(server, data_path, **config):
    """botocore's CloudWatch client speaking CBOR to `server` (key test/test, no retries)."""
    session = botocore.session.get_session()
    session.set_config_variable("data_path", str(data_path))
    client = boto3.session.Session(botocore_session=session).client(
        "cloudwatch", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(retries={"total_max_attempts": 1}, **config))
    assert client.meta.service_model.resolved_protocol == "smithy-rpc-v2-cbor"
    return client


@pytest.fixture(scope="module")
def cloudwatch(kumo_test, cbor_model_path):
    client = cbor_cloudwatch(kumo_test, cbor_model_path)
    client.exchanges = []
    # The raw answers, for their headers.
    client.meta.events.register(
        "after-call.cloudwatch", lambda http_response, **_: client.exchanges.append(http_response))
    return client


def error_of(excinfo):
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def test_put_then_list_and_get_round_trip_types(cloudwatch):
    namespace = unique_name("Kumo/Cbor")
    start = datetime.datetime(2026, 1, 2, 3, 0, 0, tzinfo=UTC)
    whole = start + datetime.timedelta(seconds=7)  # an integer under tag 1
    fractional = start + datetime.timedelta(seconds=65, milliseconds=250)  # a double under tag 1
    dimensions = [{"Name": "Service", "Value": "checkout"}, {"Name": "Az", "Value": "b"}]
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "Latency", "Dimensions": dimensions, "Timestamp": whole, "Value": 1.5, "Unit": "Seconds"},
            {"MetricName": "Latency", "Dimensions": dimensions, "Timestamp": fractional,
             "Values": [0.25, 4.0], "Counts": [2.0, 1.0], "Unit": "Seconds"},
            {"MetricName": "Requests", "Timestamp": whole,
             "StatisticValues": {"SampleCount": 3.0, "Sum": 30.0, "Minimum": 5.0, "Maximum": 15.0}},
        ],
    )
    put_response = cloudwatch.exchanges[-1]
    assert put_response.status_code == 200
    assert put_response.headers["smithy-protocol"] == "rpc-v2-cbor"
    assert put_response.headers["content-type"] == "application/cbor"

    listed = cloudwatch.list_metrics(Namespace=namespace)["Metrics"]
    assert sorted(listed, key=lambda metric: metric["MetricName"]) == [
        {"Namespace": namespace, "MetricName": "Latency",
         "Dimensions": sorted(dimensions, key=lambda dimension: dimension["Name"])},
        {"Namespace": namespace, "MetricName": "Requests", "Dimensions": []},
    ]
    filtered = cloudwatch.list_metrics(Namespace=namespace, Dimensions=[{"Name": "Service", "Value": "checkout"}])
    assert [metric["MetricName"] for metric in filtered["Metrics"]] == ["Latency"]
    assert cloudwatch.list_metrics(Namespace=namespace, MetricName="Nope")["Metrics"] == []
    assert cloudwatch.exchanges[-1].headers["smithy-protocol"] == "rpc-v2-cbor"

    def query(id, metric_name, stat, dims=()):
        metric = {"Namespace": namespace, "MetricName": metric_name, "Dimensions": list(dims)}
        return {"Id": id, "MetricStat": {"Metric": metric, "Period": 60, "Stat": stat}, "ReturnData": True}

    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[query("sum", "Latency", "Sum", dimensions), query("max", "Latency", "Maximum", dimensions),
                           query("count", "Requests", "SampleCount"), query("avg", "Requests", "Average")],
        StartTime=start,
        EndTime=start + datetime.timedelta(minutes=5),
    )
    results = {result["Id"]: result for result in answer["MetricDataResults"]}
    # Newest period first; timestamps come back as datetimes, values as floats.
    assert results["sum"]["Timestamps"] == [start + datetime.timedelta(minutes=1), start]
    assert results["sum"]["Values"] == [4.5, 1.5]
    assert all(isinstance(value, float) for value in results["sum"]["Values"])
    assert results["max"]["Values"] == [4.0, 1.5]
    assert results["count"] == {"Id": "count", "Label": "Requests", "Timestamps": [start], "Values": [3.0],
                                "StatusCode": "Complete"}
    assert results["avg"]["Values"] == [10.0]
    ascending = cloudwatch.get_metric_data(
        MetricDataQueries=[query("sum", "Latency", "Sum", dimensions)], StartTime=start,
        EndTime=start + datetime.timedelta(minutes=5), ScanBy="TimestampAscending")
    assert ascending["MetricDataResults"][0]["Timestamps"] == [start, start + datetime.timedelta(minutes=1)]


def test_errors_reach_boto3_with_code_status_and_message(cloudwatch):
    with pytest.raises(ClientError) as excinfo:
        cloudwatch.put_metric_data(Namespace="AWS/EC2", MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert error_of(excinfo) == ("InvalidParameterValue", 400, "The value AWS/EC2 for parameter Namespace is invalid.")
    answer = cloudwatch.exchanges[-1]
    assert answer.headers["smithy-protocol"] == "rpc-v2-cbor"
    # As CloudWatch answers: the shape in `__type`, the awsQuery code and fault in the header,
    # which botocore makes the error's code (the shape's name kept as `QueryErrorCode`).
    assert answer.headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"
    raw = RpcV2CBORParser().parse_data_item(RpcV2CBORParser().get_peekable_stream_from_bytes(answer.content))
    assert raw["__type"] == "com.amazonaws.cloudwatch#InvalidParameterValueException"
    error = excinfo.value.response["Error"]
    assert (error["QueryErrorCode"], error["Type"]) == ("InvalidParameterValueException", "Sender")
    # The modeled exception class is raised, as for AWS's own answers.
    assert isinstance(excinfo.value, cloudwatch.exceptions.InvalidParameterValueException)

    # botocore sends NaN as CBOR's half-precision NaN; CloudWatch refuses it.
    with pytest.raises(ClientError) as excinfo:
        cloudwatch.put_metric_data(Namespace=unique_name("Kumo/Cbor"),
                                   MetricData=[{"MetricName": "m", "Value": 1.0}, {"MetricName": "m", "Value": math.nan}])
    assert error_of(excinfo) == ("InvalidParameterValue", 400, "The value NaN for parameter MetricData.member.2.Value is invalid.")

    with pytest.raises(ClientError) as excinfo:
        cloudwatch.put_metric_data(Namespace=unique_name("Kumo/Cbor"), MetricData=[
            {"MetricName": "m", "Value": 1.0,
             "StatisticValues": {"SampleCount": 1.0, "Sum": 1.0, "Minimum": 1.0, "Maximum": 1.0}}])
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidParameterCombination", 400)
    assert isinstance(excinfo.value, cloudwatch.exceptions.InvalidParameterCombinationException)
    assert "MetricData.member.1.Value and MetricData.member.1.StatisticValues are mutually exclusive" in message

    with pytest.raises(ClientError) as excinfo:
        cloudwatch.get_metric_data(MetricDataQueries=[], StartTime=datetime.datetime(2026, 1, 1, tzinfo=UTC),
                                   EndTime=datetime.datetime(2026, 1, 2, tzinfo=UTC), NextToken="bogus")
    assert error_of(excinfo) == ("InvalidNextToken", 400, "The token bogus is not valid.")
    assert isinstance(excinfo.value, cloudwatch.exceptions.InvalidNextToken)
    assert cloudwatch.exchanges[-1].headers["x-amzn-query-error"] == "InvalidNextToken;Sender"


def test_a_missing_required_member_is_cloudwatchs_missing_parameter(kumo_test, cbor_model_path):
    # botocore checks required members itself; without its validation the request goes out.
    client = cbor_cloudwatch(kumo_test, cbor_model_path, parameter_validation=False)
    with pytest.raises(ClientError) as excinfo:
        client.put_metric_data(MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert error_of(excinfo) == ("MissingParameter", 400, "The parameter Namespace is required.")
    assert isinstance(excinfo.value, client.exceptions.MissingRequiredParameterException)


def signed_cbor(server, operation, body, service="monitoring"):
    """A CBOR request to `operation` signed (key test/test) for `service`; returns (status,
    headers, parsed CBOR body)."""
    url = f"{server.endpoint}/service/{SMITHY_NAME}/operation/{operation}"
    headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor"}
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(Credentials("test", "test"), service, "us-east-1").add_auth(request)
    prepared = urllib.request.Request(url, data=body, headers=dict(request.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(prepared, timeout=10) as response:
            status, response_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, response_headers, raw = error.code, error.headers, error.read()
    parsed = RpcV2CBORParser().parse_data_item(RpcV2CBORParser().get_peekable_stream_from_bytes(raw)) if raw else {}
    return status, response_headers, parsed


def test_signed_for_another_service_is_refused_in_cbor(kumo_test):
    status, headers, body = signed_cbor(kumo_test, "ListMetrics", b"\xa0", service="sqs")
    assert status == 403
    assert headers["smithy-protocol"] == "rpc-v2-cbor" and headers["content-type"] == "application/cbor"
    assert body == {"__type": "com.amazonaws.cloudwatch#InvalidSignatureException",
                    "message": "Credential should be scoped to correct service: 'monitoring'."}
    assert headers["x-amzn-query-error"] == "InvalidSignatureException;Sender"
    # The same request signed for CloudWatch is answered.
    status, _, body = signed_cbor(kumo_test, "ListMetrics", b"\xa0")
    assert status == 200 and "Metrics" in body


def test_deep_or_malformed_cbor_is_refused_in_cbor(kumo_test):
    # {"Extra": [[[[...]]]]} 10,000 levels deep: a member the operation does not have is skipped,
    # but skipping it is bounded by the decoder's depth limit too.
    deep = b"\xa1\x65Extra" + b"\x81" * 10_000 + b"\x00"
    status, headers, body = signed_cbor(kumo_test, "ListMetrics", deep)
    assert status == 400
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert body["__type"] == "com.amazonaws.cloudwatch#SerializationException"
    assert "deeper than 64" in body["message"]
    # Truncated CBOR (a map that promises one entry and has none), and a double where a
    # structure belongs.
    status, _, body = signed_cbor(kumo_test, "ListMetrics", b"\xa1")
    assert (status, body["__type"]) == (400, "com.amazonaws.cloudwatch#SerializationException")
    status, _, body = signed_cbor(kumo_test, "ListMetrics", b"\xfb" + struct.pack(">d", 1.0))
    assert (status, body["__type"]) == (400, "com.amazonaws.cloudwatch#SerializationException")
    # An operation CloudWatch has but this test service does not.
    status, headers, body = signed_cbor(kumo_test, "DescribeAlarms", b"\xa0")
    assert (status, body["__type"]) == (404, "com.amazonaws.cloudwatch#UnknownOperationException")
    assert headers["smithy-protocol"] == "rpc-v2-cbor"


def test_a_bad_signature_is_refused_in_cbor(kumo_test, cbor_model_path):
    session = botocore.session.get_session()
    session.set_config_variable("data_path", str(cbor_model_path))
    client = boto3.session.Session(botocore_session=session).client(
        "cloudwatch", endpoint_url=kumo_test.endpoint, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="not-the-secret", config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(ClientError) as excinfo:
        client.list_metrics()
    code, status, _ = error_of(excinfo)
    assert (code, status) == ("InvalidSignatureException", 403)
