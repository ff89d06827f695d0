//! Environment processes started ahead of demand ("parked"), and the handle Kumo keeps on an
//! environment's first process.
//!
//! Two steps of a start are slow and independent of the function: creating the process (an exec of
//! the launcher, or a zygote's fork) and moving it into its fresh cgroups, which takes a global lock
//! that stalls every fork and exec on the host for an RCU grace period. A [`ParkedPool`] keeps a few
//! processes that have done both, waiting for their configuration; a cold start takes one. Pools
//! are refilled in the background, but never while an environment is starting.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::process::Child;

use crate::cgroups::{CgroupManager, EnvironmentCgroup, Limits, Reaper};
use crate::config::{LaunchConfig, Prelude};
use crate::logs::{output_pipe, OutputPipe};
use crate::network::{NamespaceListeners, Network};
use crate::process::{self, ConfigWriter, StatusReader};
use crate::zygote::{ForkedProcess, Zygote};

/// An environment's first process.
#[derive(Debug)]
pub(crate) enum EnvProcess {
    /// Kumo's child: the launcher (or, with the sandbox off, the runtime).
    Child(Child),
    /// A zygote's child.
    Forked(ForkedProcess),
}

impl EnvProcess {
    /// Its pid (0 if it is already gone).
    pub(crate) fn pid(&self) -> u32 {
        match self {
            EnvProcess::Child(child) => child.id().unwrap_or(0),
            EnvProcess::Forked(forked) => forked.pid(),
        }
    }

    fn is_alive(&mut self) -> bool {
        match self {
            EnvProcess::Child(child) => matches!(child.try_wait(), Ok(None)),
            EnvProcess::Forked(forked) => forked.is_alive(),
        }
    }

    /// What kills the environment, kept after the process itself is handed to a waiting task.
    pub(crate) fn killer(&self) -> Killer {
        match self {
            EnvProcess::Child(child) => Killer::Group(child.id().unwrap_or(0)),
            EnvProcess::Forked(forked) => Killer::Forked(forked.clone()),
        }
    }
}

/// Kills an environment.
#[derive(Debug, Clone)]
pub(crate) enum Killer {
    /// The process group of Kumo's child (launcher, init, runtime and whatever kept the group).
    Group(u32),
    /// A zygote's child, through its pidfd: its init dies with it, and the pid namespace with init.
    Forked(ForkedProcess),
}

impl Killer {
    /// Sends SIGKILL.
    pub(crate) fn kill(&self) {
        match self {
            Killer::Group(0) => {}
            Killer::Group(pid) => process::kill_group(*pid),
            Killer::Forked(forked) => forked.kill(),
        }
    }
}

/// A process that has been started and has joined its (fresh) cgroups, waiting for its
/// environment's configuration.
pub(crate) struct ParkedLauncher {
    /// The environment's first process.
    pub process: EnvProcess,
    /// Where its configuration goes.
    pub writer: ConfigWriter,
    /// What it reports.
    pub status: StatusReader,
    /// Its output (and later the function's).
    pub output: OutputPipe,
    /// Its cgroup, already joined.
    pub cgroup: Option<Arc<dyn EnvironmentCgroup>>,
    /// The listeners of its network namespace (which it entered), when environments get one.
    pub network: Option<NamespaceListeners>,
}

impl std::fmt::Debug for ParkedLauncher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParkedLauncher").field("pid", &self.process.pid()).finish()
    }
}

/// How long after a cold start took a parked process a new one is started.
const REFILL_DELAY: Duration = Duration::from_millis(50);
/// Longest a refill waits for starting environments to finish their Init.
const REFILL_PATIENCE: Duration = Duration::from_secs(2);
/// How many failed attempts in a row a refill makes before it leaves the gap to the next cold start.
const REFILL_ATTEMPTS: u32 = 3;
/// The wait after a refill's first failed attempt, doubled after each further one.
const REFILL_BACKOFF: Duration = Duration::from_secs(1);

/// Where a pool's processes come from.
#[derive(Debug)]
pub(crate) enum Source {
    /// Exec'd launchers (`<kumo> sandbox-init`).
    Launcher(PathBuf),
    /// A zygote's children.
    Zygote(Zygote),
    /// Exec'd launchers that start their runtime at once (`<kumo>`, and the runtime's
    /// configuration without a function).
    Prestarted(PathBuf, Box<LaunchConfig>),
}

/// Parked processes of one source.
#[derive(Debug)]
pub(crate) struct ParkedPool {
    source: Source,
    parked: Mutex<Vec<ParkedLauncher>>,
    target: AtomicUsize,
    /// Processes handed out to environments.
    taken: AtomicU64,
    /// Whether a refill task runs: one per pool, so that two cold starts close together do not
    /// each count the same gap and park past the target.
    refilling: AtomicBool,
}

/// What parking needs from the sandbox: the cgroups, and the count of starting environments.
#[derive(Debug, Clone)]
pub(crate) struct ParkingContext {
    /// The host's cgroups, if any.
    pub cgroups: Option<Arc<dyn CgroupManager>>,
    /// Removes cgroups once empty.
    pub reaper: Arc<Reaper>,
    /// Environments between launch and the end of Init.
    pub starting: Arc<AtomicUsize>,
    /// Makes each parked process a network namespace, when environments get one.
    pub network: Option<Arc<Network>>,
}

impl ParkedPool {
    /// A pool that keeps `target` processes parked once [`ParkedPool::refill`] runs.
    pub(crate) fn new(source: Source, target: usize) -> Self {
        Self {
            source,
            parked: Mutex::new(Vec::new()),
            target: AtomicUsize::new(target),
            taken: AtomicU64::new(0),
            refilling: AtomicBool::new(false),
        }
    }

    /// The zygote this pool forks from, if any.
    pub(crate) fn zygote(&self) -> Option<&Zygote> {
        match &self.source {
            Source::Zygote(zygote) => Some(zygote),
            Source::Launcher(_) | Source::Prestarted(..) => None,
        }
    }

    /// Whether its source can still start processes (a zygote that died cannot).
    pub(crate) fn is_alive(&self) -> bool {
        self.zygote().is_none_or(Zygote::is_alive)
    }

    /// Sets how many to keep parked.
    pub(crate) fn set_target(&self, target: usize) {
        self.target.store(target, Ordering::Relaxed);
    }

    fn parked(&self) -> std::sync::MutexGuard<'_, Vec<ParkedLauncher>> {
        // Pushing and popping cannot panic half-way; recover the list if a panic ever poisons it.
        self.parked.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many it keeps parked.
    pub(crate) fn target(&self) -> usize {
        self.target.load(Ordering::Relaxed)
    }

    /// How many are parked now.
    pub(crate) fn len(&self) -> usize {
        self.parked().len()
    }

    /// How many processes environments have taken.
    pub(crate) fn taken(&self) -> u64 {
        self.taken.load(Ordering::Relaxed)
    }

    /// A parked process, or a new one started now.
    pub(crate) fn take(&self, context: &ParkingContext) -> Result<ParkedLauncher, String> {
        loop {
            let Some(mut parked) = self.parked().pop() else { break };
            // One that died while parked (killed from outside) is replaced.
            if parked.process.is_alive() {
                self.taken.fetch_add(1, Ordering::Relaxed);
                return Ok(parked);
            }
            if let Some(cgroup) = parked.cgroup.take() {
                context.reaper.remove(cgroup);
            }
        }
        let parked = self.park(context)?;
        self.taken.fetch_add(1, Ordering::Relaxed);
        Ok(parked)
    }

    /// Starts a process in a fresh cgroup; it waits for its configuration.
    fn park(&self, context: &ParkingContext) -> Result<ParkedLauncher, String> {
        let name = uuid::Uuid::new_v4().simple().to_string();
        // cgroupfs lives in memory: creating one is a few syscalls that never wait on a disk.
        let cgroup = match &context.cgroups {
            Some(manager) => Some(
                manager
                    .create(&name, &Limits::parked())
                    .map_err(|error| format!("cannot create the environment's cgroup: {error}"))?,
            ),
            None => None,
        };
        let procs = cgroup.as_ref().map(|c| c.procs_files()).unwrap_or_default();
        let started = output_pipe().and_then(|(output, child_output)| {
            // The namespace's descriptor goes to the process; Kumo keeps the listeners.
            let (namespace, listeners) = match &context.network {
                Some(network) => network.prepare().map(|(namespace, listeners)| (Some(namespace), Some(listeners)))?,
                None => (None, None),
            };
            let prelude = Prelude { cgroup_procs: procs.clone(), network_namespace: namespace.is_some() };
            let mut parked = match &self.source {
                Source::Launcher(launcher) => {
                    let (fds, writer, status) = process::prepare_launch(&prelude)?;
                    let child = process::spawn_launcher(launcher, fds, child_output, namespace.as_ref())?;
                    ParkedLauncher {
                        process: EnvProcess::Child(child),
                        writer,
                        status,
                        output,
                        cgroup: cgroup.clone(),
                        network: None,
                    }
                }
                Source::Prestarted(launcher, config) => {
                    let (fds, mut writer, status) = process::prepare_launch(&prelude)?;
                    let child = process::spawn_launcher(launcher, fds, child_output, namespace.as_ref())?;
                    let process = EnvProcess::Child(child);
                    if let Err(error) = writer.prestart(config) {
                        process.killer().kill();
                        return Err(error);
                    }
                    ParkedLauncher { process, writer, status, output, cgroup: cgroup.clone(), network: None }
                }
                Source::Zygote(zygote) => {
                    let (fds, writer, status) = process::launch_pipes()?;
                    let (config, status_fd) = fds.raw();
                    let namespace_fd = namespace.as_ref().map(raw);
                    let forked = zygote.fork(config, status_fd, raw(&child_output), namespace_fd)?;
                    drop((fds, child_output));
                    let mut parked = ParkedLauncher {
                        process: EnvProcess::Forked(forked.clone()),
                        writer,
                        status,
                        output,
                        cgroup: cgroup.clone(),
                        network: None,
                    };
                    // The child cannot join its cgroups itself (the zygote's root does not show
                    // them); it waits for the go-ahead before it starts the environment's other
                    // processes.
                    let joined = procs.iter().try_for_each(|procs| std::fs::write(procs, forked.pid().to_string()));
                    if let Err(error) = joined.and_then(|()| parked.writer.release()) {
                        forked.kill();
                        return Err(error);
                    }
                    parked
                }
            };
            parked.network = listeners;
            Ok(parked)
        });
        started.map_err(|error| {
            if let Some(cgroup) = cgroup {
                context.reaper.remove(cgroup);
            }
            match &self.source {
                Source::Launcher(_) | Source::Prestarted(..) => {
                    format!("cannot start the sandbox launcher: {error}")
                }
                Source::Zygote(_) => format!("cannot fork from the zygote: {error}"),
            }
        })
    }

    /// How many processes the pool lacks.
    fn missing(&self) -> usize {
        self.target.load(Ordering::Relaxed).saturating_sub(self.len())
    }

    /// Tops the parked processes up to the target, in the background; call within a tokio runtime.
    /// At most one refill runs per pool: it parks one process at a time until none is missing, so
    /// the pool never holds more than its target, however many cold starts overlap a slow refill.
    pub(crate) fn refill(self: &Arc<Self>, context: &ParkingContext) {
        if self.missing() == 0 || self.refilling.swap(true, Ordering::AcqRel) {
            return;
        }
        let pool = Arc::clone(self);
        let context = context.clone();
        tokio::spawn(async move {
            tokio::time::sleep(REFILL_DELAY).await;
            let mut failures = 0;
            loop {
                while pool.missing() > 0 {
                    // Moving a process into a cgroup takes a lock that stalls every fork and exec
                    // on the host for an RCU grace period (milliseconds): not while an
                    // environment starts.
                    let deadline = std::time::Instant::now() + REFILL_PATIENCE;
                    while context.starting.load(Ordering::Relaxed) > 0 && std::time::Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    // Parking forks, writes cgroup files and (with outbound network) waits for
                    // pasta: blocking work, off the async threads, on the one thread whose exit
                    // would not kill what it forked (see `crate::spawner`).
                    let parked = {
                        let (pool, context) = (Arc::clone(&pool), context.clone());
                        crate::spawner::run(move || pool.park(&context)).await.and_then(|parked| parked)
                    };
                    match parked {
                        Ok(parked) => {
                            failures = 0;
                            pool.keep(parked, &context);
                        }
                        // A busy host can make one attempt fail (a slow fork): try again a few
                        // times, further apart, before leaving the gap to the next cold start.
                        Err(error) if failures < REFILL_ATTEMPTS => {
                            failures += 1;
                            tracing::warn!(%error, failures, "cannot park an environment process; trying again");
                            tokio::time::sleep(REFILL_BACKOFF * 2u32.pow(failures - 1)).await;
                        }
                        Err(error) => {
                            tracing::warn!(%error, "cannot park an environment process");
                            pool.refilling.store(false, Ordering::Release);
                            return;
                        }
                    }
                }
                pool.refilling.store(false, Ordering::Release);
                // A take between the last look and the reset saw a refill running and left its
                // gap to this one: look once more.
                if pool.missing() == 0 || pool.refilling.swap(true, Ordering::AcqRel) {
                    return;
                }
            }
        });
    }

    /// Parks `parked` unless the pool is full (drained at shutdown while it was being started):
    /// then it is killed.
    fn keep(&self, mut parked: ParkedLauncher, context: &ParkingContext) {
        let mut pool = self.parked();
        if pool.len() < self.target.load(Ordering::Relaxed) {
            pool.push(parked);
            return;
        }
        drop(pool);
        parked.process.killer().kill();
        if let Some(cgroup) = parked.cgroup.take() {
            context.reaper.remove(cgroup);
        }
    }

    /// Kills every parked process (at shutdown).
    pub(crate) fn drain(&self, context: &ParkingContext) {
        self.set_target(0);
        let parked: Vec<ParkedLauncher> = self.parked().drain(..).collect();
        for mut parked in parked {
            parked.process.killer().kill();
            if let Some(cgroup) = parked.cgroup.take() {
                context.reaper.remove(cgroup);
            }
        }
    }
}

fn raw(fd: &OwnedFd) -> std::os::fd::RawFd {
    std::os::fd::AsRawFd::as_raw_fd(fd)
}
