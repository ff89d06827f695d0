"""SNS subscriptions through boto3 and the AWS CLI: subscribe (sqs, lambda, http pending
confirmation), attributes (RawMessageDelivery, FilterPolicy, FilterPolicyScope, RedrivePolicy),
listing, unsubscribe, and AWS's errors."""

import json

import pytest
from botocore.exceptions import ClientError

from e2e_support import ACCOUNT, error_of
from sns_support import make_topic, sns  # noqa: F401 (fixtures)
from test_sqs import make_queue, queue_arn, sqs  # noqa: F401 (fixtures)

FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:anything"


def test_subscribe_attributes_and_unsubscribe(sns, sqs, make_topic, make_queue):
    topic = make_topic("subs")
    queue = queue_arn(sqs, make_queue("subs"))
    arn = sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue,
        Attributes={"RawMessageDelivery": "True"},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    assert arn.startswith(topic + ":")
    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert attributes["TopicArn"] == topic and attributes["Endpoint"] == queue
    assert attributes["Protocol"] == "sqs" and attributes["Owner"] == ACCOUNT
    assert attributes["RawMessageDelivery"] == "true"
    assert attributes["PendingConfirmation"] == "false"
    assert "FilterPolicy" not in attributes
    # The same endpoint again is the same subscription; with other attributes it is refused.
    assert sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)["SubscriptionArn"] == arn
    with pytest.raises(ClientError) as excinfo:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue, Attributes={"RawMessageDelivery": "false"})
    assert error_of(excinfo) == (
        "InvalidParameter",
        400,
        "Invalid parameter: Attributes Reason: Subscription already exists with different attributes",
    )
    policy = json.dumps({"kind": ["card"]})
    sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="FilterPolicy", AttributeValue=policy)
    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert json.loads(attributes["FilterPolicy"]) == {"kind": ["card"]}
    assert attributes["FilterPolicyScope"] == "MessageAttributes"
    sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="FilterPolicyScope", AttributeValue="MessageBody")
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["FilterPolicyScope"] == "MessageBody"
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsConfirmed"] == "1"
    sns.unsubscribe(SubscriptionArn=arn)
    with pytest.raises(ClientError) as excinfo:
        sns.get_subscription_attributes(SubscriptionArn=arn)
    assert error_of(excinfo) == ("NotFound", 404, "Subscription does not exist")
    # Unsubscribing again is no error.
    sns.unsubscribe(SubscriptionArn=arn)


def test_subscription_errors(sns, make_topic):
    topic = make_topic("suberr")
    cases = [
        ({"Protocol": "carrier-pigeon", "Endpoint": "x"},
         "Invalid parameter: Amazon SNS does not support this protocol string: carrier-pigeon"),
        ({"Protocol": "sqs", "Endpoint": "not-an-arn"}, "Invalid parameter: SQS endpoint ARN"),
        ({"Protocol": "lambda", "Endpoint": "arn:aws:sqs:us-east-1:000000000000:q"}, "Invalid parameter: Lambda endpoint ARN"),
        ({"Protocol": "http", "Endpoint": "https://example.com"},
         "Invalid parameter: Endpoint must match the specified protocol"),
        ({"Protocol": "lambda", "Endpoint": FUNCTION_ARN, "Attributes": {"RawMessageDelivery": "true"}},
         "Invalid parameter: Attributes Reason: Delivery protocol [lambda] does not support raw message delivery."),
        ({"Protocol": "lambda", "Endpoint": FUNCTION_ARN, "Attributes": {"FilterPolicy": "{"}},
         "Invalid parameter: Attributes Reason: FilterPolicy: failed to parse JSON."),
        ({"Protocol": "lambda", "Endpoint": FUNCTION_ARN, "Attributes": {"FilterPolicyScope": "Body"}},
         "Invalid parameter: Attributes Reason: FilterPolicyScope: Invalid value [Body]. "
         "Please use either MessageBody or MessageAttributes"),
        ({"Protocol": "lambda", "Endpoint": FUNCTION_ARN, "Attributes": {"Nope": "1"}},
         "Invalid parameter: Attributes Reason: AttributeName"),
    ]
    for params, message in cases:
        with pytest.raises(ClientError) as excinfo:
            sns.subscribe(TopicArn=topic, **params)
        assert error_of(excinfo) == ("InvalidParameter", 400, message), params
    with pytest.raises(ClientError) as excinfo:
        sns.subscribe(TopicArn=topic + "-missing", Protocol="lambda", Endpoint=FUNCTION_ARN)
    assert error_of(excinfo) == ("NotFound", 404, "Topic does not exist")
    six_keys = json.dumps({key: ["x"] for key in "abcdef"})
    with pytest.raises(ClientError) as excinfo:
        sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=FUNCTION_ARN, Attributes={"FilterPolicy": six_keys})
    assert error_of(excinfo)[:2] == ("InvalidParameter", 400)
    arn = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=FUNCTION_ARN)["SubscriptionArn"]
    with pytest.raises(ClientError) as excinfo:
        sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="RedrivePolicy", AttributeValue="{}")
    assert error_of(excinfo) == (
        "InvalidParameter", 400, "Invalid parameter: RedrivePolicy: deadLetterTargetArn is an invalid arn"
    )


def test_http_subscriptions_wait_for_confirmation(sns, make_topic):
    topic = make_topic("http")
    answer = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint="http://127.0.0.1:9/hook")
    assert answer["SubscriptionArn"] == "pending confirmation"
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [entry["SubscriptionArn"] for entry in listed] == ["PendingConfirmation"]
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsPending"] == "1"
    with pytest.raises(ClientError) as excinfo:
        sns.confirm_subscription(TopicArn=topic, Token="0" * 64)
    assert error_of(excinfo) == ("InvalidParameter", 400, "Invalid parameter: Token")


def test_list_subscriptions_pages(kumo, sns, make_topic):
    topic = make_topic("many")
    endpoints = [f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f{i:03}" for i in range(103)]
    arns = {sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=endpoint)["SubscriptionArn"] for endpoint in endpoints}
    first = sns.list_subscriptions_by_topic(TopicArn=topic)
    assert len(first["Subscriptions"]) == 100 and first["NextToken"]
    second = sns.list_subscriptions_by_topic(TopicArn=topic, NextToken=first["NextToken"])
    assert "NextToken" not in second
    listed = {entry["SubscriptionArn"] for entry in first["Subscriptions"] + second["Subscriptions"]}
    assert listed == arns
    every = []
    paginator = sns.get_paginator("list_subscriptions")
    for page in paginator.paginate():
        every += [entry["SubscriptionArn"] for entry in page["Subscriptions"]]
    assert arns <= set(every)
    by_cli = kumo.aws("sns", "list-subscriptions-by-topic", "--topic-arn", topic)["Subscriptions"]
    assert {entry["SubscriptionArn"] for entry in by_cli} == arns
    # Deleting the topic deletes its subscriptions.
    sns.delete_topic(TopicArn=topic)
    remaining = set()
    for page in paginator.paginate():
        remaining |= {entry["SubscriptionArn"] for entry in page["Subscriptions"]}
    assert not remaining & arns


def test_cli_subscribe(kumo, sns, make_topic):
    topic = make_topic("cli")
    arn = kumo.aws(
        "sns", "subscribe", "--topic-arn", topic, "--protocol", "lambda", "--notification-endpoint", FUNCTION_ARN,
        "--attributes", json.dumps({"FilterPolicy": json.dumps({"a": ["b"]})}),
    )["SubscriptionArn"]
    got = kumo.aws("sns", "get-subscription-attributes", "--subscription-arn", arn)["Attributes"]
    assert json.loads(got["FilterPolicy"]) == {"a": ["b"]}
    kumo.aws("sns", "unsubscribe", "--subscription-arn", arn)
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
