//! Lambda's resource policies and tags, served by [`LambdaApi`]:
//! each operation's input decoded by the restJson1 codec, its output encoded with its status.

use http::StatusCode;
use kumo_core::AwsError;
use kumo_protocol::rest_json::{Bindings, Location, Member, Payload, RestInput, Shape};
use kumo_protocol::{Call, NoResult, RestAnswer};
use serde::Deserialize;

use crate::lambda_service::{
    answer, body, decode, FunctionNameInput, Handler, LambdaApi, FUNCTION_NAME, JSON_OUT, NAME_AND_QUALIFIER, NO_BODY,
    QUALIFIER,
};

/// The family's handlers by operation name.
pub(crate) const HANDLERS: &[(&str, Handler)] = &[
    ("GetPolicy", |api, call| Box::pin(api.get_policy(call))),
    ("AddPermission", |api, call| Box::pin(api.add_permission(call))),
    ("RemovePermission", |api, call| Box::pin(api.remove_permission(call))),
    ("ListTags", |api, call| Box::pin(api.list_tags(call))),
    ("TagResource", |api, call| Box::pin(api.tag_resource(call))),
    ("UntagResource", |api, call| Box::pin(api.untag_resource(call))),
];

const RESOURCE: Member = Member { name: "Resource", location: Location::Label("Resource"), shape: Shape::String };
const TAGGED: Bindings = Bindings { members: &[RESOURCE], payload: Payload::Empty };
/// `tagKeys` repeats (`?tagKeys=a&tagKeys=b`): a list.
const UNTAG: Bindings = Bindings {
    members: &[RESOURCE, Member { name: "TagKeys", location: Location::Query("tagKeys"), shape: Shape::StringList }],
    payload: Payload::Empty,
};
const REMOVE_PERMISSION: Bindings = Bindings {
    members: &[
        FUNCTION_NAME,
        Member { name: "StatementId", location: Location::Label("StatementId"), shape: Shape::String },
        QUALIFIER,
        Member { name: "RevisionId", location: Location::Query("RevisionId"), shape: Shape::String },
    ],
    payload: Payload::Empty,
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TaggedInput {
    resource: String,
    #[serde(default)]
    tag_keys: Vec<String>,
}

impl RestInput for TaggedInput {}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RemovePermissionInput {
    function_name: String,
    statement_id: String,
    qualifier: Option<String>,
    revision_id: Option<String>,
}

impl RestInput for RemovePermissionInput {}

impl LambdaApi {
    async fn add_permission(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let (input, request): (FunctionNameInput, _) = (decode(&call, &NAME_AND_QUALIFIER)?, body(&call)?);
        let added = self.lambda.add_permission(call.context, input.function_name, input.qualifier, request).await?;
        answer(&JSON_OUT, StatusCode::CREATED, &added)
    }

    async fn get_policy(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: FunctionNameInput = decode(&call, &NAME_AND_QUALIFIER)?;
        let policy = self.lambda.get_policy(call.context, input.function_name, input.qualifier).await?;
        answer(&JSON_OUT, StatusCode::OK, &policy)
    }

    async fn remove_permission(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: RemovePermissionInput = decode(&call, &REMOVE_PERMISSION)?;
        let (name, sid, qualifier, revision) =
            (input.function_name, input.statement_id, input.qualifier, input.revision_id);
        self.lambda.remove_permission(call.context, name, sid, qualifier, revision).await?;
        answer(&NO_BODY, StatusCode::NO_CONTENT, &NoResult {})
    }

    async fn tag_resource(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let (input, request): (TaggedInput, _) = (decode(&call, &TAGGED)?, body(&call)?);
        self.lambda.tag_resource(call.context, input.resource, request).await?;
        answer(&NO_BODY, StatusCode::NO_CONTENT, &NoResult {})
    }

    async fn untag_resource(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: TaggedInput = decode(&call, &UNTAG)?;
        self.lambda.untag_resource(call.context, input.resource, input.tag_keys).await?;
        answer(&NO_BODY, StatusCode::NO_CONTENT, &NoResult {})
    }

    async fn list_tags(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: TaggedInput = decode(&call, &TAGGED)?;
        let tags = self.lambda.list_tags(call.context, input.resource).await?;
        answer(&JSON_OUT, StatusCode::OK, &tags)
    }
}

/// The generic resource-policy operations (2026-07-09), by operation name.
pub(crate) const RESOURCE_POLICY_HANDLERS: &[(&str, Handler)] = &[
    ("PutResourcePolicy", |api, call| Box::pin(api.put_resource_policy(call))),
    ("GetResourcePolicy", |api, call| Box::pin(api.get_resource_policy(call))),
    ("DeleteResourcePolicy", |api, call| Box::pin(api.delete_resource_policy(call))),
];

const RESOURCE_ARN: Member =
    Member { name: "ResourceArn", location: Location::Label("ResourceArn"), shape: Shape::String };
const POLICY_RESOURCE: Bindings = Bindings { members: &[RESOURCE_ARN], payload: Payload::Empty };
const DELETE_RESOURCE_POLICY: Bindings = Bindings {
    members: &[
        RESOURCE_ARN,
        Member { name: "RevisionId", location: Location::Query("RevisionId"), shape: Shape::String },
    ],
    payload: Payload::Empty,
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyResourceInput {
    resource_arn: String,
    revision_id: Option<String>,
}

impl RestInput for PolicyResourceInput {}

impl LambdaApi {
    async fn put_resource_policy(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let (input, request): (PolicyResourceInput, _) = (decode(&call, &POLICY_RESOURCE)?, body(&call)?);
        let policy = self.lambda.put_resource_policy(call.context, input.resource_arn, request).await?;
        answer(&JSON_OUT, StatusCode::OK, &policy)
    }

    async fn get_resource_policy(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: PolicyResourceInput = decode(&call, &POLICY_RESOURCE)?;
        let policy = self.lambda.get_resource_policy(call.context, input.resource_arn).await?;
        answer(&JSON_OUT, StatusCode::OK, &policy)
    }

    async fn delete_resource_policy(&self, call: Call<'_>) -> Result<RestAnswer, AwsError> {
        let input: PolicyResourceInput = decode(&call, &DELETE_RESOURCE_POLICY)?;
        self.lambda.delete_resource_policy(call.context, input.resource_arn, input.revision_id).await?;
        answer(&NO_BODY, StatusCode::NO_CONTENT, &NoResult {})
    }
}
