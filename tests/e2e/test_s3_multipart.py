"""S3 multipart uploads (issue 13): Create/UploadPart/Complete/Abort/ListParts/ListMultipartUploads
with boto3, AWS's multipart ETag, the errors for parts too small, missing, out of order and unknown
uploads, and `aws s3 cp` of a 20 MB file (which the CLI uploads in parts) compared byte for byte,
whole and by range."""

import hashlib
import os

import pytest
from botocore.exceptions import ClientError

from e2e_support import error_of, unique_name

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def s3(kumo):
    return kumo.client("s3")


@pytest.fixture
def bucket(s3):
    name = unique_name("mpu")
    s3.create_bucket(Bucket=name)
    yield name
    for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=name).get("Contents", [])]
    if keys:
        s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": key} for key in keys]})
    s3.delete_bucket(Bucket=name)


def multipart_etag(parts):
    digest = hashlib.md5(b"".join(hashlib.md5(part).digest() for part in parts)).hexdigest()
    return f'"{digest}-{len(parts)}"'


def test_a_multipart_upload_completes_with_awss_etag(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big.bin", ContentType="application/x-big",
                                        Metadata={"origin": "parts"})
    upload_id = upload["UploadId"]
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(1234)]
    etags = []
    # Uploaded out of order; one part uploaded twice (the second wins).
    for number in (2, 1, 3):
        s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=upload_id, PartNumber=number, Body=b"stale" * 10)
    for number, body in enumerate(parts, start=1):
        etags.append(s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=upload_id, PartNumber=number, Body=body)["ETag"])
    assert etags == ['"%s"' % hashlib.md5(part).hexdigest() for part in parts]
    listed = s3.list_parts(Bucket=bucket, Key="big.bin", UploadId=upload_id)
    assert [(part["PartNumber"], part["Size"], part["ETag"]) for part in listed["Parts"]] == [
        (number, len(body), etag) for number, (body, etag) in enumerate(zip(parts, etags), start=1)]
    page = s3.list_parts(Bucket=bucket, Key="big.bin", UploadId=upload_id, MaxParts=2)
    assert page["IsTruncated"] and page["NextPartNumberMarker"] == 2
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(item["Key"], item["UploadId"]) for item in uploads] == [("big.bin", upload_id)]
    completed = s3.complete_multipart_upload(
        Bucket=bucket, Key="big.bin", UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]},
    )
    assert completed["ETag"] == multipart_etag(parts)
    got = s3.get_object(Bucket=bucket, Key="big.bin")
    assert got["Body"].read() == b"".join(parts)
    assert (got["ETag"], got["ContentType"], got["Metadata"]) == (completed["ETag"], "application/x-big", {"origin": "parts"})
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
    with pytest.raises(ClientError) as raised:
        s3.list_parts(Bucket=bucket, Key="big.bin", UploadId=upload_id)
    assert error_of(raised)[:2] == ("NoSuchUpload", 404)


def test_completion_errors(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="e")["UploadId"]
    small = [s3.upload_part(Bucket=bucket, Key="e", UploadId=upload_id, PartNumber=n, Body=b"tiny")["ETag"]
             for n in (1, 2)]

    def complete(parts):
        with pytest.raises(ClientError) as raised:
            s3.complete_multipart_upload(Bucket=bucket, Key="e", UploadId=upload_id, MultipartUpload={"Parts": parts})
        return error_of(raised)

    assert complete([{"PartNumber": 1, "ETag": small[0]}, {"PartNumber": 2, "ETag": small[1]}]) == (
        "EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed size")
    assert complete([{"PartNumber": 2, "ETag": small[1]}, {"PartNumber": 1, "ETag": small[0]}])[:2] == (
        "InvalidPartOrder", 400)
    assert complete([{"PartNumber": 3, "ETag": small[0]}])[:2] == ("InvalidPart", 400)
    assert complete([{"PartNumber": 1, "ETag": '"0000"'}])[:2] == ("InvalidPart", 400)
    # A single small part is a whole object.
    done = s3.complete_multipart_upload(Bucket=bucket, Key="e", UploadId=upload_id,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": small[0]}]})
    assert done["ETag"] == multipart_etag([b"tiny"])
    with pytest.raises(ClientError) as raised:
        s3.upload_part(Bucket=bucket, Key="e", UploadId=upload_id, PartNumber=1, Body=b"late")
    assert error_of(raised) == (
        "NoSuchUpload", 404,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
    other = s3.create_multipart_upload(Bucket=bucket, Key="e")["UploadId"]
    with pytest.raises(ClientError) as raised:
        s3.upload_part(Bucket=bucket, Key="e", UploadId=other, PartNumber=10001, Body=b"x")
    assert error_of(raised) == ("InvalidArgument", 400, "Part number must be an integer between 1 and 10000, inclusive")


def test_abort_removes_the_upload(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="a")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="a", UploadId=upload_id, PartNumber=1, Body=b"x" * 100)
    s3.abort_multipart_upload(Bucket=bucket, Key="a", UploadId=upload_id)
    with pytest.raises(ClientError) as raised:
        s3.abort_multipart_upload(Bucket=bucket, Key="a", UploadId=upload_id)
    assert error_of(raised)[:2] == ("NoSuchUpload", 404)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_aws_s3_cp_of_20_mb_goes_multipart_and_comes_back_identical(kumo, s3, bucket, tmp_path):
    source = tmp_path / "twenty.bin"
    content = os.urandom(20 * MIB)
    source.write_bytes(content)
    kumo.aws("s3", "cp", str(source), f"s3://{bucket}/twenty.bin", text=True)
    head = s3.head_object(Bucket=bucket, Key="twenty.bin")
    # The CLI's 8 MiB parts: 3 of them.
    assert head["ETag"].endswith('-3"') and head["ContentLength"] == len(content)
    downloaded = tmp_path / "back.bin"
    kumo.aws("s3", "cp", f"s3://{bucket}/twenty.bin", str(downloaded), text=True)
    assert hashlib.sha256(downloaded.read_bytes()).hexdigest() == hashlib.sha256(content).hexdigest()
    middle = s3.get_object(Bucket=bucket, Key="twenty.bin", Range=f"bytes={8 * MIB - 10}-{8 * MIB + 9}")
    assert middle["Body"].read() == content[8 * MIB - 10:8 * MIB + 10]


def test_upload_part_copy_takes_parts_from_existing_objects(s3, bucket):
    source = os.urandom(6 * MIB)
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="assembled")["UploadId"]
    whole = s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=upload_id, PartNumber=1,
                                CopySource={"Bucket": bucket, "Key": "source"})
    ranged = s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=upload_id, PartNumber=2,
                                 CopySource={"Bucket": bucket, "Key": "source"}, CopySourceRange="bytes=100-199")
    assert ranged["CopyPartResult"]["ETag"] == '"%s"' % hashlib.md5(source[100:200]).hexdigest()
    with pytest.raises(ClientError) as raised:
        s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=upload_id, PartNumber=3,
                            CopySource={"Bucket": bucket, "Key": "source"}, CopySourceRange=f"bytes=0-{6 * MIB}")
    assert error_of(raised) == ("InvalidArgument", 400, f"Range specified is not valid for source object of size: {6 * MIB}")
    with pytest.raises(ClientError) as raised:
        s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=upload_id, PartNumber=3,
                            CopySource={"Bucket": bucket, "Key": "missing"})
    assert error_of(raised)[:2] == ("NoSuchKey", 404)
    parts = [{"PartNumber": 1, "ETag": whole["CopyPartResult"]["ETag"]},
             {"PartNumber": 2, "ETag": ranged["CopyPartResult"]["ETag"]}]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="assembled", UploadId=upload_id,
                                        MultipartUpload={"Parts": parts})
    assert done["ETag"] == multipart_etag([source, source[100:200]])
    assert s3.get_object(Bucket=bucket, Key="assembled")["Body"].read() == source + source[100:200]
