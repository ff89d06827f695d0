//! IAM policy evaluation, as AWS documents its logic: which statements of a policy apply to one
//! request (principal, action, resource, condition keys), and how identity-based and
//! resource-based policies combine into a decision. Pure logic over parsed JSON documents; the
//! services gather the documents (IAM the role's inline and managed policies, SQS a queue's
//! `Policy`, Lambda a function's or layer version's permissions) and render the denial in their
//! protocol's error shape.
//!
//! The rules kept (AWS's "policy evaluation logic"):
//! - an explicit `Deny` in any policy that applies wins;
//! - within the resource's account, an `Allow` from the identity policies or from the resource
//!   policy is enough; across accounts both are needed;
//! - a role's permissions boundary and a session's policies cap what the role's identity
//!   policies and a resource policy naming the role (or the account, or `*`) grant, but not
//!   what a resource policy of the same account grants to the caller's session ARN itself
//!   (explicit denies in them still apply); across accounts they cap everything;
//! - a resource policy names a role session by its session ARN, or by its role's ARN (every
//!   session of the role) with the role's path, which the session ARN leaves out:
//!   `role/service-role/<name>`, while `role/<name>` is the ARN of no role of that name (AWS
//!   would not take it as a principal); the session's `aws:PrincipalArn` is that role ARN too;
//! - there are no Organizations in Kumo: no SCP or RCP takes part;
//! - an account's root (a configured access key) has no identity policies to pass: within its
//!   account it may do everything, as an account root can;
//! - `Action`/`NotAction` match case-insensitively with `*` and `?`, `Resource`/`NotResource`
//!   case-sensitively; a condition key Kumo cannot know (e.g. `aws:PrincipalOrgID`,
//!   `aws:SourceIp`) never lets an `Allow` grant and never lets a `Deny` lapse.

mod conditions;
mod execution_role;
mod matching;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

pub use execution_role::ExecutionRole;
pub use matching::{action_matches, arn_like, glob_matches};

/// Who makes a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal<'a> {
    /// An IAM principal of `account`: the account's root, or a session of a role.
    Iam {
        /// The caller's account id.
        account: &'a str,
        /// `arn:aws:iam::<account>:root` or `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
        arn: &'a str,
        /// For a role session, its role's ARN with the role's path
        /// (`arn:aws:iam::<account>:role/service-role/<role>`), which the session ARN leaves out:
        /// a resource policy naming it grants every session of the role, and it is the session's
        /// `aws:PrincipalArn`. `None` for an account's root.
        role_arn: Option<&'a str>,
    },
    /// An AWS service acting for one of its resources (`s3.amazonaws.com`, `sns.amazonaws.com`).
    Service(&'a str),
}

impl Principal<'_> {
    /// The caller's account (none for a service principal).
    pub fn account(&self) -> Option<&str> {
        match self {
            Principal::Iam { account, .. } => Some(account),
            Principal::Service(_) => None,
        }
    }

    /// For a role session, the ARN of its role: the one the principal carries (with the role's
    /// path), else the one its session ARN implies (which cannot carry a path). `None` for a root
    /// or a service.
    pub fn role_arn(&self) -> Option<Cow<'_, str>> {
        match *self {
            Principal::Iam { arn, role_arn, .. } => {
                let session_role = matching::role_of_session(arn)?;
                Some(role_arn.map_or(Cow::Owned(session_role), Cow::Borrowed))
            }
            Principal::Service(_) => None,
        }
    }
}

/// One request as policies see it.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Who calls.
    pub principal: Principal<'a>,
    /// The IAM action, e.g. `sqs:SendMessage`.
    pub action: &'a str,
    /// The resource's ARN. `None` when the policy is attached to the one resource it governs and
    /// its `Resource` element is not consulted (Lambda's per-qualifier permissions).
    pub resource: Option<&'a str>,
    /// Condition keys the request carries, by lowercase name; each may have several values.
    pub keys: BTreeMap<String, Vec<String>>,
}

/// Global condition keys Kumo knows how to set: when one of these is absent from a request, it
/// is absent as on AWS (a positive test fails, `…IfExists` and negated tests hold). Any other
/// key is one Kumo cannot know, which fails closed.
const KNOWN_KEYS: &[&str] = &[
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:principalarn",
    "aws:principalaccount",
    "aws:principaltype",
    "aws:principalservicename",
    "aws:userid",
    "aws:username",
    "aws:securetransport",
    "aws:currenttime",
    "aws:epochtime",
    "aws:requestedregion",
    "aws:viaawsservice",
    "aws:calledvia",
    "aws:multifactorauthpresent",
    "lambda:functionurlauthtype",
    "lambda:functionarn",
];

impl<'a> Request<'a> {
    /// A request with the keys every request carries: the principal's (`aws:PrincipalArn`,
    /// `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:userid`), the time (`aws:CurrentTime`,
    /// `aws:EpochTime`) and `aws:SecureTransport` (Kumo serves plain HTTP: `false`).
    pub fn new(principal: Principal<'a>, action: &'a str, resource: Option<&'a str>) -> Self {
        let mut request = Self { principal, action, resource, keys: BTreeMap::new() };
        let now_ms = crate::time::now_millis();
        request.set("aws:CurrentTime", crate::time::iso8601(now_ms));
        request.set("aws:EpochTime", (now_ms / 1000).to_string());
        request.set("aws:SecureTransport", "false");
        request.set("aws:ViaAWSService", "false");
        match principal {
            Principal::Iam { account, arn, .. } => {
                request.set("aws:PrincipalAccount", account);
                let role = principal.role_arn().map(Cow::into_owned);
                request.set("aws:PrincipalType", if role.is_some() { "AssumedRole" } else { "Account" });
                // For a role session AWS sets aws:PrincipalArn to the role's ARN, path included.
                request.set("aws:PrincipalArn", role.clone().unwrap_or_else(|| arn.to_string()));
                // A root's aws:userid is its account; a session's (`AROA…:<session>`) needs the
                // role's id, which the request does not carry: absent.
                if role.is_none() {
                    request.set("aws:userid", account);
                }
            }
            Principal::Service(service) => {
                request.set("aws:PrincipalServiceName", service);
                request.set("aws:ViaAWSService", "true");
            }
        }
        request
    }

    /// Sets a condition key (names are case-insensitive).
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.keys.insert(key.to_ascii_lowercase(), vec![value.into()]);
        self
    }

    /// Sets a condition key when a value is given.
    pub fn set_optional(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        if let Some(value) = value {
            self.set(key, value);
        }
        self
    }

    /// The values of a key: `Ok(None)` when the request does not carry a key Kumo knows,
    /// `Err(())` for a key Kumo cannot know.
    fn values(&self, key: &str) -> Result<Option<&[String]>, ()> {
        let lower = key.to_ascii_lowercase();
        match self.keys.get(&lower) {
            Some(values) => Ok(Some(values)),
            None if KNOWN_KEYS.contains(&lower.as_str()) => Ok(None),
            None => Err(()),
        }
    }
}

/// What one set of policies says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// A `Deny` statement applies.
    ExplicitDeny,
    /// An `Allow` statement applies and no `Deny` does.
    Allow,
    /// Nothing applies.
    NotApplicable,
}

/// Which kind of policy a document is; the `Principal` element only exists in resource policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to an identity (a role's inline and managed policies): no `Principal`.
    Identity,
    /// Attached to a resource (a queue's `Policy`, a function's permissions): names principals.
    Resource,
}

/// The statements of a policy document (`Statement` is an object or a list of them).
pub fn statements_of(document: &Value) -> Vec<Value> {
    match document.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(statement @ Value::Object(_)) => vec![statement.clone()],
        _ => Vec::new(),
    }
}

/// The statements of a policy given as JSON text; a document that does not parse has none.
pub fn parse_statements(document: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(document).map(|parsed| statements_of(&parsed)).unwrap_or_default()
}

/// Evaluates statements of one kind against a request.
pub fn evaluate(statements: &[Value], kind: PolicyKind, request: &Request<'_>) -> Effect {
    evaluate_with(statements, kind, request, Grantees::Any)
}

/// Which of the names a resource policy's `Principal` may give the caller let its `Allow` grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grantees {
    /// Any: `*`, its account (id or root ARN), its role, its session. Across accounts, where the
    /// caller's own identity policies are checked as well.
    Any,
    /// All but its account, which only delegates to the account's identity policies (AWS's rule
    /// within the resource's own account): `*`, its role or its session.
    NotTheAccount,
    /// Only its own session ARN: a grant made to the session directly, which no implicit deny
    /// of the role's policies, boundary or session policies limits (same account).
    TheSessionItself,
}

fn evaluate_with(statements: &[Value], kind: PolicyKind, request: &Request<'_>, grantees: Grantees) -> Effect {
    // A condition Kumo cannot evaluate never lets an Allow grant, and never lets a Deny lapse.
    let denied = statements.iter().any(|statement| {
        statement.get("Effect").and_then(Value::as_str) == Some("Deny")
            && applies(statement, kind, request, true, Grantees::Any)
    });
    if denied {
        return Effect::ExplicitDeny;
    }
    let allowed = statements.iter().any(|statement| {
        statement.get("Effect").and_then(Value::as_str) == Some("Allow")
            && applies(statement, kind, request, false, grantees)
    });
    if allowed {
        Effect::Allow
    } else {
        Effect::NotApplicable
    }
}

/// Whether one statement applies to the request; `unknown_holds` answers for what Kumo cannot
/// evaluate.
fn applies(
    statement: &Value,
    kind: PolicyKind,
    request: &Request<'_>,
    unknown_holds: bool,
    grantees: Grantees,
) -> bool {
    let action = match (statement.get("Action"), statement.get("NotAction")) {
        (Some(actions), _) => matching::strings(actions).any(|granted| action_matches(granted, request.action)),
        (None, Some(excluded)) => !matching::strings(excluded).any(|granted| action_matches(granted, request.action)),
        (None, None) => false,
    };
    if !action {
        return false;
    }
    if let Some(resource) = request.resource {
        let matched = match (statement.get("Resource"), statement.get("NotResource")) {
            (Some(resources), _) => matching::strings(resources).any(|pattern| glob_matches(pattern, resource)),
            (None, Some(excluded)) => !matching::strings(excluded).any(|pattern| glob_matches(pattern, resource)),
            // A resource policy may leave the resource implied (it governs its own resource).
            (None, None) => kind == PolicyKind::Resource,
        };
        if !matched {
            return false;
        }
    }
    if kind == PolicyKind::Resource {
        let principal = match (statement.get("Principal"), statement.get("NotPrincipal")) {
            (Some(principal), _) => match grantees {
                Grantees::Any => matching::principal_matches(principal, &request.principal, true),
                Grantees::NotTheAccount => matching::principal_matches(principal, &request.principal, false),
                Grantees::TheSessionItself => matching::names_session(principal, &request.principal),
            },
            (None, Some(excluded)) => !matching::principal_matches(excluded, &request.principal, true),
            (None, None) => false,
        };
        if !principal {
            return false;
        }
    }
    conditions::hold(statement.get("Condition"), request, unknown_holds)
}

/// Why a request was refused, in the words AWS's `AccessDenied` messages use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// No identity-based policy of the caller allows the action.
    NoIdentityAllow,
    /// An identity-based policy denies it.
    IdentityDeny,
    /// Across accounts, the resource's policy does not grant it.
    NoResourceAllow,
    /// The resource's policy denies it.
    ResourceDeny,
    /// The caller's session policy (AssumeRole's `Policy`/`PolicyArns`) does not allow it.
    NoSessionAllow,
    /// The caller's session policy denies it.
    SessionDeny,
    /// The role's permissions boundary does not allow it.
    NoBoundaryAllow,
    /// The role's permissions boundary denies it.
    BoundaryDeny,
}

impl Denial {
    /// `User: <caller> is not authorized to perform: <action> on resource: <resource> because …`,
    /// as AWS words it.
    pub fn message(&self, caller_arn: &str, action: &str, resource: &str) -> String {
        let reason = match self {
            Denial::NoIdentityAllow => format!("because no identity-based policy allows the {action} action"),
            Denial::IdentityDeny => "with an explicit deny in an identity-based policy".to_string(),
            Denial::NoResourceAllow => format!("because no resource-based policy allows the {action} action"),
            Denial::ResourceDeny => "with an explicit deny in a resource-based policy".to_string(),
            Denial::NoSessionAllow => format!("because no session policy allows the {action} action"),
            Denial::SessionDeny => "with an explicit deny in a session policy".to_string(),
            Denial::NoBoundaryAllow => format!("because no permissions boundary allows the {action} action"),
            Denial::BoundaryDeny => "with an explicit deny in a permissions boundary".to_string(),
        };
        format!("User: {caller_arn} is not authorized to perform: {action} on resource: {resource} {reason}")
    }
}

/// The caller of a request as authorization needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller<'a> {
    /// The caller's account.
    pub account: &'a str,
    /// The caller's ARN (root or assumed-role session).
    pub arn: &'a str,
    /// For a role session, the role whose identity policies apply; `None` for an account's root.
    pub role_arn: Option<&'a str>,
    /// The access key the request was signed with (a session's own policies are found by it;
    /// empty when unsigned).
    pub access_key: &'a str,
}

impl<'a> Caller<'a> {
    /// The caller as a policy's `Principal` and the `aws:Principal…` keys see it.
    pub fn principal(&self) -> Principal<'a> {
        Principal::Iam { account: self.account, arn: self.arn, role_arn: self.role_arn }
    }
}

/// The whole decision for one request: `identity` holds the caller's identity-policy statements
/// (`None` for an account's root, which needs none in its own account), `resource_policy` the
/// resource's (if it has one), `owner` the resource's account.
///
/// Within the owner's account an `Allow` of either kind is enough, but a resource policy's
/// `Allow` naming only the account (`"AWS": "<account>"` or its root ARN) delegates to the
/// account's identity policies and grants no role session by itself; one naming the role, the
/// session or `*` does (AWS's same-account rule).
pub fn decide(
    request: &Request<'_>,
    identity: Option<&[Value]>,
    resource_policy: Option<&[Value]>,
    owner: &str,
) -> Result<(), Denial> {
    let same_account = request.principal.account() == Some(owner);
    let grantees = if same_account { Grantees::NotTheAccount } else { Grantees::Any };
    let identity_effect = identity.map(|statements| evaluate(statements, PolicyKind::Identity, request));
    let resource_effect = resource_policy
        .map_or(Effect::NotApplicable, |statements| evaluate_with(statements, PolicyKind::Resource, request, grantees));
    if identity_effect == Some(Effect::ExplicitDeny) {
        return Err(Denial::IdentityDeny);
    }
    if resource_effect == Effect::ExplicitDeny {
        return Err(Denial::ResourceDeny);
    }
    let identity_allows = identity_effect.is_none_or(|effect| effect == Effect::Allow);
    let resource_allows = resource_effect == Effect::Allow;
    if same_account {
        if identity_allows || resource_allows {
            return Ok(());
        }
        return Err(Denial::NoIdentityAllow);
    }
    if !resource_allows {
        return Err(Denial::NoResourceAllow);
    }
    if !identity_allows {
        return Err(Denial::NoIdentityAllow);
    }
    Ok(())
}

/// Whether the resource's policy grants the request to the caller's role session by that
/// session's own ARN (`arn:aws:sts::<account>:assumed-role/<role>/<session>`) within the
/// resource's account. AWS's evaluation logic gives such a grant to the session directly: no
/// implicit deny of the role's identity policies, its permissions boundary or the session's
/// policies limits it (a grant to the role's ARN, the account or `*` is limited by the last two).
pub fn grants_session_directly(request: &Request<'_>, resource_policy: Option<&[Value]>, owner: &str) -> bool {
    let Principal::Iam { account, arn, .. } = request.principal else { return false };
    account == owner
        && matching::role_of_session(arn).is_some()
        && resource_policy.is_some_and(|statements| {
            evaluate_with(statements, PolicyKind::Resource, request, Grantees::TheSessionItself) == Effect::Allow
        })
}

/// Which of a boundary's or session policy's answers refuse a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    /// Both: what they do not allow is refused (an implicit deny), and what they deny.
    ImplicitAndExplicit,
    /// Only an explicit `Deny` (the grant was made to the session directly).
    ExplicitOnly,
}

/// The identity-based policies in force for role sessions, as the IAM service keeps them.
pub trait IdentityPolicies: Send + Sync + 'static {
    /// Every statement of the role's inline and attached managed policies (empty when the role
    /// does not exist). Called on every request of a role session: answer from memory.
    fn statements_of_role(&self, role_arn: &str) -> Arc<Vec<Value>>;

    /// The statements of the role's permissions boundary, if it has one: the most its identity
    /// policies can grant.
    fn boundary_of_role(&self, _role_arn: &str) -> Option<Arc<Vec<Value>>> {
        None
    }

    /// The statements of the session policies (AssumeRole's `Policy` and `PolicyArns`) of the
    /// temporary credentials `access_key`, if they were given any: the most the session may do.
    fn session_statements(&self, _access_key: &str) -> Option<Arc<Vec<Value>>> {
        None
    }
}

/// What limits a role session beyond its identity policies: its role's permissions boundary
/// and its session policies. Each must allow what the identity policies allow (an intersection);
/// an explicit `Deny` in either wins. With [`Limit::ExplicitOnly`] only their denies count.
fn limits(
    source: &dyn IdentityPolicies,
    caller: &Caller<'_>,
    role: &str,
    request: &Request<'_>,
    limit: Limit,
) -> Result<(), Denial> {
    let implicit = limit == Limit::ImplicitAndExplicit;
    if let Some(boundary) = source.boundary_of_role(role) {
        match evaluate(&boundary, PolicyKind::Identity, request) {
            Effect::Allow => {}
            Effect::ExplicitDeny => return Err(Denial::BoundaryDeny),
            Effect::NotApplicable if implicit => return Err(Denial::NoBoundaryAllow),
            Effect::NotApplicable => {}
        }
    }
    if let Some(session) = source.session_statements(caller.access_key) {
        match evaluate(&session, PolicyKind::Identity, request) {
            Effect::Allow => {}
            Effect::ExplicitDeny => return Err(Denial::SessionDeny),
            Effect::NotApplicable if implicit => return Err(Denial::NoSessionAllow),
            Effect::NotApplicable => {}
        }
    }
    Ok(())
}

/// What a service asks before it acts: the caller's identity policies (when enforcement is on)
/// combined with the resource's own policy.
#[derive(Clone, Default)]
pub struct Authorizer {
    /// Where role sessions' identity policies come from; `None` when identity policies are not
    /// enforced (`--iam-enforcement off`): every caller may then do everything in its own
    /// account, and resource policies still decide across accounts.
    identity: Option<Arc<dyn IdentityPolicies>>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Authorizer").field("enforced", &self.identity.is_some()).finish()
    }
}

impl Authorizer {
    /// Identity policies are not evaluated (resource policies still are across accounts).
    pub fn identity_not_enforced() -> Self {
        Self { identity: None }
    }

    /// Role sessions are held to their role's identity policies.
    pub fn enforcing(identity: Arc<dyn IdentityPolicies>) -> Self {
        Self { identity: Some(identity) }
    }

    /// Whether identity policies are enforced.
    pub fn enforces_identity(&self) -> bool {
        self.identity.is_some()
    }

    /// The identity half alone: whether the caller's own policies allow `action` on `resource`
    /// (for services that check the resource's policy themselves), within its role's permissions
    /// boundary and its session policies. Roots and callers without enforcement pass.
    pub fn authorize_identity(&self, caller: &Caller<'_>, action: &str, resource: &str) -> Result<(), Denial> {
        let (Some(source), Some(role)) = (&self.identity, caller.role_arn) else {
            return Ok(());
        };
        let statements = source.statements_of_role(role);
        let request = Request::new(caller.principal(), action, Some(resource));
        match evaluate(&statements, PolicyKind::Identity, &request) {
            Effect::Allow => limits(source.as_ref(), caller, role, &request, Limit::ImplicitAndExplicit),
            Effect::ExplicitDeny => Err(Denial::IdentityDeny),
            Effect::NotApplicable => Err(Denial::NoIdentityAllow),
        }
    }

    /// Decides `action` on `resource` (owned by `owner`, governed by `resource_policy`) for
    /// `caller`; `keys` adds condition keys beyond the ones every request carries.
    pub fn authorize(
        &self,
        caller: &Caller<'_>,
        action: &str,
        resource: &str,
        owner: &str,
        resource_policy: Option<&[Value]>,
        keys: &[(&str, &str)],
    ) -> Result<(), Denial> {
        let identity = match (&self.identity, caller.role_arn) {
            (Some(source), Some(role)) => Some(source.statements_of_role(role)),
            _ => None,
        };
        // The common case decides without building a request: a root or an unenforced caller
        // in its own account, with no resource policy that could deny.
        if identity.is_none() && caller.account == owner && resource_policy.is_none_or(<[Value]>::is_empty) {
            return Ok(());
        }
        let mut request = Request::new(caller.principal(), action, Some(resource));
        for (key, value) in keys {
            request.set(key, *value);
        }
        decide(&request, identity.as_deref().map(Vec::as_slice), resource_policy, owner)?;
        // A session policy or permissions boundary limits whatever the policies above allowed,
        // unless the resource's policy granted it to this very session.
        let (Some(source), Some(role)) = (&self.identity, caller.role_arn) else { return Ok(()) };
        let limit = if grants_session_directly(&request, resource_policy, owner) {
            Limit::ExplicitOnly
        } else {
            Limit::ImplicitAndExplicit
        };
        limits(source.as_ref(), caller, role, &request, limit)
    }
}
