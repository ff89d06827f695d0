//! Runtimes: how to start a function's runtime process for a Lambda runtime id.
//!
//! `python3.x` runs Kumo's Python bootstrap on an interpreter of that version found on the host
//! (or the nearest one, with a warning in the function's log); `nodejsNN.x` runs Kumo's Node
//! bootstrap on the host's Node; `provided*` runs the package's own `bootstrap` executable.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Kumo's Python bootstrap, shipped inside the binary.
pub const PYTHON_BOOTSTRAP: &str = include_str!("../../../runtimes/python/bootstrap.py");
/// Kumo's Node.js bootstrap, shipped inside the binary.
pub const NODE_BOOTSTRAP: &str = include_str!("../../../runtimes/node/bootstrap.js");

/// Why a runtime cannot be started.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RuntimeError {
    /// The id is not a runtime Lambda (or Kumo) knows.
    #[error("unsupported runtime {0}")]
    Unsupported(String),
    /// No interpreter for the runtime exists on this host.
    #[error("no interpreter for {0} on this host")]
    NoInterpreter(String),
    /// A `provided*` package without an executable `bootstrap`.
    #[error("missing bootstrap")]
    MissingBootstrap,
}

/// The command that starts a runtime, plus what Kumo adds to its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchPlan {
    /// Executable to run.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Runtime-specific environment (`PYTHONPATH`, `NODE_PATH`, …).
    pub environment: BTreeMap<String, String>,
    /// A line for the function's log when Kumo had to substitute an interpreter version.
    pub warning: Option<String>,
    /// `AWS_EXECUTION_ENV`, absent for custom runtimes.
    pub execution_env: Option<String>,
}

/// What a runtime id asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeFamily {
    /// `python3.minor`.
    Python { minor: u32 },
    /// `nodejsMAJOR.x`.
    Node { major: u32 },
    /// `provided`, `provided.al2`, `provided.al2023`.
    Provided,
}

/// Parses a Lambda runtime id into the family Kumo can run.
pub fn parse_runtime(runtime: &str) -> Option<RuntimeFamily> {
    if let Some(minor) = runtime.strip_prefix("python3.") {
        return minor.parse().ok().filter(|m| (8..=15).contains(m)).map(|minor| RuntimeFamily::Python { minor });
    }
    if let Some(major) = runtime.strip_prefix("nodejs").and_then(|r| r.strip_suffix(".x")) {
        return major.parse().ok().filter(|m| (16..=26).contains(m)).map(|major| RuntimeFamily::Node { major });
    }
    matches!(runtime, "provided" | "provided.al2" | "provided.al2023").then_some(RuntimeFamily::Provided)
}

/// Finds interpreters on the host and knows where the bootstraps are installed.
#[derive(Debug, Clone)]
pub struct RuntimeRegistry {
    runtime_dir: PathBuf,
    python_packages: Option<PathBuf>,
    pythons: BTreeMap<u32, PathBuf>,
    node: Option<(u32, PathBuf)>,
}

impl RuntimeRegistry {
    /// Installs the bootstraps under `runtime_dir` and discovers interpreters.
    ///
    /// `KUMO_PYTHON3_<minor>` (e.g. `KUMO_PYTHON3_12=/opt/py/bin/python3.12`) and `KUMO_NODE`
    /// override discovery; `python_packages` (boto3 and friends) is put on `PYTHONPATH` like
    /// AWS's `/var/runtime`.
    pub fn prepare(runtime_dir: &Path, python_packages: Option<PathBuf>) -> std::io::Result<Self> {
        std::fs::create_dir_all(runtime_dir.join("python"))?;
        std::fs::create_dir_all(runtime_dir.join("node"))?;
        write_if_changed(&runtime_dir.join("python/bootstrap.py"), PYTHON_BOOTSTRAP)?;
        write_if_changed(&runtime_dir.join("node/bootstrap.js"), NODE_BOOTSTRAP)?;
        Ok(Self {
            runtime_dir: runtime_dir.to_path_buf(),
            python_packages: python_packages.filter(|p| p.is_dir()),
            pythons: discover_pythons(),
            node: discover_node(),
        })
    }

    /// Python minor versions found, with their interpreters.
    pub fn pythons(&self) -> &BTreeMap<u32, PathBuf> {
        &self.pythons
    }

    /// The Node found, with its major version.
    pub fn node(&self) -> Option<&(u32, PathBuf)> {
        self.node.as_ref()
    }

    /// The launch plan for a runtime id and a code directory.
    pub fn plan(&self, runtime: &str, code_dir: &Path) -> Result<LaunchPlan, RuntimeError> {
        let family = parse_runtime(runtime).ok_or_else(|| RuntimeError::Unsupported(runtime.to_string()))?;
        match family {
            RuntimeFamily::Python { minor } => self.python_plan(runtime, minor),
            RuntimeFamily::Node { major } => self.node_plan(runtime, major),
            RuntimeFamily::Provided => provided_plan(code_dir),
        }
    }

    fn python_plan(&self, runtime: &str, minor: u32) -> Result<LaunchPlan, RuntimeError> {
        let (found, interpreter) = self
            .pythons
            .iter()
            .min_by_key(|(version, _)| (version.abs_diff(minor), std::cmp::Reverse(**version)))
            .ok_or_else(|| RuntimeError::NoInterpreter(runtime.to_string()))?;
        let warning = (*found != minor).then(|| {
            format!("[WARNING] Kumo: no Python 3.{minor} on this host; running {runtime} on Python 3.{found}")
        });
        let mut environment = BTreeMap::new();
        if let Some(packages) = &self.python_packages {
            environment.insert("PYTHONPATH".to_string(), packages.display().to_string());
        }
        environment.insert("PYTHONUNBUFFERED".to_string(), "1".to_string());
        Ok(LaunchPlan {
            program: interpreter.clone(),
            // Importing the bootstrap (instead of running it as a script) uses its cached bytecode:
            // the cold start then costs no more than a bare interpreter start.
            args: vec![
                "-c".to_string(),
                "import sys; sys.path[0] = sys.argv.pop(1); import bootstrap; bootstrap.main()".to_string(),
                self.runtime_dir.join("python").display().to_string(),
            ],
            environment,
            warning,
            execution_env: Some(format!("AWS_Lambda_{runtime}")),
        })
    }

    fn node_plan(&self, runtime: &str, major: u32) -> Result<LaunchPlan, RuntimeError> {
        let (found, node) = self.node.as_ref().ok_or_else(|| RuntimeError::NoInterpreter(runtime.to_string()))?;
        let warning = (*found != major)
            .then(|| format!("[WARNING] Kumo: no Node.js {major} on this host; running {runtime} on Node.js {found}"));
        let node_path = format!("/opt/nodejs/node{major}/node_modules:/opt/nodejs/node_modules");
        Ok(LaunchPlan {
            program: node.clone(),
            args: vec![self.runtime_dir.join("node/bootstrap.js").display().to_string()],
            environment: BTreeMap::from([("NODE_PATH".to_string(), node_path)]),
            warning,
            execution_env: Some(format!("AWS_Lambda_{runtime}")),
        })
    }
}

fn provided_plan(code_dir: &Path) -> Result<LaunchPlan, RuntimeError> {
    use std::os::unix::fs::PermissionsExt;
    let bootstrap = code_dir.join("bootstrap");
    let executable = std::fs::metadata(&bootstrap).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if !executable {
        return Err(RuntimeError::MissingBootstrap);
    }
    Ok(LaunchPlan {
        program: bootstrap,
        args: Vec::new(),
        environment: BTreeMap::new(),
        warning: None,
        execution_env: None,
    })
}

fn write_if_changed(path: &Path, content: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|existing| existing == content) {
        return Ok(());
    }
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, content)?;
    std::fs::rename(temporary, path)
}

/// Candidate places for `python3.<minor>`, most specific first.
fn python_candidates(minor: u32) -> Vec<PathBuf> {
    let name = format!("python3.{minor}");
    let mut candidates = Vec::new();
    if let Ok(path) = std::env::var(format!("KUMO_PYTHON3_{minor}")) {
        candidates.push(PathBuf::from(path));
    }
    let pyenv_root = std::env::var("PYENV_ROOT")
        .map(PathBuf::from)
        .ok()
        .or_else(|| std::env::var("HOME").ok().map(|home| Path::new(&home).join(".pyenv")));
    if let Some(versions) = pyenv_root.map(|root| root.join("versions")) {
        let mut builds: Vec<PathBuf> = std::fs::read_dir(&versions)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().starts_with(&format!("3.{minor}.")))
            .map(|entry| entry.path().join("bin").join(&name))
            .collect();
        builds.sort();
        candidates.extend(builds.into_iter().rev());
    }
    for dir in ["/usr/local/bin", "/usr/bin", "/bin"] {
        candidates.push(Path::new(dir).join(&name));
    }
    candidates
}

fn discover_pythons() -> BTreeMap<u32, PathBuf> {
    (8..=15)
        .filter_map(|minor| python_candidates(minor).into_iter().find(|c| is_executable(c)).map(|path| (minor, path)))
        .collect()
}

fn discover_node() -> Option<(u32, PathBuf)> {
    let explicit = std::env::var("KUMO_NODE").ok().map(PathBuf::from);
    let path = explicit.into_iter().chain(search_path("node")).find(|p| is_executable(p))?;
    let output = std::process::Command::new(&path).arg("--version").output().ok()?;
    let version = String::from_utf8_lossy(&output.stdout);
    let major = version.trim().trim_start_matches('v').split('.').next()?.parse().ok()?;
    Some((major, path))
}

fn search_path(name: &str) -> Vec<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".to_string());
    path.split(':').map(|dir| Path::new(dir).join(name)).collect()
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_runtime_ids() {
        assert_eq!(parse_runtime("python3.12"), Some(RuntimeFamily::Python { minor: 12 }));
        assert_eq!(parse_runtime("nodejs20.x"), Some(RuntimeFamily::Node { major: 20 }));
        assert_eq!(parse_runtime("provided.al2023"), Some(RuntimeFamily::Provided));
        assert_eq!(parse_runtime("java21"), None);
        assert_eq!(parse_runtime("python2.7"), None);
    }

    #[test]
    fn falls_back_to_the_nearest_python_with_a_warning() {
        let registry = RuntimeRegistry {
            runtime_dir: PathBuf::from("/r"),
            python_packages: None,
            pythons: BTreeMap::from([(11, PathBuf::from("/py311")), (13, PathBuf::from("/py313"))]),
            node: None,
        };
        let exact = registry.plan("python3.11", Path::new("/code")).unwrap();
        assert_eq!((exact.program, exact.warning), (PathBuf::from("/py311"), None));
        let fallback = registry.plan("python3.12", Path::new("/code")).unwrap();
        assert_eq!(fallback.program, PathBuf::from("/py313"));
        assert!(fallback.warning.unwrap().contains("Python 3.13"));
        assert_eq!(
            registry.plan("nodejs20.x", Path::new("/code")),
            Err(RuntimeError::NoInterpreter("nodejs20.x".into()))
        );
    }
}
