"""S3 event notifications (issue 13) with boto3 and the AWS CLI: Put/GetBucketNotificationConfiguration
(generated ids, filter rules, AWS's validation errors, destinations S3 may not use refused), the
s3:TestEvent a queue gets, AWS's event record for PutObject, CopyObject, CompleteMultipartUpload,
DeleteObject(s) to functions (asynchronously, through their resource policy) and queues, and a
notification that survives `kill -9` right after PutObject answered."""

import json

import pytest
from botocore.exceptions import ClientError

from e2e_support import ACCOUNT, error_of, poll, unique_name
from s3_notification_support import (  # noqa: F401 (fixtures)
    make_bucket,
    printed_events,
    s3,
    s3_may_invoke,
    s3_may_publish,
    s3_may_send,
    wait_for_events,
)
from sns_support import make_topic, sns  # noqa: F401 (fixtures)
from test_sns_publish import receive
from test_sqs import make_queue, queue_arn, sqs, sqs_client  # noqa: F401 (fixtures)

PRINTER = """
import json
def handler(event, context):
    print("EVENT " + json.dumps(event))
"""

UNABLE = "Unable to validate the following destination configurations"
AMBIGUOUS = (
    "Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the prefixes are "
    "overlapping for the same event type."
)


def permitted_queue(sqs, make_queue, bucket):
    url = make_queue("events")
    arn = queue_arn(sqs, url)
    s3_may_send(sqs, url, arn, bucket)
    return url, arn


def queue_config(arn, events, prefix=None, suffix=None, **extra):
    config = {"QueueArn": arn, "Events": events, **extra}
    rules = [{"Name": "prefix", "Value": prefix}] if prefix is not None else []
    rules += [{"Name": "suffix", "Value": suffix}] if suffix is not None else []
    if rules:
        config["Filter"] = {"Key": {"FilterRules": rules}}
    return config


def records(messages):
    return [record for message in messages for record in json.loads(message["Body"]).get("Records", [])]


def test_configuration_round_trips_and_a_queue_gets_the_test_event(kumo, s3, sqs, make_bucket, make_queue):
    bucket = make_bucket()
    assert {k: v for k, v in s3.get_bucket_notification_configuration(Bucket=bucket).items() if k != "ResponseMetadata"} == {}
    url, arn = permitted_queue(sqs, make_queue, bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                queue_config(arn, ["s3:ObjectCreated:*"], prefix="in/", suffix=".csv"),
                queue_config(arn, ["s3:ObjectRemoved:Delete"], Id="removals"),
            ]
        },
    )
    got = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert len(got) == 2
    assert got[0]["QueueArn"] == arn and got[0]["Events"] == ["s3:ObjectCreated:*"]
    assert got[0]["Filter"] == {
        "Key": {"FilterRules": [{"Name": "Prefix", "Value": "in/"}, {"Name": "Suffix", "Value": ".csv"}]}
    }
    assert got[0]["Id"] and got[0]["Id"] != "removals"
    assert got[1]["Id"] == "removals" and "Filter" not in got[1]
    # One test event per queue, whatever the number of configurations naming it.
    test_event = json.loads(receive(sqs, url)[0]["Body"])
    assert test_event["Service"] == "Amazon S3"
    assert test_event["Event"] == "s3:TestEvent"
    assert test_event["Bucket"] == bucket
    assert test_event["Time"].endswith("Z") and test_event["RequestId"] and test_event["HostId"]
    # The AWS CLI reads the same configuration.
    cli = kumo.aws("s3api", "get-bucket-notification-configuration", "--bucket", bucket)
    assert cli["QueueConfigurations"][1]["Id"] == "removals"
    # An empty configuration removes every rule.
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)


def test_invalid_configurations_get_awss_errors(s3, sqs, sns, make_bucket, make_queue, make_topic, make_function):
    bucket = make_bucket()
    url, arn = permitted_queue(sqs, make_queue, bucket)

    def refused(configuration):
        with pytest.raises(ClientError) as excinfo:
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)
        return error_of(excinfo)

    assert refused({"QueueConfigurations": [queue_config(arn, ["s3:ObjectCreated:Nope"])]}) == (
        "InvalidArgument", 400, "The event is not supported for notifications"
    )
    overlapping = [queue_config(arn, ["s3:ObjectCreated:*"], prefix="in/"), queue_config(arn, ["s3:ObjectCreated:Put"])]
    assert refused({"QueueConfigurations": overlapping}) == ("InvalidArgument", 400, AMBIGUOUS)
    # A queue whose policy does not let S3 send, and one that does not exist.
    closed = make_queue("closed")
    assert refused({"QueueConfigurations": [queue_config(queue_arn(sqs, closed), ["s3:ObjectCreated:*"])]}) == (
        "InvalidArgument", 400, UNABLE
    )
    missing = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{unique_name('missing')}"
    assert refused({"QueueConfigurations": [queue_config(missing, ["s3:ObjectCreated:*"])]})[2] == UNABLE
    # A queue of another region (S3 notifies destinations in the bucket's region only).
    assert refused({"QueueConfigurations": [queue_config(arn.replace("us-east-1", "eu-west-1"), ["s3:ObjectCreated:*"])]})[2] == UNABLE
    # A topic keeping its default policy (which grants the owner's account, not S3), then one granting S3.
    topic = make_topic("closed")
    topic_config = {"TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]}
    assert refused(topic_config) == ("InvalidArgument", 400, UNABLE)
    s3_may_publish(sns, topic, bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=topic_config)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    # A function without a permission for S3, one permitted for another bucket only, a missing one.
    function = make_function(PRINTER)
    lambda_config = {"LambdaFunctionConfigurations": [{"LambdaFunctionArn": function.arn, "Events": ["s3:ObjectCreated:*"]}]}
    assert refused(lambda_config) == ("InvalidArgument", 400, UNABLE)
    s3_may_invoke(function, "some-other-bucket")
    assert refused(lambda_config)[2] == UNABLE
    missing_function = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{unique_name('missing')}"
    assert refused({"LambdaFunctionConfigurations": [{"LambdaFunctionArn": missing_function, "Events": ["s3:ObjectCreated:*"]}]})[2] == UNABLE
    # Nothing was kept of the refused configurations.
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)
    assert "LambdaFunctionConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)
    # Refused: nothing happens on a put.
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []


def test_a_permitted_function_gets_the_s3_event_record_asynchronously(kumo, s3, make_bucket, make_function):
    bucket = make_bucket()
    function = make_function(PRINTER)
    s3_may_invoke(function, bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "Id": "csv-files",
                    "LambdaFunctionArn": function.arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".csv"}]}},
                }
            ]
        },
    )
    s3.put_object(Bucket=bucket, Key="skipped.txt", Body=b"not a csv")
    put = s3.put_object(Bucket=bucket, Key="in/my file (1).csv", Body=b"a,b\n1,2\n")
    record = wait_for_events(kumo, function.name, 1)[0]["Records"][0]
    assert record["eventVersion"] == "2.1"
    assert record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == "us-east-1"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["eventTime"].endswith("Z")
    assert record["userIdentity"]["principalId"]
    assert record["requestParameters"]["sourceIPAddress"]
    assert record["responseElements"]["x-amz-request-id"] == put["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    assert record["responseElements"]["x-amz-id-2"]
    assert record["s3"]["s3SchemaVersion"] == "1.0"
    assert record["s3"]["configurationId"] == "csv-files"
    assert record["s3"]["bucket"] == {"name": bucket, "ownerIdentity": {"principalId": ACCOUNT}, "arn": f"arn:aws:s3:::{bucket}"}
    obj = record["s3"]["object"]
    assert obj["key"] == "in/my+file+%281%29.csv"
    assert obj["size"] == 8
    assert obj["eTag"] == put["ETag"].strip('"')
    assert len(obj["sequencer"]) == 18 and int(obj["sequencer"], 16) > 0
    # The object the filter leaves out was not announced.
    keys = [event["Records"][0]["s3"]["object"]["key"] for event in printed_events(kumo, function.name)]
    assert "skipped.txt" not in keys


def test_a_queue_whose_policy_stops_granting_s3_gets_nothing_more(kumo, s3, sqs, make_bucket, make_queue):
    bucket = make_bucket()
    url, arn = permitted_queue(sqs, make_queue, bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [queue_config(arn, ["s3:ObjectCreated:*"])]}
    )
    receive(sqs, url)  # the test event
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    s3.put_object(Bucket=bucket, Key="while-closed", Body=b"x")
    # S3 gives the notification up (Kumo logs it) rather than sending it anyway.
    poll(
        lambda: "s3 event notification given up" in kumo.log_tail(400) and arn in kumo.log_tail(400),
        timeout=30,
        what="the notification to be given up",
    )
    s3_may_send(sqs, url, arn, bucket)
    s3.put_object(Bucket=bucket, Key="reopened", Body=b"y")
    got = records(receive(sqs, url, timeout=20))
    assert [record["s3"]["object"]["key"] for record in got] == ["reopened"]
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []) == []


FAILING = """
def handler(event, context):
    print("attempt for " + event["Records"][0]["s3"]["object"]["key"])
    raise ValueError("cannot process")
"""


def test_a_failing_function_is_retried_and_its_s3_event_reaches_the_on_failure_destination(
    kumo, s3, sqs, make_bucket, make_queue, make_function
):
    bucket = make_bucket()
    failures = make_queue("failures")
    function = make_function(FAILING, role=kumo.delivery_role())
    function.client.put_function_event_invoke_config(
        FunctionName=function.name,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue_arn(sqs, failures)}},
    )
    s3_may_invoke(function, bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": function.arn, "Events": ["s3:ObjectCreated:Put"]}]
        },
    )
    s3.put_object(Bucket=bucket, Key="bad.csv", Body=b"?")
    record = json.loads(receive(sqs, failures, timeout=30)[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestPayload"]["Records"][0]["s3"]["object"]["key"] == "bad.csv"
    assert kumo.log_text(function.name).count("attempt for bad.csv") == 2


def test_each_operation_sends_its_event_to_a_queue(s3, sqs, make_bucket, make_queue):
    bucket = make_bucket()
    url, arn = permitted_queue(sqs, make_queue, bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [queue_config(arn, ["s3:ObjectCreated:*"]), queue_config(arn, ["s3:ObjectRemoved:*"])]
        },
    )
    receive(sqs, url)  # the test event
    s3.put_object(Bucket=bucket, Key="a", Body=b"first")
    s3.put_object(Bucket=bucket, Key="a", Body=b"second")
    s3.copy_object(Bucket=bucket, Key="b", CopySource={"Bucket": bucket, "Key": "a"})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="c")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="c", UploadId=upload, PartNumber=1, Body=b"part")
    s3.complete_multipart_upload(
        Bucket=bucket, Key="c", UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    )
    s3.delete_object(Bucket=bucket, Key="a")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b"}, {"Key": "c"}]})
    got = records(receive(sqs, url, count=7, timeout=20))
    names = sorted((record["eventName"], record["s3"]["object"]["key"]) for record in got)
    assert names == sorted([
        ("ObjectCreated:Put", "a"), ("ObjectCreated:Put", "a"), ("ObjectCreated:Copy", "b"),
        ("ObjectCreated:CompleteMultipartUpload", "c"), ("ObjectRemoved:Delete", "a"),
        ("ObjectRemoved:Delete", "b"), ("ObjectRemoved:Delete", "c"),
    ])
    # Later changes of one key carry greater sequencers; removals carry no size or ETag.
    of_a = [record for record in got if record["s3"]["object"]["key"] == "a"]
    by_sequencer = sorted(of_a, key=lambda record: record["s3"]["object"]["sequencer"])
    assert [record["s3"]["object"].get("size") for record in by_sequencer] == [5, 6, None]
    assert by_sequencer[-1]["eventName"] == "ObjectRemoved:Delete" and "eTag" not in by_sequencer[-1]["s3"]["object"]
    complete = next(record for record in got if record["eventName"] == "ObjectCreated:CompleteMultipartUpload")
    assert complete["s3"]["object"]["eTag"].endswith("-1")


def test_a_notification_accepted_before_kill_9_is_still_delivered(start_server):
    # Deliveries wait 3 s here, so the kill lands after PutObject answered and before delivery.
    server = start_server(KUMO_S3_NOTIFICATION_DELAY_MS="3000")
    s3_client, sqs_client_ = server.client("s3"), server.client("sqs")
    bucket = unique_name("durable")
    s3_client.create_bucket(Bucket=bucket)
    url = sqs_client_.create_queue(QueueName=unique_name("durable"))["QueueUrl"]
    arn = queue_arn(sqs_client_, url)
    s3_may_send(sqs_client_, url, arn, bucket)
    s3_client.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": [queue_config(arn, ["s3:ObjectCreated:*"])]},
        SkipDestinationValidation=True,
    )
    s3_client.put_object(Bucket=bucket, Key="survives.csv", Body=b"1,2,3")
    assert sqs_client_.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []
    server.kill()
    server.extra_env.pop("KUMO_S3_NOTIFICATION_DELAY_MS")
    server.start()
    s3_client, sqs_client_ = server.client("s3"), server.client("sqs")
    assert s3_client.get_object(Bucket=bucket, Key="survives.csv")["Body"].read() == b"1,2,3"
    got = records(receive(sqs_client_, url, timeout=20))
    assert [(record["eventName"], record["s3"]["object"]["key"]) for record in got] == [("ObjectCreated:Put", "survives.csv")]
