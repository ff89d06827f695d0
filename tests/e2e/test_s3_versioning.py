"""S3 bucket versioning (issue 13) with boto3 and the AWS CLI: Put/GetBucketVersioning, version ids
on every write, GetObject/HeadObject/CopyObject of a version, delete markers (404 with
x-amz-delete-marker, 405 by their id), permanent deletes that bring the previous version back,
suspended versioning's null version, ListObjectVersions with its paging, DeleteObjects with version
ids, tags per version, buckets kept while versions remain, versions' files kept across a restart,
and the versionId / DeleteMarkerCreated of notifications."""

import json

import pytest
from botocore.exceptions import ClientError

from e2e_support import error_of, unique_name
from s3_notification_support import make_bucket, s3, s3_may_send  # noqa: F401 (fixtures)
from test_sns_publish import receive
from test_sqs import make_queue, queue_arn, sqs, sqs_client  # noqa: F401 (fixtures)


def versioned(s3, make_bucket):
    bucket = make_bucket()
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def empty_versions(s3, bucket):
    listed = s3.list_object_versions(Bucket=bucket)
    entries = listed.get("Versions", []) + listed.get("DeleteMarkers", [])
    for entry in entries:
        s3.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])


@pytest.fixture
def bucket(s3, make_bucket):
    name = versioned(s3, make_bucket)
    yield name
    empty_versions(s3, name)


def test_versioning_configuration_round_trips(kumo, s3, make_bucket):
    name = make_bucket()
    got = s3.get_bucket_versioning(Bucket=name)
    assert "Status" not in got and "MFADelete" not in got
    kumo.aws("s3api", "put-bucket-versioning", "--bucket", name, "--versioning-configuration", "Status=Enabled")
    assert kumo.aws("s3api", "get-bucket-versioning", "--bucket", name)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended", "MFADelete": "Disabled"})
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Suspended"
    with pytest.raises(ClientError) as raised:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Bogus"})
    assert error_of(raised)[:2] == ("MalformedXML", 400)
    with pytest.raises(ClientError) as raised:
        s3.get_bucket_versioning(Bucket=unique_name("missing"))
    assert error_of(raised)[:2] == ("NoSuchBucket", 404)


def test_every_write_is_a_version_readable_by_its_id(kumo, s3, bucket):
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    assert first != second and len(first) == 32
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    old = s3.get_object(Bucket=bucket, Key="k", VersionId=first)
    assert (old["Body"].read(), old["VersionId"]) == (b"one", first)
    assert s3.head_object(Bucket=bucket, Key="k", VersionId=first)["ContentLength"] == 3
    assert s3.head_object(Bucket=bucket, Key="k")["VersionId"] == second
    copied = s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k", "VersionId": first})
    assert copied["CopySourceVersionId"] == first and copied["VersionId"] not in (first, second)
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"one"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=1, Body=b"three")
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    )
    assert done["VersionId"] not in (first, second)
    listed = s3.list_object_versions(Bucket=bucket, Prefix="k")["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in listed] == [
        (done["VersionId"], True), (second, False), (first, False)]
    # The CLI reads a version into a file.
    out = kumo.aws("s3api", "get-object", "--bucket", bucket, "--key", "k", "--version-id", first, "/dev/null")
    assert out["VersionId"] == first and out["ContentLength"] == 3


def test_a_delete_marker_hides_the_key_until_it_is_removed(kumo, s3, bucket):
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"kept")["VersionId"]
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    assert marker != version
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="k")
    assert error_of(raised)[:2] == ("NoSuchKey", 404)
    headers = raised.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-delete-marker"] == "true" and headers["x-amz-version-id"] == marker
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="k", VersionId=marker)
    assert error_of(raised)[:2] == ("MethodNotAllowed", 405)
    assert s3.list_objects_v2(Bucket=bucket).get("Contents", []) == []
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=version)["Body"].read() == b"kept"
    listed = kumo.aws("s3api", "list-object-versions", "--bucket", bucket)
    assert [(m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [(marker, True)]
    assert [(v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [(version, False)]
    # Removing the marker for good brings the version back.
    removed = kumo.aws("s3api", "delete-object", "--bucket", bucket, "--key", "k", "--version-id", marker)
    assert removed["DeleteMarker"] is True and removed["VersionId"] == marker
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"kept"
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
    gone = s3.delete_object(Bucket=bucket, Key="k", VersionId=version)
    assert gone["VersionId"] == version and "DeleteMarker" not in gone
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="k", VersionId=version)
    assert error_of(raised)[:2] == ("NoSuchVersion", 404)
    assert "Versions" not in s3.list_object_versions(Bucket=bucket)


def test_each_version_keeps_its_own_tags(s3, bucket):
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"1", Tagging="stage=raw")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"2")["VersionId"]
    tagged = s3.put_object_tagging(
        Bucket=bucket, Key="k", VersionId=first, Tagging={"TagSet": [{"Key": "stage", "Value": "old"}]})
    assert tagged["VersionId"] == first
    got = s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=first)
    assert (got["TagSet"], got["VersionId"]) == ([{"Key": "stage", "Value": "old"}], first)
    current = s3.get_object_tagging(Bucket=bucket, Key="k")
    assert (current["TagSet"], current["VersionId"]) == ([], second)
    s3.delete_object_tagging(Bucket=bucket, Key="k", VersionId=first)
    assert s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=first)["TagSet"] == []


def test_version_ids_are_checked(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="k", VersionId="not-a-version")
    assert error_of(raised) == ("InvalidArgument", 400, "Invalid version id specified")
    with pytest.raises(ClientError) as raised:
        s3.head_object(Bucket=bucket, Key="k", VersionId="A" * 32)
    assert error_of(raised)[:2] == ("404", 404)
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="k", VersionId="A" * 32)
    assert error_of(raised)[:2] == ("NoSuchVersion", 404)


def test_suspended_versioning_writes_the_null_version(s3, bucket):
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"versioned")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"null one")
    s3.put_object(Bucket=bucket, Key="k", Body=b"null two")
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True), (kept, False)]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"null two"
    marker = s3.delete_object(Bucket=bucket, Key="k")
    assert (marker["DeleteMarker"], marker["VersionId"]) == (True, "null")
    listed = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in listed["Versions"]] == [kept]
    assert [m["VersionId"] for m in listed["DeleteMarkers"]] == ["null"]


def test_listing_versions_pages_by_key_and_version_marker(s3, bucket):
    ids = {}
    for key in ["a", "b", "dir/x", "dir/y"]:
        ids[key] = [s3.put_object(Bucket=bucket, Key=key, Body=b"%d" % n)["VersionId"] for n in range(2)]
    s3.delete_object(Bucket=bucket, Key="b")
    seen, params = [], {}
    while True:
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=3, **params)
        entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
        assert len(entries) <= 3
        seen += sorted(entries, key=lambda entry: (entry["Key"], -entry["LastModified"].timestamp()))
        if not page["IsTruncated"]:
            break
        params = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
    assert [entry["Key"] for entry in seen] == ["a", "a", "b", "b", "b", "dir/x", "dir/x", "dir/y", "dir/y"]
    assert len({entry["VersionId"] for entry in seen}) == 9
    rolled = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["dir/"]
    assert [v["VersionId"] for v in rolled["Versions"] if v["Key"] == "a"] == ids["a"][::-1]
    only_dir = s3.list_object_versions(Bucket=bucket, Prefix="dir/", KeyMarker="dir/x")
    assert [v["Key"] for v in only_dir["Versions"]] == ["dir/y", "dir/y"]
    with pytest.raises(ClientError) as raised:
        s3.list_object_versions(Bucket=bucket, VersionIdMarker=ids["a"][0])
    assert error_of(raised)[:2] == ("InvalidArgument", 400)


def test_delete_objects_removes_versions_and_makes_markers(s3):
    # A bucket of its own: the test deletes it.
    bucket = unique_name("versions")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    answer = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "k", "VersionId": first}, {"Key": "other"}]})
    by_key = {entry["Key"]: entry for entry in answer["Deleted"]}
    assert by_key["k"]["VersionId"] == first
    assert by_key["other"]["DeleteMarker"] is True and len(by_key["other"]["DeleteMarkerVersionId"]) == 32
    listed = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in listed["Versions"]] != [first] and len(listed["Versions"]) == 1
    assert [m["Key"] for m in listed["DeleteMarkers"]] == ["other"]
    # Versions and markers keep their bucket.
    s3.delete_object(Bucket=bucket, Key="k", VersionId=listed["Versions"][0]["VersionId"])
    with pytest.raises(ClientError) as raised:
        s3.delete_bucket(Bucket=bucket)
    assert error_of(raised)[:2] == ("BucketNotEmpty", 409)
    s3.delete_objects(Bucket=bucket, Delete={
        "Objects": [{"Key": "other", "VersionId": by_key["other"]["DeleteMarkerVersionId"]}]})
    s3.delete_bucket(Bucket=bucket)


def test_notifications_name_the_version_and_the_delete_marker(s3, sqs, make_bucket, make_queue):
    bucket = versioned(s3, make_bucket)
    url = make_queue("versions")
    arn = queue_arn(sqs, url)
    s3_may_send(sqs, url, arn, bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": [
            {"QueueArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]},
    )
    receive(sqs, url)  # the test event
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    got = [r for m in receive(sqs, url, count=2, timeout=20) for r in json.loads(m["Body"])["Records"]]
    assert [(r["eventName"], r["s3"]["object"].get("versionId")) for r in got] == [
        ("ObjectCreated:Put", version), ("ObjectRemoved:DeleteMarkerCreated", marker)]
    empty_versions(s3, bucket)


def test_every_version_and_its_content_survive_a_restart(start_server):
    server = start_server()
    client = server.client("s3")
    bucket = unique_name("restart")
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="k", Body=b"before versioning")
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = client.put_object(Bucket=bucket, Key="k", Body=b"first")["VersionId"]
    client.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k", "VersionId": first})
    marker = client.delete_object(Bucket=bucket, Key="k")["VersionId"]
    server.stop()
    server.start()
    client = server.client("s3")
    # The start-up sweep of unreferenced files keeps noncurrent versions' files.
    assert client.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"before versioning"
    assert client.get_object(Bucket=bucket, Key="k", VersionId=first)["Body"].read() == b"first"
    assert client.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"first"
    assert client.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    listed = client.list_object_versions(Bucket=bucket, Prefix="k")
    assert [m["VersionId"] for m in listed["DeleteMarkers"]] == [marker]
