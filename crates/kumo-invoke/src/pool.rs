//! The warm pool of one function version: idle execution environments, reused most recently
//! used first, started on demand when all are busy, reaped when idle too long. Provisioned
//! environments (provisioned concurrency) are kept apart: preferred for work, never reaped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kumo_sandbox::{EnvironmentSpec, ExecutionEnvironment, InitFailure};

use crate::FunctionVersion;

/// An environment taken from the pool for one invocation.
pub struct Leased {
    /// The environment.
    pub environment: ExecutionEnvironment,
    /// Whether it is one of the provisioned environments (initialised ahead of traffic).
    pub provisioned: bool,
}

#[derive(Default)]
struct Idle {
    on_demand: Vec<ExecutionEnvironment>,
    provisioned: Vec<ExecutionEnvironment>,
}

/// Idle environments of one function version at one revision.
pub struct WarmPool {
    /// The version these environments run.
    pub function: FunctionVersion,
    idle: Mutex<Idle>,
    busy: AtomicUsize,
    provisioned_alive: AtomicUsize,
}

/// Counts for status reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PoolCounts {
    /// Environments waiting for work.
    pub idle: usize,
    /// Environments running an invocation.
    pub busy: usize,
    /// Provisioned environments alive (idle or busy).
    pub provisioned: usize,
}

impl WarmPool {
    /// An empty pool for `function`.
    pub fn new(function: FunctionVersion) -> Self {
        Self {
            function,
            idle: Mutex::new(Idle::default()),
            busy: AtomicUsize::new(0),
            provisioned_alive: AtomicUsize::new(0),
        }
    }

    fn idle(&self) -> MutexGuard<'_, Idle> {
        // Pushing and popping cannot panic half-way; recover the lists if a panic ever poisons them.
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes an idle environment: provisioned first, then the most recently used on-demand one.
    pub fn take_idle(&self) -> Option<Leased> {
        let mut idle = self.idle();
        while let Some(environment) = idle.provisioned.pop() {
            if environment.is_usable() {
                self.busy.fetch_add(1, Ordering::Relaxed);
                return Some(Leased { environment, provisioned: true });
            }
            self.provisioned_alive.fetch_sub(1, Ordering::Relaxed);
        }
        while let Some(environment) = idle.on_demand.pop() {
            if environment.is_usable() {
                self.busy.fetch_add(1, Ordering::Relaxed);
                return Some(Leased { environment, provisioned: false });
            }
        }
        None
    }

    /// Starts a new on-demand environment (a cold start); counted as busy once started.
    pub async fn start(&self, spec: &EnvironmentSpec) -> Result<Leased, InitFailure> {
        self.busy.fetch_add(1, Ordering::Relaxed);
        match ExecutionEnvironment::start(spec).await {
            Ok(environment) => Ok(Leased { environment, provisioned: false }),
            Err(failure) => {
                self.busy.fetch_sub(1, Ordering::Relaxed);
                Err(failure)
            }
        }
    }

    /// Adds an initialised provisioned environment.
    pub fn add_provisioned(&self, environment: ExecutionEnvironment) {
        self.provisioned_alive.fetch_add(1, Ordering::Relaxed);
        self.idle().provisioned.push(environment);
    }

    /// Gives an environment back after an invocation; a broken one is dropped (killed).
    pub fn release(&self, leased: Leased) {
        self.busy.fetch_sub(1, Ordering::Relaxed);
        let usable = leased.environment.is_usable();
        match (leased.provisioned, usable) {
            (true, true) => self.idle().provisioned.push(leased.environment),
            (true, false) => {
                self.provisioned_alive.fetch_sub(1, Ordering::Relaxed);
            }
            (false, true) => self.idle().on_demand.push(leased.environment),
            (false, false) => {}
        }
    }

    /// Drops on-demand environments idle for longer than `idle_timeout`; returns how many went.
    pub fn reap(&self, idle_timeout: Duration) -> usize {
        let now = Instant::now();
        let mut idle = self.idle();
        let before = idle.on_demand.len();
        idle.on_demand.retain(|environment| environment.is_usable() && now - environment.last_used < idle_timeout);
        before - idle.on_demand.len()
    }

    /// Provisioned environments alive, idle or busy.
    pub fn provisioned_alive(&self) -> usize {
        self.provisioned_alive.load(Ordering::Relaxed)
    }

    /// Stops idle provisioned environments beyond `target` (after the configuration shrank).
    pub fn trim_provisioned(&self, target: usize) {
        let mut idle = self.idle();
        while self.provisioned_alive() > target && idle.provisioned.pop().is_some() {
            self.provisioned_alive.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Current counts.
    pub fn counts(&self) -> PoolCounts {
        let idle = self.idle();
        PoolCounts {
            idle: idle.on_demand.len() + idle.provisioned.len(),
            busy: self.busy.load(Ordering::Relaxed),
            provisioned: self.provisioned_alive(),
        }
    }

    /// Kills every idle environment (busy ones die when released to a retired pool).
    pub fn clear(&self) {
        let mut idle = self.idle();
        let provisioned = idle.provisioned.len();
        idle.on_demand.clear();
        idle.provisioned.clear();
        self.provisioned_alive.fetch_sub(provisioned.min(self.provisioned_alive()), Ordering::Relaxed);
    }
}
