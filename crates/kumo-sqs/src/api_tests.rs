//! Codec round trips of SQS operations with the request bodies boto3 sends (generated with
//! botocore's own serializers: AWS JSON, and the query form) and the legacy awsQuery names older
//! SQS clients send (AWS's SQS documentation); answers encoded in both protocols.

use kumo_protocol::testing::{call, parts, query_input};
use kumo_protocol::{json, query, AwsService, Protocol};
use serde::de::DeserializeOwned;

use crate::api;

/// The same SQS input in AWS JSON (boto3), botocore's query form and the legacy query names.
fn sqs_same<T: DeserializeOwned + std::fmt::Debug>(json_body: &str, botocore_query: &str, legacy_query: &str) {
    let from_json: T = json::decode(json_body.as_bytes(), 1 << 20).unwrap();
    let from_query: T = query_input(&api::DESCRIPTOR, botocore_query);
    let from_legacy: T = query_input(&api::DESCRIPTOR, legacy_query);
    assert_eq!(format!("{from_json:?}"), format!("{from_query:?}"));
    assert_eq!(format!("{from_json:?}"), format!("{from_legacy:?}"));
}

#[test]
fn sqs_requests_decode_alike_from_every_form() {
    use crate::types::*;
    sqs_same::<SendMessageBatchRequest>(
        r#"{"QueueUrl": "http://h/000000000000/q", "Entries": [{"Id": "a", "MessageBody": "x", "DelaySeconds": 3, "MessageAttributes": {"color": {"DataType": "String", "StringValue": "red"}, "bin": {"DataType": "Binary", "BinaryValue": "AAE="}}, "MessageSystemAttributes": {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1"}}}, {"Id": "b", "MessageBody": "y", "MessageGroupId": "g", "MessageDeduplicationId": "d"}]}"#,
        "Action=SendMessageBatch&Version=2012-11-05&QueueUrl=http%3A%2F%2Fh%2F000000000000%2Fq&Entries.1.Id=a&Entries.1.MessageBody=x&Entries.1.DelaySeconds=3&Entries.1.MessageAttributes.1.key=color&Entries.1.MessageAttributes.1.value.DataType=String&Entries.1.MessageAttributes.1.value.StringValue=red&Entries.1.MessageAttributes.2.key=bin&Entries.1.MessageAttributes.2.value.DataType=Binary&Entries.1.MessageAttributes.2.value.BinaryValue=AAE%3D&Entries.1.MessageSystemAttributes.1.key=AWSTraceHeader&Entries.1.MessageSystemAttributes.1.value.DataType=String&Entries.1.MessageSystemAttributes.1.value.StringValue=Root%3D1&Entries.2.Id=b&Entries.2.MessageBody=y&Entries.2.MessageGroupId=g&Entries.2.MessageDeduplicationId=d",
        "Action=SendMessageBatch&QueueUrl=http%3A%2F%2Fh%2F000000000000%2Fq&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=x&SendMessageBatchRequestEntry.1.DelaySeconds=3&SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=color&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=String&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=red&SendMessageBatchRequestEntry.1.MessageAttribute.2.Name=bin&SendMessageBatchRequestEntry.1.MessageAttribute.2.Value.DataType=Binary&SendMessageBatchRequestEntry.1.MessageAttribute.2.Value.BinaryValue=AAE%3D&SendMessageBatchRequestEntry.1.MessageSystemAttribute.1.Name=AWSTraceHeader&SendMessageBatchRequestEntry.1.MessageSystemAttribute.1.Value.DataType=String&SendMessageBatchRequestEntry.1.MessageSystemAttribute.1.Value.StringValue=Root%3D1&SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=y&SendMessageBatchRequestEntry.2.MessageGroupId=g&SendMessageBatchRequestEntry.2.MessageDeduplicationId=d",
    );
    sqs_same::<CreateQueueRequest>(
        r#"{"QueueName": "q.fifo", "Attributes": {"FifoQueue": "true", "VisibilityTimeout": "45"}, "tags": {"team": "a"}}"#,
        "Action=CreateQueue&Version=2012-11-05&QueueName=q.fifo&Attributes.1.key=FifoQueue&Attributes.1.value=true&Attributes.2.key=VisibilityTimeout&Attributes.2.value=45&tags.1.key=team&tags.1.value=a",
        "Action=CreateQueue&QueueName=q.fifo&Attribute.1.Name=FifoQueue&Attribute.1.Value=true&Attribute.2.Name=VisibilityTimeout&Attribute.2.Value=45&Tag.1.Key=team&Tag.1.Value=a",
    );
    sqs_same::<ReceiveMessageRequest>(
        r#"{"QueueUrl": "u", "AttributeNames": ["All"], "MessageSystemAttributeNames": ["SenderId"], "MessageAttributeNames": ["color"], "MaxNumberOfMessages": 10, "VisibilityTimeout": 5, "WaitTimeSeconds": 1}"#,
        "Action=ReceiveMessage&Version=2012-11-05&QueueUrl=u&AttributeNames.1=All&MessageSystemAttributeNames.1=SenderId&MessageAttributeNames.1=color&MaxNumberOfMessages=10&VisibilityTimeout=5&WaitTimeSeconds=1",
        "Action=ReceiveMessage&QueueUrl=u&AttributeName.1=All&MessageSystemAttributeName.1=SenderId&MessageAttributeName.1=color&MaxNumberOfMessages=10&VisibilityTimeout=5&WaitTimeSeconds=1",
    );
    sqs_same::<ReceiptBatchRequest>(
        r#"{"QueueUrl": "u", "Entries": [{"Id": "a", "ReceiptHandle": "h", "VisibilityTimeout": 0}]}"#,
        "Action=ChangeMessageVisibilityBatch&Version=2012-11-05&QueueUrl=u&Entries.1.Id=a&Entries.1.ReceiptHandle=h&Entries.1.VisibilityTimeout=0",
        "Action=ChangeMessageVisibilityBatch&QueueUrl=u&ChangeMessageVisibilityBatchRequestEntry.1.Id=a&ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle=h&ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout=0",
    );
    sqs_same::<UntagQueueRequest>(
        r#"{"QueueUrl": "u", "TagKeys": ["a", "b"]}"#,
        "Action=UntagQueue&Version=2012-11-05&QueueUrl=u&TagKeys.1=a&TagKeys.2=b",
        "Action=UntagQueue&QueueUrl=u&TagKey.1=a&TagKey.2=b",
    );
}

#[test]
fn sqs_answers_encode_in_both_protocols() {
    use crate::types::{Message, ReceiveMessageResponse};
    let message = Message {
        message_id: "m".into(),
        receipt_handle: "h".into(),
        md5_of_body: "5".into(),
        body: "a<b".into(),
        attributes: [("SenderId".to_string(), "s".to_string())].into(),
        md5_of_message_attributes: None,
        message_attributes: Default::default(),
    };
    let output = ReceiveMessageResponse { messages: vec![message] };
    let head = parts("h", "/");
    let json = call(Protocol::AwsJson1_0, &api::DESCRIPTOR, "ReceiveMessage", &head).encode(&output).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
    assert_eq!(value["Messages"][0]["Attributes"]["SenderId"], "s");
    let xml = call(Protocol::AwsQuery, &api::DESCRIPTOR, "ReceiveMessage", &head).encode(&output).unwrap();
    assert_eq!(
        std::str::from_utf8(&xml.body).unwrap(),
        "<ReceiveMessageResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><ReceiveMessageResult><Message>\
         <Attribute><Name>SenderId</Name><Value>s</Value></Attribute><Body>a&lt;b</Body><MD5OfBody>5</MD5OfBody>\
         <MessageId>m</MessageId><ReceiptHandle>h</ReceiptHandle></Message></ReceiveMessageResult>\
         <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></ReceiveMessageResponse>"
    );
    let empty = call(Protocol::AwsQuery, &api::DESCRIPTOR, "DeleteQueue", &head).encode(&()).unwrap();
    assert!(!std::str::from_utf8(&empty.body).unwrap().contains("DeleteQueueResult"));
    let empty = call(Protocol::AwsJson1_0, &api::DESCRIPTOR, "DeleteQueue", &head).encode(&()).unwrap();
    assert_eq!(empty.body, b"{}");
    // What the service's no-result operations return encodes the same as `()`.
    let empty = call(Protocol::AwsQuery, &api::DESCRIPTOR, "DeleteQueue", &head).encode(&crate::types::Empty {});
    assert!(!std::str::from_utf8(&empty.unwrap().body).unwrap().contains("DeleteQueueResult"));
    let empty = call(Protocol::AwsJson1_0, &api::DESCRIPTOR, "DeleteQueue", &head).encode(&crate::types::Empty {});
    assert_eq!(empty.unwrap().body, b"{}");
}

#[test]
fn a_query_request_to_a_queue_url_names_its_queue() {
    let dir = tempfile::tempdir().unwrap();
    let sqs = api::SqsApi::new(crate::SqsService::open(dir.path(), "000000000000").unwrap());
    let mut request =
        query::QueryRequest::parse(b"", b"Action=SendMessage&MessageBody=x", &query::QueryLimits::DEFAULT).unwrap();
    sqs.prepare_query(&parts("localhost:4566", "/000000000000/jobs"), &mut request.params);
    assert_eq!(request.params.child_value("QueueUrl"), Some("http://localhost:4566/000000000000/jobs"));
    let mut request =
        query::QueryRequest::parse(b"", b"Action=SendMessage&MessageBody=x", &query::QueryLimits::DEFAULT).unwrap();
    sqs.prepare_query(&parts("localhost:4566", "/queue/eu-west-1/000000000000/jobs"), &mut request.params);
    let url = request.params.child_value("QueueUrl");
    assert_eq!(url, Some("http://localhost:4566/queue/eu-west-1/000000000000/jobs"));
}
