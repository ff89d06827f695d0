"""SigV4: Kumo verifies every AWS request's signature against its access keys."""

import json
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e_support import error_of


def client_with(kumo, access_key, secret_key):
    return boto3.session.Session().client(
        "lambda",
        endpoint_url=kumo.endpoint,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(retries={"total_max_attempts": 1}),
    )


def test_a_wrong_secret_is_rejected(kumo):
    with pytest.raises(ClientError) as excinfo:
        client_with(kumo, "test", "not-the-secret").list_functions()
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidSignatureException", 403)
    assert message.startswith("The request signature we calculated does not match the signature you provided.")


def test_an_unknown_access_key_is_rejected(kumo):
    with pytest.raises(ClientError) as excinfo:
        client_with(kumo, "AKIDUNKNOWN", "test").get_account_settings()
    assert error_of(excinfo)[:2] == ("UnrecognizedClientException", 403)


def test_an_unsigned_request_is_rejected_and_changes_nothing(kumo):
    body = json.dumps({"FunctionName": "unsigned", "Runtime": "python3.12", "Role": "x", "Handler": "a.b"}).encode()
    request = urllib.request.Request(kumo.endpoint + "/2015-03-31/functions", data=body, method="POST")
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=5)
    assert excinfo.value.code == 403
    assert excinfo.value.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    names = [f["FunctionName"] for f in kumo.lambda_client().list_functions()["Functions"]]
    assert "unsigned" not in names


def test_a_tampered_body_is_rejected(kumo, make_function):
    function = make_function("def handler(event, context):\n    return event\n")
    client = function.client

    def tamper(request, **_):
        request.body = b'{"tampered": true}'

    client.meta.events.register_first("before-send.lambda.Invoke", tamper)
    try:
        with pytest.raises(ClientError) as excinfo:
            client.invoke(FunctionName=function.name, Payload=b'{"original": true}')
    finally:
        client.meta.events.unregister("before-send.lambda.Invoke", tamper)
    assert error_of(excinfo)[1] in (400, 403)
    assert error_of(excinfo)[0] == "InvalidSignatureException"
    assert function.invoke({"original": True}).payload == {"original": True}


def test_an_unsigned_payload_marker_does_not_unsign_a_lambda_body(kumo, make_function):
    """Only S3 takes `UNSIGNED-PAYLOAD` (or a streaming marker) as what was signed; for Lambda the
    body's own hash is, so a body swapped under a valid signature is refused, as on AWS."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    function = make_function("def handler(event, context):\n    return event\n")

    class UnsignedPayload(SigV4Auth):
        def payload(self, request):
            return "UNSIGNED-PAYLOAD"

    def send(body):
        request = AWSRequest(
            method="POST",
            url=f"{kumo.endpoint}/2015-03-31/functions/{function.name}/invocations",
            data=b'{"original": true}',
            headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD", "Content-Type": "application/json"},
        )
        UnsignedPayload(Credentials("test", "test"), "lambda", "us-east-1").add_auth(request)
        prepared = request.prepare()
        raw = urllib.request.Request(prepared.url, data=body, headers=dict(prepared.headers), method="POST")
        try:
            with urllib.request.urlopen(raw, timeout=10) as response:
                return response.status, response.headers.get("x-amzn-ErrorType")
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("x-amzn-ErrorType")

    assert send(b'{"tampered": true}') == (403, "InvalidSignatureException")
    assert send(b'{"original": true}') == (403, "InvalidSignatureException")
    assert function.invoke({"original": True}).payload == {"original": True}
