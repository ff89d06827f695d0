"""Kumo's own endpoints need credentials (issue 10): `/_kumo/*` but `/_kumo/health` takes only
requests SigV4-signed by the root of the account they read, neither an unsigned local client
nor a function holding its role credentials reads anything there, and `GetFunction`'s
`Code.Location` is a presigned URL that works without credentials for its 10 minutes and not
after, nor with any part changed."""

import io
import json
import re
import urllib.error
import urllib.parse
import urllib.request
import zipfile

import pytest

from e2e_support import CREDENTIALS, poll, python_zip, unique_name

READ_ENDPOINTS = ["/_kumo/logs/{name}", "/_kumo/metering/{name}", "/_kumo/status", "/_kumo/metrics"]


def http_get(url, headers=None):
    """(status, headers, body) of a GET, whatever the status."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_unsigned_local_clients_read_nothing_but_health(kumo, make_function):
    function = make_function("def handler(event, context):\n    print('a secret line')\n    return 1\n")
    function.invoke()
    for template in READ_ENDPOINTS:
        status, headers, body = http_get(kumo.endpoint + template.format(name=function.name))
        assert status == 403, template
        assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException", template
        assert json.loads(body)["message"] == "Missing Authentication Token"
        assert b"a secret line" not in body
    # A signature that does not verify is no better than none.
    forged = {"Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/kumo/aws4_request, "
              "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64, "X-Amz-Date": "20260101T000000Z"}
    status, headers, _ = http_get(f"{kumo.endpoint}/_kumo/logs/{function.name}", forged)
    assert status == 403 and headers["x-amzn-ErrorType"] in ("InvalidSignatureException", "IncompleteSignatureException")
    status, _, body = http_get(kumo.endpoint + "/_kumo/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    # Signed by the account's root (what the `kumo` CLI does), the same reads work.
    assert "a secret line" in kumo.log_text(function.name)
    assert len(kumo.metering(function.name)) == 1
    assert "pools" in kumo.get_json("/_kumo/status")


# Calls every `/_kumo` read endpoint from inside the function: unsigned, and signed with the
# function's own role credentials (from its environment, as boto3 finds them).
SNOOPER = """
import json
import os
import urllib.error
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest


def get(url, headers):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return [response.status, None]
    except urllib.error.HTTPError as error:
        return [error.code, error.headers.get("x-amzn-ErrorType")]


def handler(event, context):
    credentials = boto3.Session().get_credentials()
    answers = {}
    for path in event["paths"]:
        url = os.environ["AWS_ENDPOINT_URL"] + path
        request = AWSRequest(method="GET", url=url)
        SigV4Auth(credentials, "kumo", os.environ["AWS_REGION"]).add_auth(request)
        answers[path] = {"unsigned": get(url, {}), "signed": get(url, dict(request.headers.items()))}
    return {"answers": answers, "session": bool(credentials.token)}
"""


def test_a_function_with_its_role_credentials_reads_nothing(kumo, make_function):
    victim = make_function("def handler(event, context):\n    print('victim data')\n    return 1\n")
    victim.invoke()
    snooper = make_function(SNOOPER, Timeout=30)
    paths = [template.format(name=victim.name) for template in READ_ENDPOINTS]
    paths += [f"/_kumo/logs/{victim.name}?account=000000000000", f"/_kumo/metrics?account=000000000000"]
    result = snooper.invoke({"paths": paths})
    assert result.function_error is None, result.payload
    assert result.payload["session"], "functions hold role session credentials"
    for path, answer in result.payload["answers"].items():
        assert answer["unsigned"] == [403, "MissingAuthenticationTokenException"], path
        assert answer["signed"] == [403, "AccessDeniedException"], path


def test_the_code_location_is_presigned_and_works_without_credentials(kumo, make_function):
    function = make_function("def handler(event, context):\n    return 'zipped'\n")
    location = function.client.get_function(FunctionName=function.name)["Code"]["Location"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    assert query["X-Amz-Expires"] == ["600"], "AWS's 10 minutes"
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert "X-Amz-Signature" in query
    status, headers, body = http_get(location)
    assert status == 200 and headers["Content-Type"] == "application/zip"
    assert body == function.zip_bytes
    assert "lambda_function.py" in zipfile.ZipFile(io.BytesIO(body)).namelist()


def s3_error(status_headers_body):
    status, headers, body = status_headers_body
    text = body.decode()
    code = text.split("<Code>", 1)[1].split("</Code>", 1)[0]
    message = text.split("<Message>", 1)[1].split("</Message>", 1)[0]
    return status, code, message


def test_a_tampered_or_expired_code_url_is_refused(start_server):
    # A server whose code URLs last 2 seconds, to see one expire within the test.
    server = start_server(KUMO_CODE_URL_EXPIRES="2")
    client = server.lambda_client()
    name = unique_name("coded")
    zip_bytes = python_zip("def handler(event, context):\n    return 1\n")
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="lambda_function.handler",
        Code={"ZipFile": zip_bytes},
    )
    location = client.get_function(FunctionName=name)["Code"]["Location"]
    assert http_get(location)[0] == 200
    base, query = location.split("?", 1)
    signature = query.rsplit("X-Amz-Signature=", 1)[1]
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    blob = base.rsplit("/", 1)[1]
    other_blob = ("0" if blob[0] != "0" else "1") + blob[1:]
    tampered = {
        "signature": location.replace(signature, flipped),
        "blob": location.replace(blob, other_blob),
        "expiry": location.replace("X-Amz-Expires=2", "X-Amz-Expires=604800"),
        "date": re.sub(r"X-Amz-Date=(\d{8})T\d{6}Z", r"X-Amz-Date=\1T000000Z", location),
    }
    for what, url in tampered.items():
        status, code, _ = s3_error(http_get(url))
        # An earlier date makes it expired (checked first, as S3 does); any other change breaks the signature.
        assert (status, code) in ((403, "SignatureDoesNotMatch"), (403, "AccessDenied")), what
    assert s3_error(http_get(base))[:2] == (403, "AccessDenied"), "the bare path without its signature"
    assert s3_error(http_get(base + "?X-Amz-Credential=%a%C3%A9"))[0] in (400, 403)
    # Signed with the root keys instead of Kumo's: still not a code URL.
    signed = server.signed_request(urllib.parse.urlsplit(base).path, credentials=CREDENTIALS)
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(signed, timeout=10)
    assert excinfo.value.code == 403
    def refused_now():
        answer = http_get(location)
        return s3_error(answer) if answer[0] != 200 else None

    expired = poll(refused_now, timeout=10, what="the code URL to expire")
    assert expired == (403, "AccessDenied", "Request has expired")
    # A fresh GetFunction hands out a fresh URL.
    assert http_get(client.get_function(FunctionName=name)["Code"]["Location"])[0] == 200
