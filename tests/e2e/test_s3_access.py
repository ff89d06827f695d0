"""Who may do what in S3 (issue 13): role sessions are held to their role's identity policies
(`s3:GetObject` on `arn:aws:s3:::bucket/key`, `s3:ListBucket` on the bucket, …), and presigned GET
and PUT URLs made by boto3 work from `curl`, until they expire."""

import subprocess

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e_support import CREDENTIALS, error_of, poll, unique_name


@pytest.fixture(scope="module")
def s3(kumo):
    return kumo.client("s3")


@pytest.fixture
def bucket(s3):
    name = unique_name("acc")
    s3.create_bucket(Bucket=name)
    yield name
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=name).get("Contents", [])]
    if keys:
        s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": key} for key in keys]})
    s3.delete_bucket(Bucket=name)


def session_client(kumo, role_name, inline):
    role_arn = kumo.role_with_policies(role_name, inline=inline)
    credentials = kumo.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="s3-session")["Credentials"]
    return kumo.client(
        "s3",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def test_a_role_session_may_do_what_its_policy_allows_and_nothing_else(kumo, s3, bucket):
    s3.put_object(Bucket=bucket, Key="public/readme.txt", Body=b"readable")
    s3.put_object(Bucket=bucket, Key="private/secret.txt", Body=b"hidden")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/public/*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
        ],
    }
    reader = session_client(kumo, unique_name("s3reader"), policy)
    assert reader.get_object(Bucket=bucket, Key="public/readme.txt")["Body"].read() == b"readable"
    assert len(reader.list_objects_v2(Bucket=bucket)["Contents"]) == 2
    for call in (
        lambda: reader.get_object(Bucket=bucket, Key="private/secret.txt"),
        lambda: reader.put_object(Bucket=bucket, Key="public/new.txt", Body=b"x"),
        lambda: reader.delete_object(Bucket=bucket, Key="public/readme.txt"),
        lambda: reader.create_bucket(Bucket=unique_name("nope")),
        lambda: reader.list_buckets(),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert error_of(raised) == ("AccessDenied", 403, "Access Denied")
    assert s3.get_object(Bucket=bucket, Key="public/readme.txt")["Body"].read() == b"readable"


def curl(*args):
    done = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", *args], capture_output=True, timeout=30)
    body, _, status = done.stdout.rpartition(b"\n")
    return int(status), body


def test_presigned_get_and_put_work_with_curl_until_they_expire(kumo, bucket, tmp_path):
    # SigV4 query signing (boto3 presigns with SigV2 unless told; Kumo verifies SigV4 only).
    s3 = boto3.session.Session().client("s3", endpoint_url=kumo.endpoint, region_name="us-east-1",
                                        config=Config(signature_version="s3v4"), **CREDENTIALS)
    upload = tmp_path / "presigned.txt"
    upload.write_bytes(b"put through a presigned URL\n")
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "p.txt"}, ExpiresIn=300)
    status, _ = curl("-X", "PUT", "--data-binary", f"@{upload}", put_url)
    assert status == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p.txt"}, ExpiresIn=300)
    assert curl(get_url) == (200, upload.read_bytes())
    # A tampered URL is refused.
    assert curl(get_url.replace("p.txt", "q.txt"))[0] == 403
    short = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p.txt"}, ExpiresIn=1)
    status, body = poll(lambda: (lambda answer: answer if answer[0] != 200 else None)(curl(short)), timeout=10,
                        what="the presigned URL to expire")
    assert status == 403 and b"AccessDenied" in body
