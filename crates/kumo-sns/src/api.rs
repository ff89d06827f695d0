//! SNS behind kumo-protocol's registry: awsQuery (signing name `sns`), XML-shaped results; the
//! operation table maps each action to its handler. [`SnsApi`] is the registered service.

use std::sync::Arc;

use kumo_core::{AwsError, RequestContext};
use kumo_protocol::query::adapter::{invalid_action, xml_service};
use kumo_protocol::{operation, AwsService, BoxFuture, Call, Encoded, OperationTable};
use kumo_protocol::{ServiceContext, ServiceDescriptor, ServiceHealth};

use crate::SnsService;

/// SNS's awsQuery XML namespace.
pub const NAMESPACE: &str = "http://sns.amazonaws.com/doc/2010-03-31/";
/// A publish carries up to 256 KiB of message and attributes, form-encoded (up to 3 bytes a
/// byte), ten of them in a batch: the batch's limit is the largest.
const PUBLISH_LIMIT: usize = 4 * 1024 * 1024;
/// Every other operation: names, ARNs, attributes (a 256 KiB filter policy, form-encoded).
const OTHER_LIMIT: usize = 1024 * 1024;

/// SNS's declaration.
pub static DESCRIPTOR: ServiceDescriptor =
    xml_service("sns", NAMESPACE, PUBLISH_LIMIT, |action| invalid_action(action, "2010-03-31"));

/// SNS as the registry sees it.
pub struct SnsApi(Arc<SnsService>);

impl SnsApi {
    /// Wraps the service.
    pub fn new(sns: Arc<SnsService>) -> Self {
        Self(sns)
    }
}

impl std::ops::Deref for SnsApi {
    type Target = Arc<SnsService>;

    /// The table's rows call the service's methods on it.
    fn deref(&self) -> &Arc<SnsService> {
        &self.0
    }
}

impl ServiceContext for SnsApi {
    type Context = RequestContext;

    fn context(&self, call: &Call<'_>) -> RequestContext {
        call.context.clone()
    }
}

/// Every SNS operation Kumo serves.
static OPERATIONS: OperationTable<SnsApi> = OperationTable(&[
    operation!("CreateTopic", OTHER_LIMIT, create_topic),
    operation!("DeleteTopic", OTHER_LIMIT, delete_topic),
    operation!("ListTopics", OTHER_LIMIT, list_topics),
    operation!("GetTopicAttributes", OTHER_LIMIT, get_topic_attributes),
    operation!("SetTopicAttributes", OTHER_LIMIT, set_topic_attributes),
    operation!("TagResource", OTHER_LIMIT, tag_resource),
    operation!("UntagResource", OTHER_LIMIT, untag_resource),
    operation!("ListTagsForResource", OTHER_LIMIT, list_tags_for_resource),
    operation!("Subscribe", OTHER_LIMIT, subscribe),
    operation!("Unsubscribe", OTHER_LIMIT, unsubscribe),
    operation!("ListSubscriptions", OTHER_LIMIT, list_subscriptions),
    operation!("ListSubscriptionsByTopic", OTHER_LIMIT, list_subscriptions_by_topic),
    operation!("GetSubscriptionAttributes", OTHER_LIMIT, get_subscription_attributes),
    operation!("SetSubscriptionAttributes", OTHER_LIMIT, set_subscription_attributes),
    operation!("ConfirmSubscription", OTHER_LIMIT, confirm_subscription),
    operation!("Publish", PUBLISH_LIMIT, publish),
    operation!("PublishBatch", PUBLISH_LIMIT, publish_batch),
]);

impl AwsService for SnsApi {
    fn descriptor(&self) -> &'static ServiceDescriptor {
        &DESCRIPTOR
    }

    fn body_limit(&self, operation: &str) -> Option<usize> {
        OPERATIONS.body_limit(operation)
    }

    fn operation_names(&self) -> Vec<&'static str> {
        OPERATIONS.names().collect()
    }

    fn call<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<Encoded, AwsError>> {
        OPERATIONS.call(self, call)
    }

    /// Running while the store keeps what it is given: Publish answers only after its commit.
    fn health(&self) -> ServiceHealth {
        match self.store_health() {
            Ok(()) => ServiceHealth::Running,
            Err(why) => ServiceHealth::Unavailable(why),
        }
    }
}
