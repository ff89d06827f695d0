//! Shared by the SDK tests: a private `kumo serve` on a free loopback port with a temporary data
//! dir, and AWS SDK for Rust clients (Lambda, SQS) pointed at it.

#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::config::{BehaviorVersion, Region};
use aws_sdk_lambda::Client;
use aws_types::SdkConfig;

/// The account Kumo gives the default `test`/`test` key pair.
pub const ACCOUNT: &str = "000000000000";
/// An execution role ARN; the servers run with `KUMO_SKIP_ROLE_CHECK=1` (this crate has no IAM
/// client to create it), so Kumo only checks its shape.
pub const ROLE: &str = "arn:aws:iam::000000000000:role/lambda-role";
pub const REGION: &str = "us-east-1";

/// How long the server may take to answer its health check.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// One `kumo serve` child process, stopped (and its data dir removed) on drop.
pub struct KumoServer {
    child: Child,
    pub endpoint: String,
    log_path: PathBuf,
    _data_dir: tempfile::TempDir,
}

impl KumoServer {
    /// `$KUMO_BIN`, else `target/release/kumo` of this workspace.
    pub fn binary() -> PathBuf {
        match std::env::var_os("KUMO_BIN") {
            Some(path) => PathBuf::from(path),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/kumo"),
        }
    }

    /// Starts `kumo serve` and waits until `GET /_kumo/health` answers 200.
    pub fn start() -> Self {
        let binary = Self::binary();
        assert!(
            binary.is_file(),
            "no kumo binary at {} (run `cargo build --release -p kumo` or set KUMO_BIN)",
            binary.display()
        );
        let data_dir = tempfile::Builder::new().prefix("kumo-sdk-tests-").tempdir().expect("temp dir");
        prepare_once(&binary, &data_dir.path().join("data"));
        let log_path = data_dir.path().join("kumo.log");
        let log = std::fs::File::create(&log_path).expect("server log");
        let listen = format!("127.0.0.1:{}", free_port());
        let child = Command::new(&binary)
            .arg("serve")
            .env("KUMO_LISTEN", &listen)
            .env("KUMO_DATA_DIR", data_dir.path().join("data"))
            .env("KUMO_SKIP_ROLE_CHECK", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("server log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("starting {}: {error}", binary.display()));
        let mut server = Self { child, endpoint: format!("http://{listen}"), log_path, _data_dir: data_dir };
        server.wait_until_healthy(&listen);
        server
    }

    fn wait_until_healthy(&mut self, listen: &str) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("polling kumo") {
                panic!("kumo exited ({status}) before it was healthy; its log ends with:\n{}", self.log_tail());
            }
            if health_status(listen) == Some(200) {
                return;
            }
            if Instant::now() > deadline {
                panic!("kumo was not healthy within {START_TIMEOUT:?}; its log ends with:\n{}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// SDK configuration for this server, signing with `access_key`/`secret_key` (SigV4, as
    /// against AWS); every service's client is built from it.
    pub fn sdk_config(&self, access_key: &str, secret_key: &str) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                access_key,
                secret_key,
                None,
                None,
                "kumo-sdk-tests",
            )))
            // No TLS: Kumo listens on plain HTTP on loopback.
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            // One attempt: a retried failure would hide what Kumo answered first.
            .retry_config(RetryConfig::disabled())
            .timeout_config(TimeoutConfig::builder().operation_timeout(Duration::from_secs(90)).build())
            .build()
    }

    /// A Lambda client signing with `access_key`/`secret_key`.
    pub fn lambda_client_with(&self, access_key: &str, secret_key: &str) -> Client {
        Client::new(&self.sdk_config(access_key, secret_key))
    }

    /// A Lambda client with Kumo's default key pair `test`/`test`.
    pub fn lambda_client(&self) -> Client {
        self.lambda_client_with("test", "test")
    }

    /// An SQS client with Kumo's default key pair.
    pub fn sqs_client(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk_config("test", "test"))
    }
}

impl Drop for KumoServer {
    fn drop(&mut self) {
        // SIGTERM lets Kumo stop its execution environments; SIGKILL if it takes too long.
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `kumo prepare` once per test process, before the first server starts: on a fresh machine
/// it installs boto3 for Python functions into a shared cache, which servers starting in parallel
/// would otherwise all try at once. A failure is not fatal: these functions do not import boto3.
fn prepare_once(binary: &Path, data_dir: &Path) {
    static PREPARED: OnceLock<()> = OnceLock::new();
    PREPARED.get_or_init(|| {
        let status = Command::new(binary)
            .arg("prepare")
            .env("KUMO_DATA_DIR", data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
        match status {
            Ok(status) if status.success() => {}
            other => eprintln!("kumo prepare failed ({other:?}); Python functions run without boto3"),
        }
    });
}

/// A port nobody listens on now: bind port 0, read the port, release it for Kumo.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    listener.local_addr().expect("local address").port()
}

/// The status code of `GET /_kumo/health`, or None while nothing answers.
fn health_status(listen: &str) -> Option<u16> {
    use std::io::Read as _;
    let mut stream = std::net::TcpStream::connect(listen).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET /_kumo/health HTTP/1.1\r\nHost: {listen}\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

/// A zip holding `lambda_function.py` with `source`, built in memory.
pub fn python_zip(source: &str) -> Vec<u8> {
    zip_of(&[("lambda_function.py", source)])
}

/// A zip of `(name, content)` files, built in memory.
pub fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in files {
        writer.start_file(*name, options).expect("zip entry");
        writer.write_all(content.as_bytes()).expect("zip write");
    }
    writer.finish().expect("zip finish").into_inner()
}
