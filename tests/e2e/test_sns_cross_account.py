"""SNS delivers to another account's queue only when the queue's policy grants SNS for the topic:
otherwise one tenant could fill another's queue by subscribing it to its own topic."""

import json

from e2e_support import poll, unique_name

OTHER = "111111111111"
OTHER_KEYS = {"aws_access_key_id": "other", "aws_secret_access_key": "othersecret"}


def received_bodies(sqs, queue_url):
    """The notification texts waiting in the queue (each received message is deleted)."""
    bodies = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"])["Message"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_another_accounts_queue_gets_notifications_only_when_its_policy_grants_the_topic(start_server):
    server = start_server(KUMO_ACCESS_KEYS=f"test:test,other:othersecret:{OTHER}")
    sns = server.client("sns")
    victim_sqs = server.client("sqs", **OTHER_KEYS)
    queue_url = victim_sqs.create_queue(QueueName=unique_name("victim"))["QueueUrl"]
    queue_arn = victim_sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert f":{OTHER}:" in queue_arn
    topic_arn = sns.create_topic(Name=unique_name("intruder"))["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

    sns.publish(TopicArn=topic_arn, Message="unsolicited")
    poll(
        lambda: "sns delivery failed" in server.log_tail(400) and queue_arn in server.log_tail(400),
        timeout=30,
        what="the delivery to the other account's queue to be given up",
    )
    assert received_bodies(victim_sqs, queue_url) == []

    # The queue's owner grants SNS for this topic: deliveries go through.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    victim_sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    sns.publish(TopicArn=topic_arn, Message="invited")
    seen = []
    poll(lambda: seen.extend(received_bodies(victim_sqs, queue_url)) or "invited" in seen, timeout=30, what="the granted delivery")
    assert seen == ["invited"]
