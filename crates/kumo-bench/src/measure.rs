//! Statistics over latency samples, the process-start floor, and a description of the machine
//! the figures were taken on.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// Percentiles of a set of latency samples, in microseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    /// Number of samples.
    pub count: usize,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Slowest sample.
    pub max: u64,
    /// Arithmetic mean.
    pub mean: u64,
}

impl Summary {
    /// Summarizes samples (nearest-rank percentiles); all zero when there are none.
    pub fn of(samples: &[Duration]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        let mut micros: Vec<u64> = samples.iter().map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)).collect();
        micros.sort_unstable();
        let rank = |percent: usize| micros[(micros.len() * percent).div_ceil(100).saturating_sub(1)];
        let total: u128 = micros.iter().map(|&m| u128::from(m)).sum();
        Self {
            count: micros.len(),
            p50: rank(50),
            p90: rank(90),
            p99: rank(99),
            max: micros[micros.len() - 1],
            mean: u64::try_from(total / micros.len() as u128).unwrap_or(u64::MAX),
        }
    }

    /// The summary as JSON, in milliseconds with microsecond precision.
    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "count": self.count,
            "p50_ms": ms(self.p50),
            "p90_ms": ms(self.p90),
            "p99_ms": ms(self.p99),
            "max_ms": ms(self.max),
            "mean_ms": ms(self.mean),
        })
    }
}

/// Microseconds as milliseconds.
pub fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// Finds the interpreter for `python3.<minor>` the way Kumo does: `KUMO_PYTHON3_<minor>`, then
/// the newest pyenv build `$PYENV_ROOT/versions/3.<minor>.*`, then `python3.<minor>` on `PATH`,
/// then `python3` on `PATH`. pyenv shims are skipped: they are shell scripts that start the real
/// interpreter, so timing one would inflate the floor.
pub fn find_python(minor: u32) -> Option<PathBuf> {
    let name = format!("python3.{minor}");
    if let Some(explicit) = std::env::var_os(format!("KUMO_PYTHON3_{minor}")) {
        return Some(PathBuf::from(explicit));
    }
    let pyenv_root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".pyenv")));
    if let Some(versions) = pyenv_root.map(|root| root.join("versions")) {
        let prefix = format!("3.{minor}.");
        let mut builds: Vec<PathBuf> = std::fs::read_dir(versions)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().starts_with(&prefix))
            .map(|entry| entry.path().join("bin").join(&name))
            .filter(|path| is_executable(path))
            .collect();
        builds.sort();
        if let Some(newest) = builds.pop() {
            return Some(newest);
        }
    }
    on_path(&name).or_else(|| on_path("python3"))
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".to_string());
    path.split(':')
        .filter(|dir| !dir.ends_with("/shims"))
        .map(|dir| Path::new(dir).join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Times `interpreter -c pass` from spawn to exit, `runs` times after a few untimed runs that
/// bring its files into the page cache. Blocking: call it from `spawn_blocking`.
pub fn python_start(interpreter: &Path, runs: usize) -> anyhow::Result<Vec<Duration>> {
    process_start(interpreter, &["-c", "pass"], &[], runs)
}

/// Times `program args` (with `environment` added) from spawn to exit, `runs` times after a few
/// untimed runs. Blocking.
pub fn process_start(
    program: &Path,
    args: &[&str],
    environment: &[(&str, &str)],
    runs: usize,
) -> anyhow::Result<Vec<Duration>> {
    let run = || -> anyhow::Result<Duration> {
        let start = Instant::now();
        let status = Command::new(program)
            .args(args)
            .envs(environment.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .with_context(|| format!("starting {}", program.display()))?;
        let elapsed = start.elapsed();
        anyhow::ensure!(status.success(), "{} {} failed ({status})", program.display(), args.join(" "));
        Ok(elapsed)
    };
    for _ in 0..3 {
        run()?;
    }
    (0..runs).map(|_| run()).collect()
}

/// Memory of a Kumo server and of everything below it (its execution environments, zygotes and
/// parked processes), from `/proc`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerMemory {
    /// Kumo's own resident set (kB).
    pub kumo_rss_kb: u64,
    /// Proportional set size of every process below Kumo (kB): shared pages are split among
    /// the processes sharing them, so a zygote's pages count once in all.
    pub below_pss_kb: u64,
    /// Processes below Kumo.
    pub processes: usize,
}

impl ServerMemory {
    /// Reads it for the server with pid `kumo`. Blocking.
    pub fn read(kumo: u32) -> Self {
        let status = std::fs::read_to_string(format!("/proc/{kumo}/status")).unwrap_or_default();
        let kumo_rss_kb = kilobytes_of(&status, "VmRSS:");
        let mut memory = ServerMemory { kumo_rss_kb, ..Self::default() };
        let mut parents: std::collections::HashMap<u32, Vec<u32>> = std::collections::HashMap::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else { continue };
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let parent = stat.rsplit_once(") ").and_then(|(_, rest)| rest.split(' ').nth(1)?.parse::<u32>().ok());
            if let Some(parent) = parent {
                parents.entry(parent).or_default().push(pid);
            }
        }
        let mut pending = parents.get(&kumo).cloned().unwrap_or_default();
        while let Some(pid) = pending.pop() {
            let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
            memory.below_pss_kb += kilobytes_of(&rollup, "Pss:");
            memory.processes += 1;
            pending.extend(parents.get(&pid).into_iter().flatten());
        }
        memory
    }
}

/// Clock ticks per second of `/proc`'s CPU times: `USER_HZ`, which the kernel's ABI fixes at 100
/// on every architecture Kumo runs on (x86-64, arm64), whatever its internal tick rate.
const USER_HZ: u64 = 100;

/// CPU time (user and system, every thread) the process `pid` has used so far, from
/// `/proc/<pid>/stat`; `None` once it is gone. Blocking, but one small read.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: fields are counted after its closing ')'.
    // `utime` and `stime` are fields 14 and 15, i.e. the 12th and 13th after it.
    let mut after_name = stat.rsplit_once(") ")?.1.split(' ');
    let user: u64 = after_name.nth(11)?.parse().ok()?;
    let system: u64 = after_name.next()?.parse().ok()?;
    Some(Duration::from_millis((user + system) * 1000 / USER_HZ))
}

fn kilobytes_of(text: &str, field: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The machine the figures were taken on.
#[derive(Debug, Clone)]
pub struct Machine {
    /// CPUs available to this process (what `nproc` prints).
    pub cpus: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub model: String,
    /// `uname -srm`.
    pub kernel: String,
}

impl Machine {
    /// Reads the CPU count, model and kernel; unknown parts read "unknown".
    pub fn describe() -> Self {
        let cpus = std::thread::available_parallelism().map(usize::from).unwrap_or(0);
        let model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|line| line.starts_with("model name"))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, model)| model.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".to_string());
        let kernel = Command::new("uname")
            .arg("-srm")
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
            .unwrap_or_else(|| "unknown".to_string());
        Self { cpus, model, kernel }
    }

    /// The machine as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "nproc": self.cpus, "cpu": self.model, "kernel": self.kernel })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        let summary = Summary::of(&samples);
        assert_eq!((summary.p50, summary.p90, summary.p99, summary.max), (50, 90, 99, 100));
        assert_eq!(summary.count, 100);
        let one = Summary::of(&[Duration::from_micros(7)]);
        assert_eq!((one.p50, one.p99, one.max), (7, 7, 7));
        assert_eq!(Summary::of(&[]).count, 0);
    }

    #[test]
    fn cpu_time_of_this_process_grows_with_work() {
        let pid = std::process::id();
        let before = cpu_time(pid).expect("this process has a /proc entry");
        // Spin until the reading has grown by 30 ms of CPU: on a loaded machine a fixed spell of
        // wall time may get less CPU than that. A reading that never grows fails at the deadline.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut spin = 0u64;
        let mut after = before;
        while after < before + Duration::from_millis(30) && std::time::Instant::now() < deadline {
            for _ in 0..100_000 {
                spin = std::hint::black_box(spin.wrapping_add(1));
            }
            after = cpu_time(pid).expect("still running");
        }
        assert!(after >= before + Duration::from_millis(30), "{before:?} then {after:?}");
    }
}
