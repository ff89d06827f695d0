"""S3 listings (issue 13): ListObjectsV2 and ListObjects with prefixes, delimiters and common
prefixes, continuation tokens, StartAfter, markers, MaxKeys and EncodingType=url, paged by boto3's
paginators and `aws s3 ls`, compared against the keys put."""

import pytest
from botocore.exceptions import ClientError

from e2e_support import error_of, unique_name

KEYS = sorted(
    [f"photos/2024/{month:02d}/img{index}.jpg" for month in range(1, 4) for index in range(3)]
    + [f"docs/readme{index}.txt" for index in range(4)]
    + ["top.txt", "with space/a b.txt", "unicode/\u00e9t\u00e9.txt", "z"]
)


@pytest.fixture(scope="module")
def s3(kumo):
    return kumo.client("s3")


@pytest.fixture(scope="module")
def bucket(s3):
    name = unique_name("list")
    s3.create_bucket(Bucket=name)
    for key in KEYS:
        s3.put_object(Bucket=name, Key=key, Body=key.encode())
    yield name
    for start in range(0, len(KEYS), 1000):
        s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": key} for key in KEYS[start:start + 1000]]})
    s3.delete_bucket(Bucket=name)


def utf8_sorted(keys):
    return sorted(keys, key=lambda key: key.encode())


def test_v2_lists_every_key_in_byte_order_and_pages_by_token(s3, bucket):
    whole = s3.list_objects_v2(Bucket=bucket)
    assert [item["Key"] for item in whole["Contents"]] == utf8_sorted(KEYS)
    assert whole["KeyCount"] == len(KEYS) and not whole["IsTruncated"]
    assert whole["Contents"][0]["Size"] == len(whole["Contents"][0]["Key"].encode())
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 4}))
    assert len(pages) == -(-len(KEYS) // 4)
    assert [item["Key"] for page in pages for item in page["Contents"]] == utf8_sorted(KEYS)
    assert all(page["IsTruncated"] for page in pages[:-1]) and not pages[-1]["IsTruncated"]


def test_delimiter_rolls_keys_up_into_common_prefixes(s3, bucket):
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [item["Key"] for item in top["Contents"]] == ["top.txt", "z"]
    assert [prefix["Prefix"] for prefix in top["CommonPrefixes"]] == ["docs/", "photos/", "unicode/", "with space/"]
    months = s3.list_objects_v2(Bucket=bucket, Prefix="photos/2024/", Delimiter="/")
    assert "Contents" not in months
    assert [prefix["Prefix"] for prefix in months["CommonPrefixes"]] == [f"photos/2024/{m:02d}/" for m in (1, 2, 3)]
    # Common prefixes count towards MaxKeys, and paging does not repeat them.
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 2}))
    prefixes = [prefix["Prefix"] for page in pages for prefix in page.get("CommonPrefixes", [])]
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    assert prefixes == ["docs/", "photos/", "unicode/", "with space/"] and keys == ["top.txt", "z"]
    assert len(pages) == 3


def test_start_after_max_keys_and_prefix(s3, bucket):
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="photos/2024/03/img1.jpg")
    assert [item["Key"] for item in after["Contents"]] == [k for k in utf8_sorted(KEYS) if k.encode() > b"photos/2024/03/img1.jpg"]
    limited = s3.list_objects_v2(Bucket=bucket, Prefix="docs/", MaxKeys=2)
    assert [item["Key"] for item in limited["Contents"]] == ["docs/readme0.txt", "docs/readme1.txt"]
    assert limited["IsTruncated"] and limited["MaxKeys"] == 2
    rest = s3.list_objects_v2(Bucket=bucket, Prefix="docs/", ContinuationToken=limited["NextContinuationToken"])
    assert [item["Key"] for item in rest["Contents"]] == ["docs/readme2.txt", "docs/readme3.txt"]
    assert not rest["IsTruncated"]
    none = s3.list_objects_v2(Bucket=bucket, Prefix="nothing/")
    assert none["KeyCount"] == 0 and "Contents" not in none


def test_encoding_type_url_round_trips_odd_keys(s3, bucket):
    # boto3 asks for EncodingType=url itself and decodes; a raw answer is encoded.
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="with space/")
    assert [item["Key"] for item in listed["Contents"]] == ["with space/a b.txt"]
    raw = []
    s3.meta.events.register("after-call.s3.ListObjectsV2", lambda http_response, **_: raw.append(http_response.content))
    s3.list_objects_v2(Bucket=bucket, Prefix="unicode/", EncodingType="url")
    assert b"unicode%2F%C3%A9t%C3%A9.txt" in raw[-1]
    with pytest.raises(ClientError) as raised:
        s3.list_objects_v2(Bucket=bucket, EncodingType="base64")
    assert error_of(raised) == ("InvalidArgument", 400, "Invalid Encoding Method specified in Request")


def test_v1_pages_by_marker(s3, bucket):
    pages = list(s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 5}))
    assert [item["Key"] for page in pages for item in page["Contents"]] == utf8_sorted(KEYS)
    delimited = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=3)
    assert delimited["IsTruncated"] and delimited["NextMarker"] == "top.txt"
    assert [prefix["Prefix"] for prefix in delimited["CommonPrefixes"]] == ["docs/", "photos/"]
    # A common prefix as the marker is not listed again.
    again = s3.list_objects(Bucket=bucket, Delimiter="/", Marker="docs/")
    assert [prefix["Prefix"] for prefix in again["CommonPrefixes"]][0] == "photos/"
    after = s3.list_objects(Bucket=bucket, Delimiter="/", Marker=delimited["NextMarker"])
    assert [prefix["Prefix"] for prefix in after["CommonPrefixes"]] == ["unicode/", "with space/"]
    assert [item["Key"] for item in after["Contents"]] == ["z"]
    assert delimited["Contents"][0]["Owner"]["ID"] == "000000000000"


def test_aws_s3_ls_lists_prefixes_and_recursively(kumo, bucket):
    top = kumo.aws("s3", "ls", f"s3://{bucket}/", text=True).splitlines()
    assert [line.split()[-1] for line in top if line.strip().startswith("PRE")] == ["docs/", "photos/", "unicode/", "space/"]
    assert [line.split()[-1] for line in top if not line.strip().startswith("PRE")] == ["top.txt", "z"]
    recursive = kumo.aws("s3", "ls", "--recursive", f"s3://{bucket}/photos/", text=True).splitlines()
    assert len(recursive) == 9 and recursive[0].endswith("photos/2024/01/img0.jpg")


def test_listing_many_keys_pages_without_repeats(s3):
    name = unique_name("many")
    s3.create_bucket(Bucket=name)
    keys = [f"k/{index:05d}" for index in range(2500)]
    for start in range(0, len(keys), 100):
        for key in keys[start:start + 100]:
            s3.put_object(Bucket=name, Key=key, Body=b"")
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=name))
    assert [len(page["Contents"]) for page in pages] == [1000, 1000, 500]
    assert [item["Key"] for page in pages for item in page["Contents"]] == keys
    for start in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": key} for key in keys[start:start + 1000]]})
    s3.delete_bucket(Bucket=name)
