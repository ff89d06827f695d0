//! IAM and STS behind kumo-protocol's registry, over awsQuery: the wire shapes botocore sends
//! (decoded by kumo-protocol), mapped onto the typed requests of [`crate::types`], XML-shaped
//! results out. [`IamApi`] is the registered IAM service; [`Sts`] registers STS, which the
//! same service answers. IAM is global: the region of the credential scope does not matter; the
//! account is the caller's.

use std::sync::Arc;

use kumo_core::{AwsError, RequestContext};
use kumo_protocol::query::adapter::{invalid_action, xml_service, EmptyResult, NoInput};
use kumo_protocol::{operation, AwsService, BoxFuture, Call, Encoded, Input, OperationTable};
use kumo_protocol::{ServiceContext, ServiceDescriptor, ServiceHealth};
use serde::Deserialize;

use crate::types::{
    AssumeRoleRequest, CreatePolicyRequest, CreateRoleRequest, ListAttachedRolePoliciesRequest, ListPoliciesRequest,
    ListRolesRequest, Page, PolicyScope, Tag, UpdateRoleRequest,
};
use crate::{IamService, Principal};

/// IAM's awsQuery XML namespace.
pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// STS's awsQuery XML namespace.
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// Policy documents are at most a few KB, a session policy 2,048 characters; generous.
const BODY_LIMIT: usize = 1024 * 1024;

/// IAM's declaration.
pub static IAM: ServiceDescriptor =
    xml_service("iam", IAM_NAMESPACE, BODY_LIMIT, |action| invalid_action(action, "2010-05-08"));
/// STS's declaration.
pub static STS: ServiceDescriptor =
    xml_service("sts", STS_NAMESPACE, BODY_LIMIT, |action| invalid_action(action, "2011-06-15"));

// ------------------------------------------------------------------------------------------
// IAM: wire shapes (member names as botocore sends them)

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

fn scope(value: Option<String>) -> Result<PolicyScope, AwsError> {
    match value.as_deref() {
        None | Some("All") => Ok(PolicyScope::All),
        Some("AWS") => Ok(PolicyScope::Aws),
        Some("Local") => Ok(PolicyScope::Local),
        Some(other) => Err(crate::error::pattern("scope", other, "[All, AWS, Local]")),
    }
}

/// Every IAM operation.
static IAM_OPERATIONS: OperationTable<IamApi> = OperationTable(&[
    operation!("CreateRole", BODY_LIMIT, |iam, context, request: CreateRole| async move {
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
    operation!("GetRole", BODY_LIMIT, |iam, context, request: RoleName| iam.get_role(context, request.role_name)),
    operation!("ListRoles", BODY_LIMIT, |iam, context, request: ListRoles| {
        let page = Page { marker: request.marker, max_items: request.max_items };
        iam.list_roles(context, ListRolesRequest { path_prefix: request.path_prefix, page })
    }),
    operation!("UpdateRole", BODY_LIMIT, |iam, context, request: UpdateRole| async move {
        let request = UpdateRoleRequest {
            role_name: request.role_name,
            description: request.description,
            max_session_duration: request.max_session_duration,
        };
        iam.update_role(context, request).await.map(|()| EmptyResult::default())
    }),
    operation!("UpdateRoleDescription", BODY_LIMIT, |iam, context, request: UpdateRoleDescription| async move {
        let update = UpdateRoleRequest {
            role_name: request.role_name.clone(),
            description: Some(request.description),
            max_session_duration: None,
        };
        iam.update_role(context.clone(), update).await?;
        iam.get_role(context, request.role_name).await
    }),
    operation!("UpdateAssumeRolePolicy", BODY_LIMIT, |iam, context, request: RoleDocument| {
        iam.update_assume_role_policy(context, request.role_name, request.policy_document)
    }),
    operation!("DeleteRole", BODY_LIMIT, |iam, context, request: RoleName| iam.delete_role(context, request.role_name)),
    operation!("TagRole", BODY_LIMIT, |iam, context, request: TagRole| iam.tag_role(
        context,
        request.role_name,
        tags(request.tags)
    )),
    operation!("UntagRole", BODY_LIMIT, |iam, context, request: UntagRole| iam.untag_role(
        context,
        request.role_name,
        request.tag_keys
    )),
    operation!("ListRoleTags", BODY_LIMIT, |iam, context, request: RolePage| {
        let page = Page { marker: request.marker, max_items: request.max_items };
        iam.list_role_tags(context, request.role_name, page)
    }),
    operation!("CreatePolicy", BODY_LIMIT, |iam, context, request: CreatePolicy| async move {
        let request = CreatePolicyRequest {
            policy_name: request.policy_name,
            path: request.path,
            policy_document: request.policy_document,
            description: request.description,
            tags: tags(request.tags),
        };
        iam.create_policy(context, request).await
    }),
    operation!("GetPolicy", BODY_LIMIT, |iam, context, request: PolicyArn| iam.get_policy(context, request.policy_arn)),
    operation!("GetPolicyVersion", BODY_LIMIT, |iam, context, request: PolicyVersion| {
        iam.get_policy_version(context, request.policy_arn, request.version_id)
    }),
    operation!("DeletePolicy", BODY_LIMIT, |iam, context, request: PolicyArn| iam
        .delete_policy(context, request.policy_arn)),
    operation!("ListPolicies", BODY_LIMIT, |iam, context, request: ListPolicies| async move {
        let request = ListPoliciesRequest {
            scope: scope(request.scope)?,
            only_attached: request.only_attached.unwrap_or(false),
            path_prefix: request.path_prefix,
            page: Page { marker: request.marker, max_items: request.max_items },
        };
        iam.list_policies(context, request).await
    }),
    operation!("AttachRolePolicy", BODY_LIMIT, |iam, context, request: RolePolicyArn| {
        iam.attach_role_policy(context, request.role_name, request.policy_arn)
    }),
    operation!("DetachRolePolicy", BODY_LIMIT, |iam, context, request: RolePolicyArn| {
        iam.detach_role_policy(context, request.role_name, request.policy_arn)
    }),
    operation!("PutRolePermissionsBoundary", BODY_LIMIT, |iam, context, request: RoleBoundary| {
        iam.put_role_permissions_boundary(context, request.role_name, request.permissions_boundary)
    }),
    operation!("DeleteRolePermissionsBoundary", BODY_LIMIT, |iam, context, request: RoleName| {
        iam.delete_role_permissions_boundary(context, request.role_name)
    }),
    operation!("ListAttachedRolePolicies", BODY_LIMIT, |iam, context, request: ListAttachedRolePolicies| {
        let request = ListAttachedRolePoliciesRequest {
            role_name: request.role_name,
            path_prefix: request.path_prefix,
            page: Page { marker: request.marker, max_items: request.max_items },
        };
        iam.list_attached_role_policies(context, request)
    }),
    operation!("PutRolePolicy", BODY_LIMIT, |iam, context, request: PutRolePolicy| {
        iam.put_role_policy(context, request.role_name, request.policy_name, request.policy_document)
    }),
    operation!("GetRolePolicy", BODY_LIMIT, |iam, context, request: RolePolicyName| {
        iam.get_role_policy(context, request.role_name, request.policy_name)
    }),
    operation!("DeleteRolePolicy", BODY_LIMIT, |iam, context, request: RolePolicyName| {
        iam.delete_role_policy(context, request.role_name, request.policy_name)
    }),
    operation!("ListRolePolicies", BODY_LIMIT, |iam, context, request: RolePage| {
        let page = Page { marker: request.marker, max_items: request.max_items };
        iam.list_role_policies(context, request.role_name, page)
    }),
]);

/// IAM as the registry sees it: the service, whose methods its operation table calls.
pub struct IamApi(Arc<IamService>);

impl IamApi {
    /// Wraps the service.
    pub fn new(iam: Arc<IamService>) -> Self {
        Self(iam)
    }
}

impl std::ops::Deref for IamApi {
    type Target = Arc<IamService>;

    /// The table's rows call the service's methods on it (most take `self: &Arc<Self>`).
    fn deref(&self) -> &Arc<IamService> {
        &self.0
    }
}

impl ServiceContext for IamApi {
    type Context = RequestContext;

    fn context(&self, call: &Call<'_>) -> RequestContext {
        call.context.clone()
    }
}

impl AwsService for IamApi {
    fn descriptor(&self) -> &'static ServiceDescriptor {
        &IAM
    }

    fn body_limit(&self, operation: &str) -> Option<usize> {
        IAM_OPERATIONS.body_limit(operation)
    }

    fn operation_names(&self) -> Vec<&'static str> {
        IAM_OPERATIONS.names().collect()
    }

    fn call<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<Encoded, AwsError>> {
        // Identity policies first: a role session may call only what its role allows, on the
        // role (`RoleName`, its ARN with its path) or policy (`PolicyArn`) the call names.
        let (role, path, policy) = match &call.input {
            Input::Query(params) => {
                (params.child_value("RoleName"), params.child_value("Path"), params.child_value("PolicyArn"))
            }
            _ => (None, None, None),
        };
        if let Err(error) = self.authorize_iam_call(&call.context, call.operation, role, path, policy) {
            tracing::debug!(action = call.operation, code = error.code, message = %error.message, "iam error");
            return Box::pin(std::future::ready(Err(error)));
        }
        IAM_OPERATIONS.call(self, call)
    }

    /// Running while the store keeps what IAM writes through it.
    fn health(&self) -> ServiceHealth {
        store_health(self)
    }
}

// ------------------------------------------------------------------------------------------
// STS

/// STS as the registry sees it: IAM's service answers it.
pub struct Sts {
    iam: Arc<IamService>,
}

impl Sts {
    /// STS over the identity service.
    pub fn new(iam: Arc<IamService>) -> Self {
        Self { iam }
    }
}

impl ServiceContext for Sts {
    type Context = Arc<Principal>;

    /// The caller the authentication middleware identified (the default account's root when
    /// nothing was verified).
    fn context(&self, call: &Call<'_>) -> Arc<Principal> {
        call.parts
            .extensions
            .get::<Arc<Principal>>()
            .cloned()
            .unwrap_or_else(|| Arc::new(Principal::unverified("anonymous", self.iam.default_account())))
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssumeRole {
    role_arn: String,
    role_session_name: String,
    duration_seconds: Option<i64>,
    policy: Option<String>,
    #[serde(default)]
    policy_arns: Vec<WirePolicyArn>,
}

/// A managed session policy, `PolicyArns.member.N.arn`.
#[derive(Debug, Deserialize)]
struct WirePolicyArn {
    arn: String,
}

/// Every STS operation.
static STS_OPERATIONS: OperationTable<Sts> = OperationTable(&[
    operation!("GetCallerIdentity", BODY_LIMIT, |sts, caller, _request: NoInput| async move {
        Ok(sts.iam.get_caller_identity(&caller))
    }),
    operation!("AssumeRole", BODY_LIMIT, |sts, caller, request: AssumeRole| {
        let request = AssumeRoleRequest {
            role_arn: request.role_arn,
            role_session_name: request.role_session_name,
            duration_seconds: request.duration_seconds,
            policy: request.policy,
            policy_arns: request.policy_arns.into_iter().map(|policy| policy.arn).collect(),
        };
        sts.iam.assume_role(caller, request)
    }),
]);

/// IAM's and STS's health: their store's.
fn store_health(iam: &IamService) -> ServiceHealth {
    match iam.store_health() {
        Ok(()) => ServiceHealth::Running,
        Err(why) => ServiceHealth::Unavailable(why),
    }
}

impl AwsService for Sts {
    fn descriptor(&self) -> &'static ServiceDescriptor {
        &STS
    }

    fn body_limit(&self, operation: &str) -> Option<usize> {
        STS_OPERATIONS.body_limit(operation)
    }

    fn operation_names(&self) -> Vec<&'static str> {
        STS_OPERATIONS.names().collect()
    }

    fn call<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Result<Encoded, AwsError>> {
        STS_OPERATIONS.call(self, call)
    }

    /// STS keeps its sessions in IAM's store: running while that store is.
    fn health(&self) -> ServiceHealth {
        store_health(&self.iam)
    }
}
