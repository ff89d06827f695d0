"""The pipelines of issue 13 end to end, with boto3: S3 → SQS → Lambda through an event source
mapping; S3 → SNS → {SQS, Lambda}; and transactions routed by SNS filter policies, where a
function reads a file S3 announced and publishes each transaction to a topic whose subscriptions'
filter policies send purchases and refunds to different queues."""

import json
import os
import subprocess

from e2e_support import AWS_CLI, REPO, poll
from s3_notification_support import (  # noqa: F401 (fixtures)
    make_bucket,
    s3,
    s3_may_invoke,
    s3_may_publish,
    s3_may_send,
    wait_for_events,
)
from sns_support import make_topic, sns  # noqa: F401 (fixtures)
from test_sns_publish import receive
from test_sqs import make_queue, queue_arn, sqs, sqs_client  # noqa: F401 (fixtures)

QUEUE_DRAINER = """
import json
def handler(event, context):
    for record in event["Records"]:
        body = json.loads(record["body"])
        for s3_record in body.get("Records", []):
            print("EVENT " + json.dumps({"name": s3_record["eventName"], "key": s3_record["s3"]["object"]["key"]}))
"""

SNS_READER = """
import json
def handler(event, context):
    for record in event["Records"]:
        message = json.loads(record["Sns"]["Message"])
        for s3_record in message.get("Records", []):
            print("EVENT " + json.dumps({"subject": record["Sns"]["Subject"], "key": s3_record["s3"]["object"]["key"]}))
"""

# Reads the CSV S3 announced and publishes each transaction with its type as a message attribute.
TRANSACTION_SPLITTER = """
import csv, io, json, os, urllib.parse
import boto3

s3 = boto3.client("s3")
sns = boto3.client("sns")

def handler(event, context):
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        for row in csv.DictReader(io.StringIO(text)):
            sns.publish(
                TopicArn=os.environ["TOPIC"],
                Message=json.dumps(row),
                MessageAttributes={"type": {"DataType": "String", "StringValue": row["type"]}},
            )
"""


def drained_keys(kumo, function_name, count):
    return wait_for_events(kumo, function_name, count, timeout=40)


def test_s3_to_sqs_to_lambda_through_an_event_source_mapping(kumo, s3, sqs, make_bucket, make_queue, make_function):
    bucket = make_bucket("uploads")
    url = make_queue("uploads")
    arn = queue_arn(sqs, url)
    s3_may_send(sqs, url, arn, bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    function = make_function(QUEUE_DRAINER, role=kumo.delivery_role())
    function.client.create_event_source_mapping(EventSourceArn=arn, FunctionName=function.name, BatchSize=10)
    for index in range(3):
        s3.put_object(Bucket=bucket, Key=f"batch/{index}.csv", Body=b"id,amount\n1,10\n")
    events = drained_keys(kumo, function.name, 3)
    assert sorted(event["key"] for event in events) == ["batch/0.csv", "batch/1.csv", "batch/2.csv"]
    assert {event["name"] for event in events} == {"ObjectCreated:Put"}
    poll(
        lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "0",
        timeout=30,
        what="the queue to be drained",
    )


def test_s3_to_sns_fans_out_to_a_queue_and_a_function(kumo, s3, sns, sqs, make_bucket, make_topic, make_queue, make_function):
    bucket = make_bucket("fanout")
    topic = make_topic("uploads")
    s3_may_publish(sns, topic, bucket)
    url = make_queue("fanout")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn(sqs, url))
    function = make_function(SNS_READER)
    function.client.add_permission(
        FunctionName=function.name, StatementId="sns", Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com", SourceArn=topic,
    )
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function.arn)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:Put"]}]},
    )
    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"x")
    envelopes = [json.loads(message["Body"]) for message in receive(sqs, url, count=2, timeout=20)]
    assert {envelope["Subject"] for envelope in envelopes} == {"Amazon S3 Notification"}
    messages = [json.loads(envelope["Message"]) for envelope in envelopes]
    test_events = [message for message in messages if message.get("Event") == "s3:TestEvent"]
    assert len(test_events) == 1 and test_events[0]["Bucket"] == bucket
    records = [record for message in messages for record in message.get("Records", [])]
    assert [(record["eventName"], record["s3"]["object"]["key"]) for record in records] == [
        ("ObjectCreated:Put", "report.csv")
    ]
    events = wait_for_events(kumo, function.name, 1)
    assert events == [{"subject": "Amazon S3 Notification", "key": "report.csv"}]


def test_sns_filter_policies_route_transactions_to_their_queues(
    kumo, s3, sns, sqs, make_bucket, make_topic, make_queue, make_function
):
    bucket = make_bucket("transactions")
    topic = make_topic("transactions")
    purchases, refunds = make_queue("purchases"), make_queue("refunds")
    for url, kinds in ((purchases, ["purchase"]), (refunds, ["refund", "chargeback"])):
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=queue_arn(sqs, url),
            Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps({"type": kinds})},
        )
    role = kumo.role_with_policies(
        "transaction-splitter-role",
        [],
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
                {"Effect": "Allow", "Action": "sns:Publish", "Resource": topic},
            ],
        },
    )
    function = make_function(TRANSACTION_SPLITTER, role=role, Environment={"Variables": {"TOPIC": topic}}, Timeout=30)
    s3_may_invoke(function, bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "LambdaFunctionArn": function.arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".csv"}]}},
                }
            ]
        },
    )
    rows = [
        ("t1", "purchase", "12.50"),
        ("t2", "refund", "3.00"),
        ("t3", "purchase", "99.99"),
        ("t4", "chargeback", "40.00"),
        ("t5", "transfer", "1.00"),
    ]
    body = "id,type,amount\n" + "".join(f"{row[0]},{row[1]},{row[2]}\n" for row in rows)
    s3.put_object(Bucket=bucket, Key="day 1/transactions.csv", Body=body.encode())
    bought = [json.loads(message["Body"]) for message in receive(sqs, purchases, count=2, timeout=40)]
    returned = [json.loads(message["Body"]) for message in receive(sqs, refunds, count=2, timeout=20)]
    assert sorted(row["id"] for row in bought) == ["t1", "t3"]
    assert sorted(row["id"] for row in returned) == ["t2", "t4"]
    # The transfer matched no filter policy: neither queue has anything more.
    for url in (purchases, refunds):
        assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []) == []


def test_the_transaction_pipeline_example_runs_as_its_readme_says(start_server):
    # A server of its own: the example uses fixed names, as a reader's fresh Kumo has them free.
    server = start_server()
    example = REPO / "examples" / "transaction-pipeline"
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        ENDPOINT=server.endpoint,
        PATH=f"{AWS_CLI.parent}{os.pathsep}{env.get('PATH', '')}",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    done = subprocess.run(["bash", str(example / "run.sh")], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"run.sh failed:\n{done.stdout}\n{done.stderr}\n{server.log_tail()}"
    result = json.loads(done.stdout[done.stdout.index("{\n  \"transactions\""):])
    assert result["transactions"] == 6
    assert result["totals_by_card"] == {"4111-XXXX-XXXX-1111": 380.84, "5500-XXXX-XXXX-0004": 1314.3}
    assert [(flag["id"], flag["reasons"]) for flag in result["flagged"]] == [
        ("tx-0003", ["large amount"]),
        ("tx-0004", ["abroad (PT, card usually in US)"]),
    ]
    assert result["source"] == "s3://transactions-in/incoming/transactions.csv"
    (example / "processor.zip").unlink(missing_ok=True)
