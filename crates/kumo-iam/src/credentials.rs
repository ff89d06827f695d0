//! Access keys and the principals they identify: the configured long-term keys (each the root
//! of an account) and temporary credentials of role sessions (AssumeRole, and the execution
//! roles of functions). The gateway resolves every signed request's key here.

use std::sync::Arc;

use kumo_core::identity::{CredentialIssuer, SessionCredentials};
use subtle::ConstantTimeEq;

use crate::model::SessionRecord;
use crate::store::Kind;
use crate::{ids, IamService};

/// How long an execution role's credentials live (AWS: the environment's lifetime, at most
/// 12 hours).
pub const FUNCTION_SESSION_MS: u64 = 12 * 60 * 60 * 1000;
/// A function session is reused for new environments while this much of it is left, so every
/// environment gets credentials valid for at least this long.
pub const FUNCTION_SESSION_REUSE_MIN_LEFT_MS: u64 = 11 * 60 * 60 * 1000;

/// A configured long-term access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// The account whose root the key belongs to.
    pub account: String,
}

/// Who signed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The access key id.
    pub access_key_id: String,
    /// Its secret (empty for callers accepted without verification in insecure mode).
    pub secret_access_key: String,
    /// For temporary credentials: the token requests must carry.
    pub session_token: Option<String>,
    /// For temporary credentials: when they stop working (epoch ms).
    pub expiration_ms: Option<u64>,
    /// The account.
    pub account: String,
    /// `arn:aws:iam::<account>:root` or the assumed-role ARN.
    pub arn: String,
    /// The account id (root) or `AROA…:<session>`.
    pub user_id: String,
    /// Whether this is a role session (AssumeRole from it is role chaining).
    pub role_session: bool,
    /// For a role session: the role's ARN, whose identity policies apply.
    pub role_arn: Option<String>,
    /// For an AssumeRole session: its inline session policy, if any.
    pub session_policy: Option<String>,
    /// For an AssumeRole session: its managed session policies.
    pub session_policy_arns: Vec<String>,
}

impl Principal {
    /// The root of `account`, for a configured key.
    pub fn root_with_key(key: &AccessKey) -> Self {
        Self {
            access_key_id: key.access_key_id.clone(),
            secret_access_key: key.secret_access_key.clone(),
            session_token: None,
            expiration_ms: None,
            account: key.account.clone(),
            arn: format!("arn:aws:iam::{}:root", key.account),
            user_id: key.account.clone(),
            role_session: false,
            role_arn: None,
            session_policy: None,
            session_policy_arns: Vec::new(),
        }
    }

    /// The root of `account`, for a caller whose key is not verified (insecure mode).
    pub fn unverified(access_key_id: &str, account: &str) -> Self {
        Self::root_with_key(&AccessKey {
            access_key_id: access_key_id.to_string(),
            secret_access_key: String::new(),
            account: account.to_string(),
        })
    }

    /// The principal of a role session.
    pub fn session(session: &SessionRecord) -> Self {
        Self {
            access_key_id: session.access_key_id.clone(),
            secret_access_key: session.secret_access_key.clone(),
            session_token: Some(session.session_token.clone()),
            expiration_ms: Some(session.expiration_ms),
            account: session.account.clone(),
            arn: session.assumed_role_arn(),
            user_id: session.assumed_role_id(),
            role_session: true,
            role_arn: Some(session.role_arn.clone()),
            session_policy: session.session_policy.clone(),
            session_policy_arns: session.session_policy_arns.clone(),
        }
    }

    /// Whether temporary credentials have expired at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expiration_ms.is_some_and(|expiration| now_ms >= expiration)
    }

    /// Whether a request's `X-Amz-Security-Token` fits these credentials: temporary ones need
    /// their own token (compared in constant time); long-term ones ignore it.
    pub fn accepts_token(&self, provided: Option<&str>) -> bool {
        match (&self.session_token, provided) {
            (None, _) => true,
            (Some(expected), Some(provided)) => bool::from(expected.as_bytes().ct_eq(provided.as_bytes())),
            (Some(_), None) => false,
        }
    }
}

impl IamService {
    /// The principal a request signed with `access_key_id` claims to be, if the key is known
    /// (expired temporary credentials are still returned: the caller says they expired).
    pub fn principal(&self, access_key_id: &str) -> Option<Arc<Principal>> {
        if let Some(principal) = self.static_keys.get(access_key_id) {
            return Some(Arc::clone(principal));
        }
        let sessions = self.sessions.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        sessions.get(access_key_id).cloned()
    }

    /// Makes a session's credentials usable (and durable: they survive a restart).
    pub(crate) fn admit_session(&self, session: &SessionRecord) -> Result<(), crate::store::StoreError> {
        self.store.put(Kind::Session, &session.access_key_id, session, Some(session.expiration_ms))?;
        self.admit_in_memory(session);
        Ok(())
    }

    fn admit_in_memory(&self, session: &SessionRecord) {
        let now = kumo_core::time::now_millis();
        let mut sessions = self.sessions.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        sessions.retain(|_, principal| !principal.is_expired(now));
        sessions.insert(session.access_key_id.clone(), Arc::new(Principal::session(session)));
    }

    /// A new session of `role_arn` (whose role may not exist: `--skip-role-check`).
    pub(crate) fn mint_session(
        &self,
        role_arn: &str,
        session_name: &str,
        lifetime_ms: u64,
        chained: bool,
    ) -> SessionRecord {
        let parsed = crate::parse_iam_arn(role_arn);
        let account = parsed.as_ref().map_or_else(|| self.default_account.clone(), |arn| arn.account.clone());
        let role_name = parsed.as_ref().map_or_else(|| role_arn.to_string(), |arn| arn.name.clone());
        let role_id = self
            .read()
            .roles
            .get(&(account.clone(), role_name.to_ascii_lowercase()))
            .map(|role| role.role_id.clone())
            .unwrap_or_else(|| ids::stable_id(ids::ROLE_PREFIX, role_arn));
        SessionRecord {
            access_key_id: ids::temporary_access_key_id(),
            secret_access_key: ids::secret_access_key(),
            session_token: ids::session_token(),
            expiration_ms: kumo_core::time::now_millis() + lifetime_ms,
            account,
            role_arn: role_arn.to_string(),
            role_name,
            role_id,
            session_name: session_name.to_string(),
            chained,
            session_policy: None,
            session_policy_arns: Vec::new(),
        }
    }
}

/// Functions' execution-role credentials. Sessions are cached per (role, function) so a cold
/// start costs no database write; a new one is minted when less than
/// [`FUNCTION_SESSION_REUSE_MIN_LEFT_MS`] remains, and stored from a blocking thread.
impl CredentialIssuer for IamService {
    fn credentials_for(&self, role_arn: &str, session_name: &str) -> SessionCredentials {
        let now = kumo_core::time::now_millis();
        let key = (role_arn.to_string(), session_name.to_string());
        let mut cache = self.function_sessions.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.retain(|_, session| session.expiration_ms > now + FUNCTION_SESSION_REUSE_MIN_LEFT_MS);
        let session = match cache.get(&key) {
            Some(session) => session.clone(),
            None => {
                let session = self.mint_session(role_arn, session_name, FUNCTION_SESSION_MS, false);
                self.admit_in_memory(&session);
                persist_later(self, &session);
                cache.insert(key, session.clone());
                session
            }
        };
        SessionCredentials {
            access_key_id: session.access_key_id,
            secret_access_key: session.secret_access_key,
            session_token: session.session_token,
            expiration_ms: session.expiration_ms,
        }
    }
}

/// Stores a function session from a blocking thread (a cold start does not wait for it).
fn persist_later(service: &IamService, session: &SessionRecord) {
    let store = Arc::clone(&service.store);
    let session = session.clone();
    let write = move || {
        if let Err(error) = store.put(Kind::Session, &session.access_key_id, &session, Some(session.expiration_ms)) {
            tracing::warn!(%error, "storing a function session failed; it lasts until restart");
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(write)),
        Err(_) => write(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_must_match_for_temporary_credentials_only() {
        let root = Principal::root_with_key(&AccessKey {
            access_key_id: "test".into(),
            secret_access_key: "test".into(),
            account: "000000000000".into(),
        });
        assert!(root.accepts_token(None) && root.accepts_token(Some("anything")));
        assert_eq!(root.arn, "arn:aws:iam::000000000000:root");
        let session = SessionRecord {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: "token".into(),
            expiration_ms: 10_000,
            account: "111111111111".into(),
            role_arn: "arn:aws:iam::111111111111:role/r".into(),
            role_name: "r".into(),
            role_id: "AROAEXAMPLE".into(),
            session_name: "s".into(),
            chained: false,
            session_policy: None,
            session_policy_arns: Vec::new(),
        };
        let principal = Principal::session(&session);
        assert!(principal.accepts_token(Some("token")));
        assert!(!principal.accepts_token(Some("tokem")) && !principal.accepts_token(None));
        assert!(!principal.is_expired(9_999) && principal.is_expired(10_000));
        assert_eq!(principal.arn, "arn:aws:sts::111111111111:assumed-role/r/s");
        assert_eq!(principal.user_id, "AROAEXAMPLE:s");
    }
}
