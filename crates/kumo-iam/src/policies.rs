//! Managed policies: CreatePolicy, GetPolicy, GetPolicyVersion, DeletePolicy, ListPolicies.
//! AWS-managed policies ([`crate::managed`]) exist in every account and cannot be changed.
//! Kumo keeps one version (`v1`) of each policy.

use std::sync::Arc;

use kumo_core::{AwsError, RequestContext};

use crate::documents::{self, PolicyKind};
use crate::managed::{self, ManagedPolicy};
use crate::model::PolicyRecord;
use crate::pagination::paginate;
use crate::roles::{check_description, check_name, check_path, check_path_prefix, check_tags};
use crate::store::Kind;
use crate::types::{
    CreatePolicyRequest, GetPolicyVersionResult, ListPoliciesRequest, ListPoliciesResult, Policy, PolicyResult,
    PolicyScope, PolicyVersion,
};
use crate::{error, ids, iso8601, IamService};

/// The only version Kumo keeps.
const VERSION: &str = "v1";

/// A policy of either kind, as one shape.
#[derive(Debug, Clone)]
pub(crate) struct AnyPolicy {
    pub name: String,
    pub path: String,
    pub policy_id: String,
    pub arn: String,
    pub description: Option<String>,
    pub document: String,
    pub created_ms: u64,
    pub tags: Vec<crate::model::Tag>,
    pub aws_managed: bool,
}

impl From<&ManagedPolicy> for AnyPolicy {
    fn from(policy: &ManagedPolicy) -> Self {
        Self {
            name: policy.name.to_string(),
            path: policy.path.to_string(),
            policy_id: policy.policy_id(),
            arn: policy.arn(),
            description: Some(policy.description.to_string()),
            document: policy.document.to_string(),
            created_ms: managed::CREATED_MS,
            tags: Vec::new(),
            aws_managed: true,
        }
    }
}

impl From<&PolicyRecord> for AnyPolicy {
    fn from(policy: &PolicyRecord) -> Self {
        Self {
            name: policy.name.clone(),
            path: policy.path.clone(),
            policy_id: policy.policy_id.clone(),
            arn: policy.arn.clone(),
            description: policy.description.clone(),
            document: policy.document.clone(),
            created_ms: policy.created_ms,
            tags: policy.tags.clone(),
            aws_managed: false,
        }
    }
}

fn not_found(arn: &str) -> AwsError {
    error::no_such_entity(format!("Policy {arn} was not found."))
}

/// Checks a `PolicyArn` parameter's shape.
fn check_policy_arn(arn: &str) -> Result<(), AwsError> {
    if arn.len() < 20 || arn.len() > 2048 || crate::parse_iam_arn(arn).is_none_or(|parsed| parsed.kind != "policy") {
        return Err(error::invalid_input(format!("ARN {arn} is not valid.")));
    }
    Ok(())
}

impl IamService {
    /// The policy an ARN names, visible from `account` (its own or AWS-managed).
    pub(crate) fn policy(&self, account: &str, arn: &str) -> Option<AnyPolicy> {
        if let Some(policy) = managed::find(arn) {
            return Some(policy.into());
        }
        let state = self.read();
        let policy = state.policies.get(&arn.to_ascii_lowercase())?;
        (policy.account == account).then(|| policy.into())
    }

    /// `NoSuchEntity` unless the policy exists and is attachable from `account`.
    pub(crate) fn check_policy_exists(&self, account: &str, arn: &str) -> Result<AnyPolicy, AwsError> {
        check_policy_arn(arn)?;
        self.policy(account, arn)
            .ok_or_else(|| error::no_such_entity(format!("Policy {arn} does not exist or is not attachable.")))
    }

    /// How many roles of `account` have `arn` attached, and use it as their boundary.
    fn usage(&self, account: &str, arn: &str) -> (u32, u32) {
        let state = self.read();
        let roles = state.roles.values().filter(|role| role.account == account);
        roles.fold((0, 0), |(attached, boundary), role| {
            (
                attached + u32::from(role.attached_policies.iter().any(|a| a == arn)),
                boundary + u32::from(role.permissions_boundary.as_deref() == Some(arn)),
            )
        })
    }

    fn render_policy(&self, account: &str, policy: &AnyPolicy, with_details: bool) -> Policy {
        let (attachment_count, permissions_boundary_usage_count) = self.usage(account, &policy.arn);
        Policy {
            policy_name: policy.name.clone(),
            policy_id: policy.policy_id.clone(),
            arn: policy.arn.clone(),
            path: policy.path.clone(),
            default_version_id: VERSION.to_string(),
            attachment_count,
            permissions_boundary_usage_count,
            is_attachable: true,
            description: policy.description.clone().filter(|_| with_details),
            create_date: iso8601(policy.created_ms),
            update_date: iso8601(policy.created_ms),
            tags: (with_details && !policy.tags.is_empty()).then(|| policy.tags.clone().into()),
        }
    }

    /// `CreatePolicy`.
    pub async fn create_policy(
        self: &Arc<Self>,
        context: RequestContext,
        request: CreatePolicyRequest,
    ) -> Result<PolicyResult, AwsError> {
        check_name("policyName", &request.policy_name, 128)?;
        let path = request.path.clone().unwrap_or_else(|| "/".to_string());
        check_path(&path)?;
        if let Some(description) = &request.description {
            check_description(description)?;
        }
        check_tags(&request.tags)?;
        if documents::counted_size(&request.policy_document) > documents::MANAGED_POLICY_MAX_CHARS {
            return Err(error::limit_exceeded(format!(
                "Cannot exceed quota for PolicySize: {}",
                documents::MANAGED_POLICY_MAX_CHARS
            )));
        }
        documents::parse(&request.policy_document, PolicyKind::Identity)?;
        self.blocking(move |service| {
            let _changing = service.begin_change();
            let taken = service.read().policies.values().any(|policy| {
                policy.account == context.account && policy.name.eq_ignore_ascii_case(&request.policy_name)
            });
            if taken {
                return Err(error::entity_already_exists(format!(
                    "A policy called {} already exists. Duplicate names are not allowed.",
                    request.policy_name
                )));
            }
            let policy = PolicyRecord {
                arn: format!("arn:aws:iam::{}:policy{path}{}", context.account, request.policy_name),
                account: context.account.clone(),
                name: request.policy_name,
                path,
                policy_id: ids::unique_id(ids::POLICY_PREFIX),
                description: request.description,
                document: request.policy_document,
                created_ms: kumo_core::time::now_millis(),
                tags: request.tags,
            };
            let key = policy.arn.to_ascii_lowercase();
            service.store.put(Kind::Policy, &key, &policy, None).map_err(error::internal)?;
            service.write().policies.insert(key, policy.clone());
            tracing::info!(arn = %policy.arn, "policy created");
            Ok(PolicyResult { policy: service.render_policy(&context.account, &(&policy).into(), true) })
        })
        .await
    }

    /// `GetPolicy`.
    pub async fn get_policy(
        self: &Arc<Self>,
        context: RequestContext,
        policy_arn: String,
    ) -> Result<PolicyResult, AwsError> {
        check_policy_arn(&policy_arn)?;
        self.blocking(move |service| {
            let policy = service.policy(&context.account, &policy_arn).ok_or_else(|| not_found(&policy_arn))?;
            Ok(PolicyResult { policy: service.render_policy(&context.account, &policy, true) })
        })
        .await
    }

    /// `GetPolicyVersion` (only `v1` exists).
    pub async fn get_policy_version(
        self: &Arc<Self>,
        context: RequestContext,
        policy_arn: String,
        version_id: String,
    ) -> Result<GetPolicyVersionResult, AwsError> {
        check_policy_arn(&policy_arn)?;
        self.blocking(move |service| {
            let policy = service.policy(&context.account, &policy_arn).ok_or_else(|| not_found(&policy_arn))?;
            if version_id != VERSION {
                return Err(error::no_such_entity(format!(
                    "Policy {policy_arn} version {version_id} does not exist or is not attachable."
                )));
            }
            Ok(GetPolicyVersionResult {
                policy_version: PolicyVersion {
                    document: documents::url_encode(&policy.document),
                    version_id,
                    is_default_version: true,
                    create_date: iso8601(policy.created_ms),
                },
            })
        })
        .await
    }

    /// `DeletePolicy`: customer-managed and unattached only.
    pub async fn delete_policy(self: &Arc<Self>, context: RequestContext, policy_arn: String) -> Result<(), AwsError> {
        check_policy_arn(&policy_arn)?;
        self.blocking(move |service| {
            let _changing = service.begin_change();
            let policy = service.policy(&context.account, &policy_arn).ok_or_else(|| not_found(&policy_arn))?;
            if policy.aws_managed {
                return Err(error::access_denied(format!(
                    "User: arn:aws:iam::{}:root is not authorized to perform: iam:DeletePolicy on resource: policy {policy_arn}",
                    context.account
                )));
            }
            let (attached, boundary) = service.usage(&context.account, &policy.arn);
            if attached + boundary > 0 {
                return Err(error::delete_conflict("Cannot delete a policy attached to entities."));
            }
            let key = policy.arn.to_ascii_lowercase();
            service.store.delete(Kind::Policy, &key).map_err(error::internal)?;
            service.write().policies.remove(&key);
            tracing::info!(arn = %policy.arn, "policy deleted");
            Ok(())
        })
        .await
    }

    /// `ListPolicies`, AWS-managed first, each group in name order.
    pub async fn list_policies(
        self: &Arc<Self>,
        context: RequestContext,
        request: ListPoliciesRequest,
    ) -> Result<ListPoliciesResult, AwsError> {
        if let Some(prefix) = &request.path_prefix {
            check_path_prefix(prefix)?;
        }
        self.blocking(move |service| {
            let mut policies: Vec<AnyPolicy> = Vec::new();
            if request.scope != PolicyScope::Local {
                let mut aws: Vec<AnyPolicy> = managed::CATALOGUE.iter().map(AnyPolicy::from).collect();
                aws.sort_by_key(|policy| policy.name.to_ascii_lowercase());
                policies.extend(aws);
            }
            if request.scope != PolicyScope::Aws {
                let state = service.read();
                let mut local: Vec<AnyPolicy> = state
                    .policies
                    .values()
                    .filter(|policy| policy.account == context.account)
                    .map(AnyPolicy::from)
                    .collect();
                local.sort_by_key(|policy| policy.name.to_ascii_lowercase());
                policies.extend(local);
            }
            let prefix = request.path_prefix.as_deref().unwrap_or("/");
            // AWS-managed sort before customer-managed, each by name: markers stay stable.
            let rendered: Vec<(String, Policy)> = policies
                .iter()
                .filter(|policy| policy.path.starts_with(prefix))
                .map(|policy| {
                    let group = if policy.aws_managed { 'a' } else { 'l' };
                    let key = format!("{group}{}", policy.name.to_ascii_lowercase());
                    (key, service.render_policy(&context.account, policy, false))
                })
                .filter(|(_, policy)| !request.only_attached || policy.attachment_count > 0)
                .collect();
            let (page, marker) = paginate(rendered, |(key, _)| key.clone(), &request.page)?;
            Ok(ListPoliciesResult {
                policies: page.into_iter().map(|(_, policy)| policy).collect::<Vec<_>>().into(),
                is_truncated: marker.is_some(),
                marker,
            })
        })
        .await
    }
}
