//! IAM behind the registry: awsQuery in (its wire shapes below, decoded by kumo-protocol), the
//! typed requests of `kumo_iam`, XML-shaped results out. IAM is global: the region of the
//! credential scope does not matter; the account is the caller's.

use std::sync::Arc;

use kumo_core::AwsError;
use kumo_iam::types::{
    CreatePolicyRequest, CreateRoleRequest, ListAttachedRolePoliciesRequest, ListPoliciesRequest, ListRolesRequest,
    Page, PolicyScope, Tag, UpdateRoleRequest,
};
use kumo_iam::IamService;
use kumo_protocol::query::de::same_names;
use kumo_protocol::query::QueryLimits;
use kumo_protocol::service::same_code;
use kumo_protocol::{AwsService, BoxFuture, Call, DecodeError, Encoded, Input, Operation, OperationTable, Protocol};
use kumo_protocol::{ServiceDescriptor, ServiceHealth};
use serde::{Deserialize, Serialize};

use crate::query::IAM_NAMESPACE;

/// The API version IAM clients send.
const VERSION: &str = "2010-05-08";
/// Policy documents are at most a few KB; generous.
const BODY_LIMIT: usize = 1024 * 1024;

/// IAM as the registry sees it.
pub struct IamApi {
    iam: Arc<IamService>,
}

impl IamApi {
    /// Wraps the service.
    pub fn new(iam: Arc<IamService>) -> Self {
        Self { iam }
    }
}

/// IAM's declaration.
pub static DESCRIPTOR: ServiceDescriptor = ServiceDescriptor {
    name: "iam",
    signing_name: "iam",
    json_target_prefix: None,
    cbor_service_name: None,
    hosts: &[],
    protocols: &[Protocol::AwsQuery],
    xml_namespace: IAM_NAMESPACE,
    json_error_prefix: "",
    json_query_error_header: false,
    query_error_detail: false,
    default_body_limit: BODY_LIMIT,
    query_limits: QueryLimits::DEFAULT,
    query_rename: same_names,
    xml_shape: None,
    query_error_code: same_code,
    decode_error: query_decode_error,
    unknown_operation: |operation| invalid_action(operation.unwrap_or_default(), VERSION),
};

/// `RoleName` → `roleName`, as AWS names members in validation messages.
fn member_name(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|first| first.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// IAM's and STS's errors for awsQuery input they cannot decode.
pub fn query_decode_error(protocol: Protocol, error: &DecodeError) -> AwsError {
    match error {
        DecodeError::MissingField(name) => kumo_iam::error::missing(&member_name(name)),
        DecodeError::InvalidValue { field, value, expected } => kumo_iam::error::validation(format!(
            "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: Member must be a {expected}",
            member_name(field)
        )),
        DecodeError::TooLarge { limit } => kumo_protocol::registry::too_large(*limit, protocol),
        limit if limit.is_limit() => AwsError::new("MalformedQueryString", 400, limit.to_string()),
        other => kumo_iam::error::validation(other.to_string()),
    }
}

/// The answer to an `Action` the service does not have.
pub fn invalid_action(action: &str, version: &str) -> AwsError {
    AwsError::new("InvalidAction", 400, format!("Could not find operation {action} for version {version}"))
}

// ------------------------------------------------------------------------------------------
// Wire shapes (member names as botocore sends them)

/// A tag, `Tags.member.N.Key` / `.Value`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireTag {
    key: String,
    #[serde(default)]
    value: String,
}

fn tags(tags: Vec<WireTag>) -> Vec<Tag> {
    tags.into_iter().map(|tag| Tag { key: tag.key, value: tag.value }).collect()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateRole {
    role_name: String,
    path: Option<String>,
    assume_role_policy_document: String,
    description: Option<String>,
    max_session_duration: Option<i64>,
    permissions_boundary: Option<String>,
    #[serde(default)]
    tags: Vec<WireTag>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RoleName {
    role_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RolePage {
    role_name: String,
    marker: Option<String>,
    max_items: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListRoles {
    path_prefix: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateRole {
    role_name: String,
    description: Option<String>,
    max_session_duration: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateRoleDescription {
    role_name: String,
    description: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RoleDocument {
    role_name: String,
    policy_document: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagRole {
    role_name: String,
    #[serde(default)]
    tags: Vec<WireTag>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UntagRole {
    role_name: String,
    #[serde(default)]
    tag_keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreatePolicy {
    policy_name: String,
    path: Option<String>,
    policy_document: String,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<WireTag>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyArn {
    policy_arn: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyVersion {
    policy_arn: String,
    version_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListPolicies {
    scope: Option<String>,
    only_attached: Option<bool>,
    path_prefix: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RolePolicyArn {
    role_name: String,
    policy_arn: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RoleBoundary {
    role_name: String,
    permissions_boundary: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListAttachedRolePolicies {
    role_name: String,
    path_prefix: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRolePolicy {
    role_name: String,
    policy_name: String,
    policy_document: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RolePolicyName {
    role_name: String,
    policy_name: String,
}

/// UpdateRole's answer: an empty `<UpdateRoleResult/>` element.
#[derive(Debug, Serialize)]
struct EmptyResult {}

fn scope(value: Option<String>) -> Result<PolicyScope, AwsError> {
    match value.as_deref() {
        None | Some("All") => Ok(PolicyScope::All),
        Some("AWS") => Ok(PolicyScope::Aws),
        Some("Local") => Ok(PolicyScope::Local),
        Some(other) => Err(kumo_iam::error::pattern("scope", other, "[All, AWS, Local]")),
    }
}

/// One row: `|iam, context, request| future` over the wire shape.
macro_rules! operation {
    ($name:literal, |$iam:ident, $context:ident, $request:ident: $shape:ty| $body:expr) => {
        Operation {
            name: $name,
            body_limit: BODY_LIMIT,
            handler: |api, call| {
                Box::pin(async move {
                    let $iam = &api.iam;
                    let $context = call.context.clone();
                    call.run(|$request: $shape| async move { $body.await }).await
                })
            },
        }
    };
}

/// Every IAM operation.
static OPERATIONS: OperationTable<IamApi> = OperationTable(&[
    operation!("CreateRole", |iam, context, request: CreateRole| async move {
        let request = CreateRoleRequest {
            role_name: request.role_name,
            path: request.path,
            assume_role_policy_document: request.assume_role_policy_document,
            description: request.description,
            max_session_duration: request.max_session_duration,
            permissions_boundary: request.permissions_boundary,
            tags: tags(request.tags),
        };
        iam.create_role(context, request).await
    }),
    operation!("GetRole", |iam, context, request: RoleName| iam.get_role(context, request.role_name)),
    operation!("ListRoles", |iam, context, request: ListRoles| {
        let page = Page { marker: request.marker, max_items: request.max_items };
        iam.list_roles(context, ListRolesRequest { path_prefix: request.path_prefix, page })
    }),
    operation!("UpdateRole", |iam, context, request: UpdateRole| async move {
        let request = UpdateRoleRequest {
            role_name: request.role_name,
            description: request.description,
            max_session_duration: request.max_session_duration,
        };
        iam.update_role(context, request).await.map(|()| EmptyResult {})
    }),
    operation!("UpdateRoleDescription", |iam, context, request: UpdateRoleDescription| async move {
        let update = UpdateRoleRequest {
            role_name: request.role_name.clone(),
            description: Some(request.description),
            max_session_duration: None,
        };
        iam.update_role(context.clone(), update).await?;
        iam.get_role(context, request.role_name).await
    }),
    operation!("UpdateAssumeRolePolicy", |iam, context, request: RoleDocument| {
        iam.update_assume_role_policy(context, request.role_name, request.policy_document)
    }),
    operation!("DeleteRole", |iam, context, request: RoleName| iam.delete_role(context, request.role_name)),
    operation!("TagRole", |iam, context, request: TagRole| iam.tag_role(
        context,
        request.role_name,
        tags(request.tags)
    )),
    operation!("UntagRole", |iam, context, request: UntagRole| iam.untag_role(
        context,
        request.role_name,
        request.tag_keys
    )),
    operation!("ListRoleTags", |iam, context, request: RolePage| {
        let page = Page { marker: request.marker, max_items: request.max_items };
        iam.list_role_tags(context, request.role_name, page)
    }),
    operation!("CreatePolicy", |iam, context, request: CreatePolicy| async move {
        let request = CreatePolicyRequest {
            policy_name: request.policy_name,
            path: request.path,
            policy_document: request.policy_document,
            description: request.description,
            tags: tags(request.tags),
        };
        iam.create_policy(context, request).await
    }),
    operation!("GetPolicy", |iam, context, request: PolicyArn| iam.get_policy(context, request.policy_arn)),
    operation!("GetPolicyVersion", |iam, context, request: PolicyVersion| {
        iam.get_policy_version(context, request.policy_arn, request.version_id)
    }),
    operation!("DeletePolicy", |iam, context, request: PolicyArn| iam.delete_policy(context, request.policy_arn)),
    operation!("ListPolicies", |iam, context, request: ListPolicies| async move {
        let request = ListPoliciesRequest {
            scope: scope(request.scope)?,
            only_attached: request.only_attached.unwrap_or(false),
            path_prefix: request.path_prefix,
            page: Page { marker: request.marker, max_items: request.max_items },
        };
        iam.list_policies(context, request).await
    }),
    operation!("AttachRolePolicy", |iam, context, request: RolePolicyArn| {
        iam.attach_role_policy(context, request.role_name, request.policy_arn)
    }),
    operation!("DetachRolePolicy", |iam, context, request: RolePolicyArn| {
        iam.detach_role_policy(context, request.role_name, request.policy_arn)
    }),
    operation!("PutRolePermissionsBoundary", |iam, context, request: RoleBoundary| {
        iam.put_role_permissions_boundary(context, request.role_name, request.permissions_boundary)
    }),
    operation!("DeleteRolePermissionsBoundary", |iam, context, request: RoleName| {
        iam.delete_role_permissions_boundary(context, request.role_name)
    }),
    operation!("ListAttachedRolePolicies", |iam, context, request: ListAttachedRolePolicies| {
        let request = ListAttachedRolePoliciesRequest {
            role_name: request.role_name,
            path_prefix: request.path_prefix,
            page: Page { marker: request.marker, max_items: request.max_items },
        };
        iam.list_attached_role_policies(context, request)
    }),
    operation!("PutRolePolicy", |iam, context, request: PutRolePolicy| {
        iam.put_role_policy(context, request.role_name, request.policy_name, request.policy_document)
    }),
    operation!("GetRolePolicy", |iam, context, request: RolePolicyName| {
        iam.get_role_policy(context, request.role_name, request.policy_name)
    }),
    operation!("DeleteRolePolicy", |iam, context, request: RolePolicyName| {
        iam.delete_role_policy(context, request.role_name, request.policy_name)
    }),
    operation!("ListRolePolicies", |iam, context, request: RolePage| {
        let page = Page { marker: request.marker, max_items: request.max_items };
        iam.list_role_policies(context, request.role_name, page)
    }),
]);

impl AwsService for IamApi {
    fn descriptor(&self) -> &'static ServiceDescriptor {
        &DESCRIPTOR
    }

    fn body_limit(&self, operation: &str) -> Option<usize> {
        OPERATIONS.body_limit(operation)
    }

    fn call<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<Encoded, AwsError>> {
        // Identity policies first: a role session may call only what its role allows, on the
        // role (`RoleName`) or policy (`PolicyArn`) the call names.
        if let Err(error) = self.authorize(&call) {
            tracing::debug!(action = call.operation, code = error.code, message = %error.message, "iam error");
            return Box::pin(std::future::ready(Err(error)));
        }
        OPERATIONS.call(self, call)
    }

    fn health(&self) -> ServiceHealth {
        ServiceHealth::Running
    }
}

impl IamApi {
    /// [`IamService::authorize_iam_call`] for this call.
    fn authorize(&self, call: &Call<'_>) -> Result<(), AwsError> {
        let (role, policy) = match &call.input {
            Input::Query(params) => (params.child_value("RoleName"), params.child_value("PolicyArn")),
            _ => (None, None),
        };
        self.iam.authorize_iam_call(&call.context, call.operation, role, policy)
    }
}
