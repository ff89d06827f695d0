//! Resource limits of execution environments through cgroups, v1 or v2 behind one
//! [`CgroupManager`] trait (one file per hierarchy version, as in youki's libcgroups).
//!
//! Each environment gets its own cgroup under `kumo/<instance>/` (the instance is Kumo's pid), with
//! a memory limit of `MemorySize` (swap included), a pids limit, and a CPU quota proportional to
//! memory as on AWS (1,769 MB = one vCPU). The cgroup also measures: its peak memory is `Max Memory
//! Used` in REPORT, and its OOM-kill counter tells an out-of-memory death from any other.
//!
//! As root Kumo creates `kumo/` at the top of each hierarchy it sees; unprivileged, below its own
//! cgroup (which must be delegated to its user). Cgroups of Kumo processes that no longer run
//! (after `kill -9`) are removed at start-up.

mod fs;
mod v1;
mod v2;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

#[cfg(test)]
pub use fs::FakeCgroupFs;
pub use fs::{CgroupFs, HostCgroupFs};

/// Processes (and threads) per environment: AWS allows 1,024.
pub const PIDS_MAX: u32 = 1024;
/// Memory that buys one full vCPU on AWS.
pub const MB_PER_VCPU: u64 = 1769;
/// CFS period (the kernel's default).
pub const CPU_PERIOD_US: u64 = 100_000;
/// Smallest quota the kernel accepts.
pub const CPU_QUOTA_MIN_US: u64 = 1_000;

/// Which cgroup hierarchy is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupVersion {
    /// One hierarchy per controller.
    V1,
    /// The unified hierarchy.
    V2,
}

/// The controllers Kumo uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Controller {
    /// Memory limit, peak and OOM kills.
    Memory,
    /// Process count limit.
    Pids,
    /// CPU quota.
    Cpu,
}

impl Controller {
    /// Every controller Kumo uses.
    pub const ALL: [Controller; 3] = [Controller::Memory, Controller::Pids, Controller::Cpu];

    /// The kernel's name of the controller.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpu => "cpu",
        }
    }
}

/// A CFS bandwidth limit: `quota_us` of CPU time per `period_us`, plus up to `burst_us` saved
/// from earlier periods the environment did not use up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuQuota {
    /// CPU time per period, in µs.
    pub quota_us: u64,
    /// The period, in µs.
    pub period_us: u64,
    /// Unused quota that may carry over (kernels without CFS burst ignore it).
    pub burst_us: u64,
}

impl CpuQuota {
    /// AWS's share: `memory / 1,769 MB` vCPUs, at least the kernel's minimum quota. Unused share
    /// carries over for one period, so an invocation that needs a few milliseconds of CPU after
    /// a pause runs at full speed; sustained work gets the share.
    pub fn proportional(memory_mb: u32) -> Self {
        let quota_us = (CPU_PERIOD_US * u64::from(memory_mb) / MB_PER_VCPU).max(CPU_QUOTA_MIN_US);
        Self { quota_us, period_us: CPU_PERIOD_US, burst_us: quota_us }
    }

    /// During Init: at least one full vCPU. Starting an interpreter at a 128 MB share (7 % of a
    /// CPU) would multiply cold starts by ten; AWS, too, lets Init run faster than the share.
    pub fn init(memory_mb: u32) -> Self {
        let proportional = Self::proportional(memory_mb);
        Self { quota_us: proportional.quota_us.max(CPU_PERIOD_US), period_us: CPU_PERIOD_US, burst_us: 0 }
    }
}

/// The limits of one environment's cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Memory (and memory + swap) limit in bytes; `None` leaves it unlimited until
    /// [`EnvironmentCgroup::set_memory`] (a parked launcher does not know its function yet).
    pub memory_bytes: Option<u64>,
    /// Maximum number of processes and threads.
    pub pids_max: u32,
    /// CPU bandwidth.
    pub cpu: CpuQuota,
}

impl Limits {
    /// The limits for a function of `memory_mb`, with the Init CPU allowance.
    pub fn for_function(memory_mb: u32) -> Self {
        Self { memory_bytes: Some(memory_bytes(memory_mb)), pids_max: PIDS_MAX, cpu: CpuQuota::init(memory_mb) }
    }

    /// The limits of a parked launcher's cgroup: memory is set when its function is known.
    pub fn parked() -> Self {
        Self { memory_bytes: None, pids_max: PIDS_MAX, cpu: CpuQuota::init(0) }
    }
}

/// `MemorySize` in bytes.
pub fn memory_bytes(memory_mb: u32) -> u64 {
    u64::from(memory_mb) * 1024 * 1024
}

/// A cgroup operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A cgroupfs call failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What Kumo tried.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The cgroup still has processes (they are being killed); try again shortly.
    #[error("cgroup {} still has processes", .0.display())]
    Busy(PathBuf),
}

pub(crate) fn io_error(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CgroupError {
    let path = path.to_path_buf();
    move |source| CgroupError::Io { what, path, source }
}

/// Creates the cgroups of environments and cleans up after Kumo instances.
pub trait CgroupManager: Send + Sync + std::fmt::Debug {
    /// Hierarchy version.
    fn version(&self) -> CgroupVersion;
    /// The controllers this manager enforces.
    fn controllers(&self) -> Vec<Controller>;
    /// Creates the cgroup of one environment with its limits.
    fn create(&self, name: &str, limits: &Limits) -> Result<Arc<dyn EnvironmentCgroup>, CgroupError>;
    /// Removes the cgroups of Kumo instances that no longer run; returns how many environments'.
    fn remove_stale(&self) -> usize;
    /// Removes this instance's own (empty) directories at shutdown.
    fn remove_instance(&self);
}

/// The cgroup of one environment.
pub trait EnvironmentCgroup: Send + Sync + std::fmt::Debug {
    /// The `cgroup.procs` files the launcher writes itself into.
    fn procs_files(&self) -> Vec<PathBuf>;
    /// Changes the CPU quota (after Init).
    fn set_cpu(&self, quota: CpuQuota) -> Result<(), CgroupError>;
    /// Sets the memory limit (and memory + swap), once, while the cgroup is nearly empty.
    fn set_memory(&self, bytes: u64) -> Result<(), CgroupError>;
    /// Highest memory use so far, in bytes.
    fn memory_peak_bytes(&self) -> Option<u64>;
    /// How many processes the OOM killer has killed in this cgroup.
    fn oom_kills(&self) -> Option<u64>;
    /// Kills what is left inside and removes the cgroup; [`CgroupError::Busy`] while processes
    /// are still exiting.
    fn remove(&self) -> Result<(), CgroupError>;
}

/// Reads `key N` from a flat-keyed cgroup file (`memory.events`, `memory.oom_control`).
pub(crate) fn keyed_value(content: &str, key: &str) -> Option<u64> {
    content.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Kills every process listed in `dir/cgroup.procs`.
pub(crate) fn kill_members(fs: &dyn CgroupFs, dir: &Path) {
    if let Ok(pids) = fs.read(&dir.join("cgroup.procs")) {
        for pid in pids.split_whitespace().filter_map(|pid| pid.parse().ok()) {
            fs.kill(pid);
        }
    }
}

/// Removes `dir`: kills its processes, then rmdir; a missing directory counts as removed.
pub(crate) fn remove_cgroup_dir(fs: &dyn CgroupFs, dir: &Path) -> Result<(), CgroupError> {
    if !fs.exists(dir) {
        return Ok(());
    }
    kill_members(fs, dir);
    match fs.remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) if error.raw_os_error() == Some(libc::EBUSY) => Err(CgroupError::Busy(dir.to_path_buf())),
        Err(source) => Err(CgroupError::Io { what: "removing", path: dir.to_path_buf(), source }),
    }
}

/// Removes `kumo/<instance>` directories (below each of `kumo_dirs`) whose Kumo process is gone;
/// returns how many environment cgroups went with them.
pub(crate) fn remove_stale_instances(fs: &dyn CgroupFs, kumo_dirs: &[PathBuf], own_instance: &str) -> usize {
    let mut removed = 0;
    for kumo_dir in kumo_dirs {
        for instance in fs.list_dirs(kumo_dir).unwrap_or_default() {
            let owner_alive = instance.parse::<u32>().is_ok_and(|pid| fs.process_alive(pid));
            if instance == own_instance || owner_alive {
                continue;
            }
            let instance_dir = kumo_dir.join(&instance);
            for environment in fs.list_dirs(&instance_dir).unwrap_or_default() {
                let dir = instance_dir.join(environment);
                // A stale environment's processes died with their Kumo; anything left is killed.
                let deadline = Instant::now() + Duration::from_secs(2);
                while let Err(CgroupError::Busy(_)) = remove_cgroup_dir(fs, &dir) {
                    if Instant::now() > deadline {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                removed += 1;
            }
            let _ = fs.remove_dir(&instance_dir);
        }
    }
    removed
}

/// Where cgroup hierarchies are mounted, from `/proc/self/mountinfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mounts {
    /// v1: controller → (mount point, cgroup path of the mount's root).
    pub v1: BTreeMap<Controller, (PathBuf, String)>,
    /// v2: (mount point, cgroup path of the mount's root).
    pub v2: Option<(PathBuf, String)>,
}

/// Parses `/proc/self/mountinfo`.
pub fn parse_mountinfo(mountinfo: &str) -> Mounts {
    let mut mounts = Mounts::default();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        let (Some(root), Some(mount_point), Some(fstype)) = (left.get(3), left.get(4), right.first()) else {
            continue;
        };
        let mount_point = PathBuf::from(unescape_mountinfo(mount_point));
        match *fstype {
            "cgroup2" => {
                mounts.v2.get_or_insert_with(|| (mount_point, root.to_string()));
            }
            "cgroup" => {
                let options = right.get(2).copied().unwrap_or_default();
                for controller in Controller::ALL {
                    if options.split(',').any(|option| option == controller.name()) {
                        mounts.v1.entry(controller).or_insert_with(|| (mount_point.clone(), root.to_string()));
                    }
                }
            }
            _ => {}
        }
    }
    mounts
}

/// mountinfo escapes spaces and a few other bytes as `\ooo`.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'\\'
            && index + 4 <= bytes.len()
            && bytes[index + 1..index + 4].iter().all(u8::is_ascii_digit)
        {
            let octal =
                std::str::from_utf8(&bytes[index + 1..index + 4]).ok().and_then(|o| u8::from_str_radix(o, 8).ok());
            if let Some(byte) = octal {
                out.push(byte);
                index += 4;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Kumo's own cgroup paths, from `/proc/self/cgroup`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnCgroups {
    /// v1: controller → path.
    pub v1: BTreeMap<Controller, String>,
    /// v2 path.
    pub v2: Option<String>,
}

/// Parses `/proc/self/cgroup`.
pub fn parse_self_cgroup(content: &str) -> OwnCgroups {
    let mut own = OwnCgroups::default();
    for line in content.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if controllers.is_empty() {
            own.v2 = Some(path.to_string());
            continue;
        }
        for controller in Controller::ALL {
            if controllers.split(',').any(|c| c == controller.name()) {
                own.v1.insert(controller, path.to_string());
            }
        }
    }
    own
}

/// The directory below which Kumo creates `kumo/`: the top of the visible hierarchy for root,
/// Kumo's own (delegated) cgroup otherwise.
fn parent_dir(mount_point: &Path, mount_root: &str, own_path: Option<&str>, privileged: bool) -> PathBuf {
    if privileged {
        return mount_point.to_path_buf();
    }
    let own = own_path.unwrap_or("/");
    let relative = own.strip_prefix(mount_root).unwrap_or(own).trim_start_matches('/');
    mount_point.join(relative)
}

/// The outcome of looking for usable cgroups.
#[derive(Debug)]
pub struct Detection {
    /// The manager, when at least one controller works.
    pub manager: Option<Arc<dyn CgroupManager>>,
    /// Controllers that cannot be used, each with the reason.
    pub missing: Vec<(Controller, String)>,
}

/// Finds the cgroup hierarchy, sets up `kumo/<instance>` and reports what is missing.
pub fn detect(
    fs: Arc<dyn CgroupFs>,
    mountinfo: &str,
    self_cgroup: &str,
    privileged: bool,
    instance: &str,
) -> Detection {
    let mounts = parse_mountinfo(mountinfo);
    let own = parse_self_cgroup(self_cgroup);
    // v2 is used when its hierarchy actually offers the memory controller; an empty v2 mount
    // beside v1 controllers (this is common) is ignored.
    if let Some((mount_point, root)) = &mounts.v2 {
        let parent = parent_dir(mount_point, root, own.v2.as_deref(), privileged);
        let offered = fs.read(&parent.join("cgroup.controllers")).unwrap_or_default();
        if offered.split_whitespace().any(|c| c == "memory") || mounts.v1.is_empty() {
            return v2::V2::setup(fs, &parent, instance);
        }
    }
    let mut bases = BTreeMap::new();
    let mut missing = Vec::new();
    for controller in Controller::ALL {
        match mounts.v1.get(&controller) {
            Some((mount_point, root)) => {
                let parent = parent_dir(mount_point, root, own.v1.get(&controller).map(String::as_str), privileged);
                bases.insert(controller, parent.join("kumo"));
            }
            None => missing.push((controller, "no cgroup hierarchy offers this controller".to_string())),
        }
    }
    let mut detection = v1::V1::setup(fs, bases, instance);
    detection.missing.extend(missing);
    detection.missing.sort();
    detection
}

/// Removes environment cgroups in the background: a cgroup can only go once its processes have
/// exited, which takes a moment after they were killed.
#[derive(Debug)]
pub struct Reaper {
    sender: Mutex<Option<mpsc::Sender<Arc<dyn EnvironmentCgroup>>>>,
    pending: Arc<AtomicUsize>,
}

/// How long the reaper keeps trying to remove one cgroup.
const REMOVE_PATIENCE: Duration = Duration::from_secs(10);

impl Default for Reaper {
    fn default() -> Self {
        Self { sender: Mutex::new(None), pending: Arc::new(AtomicUsize::new(0)) }
    }
}

impl Reaper {
    /// Queues a cgroup for removal (the reaper thread starts on first use).
    pub fn remove(&self, cgroup: Arc<dyn EnvironmentCgroup>) {
        if cgroup.remove().is_ok() {
            return;
        }
        self.pending.fetch_add(1, Ordering::SeqCst);
        // The sender is only replaced under this lock; a poisoned lock still holds a valid one.
        let mut sender = self.sender.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let sender = sender.get_or_insert_with(|| {
            let (sender, receiver) = mpsc::channel();
            let pending = Arc::clone(&self.pending);
            let spawned = std::thread::Builder::new()
                .name("kumo-cgroup-reaper".to_string())
                .spawn(move || reap(receiver, pending));
            if let Err(error) = spawned {
                tracing::warn!(%error, "cannot start the cgroup reaper");
            }
            sender
        });
        if sender.send(cgroup).is_err() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Waits up to `timeout` for queued removals to finish (at shutdown).
    pub fn wait_idle(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.pending.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn reap(receiver: mpsc::Receiver<Arc<dyn EnvironmentCgroup>>, pending: Arc<AtomicUsize>) {
    let mut waiting: Vec<(Arc<dyn EnvironmentCgroup>, Instant)> = Vec::new();
    loop {
        let received = if waiting.is_empty() {
            match receiver.recv() {
                Ok(cgroup) => Some(cgroup),
                Err(_) => return,
            }
        } else {
            receiver.recv_timeout(Duration::from_millis(10)).ok()
        };
        if let Some(cgroup) = received {
            waiting.push((cgroup, Instant::now()));
        }
        waiting.retain(|(cgroup, since)| {
            let keep = match cgroup.remove() {
                Ok(()) => false,
                Err(CgroupError::Busy(_)) if since.elapsed() < REMOVE_PATIENCE => true,
                Err(error) => {
                    tracing::warn!(%error, "cannot remove an environment's cgroup");
                    false
                }
            };
            if !keep {
                pending.fetch_sub(1, Ordering::SeqCst);
            }
            keep
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO_V1: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const SELF_CGROUP_V1: &str = "9:name=systemd:/\n8:pids:/\n4:memory:/session/abc\n1:cpu:/\n0::/\n";

    #[test]
    fn parses_v1_mounts_and_own_paths() {
        let mounts = parse_mountinfo(MOUNTINFO_V1);
        assert_eq!(mounts.v1[&Controller::Memory], (PathBuf::from("/sys/fs/cgroup/memory"), "/".to_string()));
        assert_eq!(mounts.v1[&Controller::Cpu].0, PathBuf::from("/sys/fs/cgroup/cpu"));
        assert_eq!(mounts.v2, Some((PathBuf::from("/sys/fs/cgroup/unified"), "/".to_string())));
        let own = parse_self_cgroup(SELF_CGROUP_V1);
        assert_eq!(own.v1[&Controller::Memory], "/session/abc");
        assert_eq!(own.v2.as_deref(), Some("/"));
    }

    #[test]
    fn parses_combined_controllers_and_escaped_paths() {
        let mountinfo = "30 20 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
                         31 20 0:27 / /mnt/my\\040cgroups rw - cgroup2 cgroup2 rw\n";
        let mounts = parse_mountinfo(mountinfo);
        assert_eq!(mounts.v1[&Controller::Cpu].0, PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(mounts.v2.unwrap().0, PathBuf::from("/mnt/my cgroups"));
        let own = parse_self_cgroup("4:cpu,cpuacct:/a\n");
        assert_eq!(own.v1[&Controller::Cpu], "/a");
    }

    #[test]
    fn cpu_is_proportional_to_memory_with_a_floor_and_an_init_allowance() {
        assert_eq!(CpuQuota::proportional(1769).quota_us, CPU_PERIOD_US);
        assert_eq!(CpuQuota::proportional(3538).quota_us, 2 * CPU_PERIOD_US);
        assert_eq!(CpuQuota::proportional(128).quota_us, CPU_PERIOD_US * 128 / 1769);
        assert_eq!(CpuQuota::proportional(8).quota_us, CPU_QUOTA_MIN_US);
        assert_eq!(CpuQuota::init(128).quota_us, CPU_PERIOD_US);
        assert_eq!(CpuQuota::proportional(128).burst_us, CpuQuota::proportional(128).quota_us);
        assert_eq!(CpuQuota::init(128).burst_us, 0);
        assert_eq!(CpuQuota::init(3538).quota_us, 2 * CPU_PERIOD_US);
        let limits = Limits::for_function(128);
        assert_eq!((limits.memory_bytes, limits.pids_max), (Some(128 << 20), 1024));
        assert_eq!(Limits::parked().memory_bytes, None);
    }

    #[test]
    fn root_uses_the_top_of_the_hierarchy_others_their_own_cgroup() {
        let mount = Path::new("/sys/fs/cgroup/memory");
        assert_eq!(parent_dir(mount, "/", Some("/session/abc"), true), PathBuf::from("/sys/fs/cgroup/memory"));
        assert_eq!(
            parent_dir(mount, "/", Some("/session/abc"), false),
            PathBuf::from("/sys/fs/cgroup/memory/session/abc")
        );
        assert_eq!(parent_dir(mount, "/session", Some("/session/abc"), false), mount.join("abc"));
    }

    #[test]
    fn reads_keyed_values() {
        let oom_control = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        assert_eq!(keyed_value(oom_control, "oom_kill"), Some(2));
        assert_eq!(keyed_value(oom_control, "oom"), None);
    }

    #[test]
    fn detects_v1_when_the_v2_mount_is_empty() {
        let fs = Arc::new(FakeCgroupFs::default());
        fs.set("/sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n");
        let detection = detect(fs.clone(), MOUNTINFO_V1, SELF_CGROUP_V1, true, "42");
        let manager = detection.manager.unwrap();
        assert_eq!(manager.version(), CgroupVersion::V1);
        assert_eq!(manager.controllers(), Controller::ALL.to_vec());
        assert!(detection.missing.is_empty());
        assert!(fs.has_dir(Path::new("/sys/fs/cgroup/memory/kumo/42")));
    }

    #[test]
    fn reports_controllers_that_are_not_mounted() {
        let fs = Arc::new(FakeCgroupFs::default());
        let mountinfo = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let detection = detect(fs, mountinfo, "4:memory:/\n", true, "42");
        let missing: Vec<Controller> = detection.missing.iter().map(|(c, _)| *c).collect();
        assert_eq!(missing, [Controller::Pids, Controller::Cpu]);
        assert_eq!(detection.manager.unwrap().controllers(), [Controller::Memory]);
    }

    #[test]
    fn detects_v2_when_it_offers_memory() {
        let fs = Arc::new(FakeCgroupFs::default());
        fs.set("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n");
        fs.set("/sys/fs/cgroup/cgroup.subtree_control", "");
        let mountinfo = "30 20 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let detection = detect(fs, mountinfo, "0::/\n", true, "42");
        let manager = detection.manager.unwrap();
        assert_eq!(manager.version(), CgroupVersion::V2);
        assert_eq!(manager.controllers(), Controller::ALL.to_vec());
    }

    #[test]
    fn stale_instances_are_removed_live_ones_kept() {
        let fs = FakeCgroupFs::default();
        let kumo = PathBuf::from("/cg/pids/kumo");
        fs.add_dir(kumo.join("100/env-a"));
        fs.set(kumo.join("100/env-a/cgroup.procs"), "");
        fs.add_dir(kumo.join("100"));
        fs.add_dir(kumo.join("200/env-b"));
        fs.add_dir(kumo.join("200"));
        fs.add_dir(kumo.clone());
        fs.add_process(200);
        assert_eq!(remove_stale_instances(&fs, std::slice::from_ref(&kumo), "300"), 1);
        assert!(!fs.has_dir(&kumo.join("100")));
        assert!(fs.has_dir(&kumo.join("200/env-b")));
    }

    #[derive(Debug)]
    struct Flaky {
        attempts: AtomicUsize,
        succeed_after: usize,
    }

    impl EnvironmentCgroup for Flaky {
        fn procs_files(&self) -> Vec<PathBuf> {
            Vec::new()
        }
        fn set_cpu(&self, _quota: CpuQuota) -> Result<(), CgroupError> {
            Ok(())
        }
        fn set_memory(&self, _bytes: u64) -> Result<(), CgroupError> {
            Ok(())
        }
        fn memory_peak_bytes(&self) -> Option<u64> {
            None
        }
        fn oom_kills(&self) -> Option<u64> {
            None
        }
        fn remove(&self) -> Result<(), CgroupError> {
            if self.attempts.fetch_add(1, Ordering::SeqCst) + 1 >= self.succeed_after {
                Ok(())
            } else {
                Err(CgroupError::Busy(PathBuf::from("/x")))
            }
        }
    }

    #[test]
    fn the_reaper_retries_busy_cgroups() {
        let reaper = Reaper::default();
        let flaky = Arc::new(Flaky { attempts: AtomicUsize::new(0), succeed_after: 3 });
        reaper.remove(flaky.clone());
        reaper.wait_idle(Duration::from_secs(5));
        assert_eq!(flaky.attempts.load(Ordering::SeqCst), 3);
        assert_eq!(reaper.pending.load(Ordering::SeqCst), 0);
    }
}
