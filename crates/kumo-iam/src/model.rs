//! What IAM and STS keep: roles (with their inline policies and attachments), customer-managed
//! policies and role sessions. Stored as JSON documents; see [`crate::store`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A tag on a role or policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: String,
}

/// A role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRecord {
    /// Owning account.
    pub account: String,
    /// Name as created (IAM compares names case-insensitively).
    pub name: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// `AROA…`.
    pub role_id: String,
    /// `arn:aws:iam::<account>:role<path><name>`.
    pub arn: String,
    /// Creation time (epoch ms).
    pub created_ms: u64,
    /// The trust policy, as JSON text.
    pub trust_policy: String,
    /// Description.
    pub description: Option<String>,
    /// Longest session (seconds), 3,600–43,200.
    pub max_session_duration: i64,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Permissions boundary policy ARN.
    pub permissions_boundary: Option<String>,
    /// Inline policies: name → document.
    pub inline_policies: BTreeMap<String, String>,
    /// Attached managed policy ARNs, in attachment order.
    pub attached_policies: Vec<String>,
}

/// A customer-managed policy (AWS-managed ones are [`crate::managed::CATALOGUE`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRecord {
    /// Owning account.
    pub account: String,
    /// Name as created.
    pub name: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// `ANPA…`.
    pub policy_id: String,
    /// `arn:aws:iam::<account>:policy<path><name>`.
    pub arn: String,
    /// Description.
    pub description: Option<String>,
    /// The document (version `v1`), as JSON text.
    pub document: String,
    /// Creation time (epoch ms).
    pub created_ms: u64,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// Temporary credentials and whom they identify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// `ASIA…`.
    pub access_key_id: String,
    /// Secret.
    pub secret_access_key: String,
    /// Token the client must send as `X-Amz-Security-Token`.
    pub session_token: String,
    /// When they stop working (epoch ms).
    pub expiration_ms: u64,
    /// Account of the role.
    pub account: String,
    /// The role's ARN.
    pub role_arn: String,
    /// The role's name.
    pub role_name: String,
    /// The role's id (`AROA…`).
    pub role_id: String,
    /// `RoleSessionName` (a function's name for execution roles).
    pub session_name: String,
    /// Whether these came from AssumeRole by another role session (role chaining).
    pub chained: bool,
    /// AssumeRole's inline session policy, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<String>,
    /// AssumeRole's managed session policies (`PolicyArns`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub session_policy_arns: Vec<String>,
}

impl SessionRecord {
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub fn assumed_role_arn(&self) -> String {
        format!("arn:aws:sts::{}:assumed-role/{}/{}", self.account, self.role_name, self.session_name)
    }

    /// `<role id>:<session>`, the `UserId` of the session.
    pub fn assumed_role_id(&self) -> String {
        format!("{}:{}", self.role_id, self.session_name)
    }
}
