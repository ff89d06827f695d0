"""Helpers shared by the S3 event notification and pipeline tests: buckets, destinations whose
policies let S3 use them (as a user must grant it on AWS), and reading what functions printed."""

import json

import pytest

from e2e_support import ACCOUNT, poll, unique_name


@pytest.fixture
def s3(kumo):
    return kumo.client("s3")


@pytest.fixture
def make_bucket(s3):
    """`make_bucket(prefix)` → a new bucket's name; emptied and deleted after the test."""
    created = []

    def make(prefix="notify"):
        name = unique_name(prefix)
        s3.create_bucket(Bucket=name)
        created.append(name)
        return name

    yield make
    for name in created:
        s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={})
        keys = [item["Key"] for item in s3.list_objects_v2(Bucket=name).get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": key} for key in keys]})
        s3.delete_bucket(Bucket=name)


def s3_may_send(sqs, url, queue_arn, bucket):
    """Gives the queue the policy AWS requires for S3 to send it a bucket's events."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"},
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                },
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})


def s3_may_publish(sns, topic_arn, bucket):
    """Gives the topic the policy AWS requires for S3 to publish a bucket's events to it."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "SNS:Publish",
                "Resource": topic_arn,
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
            }
        ],
    }
    sns.set_topic_attributes(TopicArn=topic_arn, AttributeName="Policy", AttributeValue=json.dumps(policy))


def s3_may_invoke(function, bucket, source_account=ACCOUNT):
    """AddPermission as AWS's console and docs do it for an S3 trigger."""
    function.client.add_permission(
        FunctionName=function.name,
        StatementId=unique_name("s3"),
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{bucket}",
        SourceAccount=source_account,
    )


def printed_events(kumo, function_name, marker="EVENT "):
    """Every JSON value the function printed after `marker`, in order."""
    events = []
    for line in kumo.log_text(function_name).splitlines():
        if marker in line:
            events.append(json.loads(line.split(marker, 1)[1]))
    return events


def wait_for_events(kumo, function_name, count, timeout=30, marker="EVENT "):
    """Waits until the function printed `count` events and returns them."""
    return poll(
        lambda: (events := printed_events(kumo, function_name, marker)) and len(events) >= count and events,
        timeout=timeout,
        what=f"{count} event(s) printed by {function_name}",
    )
