//! IAM's awsQuery binding: `Action=<Operation>` parameters to typed requests, typed results to
//! XML. IAM is global: the region of the credential scope does not matter; the account is the
//! caller's.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use http::request::Parts;
use kumo_core::{AwsError, RequestContext};
use kumo_iam::types::{
    CreatePolicyRequest, CreateRoleRequest, ListAttachedRolePoliciesRequest, ListPoliciesRequest, ListRolesRequest,
    PolicyScope, UpdateRoleRequest,
};
use kumo_iam::IamService;

use crate::query::{self, QueryParams, IAM_NAMESPACE};
use crate::Services;

/// The API version IAM clients send.
const VERSION: &str = "2010-05-08";

/// Handles one IAM request.
pub async fn handle(services: Services, parts: Parts, body: Body) -> Response {
    let context = crate::context::request_context(&services, &parts);
    let request_id = context.request_id.clone();
    let params = match QueryParams::read(&parts, body).await {
        Ok(params) => params,
        Err(error) => return query::error_response(IAM_NAMESPACE, &error, &request_id),
    };
    let action = params.action().unwrap_or_default().to_string();
    let (role, policy) = (params.optional("RoleName"), params.optional("PolicyArn"));
    if let Err(error) = services.iam.authorize_iam_call(&context, &action, role.as_deref(), policy.as_deref()) {
        return query::error_response(IAM_NAMESPACE, &error, &request_id);
    }
    match call(&services.iam, context, &action, &params).await {
        Ok(result) => query::response(&action, IAM_NAMESPACE, result, &request_id),
        Err(error) => {
            tracing::debug!(action, code = error.code, message = %error.message, "iam error");
            query::error_response(IAM_NAMESPACE, &error, &request_id)
        }
    }
}

fn scope(value: Option<String>) -> Result<PolicyScope, AwsError> {
    match value.as_deref() {
        None | Some("All") => Ok(PolicyScope::All),
        Some("AWS") => Ok(PolicyScope::Aws),
        Some("Local") => Ok(PolicyScope::Local),
        Some(other) => Err(kumo_iam::error::pattern("scope", other, "[All, AWS, Local]")),
    }
}

/// Runs one operation; `Ok(None)` for operations that answer without a result element.
async fn call(
    iam: &Arc<IamService>,
    context: RequestContext,
    action: &str,
    params: &QueryParams,
) -> Result<Option<String>, AwsError> {
    let rendered = |result: &dyn ErasedResult| result.render(action).map(Some);
    match action {
        "CreateRole" => {
            let request = CreateRoleRequest {
                role_name: params.required("RoleName")?,
                path: params.optional("Path"),
                assume_role_policy_document: params.required("AssumeRolePolicyDocument")?,
                description: params.optional("Description"),
                max_session_duration: params.integer("MaxSessionDuration")?,
                permissions_boundary: params.optional("PermissionsBoundary"),
                tags: params.tags("Tags"),
            };
            rendered(&iam.create_role(context, request).await?)
        }
        "GetRole" => rendered(&iam.get_role(context, params.required("RoleName")?).await?),
        "ListRoles" => {
            let request = ListRolesRequest { path_prefix: params.optional("PathPrefix"), page: params.page()? };
            rendered(&iam.list_roles(context, request).await?)
        }
        "UpdateRole" => {
            let request = UpdateRoleRequest {
                role_name: params.required("RoleName")?,
                description: params.optional("Description"),
                max_session_duration: params.integer("MaxSessionDuration")?,
            };
            // UpdateRole answers an empty result element.
            iam.update_role(context, request).await.map(|()| Some("<UpdateRoleResult/>".to_string()))
        }
        "UpdateRoleDescription" => {
            let role_name = params.required("RoleName")?;
            let request = UpdateRoleRequest {
                role_name: role_name.clone(),
                description: Some(params.required("Description")?),
                max_session_duration: None,
            };
            iam.update_role(context.clone(), request).await?;
            rendered(&iam.get_role(context, role_name).await?)
        }
        "UpdateAssumeRolePolicy" => iam
            .update_assume_role_policy(context, params.required("RoleName")?, params.required("PolicyDocument")?)
            .await
            .map(|()| None),
        "DeleteRole" => iam.delete_role(context, params.required("RoleName")?).await.map(|()| None),
        "TagRole" => iam.tag_role(context, params.required("RoleName")?, params.tags("Tags")).await.map(|()| None),
        "UntagRole" => {
            iam.untag_role(context, params.required("RoleName")?, params.list("TagKeys")).await.map(|()| None)
        }
        "ListRoleTags" => rendered(&iam.list_role_tags(context, params.required("RoleName")?, params.page()?).await?),
        "CreatePolicy" => {
            let request = CreatePolicyRequest {
                policy_name: params.required("PolicyName")?,
                path: params.optional("Path"),
                policy_document: params.required("PolicyDocument")?,
                description: params.optional("Description"),
                tags: params.tags("Tags"),
            };
            rendered(&iam.create_policy(context, request).await?)
        }
        "GetPolicy" => rendered(&iam.get_policy(context, params.required("PolicyArn")?).await?),
        "GetPolicyVersion" => rendered(
            &iam.get_policy_version(context, params.required("PolicyArn")?, params.required("VersionId")?).await?,
        ),
        "DeletePolicy" => iam.delete_policy(context, params.required("PolicyArn")?).await.map(|()| None),
        "ListPolicies" => {
            let request = ListPoliciesRequest {
                scope: scope(params.optional("Scope"))?,
                only_attached: params.boolean("OnlyAttached")?.unwrap_or(false),
                path_prefix: params.optional("PathPrefix"),
                page: params.page()?,
            };
            rendered(&iam.list_policies(context, request).await?)
        }
        "AttachRolePolicy" => iam
            .attach_role_policy(context, params.required("RoleName")?, params.required("PolicyArn")?)
            .await
            .map(|()| None),
        "DetachRolePolicy" => iam
            .detach_role_policy(context, params.required("RoleName")?, params.required("PolicyArn")?)
            .await
            .map(|()| None),
        "ListAttachedRolePolicies" => {
            let request = ListAttachedRolePoliciesRequest {
                role_name: params.required("RoleName")?,
                path_prefix: params.optional("PathPrefix"),
                page: params.page()?,
            };
            rendered(&iam.list_attached_role_policies(context, request).await?)
        }
        "PutRolePolicy" => iam
            .put_role_policy(
                context,
                params.required("RoleName")?,
                params.required("PolicyName")?,
                params.required("PolicyDocument")?,
            )
            .await
            .map(|()| None),
        "GetRolePolicy" => {
            rendered(&iam.get_role_policy(context, params.required("RoleName")?, params.required("PolicyName")?).await?)
        }
        "DeleteRolePolicy" => iam
            .delete_role_policy(context, params.required("RoleName")?, params.required("PolicyName")?)
            .await
            .map(|()| None),
        "ListRolePolicies" => {
            rendered(&iam.list_role_policies(context, params.required("RoleName")?, params.page()?).await?)
        }
        other => Err(query::invalid_action(other, VERSION)),
    }
}

/// A result that renders as its `<ActionResult>` element, whatever its type.
pub(crate) trait ErasedResult {
    /// The XML of the result of `action`.
    fn render(&self, action: &str) -> Result<String, AwsError>;
}

impl<T: serde::Serialize> ErasedResult for T {
    fn render(&self, action: &str) -> Result<String, AwsError> {
        query::result_xml(action, self)
    }
}
