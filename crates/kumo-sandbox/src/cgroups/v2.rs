//! cgroup v2: one unified hierarchy; an environment is one directory with every controller
//! (`<parent>/kumo/<instance>/<environment>`). Controllers must be enabled in `subtree_control` of
//! each ancestor, which the kernel allows only on cgroups without processes of their own (the root
//! excepted), hence the `kumo/` and instance levels.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{
    io_error, keyed_value, kill_members, remove_cgroup_dir, remove_stale_instances, CgroupError, CgroupFs,
    CgroupManager, CgroupVersion, Controller, CpuQuota, Detection, EnvironmentCgroup, Limits,
};

/// The v2 manager.
#[derive(Debug)]
pub struct V2 {
    fs: Arc<dyn CgroupFs>,
    kumo_dir: PathBuf,
    instance: String,
    controllers: Vec<Controller>,
}

impl V2 {
    /// Enables the controllers below `parent` and creates `kumo/<instance>`.
    pub fn setup(fs: Arc<dyn CgroupFs>, parent: &Path, instance: &str) -> Detection {
        let offered = fs.read(&parent.join("cgroup.controllers")).unwrap_or_default();
        let mut missing = Vec::new();
        let mut controllers = Vec::new();
        for controller in Controller::ALL {
            if offered.split_whitespace().any(|name| name == controller.name()) {
                controllers.push(controller);
            } else {
                missing.push((controller, format!("not offered in {}", parent.join("cgroup.controllers").display())));
            }
        }
        let kumo_dir = parent.join("kumo");
        let instance_dir = kumo_dir.join(instance);
        let enabled = [parent, kumo_dir.as_path(), instance_dir.as_path()].into_iter().try_fold((), |(), dir| {
            if dir != parent {
                fs.create_dir_all(dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
            }
            enable(fs.as_ref(), dir, &controllers)
        });
        if let Err(reason) = enabled {
            missing.extend(controllers.drain(..).map(|controller| (controller, reason.clone())));
        }
        missing.sort();
        let manager = (!controllers.is_empty()).then(|| {
            Arc::new(V2 { fs, kumo_dir, instance: instance.to_string(), controllers }) as Arc<dyn CgroupManager>
        });
        Detection { manager, missing }
    }

    fn instance_dir(&self) -> PathBuf {
        self.kumo_dir.join(&self.instance)
    }
}

/// Enables `controllers` for the children of `dir` (those already enabled are left alone).
fn enable(fs: &dyn CgroupFs, dir: &Path, controllers: &[Controller]) -> Result<(), String> {
    let path = dir.join("cgroup.subtree_control");
    let enabled = fs.read(&path).unwrap_or_default();
    for controller in controllers {
        if enabled.split_whitespace().any(|name| name == controller.name()) {
            continue;
        }
        fs.write(&path, &format!("+{}", controller.name())).map_err(|error| {
            let hint = if error.raw_os_error() == Some(libc::EBUSY) {
                " (the cgroup has processes of its own: run Kumo in a delegated cgroup)"
            } else {
                ""
            };
            format!("cannot enable {} in {}: {error}{hint}", controller.name(), path.display())
        })?;
    }
    Ok(())
}

impl CgroupManager for V2 {
    fn version(&self) -> CgroupVersion {
        CgroupVersion::V2
    }

    fn controllers(&self) -> Vec<Controller> {
        self.controllers.clone()
    }

    fn create(&self, name: &str, limits: &Limits) -> Result<Arc<dyn EnvironmentCgroup>, CgroupError> {
        let dir = self.instance_dir().join(name);
        self.fs.create_dir_all(&dir).map_err(io_error("creating", &dir))?;
        let cgroup = V2Cgroup { fs: Arc::clone(&self.fs), dir, controllers: self.controllers.clone() };
        if let Err(error) = cgroup.write_limits(limits) {
            let _ = cgroup.remove();
            return Err(error);
        }
        Ok(Arc::new(cgroup))
    }

    fn remove_stale(&self) -> usize {
        remove_stale_instances(self.fs.as_ref(), std::slice::from_ref(&self.kumo_dir), &self.instance)
    }

    fn remove_instance(&self) {
        let _ = self.fs.remove_dir(&self.instance_dir());
    }
}

/// One environment's directory.
#[derive(Debug)]
struct V2Cgroup {
    fs: Arc<dyn CgroupFs>,
    dir: PathBuf,
    controllers: Vec<Controller>,
}

impl V2Cgroup {
    fn has(&self, controller: Controller) -> bool {
        self.controllers.contains(&controller)
    }

    fn write(&self, file: &str, value: &str) -> Result<(), CgroupError> {
        let path = self.dir.join(file);
        self.fs.write(&path, value).map_err(io_error("writing", &path))
    }

    fn write_limits(&self, limits: &Limits) -> Result<(), CgroupError> {
        if self.has(Controller::Memory) {
            if let Some(bytes) = limits.memory_bytes {
                self.set_memory(bytes)?;
            }
            if self.fs.exists(&self.dir.join("memory.swap.max")) {
                self.write("memory.swap.max", "0")?;
            }
            // An OOM kill takes the whole environment down, as on AWS, not one random process.
            if self.fs.exists(&self.dir.join("memory.oom.group")) {
                self.write("memory.oom.group", "1")?;
            }
        }
        if self.has(Controller::Pids) {
            self.write("pids.max", &limits.pids_max.to_string())?;
        }
        if self.has(Controller::Cpu) {
            self.set_cpu(limits.cpu)?;
        }
        Ok(())
    }
}

impl EnvironmentCgroup for V2Cgroup {
    fn procs_files(&self) -> Vec<PathBuf> {
        vec![self.dir.join("cgroup.procs")]
    }

    fn set_cpu(&self, quota: CpuQuota) -> Result<(), CgroupError> {
        if !self.has(Controller::Cpu) {
            return Ok(());
        }
        self.write("cpu.max", &format!("{} {}", quota.quota_us, quota.period_us))?;
        // cpu.max.burst exists since Linux 5.14.
        if self.fs.exists(&self.dir.join("cpu.max.burst")) {
            self.write("cpu.max.burst", &quota.burst_us.to_string())?;
        }
        Ok(())
    }

    fn set_memory(&self, bytes: u64) -> Result<(), CgroupError> {
        if !self.has(Controller::Memory) {
            return Ok(());
        }
        self.write("memory.max", &bytes.to_string())
    }

    fn memory_peak_bytes(&self) -> Option<u64> {
        // memory.peak exists since Linux 5.19.
        self.fs.read(&self.dir.join("memory.peak")).ok()?.trim().parse().ok()
    }

    fn oom_kills(&self) -> Option<u64> {
        keyed_value(&self.fs.read(&self.dir.join("memory.events")).ok()?, "oom_kill")
    }

    fn remove(&self) -> Result<(), CgroupError> {
        // cgroup.kill (Linux 5.14) kills every member atomically, even one forking right now.
        let kill = self.dir.join("cgroup.kill");
        if self.fs.exists(&kill) {
            let _ = self.fs.write(&kill, "1");
        } else {
            kill_members(self.fs.as_ref(), &self.dir);
        }
        remove_cgroup_dir(self.fs.as_ref(), &self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::FakeCgroupFs;

    fn root_fs() -> Arc<FakeCgroupFs> {
        let fs = Arc::new(FakeCgroupFs::default());
        fs.set("/cg/cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
        fs.set("/cg/cgroup.subtree_control", "memory\n");
        fs
    }

    #[test]
    fn enables_controllers_down_to_the_instance() {
        let fs = root_fs();
        let detection = V2::setup(fs.clone(), Path::new("/cg"), "7");
        assert!(detection.missing.is_empty(), "{:?}", detection.missing);
        assert_eq!(
            fs.writes(),
            [
                "/cg/cgroup.subtree_control = +pids",
                "/cg/cgroup.subtree_control = +cpu",
                "/cg/kumo/cgroup.subtree_control = +memory",
                "/cg/kumo/cgroup.subtree_control = +pids",
                "/cg/kumo/cgroup.subtree_control = +cpu",
                "/cg/kumo/7/cgroup.subtree_control = +memory",
                "/cg/kumo/7/cgroup.subtree_control = +pids",
                "/cg/kumo/7/cgroup.subtree_control = +cpu",
            ]
        );
    }

    #[test]
    fn creates_an_environment_with_its_limits() {
        let fs = root_fs();
        let manager = V2::setup(fs.clone(), Path::new("/cg"), "7").manager.unwrap();
        fs.set("/cg/kumo/7/env/memory.swap.max", "max");
        fs.set("/cg/kumo/7/env/memory.oom.group", "0");
        let before = fs.writes().len();
        let cgroup = manager.create("env", &Limits::for_function(256)).unwrap();
        assert_eq!(
            fs.writes()[before..],
            [
                "/cg/kumo/7/env/memory.max = 268435456",
                "/cg/kumo/7/env/memory.swap.max = 0",
                "/cg/kumo/7/env/memory.oom.group = 1",
                "/cg/kumo/7/env/pids.max = 1024",
                "/cg/kumo/7/env/cpu.max = 100000 100000",
            ]
        );
        assert_eq!(cgroup.procs_files(), [PathBuf::from("/cg/kumo/7/env/cgroup.procs")]);
        fs.set("/cg/kumo/7/env/memory.peak", "1048576\n");
        fs.set("/cg/kumo/7/env/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
        assert_eq!((cgroup.memory_peak_bytes(), cgroup.oom_kills()), (Some(1 << 20), Some(1)));
    }

    #[test]
    fn a_cgroup_with_processes_cannot_delegate_and_says_why() {
        let fs = Arc::new(FakeCgroupFs::default());
        fs.set("/cg/user/cgroup.controllers", "memory pids\n");
        fs.refuse_writes_to("/cg/user/cgroup.subtree_control");
        let detection = V2::setup(fs, Path::new("/cg/user"), "7");
        assert!(detection.manager.is_none());
        let missing: Vec<Controller> = detection.missing.iter().map(|(c, _)| *c).collect();
        assert_eq!(missing, [Controller::Memory, Controller::Pids, Controller::Cpu]);
        assert!(detection.missing[0].1.contains("cannot enable memory"), "{:?}", detection.missing);
    }

    #[test]
    fn removal_uses_cgroup_kill() {
        let fs = root_fs();
        let manager = V2::setup(fs.clone(), Path::new("/cg"), "7").manager.unwrap();
        let cgroup = manager.create("env", &Limits::for_function(128)).unwrap();
        fs.set("/cg/kumo/7/env/cgroup.kill", "0");
        cgroup.remove().unwrap();
        assert!(fs.writes().contains(&"/cg/kumo/7/env/cgroup.kill = 1".to_string()));
        assert!(!fs.has_dir(Path::new("/cg/kumo/7/env")));
    }
}
