//! The sandbox's zygotes (see `crate::zygote`): which interpreter has one, starting them on
//! first use, and whether this host can have them at all.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use super::{Features, Sandbox};
use crate::config::{LaunchConfig, NamespaceConfig};
use crate::mounts::{self, EnvironmentMounts};
use crate::parking::{ParkedPool, Source};
use crate::rootfs::LANG_DIR;
use crate::runtimes::LaunchPlan;
use crate::zygote::{self, Zygote};

/// What starting zygotes takes.
#[derive(Debug, Clone)]
pub(super) struct ZygoteSupport {
    /// `libkumo_zygote.so`.
    pub(super) library: PathBuf,
    /// Kumo's data dir (the zygote sees it; its children mount their code from it).
    pub(super) data_dir: PathBuf,
}

/// A zygote's state.
#[derive(Debug)]
pub(super) enum ZygoteSlot {
    /// Preloading; environments start the exec way meanwhile.
    Starting,
    /// Forking environments, with a few children parked.
    Ready(Arc<ParkedPool>),
    /// Could not start; environments start the exec way.
    Failed(String),
}

/// Environment variable that turns zygotes off (`KUMO_ZYGOTE=off`), for comparisons.
pub const ZYGOTE_ENV: &str = "KUMO_ZYGOTE";

/// How many children each zygote keeps parked.
const ZYGOTE_PARKED: usize = 2;

/// A zygote in `/_kumo/status`.
#[derive(Debug, Clone, Serialize)]
pub struct ZygoteStatus {
    /// The interpreter.
    pub program: String,
    /// `starting`, `ready` or `failed`.
    pub state: &'static str,
    /// Processes it forked (environments and parked children).
    pub forks: u64,
    /// Environments started from it.
    pub environments: u64,
    /// Children waiting for an environment.
    pub parked: usize,
    /// How many children it keeps parked (never more).
    pub target: usize,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Sandbox {
    pub(super) fn zygotes(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, ZygoteSlot>> {
        self.zygotes.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The ready zygote that can fork an environment of `plan` with `environment`, if any. The
    /// first request for an interpreter starts its zygote in the background.
    pub(super) fn zygote_for(
        self: &Arc<Self>,
        plan: &LaunchPlan,
        environment: &BTreeMap<String, String>,
    ) -> Option<Arc<ParkedPool>> {
        let zygote_plan = plan.zygote.as_deref()?;
        let support = self.zygote_support.as_ref().ok()?;
        let features = self.features.as_ref()?;
        let mut zygotes = self.zygotes();
        match zygotes.get(&zygote_plan.program) {
            Some(ZygoteSlot::Ready(pool)) => {
                let zygote = pool.zygote()?;
                if zygote.is_alive() {
                    return zygote.accepts(environment).then(|| Arc::clone(pool));
                }
                tracing::warn!(program = %zygote_plan.program.display(), "the zygote died; starting a new one");
                pool.drain(&self.parking());
            }
            Some(ZygoteSlot::Starting | ZygoteSlot::Failed(_)) => return None,
            None => {}
        }
        zygotes.insert(zygote_plan.program.clone(), ZygoteSlot::Starting);
        drop(zygotes);
        let startup = zygote::startup_environment(environment);
        let config = zygote_config(features, zygote_plan, &startup, support);
        let sandbox = Arc::clone(self);
        let program = zygote_plan.program.clone();
        tokio::task::spawn_blocking(move || {
            let started = config
                .ok_or_else(|| std::io::Error::other("no root layout"))
                .and_then(|config| Zygote::start(&sandbox.launcher, &config, startup));
            let slot = match started {
                Ok(zygote) => {
                    tracing::info!(program = %program.display(), "zygote ready");
                    let pool = Arc::new(ParkedPool::new(Source::Zygote(zygote), ZYGOTE_PARKED));
                    pool.refill(&sandbox.parking());
                    ZygoteSlot::Ready(pool)
                }
                Err(error) => {
                    tracing::warn!(program = %program.display(), %error, "cannot start a zygote");
                    ZygoteSlot::Failed(error.to_string())
                }
            };
            sandbox.zygotes().insert(program, slot);
        });
        None
    }

    /// The zygotes, for `/_kumo/status`.
    pub fn zygote_status(&self) -> Vec<ZygoteStatus> {
        let zygotes = self.zygotes();
        let mut status: Vec<ZygoteStatus> = zygotes
            .iter()
            .map(|(program, slot)| {
                let (state, forks, environments, parked, error) = match slot {
                    ZygoteSlot::Starting => ("starting", 0, 0, 0, None),
                    ZygoteSlot::Ready(pool) => {
                        ("ready", pool.zygote().map_or(0, Zygote::forks), pool.taken(), pool.len(), None)
                    }
                    ZygoteSlot::Failed(error) => ("failed", 0, 0, 0, Some(error.clone())),
                };
                let program = program.display().to_string();
                ZygoteStatus { program, state, forks, environments, parked, target: ZYGOTE_PARKED, error }
            })
            .collect();
        status.sort_by(|a, b| a.program.cmp(&b.program));
        status
    }

    /// Why zygotes are off on this host, if they are.
    pub fn zygotes_unavailable(&self) -> Option<&str> {
        self.zygote_support.as_ref().err().map(String::as_str)
    }
}

/// Zygotes need the sandbox's own root (their children mount code into it), must not need a
/// user namespace (a zygote's children make their namespaces as root), and need the library.
pub(super) fn zygote_support(features: &Features, privileged: bool, state_dir: &Path) -> Result<ZygoteSupport, String> {
    if std::env::var(ZYGOTE_ENV).is_ok_and(|value| value.eq_ignore_ascii_case("off")) {
        return Err(format!("{ZYGOTE_ENV}=off"));
    }
    if !privileged {
        return Err("Kumo does not run as root".to_string());
    }
    if features.layout.is_none() || features.namespaces.is_none() {
        return Err("the sandbox has no root file system of its own on this host".to_string());
    }
    let library =
        zygote::find_library().ok_or_else(|| format!("{} is not next to Kumo's executable", zygote::LIBRARY_NAME))?;
    let data_dir = state_dir.parent().ok_or("the data dir has no parent")?.to_path_buf();
    Ok(ZygoteSupport { library, data_dir })
}

/// What a template process of `plan` (a zygote, a pre-started runtime) mounts and starts with:
/// the runtime's directories without a function, and the runtime's variables with `startup`.
pub(super) fn without_function(
    plan: &LaunchPlan,
    startup: &BTreeMap<String, String>,
) -> (EnvironmentMounts, BTreeMap<String, String>) {
    let runtime = EnvironmentMounts {
        code_dir: PathBuf::new(),
        runtime_dir: plan.mounts.runtime_dir.clone(),
        runtime_packages: plan.mounts.runtime_packages.clone(),
        interpreter_dirs: plan.mounts.interpreter_dirs.clone(),
        layers_dir: None,
        tmp_mb: 0,
    };
    let mut environment = plan.environment.clone();
    environment.extend(startup.iter().map(|(key, value)| (key.clone(), value.clone())));
    (runtime, environment)
}

/// The launch of a zygote: `plan`'s program in the sandbox's root without a function.
fn zygote_config(
    features: &Features,
    plan: &LaunchPlan,
    startup: &BTreeMap<String, String>,
    support: &ZygoteSupport,
) -> Option<LaunchConfig> {
    let layout = features.layout.as_ref()?;
    let (runtime, mut environment) = without_function(plan, startup);
    environment.insert("KUMO_ZYGOTE_LIBRARY".to_string(), mounts::ZYGOTE_LIBRARY.to_string());
    // A relocated interpreter finds its shared library through `$ORIGIN`, which the dynamic loader
    // reads from `/proc/self/exe`; a zygote's root has no `/proc` (its children mount their own),
    // so the zygote is told where the library is. Its children never exec it again, and which
    // functions a zygote accepts is decided by `startup`, not by this.
    let lang_lib = Path::new(LANG_DIR).join("lib");
    if plan.mounts.interpreter_dirs.iter().any(|(_, target)| *target == lang_lib) {
        let lang_lib = lang_lib.display().to_string();
        let paths = match environment.get("LD_LIBRARY_PATH") {
            Some(paths) if !paths.is_empty() => format!("{lang_lib}:{paths}"),
            _ => lang_lib,
        };
        environment.insert("LD_LIBRARY_PATH".to_string(), paths);
    }
    Some(LaunchConfig {
        program: plan.program.clone(),
        args: plan.args.clone(),
        environment: environment.into_iter().collect(),
        working_dir: PathBuf::from("/"),
        namespaces: Some(NamespaceConfig { hostname: "localhost".to_string(), user: None, mount_only: true }),
        mounts: Some(mounts::zygote_plan(layout, &runtime, &support.data_dir, &support.library)),
        identity: None,
        no_new_privs: false,
        seccomp: false,
        rlimits: Vec::new(),
        probe: false,
        template: true,
        prestart: false,
    })
}
