"""restXml (S3) through s3s with real clients (issue 11): S3 (`kumo-s3`, issue 13) is served under
its signing name and host form through kumo-protocol's s3s adapter.

boto3's `s3` client creates buckets and puts and gets objects path-style (a bucket named
`2015-03-31`, Lambda's API version, reaches S3 while Lambda keeps working) and virtual-hosted
(`Host: bucket.s3.localhost:<port>`); its uploads as current botocore sends them (aws-chunked with a
CRC32 trailer, `STREAMING-UNSIGNED-PAYLOAD-TRAILER` over http) and presigned GET URLs work; S3's
errors, raised by the service, by s3s or by the gateway before either (a bad signature, an unknown
key, a body over its limit, a malformed or deeply nested XML body), reach boto3 as S3's `<Error>`
documents with their code and the request's own id, which is also every answer's
`x-amz-request-id`."""

import hashlib
import http.client
import urllib.error
import urllib.request
import xml.etree.ElementTree as ElementTree
from urllib.parse import urlsplit, urlunsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from e2e_support import KumoServer, error_of, unique_name


@pytest.fixture(scope="module")
def kumo_test(tmp_path_factory):
    """A Kumo with the test-only services registered."""
    base = tmp_path_factory.mktemp("kumo-restxml")
    server = KumoServer(base / "data", base / "kumo.log", env={"KUMO_TEST_SERVICES": "1"})
    server.start()
    yield server
    server.stop()


def s3_client(server, addressing_style="path", endpoint=None, secret="test", key="test"):
    """boto3's S3 client for `server`, keeping every exchange's raw request and answer."""
    client = boto3.session.Session().client(
        "s3", endpoint_url=endpoint or server.endpoint, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}, s3={"addressing_style": addressing_style}))
    client.sent = []
    client.answers = []
    client.meta.events.register("before-send.s3", lambda request, **_: client.sent.append(request))
    client.meta.events.register("after-call.s3", lambda http_response, **_: client.answers.append(http_response))
    return client


@pytest.fixture(scope="module")
def s3(kumo_test):
    return s3_client(kumo_test)


def bucket_name():
    return unique_name("bucket").lower().replace("_", "-")


def signed(server, method, path, body=b"", headers=None, host=None, secret="test"):
    """A raw S3 request signed as botocore signs S3 (optionally for another `Host`)."""
    request = AWSRequest(method=method, url=server.endpoint + path, data=body, headers=dict(headers or {}))
    if host:
        request.headers["Host"] = host
    request.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    S3SigV4Auth(Credentials("test", secret), "s3", "us-east-1").add_auth(request)
    return request


def send(server, request):
    """Sends `request` to `server` whatever its `Host`; returns (status, headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        url = urlsplit(request.url)
        target = url.path + (f"?{url.query}" if url.query else "")
        headers = dict(request.headers.items())
        connection.request(request.method, target, body=request.body, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def error_document(body):
    """The `Code` and `RequestId` of an S3 `<Error>` document (and nothing else in it)."""
    root = ElementTree.fromstring(body)
    assert root.tag == "Error", body
    assert {child.tag for child in root} == {"Code", "Message", "RequestId"}, body
    return root.findtext("Code"), root.findtext("RequestId")


def test_a_bucket_named_like_lambdas_api_version_is_s3s_while_lambda_still_works(kumo_test, s3):
    # Path-style: `PUT /2015-03-31`, `PUT /2015-03-31/2015-03-31/functions/f/invocations`: Lambda's
    # paths, signed for S3.
    try:
        s3.create_bucket(Bucket="2015-03-31")
    except ClientError as error:  # a previous run of this module in the same server
        assert error.response["Error"]["Code"] == "BucketAlreadyOwnedByYou"
    key = "2015-03-31/functions/f/invocations"
    put = s3.put_object(Bucket="2015-03-31", Key=key, Body=b"not an invocation")
    assert put["ETag"] == '"%s"' % hashlib.md5(b"not an invocation").hexdigest()
    got = s3.get_object(Bucket="2015-03-31", Key=key)
    assert got["Body"].read() == b"not an invocation"
    assert got["ContentLength"] == len(b"not an invocation")
    assert s3.head_object(Bucket="2015-03-31", Key=key)["ETag"] == put["ETag"]
    assert "2015-03-31" in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket="2015-03-31")
    # Every answer carries the request's id in S3's header, as botocore reads it.
    for answer in s3.answers[-5:]:
        assert answer.headers["x-amz-request-id"]
    assert got["ResponseMetadata"]["RequestId"] == got["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    # Lambda, on the same paths, still answers Lambda's requests.
    functions = kumo_test.lambda_client().list_functions()
    assert "Functions" in functions
    s3.delete_object(Bucket="2015-03-31", Key=key)
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket="2015-03-31", Key=key)
    assert raised.value.response["Error"]["Code"] == "NoSuchKey"


def test_keys_are_signed_as_s3_signs_them_encoded_once(s3):
    # S3's canonical request takes the path as sent; every other service's encodes it again.
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    for key in ["a b.txt", "dir/\u00fc+\u00e9=1.txt", "%41~!'()*"]:
        s3.put_object(Bucket=name, Key=key, Body=key.encode())
        assert s3.get_object(Bucket=name, Key=key)["Body"].read() == key.encode()


def test_virtual_hosted_addressing_names_the_bucket_in_the_host(kumo_test, s3):
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    # botocore addresses `name.s3.localhost:<port>`, which need not resolve here: the request,
    # signed for that host, is sent to Kumo's address with its `Host` unchanged.
    virtual = s3_client(kumo_test, addressing_style="virtual", endpoint=f"http://s3.localhost:{kumo_test.port}")

    def to_kumo(request, **_):
        url = urlsplit(request.url)
        request.headers["Host"] = url.netloc
        request.url = urlunsplit((url.scheme, f"127.0.0.1:{kumo_test.port}", url.path, url.query, url.fragment))

    virtual.meta.events.register_first("before-send.s3", to_kumo)
    virtual.put_object(Bucket=name, Key="greeting.txt", Body=b"hello", ContentType="text/plain")
    assert virtual.sent[-1].headers["Host"] == f"{name}.s3.localhost:{kumo_test.port}"
    assert urlsplit(virtual.sent[-1].url).path == "/greeting.txt"
    got = virtual.get_object(Bucket=name, Key="greeting.txt")
    assert (got["Body"].read(), got["ContentType"]) == (b"hello", "text/plain")
    # The same object, path-style.
    assert s3.get_object(Bucket=name, Key="greeting.txt")["Body"].read() == b"hello"
    # A virtual-hosted key shaped like Lambda's paths is still the bucket's.
    request = signed(kumo_test, "GET", "/2015-03-31/functions", host=f"{name}.s3.localhost:{kumo_test.port}")
    status, headers, body = send(kumo_test, request)
    assert status == 404
    code, request_id = error_document(body)
    assert (code, request_id) == ("NoSuchKey", headers["x-amz-request-id"])


def test_missing_buckets_and_keys_are_s3_errors_boto3_parses(s3):
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket_name(), Key="nothing")
    error = raised.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("NoSuchBucket", 404)
    assert error["Error"]["Message"] == "The specified bucket does not exist"
    assert error["ResponseMetadata"]["RequestId"] == error["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=name, Key="nothing")
    error = raised.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("NoSuchKey", 404)
    # The document's own id is the request's.
    code, request_id = error_document(s3.answers[-1].content)
    assert (code, request_id) == ("NoSuchKey", s3.answers[-1].headers["x-amz-request-id"])
    # HEAD errors have no body: botocore names them by their status.
    with pytest.raises(ClientError) as raised:
        s3.head_object(Bucket=name, Key="nothing")
    assert raised.value.response["Error"]["Code"] == "404"
    # Creating it again in us-east-1 is S3's legacy success for its owner.
    assert s3.create_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_a_bad_signature_or_an_unknown_key_is_answered_as_s3_xml(kumo_test, s3):
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    forged = s3_client(kumo_test, secret="not-the-secret")
    with pytest.raises(ClientError) as raised:
        forged.list_buckets()
    error = raised.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("SignatureDoesNotMatch", 403)
    code, request_id = error_document(forged.answers[-1].content)
    assert request_id == forged.answers[-1].headers["x-amz-request-id"] == error["ResponseMetadata"]["RequestId"]
    # A streamed upload is refused before its body is read, in the same words.
    with pytest.raises(ClientError) as raised:
        forged.put_object(Bucket=name, Key="k", Body=b"x" * 1000)
    assert error_of(raised)[0] == "SignatureDoesNotMatch"
    unknown = s3_client(kumo_test, key="AKIAUNKNOWNKEY000000")
    with pytest.raises(ClientError) as raised:
        unknown.list_buckets()
    assert (error_of(raised)[0], raised.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "InvalidAccessKeyId", 403)
    # Nothing was stored by the refused upload.
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=name, Key="k")
    assert error_of(raised)[0] == "NoSuchKey"


def test_an_upload_as_boto3_sends_it_streams_aws_chunked_with_a_crc_trailer(kumo_test, s3):
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    # botocore frames an upload aws-chunked with its checksum in a trailer only over TLS (over
    # plain http it signs the body's hash): the client believes it speaks https, and its
    # requests, framed so, go to Kumo's plain http port.
    tls = s3_client(kumo_test, endpoint=f"https://127.0.0.1:{kumo_test.port}")

    def plain_http(request, **_):
        request.url = "http://" + request.url.removeprefix("https://")

    tls.meta.events.register_first("before-send.s3", plain_http)
    data = bytes(range(256)) * 4096  # 1 MiB
    put = tls.put_object(Bucket=name, Key="data.bin", Body=data)
    sent = tls.sent[-1]
    assert sent.headers["x-amz-content-sha256"] == b"STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert b"aws-chunked" in sent.headers["Content-Encoding"]
    assert sent.headers["X-Amz-Trailer"] == b"x-amz-checksum-crc32"
    assert put["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()
    got = s3.get_object(Bucket=name, Key="data.bin")
    assert got["Body"].read() == data
    assert got["ContentLength"] == len(data)
    # Stored without the transfer's encoding.
    assert "ContentEncoding" not in got
    # Over plain http, botocore signs the body's hash: that form works too.
    s3.put_object(Bucket=name, Key="signed.bin", Body=data[:1000])
    assert s3.sent[-1].headers["x-amz-content-sha256"] == hashlib.sha256(data[:1000]).hexdigest().encode()
    assert s3.get_object(Bucket=name, Key="signed.bin")["Body"].read() == data[:1000]


def test_a_presigned_get_url_reads_the_object(kumo_test, s3):
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="shared.txt", Body=b"shared")
    # SigV4 presigning (botocore presigns S3 with SigV2 unless told; Kumo verifies SigV4 only).
    presigner = boto3.session.Session().client(
        "s3", endpoint_url=kumo_test.endpoint, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    url = presigner.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "shared.txt"}, ExpiresIn=60)
    assert "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read() == b"shared"
        assert answer.headers["x-amz-request-id"]
    # A tampered URL is refused as S3 refuses it.
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(url.replace("shared.txt", "other.txt"), timeout=10)
    assert raised.value.code == 403
    code, request_id = error_document(raised.value.read())
    assert (code, request_id) == ("SignatureDoesNotMatch", raised.value.headers["x-amz-request-id"])


def send_head_only(server, request, length):
    """Sends `request`'s head declaring a body of `length` bytes, and none of it; returns
    (status, x-amz-request-id, body) of the answer Kumo gives before reading a body."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        url = urlsplit(request.url)
        connection.putrequest(request.method, url.path, skip_host=True, skip_accept_encoding=True)
        for header, value in request.headers.items():
            if header.lower() != "content-length":
                connection.putheader(header, value)
        connection.putheader("Content-Length", str(length))
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.getheader("x-amz-request-id"), response.read()
    finally:
        connection.close()


def test_malformed_or_deep_xml_bodies_get_s3_errors_and_kumo_keeps_serving(kumo_test, s3):
    for body in [b"<CreateBucketConfiguration><LocationConstraint>", b"<a>" * 100_000 + b"</a>" * 100_000]:
        request = signed(kumo_test, "PUT", "/" + bucket_name(), body=body)
        status, headers, answer = send(kumo_test, request)
        assert status == 400, answer[:300]
        assert error_document(answer) == ("MalformedXML", headers["x-amz-request-id"])
    assert kumo_test.running
    assert "Buckets" in s3.list_buckets()


def test_bodies_over_their_limit_are_refused_before_they_are_read(kumo_test, s3):
    # An XML document is small (2 MiB here); an upload takes up to 5 GiB.
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    status, request_id, answer = send_head_only(kumo_test, signed(kumo_test, "PUT", "/" + bucket_name()), 3 << 20)
    assert (status, error_document(answer)) == (400, ("MaxMessageLengthExceeded", request_id))
    status, request_id, answer = send_head_only(kumo_test, signed(kumo_test, "PUT", f"/{name}/huge"), (5 << 30) + 1)
    assert (status, error_document(answer)) == (400, ("EntityTooLarge", request_id))
    assert kumo_test.running


def prometheus_count(server, operation, outcome):
    """`kumo_api_requests_total` of S3's `operation` with `outcome`."""
    with urllib.request.urlopen(server.signed_request("/_kumo/metrics/prometheus"), timeout=10) as answer:
        text = answer.read().decode()
    series = f'kumo_api_requests_total{{service="s3",operation="{operation}",outcome="{outcome}"}} '
    return sum(int(float(line[len(series):])) for line in text.splitlines() if line.startswith(series))


def test_the_aws_cli_lists_buckets_and_each_operation_counts_in_its_metrics(kumo_test, s3):
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    listed_before = prometheus_count(kumo_test, "ListBuckets", "success")
    missing_before = prometheus_count(kumo_test, "GetObject", "client_error")
    listed = kumo_test.aws("s3api", "list-buckets")
    assert name in [bucket["Name"] for bucket in listed["Buckets"]]
    with pytest.raises(ClientError):
        s3.get_object(Bucket=name, Key="missing")
    assert prometheus_count(kumo_test, "ListBuckets", "success") == listed_before + 1
    assert prometheus_count(kumo_test, "GetObject", "client_error") == missing_before + 1
