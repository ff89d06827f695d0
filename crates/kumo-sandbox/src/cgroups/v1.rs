//! cgroup v1: one hierarchy per controller, so an environment has one directory in each of the
//! memory, pids and cpu hierarchies (`<hierarchy>/kumo/<instance>/<environment>`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::{
    io_error, keyed_value, remove_cgroup_dir, remove_stale_instances, CgroupError, CgroupFs, CgroupManager,
    CgroupVersion, Controller, CpuQuota, Detection, EnvironmentCgroup, Limits,
};

/// The v1 manager.
#[derive(Debug)]
pub struct V1 {
    fs: Arc<dyn CgroupFs>,
    instance: String,
    /// Controller → its `kumo` directory.
    kumo_dirs: BTreeMap<Controller, PathBuf>,
}

impl V1 {
    /// Creates `kumo/<instance>` in each hierarchy; a controller whose directory cannot be made
    /// (no permission) is reported missing.
    pub fn setup(fs: Arc<dyn CgroupFs>, kumo_dirs: BTreeMap<Controller, PathBuf>, instance: &str) -> Detection {
        let mut usable = BTreeMap::new();
        let mut missing = Vec::new();
        for (controller, kumo_dir) in kumo_dirs {
            let instance_dir = kumo_dir.join(instance);
            match fs.create_dir_all(&instance_dir) {
                Ok(()) => {
                    usable.insert(controller, kumo_dir);
                }
                Err(error) => missing.push((controller, format!("cannot create {}: {error}", instance_dir.display()))),
            }
        }
        let manager = (!usable.is_empty())
            .then(|| Arc::new(V1 { fs, instance: instance.to_string(), kumo_dirs: usable }) as Arc<dyn CgroupManager>);
        Detection { manager, missing }
    }

    fn instance_dir(&self, controller: Controller) -> Option<PathBuf> {
        self.kumo_dirs.get(&controller).map(|dir| dir.join(&self.instance))
    }
}

impl CgroupManager for V1 {
    fn version(&self) -> CgroupVersion {
        CgroupVersion::V1
    }

    fn controllers(&self) -> Vec<Controller> {
        self.kumo_dirs.keys().copied().collect()
    }

    fn create(&self, name: &str, limits: &Limits) -> Result<Arc<dyn EnvironmentCgroup>, CgroupError> {
        let mut cgroup = V1Cgroup { fs: Arc::clone(&self.fs), dirs: BTreeMap::new() };
        for controller in self.controllers() {
            let Some(instance_dir) = self.instance_dir(controller) else { continue };
            let dir = instance_dir.join(name);
            self.fs.create_dir_all(&dir).map_err(io_error("creating", &dir))?;
            // Registered before its limits are written, so a failure below removes it again.
            cgroup.dirs.insert(controller, dir);
        }
        if let Err(error) = cgroup.write_limits(limits) {
            let _ = cgroup.remove();
            return Err(error);
        }
        Ok(Arc::new(cgroup))
    }

    fn remove_stale(&self) -> usize {
        let dirs: Vec<PathBuf> = self.kumo_dirs.values().cloned().collect();
        // Every hierarchy holds the same environments: count them in one.
        let counts: Vec<usize> = dirs
            .iter()
            .map(|dir| remove_stale_instances(self.fs.as_ref(), std::slice::from_ref(dir), &self.instance))
            .collect();
        counts.into_iter().max().unwrap_or(0)
    }

    fn remove_instance(&self) {
        for controller in self.controllers() {
            if let Some(dir) = self.instance_dir(controller) {
                let _ = self.fs.remove_dir(&dir);
            }
        }
    }
}

/// One environment's directories.
#[derive(Debug)]
struct V1Cgroup {
    fs: Arc<dyn CgroupFs>,
    dirs: BTreeMap<Controller, PathBuf>,
}

impl V1Cgroup {
    fn write(&self, controller: Controller, file: &str, value: &str) -> Result<(), CgroupError> {
        let Some(dir) = self.dirs.get(&controller) else { return Ok(()) };
        let path = dir.join(file);
        self.fs.write(&path, value).map_err(io_error("writing", &path))
    }

    fn read(&self, controller: Controller, file: &str) -> Option<String> {
        self.fs.read(&self.dirs.get(&controller)?.join(file)).ok()
    }

    fn write_limits(&self, limits: &Limits) -> Result<(), CgroupError> {
        if let Some(bytes) = limits.memory_bytes {
            self.set_memory(bytes)?;
        }
        self.write(Controller::Pids, "pids.max", &limits.pids_max.to_string())?;
        self.set_cpu(limits.cpu)
    }
}

impl EnvironmentCgroup for V1Cgroup {
    fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.values().map(|dir| dir.join("cgroup.procs")).collect()
    }

    fn set_cpu(&self, quota: CpuQuota) -> Result<(), CgroupError> {
        self.write(Controller::Cpu, "cpu.cfs_period_us", &quota.period_us.to_string())?;
        self.write(Controller::Cpu, "cpu.cfs_quota_us", &quota.quota_us.to_string())?;
        // The burst may never exceed the quota, so it is written after it (Linux 5.14+ only).
        match self.dirs.get(&Controller::Cpu) {
            Some(dir) if self.fs.exists(&dir.join("cpu.cfs_burst_us")) => {
                self.write(Controller::Cpu, "cpu.cfs_burst_us", &quota.burst_us.to_string())
            }
            _ => Ok(()),
        }
    }

    fn set_memory(&self, bytes: u64) -> Result<(), CgroupError> {
        // The memory limit first: memory+swap may never be below it, and starts unlimited.
        let memory = bytes.to_string();
        self.write(Controller::Memory, "memory.limit_in_bytes", &memory)?;
        // memory+swap gets the same limit, so swapping does not stretch MemorySize; the file
        // exists only with swap accounting.
        if let Some(dir) = self.dirs.get(&Controller::Memory) {
            if self.fs.exists(&dir.join("memory.memsw.limit_in_bytes")) {
                self.write(Controller::Memory, "memory.memsw.limit_in_bytes", &memory)?;
            }
        }
        Ok(())
    }

    fn memory_peak_bytes(&self) -> Option<u64> {
        self.read(Controller::Memory, "memory.max_usage_in_bytes")?.trim().parse().ok()
    }

    fn oom_kills(&self) -> Option<u64> {
        keyed_value(&self.read(Controller::Memory, "memory.oom_control")?, "oom_kill")
    }

    fn remove(&self) -> Result<(), CgroupError> {
        let mut result = Ok(());
        for dir in self.dirs.values() {
            if let Err(error) = remove_cgroup_dir(self.fs.as_ref(), dir) {
                result = Err(error);
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::FakeCgroupFs;

    fn manager(fs: &Arc<FakeCgroupFs>) -> Arc<dyn CgroupManager> {
        let kumo_dirs = BTreeMap::from([
            (Controller::Memory, PathBuf::from("/cg/memory/kumo")),
            (Controller::Pids, PathBuf::from("/cg/pids/kumo")),
            (Controller::Cpu, PathBuf::from("/cg/cpu/kumo")),
        ]);
        let detection = V1::setup(fs.clone(), kumo_dirs, "7");
        assert!(detection.missing.is_empty());
        detection.manager.unwrap()
    }

    #[test]
    fn creates_an_environment_with_its_limits() {
        let fs = Arc::new(FakeCgroupFs::default());
        fs.set("/cg/memory/kumo/7/env/memory.memsw.limit_in_bytes", "9223372036854771712");
        fs.set("/cg/cpu/kumo/7/env/cpu.cfs_burst_us", "0");
        let cgroup = manager(&fs).create("env", &Limits::for_function(128)).unwrap();
        assert_eq!(
            fs.writes(),
            [
                "/cg/memory/kumo/7/env/memory.limit_in_bytes = 134217728",
                "/cg/memory/kumo/7/env/memory.memsw.limit_in_bytes = 134217728",
                "/cg/pids/kumo/7/env/pids.max = 1024",
                "/cg/cpu/kumo/7/env/cpu.cfs_period_us = 100000",
                "/cg/cpu/kumo/7/env/cpu.cfs_quota_us = 100000",
                "/cg/cpu/kumo/7/env/cpu.cfs_burst_us = 0",
            ]
        );
        assert_eq!(
            cgroup.procs_files(),
            [
                PathBuf::from("/cg/memory/kumo/7/env/cgroup.procs"),
                PathBuf::from("/cg/pids/kumo/7/env/cgroup.procs"),
                PathBuf::from("/cg/cpu/kumo/7/env/cgroup.procs"),
            ]
        );
        cgroup.set_cpu(CpuQuota::proportional(128)).unwrap();
        let writes = fs.writes();
        assert_eq!(
            writes[writes.len() - 2..],
            ["/cg/cpu/kumo/7/env/cpu.cfs_quota_us = 7235", "/cg/cpu/kumo/7/env/cpu.cfs_burst_us = 7235"]
        );
    }

    #[test]
    fn reads_peak_memory_and_oom_kills() {
        let fs = Arc::new(FakeCgroupFs::default());
        let cgroup = manager(&fs).create("env", &Limits::for_function(128)).unwrap();
        fs.set("/cg/memory/kumo/7/env/memory.max_usage_in_bytes", "104857600\n");
        fs.set("/cg/memory/kumo/7/env/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
        assert_eq!(cgroup.memory_peak_bytes(), Some(100 << 20));
        assert_eq!(cgroup.oom_kills(), Some(1));
    }

    #[test]
    fn removal_kills_leftovers_and_waits_until_they_are_gone() {
        let fs = Arc::new(FakeCgroupFs::default());
        let cgroup = manager(&fs).create("env", &Limits::for_function(128)).unwrap();
        fs.set("/cg/pids/kumo/7/env/cgroup.procs", "4242\n");
        fs.add_process(4242);
        cgroup.remove().unwrap();
        assert_eq!(fs.killed(), [4242]);
        assert!(!fs.has_dir(std::path::Path::new("/cg/pids/kumo/7/env")));
        assert!(!fs.has_dir(std::path::Path::new("/cg/memory/kumo/7/env")));
    }

    #[test]
    fn a_refused_limit_removes_the_half_made_cgroup() {
        let fs = Arc::new(FakeCgroupFs::default());
        fs.refuse_writes_to("/cg/pids/kumo/7/env/pids.max");
        let error = manager(&fs).create("env", &Limits::for_function(128)).unwrap_err();
        assert!(error.to_string().contains("pids.max"), "{error}");
        assert!(!fs.has_dir(std::path::Path::new("/cg/memory/kumo/7/env")));
    }
}
