//! Identity-based policies in force for a role session: the statements of the role's inline
//! policies and of the managed policies attached to it (customer-managed ones from this
//! account, AWS-managed ones from [`crate::managed::CATALOGUE`]), and what limits them: the
//! role's permissions boundary and the session's own policies (AssumeRole's `Policy` and
//! `PolicyArns`). The decision itself is
//! [`kumo_core::policy`]'s; this module only gathers documents, parsed once per role and state
//! generation so a request of a role session costs a map lookup.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use kumo_core::policy::{parse_statements, IdentityPolicies};
use serde_json::Value;

use crate::IamService;

pub use kumo_core::policy::{decide, evaluate, Authorizer, Caller, Denial, Effect, PolicyKind, Principal, Request};

/// A role's parsed statements and the state generation they were read at, by role ARN.
type CachedStatements = HashMap<String, (u64, Arc<Vec<Value>>)>;

/// Parsed statements per role ARN, each tagged with the state generation it was read at.
#[derive(Debug, Default)]
pub(crate) struct PolicyCache {
    generation: AtomicU64,
    roles: Mutex<CachedStatements>,
}

impl PolicyCache {
    /// Marks every cached entry stale (call with the state's write lock held).
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn current(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, CachedStatements> {
        // Entries are whole values replaced at once; a panic cannot leave one torn.
        self.roles.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl IamService {
    /// Holds role sessions to their identity policies from now on (`--iam-enforcement on`),
    /// or stops doing so.
    pub fn set_identity_enforcement(&self, enforce: bool) {
        if !enforce {
            tracing::warn!("--iam-enforcement off: role sessions may call every API in their account");
        }
        self.enforcing.store(enforce, Ordering::Release);
    }

    /// Whether role sessions are held to their identity policies.
    pub fn enforces_identity(&self) -> bool {
        self.enforcing.load(Ordering::Acquire)
    }

    /// What the other services authorize with: this service's identity policies when enforced.
    pub fn authorizer(self: &Arc<Self>) -> Authorizer {
        if self.enforces_identity() {
            Authorizer::enforcing(Arc::clone(self) as Arc<dyn IdentityPolicies>)
        } else {
            Authorizer::identity_not_enforced()
        }
    }

    /// Whether the caller's identity policies allow `action` on `resource` (roots always pass,
    /// and everyone without enforcement); else IAM's `AccessDenied` naming both.
    pub fn authorize_call(
        self: &Arc<Self>,
        context: &kumo_core::RequestContext,
        action: &str,
        resource: &str,
    ) -> Result<(), kumo_core::AwsError> {
        if context.role_arn.is_none() || !self.enforces_identity() {
            return Ok(());
        }
        self.authorizer()
            .authorize_identity(&context.caller(), action, resource)
            .map_err(|denial| crate::error::access_denied(denial.message(&context.caller_arn, action, resource)))
    }

    /// [`Self::authorize_call`] for an IAM API call `operation`, whose resource is the role or
    /// policy its `RoleName` or `PolicyArn` parameter names (else `*`).
    pub fn authorize_iam_call(
        self: &Arc<Self>,
        context: &kumo_core::RequestContext,
        operation: &str,
        role_name: Option<&str>,
        path: Option<&str>,
        policy_arn: Option<&str>,
    ) -> Result<(), kumo_core::AwsError> {
        if operation.is_empty() {
            return Ok(());
        }
        let resource = match (role_name, policy_arn) {
            // A role's ARN holds its path (`role/service-role/x`): the role's own, or the one a
            // CreateRole asks for.
            (Some(role), _) => match self.read().roles.get(&(context.account.clone(), role.to_ascii_lowercase())) {
                Some(record) => record.arn.clone(),
                None => format!("arn:aws:iam::{}:role{}{role}", context.account, path.unwrap_or("/")),
            },
            (None, Some(policy)) => policy.to_string(),
            (None, None) => "*".to_string(),
        };
        self.authorize_call(context, &format!("iam:{operation}"), &resource)
    }
}

/// Most roles whose parsed policies are kept; past it the cache starts over.
const CACHED_ROLES_MAX: usize = 10_000;

impl IdentityPolicies for IamService {
    fn statements_of_role(&self, role_arn: &str) -> Arc<Vec<Value>> {
        let state = self.read();
        // Read under the state's read lock: writers bump the generation under the write lock.
        let generation = self.policy_cache.current();
        if let Some((cached_at, statements)) = self.policy_cache.entries().get(role_arn) {
            if *cached_at == generation {
                return Arc::clone(statements);
            }
        }
        let statements = Arc::new(role_statements(&state, role_arn));
        drop(state);
        let mut entries = self.policy_cache.entries();
        if entries.len() >= CACHED_ROLES_MAX {
            entries.clear();
        }
        entries.insert(role_arn.to_string(), (generation, Arc::clone(&statements)));
        statements
    }

    fn boundary_of_role(&self, role_arn: &str) -> Option<Arc<Vec<Value>>> {
        let state = self.read();
        let boundary = role_of(&state, role_arn)?.permissions_boundary.as_deref()?;
        // A boundary policy that no longer exists allows nothing.
        Some(Arc::new(managed_statements(&state, boundary)))
    }

    fn session_statements(&self, access_key: &str) -> Option<Arc<Vec<Value>>> {
        let principal = self.principal(access_key)?;
        if principal.session_policy.is_none() && principal.session_policy_arns.is_empty() {
            return None;
        }
        let mut statements: Vec<Value> = principal.session_policy.as_deref().map(parse_statements).unwrap_or_default();
        let state = self.read();
        for arn in &principal.session_policy_arns {
            statements.extend(managed_statements(&state, arn));
        }
        Some(Arc::new(statements))
    }
}

/// The statements of a managed policy: AWS-managed from the catalogue, else the account's own
/// (none when it does not exist).
fn managed_statements(state: &crate::IamState, arn: &str) -> Vec<Value> {
    if let Some(managed) = crate::managed::find(arn) {
        parse_statements(managed.document)
    } else if let Some(policy) = state.policies.get(&arn.to_ascii_lowercase()) {
        parse_statements(&policy.document)
    } else {
        Vec::new()
    }
}

/// Every statement of the role's inline and attached policies; none when the role does not exist
/// (a deleted role's sessions, or a function created with `--skip-role-check`, may do nothing).
fn role_statements(state: &crate::IamState, role_arn: &str) -> Vec<Value> {
    let Some(role) = role_of(state, role_arn) else {
        return Vec::new();
    };
    let mut statements = Vec::new();
    for document in role.inline_policies.values() {
        statements.extend(parse_statements(document));
    }
    for arn in &role.attached_policies {
        statements.extend(managed_statements(state, arn));
    }
    statements
}

/// The role named by `role_arn`, if it exists.
fn role_of<'a>(state: &'a crate::IamState, role_arn: &str) -> Option<&'a crate::model::RoleRecord> {
    let parsed = crate::parse_iam_arn(role_arn).filter(|arn| arn.kind == "role")?;
    state.roles.get(&(parsed.account.clone(), parsed.name.to_ascii_lowercase())).filter(|role| role.path == parsed.path)
}
