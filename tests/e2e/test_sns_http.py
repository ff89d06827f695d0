"""SNS's HTTP/S endpoints as a subscriber sees them: private endpoints refused unless the
operator opts in, messages signed so that the certificate at SigningCertURL verifies them (as
AWS's do), https endpoints trusted through an operator's CA file, and the delivery policy
(checked, shown as EffectiveDeliveryPolicy, and followed by retries)."""

import base64
import datetime
import http.server
import ipaddress
import json
import queue
import ssl
import threading
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from e2e_support import AwsCliError, poll, unique_name
from sns_support import make_topic, sns  # noqa: F401 (fixtures)
from test_sqs import make_queue, queue_arn, sqs  # noqa: F401 (fixtures)


class Endpoint:
    """A local HTTP(S) server recording what SNS posts; `fail_first` answers that many
    notifications 500 before answering 200."""

    def __init__(self, tls_context=None, fail_first=0):
        self.received = queue.Queue()
        self.fail_left = fail_first
        endpoint = self

        class Hook(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.received.put((self.headers, body))
                failing = body.get("Type") == "Notification" and endpoint.fail_left > 0
                if failing:
                    endpoint.fail_left -= 1
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        scheme = "http"
        if tls_context is not None:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self, timeout=15):
        return self.received.get(timeout=timeout)

    def close(self):
        self.server.shutdown()


@pytest.fixture
def endpoint():
    server = Endpoint()
    yield server
    server.close()


def string_to_sign(message):
    """AWS's documented string-to-sign of a message, rebuilt from what was received."""
    if message["Type"] == "Notification":
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    return "".join(f"{name}\n{message[name]}\n" for name in names if name in message).encode()


def verify(message):
    """Verifies `message`'s signature with the certificate its SigningCertURL serves (fetched
    unsigned, as a subscriber fetches it), as AWS's SDK message validators do."""
    with urllib.request.urlopen(message["SigningCertURL"], timeout=10) as response:
        certificate = x509.load_pem_x509_certificate(response.read())
    digest = hashes.SHA256() if message["SignatureVersion"] == "2" else hashes.SHA1()
    certificate.public_key().verify(
        base64.b64decode(message["Signature"]), string_to_sign(message), padding.PKCS1v15(), digest
    )


def subscribe_confirmed(sns, topic, endpoint, protocol="http"):
    sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=endpoint.url)
    headers, confirmation = endpoint.next()
    assert confirmation["Type"] == "SubscriptionConfirmation"
    arn = sns.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])["SubscriptionArn"]
    return arn, confirmation


def test_private_endpoints_are_refused_without_the_operators_opt_in(start_server):
    server = start_server()
    client = server.client("sns")
    topic = client.create_topic(Name=unique_name("private"))["TopicArn"]
    for url in [
        "http://127.0.0.1:8080/hook",
        f"{server.endpoint}/?Action=ListTopics",
        "http://localhost:9000/",
        "https://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0:80/",
    ]:
        protocol = url.split(":")[0]
        with pytest.raises(ClientError) as refused:
            client.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=url)
        error = refused.value.response["Error"]
        assert (error["Code"], error["Message"]) == ("InvalidParameter", "Invalid parameter: Unreachable Endpoint"), url
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert client.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    # The AWS CLI sees the same refusal.
    with pytest.raises(AwsCliError) as refused:
        server.aws("sns", "subscribe", "--topic-arn", topic, "--protocol", "http",
                   "--notification-endpoint", "http://127.0.0.1:8080/hook")
    assert "Unreachable Endpoint" in str(refused.value)


@pytest.mark.parametrize("version", ["1", "2"])
def test_http_messages_are_signed_verifiably_with_the_published_certificate(kumo, sns, make_topic, endpoint, version):
    topic = make_topic("signed", SignatureVersion=version)
    arn, confirmation = subscribe_confirmed(sns, topic, endpoint)
    assert confirmation["SignatureVersion"] == version
    verify(confirmation)
    sns.publish(TopicArn=topic, Message="signed hello", Subject="greeting")
    _, notification = endpoint.next()
    assert notification["Type"] == "Notification" and notification["SignatureVersion"] == version
    assert notification["SigningCertURL"].startswith(kumo.endpoint + "/_kumo/sns/SimpleNotificationService-")
    verify(notification)
    tampered = dict(notification, Message="signed hellO")
    with pytest.raises(Exception):
        verify(tampered)
    sns.unsubscribe(SubscriptionArn=arn)
    headers, goodbye = endpoint.next()
    assert goodbye["Type"] == headers["x-amz-sns-message-type"] == "UnsubscribeConfirmation"
    verify(goodbye)


def test_only_the_certificate_itself_is_served_unsigned(kumo, sns, make_topic, endpoint):
    topic = make_topic("cert")
    _, confirmation = subscribe_confirmed(sns, topic, endpoint)
    url = confirmation["SigningCertURL"]
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read().startswith(b"-----BEGIN CERTIFICATE-----")
    for other in [url + "x", kumo.endpoint + "/_kumo/sns/", kumo.endpoint + "/_kumo/sns/other.pem"]:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(other, timeout=10)
        assert refused.value.code == 403, other


def certificate(subject, key, issuer, issuer_key, ca):
    name = lambda text: x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, text)])  # noqa: E731
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        address = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
        builder = builder.add_extension(x509.SubjectAlternativeName([address]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def local_tls(tmp_path):
    """A test CA (its PEM file, for Kumo to trust) and a server context with a certificate it
    issued for 127.0.0.1."""
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("sns-test-ca", ca_key, "sns-test-ca", ca_key, ca=True)
    server = certificate("127.0.0.1", server_key, "sns-test-ca", ca_key, ca=False)
    ca_file, certificate_file, key_file = tmp_path / "ca.pem", tmp_path / "endpoint.pem", tmp_path / "endpoint.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certificate_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate_file, key_file)
    return context, ca_file


def test_https_endpoints_are_reached_through_the_operators_ca_file(start_server, tmp_path):
    context, ca_file = local_tls(tmp_path)
    server = start_server(KUMO_SNS_ALLOW_PRIVATE_ENDPOINTS="1", KUMO_SNS_CA_FILE=str(ca_file))
    client = server.client("sns")
    endpoint = Endpoint(tls_context=context)
    try:
        topic = client.create_topic(Name=unique_name("tls"))["TopicArn"]
        arn, confirmation = subscribe_confirmed(client, topic, endpoint, protocol="https")
        verify(confirmation)
        published = client.publish(TopicArn=topic, Message="over tls")
        headers, notification = endpoint.next()
        assert (notification["MessageId"], notification["Message"]) == (published["MessageId"], "over tls")
        assert headers["x-amz-sns-subscription-arn"] == arn
        verify(notification)
    finally:
        endpoint.close()


def test_delivery_policies_are_checked_and_shown_as_aws_shows_them(sns, make_topic, endpoint):
    topic = make_topic("policy")
    with pytest.raises(ClientError) as refused:
        sns.set_topic_attributes(
            TopicArn=topic,
            AttributeName="DeliveryPolicy",
            AttributeValue=json.dumps({"http": {"defaultHealthyRetryPolicy": {"numRetries": 101}}}),
        )
    assert refused.value.response["Error"]["Message"] == (
        "Invalid parameter: DeliveryPolicy: http.defaultHealthyRetryPolicy.numRetries must be less than or equal to 100"
    )
    with pytest.raises(ClientError) as refused:
        sns.set_topic_attributes(
            TopicArn=topic, AttributeName="DeliveryPolicy", AttributeValue=json.dumps({"throttlePolicy": {}})
        )
    assert refused.value.response["Error"]["Message"] == (
        "Invalid parameter: DeliveryPolicy: Unexpected JSON member: throttlePolicy"
    )
    sns.set_topic_attributes(
        TopicArn=topic,
        AttributeName="DeliveryPolicy",
        AttributeValue=json.dumps(
            {"http": {"defaultHealthyRetryPolicy": {"minDelayTarget": 5, "maxDelayTarget": 6, "numRetries": 1}}}
        ),
    )
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert json.loads(attributes["DeliveryPolicy"]) == {
        "http": {
            "defaultHealthyRetryPolicy": {"minDelayTarget": 5, "maxDelayTarget": 6, "numRetries": 1},
            "disableSubscriptionOverrides": False,
        }
    }
    assert json.loads(attributes["EffectiveDeliveryPolicy"]) == {
        "http": {
            "defaultHealthyRetryPolicy": {
                "minDelayTarget": 5, "maxDelayTarget": 6, "numRetries": 1, "numMaxDelayRetries": 0,
                "numNoDelayRetries": 0, "numMinDelayRetries": 0, "backoffFunction": "linear",
            },
            "disableSubscriptionOverrides": False,
            "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
        }
    }
    arn, _ = subscribe_confirmed(sns, topic, endpoint)
    sns.set_subscription_attributes(
        SubscriptionArn=arn,
        AttributeName="DeliveryPolicy",
        AttributeValue=json.dumps({"requestPolicy": {"headerContentType": "text/csv"}}),
    )
    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert json.loads(attributes["DeliveryPolicy"]) == {
        "healthyRetryPolicy": None, "sicklyRetryPolicy": None, "throttlePolicy": None,
        "requestPolicy": {"headerContentType": "text/csv"}, "guaranteed": False,
    }
    assert json.loads(attributes["EffectiveDeliveryPolicy"]) == {
        "healthyRetryPolicy": {
            "minDelayTarget": 5, "maxDelayTarget": 6, "numRetries": 1, "numMaxDelayRetries": 0,
            "numNoDelayRetries": 0, "numMinDelayRetries": 0, "backoffFunction": "linear",
        },
        "sicklyRetryPolicy": None,
        "throttlePolicy": None,
        "requestPolicy": {"headerContentType": "text/csv"},
        "guaranteed": False,
    }
    with pytest.raises(ClientError) as refused:
        sns.set_subscription_attributes(
            SubscriptionArn=arn,
            AttributeName="DeliveryPolicy",
            AttributeValue=json.dumps({"throttlePolicy": {"maxReceivesPerSecond": 0}}),
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameter"
    sns.publish(TopicArn=topic, Message="as csv")
    headers, notification = endpoint.next()
    assert notification["Message"] == "as csv"
    assert headers["Content-Type"] == "text/csv"


def test_failed_http_deliveries_are_retried_as_the_policy_says(sns, sqs, make_topic, make_queue):
    endpoint = Endpoint(fail_first=2)
    try:
        topic = make_topic("retried")
        arn, _ = subscribe_confirmed(sns, topic, endpoint)
        policy = {"healthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": 2}}
        sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="DeliveryPolicy",
                                        AttributeValue=json.dumps(policy))
        published = sns.publish(TopicArn=topic, Message="third time lucky")
        attempts = [endpoint.next()[1] for _ in range(3)]
        assert {attempt["MessageId"] for attempt in attempts} == {published["MessageId"]}
        assert endpoint.fail_left == 0

        # Retries exhausted: the message lands in the subscription's dead-letter queue.
        endpoint.fail_left = 10
        dead_letters = make_queue("sns-dlq")
        sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="RedrivePolicy",
                                        AttributeValue=json.dumps({"deadLetterTargetArn": queue_arn(sqs, dead_letters)}))
        policy["healthyRetryPolicy"]["numRetries"] = 1
        sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="DeliveryPolicy",
                                        AttributeValue=json.dumps(policy))
        lost = sns.publish(TopicArn=topic, Message="never accepted")
        messages = poll(
            lambda: sqs.receive_message(QueueUrl=dead_letters, WaitTimeSeconds=1).get("Messages"),
            timeout=20, what="the dead-lettered message",
        )
        assert json.loads(messages[0]["Body"])["MessageId"] == lost["MessageId"]
        assert endpoint.fail_left == 8
    finally:
        endpoint.close()


def test_a_throttled_subscription_receives_at_its_policys_rate(sns, make_topic):
    arrivals = []
    endpoint = Endpoint()
    try:
        topic = make_topic("throttled")
        arn, _ = subscribe_confirmed(sns, topic, endpoint)
        sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="DeliveryPolicy",
                                        AttributeValue=json.dumps({"throttlePolicy": {"maxReceivesPerSecond": 2}}))
        effective = json.loads(sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["EffectiveDeliveryPolicy"])
        assert effective["throttlePolicy"] == {"maxReceivesPerSecond": 2}
        sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
            {"Id": str(index), "Message": f"paced {index}"} for index in range(5)
        ])
        for _ in range(5):
            endpoint.next()
            arrivals.append(datetime.datetime.now())
        # Five deliveries at two a second take at least two seconds from the first to the last.
        assert (arrivals[-1] - arrivals[0]).total_seconds() >= 1.8
    finally:
        endpoint.close()
