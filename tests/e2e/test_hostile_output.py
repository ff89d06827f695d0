"""A function's output and packages, written by a hostile tenant: output written between
invocations does not grow Kumo, a printed log marker is only text, and a package with a million
entries is refused before it is parsed."""

import io
import re
import struct
import zipfile

import pytest
from botocore.exceptions import ClientError

from e2e_support import ROLE, Deployer, error_of, poll, unique_name

FLOODER = """
import os, sys, threading

GIGABYTE = 1 << 30
LINE = ("z" * 1023 + "\\n").encode()
state = {"written": 0}

def flood():
    chunk = LINE * 1024
    out = sys.stdout.buffer
    while state["written"] < GIGABYTE:
        out.write(chunk)
        out.flush()
        state["written"] += len(chunk)

def handler(event, context):
    if event.get("start"):
        threading.Thread(target=flood, daemon=True).start()
    return state["written"]
"""

FORGER = """
import sys

def handler(event, context):
    print("before-forged")
    for number in range(100):
        sys.stdout.write("\\0kumo-log-marker:%d\\n" % number)
    print("after-forged")
    sys.stdout.flush()
    return "ok"
"""


def rss_bytes(server):
    with open(f"/proc/{server.process.pid}/status") as status:
        kilobytes = re.search(r"^VmRSS:\s+(\d+) kB", status.read(), re.MULTILINE).group(1)
    return int(kilobytes) * 1024


def test_output_written_between_invocations_leaves_kumos_memory_flat(kumo):
    deployer = Deployer(kumo)
    try:
        # A full vCPU, so that the gigabyte is written in seconds rather than minutes.
        function = deployer.create(FLOODER, MemorySize=1769, Timeout=30)
        assert function.invoke({}).payload == 0
        before = rss_bytes(kumo)
        assert function.invoke({"start": True}).status == 200
        poll(lambda: function.invoke({}).payload >= 1 << 30, timeout=120, interval=0.5, what="1 GB written")
        grown = rss_bytes(kumo) - before
        assert grown < 48 * 1024 * 1024, f"Kumo grew by {grown} bytes while the function wrote 1 GB"
        # What was kept and what was dropped shows in the next invocation's log.
        tail = function.invoke({}, LogType="Tail").log
        text = kumo.log_text(function.name)
        assert "bytes of output" in text and "were dropped" in text, tail
    finally:
        deployer.cleanup()


def test_a_printed_log_marker_does_not_cut_an_invocations_log(kumo):
    deployer = Deployer(kumo)
    try:
        function = deployer.create(FORGER)
        for _ in range(3):
            invocation = function.invoke({}, LogType="Tail")
            assert invocation.payload == "ok"
            log = invocation.log
            assert "before-forged" in log and "after-forged" in log, log
            assert log.index("after-forged") < log.index("END RequestId"), log
    finally:
        deployer.cleanup()


def many_entries_zip(count):
    """A package of `count` central-directory records that all point at one empty local file,
    declared in a zip64 end record (a million take 51 MB, under Lambda's 50 MiB zipped limit)."""
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, 1, 0) + b"a"
    directory = b"".join(
        struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0, 0, 0, 0) + name
        for name in (b"%x" % index for index in range(count))
    )
    zip64_at = len(local) + len(directory)
    zip64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(directory), len(local))
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, zip64_at, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return local + directory + zip64 + locator + end


def test_a_package_with_a_million_entries_is_refused_and_kumo_keeps_serving(kumo):
    # The builder makes archives Python's zipfile reads (a million take it 16 s to list).
    assert [entry.filename for entry in zipfile.ZipFile(io.BytesIO(many_entries_zip(3))).infolist()] == ["0", "1", "2"]
    package = many_entries_zip(1_000_000)
    assert len(package) < 50 * 1024 * 1024
    client = kumo.lambda_client()
    name = unique_name()
    with pytest.raises(ClientError) as excinfo:
        client.create_function(
            FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="a.handler", Code={"ZipFile": package}
        )
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValueException", 400), message
    assert "more than 200000 files and directories" in message
    with pytest.raises(ClientError) as excinfo:
        client.get_function(FunctionName=name)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    assert client.list_functions()["ResponseMetadata"]["HTTPStatusCode"] == 200
