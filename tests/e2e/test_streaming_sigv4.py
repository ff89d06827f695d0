"""Streaming SigV4 (issue 11): a body is verified as it streams, never buffered whole.

Kumo is started with `KUMO_TEST_SERVICES=1`, which registers the test-only `kumotest` service
(see docs/architecture.md): its `Digest` operation streams its body and answers its length and
SHA-256, recording the digest only once the body ended verified. 1 GiB (generated on the fly)
goes through each payload form — a signed hex SHA-256, `UNSIGNED-PAYLOAD`, and aws-chunked
`STREAMING-AWS4-HMAC-SHA256-PAYLOAD` with chunk signatures computed here per AWS's spec — while
Kumo's peak RSS stays under 100 MB. A wrong declared hash, a tampered chunk signature or chunk,
and a wrong trailing checksum (each algorithm S3 takes) are refused with AWS's errors, and nothing is recorded.

`KUMO_STREAM_TEST_MIB` sets the size of the large uploads (default 1024)."""

import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import time
import zlib

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from e2e_support import KumoServer

MIB = 1024 * 1024
LARGE_MIB = int(os.environ.get("KUMO_STREAM_TEST_MIB", "1024"))
RSS_LIMIT_KB = 100 * 1024
CHUNK = 64 * 1024  # what AWS SDKs send per aws-chunked chunk
SERVICE = "kumotest"
REGION = "us-east-1"
SECRET = "test"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@pytest.fixture(scope="module")
def kumo_test(tmp_path_factory):
    """A Kumo with the test-only services registered."""
    base = tmp_path_factory.mktemp("kumo-streaming")
    server = KumoServer(base / "data", base / "kumo.log", env={"KUMO_TEST_SERVICES": "1"})
    server.start()
    yield server
    server.stop()


def peak_rss_kb(server):
    with open(f"/proc/{server.process.pid}/status") as status:
        return int(re.search(r"^VmHWM:\s+(\d+) kB", status.read(), re.MULTILINE).group(1))


def blocks(mib, seed=b"kumo"):
    """`mib` MiB of data, one MiB at a time: a random-looking MiB varied by its index."""
    base = hashlib.shake_256(seed).digest(MIB)
    for index in range(mib):
        yield index.to_bytes(8, "big") + base[8:]


def sign(server, target, headers):
    """The headers botocore's SigV4 signer sends; `x-amz-content-sha256` in `headers` is what it
    signs as the payload (botocore signs the header's value when it is present)."""
    headers = {"Host": f"127.0.0.1:{server.port}", "X-Amz-Target": f"KumoTest.{target}",
               "Content-Type": "application/x-amz-json-1.0", **headers}
    request = AWSRequest(method="POST", url=server.endpoint + "/", data=b"", headers=headers)
    SigV4Auth(Credentials("test", SECRET), SERVICE, REGION).add_auth(request)
    return dict(request.headers.items())


def send(server, headers, pieces, timeout=300, error_type=False):
    """POSTs `pieces` (an iterable of bytes) under `headers`; returns (status, JSON body), and the
    `x-amzn-ErrorType` header with `error_type` (authentication's errors carry their code there)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        connection.putrequest("POST", "/", skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        try:
            for piece in pieces:
                connection.send(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # Kumo answered before reading the whole body (a refused one): read its answer
        response = connection.getresponse()
        body = json.loads(response.read() or b"{}")
        if error_type:
            return response.status, response.getheader("x-amzn-ErrorType"), body
        return response.status, body
    finally:
        connection.close()


def digests(server):
    headers = sign(server, "ListDigests", {"X-Amz-Content-SHA256": hashlib.sha256(b"{}").hexdigest(), "Content-Length": "2"})
    status, body = send(server, headers, [b"{}"])
    assert status == 200, body
    return body["Digests"]


def signing_key(date):
    key = ("AWS4" + SECRET).encode()
    for part in (date, REGION, SERVICE, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def chunked(headers, payload_pieces, tamper=None, trailer=None):
    """aws-chunked framing of `payload_pieces` (CHUNK-sized) signed per AWS's spec, chained from the
    seed signature in `headers`. `tamper` = ("signature" | "data", chunk index) spoils one chunk;
    `trailer` = (name, value) adds a signed trailer."""
    seed = re.search(r"Signature=([0-9a-f]{64})", headers["Authorization"]).group(1)
    amz_date = headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/{REGION}/{SERVICE}/aws4_request"
    key = signing_key(amz_date[:8])
    previous = seed
    for index, data in enumerate(with_end(payload_pieces)):
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, EMPTY_SHA256, hashlib.sha256(data).hexdigest()])
        previous = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        signature = previous
        if tamper == ("signature", index):
            signature = ("0" if signature[0] != "0" else "1") + signature[1:]
        if tamper == ("data", index):
            data = bytes([data[0] ^ 1]) + data[1:]
        # Header, data and CRLF as separate pieces: the data is sent without being copied.
        yield f"{len(data):x};chunk-signature={signature}\r\n".encode()
        yield data
        if data or not trailer:
            yield b"\r\n"
    if trailer:
        canonical = f"{trailer[0]}:{trailer[1]}\n"
        to_sign = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, previous, hashlib.sha256(canonical.encode()).hexdigest()])
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        yield f"{trailer[0]}:{trailer[1]}\r\nx-amz-trailer-signature:{signature}\r\n\r\n".encode()


def with_end(pieces):
    yield from pieces
    yield b""


def split(mib_blocks):
    for block in mib_blocks:
        view = memoryview(block)
        for start in range(0, len(block), CHUNK):
            yield view[start:start + CHUNK]


def chunked_length(total, chunk=CHUNK, trailer=None):
    sizes = [chunk] * (total // chunk) + ([total % chunk] if total % chunk else [])
    length = sum(len(f"{size:x};chunk-signature=") + 64 + 2 + size + 2 for size in sizes)
    length += len("0;chunk-signature=") + 64 + 2
    if trailer:
        length += len(f"{trailer[0]}:{trailer[1]}\r\n") + len("x-amz-trailer-signature:") + 64 + 4
    else:
        length += 2
    return length


def expected_digest(mib):
    hasher = hashlib.sha256()
    for block in blocks(mib):
        hasher.update(block)
    return {"Length": mib * MIB, "Sha256": hasher.hexdigest()}


@pytest.fixture(scope="module")
def large_digest():
    return expected_digest(LARGE_MIB)


def upload_and_check(server, headers, pieces, expected):
    started = time.monotonic()
    status, body = send(server, headers, pieces)
    elapsed = time.monotonic() - started
    assert (status, body) == (200, expected)
    assert digests(server)[-1] == expected, "the digest is recorded once the body ended verified"
    peak = peak_rss_kb(server)
    print(f"{expected['Length'] // MIB} MiB in {elapsed:.1f} s, Kumo's peak RSS {peak // 1024} MB")
    assert peak < RSS_LIMIT_KB, f"Kumo's peak RSS reached {peak} kB"


def test_a_body_signed_with_its_sha256_streams_and_is_checked(kumo_test, large_digest):
    headers = sign(kumo_test, "Digest", {"X-Amz-Content-SHA256": large_digest["Sha256"], "Content-Length": str(LARGE_MIB * MIB)})
    upload_and_check(kumo_test, headers, blocks(LARGE_MIB), large_digest)


def test_an_unsigned_payload_streams(kumo_test, large_digest):
    headers = sign(kumo_test, "Digest", {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD", "Content-Length": str(LARGE_MIB * MIB)})
    upload_and_check(kumo_test, headers, blocks(LARGE_MIB), large_digest)


def test_an_aws_chunked_body_streams_with_its_chunk_signatures_checked(kumo_test, large_digest):
    total = LARGE_MIB * MIB
    headers = sign(kumo_test, "Digest", {
        "X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(total),
        "Content-Length": str(chunked_length(total)),
    })
    upload_and_check(kumo_test, headers, chunked(headers, split(blocks(LARGE_MIB))), large_digest)


def small_body():
    return [bytes(piece) for piece in split(blocks(1))]


def test_a_hash_in_upper_case_hex_is_signed_as_sent(kumo_test):
    expected = expected_digest(1)
    headers = sign(kumo_test, "Digest", {"X-Amz-Content-SHA256": expected["Sha256"].upper(), "Content-Length": str(MIB)})
    assert send(kumo_test, headers, blocks(1)) == (200, expected)


def test_a_wrong_declared_hash_is_refused_and_nothing_is_recorded(kumo_test):
    before = digests(kumo_test)
    wrong = hashlib.sha256(b"another body").hexdigest()
    headers = sign(kumo_test, "Digest", {"X-Amz-Content-SHA256": wrong, "Content-Length": str(MIB)})
    status, body = send(kumo_test, headers, blocks(1))
    assert status == 400, body
    assert body["__type"] == "XAmzContentSHA256Mismatch"
    assert body["message"] == "The provided 'x-amz-content-sha256' header does not match what was computed."
    assert digests(kumo_test) == before


@pytest.mark.parametrize("tamper", [("signature", 15), ("data", 15), ("signature", 16)])
def test_a_tampered_chunk_is_refused_and_nothing_is_recorded(kumo_test, tamper):
    before = digests(kumo_test)
    headers = sign(kumo_test, "Digest", {
        "X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(MIB),
        "Content-Length": str(chunked_length(MIB)),
    })
    # Chunk 15 is the last data chunk of 16, chunk 16 the final empty one: the body has been
    # read whole when it is refused, so the answer is not lost to a reset connection.
    # One piece: the end of the body is on its way when the bad chunk is found.
    status, body = send(kumo_test, headers, [b"".join(chunked(headers, small_body(), tamper=tamper))])
    assert (status, body["__type"]) == (403, "SignatureDoesNotMatch"), body
    assert digests(kumo_test) == before


def reflected_crc_table(polynomial):
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ polynomial if crc & 1 else crc >> 1
        table.append(crc)
    return table


CRC32C_TABLE = reflected_crc_table(0x82F63B78)
CRC64NVME_TABLE = reflected_crc_table(0x9A6C9329AC4BC9B5)


def reflected_crc(data, table, width):
    mask = (1 << width) - 1
    crc = mask
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return (crc ^ mask).to_bytes(width // 8, "big")


# Each checksum S3 takes, as its trailer carries it (base64 of the big-endian value or digest).
CHECKSUMS = {
    "crc32": (lambda data: zlib.crc32(data).to_bytes(4, "big"), "CRC32"),
    "crc32c": (lambda data: reflected_crc(data, CRC32C_TABLE, 32), "CRC32C"),
    "crc64nvme": (lambda data: reflected_crc(data, CRC64NVME_TABLE, 64), "CRC64NVME"),
    "sha1": (lambda data: hashlib.sha1(data).digest(), "SHA1"),
    "sha256": (lambda data: hashlib.sha256(data).digest(), "SHA256"),
}


def test_the_checksums_computed_here_match_their_known_check_values():
    assert reflected_crc(b"123456789", CRC32C_TABLE, 32).hex() == "e3069283"
    assert reflected_crc(b"123456789", CRC64NVME_TABLE, 64).hex() == "ae8b14860a799888"


@pytest.mark.parametrize("algorithm", sorted(CHECKSUMS))
def test_a_signed_trailing_checksum_is_checked(kumo_test, algorithm):
    payload = b"".join(small_body())
    compute, name = CHECKSUMS[algorithm]
    good = base64.b64encode(compute(payload)).decode()
    wrong = base64.b64encode(bytes(len(compute(b"")))).decode()

    def upload(value):
        trailer = (f"x-amz-checksum-{algorithm}", value)
        headers = sign(kumo_test, "Digest", {
            "X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            "Content-Encoding": "aws-chunked",
            "X-Amz-Trailer": f"x-amz-checksum-{algorithm}",
            "X-Amz-Decoded-Content-Length": str(MIB),
            "Content-Length": str(chunked_length(MIB, trailer=trailer)),
        })
        return send(kumo_test, headers, [b"".join(chunked(headers, small_body(), trailer=trailer))])

    assert upload(good) == (200, expected_digest(1))
    before = digests(kumo_test)
    status, body = upload(wrong)
    assert (status, body["__type"]) == (400, "BadDigest"), body
    assert body["message"] == f"The {name} you specified did not match the calculated checksum."
    assert digests(kumo_test) == before


def test_an_unsigned_trailer_body_as_botocore_frames_it(kumo_test):
    payload = b"".join(small_body())
    checksum = base64.b64encode(zlib.crc32(payload).to_bytes(4, "big")).decode()
    # botocore's AwsChunkedWrapper: unsigned chunks, `0\r\n\r\n`, then the checksum trailer.
    framed = b"".join(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" for piece in small_body())
    framed += b"0\r\n\r\n" + f"x-amz-checksum-crc32:{checksum}\r\n\r\n".encode()
    headers = sign(kumo_test, "Digest", {
        "X-Amz-Content-SHA256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "Content-Encoding": "aws-chunked",
        "X-Amz-Trailer": "x-amz-checksum-crc32",
        "X-Amz-Decoded-Content-Length": str(MIB),
        "Content-Length": str(len(framed)),
    })
    assert send(kumo_test, headers, [framed]) == (200, expected_digest(1))


def test_a_body_declared_past_the_operations_own_limit_is_refused_before_it_is_read(kumo_test):
    headers = sign(kumo_test, "Digest", {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD", "Content-Length": str(6 * 1024 * MIB)})
    status, body = send(kumo_test, headers, [])
    assert (status, body["__type"]) == (413, "RequestEntityTooLargeException"), body
    assert body["message"] == f"Request must be smaller than {5 * 1024 * MIB} bytes"


def test_insecure_mode_still_decodes_and_checks_the_body(start_server):
    server = start_server(KUMO_TEST_SERVICES="1", KUMO_INSECURE_ACCEPT_ANY_CREDENTIALS="1")
    headers = sign(server, "Digest", {
        "X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(MIB),
        "Content-Length": str(chunked_length(MIB)),
    })
    # Signatures are not checked: a spoiled one passes, the framing is still removed.
    body = b"".join(chunked(headers, small_body(), tamper=("signature", 3)))
    assert send(server, headers, [body]) == (200, expected_digest(1))
    wrong = hashlib.sha256(b"another body").hexdigest()
    headers = sign(server, "Digest", {"X-Amz-Content-SHA256": wrong, "Content-Length": str(MIB)})
    status, body = send(server, headers, blocks(1))
    assert (status, body["__type"]) == (400, "XAmzContentSHA256Mismatch"), body


def test_a_streaming_operation_needs_a_declared_payload(kumo_test):
    headers = sign(kumo_test, "Digest", {"Content-Length": "3"})
    status, code, body = send(kumo_test, headers, [b"abc"], error_type=True)
    assert (status, code) == (400, "InvalidRequest"), body
    assert body["message"] == "Missing required header for this request: x-amz-content-sha256"
    headers = sign(kumo_test, "Digest", {"X-Amz-Content-SHA256": "not-a-hash", "Content-Length": "3"})
    status, code, body = send(kumo_test, headers, [b"abc"], error_type=True)
    assert (status, code) == (400, "InvalidArgument"), body
