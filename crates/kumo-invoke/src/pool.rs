//! The warm pool of one function version: idle execution environments, reused most recently
//! used first, started on demand when all are busy, reaped when idle too long. Provisioned
//! environments (provisioned concurrency) are kept apart: preferred for work, never reaped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kumo_sandbox::{EnvironmentSpec, ExecutionEnvironment, InitFailure};

use crate::FunctionVersion;

/// Longest an environment serves: its role's credentials last 12 hours (they are minted when it
/// starts), so older ones are retired after their invocation, provisioned ones included (their
/// keeper starts replacements), as AWS recycles execution environments after some hours.
pub const MAX_LIFETIME: Duration = Duration::from_secs(10 * 60 * 60);

/// What the pool needs to know about an environment; a seam so placement logic is testable
/// without starting processes.
pub trait Pooled {
    /// Whether it can take another invocation.
    fn is_usable(&self) -> bool;
    /// When it last finished an invocation.
    fn last_used(&self) -> Instant;
    /// When it started.
    fn started(&self) -> Instant;
}

impl Pooled for ExecutionEnvironment {
    fn is_usable(&self) -> bool {
        ExecutionEnvironment::is_usable(self)
    }

    fn last_used(&self) -> Instant {
        self.last_used
    }

    fn started(&self) -> Instant {
        ExecutionEnvironment::started(self)
    }
}

/// Whether an environment may serve again.
fn serves<E: Pooled>(environment: &E) -> bool {
    environment.is_usable() && environment.started().elapsed() < MAX_LIFETIME
}

/// An environment taken from the pool for one invocation.
pub struct Leased<E = ExecutionEnvironment> {
    /// The environment.
    pub environment: E,
    /// Whether it is one of the provisioned environments (initialised ahead of traffic).
    pub provisioned: bool,
}

struct Idle<E> {
    on_demand: Vec<E>,
    provisioned: Vec<E>,
}

/// Idle environments of one function version at one revision.
pub struct WarmPool<E = ExecutionEnvironment> {
    /// The version these environments run.
    pub function: FunctionVersion,
    idle: Mutex<Idle<E>>,
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

impl WarmPool<ExecutionEnvironment> {
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
}

impl<E: Pooled> WarmPool<E> {
    /// An empty pool for `function`.
    pub fn new(function: FunctionVersion) -> Self {
        Self {
            function,
            idle: Mutex::new(Idle { on_demand: Vec::new(), provisioned: Vec::new() }),
            busy: AtomicUsize::new(0),
            provisioned_alive: AtomicUsize::new(0),
        }
    }

    fn idle(&self) -> MutexGuard<'_, Idle<E>> {
        // Pushing and popping cannot panic half-way; recover the lists if a panic ever poisons them.
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes an idle environment: provisioned first, then the most recently used on-demand one.
    pub fn take_idle(&self) -> Option<Leased<E>> {
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

    /// Adds an initialised provisioned environment.
    pub fn add_provisioned(&self, environment: E) {
        self.provisioned_alive.fetch_add(1, Ordering::Relaxed);
        self.idle().provisioned.push(environment);
    }

    /// Gives an environment back after an invocation; a broken one is dropped (killed).
    pub fn release(&self, leased: Leased<E>) {
        self.busy.fetch_sub(1, Ordering::Relaxed);
        let usable = serves(&leased.environment);
        match (leased.provisioned, usable) {
            (true, true) => self.idle().provisioned.push(leased.environment),
            (true, false) => {
                self.provisioned_alive.fetch_sub(1, Ordering::Relaxed);
            }
            (false, true) => self.idle().on_demand.push(leased.environment),
            (false, false) => {}
        }
    }

    /// Drops on-demand environments idle for longer than `idle_timeout`, and any idle one past
    /// [`MAX_LIFETIME`]; returns how many went.
    pub fn reap(&self, idle_timeout: Duration) -> usize {
        let now = Instant::now();
        let mut idle = self.idle();
        let before = idle.on_demand.len() + idle.provisioned.len();
        idle.on_demand.retain(|environment| serves(environment) && now - environment.last_used() < idle_timeout);
        let provisioned = idle.provisioned.len();
        idle.provisioned.retain(serves);
        self.provisioned_alive.fetch_sub(provisioned - idle.provisioned.len(), Ordering::Relaxed);
        before - idle.on_demand.len() - idle.provisioned.len()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    /// A stand-in environment: an id, a kill switch and a last-used time.
    struct Fake {
        id: u32,
        alive: Arc<AtomicBool>,
        last_used: Instant,
        started: Instant,
    }

    impl Pooled for Fake {
        fn is_usable(&self) -> bool {
            self.alive.load(Ordering::Relaxed)
        }

        fn last_used(&self) -> Instant {
            self.last_used
        }

        fn started(&self) -> Instant {
            self.started
        }
    }

    fn fake(id: u32) -> (Fake, Arc<AtomicBool>) {
        let alive = Arc::new(AtomicBool::new(true));
        (Fake { id, alive: Arc::clone(&alive), last_used: Instant::now(), started: Instant::now() }, alive)
    }

    #[test]
    fn environments_past_their_lifetime_are_retired_provisioned_ones_too() {
        let pool = WarmPool::new(function());
        let (mut old, _) = fake(1);
        old.started = Instant::now() - MAX_LIFETIME;
        let leased = lease(&pool, old);
        pool.release(leased);
        assert_eq!(pool.counts().idle, 0, "not returned after its last invocation");
        let (mut provisioned, _) = fake(2);
        pool.add_provisioned(fake(3).0);
        provisioned.started = Instant::now() - MAX_LIFETIME;
        pool.add_provisioned(provisioned);
        assert_eq!(pool.reap(Duration::from_secs(600)), 1);
        assert_eq!(pool.provisioned_alive(), 1, "a gap its keeper refills");
        assert_eq!(pool.take_idle().unwrap().environment.id, 3);
    }

    fn function() -> FunctionVersion {
        FunctionVersion {
            region: "us-east-1".into(),
            account: "000000000000".into(),
            name: "f".into(),
            version: "$LATEST".into(),
            revision: "r".into(),
            runtime: "python3.12".into(),
            handler: "h.h".into(),
            role: "arn:aws:iam::000000000000:role/r".into(),
            memory_mb: 128,
            timeout_s: 3,
            ephemeral_mb: 512,
            code_dir: "/code".into(),
            layers_dir: None,
            variables: Default::default(),
        }
    }

    fn lease(pool: &WarmPool<Fake>, environment: Fake) -> Leased<Fake> {
        // What `start` does for real environments: count it busy and hand it out.
        pool.busy.fetch_add(1, Ordering::Relaxed);
        Leased { environment, provisioned: false }
    }

    #[test]
    fn reuses_the_most_recently_used_environment_first() {
        let pool = WarmPool::new(function());
        let (first, _) = fake(1);
        let (second, _) = fake(2);
        let first = lease(&pool, first);
        let second = lease(&pool, second);
        pool.release(first);
        pool.release(second);
        assert_eq!(pool.counts(), PoolCounts { idle: 2, busy: 0, provisioned: 0 });
        let taken = pool.take_idle().unwrap();
        assert_eq!(taken.environment.id, 2);
        assert_eq!(pool.counts().busy, 1);
    }

    #[test]
    fn skips_and_forgets_dead_environments() {
        let pool = WarmPool::new(function());
        let (environment, alive) = fake(1);
        let leased = lease(&pool, environment);
        pool.release(leased);
        alive.store(false, Ordering::Relaxed);
        assert!(pool.take_idle().is_none());
        assert_eq!(pool.counts(), PoolCounts { idle: 0, busy: 0, provisioned: 0 });
    }

    #[test]
    fn a_broken_environment_is_not_returned_to_the_pool() {
        let pool = WarmPool::new(function());
        let (environment, alive) = fake(1);
        let leased = lease(&pool, environment);
        alive.store(false, Ordering::Relaxed);
        pool.release(leased);
        assert_eq!(pool.counts(), PoolCounts { idle: 0, busy: 0, provisioned: 0 });
    }

    #[test]
    fn provisioned_environments_serve_first_and_are_never_reaped() {
        let pool = WarmPool::new(function());
        let (on_demand, _) = fake(1);
        let leased = lease(&pool, on_demand);
        pool.release(leased);
        let (provisioned, _) = fake(2);
        pool.add_provisioned(provisioned);
        let taken = pool.take_idle().unwrap();
        assert!(taken.provisioned);
        assert_eq!(taken.environment.id, 2);
        pool.release(taken);
        assert_eq!(pool.reap(Duration::ZERO), 1, "only the on-demand environment is reaped");
        assert_eq!(pool.counts(), PoolCounts { idle: 1, busy: 0, provisioned: 1 });
    }

    #[test]
    fn a_dead_provisioned_environment_leaves_a_gap_to_refill() {
        let pool = WarmPool::new(function());
        let (provisioned, alive) = fake(1);
        pool.add_provisioned(provisioned);
        let taken = pool.take_idle().unwrap();
        alive.store(false, Ordering::Relaxed);
        pool.release(taken);
        assert_eq!(pool.provisioned_alive(), 0);
    }

    #[test]
    fn reaps_only_environments_idle_longer_than_the_timeout() {
        let pool = WarmPool::new(function());
        let (mut old, _) = fake(1);
        old.last_used = Instant::now() - Duration::from_secs(120);
        let (fresh, _) = fake(2);
        for environment in [old, fresh] {
            let leased = lease(&pool, environment);
            pool.release(leased);
        }
        assert_eq!(pool.reap(Duration::from_secs(60)), 1);
        assert_eq!(pool.take_idle().unwrap().environment.id, 2);
    }

    #[test]
    fn trimming_provisioned_stops_the_surplus() {
        let pool = WarmPool::new(function());
        for id in 0..3 {
            pool.add_provisioned(fake(id).0);
        }
        pool.trim_provisioned(1);
        assert_eq!(pool.provisioned_alive(), 1);
        assert_eq!(pool.counts().idle, 1);
    }
}
