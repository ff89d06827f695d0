//! Who a request or a function acts as, and the narrow interfaces through which other services
//! ask the identity service (IAM/STS) for it: temporary credentials for a function's execution
//! role, and whether Lambda may assume a role. Traits only; the IAM crate implements them.

use crate::AwsError;

/// Temporary credentials of a role session, as STS hands them out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCredentials {
    /// `ASIA…` access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token, sent by clients as `X-Amz-Security-Token`.
    pub session_token: String,
    /// When the credentials stop working (epoch ms).
    pub expiration_ms: u64,
}

/// Mints the credentials an execution environment runs with (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`): a session of the function's execution role.
pub trait CredentialIssuer: Send + Sync + 'static {
    /// Credentials of a session of `role_arn` named `session_name` (Lambda uses the function
    /// name), valid for at least as long as an execution environment is kept.
    fn credentials_for(&self, role_arn: &str, session_name: &str) -> SessionCredentials;
}

/// Answers whether Lambda can assume an execution role.
pub trait ExecutionRoles: Send + Sync + 'static {
    /// `Ok` when `role_arn` exists in `account` and its trust policy lets
    /// `lambda.amazonaws.com` assume it; otherwise the error CreateFunction answers with.
    fn check_assumable_by_lambda(&self, account: &str, role_arn: &str) -> Result<(), AwsError>;
}

/// The error Lambda answers when it cannot assume an execution role.
pub fn role_cannot_be_assumed() -> AwsError {
    AwsError::invalid_parameter("The role defined for the function cannot be assumed by Lambda.")
}
