"""SNS deliveries beyond the plain case: FIFO topics to FIFO queues in order, a subscription's
dead-letter queue for deliveries that fail, SNS topics as destinations of asynchronous
invocations, and HTTP endpoints (confirmation handshake, then notifications)."""

import http.server
import json
import queue
import threading

from e2e_support import poll
from sns_support import make_topic, sns  # noqa: F401 (fixtures)
from test_sns_publish import receive, subscribed_queue
from test_sqs import make_queue, queue_arn, sqs  # noqa: F401 (fixtures)


def test_fifo_topic_to_fifo_queue_keeps_order_and_drops_duplicates(sns, sqs, make_topic, make_queue):
    topic = make_topic("fifo", fifo=True, ContentBasedDeduplication="true")
    url = make_queue("fifo", fifo=True)
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn(sqs, url), Attributes={"RawMessageDelivery": "true"}
    )
    for index in range(20):
        sns.publish(TopicArn=topic, Message=f"m{index}", MessageGroupId="g")
    # Same body within five minutes: deduplicated by content.
    sns.publish(TopicArn=topic, Message="m0", MessageGroupId="g")
    bodies = []

    def all_arrived():
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"])
        for message in got.get("Messages", []):
            assert message["Attributes"]["MessageGroupId"] == "g"
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(bodies) >= 20

    poll(all_arrived, timeout=15, what="20 messages in the FIFO queue")
    assert bodies == [f"m{index}" for index in range(20)]
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []


def test_failed_deliveries_go_to_the_subscriptions_dead_letter_queue(sns, sqs, make_topic, make_queue):
    topic = make_topic("dlq")
    dead_letters = make_queue("dead")
    doomed = sqs.create_queue(QueueName=f"doomed-{topic.rsplit(':', 1)[1]}")["QueueUrl"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn(sqs, doomed),
        Attributes={
            "RawMessageDelivery": "true",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": queue_arn(sqs, dead_letters)}),
        },
    )
    healthy, _ = subscribed_queue(sns, sqs, make_queue, topic, RawMessageDelivery="true")
    sqs.delete_queue(QueueUrl=doomed)
    sns.publish(TopicArn=topic, Message="undeliverable")
    assert [m["Body"] for m in receive(sqs, healthy)] == ["undeliverable"]
    assert [m["Body"] for m in receive(sqs, dead_letters, timeout=15)] == ["undeliverable"]


SUCCEEDING = """
def handler(event, context):
    return {"handled": event["id"]}
"""


def test_a_topic_as_an_async_invocations_success_destination(kumo, sns, sqs, make_topic, make_queue, make_function):
    topic = make_topic("dest")
    url, _ = subscribed_queue(sns, sqs, make_queue, topic)
    role = kumo.role_with_policies(
        "sns-destination-role",
        inline={"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}]},
    )
    function = make_function(SUCCEEDING, role=role)
    function.client.put_function_event_invoke_config(
        FunctionName=function.name, DestinationConfig={"OnSuccess": {"Destination": topic}}
    )
    accepted = function.client.invoke(FunctionName=function.name, InvocationType="Event", Payload=b'{"id": "e-7"}')
    assert accepted["StatusCode"] == 202
    envelope = json.loads(receive(sqs, url, timeout=30)[0]["Body"])
    assert envelope["TopicArn"] == topic
    record = json.loads(envelope["Message"])
    assert record["responsePayload"] == {"handled": "e-7"}
    assert record["requestContext"]["condition"] == "Success"


def test_http_subscription_confirmation_and_notifications(kumo, sns, make_topic):
    received = queue.Queue()

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.put((dict(self.headers), json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        topic = make_topic("http")
        endpoint = f"http://127.0.0.1:{server.server_address[1]}/hook"
        assert sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint)["SubscriptionArn"] == (
            "pending confirmation"
        )
        headers, confirmation = received.get(timeout=10)
        assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
        assert confirmation["Type"] == "SubscriptionConfirmation"
        assert confirmation["TopicArn"] == topic
        assert confirmation["Token"] in confirmation["SubscribeURL"]
        arn = sns.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])["SubscriptionArn"]
        assert arn.startswith(topic + ":")
        assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"] == "false"
        published = sns.publish(TopicArn=topic, Message="hello hook", Subject="s")
        headers, notification = received.get(timeout=10)
        assert headers["x-amz-sns-message-type"] == "Notification"
        assert headers["x-amz-sns-subscription-arn"] == arn
        assert notification["MessageId"] == published["MessageId"]
        assert notification["Message"] == "hello hook" and notification["Subject"] == "s"
        assert received.empty()
    finally:
        server.shutdown()
