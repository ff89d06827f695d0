//! `kumo serve` and `kumo prepare`: start every part, serve until SIGTERM/SIGINT, stop cleanly.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use kumo_invoke::store::Store;
use kumo_invoke::{EngineConfig, InvokeEngine};
use kumo_lambda::event_invoke::Destinations;
use kumo_lambda::{LambdaService, Resolver};
use kumo_sandbox::RuntimeRegistry;

/// How long in-flight requests may run after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Flags of `kumo serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "KUMO_LISTEN", default_value = "127.0.0.1:4566")]
    listen: String,
    #[command(flatten)]
    prepare: PrepareArgs,
    /// Account id resources belong to.
    #[arg(long, env = "KUMO_ACCOUNT_ID", default_value = kumo_core::DEFAULT_ACCOUNT_ID)]
    account_id: String,
    /// Seconds an idle execution environment is kept warm.
    #[arg(long, env = "KUMO_IDLE_TIMEOUT", default_value_t = 600)]
    idle_timeout: u64,
    /// Access keys whose SigV4 signatures are accepted, as `KEY:SECRET[:ACCOUNT][,…]`; each is
    /// the root of its account (default: the account id above).
    #[arg(long, env = "KUMO_ACCESS_KEYS", default_value = "test:test")]
    access_keys: String,
    /// Accept any credentials, signed or not, without verifying them (LocalStack-like; unsafe
    /// anywhere but a developer machine).
    #[arg(long, env = "KUMO_INSECURE_ACCEPT_ANY_CREDENTIALS", value_parser = clap::builder::BoolishValueParser::new())]
    insecure_accept_any_credentials: bool,
    /// Let CreateFunction take any well-formed role ARN instead of checking that Lambda can
    /// assume it.
    #[arg(long, env = "KUMO_SKIP_ROLE_CHECK", value_parser = clap::builder::BoolishValueParser::new())]
    skip_role_check: bool,
    /// Whether role sessions (functions' execution roles, AssumeRole sessions) are held to their
    /// role's identity policies, as on AWS; `off` lets them do everything in their account.
    #[arg(long, env = "KUMO_IAM_ENFORCEMENT", default_value = "on", value_parser = ["on", "off"])]
    iam_enforcement: String,
    /// What functions reach over the network: `loopback` (Kumo's endpoint and their own Runtime
    /// API only) or `outbound` (also other hosts, through a `pasta` user-mode network stack per
    /// environment; Kumo refuses to start when pasta cannot be used).
    #[arg(long, env = "KUMO_FUNCTION_NETWORK", default_value = "loopback", value_parser = ["loopback", "outbound"])]
    function_network: String,
    /// Concurrent executions allowed per region (AWS's default account limit).
    #[arg(long, env = "KUMO_ACCOUNT_CONCURRENCY", default_value_t = kumo_core::limits::ACCOUNT_CONCURRENCY_DEFAULT)]
    account_concurrency: u32,
    /// Seconds before the first retry of a failed async invocation (doubles after).
    #[arg(long, env = "KUMO_ASYNC_RETRY_DELAY", default_value_t = 60)]
    async_retry_delay: u64,
    /// MiB of waiting async events' payloads kept in memory; beyond it they wait in the data
    /// dir only and are read back when their turn comes.
    #[arg(long, env = "KUMO_ASYNC_BACKLOG_MEMORY", default_value_t = 64)]
    async_backlog_memory: usize,
    /// Client connections served at once; more wait in the listen queue.
    #[arg(long, env = "KUMO_MAX_CONNECTIONS", default_value_t = kumo_gateway::ListenerLimits::default().max_connections)]
    max_connections: usize,
    /// Seconds a client may take to send a request's headers.
    #[arg(long, env = "KUMO_HEADER_TIMEOUT", default_value_t = 30)]
    header_timeout: u64,
    /// Seconds a presigned code-download URL works (AWS: 600); tests shorten it to see one expire.
    #[arg(long, env = "KUMO_CODE_URL_EXPIRES", default_value_t = 600, hide = true)]
    code_url_expires: i64,
    /// How new SQS queue URLs are written: `path` (`http://<kumo host>/queue/<region>/<account>/<name>`)
    /// or `host` (`http://sqs.<region>.localhost:<port>/<account>/<name>`, AWS's shape; the host
    /// must resolve to Kumo). Every form resolves either way.
    #[arg(long, env = "KUMO_SQS_URL_STYLE", default_value = "path", value_parser = ["path", "host"])]
    sqs_url_style: String,
    /// Let SNS `http`/`https` subscriptions reach loopback, link-local and unspecified addresses
    /// and Kumo's own listener (refused otherwise: a tenant could reach what only this host can).
    #[arg(long, env = "KUMO_SNS_ALLOW_PRIVATE_ENDPOINTS", value_parser = clap::builder::BoolishValueParser::new())]
    sns_allow_private_endpoints: bool,
    /// PEM file of CA certificates SNS trusts for `https` endpoints, besides the system's roots.
    #[arg(long, env = "KUMO_SNS_CA_FILE")]
    sns_ca_file: Option<PathBuf>,
}

/// Flags shared by `serve` and `prepare`.
#[derive(clap::Args)]
pub struct PrepareArgs {
    /// Where Kumo keeps its state.
    #[arg(long, env = "KUMO_DATA_DIR", default_value = ".kumo")]
    data_dir: PathBuf,
    /// Directory with boto3 for Python functions, one set per Python version in `cp3<minor>/`
    /// (installed there with pip when missing).
    #[arg(long, env = "KUMO_PYTHON_PACKAGES")]
    python_packages: Option<PathBuf>,
}

impl PrepareArgs {
    fn python_packages(&self) -> PathBuf {
        self.python_packages.clone().unwrap_or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
                .unwrap_or_else(|| self.data_dir.clone());
            cache.join("kumo/python-packages")
        })
    }
}

/// Installs boto3 for Python functions, as AWS's Python runtimes include it: one package set per
/// Python version found on the host, each with the newest boto3 that version supports (one set
/// for all would not import on the older versions: its urllib3 needs a newer Python).
fn ensure_python_packages(root: &Path) -> anyhow::Result<()> {
    let mut failed = Vec::new();
    for (minor, interpreter) in kumo_sandbox::runtimes::discover_python_interpreters() {
        let target = kumo_sandbox::runtimes::python_packages_dir(root, minor);
        if target.join("boto3").is_dir() {
            continue;
        }
        tracing::info!(target = %target.display(), "installing boto3 for python3.{minor} functions (first start only)");
        if let Err(error) = install_boto3(&interpreter, minor, &target) {
            tracing::warn!(%error, "boto3 is not available to python3.{minor} functions");
            failed.push(format!("python3.{minor}"));
        }
    }
    anyhow::ensure!(failed.is_empty(), "installing boto3 failed for {}", failed.join(", "));
    Ok(())
}

/// Installs boto3 into `target` with the interpreter's own pip, so that pip picks what that
/// version supports; an interpreter without pip gets the host's pip told the version.
fn install_boto3(interpreter: &Path, minor: u32, target: &Path) -> anyhow::Result<()> {
    let staging = target.with_extension("partial");
    let pip = |program: &Path, extra: &[String]| -> anyhow::Result<bool> {
        let _ = std::fs::remove_dir_all(&staging);
        let status = std::process::Command::new(program)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-warn-conflicts"])
            .args(extra)
            .arg("--target")
            .arg(&staging)
            .arg("boto3")
            .stdin(std::process::Stdio::null())
            .status()
            .context("running pip")?;
        Ok(status.success())
    };
    let installed = pip(interpreter, &[])? || {
        tracing::info!("python3.{minor} has no usable pip: installing with the host's pip for that version");
        let extra = ["--python-version".to_string(), format!("3.{minor}"), "--only-binary=:all:".to_string()];
        pip(Path::new("python3"), &extra)?
    };
    anyhow::ensure!(installed, "pip install boto3 for python3.{minor} failed");
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::rename(&staging, target).context("moving the installed packages into place")?;
    Ok(())
}

/// `kumo prepare`.
pub async fn prepare(args: PrepareArgs) -> anyhow::Result<ExitCode> {
    init_tracing();
    let target = args.python_packages();
    tokio::task::spawn_blocking(move || ensure_python_packages(&target)).await??;
    println!("ready: {}", args.python_packages().display());
    Ok(ExitCode::SUCCESS)
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KUMO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Keeps the data dir (STS secrets, every account's data) to Kumo's own user: it is created
/// `0700` (an existing one is tightened), and its top-level files, the stores' SQLite databases,
/// are made `0600` (SQLite gives the `-wal` and `-shm` files it creates later the database's
/// mode). Called before the stores open and again once they have.
///
/// The process umask is left alone on purpose: the sandbox creates directories under the data
/// dir that its unprivileged user must enter (a `077` umask made its launcher fail and the
/// sandbox turn itself off), so privacy comes from the data dir's own mode, which keeps every
/// other host user out of everything inside it.
fn harden_data_dir(data_dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    // Parents are ordinary directories; only the data dir itself is private.
    if let Some(parent) = data_dir.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .with_context(|| format!("creating the data dir {}", data_dir.display()))?;
    std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making the data dir {} private", data_dir.display()))?;
    // Deeper trees are code, layers and runtimes, which the sandbox user must still read.
    for entry in std::fs::read_dir(data_dir)? {
        let entry = entry?;
        let metadata = entry.metadata()?;
        if metadata.is_file() && metadata.permissions().mode() & 0o077 != 0 {
            let mode = metadata.permissions().mode() & 0o700;
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}

/// `kumo serve`.
pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_tracing();
    let data_dir = args.prepare.data_dir.clone();
    harden_data_dir(&data_dir)?;
    let store = Store::open(&data_dir, &args.account_id)
        .with_context(|| format!("opening the data dir {}", data_dir.display()))?;
    let packages = std::path::absolute(args.prepare.python_packages())?;
    let prepared = {
        let packages = packages.clone();
        tokio::task::spawn_blocking(move || ensure_python_packages(&packages)).await?
    };
    if let Err(error) = prepared {
        tracing::warn!(%error, "boto3 is not available to Python functions");
    }
    let sandbox = {
        let state_dir = store.data_dir().join("sandbox");
        let outbound = args.function_network == "outbound";
        let runtime = tokio::runtime::Handle::current();
        let sandbox = tokio::task::spawn_blocking(move || {
            let mut sandbox = kumo_sandbox::Sandbox::probe(&state_dir);
            if outbound {
                // pasta runs as a tokio child process (killed and reaped with its environment).
                let _entered = runtime.enter();
                sandbox.enable_outbound_network(&state_dir).map_err(anyhow::Error::msg)?;
            }
            anyhow::Ok(sandbox)
        })
        .await?
        .context("--function-network outbound")?;
        Arc::new(sandbox)
    };
    sandbox.log_startup();
    let runtimes = RuntimeRegistry::prepare(&store.data_dir().join("runtimes"), Some(packages), Arc::clone(&sandbox))
        .context("installing the runtime bootstraps")?;
    if runtimes.pythons().is_empty() {
        tracing::warn!("no Python interpreter found: python3.x functions cannot run");
    }
    if runtimes.node().is_none() {
        tracing::warn!("no Node.js found: nodejs functions cannot run");
    }

    let access_keys = parse_access_keys(&args.access_keys, &args.account_id)?;
    let function_key = access_keys[0].clone();
    let iam = {
        let data_dir = store.data_dir().to_path_buf();
        let account = args.account_id.clone();
        tokio::task::spawn_blocking(move || kumo_iam::IamService::open(&data_dir, access_keys, account))
            .await?
            .context("opening the iam store")?
    };
    if args.insecure_accept_any_credentials {
        tracing::warn!(
            "--insecure-accept-any-credentials is on: request signatures are NOT verified and any caller is accepted"
        );
    }
    let listener =
        tokio::net::TcpListener::bind(&args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    let endpoint_url = format!("http://{address}");
    // Functions in network namespaces of their own reach Kumo through a listener in each; the
    // router comes once the services exist (provisioned environments may start before that).
    let (environment_router, router_ready) = tokio::sync::watch::channel(None);
    sandbox.connect_function_endpoint(address.port(), Arc::new(EnvironmentEndpoint(router_ready)));
    // Launchers started ahead of demand take the launcher's exec and cgroup moves off cold starts.
    sandbox.keep_parked_launchers(2);
    let config = EngineConfig {
        endpoint_url: endpoint_url.clone(),
        access_key_id: function_key.access_key_id.clone(),
        secret_access_key: function_key.secret_access_key.clone(),
        idle_timeout: Duration::from_secs(args.idle_timeout),
        async_retry_delay: Duration::from_secs(args.async_retry_delay),
        account_concurrency: args.account_concurrency,
        async_backlog_memory: args.async_backlog_memory.saturating_mul(1 << 20),
        account: args.account_id.clone(),
    };
    let engine = InvokeEngine::new(config, runtimes, store.clone());
    let store_dir = store.data_dir().to_path_buf();
    engine.set_credential_issuer(Arc::clone(&iam) as Arc<dyn kumo_core::identity::CredentialIssuer>);
    let lambda = LambdaService::new(store, Arc::clone(&engine), args.account_id.clone(), endpoint_url);
    lambda.code_urls().set_expires_seconds(args.code_url_expires);
    {
        let lambda = Arc::clone(&lambda);
        tokio::task::spawn_blocking(move || lambda.restore_settings().and_then(|()| lambda.restore_states()))
            .await?
            .map_err(|error| anyhow::anyhow!("restoring function settings and states: {error}"))?;
    }
    if args.skip_role_check {
        tracing::info!("--skip-role-check: functions may name execution roles that do not exist");
    } else {
        lambda.set_execution_roles(Arc::clone(&iam) as Arc<dyn kumo_core::identity::ExecutionRoles>);
    }
    let sqs = {
        let data_dir = store_dir.clone();
        let account = args.account_id.clone();
        tokio::task::spawn_blocking(move || kumo_sqs::SqsService::open(&data_dir, account))
            .await?
            .context("opening the sqs store")?
    };
    let s3 = {
        let data_dir = store_dir.clone();
        tokio::task::spawn_blocking(move || kumo_s3::S3Service::open(&data_dir))
            .await?
            .context("opening the s3 store")?
    };
    let sns = {
        let data_dir = store_dir.clone();
        let settings = kumo_sns::SnsSettings {
            endpoint_url: format!("http://{address}"),
            allow_private_endpoints: args.sns_allow_private_endpoints,
            listener: Some(address),
            ca_file: args.sns_ca_file.clone(),
        };
        if settings.allow_private_endpoints {
            tracing::warn!(
                "--sns-allow-private-endpoints: sns http/https subscriptions may reach this host's private addresses"
            );
        }
        tokio::task::spawn_blocking(move || kumo_sns::SnsService::open_with(&data_dir, settings))
            .await?
            .context("opening the sns service")?
    };
    let (certificate_path, certificate) = sns.signing_certificate();
    // Every store has created its files now: they get the data dir's privacy too.
    harden_data_dir(&store_dir)?;
    sqs.start_sweeper();
    iam.set_identity_enforcement(args.iam_enforcement == "on");
    lambda.set_authorizer(iam.authorizer());
    sqs.set_authorizer(iam.authorizer());
    s3.set_authorizer(iam.authorizer());
    let code_objects =
        crate::bridges::S3CodeObjects { s3: Arc::clone(&s3), runtime: tokio::runtime::Handle::current() };
    lambda.set_code_objects(Arc::new(code_objects));
    sqs.set_url_style(args.sqs_url_style.parse().map_err(anyhow::Error::msg)?);
    let queues = Arc::new(crate::bridges::SqsQueues(Arc::clone(&sqs)));
    let others: std::collections::BTreeMap<String, Arc<dyn kumo_invoke::DestinationSender>> = [
        ("sqs".to_string(), Arc::clone(&queues) as Arc<dyn kumo_invoke::DestinationSender>),
        ("sns".to_string(), Arc::new(crate::bridges::SnsTopics(Arc::clone(&sns))) as _),
    ]
    .into();
    let destinations = Arc::new(Destinations::new(Arc::clone(&lambda), others));
    engine.set_destinations(Arc::clone(&destinations) as Arc<dyn kumo_invoke::DestinationSender>);
    engine.start_async_queue(Arc::new(Resolver(Arc::clone(&lambda)))).context("resuming the async invocation queue")?;
    sns.set_authorizer(iam.authorizer());
    sns.start_delivery(Arc::new(crate::bridges::SnsEndpoints {
        sqs: Arc::clone(&sqs),
        functions: Arc::clone(&lambda),
        lambda: Arc::clone(&destinations) as Arc<dyn kumo_invoke::DestinationSender>,
    }));
    s3.start_notifications(Arc::new(crate::bridges::S3NotificationTargets {
        lambda: Arc::clone(&lambda),
        functions: destinations,
        sqs: Arc::clone(&sqs),
        sns: Arc::clone(&sns),
    }));
    engine.event_sources().connect(queues, Arc::new(Resolver(Arc::clone(&lambda))));
    {
        let lambda = Arc::clone(&lambda);
        tokio::task::spawn_blocking(move || lambda.restore_event_source_mappings())
            .await?
            .map_err(|error| anyhow::anyhow!("restoring event source mappings: {error}"))?;
    }
    // Every service the gateway routes to: one line each.
    let mut registry = kumo_protocol::Registry::new();
    registry
        .register_rest(Arc::new(kumo_gateway::LambdaApi::new(Arc::clone(&lambda))), &kumo_gateway::LAMBDA_OPERATIONS);
    registry.register(Arc::new(kumo_sqs::api::SqsApi::new(sqs)));
    registry.register(Arc::new(kumo_s3::api::S3Api::new(s3)));
    registry.register(Arc::new(kumo_sns::api::SnsApi::new(sns)));
    registry.register(Arc::new(kumo_iam::api::IamApi::new(Arc::clone(&iam))));
    registry.register(Arc::new(kumo_iam::api::Sts::new(Arc::clone(&iam))));
    if kumo_gateway::test_service::enabled() {
        registry.register(Arc::new(kumo_gateway::test_service::StreamingTestApi::default()));
        registry.register(Arc::new(kumo_gateway::test_cbor_service::CborTestApi::default()));
    }
    let services = kumo_gateway::Services {
        lambda,
        registry: Arc::new(registry),
        default_region: kumo_core::DEFAULT_REGION.to_string(),
        version: env!("CARGO_PKG_VERSION"),
        iam,
        auth: kumo_gateway::AuthSettings {
            insecure_accept_any_credentials: args.insecure_accept_any_credentials,
            role_check: !args.skip_role_check,
        },
        open_documents: kumo_gateway::OpenDocuments::new([(
            certificate_path,
            kumo_gateway::OpenDocument { content_type: "application/x-pem-file", body: certificate.into() },
        )]),
    };
    let limits = kumo_gateway::ListenerLimits {
        max_connections: args.max_connections,
        header_read_timeout: Duration::from_secs(args.header_timeout.max(1)),
    };
    environment_router.send_replace(Some(kumo_gateway::app(services.clone())));
    tracing::info!(%address, data_dir = %data_dir.display(), "kumo is ready");
    let (stopping, mut stop_requested) = tokio::sync::watch::channel(false);
    let graceful = {
        let mut stop_requested = stop_requested.clone();
        async move {
            let _ = stop_requested.wait_for(|stop| *stop).await;
        }
    };
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stopping.send(true);
    });
    // In-flight requests get a grace period to finish; a long invocation does not hold Kumo hostage.
    let deadline = async move {
        let _ = stop_requested.wait_for(|stop| *stop).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        served = kumo_gateway::serve_with_limits(listener, services, limits, graceful) => served?,
        () = deadline => tracing::warn!("in-flight requests did not finish within the grace period; stopping anyway"),
    }
    tracing::info!("shutting down: stopping execution environments");
    engine.flush().await;
    engine.shutdown();
    // The stopped environments' cgroups go once their processes have exited.
    tokio::task::spawn_blocking(move || sandbox.shutdown()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Kumo's router served to one execution environment inside its network namespace, each request
/// marked with the environment it came from.
struct EnvironmentEndpoint(tokio::sync::watch::Receiver<Option<kumo_gateway::Router>>);

impl kumo_sandbox::FunctionEndpoint for EnvironmentEndpoint {
    fn serve(
        &self,
        listener: tokio::net::TcpListener,
        caller: kumo_core::CallerEnvironment,
    ) -> tokio::task::JoinHandle<()> {
        let mut router = self.0.clone();
        tokio::spawn(async move {
            let router = match router.wait_for(Option::is_some).await {
                Ok(router) => router.clone(),
                Err(_) => return,
            };
            if let Some(router) = router {
                if let Err(error) = kumo_gateway::serve_environment(listener, router, caller).await {
                    tracing::warn!(%error, "serving Kumo's endpoint to an environment failed");
                }
            }
        })
    }
}

/// Parses `KEY:SECRET[:ACCOUNT][,…]`; keys without an account belong to `default_account`.
fn parse_access_keys(value: &str, default_account: &str) -> anyhow::Result<Vec<kumo_iam::AccessKey>> {
    let keys: Vec<kumo_iam::AccessKey> = value
        .split(',')
        .filter(|entry| !entry.trim().is_empty())
        .map(|entry| {
            let mut fields = entry.trim().splitn(3, ':');
            let (key, secret) = (fields.next().unwrap_or_default(), fields.next().unwrap_or_default());
            let account = fields.next().unwrap_or(default_account);
            anyhow::ensure!(!key.is_empty() && !secret.is_empty(), "access keys are KEY:SECRET[:ACCOUNT] entries");
            anyhow::ensure!(
                account.len() == 12 && account.bytes().all(|byte| byte.is_ascii_digit()),
                "the account of access key {key} must be 12 digits, not {account:?}"
            );
            Ok(kumo_iam::AccessKey {
                access_key_id: key.to_string(),
                secret_access_key: secret.to_string(),
                account: account.to_string(),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    anyhow::ensure!(!keys.is_empty(), "at least one access key is needed (KUMO_ACCESS_KEYS)");
    Ok(keys)
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::parse_access_keys;

    #[test]
    fn access_keys_map_to_accounts() {
        let keys = parse_access_keys("test:test, other:s3cr3t:111111111111", "000000000000").unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!((keys[0].access_key_id.as_str(), keys[0].account.as_str()), ("test", "000000000000"));
        assert_eq!((keys[1].secret_access_key.as_str(), keys[1].account.as_str()), ("s3cr3t", "111111111111"));
        assert!(parse_access_keys("nosecret", "000000000000").is_err());
        assert!(parse_access_keys("k:s:12", "000000000000").is_err());
        assert!(parse_access_keys("", "000000000000").is_err());
    }
}
