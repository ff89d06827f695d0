//! The warm pool of one function version: idle execution environments, reused most recently
//! used first, started on demand when all are busy, reaped when idle too long.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kumo_sandbox::{EnvironmentSpec, ExecutionEnvironment, InitFailure};

use crate::FunctionVersion;

/// Idle environments of one function version at one revision.
pub struct WarmPool {
    /// The version these environments run.
    pub function: FunctionVersion,
    idle: Mutex<Vec<ExecutionEnvironment>>,
    busy: AtomicUsize,
}

/// Counts for status reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PoolCounts {
    /// Environments waiting for work.
    pub idle: usize,
    /// Environments running an invocation.
    pub busy: usize,
}

impl WarmPool {
    /// An empty pool for `function`.
    pub fn new(function: FunctionVersion) -> Self {
        Self { function, idle: Mutex::new(Vec::new()), busy: AtomicUsize::new(0) }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<ExecutionEnvironment>> {
        // Pushing and popping cannot panic half-way; recover the list if a panic ever poisons it.
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes the most recently used idle environment, if any is still alive.
    pub fn take_idle(&self) -> Option<ExecutionEnvironment> {
        let mut idle = self.idle();
        while let Some(environment) = idle.pop() {
            if environment.is_usable() {
                self.busy.fetch_add(1, Ordering::Relaxed);
                return Some(environment);
            }
        }
        None
    }

    /// Starts a new environment (a cold start); counted as busy once started.
    pub async fn start(&self, spec: &EnvironmentSpec) -> Result<ExecutionEnvironment, InitFailure> {
        self.busy.fetch_add(1, Ordering::Relaxed);
        let started = ExecutionEnvironment::start(spec).await;
        if started.is_err() {
            self.busy.fetch_sub(1, Ordering::Relaxed);
        }
        started
    }

    /// Gives an environment back after an invocation; a broken one is dropped (killed).
    pub fn release(&self, environment: ExecutionEnvironment) {
        self.busy.fetch_sub(1, Ordering::Relaxed);
        if environment.is_usable() {
            self.idle().push(environment);
        }
    }

    /// Drops environments idle for longer than `idle_timeout`; returns how many went.
    pub fn reap(&self, idle_timeout: Duration) -> usize {
        let now = Instant::now();
        let mut idle = self.idle();
        let before = idle.len();
        idle.retain(|environment| environment.is_usable() && now - environment.last_used < idle_timeout);
        before - idle.len()
    }

    /// Current idle and busy counts.
    pub fn counts(&self) -> PoolCounts {
        PoolCounts { idle: self.idle().len(), busy: self.busy.load(Ordering::Relaxed) }
    }

    /// Kills every idle environment (busy ones die when released to a retired pool).
    pub fn clear(&self) {
        self.idle().clear();
    }
}
