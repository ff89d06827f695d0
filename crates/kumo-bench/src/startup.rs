//! Cold starts beyond the echo function, each next to its floor measured in the same run: a
//! Python function that creates a boto3 client at import (floor: a bare interpreter doing the
//! same) and a Node.js echo function (floor: `node -e 0`). Also which zygote, if any, served the
//! Python cold starts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;

use crate::lambda::{self, Connection};
use crate::measure;
use crate::report::ColdStart;

/// How long a zygote may take to become ready (it imports boto3).
const ZYGOTE_READY_TIMEOUT: Duration = Duration::from_secs(60);

/// One kind of cold start and its floor.
#[derive(Debug)]
pub struct StartupKind {
    /// What the function does.
    pub name: String,
    /// Fresh functions' first invokes.
    pub cold: Vec<ColdStart>,
    /// What the floor runs.
    pub floor_name: String,
    /// The floor, spawn to exit.
    pub floor: Vec<Duration>,
}

/// Which zygote serves a Python runtime's cold starts: `Ok(interpreter)` once it is ready with a
/// child parked, `Err(reason)` when Kumo has none. Starts it by invoking a first function.
pub async fn ready_zygote(
    connection: &mut Connection,
    name: &str,
    runtime: &str,
    zip: &str,
    memory_mb: u32,
) -> anyhow::Result<Result<String, String>> {
    connection.create_function(name, runtime, zip, memory_mb).await?;
    connection.invoke(name, bytes::Bytes::from_static(b"{}"), false).await?;
    let deadline = std::time::Instant::now() + ZYGOTE_READY_TIMEOUT;
    loop {
        let status = connection.status().await?;
        if let Some(reason) = status["zygotes_unavailable"].as_str() {
            return Ok(Err(reason.to_string()));
        }
        let zygotes = status["zygotes"].as_array().cloned().unwrap_or_default();
        if let Some(ready) = zygotes.iter().find(|z| z["state"] == "ready" && z["parked"].as_u64().unwrap_or(0) > 0) {
            return Ok(Ok(ready["program"].as_str().unwrap_or_default().to_string()));
        }
        if let Some(failed) = zygotes.iter().find(|z| z["state"] == "failed") {
            return Ok(Err(failed["error"].as_str().unwrap_or("failed").to_string()));
        }
        if std::time::Instant::now() > deadline {
            return Ok(Err(format!("not ready after {ZYGOTE_READY_TIMEOUT:?}")));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Cold starts of a function that creates a boto3 client at import, and the same work in a bare
/// interpreter (with Kumo's boto3 on `PYTHONPATH`).
pub async fn boto3(
    connection: &mut Connection,
    names: &[String],
    runtime: &str,
    python: &Path,
    memory_mb: u32,
    floor_runs: usize,
) -> anyhow::Result<StartupKind> {
    let packages = python_packages();
    let script = "import boto3; boto3.client('lambda', region_name='us-east-1')";
    let packages = packages.display().to_string();
    let floor = {
        let python = python.to_path_buf();
        let path = packages.clone();
        tokio::task::spawn_blocking(move || {
            measure::process_start(&python, &["-c", script], &[("PYTHONPATH", path.as_str())], floor_runs)
        })
        .await?
        .with_context(|| format!("timing boto3.client in a bare interpreter (boto3 from {packages})"))?
    };
    let zip = base64::engine::general_purpose::STANDARD.encode(lambda::boto3_function_zip()?);
    let cold = cold_series(connection, names, runtime, &zip, memory_mb).await?;
    Ok(StartupKind {
        name: format!("boto3.client at import ({runtime})"),
        cold,
        floor_name: format!("{} -c \"{script}\"", file_name(python)),
        floor,
    })
}

/// Cold starts of a Node.js echo function, and `node -e 0`. A first function (`warm_up`) makes
/// Kumo start its pre-started Node runtimes, if it has them; the name says whether it did.
pub async fn node(
    connection: &mut Connection,
    warm_up: &str,
    names: &[String],
    major: u64,
    node: &Path,
    memory_mb: u32,
    floor_runs: usize,
) -> anyhow::Result<StartupKind> {
    let floor = {
        let node = node.to_path_buf();
        tokio::task::spawn_blocking(move || measure::process_start(&node, &["-e", "0"], &[], floor_runs)).await??
    };
    let runtime = format!("nodejs{major}.x");
    let zip = base64::engine::general_purpose::STANDARD.encode(lambda::node_function_zip()?);
    connection.create_function(warm_up, &runtime, &zip, memory_mb).await?;
    connection.invoke(warm_up, bytes::Bytes::from_static(b"{}"), false).await?;
    let deadline = std::time::Instant::now() + ZYGOTE_READY_TIMEOUT;
    let prestarted = |status: &serde_json::Value| {
        let pools = status["prestarted"].as_array().cloned().unwrap_or_default();
        pools.iter().map(|pool| pool["environments"].as_u64().unwrap_or(0)).sum::<u64>()
    };
    loop {
        let status = connection.status().await?;
        let parked =
            status["prestarted"].as_array().into_iter().flatten().any(|pool| pool["parked"].as_u64() > Some(0));
        if parked || status["zygotes_unavailable"].is_string() || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = prestarted(&connection.status().await?);
    let cold = cold_series(connection, names, &runtime, &zip, memory_mb).await?;
    let served = prestarted(&connection.status().await?) - before;
    let how = if served == names.len() as u64 { "pre-started runtimes" } else { "started at the cold start" };
    Ok(StartupKind {
        name: format!("echo ({runtime}, {how})"),
        cold,
        floor_name: format!("{} -e 0", file_name(node)),
        floor,
    })
}

async fn cold_series(
    connection: &mut Connection,
    names: &[String],
    runtime: &str,
    zip: &str,
    memory_mb: u32,
) -> anyhow::Result<Vec<ColdStart>> {
    let payload = lambda::payload_of_size(64);
    let mut cold = Vec::with_capacity(names.len());
    for name in names {
        cold.push(crate::cold_start(connection, name, runtime, zip, memory_mb, &payload).await?);
        // Let the environment go idle and the zygote park its next child.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(cold)
}

/// Where `kumo serve` keeps boto3 by default (`KUMO_PYTHON_PACKAGES`, else the user's cache).
fn python_packages() -> PathBuf {
    if let Some(explicit) = std::env::var_os("KUMO_PYTHON_PACKAGES") {
        return PathBuf::from(explicit);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
        .unwrap_or_default();
    cache.join("kumo/python-packages")
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |name| name.to_string_lossy().into_owned())
}

/// Starts one environment per function in `names` (created here, `memory_mb` each) by invoking
/// each once, on 8 connections; returns how long that took. The environments then stay idle.
pub async fn idle_environments(
    endpoint: &crate::lambda::Endpoint,
    names: &[String],
    runtime: &str,
    zip: &str,
    memory_mb: u32,
) -> anyhow::Result<Duration> {
    let started = std::time::Instant::now();
    let chunks: Vec<Vec<String>> = names.chunks(names.len().div_ceil(8).max(1)).map(<[String]>::to_vec).collect();
    let tasks: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let endpoint = endpoint.clone();
            let runtime = runtime.to_string();
            let zip = zip.to_string();
            tokio::spawn(async move {
                let mut connection = endpoint.connect().await?;
                for name in &chunk {
                    connection.create_function(name, &runtime, &zip, memory_mb).await?;
                    let reply = connection.invoke(name, bytes::Bytes::from_static(b"{}"), false).await?;
                    anyhow::ensure!(reply.status.is_success(), "first invoke of {name}: {}", reply.describe());
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(started.elapsed())
}
