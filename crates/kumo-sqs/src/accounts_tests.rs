//! Queues per account and their authorization: the same name in two accounts, queue policies
//! for other accounts, role sessions held to their identity policies.

use std::sync::Arc;

use kumo_core::policy::{Authorizer, IdentityPolicies};
use serde_json::{json, Value};

use crate::types::*;
use crate::SqsService;

const HOME: &str = "000000000000";
const OTHER: &str = "111111111111";
const ENDPOINT: &str = "http://h:1";

fn create(name: &str) -> CreateQueueRequest {
    CreateQueueRequest { queue_name: Some(name.into()), ..Default::default() }
}

fn send(url: &str, body: &str) -> SendMessageRequest {
    SendMessageRequest { queue_url: Some(url.into()), message_body: Some(body.into()), ..Default::default() }
}

fn receive(url: &str) -> ReceiveMessageRequest {
    ReceiveMessageRequest { queue_url: Some(url.into()), max_number_of_messages: Some(10), ..Default::default() }
}

#[tokio::test]
async fn each_account_has_its_own_queues_and_a_policy_lets_another_in() {
    let dir = tempfile::tempdir().unwrap();
    let service = SqsService::open(dir.path(), HOME).unwrap();
    let (home, other) = (SqsContext::root(HOME, "us-east-1", ENDPOINT), SqsContext::root(OTHER, "us-east-1", ENDPOINT));
    let home_url = service.create_queue(&home, create("jobs")).await.unwrap().queue_url;
    let other_url = service.create_queue(&other, create("jobs")).await.unwrap().queue_url;
    assert_eq!(home_url, "http://h:1/queue/us-east-1/000000000000/jobs");
    assert_eq!(other_url, "http://h:1/queue/us-east-1/111111111111/jobs");
    service.send_message(&home, send(&home_url, "home")).await.unwrap();
    let listed = service.list_queues(&other, ListQueuesRequest::default()).await.unwrap().queue_urls;
    assert_eq!(listed, vec![other_url.clone()]);
    assert!(service.receive_message(&other, receive(&other_url)).await.unwrap().messages.is_empty());
    assert_eq!(service.metrics_of(HOME)[0].number_of_messages_sent, 1);
    assert_eq!(service.metrics_of(OTHER)[0].number_of_messages_sent, 0);

    let denied = service.send_message(&other, send(&home_url, "x")).await.unwrap_err();
    assert_eq!((denied.code, denied.status), ("AccessDeniedException", 403));
    assert_eq!(crate::error::query_code(denied.code), "AccessDenied");
    assert_eq!(
        denied.message,
        "User: arn:aws:iam::111111111111:root is not authorized to perform: sqs:sendmessage on resource: arn:aws:sqs:us-east-1:000000000000:jobs because no resource-based policy allows the sqs:sendmessage action"
    );
    let missing = service.send_message(&other, send("http://h:1/000000000000/none", "x")).await.unwrap_err();
    assert_eq!(missing.code, "QueueDoesNotExist");
    let by_owner =
        GetQueueUrlRequest { queue_name: Some("jobs".into()), queue_owner_aws_account_id: Some(HOME.into()) };
    assert_eq!(service.get_queue_url(&other, by_owner.clone()).await.unwrap_err().code, "AccessDeniedException");

    let policy = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OTHER}:root")},
        "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"], "Resource": "arn:aws:sqs:*:000000000000:jobs"}]});
    let attributes = [("Policy".to_string(), policy.to_string())].into();
    let set = SetQueueAttributesRequest { queue_url: Some(home_url.clone()), attributes };
    service.set_queue_attributes(&home, set).await.unwrap();
    service.send_message(&other, send(&home_url, "granted")).await.unwrap();
    assert_eq!(service.get_queue_url(&other, by_owner).await.unwrap().queue_url, home_url);
    assert_eq!(service.receive_message(&other, receive(&home_url)).await.unwrap_err().code, "AccessDeniedException");
    let bodies: Vec<String> = service
        .receive_message(&home, receive(&home_url))
        .await
        .unwrap()
        .messages
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, ["home", "granted"]);
}

struct Fixed(Vec<Value>);

impl IdentityPolicies for Fixed {
    fn statements_of_role(&self, _role_arn: &str) -> Arc<Vec<Value>> {
        Arc::new(self.0.clone())
    }
}

#[tokio::test]
async fn role_sessions_need_their_identity_policies_when_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let service = SqsService::open(dir.path(), HOME).unwrap();
    let root = SqsContext::root(HOME, "us-east-1", ENDPOINT);
    let url = service.create_queue(&root, create("jobs")).await.unwrap().queue_url;
    let statements = vec![json!({"Effect": "Allow", "Action": "sqs:Send*", "Resource": "*"})];
    service.set_authorizer(Authorizer::enforcing(Arc::new(Fixed(statements))));
    let mut session = root.clone();
    session.request.caller_arn = "arn:aws:sts::000000000000:assumed-role/app/fn".into();
    session.request.role_arn = Some("arn:aws:iam::000000000000:role/app".into());
    service.send_message(&session, send(&url, "allowed")).await.unwrap();
    let refused = service.receive_message(&session, receive(&url)).await.unwrap_err();
    assert_eq!(refused.code, "AccessDeniedException");
    assert!(refused.message.ends_with("because no identity-based policy allows the sqs:receivemessage action"));
    let list = service.list_queues(&session, ListQueuesRequest::default()).await.unwrap_err();
    assert!(list.message.contains("sqs:listqueues on resource: arn:aws:sqs:us-east-1:000000000000:"));
    assert_eq!(service.receive_message(&root, receive(&url)).await.unwrap().messages.len(), 1, "the root may");
}

#[tokio::test]
async fn the_same_name_in_two_regions_is_two_queues_each_reachable_by_its_url() {
    let dir = tempfile::tempdir().unwrap();
    let service = SqsService::open(dir.path(), HOME).unwrap();
    let east = SqsContext::root(HOME, "us-east-1", ENDPOINT);
    let west = SqsContext::root(HOME, "eu-west-1", ENDPOINT);
    let east_url = service.create_queue(&east, create("jobs")).await.unwrap().queue_url;
    let west_url = service.create_queue(&west, create("jobs")).await.unwrap().queue_url;
    assert_eq!(west_url, "http://h:1/queue/eu-west-1/000000000000/jobs");
    // A client signing for us-east-1 reaches the eu-west-1 queue through its URL.
    service.send_message(&east, send(&west_url, "west")).await.unwrap();
    assert!(service.receive_message(&east, receive(&east_url)).await.unwrap().messages.is_empty());
    let received = service.receive_message(&west, receive("jobs")).await.unwrap().messages;
    assert_eq!(received.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), ["west"], "a bare name: caller's queue");
    // The form without a region resolves in the caller's region.
    service.send_message(&east, send("http://h:1/000000000000/jobs", "east")).await.unwrap();
    assert_eq!(service.receive_message(&east, receive(&east_url)).await.unwrap().messages.len(), 1);
    let bad = service.send_message(&east, send("http://h:1/a/b/c", "x")).await.unwrap_err();
    assert_eq!((bad.code, bad.status), ("InvalidAddress", 404));
}

#[tokio::test]
async fn host_style_urls_carry_the_region_in_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let service = SqsService::open(dir.path(), HOME).unwrap();
    service.set_url_style(crate::urls::UrlStyle::Host);
    let west = SqsContext::root(HOME, "eu-west-1", "http://127.0.0.1:4566");
    let url = service.create_queue(&west, create("jobs")).await.unwrap().queue_url;
    assert_eq!(url, "http://sqs.eu-west-1.localhost:4566/000000000000/jobs");
    let east = SqsContext::root(HOME, "us-east-1", "http://127.0.0.1:4566");
    service.send_message(&east, send(&url, "x")).await.unwrap();
    assert_eq!(service.receive_message(&west, receive(&url)).await.unwrap().messages.len(), 1);
}
