//! Typed requests and responses of the IAM and STS operations. Requests are decoded by the
//! gateway's awsQuery codec; responses serialise (PascalCase, lists as `member` elements) into
//! the `<Operation>Result` element AWS answers with.

use serde::Serialize;

pub use crate::model::Tag;

/// An awsQuery list: `<Roles><member>…</member>…</Roles>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Members<T> {
    /// The items.
    pub member: Vec<T>,
}

impl<T> From<Vec<T>> for Members<T> {
    fn from(member: Vec<T>) -> Self {
        Self { member }
    }
}

/// `Marker` and `MaxItems` of a List operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Where the previous page stopped.
    pub marker: Option<String>,
    /// Page size (1–1,000; default 100).
    pub max_items: Option<i64>,
}

// ------------------------------------------------------------------------------------------
// Requests

/// `CreateRole`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateRoleRequest {
    /// Role name.
    pub role_name: String,
    /// Path (default `/`).
    pub path: Option<String>,
    /// Trust policy JSON.
    pub assume_role_policy_document: String,
    /// Description.
    pub description: Option<String>,
    /// Longest session in seconds.
    pub max_session_duration: Option<i64>,
    /// Permissions boundary ARN.
    pub permissions_boundary: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// `ListRoles`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRolesRequest {
    /// Only roles whose path starts with this.
    pub path_prefix: Option<String>,
    /// Paging.
    pub page: Page,
}

/// `UpdateRole`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateRoleRequest {
    /// Role name.
    pub role_name: String,
    /// New description.
    pub description: Option<String>,
    /// New longest session.
    pub max_session_duration: Option<i64>,
}

/// `CreatePolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreatePolicyRequest {
    /// Policy name.
    pub policy_name: String,
    /// Path (default `/`).
    pub path: Option<String>,
    /// Policy JSON.
    pub policy_document: String,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// Which policies `ListPolicies` lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PolicyScope {
    /// AWS-managed and customer-managed.
    #[default]
    All,
    /// AWS-managed only.
    Aws,
    /// Customer-managed only.
    Local,
}

/// `ListPolicies`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPoliciesRequest {
    /// `All`, `AWS` or `Local`.
    pub scope: PolicyScope,
    /// Only policies attached to something.
    pub only_attached: bool,
    /// Only policies whose path starts with this.
    pub path_prefix: Option<String>,
    /// Paging.
    pub page: Page,
}

/// `ListAttachedRolePolicies`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListAttachedRolePoliciesRequest {
    /// Role name.
    pub role_name: String,
    /// Only policies whose path starts with this.
    pub path_prefix: Option<String>,
    /// Paging.
    pub page: Page,
}

/// `AssumeRole`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssumeRoleRequest {
    /// The role to assume.
    pub role_arn: String,
    /// Name of the session (2–64 of `[\w+=,.@-]`).
    pub role_session_name: String,
    /// Lifetime (900 s to the role's `MaxSessionDuration`; default 3,600).
    pub duration_seconds: Option<i64>,
    /// Inline session policy JSON: the session may do at most what it allows.
    pub policy: Option<String>,
    /// Managed policies (ARNs) used as session policies, likewise.
    pub policy_arns: Vec<String>,
}

// ------------------------------------------------------------------------------------------
// Responses

/// `RoleLastUsed` (Kumo does not track it: always empty, as for a role never used).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RoleLastUsed {}

/// A role as IAM renders it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Role {
    /// Path.
    pub path: String,
    /// Name.
    pub role_name: String,
    /// `AROA…`.
    pub role_id: String,
    /// ARN.
    pub arn: String,
    /// ISO 8601.
    pub create_date: String,
    /// URL-encoded trust policy.
    pub assume_role_policy_document: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Longest session.
    pub max_session_duration: i64,
    /// Permissions boundary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<AttachedPermissionsBoundary>,
    /// Tags (GetRole and CreateRole only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Members<Tag>>,
    /// Last use (GetRole only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_last_used: Option<RoleLastUsed>,
}

/// A role's permissions boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedPermissionsBoundary {
    /// Always `PermissionsBoundaryPolicy`.
    pub permissions_boundary_type: String,
    /// The policy's ARN.
    pub permissions_boundary_arn: String,
}

/// `CreateRoleResult` / `GetRoleResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleResult {
    /// The role.
    pub role: Role,
}

/// `ListRolesResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRolesResult {
    /// The roles.
    pub roles: Members<Role>,
    /// Whether more follow.
    pub is_truncated: bool,
    /// Where the next page starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

/// A managed policy as IAM renders it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policy {
    /// Name.
    pub policy_name: String,
    /// `ANPA…`.
    pub policy_id: String,
    /// ARN.
    pub arn: String,
    /// Path.
    pub path: String,
    /// Always `v1`.
    pub default_version_id: String,
    /// Roles of the caller's account it is attached to.
    pub attachment_count: u32,
    /// Roles using it as their boundary.
    pub permissions_boundary_usage_count: u32,
    /// Always true.
    pub is_attachable: bool,
    /// Description (GetPolicy and CreatePolicy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// ISO 8601.
    pub create_date: String,
    /// ISO 8601.
    pub update_date: String,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Members<Tag>>,
}

/// `CreatePolicyResult` / `GetPolicyResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyResult {
    /// The policy.
    pub policy: Policy,
}

/// `ListPoliciesResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPoliciesResult {
    /// The policies.
    pub policies: Members<Policy>,
    /// Whether more follow.
    pub is_truncated: bool,
    /// Where the next page starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

/// A policy version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyVersion {
    /// URL-encoded document.
    pub document: String,
    /// `v1`.
    pub version_id: String,
    /// Always true (Kumo keeps one version).
    pub is_default_version: bool,
    /// ISO 8601.
    pub create_date: String,
}

/// `GetPolicyVersionResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetPolicyVersionResult {
    /// The version.
    pub policy_version: PolicyVersion,
}

/// `GetRolePolicyResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRolePolicyResult {
    /// Role name.
    pub role_name: String,
    /// Policy name.
    pub policy_name: String,
    /// URL-encoded document.
    pub policy_document: String,
}

/// `ListRolePoliciesResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRolePoliciesResult {
    /// Inline policy names.
    pub policy_names: Members<String>,
    /// Whether more follow.
    pub is_truncated: bool,
    /// Where the next page starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

/// A managed policy attached to a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedPolicy {
    /// Name.
    pub policy_name: String,
    /// ARN.
    pub policy_arn: String,
}

/// `ListAttachedRolePoliciesResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAttachedRolePoliciesResult {
    /// The attached policies.
    pub attached_policies: Members<AttachedPolicy>,
    /// Whether more follow.
    pub is_truncated: bool,
    /// Where the next page starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

/// `ListRoleTagsResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRoleTagsResult {
    /// The tags.
    pub tags: Members<Tag>,
    /// Whether more follow.
    pub is_truncated: bool,
    /// Where the next page starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

/// `GetCallerIdentityResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetCallerIdentityResult {
    /// The account id (root), or `AROA…:<session>` (role session).
    pub user_id: String,
    /// Account.
    pub account: String,
    /// `arn:aws:iam::<account>:root` or `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub arn: String,
}

/// Temporary credentials as STS renders them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Credentials {
    /// `ASIA…`.
    pub access_key_id: String,
    /// Secret.
    pub secret_access_key: String,
    /// Session token.
    pub session_token: String,
    /// ISO 8601.
    pub expiration: String,
}

/// The assumed role of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumedRoleUser {
    /// `AROA…:<session>`.
    pub assumed_role_id: String,
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub arn: String,
}

/// `AssumeRoleResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumeRoleResult {
    /// The credentials.
    pub credentials: Credentials,
    /// Who they identify.
    pub assumed_role_user: AssumedRoleUser,
    /// Percentage of the packed session policy size limit used (with `Policy` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packed_policy_size: Option<u32>,
}
