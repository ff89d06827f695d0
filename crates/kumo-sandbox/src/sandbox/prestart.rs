//! Pre-started runtimes (see `LaunchConfig::prestart`): Node.js cannot fork a running interpreter
//! the way a Python zygote does, so Kumo starts a few runtimes ahead, sealed in their sandbox
//! and waiting for a function. A cold start then costs the handover (mount the code, pass the
//! environment) and loading the handler, not the interpreter's start.
//!
//! Pools are keyed by interpreter and the start-up variables Node reads only once
//! (`NODE_OPTIONS`, `LANG`…): a function whose values differ gets its own pool. The memory limit
//! is set at the handover, as for any parked process: Node does not size its heap from it here
//! (the sandbox shows no `/sys/fs/cgroup`), whether it was started ahead or not.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use super::zygotes::without_function;
use super::{sealed_config, Features, Sandbox};
use crate::config::LaunchConfig;
use crate::mounts;
use crate::parking::{ParkedPool, Source};
use crate::runtimes::LaunchPlan;

/// How many runtimes each pool keeps started.
const PRESTARTED_PARKED: usize = 2;
/// Most pools kept at once; the least recently used one goes first (each holds started runtimes).
const MAX_POOLS: usize = 4;

/// What makes two functions' pre-started runtimes interchangeable.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PoolKey {
    program: PathBuf,
    startup: BTreeMap<String, String>,
}

/// One pool and when a cold start last took from it.
#[derive(Debug)]
struct Pool {
    key: PoolKey,
    pool: Arc<ParkedPool>,
    last_used: Instant,
}

/// The pre-started runtimes' pools.
#[derive(Debug, Default)]
pub(super) struct Prestarted {
    pools: Mutex<Vec<Pool>>,
}

/// A pool of pre-started runtimes in `/_kumo/status`.
#[derive(Debug, Clone, Serialize)]
pub struct PrestartedStatus {
    /// The interpreter.
    pub program: String,
    /// The start-up variables its runtimes were started with (names only: values may be secret).
    pub variables: Vec<String>,
    /// Environments started from it.
    pub environments: u64,
    /// Runtimes waiting for a function.
    pub parked: usize,
    /// How many it keeps started (never more).
    pub target: usize,
}

/// Variables Node reads only while it starts: the pre-started runtime must have had the
/// function's values from the beginning.
fn startup_environment(environment: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    const PREFIXES: [&str; 6] = ["NODE_", "UV_", "LD_", "LC_", "OPENSSL_", "SSL_CERT_"];
    environment
        .iter()
        .filter(|(key, _)| {
            PREFIXES.iter().any(|prefix| key.starts_with(prefix)) || matches!(key.as_str(), "LANG" | "TZ")
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

impl Prestarted {
    fn pools(&self) -> std::sync::MutexGuard<'_, Vec<Pool>> {
        self.pools.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Sandbox {
    /// The pool of pre-started runtimes for `plan` (made on first use), if it has a prestart
    /// plan and this host can start them.
    pub(super) fn prestarted_for(
        self: &Arc<Self>,
        plan: &LaunchPlan,
        environment: &BTreeMap<String, String>,
    ) -> Option<Arc<ParkedPool>> {
        let prestart = plan.prestart.as_deref()?;
        let support = self.zygote_support.as_ref().ok()?;
        let features = self.features.as_ref()?;
        let key = PoolKey { program: prestart.program.clone(), startup: startup_environment(environment) };
        let mut pools = self.prestarted.pools();
        if let Some(found) = pools.iter_mut().find(|pool| pool.key == key) {
            found.last_used = Instant::now();
            return Some(Arc::clone(&found.pool));
        }
        let config = prestart_config(features, prestart, &key.startup, &support.data_dir)?;
        if pools.len() >= MAX_POOLS {
            let oldest = pools.iter().enumerate().min_by_key(|(_, pool)| pool.last_used).map(|(index, _)| index)?;
            pools.swap_remove(oldest).pool.drain(&self.parking());
        }
        let source = Source::Prestarted(self.launcher.clone(), Box::new(config));
        let pool = Arc::new(ParkedPool::new(source, PRESTARTED_PARKED));
        pools.push(Pool { key, pool: Arc::clone(&pool), last_used: Instant::now() });
        Some(pool)
    }

    /// The pools of pre-started runtimes, for `/_kumo/status`.
    pub fn prestarted_status(&self) -> Vec<PrestartedStatus> {
        let mut status: Vec<PrestartedStatus> = self
            .prestarted
            .pools()
            .iter()
            .map(|pool| PrestartedStatus {
                program: pool.key.program.display().to_string(),
                variables: pool.key.startup.keys().cloned().collect(),
                environments: pool.pool.taken(),
                parked: pool.pool.len(),
                target: PRESTARTED_PARKED,
            })
            .collect();
        status.sort_by(|a, b| a.program.cmp(&b.program));
        status
    }

    /// Kills every pre-started runtime (at shutdown).
    pub(super) fn drain_prestarted(&self) {
        let parking = self.parking();
        for pool in self.prestarted.pools().drain(..) {
            pool.pool.drain(&parking);
        }
    }
}

/// The launch of a pre-started runtime: `plan`'s program, sealed like an environment's, in a
/// root that shows Kumo's data dir until the handover.
fn prestart_config(
    features: &Features,
    plan: &LaunchPlan,
    startup: &BTreeMap<String, String>,
    data_dir: &std::path::Path,
) -> Option<LaunchConfig> {
    let layout = features.layout.as_ref()?;
    let (runtime, environment) = without_function(plan, startup);
    // Not /var/task: the code is mounted there later, and a working directory entered before
    // would still be the empty one underneath.
    let mounts = mounts::prestart_plan(layout, &runtime, data_dir);
    let config = sealed_config(features, plan, &environment, PathBuf::from("/"), Some(mounts));
    Some(LaunchConfig { prestart: true, ..config })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_start_up_variables_decide_the_pool() {
        let environment = BTreeMap::from([
            ("NODE_OPTIONS".to_string(), "--enable-source-maps".to_string()),
            ("NODE_PATH".to_string(), "/opt/nodejs/node_modules".to_string()),
            ("LANG".to_string(), "en_US.UTF-8".to_string()),
            ("TZ".to_string(), ":UTC".to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME".to_string(), "f".to_string()),
            ("TABLE".to_string(), "orders".to_string()),
        ]);
        let startup = startup_environment(&environment);
        assert_eq!(startup.keys().collect::<Vec<_>>(), ["LANG", "NODE_OPTIONS", "NODE_PATH", "TZ"]);
    }
}
