"""S3 objects (issue 13) with boto3 and the AWS CLI: PutObject/GetObject/HeadObject with headers and
user metadata, ranges (206, InvalidRange), conditional reads (304/412) and writes (If-None-Match: *,
If-Match), Content-MD5, CopyObject with its metadata directive, DeleteObject(s), S3's errors and
limits, `aws s3 cp/ls/rm`, and an object that survives `kill -9` right after PutObject answered."""

import base64
import datetime
import hashlib
import os
import threading

import pytest
from botocore.exceptions import ClientError

from e2e_support import error_of, unique_name


@pytest.fixture(scope="module")
def s3(kumo):
    return kumo.client("s3")


@pytest.fixture
def bucket(s3):
    name = unique_name("obj")
    s3.create_bucket(Bucket=name)
    yield name
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=name).get("Contents", [])]
    if keys:
        s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": key} for key in keys]})
    s3.delete_bucket(Bucket=name)


def test_an_object_keeps_its_content_headers_and_metadata(s3, bucket):
    body = os.urandom(100_000)
    put = s3.put_object(
        Bucket=bucket, Key="dir/file.bin", Body=body, ContentType="application/x-test", ContentEncoding="identity",
        ContentDisposition='attachment; filename="f.bin"', CacheControl="max-age=60", ContentLanguage="en",
        Metadata={"Color": "blue", "n": "1"},
    )
    assert put["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
    got = s3.get_object(Bucket=bucket, Key="dir/file.bin")
    assert got["Body"].read() == body
    assert got["ETag"] == put["ETag"] and got["ContentLength"] == len(body)
    assert (got["ContentType"], got["ContentEncoding"], got["ContentDisposition"], got["CacheControl"]) == (
        "application/x-test", "identity", 'attachment; filename="f.bin"', "max-age=60")
    assert got["Metadata"] == {"color": "blue", "n": "1"}
    head = s3.head_object(Bucket=bucket, Key="dir/file.bin")
    assert (head["ContentLength"], head["ETag"], head["Metadata"]) == (len(body), put["ETag"], got["Metadata"])
    assert head["AcceptRanges"] == "bytes"
    # Without a Content-Type S3 stores binary/octet-stream; an empty object is fine.
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    empty = s3.get_object(Bucket=bucket, Key="empty")
    assert (empty["Body"].read(), empty["ContentType"]) == (b"", "binary/octet-stream")
    # Response overrides.
    overridden = s3.get_object(Bucket=bucket, Key="empty", ResponseContentType="text/csv")
    assert overridden["ContentType"] == "text/csv"


def test_ranges_answer_206_and_unsatisfiable_ones_invalid_range(s3, bucket):
    body = bytes(range(256)) * 4
    s3.put_object(Bucket=bucket, Key="r", Body=body)
    for header, expected, content_range in [
        ("bytes=0-9", body[:10], "bytes 0-9/1024"),
        ("bytes=1000-", body[1000:], "bytes 1000-1023/1024"),
        ("bytes=-5", body[-5:], "bytes 1019-1023/1024"),
        ("bytes=1020-5000", body[1020:], "bytes 1020-1023/1024"),
    ]:
        got = s3.get_object(Bucket=bucket, Key="r", Range=header)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["ContentRange"] == content_range
        assert got["Body"].read() == expected
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=1024-")
    assert error_of(raised) == ("InvalidRange", 416, "The requested range is not satisfiable")


def test_conditional_reads_answer_304_and_412(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="c", Body=b"conditional")
    etag = put["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"conditional"
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0123"')
    assert error_of(raised) == ("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold")
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=modified)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    earlier = modified - datetime.timedelta(hours=1)
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=earlier)["Body"].read() == b"conditional"
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=earlier)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    with pytest.raises(ClientError) as raised:
        s3.head_object(Bucket=bucket, Key="c", IfMatch='"0123"')
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_conditional_writes(s3, bucket):
    first = s3.put_object(Bucket=bucket, Key="w", Body=b"one", IfNoneMatch="*")
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="w", Body=b"two", IfNoneMatch="*")
    assert error_of(raised)[:2] == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="w", Body=b"two", IfMatch='"00000000000000000000000000000000"')
    assert error_of(raised)[:2] == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="missing", Body=b"two", IfMatch=first["ETag"])
    assert error_of(raised) == ("NoSuchKey", 404, "The specified key does not exist.")
    s3.put_object(Bucket=bucket, Key="w", Body=b"two", IfMatch=first["ETag"])
    assert s3.get_object(Bucket=bucket, Key="w")["Body"].read() == b"two"


def test_content_md5_is_checked(s3, bucket):
    good = base64.b64encode(hashlib.md5(b"digest").digest()).decode()
    s3.put_object(Bucket=bucket, Key="m", Body=b"digest", ContentMD5=good)
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="m", Body=b"other", ContentMD5=good)
    assert error_of(raised) == ("BadDigest", 400, "The Content-MD5 you specified did not match what we received.")
    assert s3.get_object(Bucket=bucket, Key="m")["Body"].read() == b"digest"
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="m", Body=b"other", ContentMD5="bm9wZQ==")
    assert error_of(raised) == ("InvalidDigest", 400, "The Content-MD5 you specified was invalid.")


def test_missing_things_and_limits_get_s3s_errors(s3, bucket):
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="nothing")
    assert error_of(raised) == ("NoSuchKey", 404, "The specified key does not exist.")
    with pytest.raises(ClientError) as raised:
        s3.head_object(Bucket=bucket, Key="nothing")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=unique_name("nobucket"), Key="k", Body=b"x")
    assert error_of(raised) == ("NoSuchBucket", 404, "The specified bucket does not exist")
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert error_of(raised) == ("KeyTooLongError", 400, "Your key is too long")
    s3.put_object(Bucket=bucket, Key="k" * 1024, Body=b"x")
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="big-meta", Body=b"x", Metadata={"m": "v" * 2048})
    assert error_of(raised)[:2] == ("MetadataTooLarge", 400)
    # Deleting what does not exist succeeds, as in S3.
    assert s3.delete_object(Bucket=bucket, Key="nothing")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_copy_object_keeps_or_replaces_metadata(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"copied bytes", ContentType="text/plain", Metadata={"a": "1"})
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert copied["CopyObjectResult"]["ETag"] == '"%s"' % hashlib.md5(b"copied bytes").hexdigest()
    dst = s3.get_object(Bucket=bucket, Key="dst")
    assert (dst["Body"].read(), dst["ContentType"], dst["Metadata"]) == (b"copied bytes", "text/plain", {"a": "1"})
    s3.copy_object(Bucket=bucket, Key="dst2", CopySource=f"{bucket}/src", MetadataDirective="REPLACE",
                   ContentType="application/json", Metadata={"b": "2"})
    dst2 = s3.head_object(Bucket=bucket, Key="dst2")
    assert (dst2["ContentType"], dst2["Metadata"]) == ("application/json", {"b": "2"})
    # The copy is independent of its source.
    s3.delete_object(Bucket=bucket, Key="src")
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"copied bytes"
    with pytest.raises(ClientError) as raised:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "dst"})
    assert error_of(raised)[:2] == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as raised:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "src"})
    assert error_of(raised)[:2] == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as raised:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "dst"}, CopySourceIfMatch='"nope"')
    assert error_of(raised)[:2] == ("PreconditionFailed", 412)


def test_delete_objects_deletes_many_and_quiet_answers_nothing(s3, bucket):
    for index in range(5):
        s3.put_object(Bucket=bucket, Key=f"d/{index}", Body=b"x")
    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": f"d/{i}"} for i in range(3)] + [{"Key": "none"}]})
    assert sorted(item["Key"] for item in deleted["Deleted"]) == ["d/0", "d/1", "d/2", "none"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "d/3"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["d/4"]


def test_the_aws_cli_copies_lists_and_removes(kumo, s3, bucket, tmp_path):
    source = tmp_path / "upload.txt"
    source.write_bytes(b"from the cli\n" * 100)
    kumo.aws("s3", "cp", str(source), f"s3://{bucket}/cli/upload.txt", text=True)
    listed = kumo.aws("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "cli/")
    assert [item["Key"] for item in listed["Contents"]] == ["cli/upload.txt"]
    downloaded = tmp_path / "download.txt"
    kumo.aws("s3", "cp", f"s3://{bucket}/cli/upload.txt", str(downloaded), text=True)
    assert downloaded.read_bytes() == source.read_bytes()
    head = kumo.aws("s3api", "head-object", "--bucket", bucket, "--key", "cli/upload.txt")
    assert head["ContentLength"] == len(source.read_bytes())
    kumo.aws("s3", "rm", f"s3://{bucket}/cli/upload.txt", text=True)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_an_answered_put_survives_kill_9(spare_kumo):
    s3 = spare_kumo.client("s3")
    name = unique_name("durable")
    s3.create_bucket(Bucket=name)
    body = os.urandom(3 * 1024 * 1024)
    put = s3.put_object(Bucket=name, Key="durable.bin", Body=body)
    spare_kumo.kill()
    spare_kumo.start()
    s3 = spare_kumo.client("s3")
    got = s3.get_object(Bucket=name, Key="durable.bin")
    assert (got["ETag"], got["Body"].read() == body) == (put["ETag"], True)


def test_object_tags_are_set_read_copied_and_limited(s3, bucket):
    s3.put_object(Bucket=bucket, Key="t", Body=b"tagged", Tagging="team=data&stage=raw%20input")
    assert s3.get_object(Bucket=bucket, Key="t")["TagCount"] == 2
    tags = s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]
    assert sorted((tag["Key"], tag["Value"]) for tag in tags) == [("stage", "raw input"), ("team", "data")]
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "only", "Value": "one"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "only", "Value": "one"}]
    s3.copy_object(Bucket=bucket, Key="t-copy", CopySource={"Bucket": bucket, "Key": "t"})
    assert s3.get_object_tagging(Bucket=bucket, Key="t-copy")["TagSet"] == [{"Key": "only", "Value": "one"}]
    s3.copy_object(Bucket=bucket, Key="t-new", CopySource={"Bucket": bucket, "Key": "t"}, TaggingDirective="REPLACE",
                   Tagging="fresh=yes")
    assert s3.get_object_tagging(Bucket=bucket, Key="t-new")["TagSet"] == [{"Key": "fresh", "Value": "yes"}]
    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="t")
    with pytest.raises(ClientError) as raised:
        s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": str(i), "Value": ""} for i in range(11)]})
    assert error_of(raised) == ("BadRequest", 400, "Object tags cannot be greater than 10")
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="t2", Body=b"x", Tagging="a=1&a=2")
    assert error_of(raised) == ("InvalidTag", 400, "Cannot provide multiple Tags with the same key")
    with pytest.raises(ClientError) as raised:
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    assert error_of(raised)[:2] == ("NoSuchKey", 404)


def test_reads_racing_overwrites_always_get_a_whole_object(kumo, bucket):
    bodies = [bytes([index]) * 200_000 for index in range(4)]
    writer, reader = kumo.client("s3"), kumo.client("s3")
    writer.put_object(Bucket=bucket, Key="hot", Body=bodies[0])
    stop = threading.Event()

    def overwrite():
        index = 0
        while not stop.is_set():
            index += 1
            writer.put_object(Bucket=bucket, Key="hot", Body=bodies[index % len(bodies)])

    thread = threading.Thread(target=overwrite)
    thread.start()
    try:
        for _ in range(150):
            got = reader.get_object(Bucket=bucket, Key="hot")["Body"].read()
            assert got in bodies
    finally:
        stop.set()
        thread.join(30)


def test_aws_s3_sync_uploads_only_what_changed(kumo, s3, bucket, tmp_path):
    local = tmp_path / "tree"
    (local / "sub").mkdir(parents=True)
    (local / "a.txt").write_text("a")
    (local / "sub" / "b.txt").write_text("b")
    kumo.aws("s3", "sync", str(local), f"s3://{bucket}/tree", text=True)
    assert sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]) == ["tree/a.txt", "tree/sub/b.txt"]
    (local / "c.txt").write_text("c")
    second = kumo.aws("s3", "sync", str(local), f"s3://{bucket}/tree", text=True)
    assert "tree/c.txt" in second and "a.txt" not in second
    back = tmp_path / "back"
    kumo.aws("s3", "sync", f"s3://{bucket}/tree", str(back), text=True)
    assert sorted(str(path.relative_to(back)) for path in back.rglob("*.txt")) == ["a.txt", "c.txt", "sub/b.txt"]
