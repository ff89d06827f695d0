//! STS: GetCallerIdentity and AssumeRole. Sessions from AssumeRole are accepted by Kumo's
//! SigV4 check (with their session token) until they expire, across restarts.
//!
//! Within one account, the account's root may assume any of its roles, and a role session
//! needs its identity policies to allow `sts:AssumeRole` on the role (when enforced); from
//! another account, the role's trust policy must name the caller's account too. Session policies
//! (`Policy`, `PolicyArns`) are kept with the session and limit it (see `evaluation`).

use std::sync::Arc;

use kumo_core::AwsError;

use crate::documents::{self, PolicyKind};
use crate::types::{AssumeRoleRequest, AssumeRoleResult, AssumedRoleUser, Credentials, GetCallerIdentityResult};
use crate::{error, iso8601, IamService, Principal};

/// Shortest session.
pub const DURATION_MIN_SECONDS: i64 = 900;
/// Longest session of any role.
pub const DURATION_MAX_SECONDS: i64 = 43_200;
/// Default session.
pub const DURATION_DEFAULT_SECONDS: i64 = 3600;
/// Longest session when a role session assumes a role (role chaining).
pub const CHAINED_DURATION_MAX_SECONDS: i64 = 3600;
/// Largest session policy.
const SESSION_POLICY_MAX_CHARS: usize = 2048;
/// Most managed session policies (`PolicyArns`), as AWS allows.
const SESSION_POLICY_ARNS_MAX: usize = 10;

fn check_session_name(value: &str) -> Result<(), AwsError> {
    let length = value.chars().count();
    if !(2..=64).contains(&length) {
        return Err(error::validation(format!(
            "1 validation error detected: Value '{value}' at 'roleSessionName' failed to satisfy constraint: \
             Member must have length {}",
            if length < 2 { "greater than or equal to 2" } else { "less than or equal to 64" }
        )));
    }
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)) {
        return Err(error::pattern("roleSessionName", value, "[\\w+=,.@-]*"));
    }
    Ok(())
}

impl IamService {
    /// `GetCallerIdentity`.
    pub fn get_caller_identity(&self, caller: &Principal) -> GetCallerIdentityResult {
        GetCallerIdentityResult {
            user_id: caller.user_id.clone(),
            account: caller.account.clone(),
            arn: caller.arn.clone(),
        }
    }

    /// `AssumeRole`.
    pub async fn assume_role(
        self: &Arc<Self>,
        caller: Arc<Principal>,
        request: AssumeRoleRequest,
    ) -> Result<AssumeRoleResult, AwsError> {
        if !(20..=2048).contains(&request.role_arn.len()) {
            return Err(error::validation(format!(
                "1 validation error detected: Value '{}' at 'roleArn' failed to satisfy constraint: \
                 Member must have length greater than or equal to 20",
                request.role_arn
            )));
        }
        check_session_name(&request.role_session_name)?;
        let duration = request.duration_seconds.unwrap_or(DURATION_DEFAULT_SECONDS);
        if !(DURATION_MIN_SECONDS..=DURATION_MAX_SECONDS).contains(&duration) {
            return Err(error::out_of_range("durationSeconds", duration, DURATION_MIN_SECONDS, DURATION_MAX_SECONDS));
        }
        let mut packed_policy_size = None;
        if let Some(policy) = &request.policy {
            documents::parse(policy, PolicyKind::Identity)?;
            let size = documents::counted_size(policy);
            if size > SESSION_POLICY_MAX_CHARS {
                return Err(AwsError::new(
                    "PackedPolicyTooLarge",
                    400,
                    "Packed policy consumes more than 100 percent of the allotted size.",
                ));
            }
            packed_policy_size = Some(u32::try_from(size.div_ceil(SESSION_POLICY_MAX_CHARS / 100)).unwrap_or(100));
        }
        if request.policy_arns.len() > SESSION_POLICY_ARNS_MAX {
            return Err(error::validation(format!(
                "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have \
                 length less than or equal to {SESSION_POLICY_ARNS_MAX}"
            )));
        }
        for arn in &request.policy_arns {
            if crate::parse_iam_arn(arn).is_none_or(|parsed| parsed.kind != "policy") {
                return Err(error::validation(format!("Invalid ARN provided: {arn}")));
            }
        }
        let service_arc = Arc::clone(self);
        self.blocking(move |service| {
            let denied = || {
                error::access_denied(format!(
                    "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                    caller.arn, request.role_arn
                ))
            };
            if let (true, Some(role_arn)) = (service.enforces_identity(), caller.role_arn.as_deref()) {
                let caller_ref = kumo_core::policy::Caller {
                    account: &caller.account,
                    arn: &caller.arn,
                    role_arn: Some(role_arn),
                    access_key: &caller.access_key_id,
                };
                let authorizer = service_arc.authorizer();
                if let Err(denial) = authorizer.authorize_identity(&caller_ref, "sts:AssumeRole", &request.role_arn) {
                    return Err(error::access_denied(denial.message(&caller.arn, "sts:AssumeRole", &request.role_arn)));
                }
            }
            let role = service.role_by_arn(&request.role_arn).ok_or_else(denied)?;
            if role.account != caller.account && !documents::trusts_account(&role.trust_policy, &caller.account) {
                return Err(denied());
            }
            if caller.role_session && duration > CHAINED_DURATION_MAX_SECONDS {
                return Err(error::validation(
                    "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
                ));
            }
            if duration > role.max_session_duration {
                return Err(error::validation(
                    "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
                ));
            }
            let lifetime_ms = u64::try_from(duration).unwrap_or(0) * 1000;
            let mut session =
                service.mint_session(&role.arn, &request.role_session_name, lifetime_ms, caller.role_session);
            // The session may do at most what these allow, within what the role allows.
            session.session_policy = request.policy.clone();
            session.session_policy_arns = request.policy_arns.clone();
            service.admit_session(&session).map_err(error::internal)?;
            tracing::info!(
                role = %role.arn,
                session = %request.role_session_name,
                caller = %caller.arn,
                access_key = %session.access_key_id,
                "role assumed"
            );
            Ok(AssumeRoleResult {
                assumed_role_user: AssumedRoleUser {
                    assumed_role_id: session.assumed_role_id(),
                    arn: session.assumed_role_arn(),
                },
                credentials: Credentials {
                    access_key_id: session.access_key_id,
                    secret_access_key: session.secret_access_key,
                    session_token: session.session_token,
                    expiration: iso8601(session.expiration_ms),
                },
                packed_policy_size,
            })
        })
        .await
    }
}
