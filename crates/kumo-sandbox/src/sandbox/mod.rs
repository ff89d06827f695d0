//! The host's sandbox: which protections this machine can give execution environments, found
//! once at start-up by a self-test of the real launcher, and the settings every environment is
//! started with.
//!
//! Where the host lacks a mechanism (no cgroup controller, no user namespaces, not root), Kumo
//! starts environments with what remains and says exactly what is missing, in the health report
//! and in a start-up warning; it never silently runs with less. `KUMO_SANDBOX=off` turns the
//! sandbox off for debugging, and the report says so loudly.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

mod networking;
mod prestart;
mod report;
mod zygotes;

use prestart::Prestarted;
pub use prestart::PrestartedStatus;
use report::{all_protections, build_report};
pub use report::{Protection, SandboxReport};
use zygotes::{zygote_support, ZygoteSlot, ZygoteSupport};
pub use zygotes::{ZygoteStatus, ZYGOTE_ENV};

use crate::cgroups::{self, CgroupManager, Controller, CpuQuota, EnvironmentCgroup, Limits, Reaper};
use crate::config::{
    Handover, Identity, LaunchConfig, NamespaceConfig, Prelude, ResourceLimit, SetupFailure, UserMapping,
};
use crate::logs::{output_pipe, OutputPipe};
use crate::mounts::{self, EnvironmentMounts, RootLayout};
use crate::network::{NamespaceListeners, Network};
use crate::parking::{EnvProcess, ParkedLauncher, ParkedPool, ParkingContext, Source};
use crate::process::StatusReader;
use crate::rootfs::{self, ExposedProgram, SANDBOX_GID, SANDBOX_UID};
use crate::runtimes::LaunchPlan;
use crate::{network, process, rlimits, seccomp};

/// Environment variable that turns the sandbox off (`KUMO_SANDBOX=off`), for debugging only.
pub const SANDBOX_ENV: &str = "KUMO_SANDBOX";

/// The settings the launcher applies, as far as this host allows.
#[derive(Debug, Clone)]
struct Features {
    namespaces: Option<NamespaceConfig>,
    layout: Option<RootLayout>,
    identity: Option<Identity>,
    no_new_privs: bool,
    seccomp: bool,
    rlimits: Vec<ResourceLimit>,
    /// A network namespace per environment.
    network: bool,
}

/// The sandbox of this host.
#[derive(Debug)]
pub struct Sandbox {
    /// `None` when the sandbox is off: runtimes start as plain child processes.
    features: Option<Features>,
    cgroups: Option<Arc<dyn CgroupManager>>,
    reaper: Arc<Reaper>,
    launcher: PathBuf,
    report: SandboxReport,
    /// Launchers started ahead of demand, waiting in their cgroups for a configuration.
    launchers: Arc<ParkedPool>,
    /// Environments between launch and the end of Init.
    starting: Arc<AtomicUsize>,
    /// What zygotes need, or why this host's sandbox cannot use them.
    zygote_support: Result<ZygoteSupport, String>,
    /// Zygotes by interpreter, started on first use.
    zygotes: Mutex<HashMap<PathBuf, ZygoteSlot>>,
    /// Runtimes started ahead for interpreters that cannot fork (Node.js), by pool.
    prestarted: Prestarted,
    /// Environments' network namespaces, when this host gives them one.
    network: Option<Arc<Network>>,
}

/// A pool of parked processes in `/_kumo/status`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ParkedStatus {
    /// Processes waiting for an environment.
    pub parked: usize,
    /// How many the pool keeps (never more).
    pub target: usize,
}

/// What a cold start takes its process from, besides a plain launcher.
enum Template {
    /// A zygote's parked child.
    Zygote(Arc<ParkedPool>),
    /// A pre-started runtime.
    Prestarted(Arc<ParkedPool>),
}

impl Template {
    fn pool(&self) -> &Arc<ParkedPool> {
        match self {
            Template::Zygote(pool) | Template::Prestarted(pool) => pool,
        }
    }
}

/// Counts an environment as starting until dropped.
pub(crate) struct Starting(Arc<AtomicUsize>);

impl Drop for Starting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A started environment process, as [`Sandbox::launch`] hands it to the environment.
pub(crate) struct Launched {
    /// The environment's first process.
    pub process: EnvProcess,
    /// Its output.
    pub output: OutputPipe,
    /// The launcher's status pipe.
    pub status: Option<StatusReader>,
    /// The environment's cgroup.
    pub cgroup: Option<Arc<dyn EnvironmentCgroup>>,
    /// The zygote's pool the process came from, if it did.
    pub zygote: Option<Arc<ParkedPool>>,
    /// The listeners of the environment's network namespace, if it has one.
    pub network: Option<NamespaceListeners>,
}

impl Sandbox {
    /// No sandbox at all: runtimes run as plain child processes of Kumo. For `KUMO_SANDBOX=off`
    /// and for tests of the plain process machinery.
    pub fn off(note: &str) -> Self {
        let all = all_protections(false);
        let reasons = all.iter().map(|p| (p.name(), note.to_string())).collect();
        Self {
            features: None,
            cgroups: None,
            reaper: Arc::new(Reaper::default()),
            launcher: PathBuf::new(),
            launchers: Arc::new(ParkedPool::new(Source::Launcher(PathBuf::new()), 0)),
            starting: Arc::new(AtomicUsize::new(0)),
            zygote_support: Err(note.to_string()),
            zygotes: Mutex::new(HashMap::new()),
            prestarted: Prestarted::default(),
            network: None,
            report: SandboxReport {
                isolation: "off",
                active: Vec::new(),
                missing: all.iter().map(|p| p.name()).collect(),
                reasons,
                cgroup: None,
                user: None,
                network: "host",
                network_tool: None,
                note: Some(note.to_string()),
            },
        }
    }

    /// Finds out what this host allows, prepares the shared parts of the root under `state_dir`,
    /// removes cgroups left by Kumo processes killed earlier, and self-tests the launcher. Reads
    /// `KUMO_SANDBOX`. Blocking (a few milliseconds; once, at start-up).
    pub fn probe(state_dir: &Path) -> Self {
        if std::env::var(SANDBOX_ENV).is_ok_and(|value| value.eq_ignore_ascii_case("off")) {
            return Self::off(
                "KUMO_SANDBOX=off: execution environments run as plain child processes of Kumo, \
                 with Kumo's privileges and a full view of the host; for debugging only",
            );
        }
        let launcher = PathBuf::from("/proc/self/exe");
        let privileged = is_root();
        let mut reasons: BTreeMap<Protection, String> = BTreeMap::new();

        let instance = std::process::id().to_string();
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let self_cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let detection =
            cgroups::detect(Arc::new(cgroups::HostCgroupFs), &mountinfo, &self_cgroup, privileged, &instance);
        for (controller, reason) in detection.missing {
            reasons.insert(Protection::of_controller(controller), reason);
        }
        let mut cgroups = detection.manager;
        if let Some(manager) = &cgroups {
            let removed = manager.remove_stale();
            if removed > 0 {
                tracing::info!(removed, "removed the cgroups of environments of a Kumo that no longer runs");
            }
        }

        let layout = match rootfs::prepare(state_dir) {
            Ok(layout) => Some(layout),
            Err(error) => {
                reasons.insert(Protection::Filesystem, format!("cannot prepare {}: {error}", state_dir.display()));
                None
            }
        };
        let user = (!privileged).then(|| UserMapping {
            inside_uid: SANDBOX_UID,
            outside_uid: current_uid(),
            inside_gid: SANDBOX_GID,
            outside_gid: current_gid(),
        });
        let pids_cgroup = cgroups.as_ref().is_some_and(|m| m.controllers().contains(&Controller::Pids));
        let mut features = Features {
            namespaces: Some(NamespaceConfig { hostname: "localhost".to_string(), user, mount_only: false }),
            layout,
            identity: Some(Identity { uid: SANDBOX_UID, gid: SANDBOX_GID }),
            no_new_privs: true,
            seccomp: true,
            rlimits: rlimits::for_environment(pids_cgroup),
            network: privileged,
        };
        if !privileged {
            // setns into a namespace Kumo made takes CAP_SYS_ADMIN over it, which a launcher in a
            // user namespace of its own does not have.
            reasons.insert(
                Protection::NetworkNamespace,
                "needs Kumo to run as root: environments share the host's network and their Runtime \
                 APIs are ports on its loopback"
                    .to_string(),
            );
        }
        if features.layout.is_none() {
            drop_root(&mut features, &mut reasons);
        }
        let probe_dir = state_dir.join("probe");
        let _ = std::fs::create_dir_all(&probe_dir);

        // Self-test: run the launcher with everything; drop what fails and try again.
        for _ in 0..8 {
            let cgroup = match &cgroups {
                Some(manager) => match manager.create("probe", &Limits::for_function(128)) {
                    Ok(cgroup) => Some(cgroup),
                    Err(error) => {
                        for controller in manager.controllers() {
                            reasons.insert(Protection::of_controller(controller), error.to_string());
                        }
                        cgroups = None;
                        continue;
                    }
                },
                None => None,
            };
            let mut config = launch_config(&features, &probe_plan(), &BTreeMap::new(), &probe_dir, 16);
            config.probe = true;
            let namespace = match features.network.then(|| network::prepare(None)) {
                Some(Ok((namespace, _listeners))) => Some(namespace),
                Some(Err(error)) => {
                    reasons.insert(Protection::NetworkNamespace, format!("cannot make a network namespace: {error}"));
                    features.network = false;
                    None
                }
                None => None,
            };
            let prelude = Prelude {
                cgroup_procs: cgroup.as_ref().map(|c| c.procs_files()).unwrap_or_default(),
                network_namespace: namespace.is_some(),
            };
            let outcome = process::run_probe(&launcher, &prelude, &config, namespace.as_ref());
            if let Some(cgroup) = cgroup {
                let reaper = Reaper::default();
                reaper.remove(cgroup);
                reaper.wait_idle(Duration::from_secs(2));
            }
            let Err(failure) = outcome else { break };
            if !degrade(&mut features, &mut cgroups, &mut reasons, &failure, privileged) {
                tracing::error!(step = %failure.step, message = %failure.message, "the sandbox launcher does not work");
                return Self::off(&format!(
                    "the sandbox launcher failed ({}: {}); execution environments run without isolation",
                    failure.step, failure.message
                ));
            }
        }
        if features.identity.is_none() {
            reasons.entry(Protection::UnprivilegedUser).or_insert_with(|| "no way to switch users".to_string());
        }
        let report = build_report(&features, cgroups.as_deref(), reasons, privileged);
        let zygote_support = zygote_support(&features, privileged, state_dir);
        if let Err(reason) = &zygote_support {
            tracing::info!(%reason, "no zygotes: every cold start starts its interpreter");
        }
        let network = features.network.then(|| Arc::new(Network::default()));
        Self {
            network,
            features: Some(features),
            cgroups,
            reaper: Arc::new(Reaper::default()),
            launchers: Arc::new(ParkedPool::new(Source::Launcher(launcher.clone()), 0)),
            launcher,
            report,
            starting: Arc::new(AtomicUsize::new(0)),
            zygote_support,
            zygotes: Mutex::new(HashMap::new()),
            prestarted: Prestarted::default(),
        }
    }

    /// Keeps `count` launchers parked (exec'd, in fresh cgroups, waiting for a configuration), so
    /// that a cold start skips those steps. They are started in the background, now and as they
    /// are used; call within a tokio runtime.
    pub fn keep_parked_launchers(self: &Arc<Self>, count: usize) {
        if self.features.is_none() {
            return;
        }
        self.launchers.set_target(count);
        self.launchers.refill(&self.parking());
    }

    /// The parked launchers, for `/_kumo/status`: how many wait, and how many are kept.
    pub fn parked_launchers(&self) -> ParkedStatus {
        ParkedStatus { parked: self.launchers.len(), target: self.launchers.target() }
    }

    fn parking(&self) -> ParkingContext {
        ParkingContext {
            cgroups: self.cgroups.clone(),
            reaper: Arc::clone(&self.reaper),
            starting: Arc::clone(&self.starting),
            network: self.network.clone(),
        }
    }

    /// Counts an environment as starting (launch to end of Init) while the guard lives.
    pub(crate) fn starting(&self) -> Starting {
        self.starting.fetch_add(1, Ordering::Relaxed);
        Starting(Arc::clone(&self.starting))
    }

    /// Starts the process of one environment: a parked launcher (or a new one) given its
    /// configuration, or with the sandbox off, the runtime itself.
    pub(crate) fn launch(
        self: &Arc<Self>,
        plan: &LaunchPlan,
        environment: &BTreeMap<String, String>,
        code_dir: &Path,
        memory_mb: u32,
        ephemeral_mb: u32,
    ) -> Result<Launched, String> {
        match self.launch_once(plan, environment, code_dir, memory_mb, ephemeral_mb) {
            // A parked process that died after it was taken (killed from outside) closed its
            // configuration pipe: take another.
            Err((error, true)) => {
                tracing::warn!(%error, "a parked environment process was gone; taking another");
                self.launch_once(plan, environment, code_dir, memory_mb, ephemeral_mb).map_err(|(error, _)| error)
            }
            result => result.map_err(|(error, _)| error),
        }
    }

    /// One attempt of [`Sandbox::launch`]; a failure says whether the parked process was gone.
    fn launch_once(
        self: &Arc<Self>,
        plan: &LaunchPlan,
        environment: &BTreeMap<String, String>,
        code_dir: &Path,
        memory_mb: u32,
        ephemeral_mb: u32,
    ) -> Result<Launched, (String, bool)> {
        let Some(features) = &self.features else {
            let (output, child_output) =
                output_pipe().map_err(|e| (format!("cannot create the output pipe: {e}"), false))?;
            let child = process::spawn_direct(plan, code_dir, environment, child_output)
                .map_err(|e| (format!("cannot start {}: {e}", plan.program.display()), false))?;
            return Ok(Launched {
                process: EnvProcess::Child(child),
                output,
                status: None,
                cgroup: None,
                zygote: None,
                network: None,
            });
        };
        let zygote = self.zygote_for(plan, environment);
        let seen = self.seen_by_templates(code_dir, plan.mounts.layers_dir.as_deref());
        let template = match (zygote, seen) {
            (Some(pool), Some(seen)) => Some((Template::Zygote(pool), seen)),
            (None, Some(seen)) => self.prestarted_for(plan, environment).map(|pool| (Template::Prestarted(pool), seen)),
            (_, None) => None,
        };
        let (parked, template) = match template {
            Some((template, seen)) => match template.pool().take(&self.parking()) {
                Ok(parked) => {
                    template.pool().refill(&self.parking());
                    (parked, Some((template, seen)))
                }
                Err(error) => {
                    tracing::warn!(%error, "starting the environment the exec way");
                    (self.take_launcher().map_err(|error| (error, false))?, None)
                }
            },
            None => (self.take_launcher().map_err(|error| (error, false))?, None),
        };
        let mut gone = false;
        let ParkedLauncher { process, writer, status, output, cgroup, network } = parked;
        let configured = (|| {
            if let Some(cgroup) = &cgroup {
                cgroup.set_memory(cgroups::memory_bytes(memory_mb)).map_err(|e| e.to_string())?;
                if u64::from(memory_mb) > cgroups::MB_PER_VCPU {
                    cgroup.set_cpu(CpuQuota::init(memory_mb)).map_err(|e| e.to_string())?;
                }
            }
            let sent = match &template {
                Some((Template::Prestarted(_), (code, layers))) => writer.hand_over(&Handover {
                    mounts: mounts::handover_plan(code, layers.as_deref(), ephemeral_mb),
                    environment: environment.iter().map(|(key, value)| (key.clone(), value.clone())).collect(),
                }),
                Some((Template::Zygote(_), (code, layers))) => {
                    let mut config = launch_config(features, plan, environment, code_dir, ephemeral_mb);
                    config.mounts = Some(mounts::zygote_child_plan(code, layers.as_deref(), ephemeral_mb));
                    writer.send(&config)
                }
                None => writer.send(&launch_config(features, plan, environment, code_dir, ephemeral_mb)),
            };
            sent.map_err(|e| {
                gone = e.kind() == std::io::ErrorKind::BrokenPipe;
                format!("cannot configure the sandbox launcher: {e}")
            })
        })();
        if let Err(error) = configured {
            process.killer().kill();
            if let Some(cgroup) = cgroup {
                self.retire_cgroup(cgroup);
            }
            return Err((error, gone));
        }
        let zygote = match template {
            Some((Template::Zygote(pool), _)) => Some(pool),
            _ => None,
        };
        Ok(Launched { process, output, status: Some(status), cgroup, zygote, network })
    }

    /// Where a zygote's child or a pre-started runtime finds `code_dir` and `layers_dir`: below
    /// [`mounts::ZYGOTE_DATA_DIR`], the data dir being all of the host they see.
    fn seen_by_templates(&self, code_dir: &Path, layers_dir: Option<&Path>) -> Option<(PathBuf, Option<PathBuf>)> {
        let support = self.zygote_support.as_ref().ok()?;
        let seen =
            |dir: &Path| Some(Path::new(mounts::ZYGOTE_DATA_DIR).join(dir.strip_prefix(&support.data_dir).ok()?));
        let layers = match layers_dir {
            Some(dir) => Some(seen(dir)?),
            None => None,
        };
        Some((seen(code_dir)?, layers))
    }

    fn take_launcher(&self) -> Result<ParkedLauncher, String> {
        let parked = self.launchers.take(&self.parking())?;
        self.launchers.refill(&self.parking());
        Ok(parked)
    }

    /// The report for `/_kumo/health`.
    pub fn report(&self) -> &SandboxReport {
        &self.report
    }

    /// Logs what environments get, with a warning naming every missing protection.
    pub fn log_startup(&self) {
        let report = &self.report;
        if report.isolation == "off" {
            tracing::warn!(note = report.note.as_deref().unwrap_or_default(), "sandbox OFF: no isolation at all");
            return;
        }
        tracing::info!(isolation = report.isolation, active = %report.active.join(", "), "sandbox ready");
        if !report.missing.is_empty() {
            let reasons: Vec<String> =
                report.reasons.iter().map(|(name, reason)| format!("{name} ({reason})")).collect();
            tracing::warn!(missing = %reasons.join("; "), "sandbox: protections this host cannot give");
        }
    }

    /// Whether functions see the sandbox's own root (`/var/task`, `/var/runtime`) rather than
    /// the host's paths.
    pub fn isolates_filesystem(&self) -> bool {
        self.features.as_ref().is_some_and(|features| features.layout.is_some())
    }

    /// `LAMBDA_TASK_ROOT` as the function sees it.
    pub fn task_root(&self, code_dir: &Path) -> PathBuf {
        if self.isolates_filesystem() {
            PathBuf::from(mounts::TASK_ROOT)
        } else {
            code_dir.to_path_buf()
        }
    }

    /// Where the function sees its layers: `/opt` inside the sandbox's own root; without one,
    /// the merged layers' host directory (or the host's `/opt` when there are no layers).
    pub fn layers_root(&self, layers_dir: Option<&Path>) -> PathBuf {
        match layers_dir {
            Some(dir) if !self.isolates_filesystem() => dir.to_path_buf(),
            _ => PathBuf::from(mounts::LAYERS_DIR),
        }
    }

    /// Makes an interpreter reachable inside the sandbox (see [`rootfs::expose_program`]); with
    /// no filesystem isolation the host path is used as is.
    pub fn expose_program(&self, program: &Path) -> std::io::Result<ExposedProgram> {
        match self.features.as_ref().and_then(|features| features.layout.as_ref()) {
            Some(layout) => rootfs::expose_program(&layout.userland, &layout.userland.with_file_name("lang"), program),
            None => Ok(ExposedProgram { path: program.to_path_buf(), dirs: Vec::new() }),
        }
    }

    /// Removes an environment's cgroup once its processes are gone (in the background).
    pub(crate) fn retire_cgroup(&self, cgroup: Arc<dyn EnvironmentCgroup>) {
        self.reaper.remove(cgroup);
    }

    /// Waits briefly for cgroups of stopped environments to go, then removes this Kumo's own
    /// cgroup directories (at shutdown).
    pub fn shutdown(&self) {
        let parking = self.parking();
        self.launchers.drain(&parking);
        self.drain_prestarted();
        for slot in self.zygotes().values() {
            if let ZygoteSlot::Ready(pool) = slot {
                pool.drain(&parking);
                if let Some(zygote) = pool.zygote() {
                    zygote.kill();
                }
            }
        }
        self.reaper.wait_idle(Duration::from_secs(3));
        if let Some(manager) = &self.cgroups {
            manager.remove_instance();
        }
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn current_uid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

fn current_gid() -> u32 {
    // SAFETY: getegid cannot fail.
    unsafe { libc::getegid() }
}

/// The self-test's "runtime": never started (the probe stops right before exec).
fn probe_plan() -> LaunchPlan {
    LaunchPlan {
        program: PathBuf::from("/bin/true"),
        args: Vec::new(),
        environment: BTreeMap::new(),
        warning: None,
        execution_env: None,
        mounts: Default::default(),
        zygote: None,
        prestart: None,
    }
}

fn launch_config(
    features: &Features,
    plan: &LaunchPlan,
    environment: &BTreeMap<String, String>,
    code_dir: &Path,
    ephemeral_mb: u32,
) -> LaunchConfig {
    let mount_plan = features.layout.as_ref().map(|layout| {
        mounts::plan(
            layout,
            &EnvironmentMounts {
                code_dir: code_dir.to_path_buf(),
                runtime_dir: plan.mounts.runtime_dir.clone(),
                runtime_packages: plan.mounts.runtime_packages.clone(),
                interpreter_dirs: plan.mounts.interpreter_dirs.clone(),
                tmp_mb: ephemeral_mb,
                layers_dir: plan.mounts.layers_dir.clone(),
            },
        )
    });
    let working_dir = if mount_plan.is_some() { PathBuf::from(mounts::TASK_ROOT) } else { code_dir.to_path_buf() };
    sealed_config(features, plan, environment, working_dir, mount_plan)
}

/// `plan`'s program in `working_dir` with exactly `environment`, under `mounts`, sealed with
/// every protection `features` has (an environment's or a pre-started runtime's launch).
fn sealed_config(
    features: &Features,
    plan: &LaunchPlan,
    environment: &BTreeMap<String, String>,
    working_dir: PathBuf,
    mounts: Option<crate::config::MountPlan>,
) -> LaunchConfig {
    LaunchConfig {
        program: plan.program.clone(),
        args: plan.args.clone(),
        environment: environment.iter().map(|(key, value)| (key.clone(), value.clone())).collect(),
        working_dir,
        namespaces: features.namespaces.clone(),
        mounts,
        identity: features.identity,
        no_new_privs: features.no_new_privs,
        seccomp: features.seccomp,
        rlimits: features.rlimits.clone(),
        probe: false,
        template: false,
        prestart: false,
    }
}

/// Drops the feature a failed self-test step points at; false when the failure cannot be
/// attributed to one (the launcher itself does not work).
fn degrade(
    features: &mut Features,
    cgroups: &mut Option<Arc<dyn CgroupManager>>,
    reasons: &mut BTreeMap<Protection, String>,
    failure: &SetupFailure,
    privileged: bool,
) -> bool {
    let reason = format!("{}: {}", failure.step, failure.message);
    let mut note = |protections: &[Protection]| {
        for protection in protections {
            reasons.entry(*protection).or_insert_with(|| reason.clone());
        }
    };
    match failure.step.as_str() {
        "cgroups" => {
            let Some(manager) = cgroups.take() else { return false };
            let lost: Vec<Protection> = manager.controllers().into_iter().map(Protection::of_controller).collect();
            note(&lost);
            features.rlimits = rlimits::for_environment(false);
        }
        "namespaces" if features.namespaces.is_some() => {
            let mut lost = Protection::NAMESPACES.to_vec();
            lost.push(Protection::Filesystem);
            if !privileged {
                lost.push(Protection::UserNamespace);
            }
            note(&lost);
            features.namespaces = None;
            drop_root(features, reasons);
        }
        "mounts" if features.layout.is_some() => {
            note(&[Protection::Filesystem]);
            drop_root(features, reasons);
        }
        "identity" if features.identity.is_some() => {
            note(&[Protection::UnprivilegedUser]);
            features.identity = None;
        }
        "no_new_privs" if features.no_new_privs => {
            note(&[Protection::NoNewPrivs, Protection::Seccomp]);
            features.no_new_privs = false;
            features.seccomp = false;
        }
        "seccomp" if features.seccomp => {
            note(&[Protection::Seccomp]);
            features.seccomp = false;
        }
        "rlimits" if !features.rlimits.is_empty() => {
            note(&[Protection::Rlimits]);
            features.rlimits.clear();
        }
        "network" if features.network => {
            note(&[Protection::NetworkNamespace]);
            features.network = false;
        }
        _ => return false,
    }
    true
}

/// Without its own root the sandbox user could not read the host paths runtimes live in (code
/// in Kumo's data dir, interpreters under a home directory): the identity switch goes too.
fn drop_root(features: &mut Features, reasons: &mut BTreeMap<Protection, String>) {
    features.layout = None;
    if features.identity.take().is_some() {
        reasons.entry(Protection::UnprivilegedUser).or_insert_with(|| {
            "needs the sandbox's own root: the host's paths are not readable by the sandbox user".to_string()
        });
    }
}

/// The names of the syscalls the filter denies (for documentation and the report).
pub fn denied_syscalls() -> Vec<&'static str> {
    seccomp::denied_syscalls()
}

#[cfg(test)]
mod tests;
