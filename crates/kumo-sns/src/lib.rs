//! Amazon SNS for Kumo: standard and FIFO topics, subscriptions (`sqs`, `lambda`, `http` and
//! `https` endpoints), filter policies, and Publish/PublishBatch whose fan-out runs in the
//! background, with messages signed as AWS signs them.
//!
//! Topics belong to an account and a region (`arn:aws:sns:<region>:<account>:<name>`); a
//! subscription's ARN is its topic's ARN and a UUID, so a topic's subscriptions are one range of
//! the ordered subscription map. Every operation is authorized through [`kumo_core::policy`]:
//! the caller's identity policies (role sessions, when enforced) and the topic's `Policy`.
//!
//! State lives in memory and in its own SQLite database ([`store`]), written through one
//! group-committing writer. Publish answers once its message is committed to the outbox; the
//! deliveries run afterwards ([`delivery`]) and the outbox row goes once they are made, so a
//! crash after Publish answered still delivers (at least once). Deliveries leave through the
//! narrow [`delivery::Endpoints`] trait, which the binary bridges to SQS and Lambda; HTTP/S
//! endpoints are reached by [`http`], only where [`endpoint_access`] allows.

pub mod api;
pub mod delivery;
pub mod delivery_policy;
pub mod endpoint_access;
pub mod error;
pub mod filter;
pub mod http;
mod messages;
mod outbox;
mod publish;
pub mod signing;
pub mod store;
mod subscriptions;
#[cfg(test)]
mod tests;
mod topics;
pub mod types;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use kumo_core::{AwsError, RequestContext};

use store::{Loaded, SnsStore, SqliteSnsStore, StoreError, WriteOp};

/// A topic.
pub struct Topic {
    /// `arn:aws:sns:<region>:<account>:<name>`.
    pub arn: String,
    /// The owning account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Name.
    pub name: String,
    /// Whether it is a FIFO topic (`.fifo`, `FifoTopic=true`).
    pub fifo: bool,
    state: Mutex<TopicState>,
}

/// A topic's changeable state.
#[derive(Debug, Default)]
struct TopicState {
    /// Attributes set by CreateTopic or SetTopicAttributes.
    attributes: BTreeMap<String, String>,
    /// Tags.
    tags: BTreeMap<String, String>,
    /// FIFO deduplication ids seen in the last five minutes: id → (message id, expiry ms).
    dedup: BTreeMap<String, (String, u64)>,
    /// Last FIFO sequence number given out.
    sequence: u128,
}

impl Topic {
    fn lock(&self) -> MutexGuard<'_, TopicState> {
        // The state is plain data: a panic cannot leave it torn.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A subscription.
pub struct Subscription {
    /// `<topic arn>:<uuid>`.
    pub arn: String,
    /// The topic.
    pub topic_arn: String,
    /// The subscribing account.
    pub owner: String,
    /// `sqs`, `lambda`, …
    pub protocol: String,
    /// The queue or function ARN, or URL.
    pub endpoint: String,
    state: Mutex<SubscriptionState>,
}

/// A subscription's changeable state.
#[derive(Debug, Default)]
struct SubscriptionState {
    /// Attributes set by Subscribe or SetSubscriptionAttributes.
    attributes: BTreeMap<String, String>,
    /// The compiled `FilterPolicy`, if any.
    filter: Option<Arc<filter::FilterPolicy>>,
    /// The confirmation token while it waits to be confirmed (`http`/`https`).
    pending_token: Option<String>,
}

impl Subscription {
    fn lock(&self) -> MutexGuard<'_, SubscriptionState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Its row in the store.
    fn row(&self) -> Result<store::SubscriptionRow, AwsError> {
        let state = self.lock();
        Ok(store::SubscriptionRow {
            arn: self.arn.clone(),
            topic_arn: self.topic_arn.clone(),
            owner: self.owner.clone(),
            protocol: self.protocol.clone(),
            endpoint: self.endpoint.clone(),
            attributes: serde_json::to_string(&state.attributes).map_err(error::internal)?,
            pending_token: state.pending_token.clone(),
        })
    }
}

/// The SNS service of one Kumo node.
pub struct SnsService {
    store: Arc<dyn SnsStore>,
    /// Topics by ARN (ordered: an account's topics in a region are one range).
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    /// Subscriptions by ARN (ordered: a topic's subscriptions are one range).
    subscriptions: RwLock<BTreeMap<String, Arc<Subscription>>>,
    /// Decides who may do what to a topic; unset, identity policies are not enforced.
    authorizer: OnceLock<kumo_core::policy::Authorizer>,
    /// Kumo's endpoint, for the `UnsubscribeURL` and `SigningCertURL` of notifications.
    endpoint_url: String,
    /// Next outbox position.
    next_seq: AtomicU64,
    /// Serialises topic and subscription creation (idempotency checks).
    lifecycle: tokio::sync::Mutex<()>,
    /// Hands committed messages to the fan-out.
    outbox: Arc<outbox::Outbox>,
    /// Makes outbox positions and their commits follow one order (the outbox relies on it).
    outbox_order: Mutex<()>,
    /// Posts to `http`/`https` subscriptions.
    http: Arc<http::HttpEndpoints>,
    /// Which endpoints subscriptions may name.
    endpoint_access: endpoint_access::EndpointAccess,
    /// Signs messages; its certificate is served at `SigningCertURL`.
    signer: Arc<signing::MessageSigner>,
    /// Bounds the HTTP/S deliveries waiting for a retry.
    waiting_retries: Arc<tokio::sync::Semaphore>,
    /// Paces throttled HTTP/S subscriptions.
    pacer: Arc<delivery::Pacer>,
}

/// How SNS is set up.
#[derive(Debug, Clone)]
pub struct SnsSettings {
    /// Kumo's endpoint, as notifications name it (`UnsubscribeURL`, `SigningCertURL`).
    pub endpoint_url: String,
    /// Let `http`/`https` subscriptions reach loopback, link-local and unspecified addresses
    /// and Kumo's own listener (`--sns-allow-private-endpoints`).
    pub allow_private_endpoints: bool,
    /// Kumo's listener, which subscriptions may not target otherwise.
    pub listener: Option<SocketAddr>,
    /// PEM file of CA certificates trusted for `https` endpoints besides the system's.
    pub ca_file: Option<PathBuf>,
}

impl SnsSettings {
    /// The defaults for Kumo at `endpoint_url`: private endpoints refused, system roots only.
    pub fn new(endpoint_url: impl Into<String>) -> Self {
        Self { endpoint_url: endpoint_url.into(), allow_private_endpoints: false, listener: None, ca_file: None }
    }
}

/// Why SNS could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The signing key or certificate.
    #[error(transparent)]
    Signing(#[from] signing::SigningError),
    /// The HTTPS client.
    #[error(transparent)]
    Tls(#[from] http::TlsSetupError),
}

impl SnsService {
    /// Opens the store under `data_dir` (blocking: call at start-up or via `spawn_blocking`)
    /// and restores every topic, subscription and undelivered message; `endpoint_url` is Kumo's
    /// endpoint as notifications name it. Private endpoints are refused.
    pub fn open(data_dir: &Path, endpoint_url: impl Into<String>) -> Result<Arc<Self>, OpenError> {
        Self::open_with(data_dir, SnsSettings::new(endpoint_url))
    }

    /// [`Self::open`] with `settings`.
    pub fn open_with(data_dir: &Path, settings: SnsSettings) -> Result<Arc<Self>, OpenError> {
        let (store, loaded) = SqliteSnsStore::open(data_dir)?;
        let signer = signing::MessageSigner::open(data_dir)?;
        Self::with_store(Arc::new(store), loaded, signer, settings)
    }

    /// Restores what `loaded` holds from `store`, which takes the changes from now on.
    pub fn with_store(
        store: Arc<dyn SnsStore>,
        loaded: Loaded,
        signer: signing::MessageSigner,
        settings: SnsSettings,
    ) -> Result<Arc<Self>, OpenError> {
        let mut topics = BTreeMap::new();
        for row in loaded.topics {
            let Some((region, account, name)) = topics::parse_topic_arn(&row.arn) else { continue };
            let attributes: BTreeMap<String, String> =
                serde_json::from_str(&row.attributes).map_err(StoreError::from)?;
            let tags = serde_json::from_str(&row.tags).map_err(StoreError::from)?;
            let fifo = attributes.get("FifoTopic").is_some_and(|value| value == "true");
            let state = TopicState { attributes, tags, ..TopicState::default() };
            let topic = Topic {
                arn: row.arn.clone(),
                account: account.to_string(),
                region: region.to_string(),
                name: name.to_string(),
                fifo,
                state: Mutex::new(state),
            };
            topics.insert(row.arn, Arc::new(topic));
        }
        let mut subscriptions = BTreeMap::new();
        for row in loaded.subscriptions {
            let attributes: BTreeMap<String, String> =
                serde_json::from_str(&row.attributes).map_err(StoreError::from)?;
            let filter = subscriptions::compile_filter(&attributes, "").ok().flatten();
            let state = SubscriptionState { attributes, filter, pending_token: row.pending_token };
            let subscription = Subscription {
                arn: row.arn.clone(),
                topic_arn: row.topic_arn,
                owner: row.owner,
                protocol: row.protocol,
                endpoint: row.endpoint,
                state: Mutex::new(state),
            };
            subscriptions.insert(row.arn, Arc::new(subscription));
        }
        tracing::info!(
            topics = topics.len(),
            subscriptions = subscriptions.len(),
            undelivered = loaded.undelivered,
            "sns store opened"
        );
        let endpoint_access = endpoint_access::EndpointAccess {
            allow_private: settings.allow_private_endpoints,
            own_listener: settings.listener,
        };
        let http = http::HttpEndpoints::new(endpoint_access.clone(), settings.ca_file.as_deref())?;
        Ok(Arc::new(Self {
            store,
            topics: RwLock::new(topics),
            subscriptions: RwLock::new(subscriptions),
            authorizer: OnceLock::new(),
            endpoint_url: settings.endpoint_url,
            next_seq: AtomicU64::new(loaded.next_seq),
            lifecycle: tokio::sync::Mutex::new(()),
            outbox: Arc::new(outbox::Outbox::new(loaded.undelivered, loaded.next_seq)),
            outbox_order: Mutex::new(()),
            http: Arc::new(http),
            endpoint_access,
            signer: Arc::new(signer),
            waiting_retries: delivery::waiting_retries(),
            pacer: Arc::default(),
        }))
    }

    /// The signing certificate: its path on Kumo's port (which serves it to anyone) and PEM.
    pub fn signing_certificate(&self) -> (String, String) {
        (self.signer.certificate_path(), self.signer.certificate_pem().to_string())
    }

    /// Whether the store still keeps what SNS gives it.
    pub fn store_health(&self) -> Result<(), String> {
        self.store.health()
    }

    /// Makes every operation hold role sessions to their identity policies (set once at
    /// start; left unset by `--iam-enforcement off`). Topic policies are evaluated either way.
    pub fn set_authorizer(&self, authorizer: kumo_core::policy::Authorizer) {
        let _ = self.authorizer.set(authorizer);
    }

    fn topics_read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Arc<Topic>>> {
        // The maps are only ever inserted into or removed from; a panic cannot leave them torn.
        self.topics.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn topics_write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Arc<Topic>>> {
        self.topics.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn subscriptions_read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Arc<Subscription>>> {
        self.subscriptions.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn subscriptions_write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Arc<Subscription>>> {
        self.subscriptions.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The subscriptions of `topic_arn`, in ARN order.
    fn subscriptions_of(&self, topic_arn: &str) -> Vec<Arc<Subscription>> {
        let prefix = format!("{topic_arn}:");
        self.subscriptions_read()
            .range(prefix.clone()..)
            .take_while(|(arn, _)| arn.starts_with(&prefix))
            .map(|(_, subscription)| Arc::clone(subscription))
            .collect()
    }

    /// Whether the caller may perform `action` (`sns:Publish`) on `topic`: its identity
    /// policies (for role sessions, when enforced) and the topic's `Policy` decide; another
    /// account needs the topic's policy to grant it.
    fn authorize(&self, context: &RequestContext, topic: &Topic, action: &str) -> Result<(), AwsError> {
        let policy = topic.lock().attributes.get("Policy").cloned();
        let statements = policy.as_deref().map(kumo_core::policy::parse_statements);
        self.authorize_resource(context, &topic.arn, &topic.account, statements.as_deref(), action)
    }

    /// [`Self::authorize`] for a resource that may not exist yet (CreateTopic, ListTopics).
    fn authorize_resource(
        &self,
        context: &RequestContext,
        resource: &str,
        owner: &str,
        statements: Option<&[serde_json::Value]>,
        action: &str,
    ) -> Result<(), AwsError> {
        self.authorize_caller(&context.caller(), resource, owner, statements, action)
    }

    /// [`Self::authorize_resource`] for any caller (a function's execution role too).
    fn authorize_caller(
        &self,
        caller: &kumo_core::policy::Caller<'_>,
        resource: &str,
        owner: &str,
        statements: Option<&[serde_json::Value]>,
        action: &str,
    ) -> Result<(), AwsError> {
        let not_enforced = kumo_core::policy::Authorizer::identity_not_enforced();
        let authorizer = self.authorizer.get().unwrap_or(&not_enforced);
        authorizer
            .authorize(caller, action, resource, owner, statements, &[])
            .map_err(|denial| error::authorization_error(denial, caller.arn, action, resource))
    }

    fn allocate_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Serialises outbox positions with their commits.
    fn outbox_order(&self) -> MutexGuard<'_, ()> {
        self.outbox_order.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits for `ops` to commit, mapping failure to an internal error.
    async fn commit(&self, ops: Vec<WriteOp>) -> Result<(), AwsError> {
        self.store.commit(ops).await.map_err(error::internal)
    }
}

/// A required string parameter: `InvalidParameter` naming it when missing or empty.
fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, AwsError> {
    value
        .as_deref()
        .filter(|value| !value.is_empty())
        .ok_or_else(|| error::invalid_parameter(format!("{name} Reason: no value for required parameter")))
}
