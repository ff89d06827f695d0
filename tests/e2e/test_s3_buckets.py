"""S3 buckets (issue 13) with boto3 and the AWS CLI: CreateBucket and its LocationConstraint rules,
names global across accounts (BucketAlreadyExists) and BucketAlreadyOwnedByYou outside us-east-1,
AWS's bucket naming rules, DeleteBucket (BucketNotEmpty), HeadBucket, ListBuckets,
GetBucketLocation; the service's health entry; buckets and objects survive a restart."""

import urllib.error
import urllib.request
import json

import pytest
from botocore.exceptions import ClientError

from e2e_support import error_of, unique_name

OTHER = {"aws_access_key_id": "other", "aws_secret_access_key": "othersecret"}
KEYS = "test:test,other:othersecret:111111111111"


def bucket_name():
    return unique_name("bkt")


@pytest.fixture(scope="module")
def s3(kumo):
    return kumo.client("s3")


def test_create_head_list_locate_and_delete_a_bucket(kumo, s3):
    name = bucket_name()
    created = s3.create_bucket(Bucket=name)
    assert created["Location"] == f"/{name}"
    head = s3.head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    listed = s3.list_buckets()
    assert name in [bucket["Name"] for bucket in listed["Buckets"]]
    assert listed["Owner"]["ID"] == "000000000000"
    # us-east-1 is reported as no constraint.
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    # Creating it again in us-east-1 succeeds for its owner, as S3 does there.
    s3.create_bucket(Bucket=name)
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as raised:
        s3.head_bucket(Bucket=name)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as raised:
        s3.delete_bucket(Bucket=name)
    assert error_of(raised) == ("NoSuchBucket", 404, "The specified bucket does not exist")


def test_location_constraints_follow_the_regional_endpoint(kumo, s3):
    name = bucket_name()
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    regional = kumo.client("s3", region="eu-west-1")
    # Outside us-east-1, a second create by the owner is refused.
    with pytest.raises(ClientError) as raised:
        regional.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert error_of(raised) == (
        "BucketAlreadyOwnedByYou",
        409,
        "Your previous request to create the named bucket succeeded and you already own it.",
    )
    with pytest.raises(ClientError) as raised:
        s3.create_bucket(Bucket=bucket_name(), CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    assert error_of(raised) == ("InvalidLocationConstraint", 400, "The specified location-constraint is not valid")
    with pytest.raises(ClientError) as raised:
        regional.create_bucket(Bucket=bucket_name(), CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    assert error_of(raised) == (
        "IllegalLocationConstraintException",
        400,
        "The us-west-2 location constraint is incompatible for the region specific endpoint this request was sent to.",
    )
    # The AWS CLI's s3api, too (botocore adds no constraint for us-west-2 by itself).
    west = bucket_name()
    kumo.aws("s3api", "create-bucket", "--bucket", west, "--create-bucket-configuration",
             "LocationConstraint=us-west-2", region="us-west-2")
    located = kumo.aws("s3api", "get-bucket-location", "--bucket", west, region="us-west-2")
    assert located["LocationConstraint"] == "us-west-2"
    regions = {bucket["Name"]: bucket.get("BucketRegion") for bucket in s3.list_buckets()["Buckets"]}
    assert regions[west] == "us-west-2" and regions[name] == "eu-west-1"
    s3.delete_bucket(Bucket=west)
    s3.delete_bucket(Bucket=name)


@pytest.mark.parametrize(
    "name",
    ["ab", "a" * 64, "Upper-case", "under_score", "-leading", "trailing-", "two..dots", "192.168.5.4", "xn--punycode",
     "sthree-reserved", "name-s3alias"],
)
def test_bucket_names_follow_aws_rules(s3, name):
    with pytest.raises(ClientError) as raised:
        s3.create_bucket(Bucket=name)
    code, status, _ = error_of(raised)
    assert (code, status) == ("InvalidBucketName", 400)


def test_a_bucket_with_objects_is_not_deleted(s3):
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as raised:
        s3.delete_bucket(Bucket=name)
    assert error_of(raised) == ("BucketNotEmpty", 409, "The bucket you tried to delete is not empty")
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)


def test_bucket_names_are_global_and_buckets_private_to_their_account(start_server):
    server = start_server(KUMO_ACCESS_KEYS=KEYS)
    mine, theirs = server.client("s3"), server.client("s3", **OTHER)
    name = bucket_name()
    mine.create_bucket(Bucket=name)
    with pytest.raises(ClientError) as raised:
        theirs.create_bucket(Bucket=name)
    assert error_of(raised) == (
        "BucketAlreadyExists",
        409,
        "The requested bucket name is not available. The bucket namespace is shared by all users of the system. "
        "Please select a different name and try again.",
    )
    assert name not in [bucket["Name"] for bucket in theirs.list_buckets()["Buckets"]]
    for call in (lambda: theirs.head_bucket(Bucket=name), lambda: theirs.get_object(Bucket=name, Key="k"),
                 lambda: theirs.put_object(Bucket=name, Key="k", Body=b"x")):
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_health_reports_s3_and_buckets_survive_a_restart(spare_kumo):
    with urllib.request.urlopen(spare_kumo.endpoint + "/_kumo/health") as response:
        health = json.load(response)
    assert health["services"]["s3"] == "running", health
    s3 = spare_kumo.client("s3")
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="kept", Body=b"still here", ContentType="text/plain")
    spare_kumo.stop()
    spare_kumo.start()
    s3 = spare_kumo.client("s3")
    got = s3.get_object(Bucket=name, Key="kept")
    assert (got["Body"].read(), got["ContentType"]) == (b"still here", "text/plain")


def test_health_says_s3_is_unavailable_when_its_database_file_is_removed(start_server):
    server = start_server()
    server.client("s3").create_bucket(Bucket=bucket_name())
    for path in server.data_dir.glob("s3.sqlite3*"):
        path.unlink()
    try:
        urllib.request.urlopen(server.endpoint + "/_kumo/health")
        raise AssertionError("health answered 200 with the s3 database gone")
    except urllib.error.HTTPError as error:
        assert error.code == 503
        body = json.load(error)
    assert body["services"]["s3"] == (
        "unavailable: database file s3.sqlite3 was removed while open; writes would be lost at restart"
    )
    assert body["services"]["sqs"] == "running"
