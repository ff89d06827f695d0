//! Domain types shared by every Kumo crate: the AWS error type, ARNs, request context and limits.
//! Nothing here does I/O.

pub mod arn;
pub mod caller;
pub mod error;
pub mod identity;
pub mod limits;
pub mod policy;
pub mod sigv4;
pub mod time;

pub use caller::CallerEnvironment;
pub use error::{AwsError, ErrorKind};

/// Account id used when `KUMO_ACCOUNT_ID` is not set.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";
/// Region used when a request carries no SigV4 credential scope.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Where a request comes from, as far as its credentials tell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RequestSource {
    /// Signed with an account's configured long-term keys (its root).
    #[default]
    AccountRoot,
    /// Signed with temporary credentials of a role session: a function's execution role or an
    /// `AssumeRole` session.
    RoleSession,
    /// Not verified (Kumo's own endpoints, or `--insecure-accept-any-credentials`).
    Unverified,
}

/// One request's context, the same for every service: who is calling, in which account and
/// region, and the request's id. The gateway builds it from the SigV4 credential scope and the
/// caller the signature identified; services never see HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// AWS account the request acts in.
    pub account: String,
    /// Region from the credential scope; resources are per region.
    pub region: String,
    /// The request's one id, echoed in `x-amzn-RequestId` (and as a sync invoke's request id).
    pub request_id: String,
    /// The caller's ARN as AWS names it in `AccessDeniedException` messages: the account's root
    /// or an assumed-role session.
    pub caller_arn: String,
    /// For a role session (a function's execution role, an AssumeRole session): the role's
    /// ARN, whose identity policies decide what the caller may do. `None` for an account's root.
    pub role_arn: Option<String>,
    /// The access key the request was signed with (empty when unsigned).
    pub access_key: String,
    /// What kind of credentials the caller used.
    pub source: RequestSource,
}

impl RequestContext {
    /// A context for the root of the given account in a region, with a fresh request id.
    pub fn new(account: impl Into<String>, region: impl Into<String>) -> Self {
        let account = account.into();
        let caller_arn = format!("arn:aws:iam::{account}:root");
        Self {
            account,
            region: region.into(),
            request_id: uuid::Uuid::new_v4().to_string(),
            caller_arn,
            role_arn: None,
            access_key: String::new(),
            source: RequestSource::AccountRoot,
        }
    }

    /// The caller as authorization sees it.
    pub fn caller(&self) -> policy::Caller<'_> {
        policy::Caller {
            account: &self.account,
            arn: &self.caller_arn,
            role_arn: self.role_arn.as_deref(),
            access_key: &self.access_key,
        }
    }
}

/// The sha256 digest of `bytes`, base64-encoded as Lambda's `CodeSha256`.
pub fn code_sha256_base64(bytes: &[u8]) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
}

/// The sha256 digest of `bytes` as lowercase hex, used to address blobs on disk.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
