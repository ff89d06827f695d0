//! SQS through the AWS SDK for Rust, a strict client of the AWS JSON protocol: a queue's life
//! (create, send, receive, delete) must deserialise into the model's shapes, with the checksums
//! the SDK verifies and the errors it tells apart.

mod support;

use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};

use support::{KumoServer, ACCOUNT, REGION};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_with_the_rust_sdk() {
    let server = KumoServer::start();
    let client = server.sqs_client();

    let created = client
        .create_queue()
        .queue_name("sdk-orders")
        .attributes(QueueAttributeName::VisibilityTimeout, "30")
        .send()
        .await
        .expect("CreateQueue");
    let url = created.queue_url().expect("CreateQueue answers the URL").to_string();
    assert!(url.ends_with(&format!("/{ACCOUNT}/sdk-orders")), "{url}");
    let found = client.get_queue_url().queue_name("sdk-orders").send().await.expect("GetQueueUrl");
    assert_eq!(found.queue_url(), Some(url.as_str()));
    let attributes = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("GetQueueAttributes");
    let arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:sdk-orders");
    assert_eq!(attributes.attributes().and_then(|a| a.get(&QueueAttributeName::QueueArn)), Some(&arn));

    // The SDK checks MD5OfMessageBody and MD5OfMessageAttributes against what it sent.
    let attribute =
        MessageAttributeValue::builder().data_type("String").string_value("gold").build().expect("attribute");
    let sent = client
        .send_message()
        .queue_url(&url)
        .message_body("order 1")
        .message_attributes("tier", attribute)
        .send()
        .await
        .expect("SendMessage");
    let message_id = sent.message_id().expect("a message id").to_string();

    let received = client
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await
        .expect("ReceiveMessage");
    let [message] = received.messages() else { panic!("one message expected: {received:?}") };
    assert_eq!(message.message_id(), Some(message_id.as_str()));
    assert_eq!(message.body(), Some("order 1"));
    let tier = message.message_attributes().and_then(|a| a.get("tier")).and_then(|v| v.string_value());
    assert_eq!(tier, Some("gold"));
    let count = message.attributes().and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount));
    assert_eq!(count.map(String::as_str), Some("1"));

    let receipt = message.receipt_handle().expect("a receipt handle");
    client.delete_message().queue_url(&url).receipt_handle(receipt).send().await.expect("DeleteMessage");
    let empty = client.receive_message().queue_url(&url).send().await.expect("ReceiveMessage");
    assert!(empty.messages().is_empty(), "the deleted message came back: {empty:?}");

    client.delete_queue().queue_url(&url).send().await.expect("DeleteQueue");
    let missing = client.get_queue_url().queue_name("sdk-orders").send().await.expect_err("the queue is gone");
    assert!(missing.as_service_error().is_some_and(|error| error.is_queue_does_not_exist()), "{missing:?}");
}
