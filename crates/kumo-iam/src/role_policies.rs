//! A role's permissions: managed policies attached to it (AttachRolePolicy, DetachRolePolicy,
//! ListAttachedRolePolicies) and its inline policies (PutRolePolicy, GetRolePolicy,
//! DeleteRolePolicy, ListRolePolicies).

use std::sync::Arc;

use kumo_core::{AwsError, RequestContext};

use crate::documents::{self, PolicyKind};
use crate::pagination::paginate;
use crate::roles::{check_name, check_path_prefix};
use crate::types::{
    AttachedPolicy, GetRolePolicyResult, ListAttachedRolePoliciesRequest, ListAttachedRolePoliciesResult,
    ListRolePoliciesResult, Page,
};
use crate::{error, IamService};

/// Managed policies one role may have attached (IAM's default quota).
pub const ATTACHED_POLICIES_MAX: usize = 10;

fn no_such_role_policy(policy_name: &str) -> AwsError {
    error::no_such_entity(format!("The role policy with name {policy_name} cannot be found."))
}

impl IamService {
    /// `AttachRolePolicy` (attaching an attached policy again changes nothing).
    pub async fn attach_role_policy(
        self: &Arc<Self>,
        context: RequestContext,
        role_name: String,
        policy_arn: String,
    ) -> Result<(), AwsError> {
        self.change_role(context, role_name, move |service, role| {
            let policy = service.check_policy_exists(&role.account, &policy_arn)?;
            if role.attached_policies.contains(&policy.arn) {
                return Ok(());
            }
            if role.attached_policies.len() >= ATTACHED_POLICIES_MAX {
                return Err(error::limit_exceeded(format!(
                    "Cannot exceed quota for PoliciesPerRole: {ATTACHED_POLICIES_MAX}"
                )));
            }
            role.attached_policies.push(policy.arn);
            Ok(())
        })
        .await
    }

    /// `DetachRolePolicy`.
    pub async fn detach_role_policy(
        self: &Arc<Self>,
        context: RequestContext,
        role_name: String,
        policy_arn: String,
    ) -> Result<(), AwsError> {
        self.change_role(context, role_name, move |_, role| {
            let before = role.attached_policies.len();
            role.attached_policies.retain(|arn| *arn != policy_arn);
            if role.attached_policies.len() == before {
                return Err(error::no_such_entity(format!("Policy {policy_arn} was not found.")));
            }
            Ok(())
        })
        .await
    }

    /// `PutRolePermissionsBoundary`: the managed policy `policy_arn` (which must exist) caps what
    /// the role's policies allow its sessions, from the next request on.
    pub async fn put_role_permissions_boundary(
        self: &Arc<Self>,
        context: RequestContext,
        role_name: String,
        policy_arn: String,
    ) -> Result<(), AwsError> {
        self.change_role(context, role_name, move |service, role| {
            let policy = service.check_policy_exists(&role.account, &policy_arn)?;
            role.permissions_boundary = Some(policy.arn);
            Ok(())
        })
        .await
    }

    /// `DeleteRolePermissionsBoundary`.
    pub async fn delete_role_permissions_boundary(
        self: &Arc<Self>,
        context: RequestContext,
        role_name: String,
    ) -> Result<(), AwsError> {
        self.change_role(context, role_name, move |_, role| {
            role.permissions_boundary = None;
            Ok(())
        })
        .await
    }

    /// `ListAttachedRolePolicies`, in attachment order.
    pub async fn list_attached_role_policies(
        self: &Arc<Self>,
        context: RequestContext,
        request: ListAttachedRolePoliciesRequest,
    ) -> Result<ListAttachedRolePoliciesResult, AwsError> {
        if let Some(prefix) = &request.path_prefix {
            check_path_prefix(prefix)?;
        }
        self.blocking(move |service| {
            let role = service.role(&context.account, &request.role_name)?;
            let prefix = request.path_prefix.as_deref().unwrap_or("/");
            let attached: Vec<(usize, AttachedPolicy)> = role
                .attached_policies
                .iter()
                .filter_map(|arn| crate::parse_iam_arn(arn).map(|parsed| (arn, parsed)))
                .filter(|(_, parsed)| parsed.path.starts_with(prefix))
                .map(|(arn, parsed)| AttachedPolicy { policy_name: parsed.name, policy_arn: arn.clone() })
                .enumerate()
                .collect();
            let (page, marker) = paginate(attached, |(index, _)| format!("{index:08}"), &request.page)?;
            Ok(ListAttachedRolePoliciesResult {
                attached_policies: page.into_iter().map(|(_, policy)| policy).collect::<Vec<_>>().into(),
                is_truncated: marker.is_some(),
                marker,
            })
        })
        .await
    }

    /// `PutRolePolicy`: creates or replaces an inline policy.
    pub async fn put_role_policy(
        self: &Arc<Self>,
        context: RequestContext,
        role_name: String,
        policy_name: String,
        policy_document: String,
    ) -> Result<(), AwsError> {
        check_name("policyName", &policy_name, 128)?;
        documents::parse(&policy_document, PolicyKind::Identity)?;
        self.change_role(context, role_name, move |_, role| {
            role.inline_policies.insert(policy_name, policy_document);
            let total: usize = role.inline_policies.values().map(|document| documents::counted_size(document)).sum();
            if total > documents::INLINE_POLICIES_MAX_CHARS {
                return Err(error::limit_exceeded(format!(
                    "Maximum policy size of {} bytes exceeded for role {}",
                    documents::INLINE_POLICIES_MAX_CHARS,
                    role.name
                )));
            }
            Ok(())
        })
        .await
    }

    /// `GetRolePolicy`.
    pub async fn get_role_policy(
        self: &Arc<Self>,
        context: RequestContext,
        role_name: String,
        policy_name: String,
    ) -> Result<GetRolePolicyResult, AwsError> {
        self.blocking(move |service| {
            let role = service.role(&context.account, &role_name)?;
            let document = role.inline_policies.get(&policy_name).ok_or_else(|| no_such_role_policy(&policy_name))?;
            Ok(GetRolePolicyResult {
                role_name: role.name.clone(),
                policy_name: policy_name.clone(),
                policy_document: documents::url_encode(document),
            })
        })
        .await
    }

    /// `DeleteRolePolicy`.
    pub async fn delete_role_policy(
        self: &Arc<Self>,
        context: RequestContext,
        role_name: String,
        policy_name: String,
    ) -> Result<(), AwsError> {
        self.change_role(context, role_name, move |_, role| {
            role.inline_policies.remove(&policy_name).ok_or_else(|| no_such_role_policy(&policy_name))?;
            Ok(())
        })
        .await
    }

    /// `ListRolePolicies`: inline policy names in order.
    pub async fn list_role_policies(
        self: &Arc<Self>,
        context: RequestContext,
        role_name: String,
        page: Page,
    ) -> Result<ListRolePoliciesResult, AwsError> {
        self.blocking(move |service| {
            let role = service.role(&context.account, &role_name)?;
            let names: Vec<String> = role.inline_policies.into_keys().collect();
            let (names, marker) = paginate(names, String::clone, &page)?;
            Ok(ListRolePoliciesResult { policy_names: names.into(), is_truncated: marker.is_some(), marker })
        })
        .await
    }
}
