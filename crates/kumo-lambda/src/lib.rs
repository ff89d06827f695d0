//! The Lambda API: the control plane for functions and layers, and the Invoke operation. Handlers take
//! typed requests (decoded by the gateway) and return typed responses or AWS errors.

pub mod aliases;
pub mod code_signing;
pub mod code_source;
pub mod code_urls;
mod concurrency;
pub mod constraints;
mod constraints_table;
mod cross_account;
pub use cross_account::ServiceTrigger;
pub mod event_invoke;
pub mod event_source_mappings;
pub mod function_options;
pub mod function_urls;
mod functions;
mod invoke;
pub mod invoke_stream;
pub mod layer_permissions;
pub mod layers;
pub mod permissions;
pub mod resource_policies;
pub mod resource_policy;
mod resource_tags;
pub mod state;
pub mod types;
pub mod validation;
mod versions;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use kumo_core::identity::ExecutionRoles;
use kumo_core::policy::Authorizer;
use kumo_core::AwsError;
use kumo_invoke::store::Store;
use kumo_invoke::{FunctionResolver, FunctionVersion, InvokeEngine};

use types::FunctionRecord;

/// `(account, region, function name, version)`.
type FunctionKey = (String, String, String, String);

/// The Lambda service of one Kumo node.
pub struct LambdaService {
    store: Store,
    engine: Arc<InvokeEngine>,
    /// The configured account: owns async events and data from before accounts existed.
    default_account: String,
    /// Presigned `Code.Location` URLs under the base URL clients reach Kumo at.
    code_urls: code_urls::CodeUrls,
    /// Records by (account, region, name, version): invokes never touch SQLite when warm.
    cache: RwLock<HashMap<FunctionKey, Arc<FunctionRecord>>>,
    /// Serialises read-check-write updates so a `RevisionId` precondition holds.
    updates: Mutex<()>,
    /// Checks execution roles on create and update; unset, any well-formed role ARN is taken.
    execution_roles: OnceLock<Arc<dyn ExecutionRoles>>,
    /// Holds role sessions to their identity policies; unset, they are not evaluated.
    authorizer: OnceLock<Authorizer>,
    /// Reads packages named by `S3Bucket`/`S3Key`; unset, such packages are refused.
    code_objects: OnceLock<Arc<dyn code_source::CodeObjects>>,
}

impl LambdaService {
    /// Creates the service over a store and an invoke engine.
    pub fn new(store: Store, engine: Arc<InvokeEngine>, account: String, endpoint_url: String) -> Arc<Self> {
        Arc::new(Self {
            store,
            engine,
            default_account: account,
            code_urls: code_urls::CodeUrls::new(endpoint_url),
            cache: RwLock::new(HashMap::new()),
            updates: Mutex::new(()),
            execution_roles: OnceLock::new(),
            authorizer: OnceLock::new(),
            code_objects: OnceLock::new(),
        })
    }

    /// Makes every operation check the caller's identity policies (set once at start; left
    /// unset by `--iam-enforcement off`).
    pub fn set_authorizer(&self, authorizer: Authorizer) {
        let _ = self.authorizer.set(authorizer);
    }

    /// What holds role sessions to their policies (`None` until Kumo sets it at start).
    pub(crate) fn authorizer(&self) -> Option<&kumo_core::policy::Authorizer> {
        self.authorizer.get()
    }

    /// `Ok` when the caller's identity policies allow `action` on `resource` (always, for an
    /// account's root or without enforcement); else AWS's `AccessDeniedException`.
    pub(crate) fn authorize_identity(
        &self,
        context: &kumo_core::RequestContext,
        action: &str,
        resource: &str,
    ) -> Result<(), AwsError> {
        let Some(authorizer) = self.authorizer.get().filter(|_| context.role_arn.is_some()) else {
            return Ok(());
        };
        authorizer.authorize_identity(&context.caller(), action, resource).map_err(|denial| {
            AwsError::new("AccessDeniedException", 403, denial.message(&context.caller_arn, action, resource))
        })
    }

    /// Makes and checks the presigned code-download URLs.
    pub fn code_urls(&self) -> &code_urls::CodeUrls {
        &self.code_urls
    }

    /// The presigned download URL of code blob `sha256_hex` in `region`, valid from now.
    fn code_location(&self, sha256_hex: &str, region: &str) -> String {
        let now = (kumo_core::time::now_millis() / 1000) as i64;
        self.code_urls.location(sha256_hex, region, now)
    }

    /// Makes CreateFunction and UpdateFunctionConfiguration check that Lambda can assume the
    /// execution role (set once at start; left unset by `--skip-role-check`).
    pub fn set_execution_roles(&self, roles: Arc<dyn ExecutionRoles>) {
        let _ = self.execution_roles.set(roles);
    }

    /// Checks an execution role for a function of `account`, when role checks are on.
    pub(crate) fn check_execution_role(&self, account: &str, role: &str) -> Result<(), AwsError> {
        match self.execution_roles.get() {
            Some(roles) => roles.check_assumable_by_lambda(account, role),
            None => Ok(()),
        }
    }

    /// The configured account (`--account-id`).
    pub fn default_account(&self) -> &str {
        &self.default_account
    }

    /// The invoke engine.
    pub fn engine(&self) -> &Arc<InvokeEngine> {
        &self.engine
    }

    /// Serialises read-check-write changes of function records (RevisionId preconditions hold).
    fn lock_updates(&self) -> std::sync::MutexGuard<'_, ()> {
        // The guarded data is `()`: a panic elsewhere cannot leave it inconsistent.
        self.updates.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs blocking store work off the async threads.
    async fn blocking<T, F>(self: &Arc<Self>, work: F) -> Result<T, AwsError>
    where
        T: Send + 'static,
        F: FnOnce(&LambdaService) -> Result<T, AwsError> + Send + 'static,
    {
        let service = Arc::clone(self);
        tokio::task::spawn_blocking(move || work(&service)).await.map_err(|error| {
            tracing::error!(%error, "blocking lambda task failed");
            AwsError::service()
        })?
    }

    fn cache_read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<FunctionKey, Arc<FunctionRecord>>> {
        // Cache operations cannot panic half-way; recover the map if a panic ever poisons it.
        self.cache.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cache_write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<FunctionKey, Arc<FunctionRecord>>> {
        self.cache.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What the engine needs to run a record.
    pub(crate) fn function_version(&self, account: &str, region: &str, record: &FunctionRecord) -> FunctionVersion {
        let (configuration, code_blob, layers) = record.runnable();
        FunctionVersion {
            region: region.to_string(),
            account: account.to_string(),
            name: configuration.function_name.clone(),
            version: configuration.version.clone(),
            revision: configuration.revision_id.clone(),
            runtime: configuration.runtime.clone(),
            handler: configuration.handler.clone(),
            role: configuration.role.clone(),
            memory_mb: configuration.memory_size,
            timeout_s: configuration.timeout,
            ephemeral_mb: configuration.ephemeral_storage.size,
            code_dir: self.store.blobs.code_dir(code_blob),
            layers_dir: (!layers.is_empty()).then(|| self.store.blobs.merged_layers_dir(&layers::layer_blobs(layers))),
            variables: runtime_variables(configuration),
        }
    }
}

/// The user's variables plus those Lambda derives from the configuration (log format and level).
fn runtime_variables(configuration: &types::FunctionConfiguration) -> std::collections::BTreeMap<String, String> {
    let mut variables = configuration.environment.as_ref().map(|e| e.variables.clone()).unwrap_or_default();
    let logging = &configuration.logging_config;
    if logging.log_format == "JSON" {
        variables.insert("AWS_LAMBDA_LOG_FORMAT".to_string(), "JSON".to_string());
        if let Some(level) = &logging.application_log_level {
            variables.insert("AWS_LAMBDA_LOG_LEVEL".to_string(), level.clone());
        }
    }
    variables
}

/// Lets the engine resolve functions for queued async events.
pub struct Resolver(pub Arc<LambdaService>);

impl FunctionResolver for Resolver {
    fn resolve(
        &self,
        account: &str,
        region: &str,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<FunctionVersion, AwsError> {
        let record = self.0.settled_record(|service| service.resolve_invocation(account, region, name, qualifier))?;
        Ok(self.0.function_version(account, region, &record))
    }

    fn async_config(
        &self,
        account: &str,
        region: &str,
        name: &str,
        qualifier: Option<&str>,
    ) -> kumo_invoke::AsyncConfig {
        self.0.async_config_for(account, region, name, qualifier)
    }

    fn execution_role(&self, account: &str, region: &str, name: &str, qualifier: Option<&str>) -> Option<String> {
        // Under --skip-role-check the role need not exist: nothing is held to it.
        self.0.execution_roles.get()?;
        let record = self.0.resolve_invocation(account, region, name, qualifier).ok()?;
        Some(record.configuration.role.clone())
    }
}

/// Logs an internal failure and turns it into a `ServiceException`.
fn internal(error: impl std::fmt::Display) -> AwsError {
    tracing::error!(%error, "lambda service failure");
    AwsError::service()
}
