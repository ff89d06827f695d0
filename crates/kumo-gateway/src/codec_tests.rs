//! Codec round trips of SQS, IAM and STS operations with the request bodies boto3 sends
//! (generated with botocore's own serializers: AWS JSON for SQS, awsQuery for IAM and STS and
//! for SQS's query form) and the legacy awsQuery names older SQS clients send (AWS's SQS
//! documentation); answers encoded in each protocol.

use std::sync::Arc;

use kumo_core::RequestContext;
use kumo_protocol::{json, query, AwsService, Call, Input, Protocol, ServiceDescriptor};
use serde::de::DeserializeOwned;

use crate::{iam_api, sqs_api, sts_api};

fn query_input<T: DeserializeOwned>(descriptor: &ServiceDescriptor, form: &str) -> T {
    let request = query::QueryRequest::parse(b"", form.as_bytes(), &descriptor.query_limits).unwrap();
    query::de::from_node(&request.params, descriptor.query_rename).unwrap()
}

/// The same SQS input in AWS JSON (boto3), botocore's query form and the legacy query names.
fn sqs_same<T: DeserializeOwned + std::fmt::Debug>(json_body: &str, botocore_query: &str, legacy_query: &str) {
    let from_json: T = json::decode(json_body.as_bytes(), 1 << 20).unwrap();
    let from_query: T = query_input(&sqs_api::DESCRIPTOR, botocore_query);
    let from_legacy: T = query_input(&sqs_api::DESCRIPTOR, legacy_query);
    assert_eq!(format!("{from_json:?}"), format!("{from_query:?}"));
    assert_eq!(format!("{from_json:?}"), format!("{from_legacy:?}"));
}

#[test]
fn sqs_requests_decode_alike_from_every_form() {
    use kumo_sqs::types::*;
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

fn parts(host: &str, path: &str) -> http::request::Parts {
    http::Request::builder().uri(path).header("host", host).body(()).unwrap().into_parts().0
}

fn call<'a>(
    protocol: Protocol,
    descriptor: &'static ServiceDescriptor,
    operation: &'a str,
    parts: &'a http::request::Parts,
) -> Call<'a> {
    let mut context = RequestContext::new("000000000000", "us-east-1");
    context.request_id = "req-1".to_string();
    Call {
        operation,
        context,
        input: Input::Json(Default::default()),
        protocol,
        descriptor,
        parts,
        body_limit: 1 << 20,
    }
}

#[test]
fn sqs_answers_encode_in_both_protocols() {
    use kumo_sqs::types::{Message, ReceiveMessageResponse};
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
    let json = call(Protocol::AwsJson1_0, &sqs_api::DESCRIPTOR, "ReceiveMessage", &head).encode(&output).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
    assert_eq!(value["Messages"][0]["Attributes"]["SenderId"], "s");
    let xml = call(Protocol::AwsQuery, &sqs_api::DESCRIPTOR, "ReceiveMessage", &head).encode(&output).unwrap();
    assert_eq!(
        std::str::from_utf8(&xml.body).unwrap(),
        "<ReceiveMessageResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><ReceiveMessageResult><Message>\
         <Attribute><Name>SenderId</Name><Value>s</Value></Attribute><Body>a&lt;b</Body><MD5OfBody>5</MD5OfBody>\
         <MessageId>m</MessageId><ReceiptHandle>h</ReceiptHandle></Message></ReceiveMessageResult>\
         <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></ReceiveMessageResponse>"
    );
    let empty = call(Protocol::AwsQuery, &sqs_api::DESCRIPTOR, "DeleteQueue", &head).encode(&()).unwrap();
    assert!(!std::str::from_utf8(&empty.body).unwrap().contains("DeleteQueueResult"));
    let empty = call(Protocol::AwsJson1_0, &sqs_api::DESCRIPTOR, "DeleteQueue", &head).encode(&()).unwrap();
    assert_eq!(empty.body, b"{}");
}

#[test]
fn a_query_request_to_a_queue_url_names_its_queue() {
    let dir = tempfile::tempdir().unwrap();
    let sqs = kumo_sqs::SqsService::open(dir.path(), "000000000000").unwrap();
    let api = sqs_api::SqsApi::new(Arc::clone(&sqs));
    let mut request =
        query::QueryRequest::parse(b"", b"Action=SendMessage&MessageBody=x", &query::QueryLimits::DEFAULT).unwrap();
    api.prepare_query(&parts("localhost:4566", "/000000000000/jobs"), &mut request.params);
    assert_eq!(request.params.child_value("QueueUrl"), Some("http://localhost:4566/000000000000/jobs"));
}

#[test]
fn iam_and_sts_requests_decode_as_botocore_sends_them() {
    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Tag {
        key: String,
        value: String,
    }
    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct CreateRole {
        role_name: String,
        path: Option<String>,
        assume_role_policy_document: String,
        max_session_duration: Option<i64>,
        tags: Vec<Tag>,
    }
    let role: CreateRole = query_input(
        &iam_api::DESCRIPTOR,
        "Action=CreateRole&Version=2010-05-08&RoleName=r&Path=%2Fsvc%2F&AssumeRolePolicyDocument=%7B%22Version%22%3A%222012-10-17%22%7D&Description=d&MaxSessionDuration=7200&Tags.member.1.Key=k&Tags.member.1.Value=v&Tags.member.2.Key=k2&Tags.member.2.Value=",
    );
    assert_eq!((role.role_name.as_str(), role.path.as_deref()), ("r", Some("/svc/")));
    assert_eq!(role.assume_role_policy_document, r#"{"Version":"2012-10-17"}"#);
    assert_eq!(role.max_session_duration, Some(7200));
    assert_eq!((role.tags[1].key.as_str(), role.tags[1].value.as_str()), ("k2", ""));

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct ListPolicies {
        scope: Option<String>,
        only_attached: Option<bool>,
        max_items: Option<i64>,
        tag_keys: Option<Vec<String>>,
    }
    let list: ListPolicies = query_input(
        &iam_api::DESCRIPTOR,
        "Action=ListPolicies&Version=2010-05-08&Scope=Local&OnlyAttached=true&PathPrefix=%2F&Marker=m&MaxItems=5&TagKeys.member.1=a&TagKeys.member.2=b",
    );
    assert_eq!((list.scope.as_deref(), list.only_attached, list.max_items), (Some("Local"), Some(true), Some(5)));
    assert_eq!(list.tag_keys.unwrap(), ["a", "b"]);

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct AssumeRole {
        role_arn: String,
        duration_seconds: Option<i64>,
    }
    let assume: AssumeRole = query_input(
        &sts_api::DESCRIPTOR,
        "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fr&RoleSessionName=ss&DurationSeconds=900&Policy=%7B%7D",
    );
    assert_eq!((assume.role_arn.as_str(), assume.duration_seconds), ("arn:aws:iam::000000000000:role/r", Some(900)));
}

#[test]
fn iam_decode_errors_read_as_iam_writes_them() {
    let error = iam_api::query_decode_error(Protocol::AwsQuery, &kumo_protocol::DecodeError::MissingField("PolicyArn"));
    assert_eq!(error.code, "ValidationError");
    assert!(error.message.contains("'policyArn'"), "{}", error.message);
    let error = iam_api::query_decode_error(
        Protocol::AwsQuery,
        &kumo_protocol::DecodeError::InvalidValue { field: "MaxItems".into(), value: "x".into(), expected: "number" },
    );
    assert_eq!(
        error.message,
        "1 validation error detected: Value 'x' at 'maxItems' failed to satisfy constraint: Member must be a number"
    );
}

#[test]
fn iam_results_render_as_iam_does() {
    use kumo_iam::types::{Members, Role, RoleLastUsed, RoleResult, Tag};
    let role = Role {
        path: "/".into(),
        role_name: "r&d".into(),
        role_id: "AROAEXAMPLE".into(),
        arn: "arn:aws:iam::000000000000:role/r&d".into(),
        create_date: "2024-01-01T00:00:00Z".into(),
        assume_role_policy_document: "%7B%7D".into(),
        description: None,
        max_session_duration: 3600,
        permissions_boundary: None,
        tags: Some(Members { member: vec![Tag { key: "k".into(), value: "v".into() }] }),
        role_last_used: Some(RoleLastUsed::default()),
    };
    let head = parts("h", "/");
    let xml = call(Protocol::AwsQuery, &iam_api::DESCRIPTOR, "GetRole", &head).encode(&RoleResult { role }).unwrap();
    assert_eq!(
        std::str::from_utf8(&xml.body).unwrap(),
        "<GetRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetRoleResult><Role><Path>/</Path>\
         <RoleName>r&amp;d</RoleName><RoleId>AROAEXAMPLE</RoleId><Arn>arn:aws:iam::000000000000:role/r&amp;d</Arn>\
         <CreateDate>2024-01-01T00:00:00Z</CreateDate><AssumeRolePolicyDocument>%7B%7D</AssumeRolePolicyDocument>\
         <MaxSessionDuration>3600</MaxSessionDuration><Tags><member><Key>k</Key><Value>v</Value></member></Tags>\
         <RoleLastUsed/></Role></GetRoleResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>\
         </GetRoleResponse>"
    );
}
