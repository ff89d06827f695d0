//! IAM and STS, minimal but real: roles with trust policies, customer-managed and AWS-managed
//! policies, inline policies and attachments (IAM, global to all regions and per account);
//! caller identity and temporary credentials (STS AssumeRole, and execution-role sessions for
//! Lambda functions). It also holds the access keys Kumo accepts, so the gateway resolves the
//! principal of every signed request here.
//!
//! Identity policies are evaluated for role sessions (see [`evaluation`]): the services ask
//! [`IamService`] as a [`kumo_core::policy::IdentityPolicies`] for the statements of the
//! caller's role. Trust policies decide whether Lambda may assume an execution role and who may
//! assume a role.

pub mod api;
#[cfg(test)]
mod api_tests;
mod credentials;
pub mod documents;
pub mod error;
pub mod evaluation;
pub mod ids;
pub mod managed;
pub mod model;
mod pagination;
mod policies;
mod role_policies;
mod roles;
pub mod store;
mod sts;
pub mod types;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use kumo_core::AwsError;

pub use credentials::{AccessKey, Principal};
use model::{PolicyRecord, RoleRecord, SessionRecord};
pub use store::StoreError;
use store::{IamStore, Kind, SqliteIamStore};

/// Roles and customer-managed policies of every account.
#[derive(Debug, Default)]
struct IamState {
    /// By `(account, lowercase name)`.
    roles: BTreeMap<(String, String), RoleRecord>,
    /// By lowercase ARN.
    policies: BTreeMap<String, PolicyRecord>,
}

/// The IAM and STS service.
pub struct IamService {
    store: Arc<dyn IamStore>,
    /// Read by lookups; written only while `writing` is held, after the store accepted it.
    state: RwLock<IamState>,
    /// Serialises read-check-write changes so checks hold when they are applied.
    writing: Mutex<()>,
    /// Configured long-term access keys.
    static_keys: HashMap<String, Arc<Principal>>,
    /// Live temporary credentials by access key id.
    sessions: RwLock<HashMap<String, Arc<Principal>>>,
    /// Execution-role sessions handed to functions, by (role ARN, session name).
    function_sessions: Mutex<HashMap<(String, String), SessionRecord>>,
    /// Account of callers Kumo cannot identify (insecure mode).
    default_account: String,
    /// Parsed identity policies per role, valid for one generation of the state.
    policy_cache: evaluation::PolicyCache,
    /// Whether role sessions are held to their identity policies (`--iam-enforcement`).
    enforcing: std::sync::atomic::AtomicBool,
}

impl IamService {
    /// Opens the service's state under `data_dir` (`iam.sqlite3`) with the configured access
    /// keys; `default_account` is the account of callers Kumo cannot identify.
    pub fn open(data_dir: &Path, keys: Vec<AccessKey>, default_account: String) -> Result<Arc<Self>, StoreError> {
        let store = SqliteIamStore::open(&data_dir.join("iam.sqlite3"))?;
        Self::with_store(Arc::new(store), keys, default_account)
    }

    /// The service over `store`, whose state it loads, with the configured access keys.
    pub fn with_store(
        store: Arc<dyn IamStore>,
        keys: Vec<AccessKey>,
        default_account: String,
    ) -> Result<Arc<Self>, StoreError> {
        let now = kumo_core::time::now_millis();
        store.purge_expired(now)?;
        let mut state = IamState::default();
        for (key, role) in store.load::<RoleRecord>(Kind::Role)? {
            state.roles.insert(split_role_key(&key), role);
        }
        for (key, policy) in store.load::<PolicyRecord>(Kind::Policy)? {
            state.policies.insert(key, policy);
        }
        let mut sessions = HashMap::new();
        for (key, session) in store.load::<SessionRecord>(Kind::Session)? {
            sessions.insert(key, Arc::new(Principal::session(&session)));
        }
        tracing::info!(
            roles = state.roles.len(),
            policies = state.policies.len(),
            sessions = sessions.len(),
            "iam state loaded"
        );
        let static_keys =
            keys.into_iter().map(|key| (key.access_key_id.clone(), Arc::new(Principal::root_with_key(&key)))).collect();
        Ok(Arc::new(Self {
            store,
            state: RwLock::new(state),
            writing: Mutex::new(()),
            static_keys,
            sessions: RwLock::new(sessions),
            function_sessions: Mutex::new(HashMap::new()),
            default_account,
            policy_cache: evaluation::PolicyCache::default(),
            // On by default, as on AWS.
            enforcing: std::sync::atomic::AtomicBool::new(true),
        }))
    }

    /// Whether the store still keeps what IAM writes (see [`IamStore::health`]).
    pub fn store_health(&self) -> Result<(), String> {
        self.store.health()
    }

    /// Account of callers Kumo cannot identify.
    pub fn default_account(&self) -> &str {
        &self.default_account
    }

    /// Runs blocking work (store writes, and reads that wait for them) off the async threads.
    async fn blocking<T, F>(self: &Arc<Self>, work: F) -> Result<T, AwsError>
    where
        T: Send + 'static,
        F: FnOnce(&IamService) -> Result<T, AwsError> + Send + 'static,
    {
        let service = Arc::clone(self);
        tokio::task::spawn_blocking(move || work(&service)).await.map_err(error::internal)?
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, IamState> {
        // Updates apply whole records and cannot panic half-way; recover from poisoning.
        self.state.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, IamState> {
        // Every change of roles or policies may change what a role session is allowed: parsed
        // identity policies are dropped, so the next request sees the change (AWS: within
        // seconds).
        // Bumped while the write lock is held, so a reader sees either the old state with the
        // old generation or the new state with the new one.
        let guard = self.state.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.policy_cache.invalidate();
        guard
    }

    fn begin_change(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores a role and applies it to the state (call with `begin_change` held).
    fn save_role(&self, role: RoleRecord) -> Result<RoleRecord, AwsError> {
        let key = (role.account.clone(), role.name.to_ascii_lowercase());
        self.store.put(Kind::Role, &role_key(&key.0, &key.1), &role, None).map_err(error::internal)?;
        self.write().roles.insert(key, role.clone());
        Ok(role)
    }

    /// Deletes a role from the store and the state (call with `begin_change` held).
    fn remove_role(&self, account: &str, name: &str) -> Result<(), AwsError> {
        let lower = name.to_ascii_lowercase();
        self.store.delete(Kind::Role, &role_key(account, &lower)).map_err(error::internal)?;
        self.write().roles.remove(&(account.to_string(), lower));
        Ok(())
    }

    /// A role by account and name (names are case-insensitive).
    fn role(&self, account: &str, name: &str) -> Result<RoleRecord, AwsError> {
        self.read()
            .roles
            .get(&(account.to_string(), name.to_ascii_lowercase()))
            .cloned()
            .ok_or_else(|| error::no_such_role(name))
    }
}

fn role_key(account: &str, lowercase_name: &str) -> String {
    format!("{account}/{lowercase_name}")
}

fn split_role_key(key: &str) -> (String, String) {
    let (account, name) = key.split_once('/').unwrap_or(("", key));
    (account.to_string(), name.to_string())
}

pub use kumo_core::time::iso8601;

/// The parts of an IAM ARN `arn:aws:iam::<account>:<kind><path><name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamArn {
    /// Account id (`aws` for AWS-managed policies).
    pub account: String,
    /// `role`, `policy`, `user`, …
    pub kind: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// Last segment.
    pub name: String,
}

/// Parses an IAM ARN; `None` when it is not one.
pub fn parse_iam_arn(arn: &str) -> Option<IamArn> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    if !partition.starts_with("aws") {
        return None;
    }
    let rest = rest.strip_prefix("iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let (kind, path_and_name) = resource.split_once('/')?;
    let (path, name) = match path_and_name.rsplit_once('/') {
        Some((path, name)) => (format!("/{path}/"), name),
        None => ("/".to_string(), path_and_name),
    };
    if name.is_empty() || account.is_empty() {
        return None;
    }
    Some(IamArn { account: account.to_string(), kind: kind.to_string(), path, name: name.to_string() })
}

#[cfg(test)]
mod tests;
