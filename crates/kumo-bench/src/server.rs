//! Starts a private `kumo serve` on a free loopback port with a temporary data dir, waits until it
//! answers its health check, and stops it at the end.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hyper::StatusCode;

use crate::lambda::Endpoint;

/// How long the server may take to come up (the first start installs boto3 with pip).
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// How long the server may take to stop its execution environments after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// A `kumo serve` child process.
pub struct KumoServer {
    child: tokio::process::Child,
    /// Its URL.
    pub url: String,
    /// Where it logs (inside the data dir).
    log_path: PathBuf,
    /// Removed when the server is dropped.
    data_dir: tempfile::TempDir,
}

impl KumoServer {
    /// The `kumo` binary next to this one (both are built into `target/release`), else the one in
    /// this workspace's `target/release`.
    pub fn default_binary() -> PathBuf {
        let sibling = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|dir| dir.join("kumo")));
        sibling
            .filter(|path| path.is_file())
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/kumo"))
    }

    /// Starts `binary serve` and waits until `GET /_kumo/health` answers 200.
    pub async fn start(binary: &Path) -> anyhow::Result<Self> {
        anyhow::ensure!(
            binary.is_file(),
            "no kumo binary at {} (build it with `cargo build --release`, or pass --kumo-bin or --endpoint)",
            binary.display()
        );
        let data_dir = tempfile::Builder::new().prefix("kumo-bench-").tempdir().context("creating a data dir")?;
        let log_path = data_dir.path().join("kumo.log");
        let log = std::fs::File::create(&log_path).context("creating the server log")?;
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let child = tokio::process::Command::new(binary)
            .arg("serve")
            .env("KUMO_DATA_DIR", data_dir.path().join("data"))
            .env("KUMO_LISTEN", &listen)
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("sharing the server log")?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut server = Self { child, url: format!("http://{listen}"), log_path, data_dir };
        if let Err(error) = server.wait_until_healthy().await {
            let log = server.log_tail();
            server.stop().await;
            return Err(error.context(format!("kumo did not start; its log ends with:\n{log}")));
        }
        Ok(server)
    }

    async fn wait_until_healthy(&mut self) -> anyhow::Result<()> {
        let endpoint = Endpoint::resolve(&self.url).await?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("kumo exited ({status})");
            }
            if let Ok(mut connection) = endpoint.connect().await {
                if connection.health().await.is_ok_and(|reply| reply.status == StatusCode::OK) {
                    return Ok(());
                }
            }
            anyhow::ensure!(Instant::now() < deadline, "no healthy answer within {START_TIMEOUT:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Its pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The data dir, for the report.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stops the server: SIGTERM so it stops its execution environments, SIGKILL if it has not
    /// exited after [`STOP_TIMEOUT`]. The data dir is removed afterwards.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // The `kill` command sends SIGTERM without an `unsafe` libc call in this crate.
            let _ = tokio::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
        }
        if tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await.is_err() {
            eprintln!("kumo-bench: kumo did not stop after SIGTERM; killing it");
            let _ = self.child.kill().await;
        }
    }
}

/// A port nobody listens on now: bind port 0, read the port, release it for Kumo.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}
