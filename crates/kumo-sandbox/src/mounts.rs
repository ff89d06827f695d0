//! The sandbox's root file system: which host paths an environment sees ([`plan`]) and how the
//! launcher builds that root inside the environment's mount namespace ([`apply`]).
//!
//! The root is a tiny tmpfs holding only mount points, symlinks and the mounts of the plan; after
//! `pivot_root` it is remounted read-only, so the only writable places are `/tmp` (a size-limited
//! tmpfs of its own) and the device nodes. Nothing else of the host is reachable: no home
//! directories, no Kumo data dir, no other function's code, no `/etc/shadow`.

use std::collections::HashSet;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::config::{BindKind, MountPlan, MountStep};
use crate::syscalls::{MountFlags, Syscalls};

/// Where the function's code is mounted (`LAMBDA_TASK_ROOT`).
pub const TASK_ROOT: &str = "/var/task";
/// Where the runtime's bootstrap is mounted (`LAMBDA_RUNTIME_DIR`).
pub const RUNTIME_DIR: &str = "/var/runtime";
/// Where Kumo's Python packages (boto3) are mounted, on `PYTHONPATH`.
pub const RUNTIME_PACKAGES_DIR: &str = "/var/runtime/packages";
/// Where the function's layers are mounted, merged.
pub const LAYERS_DIR: &str = "/opt";

/// A host path the sandbox mirrors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemPath {
    /// Bound read-only at the same path.
    Directory(PathBuf),
    /// Recreated as the same symlink (merged-`/usr` hosts: `/lib -> usr/lib`).
    Symlink { path: PathBuf, link_to: PathBuf },
}

/// The parts of the root shared by every environment, prepared once by Kumo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootLayout {
    /// Empty host directory the root tmpfs is mounted on.
    pub mount_point: PathBuf,
    /// Kumo's curated userland (shell, coreutils, curl, interpreters), mounted as `/usr/bin`.
    pub userland: PathBuf,
    /// Kumo's generated `/etc` (passwd, group, hosts, CA certificates, `ld.so.cache`).
    pub etc: PathBuf,
    /// Shared libraries and data mirrored from the host (`/usr/lib`, `/lib -> usr/lib`…).
    pub system: Vec<SystemPath>,
    /// The host's `resolv.conf`, bound live so DNS follows the host.
    pub resolv_conf: Option<PathBuf>,
}

/// What one environment adds to the shared layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentMounts {
    /// The function's unpacked code, at [`TASK_ROOT`].
    pub code_dir: PathBuf,
    /// The runtime's bootstrap directory, at [`RUNTIME_DIR`].
    pub runtime_dir: Option<PathBuf>,
    /// Kumo's Python packages, at [`RUNTIME_PACKAGES_DIR`].
    pub runtime_packages: Option<PathBuf>,
    /// The interpreter's installation (host directory, sandbox path below `/var/lang`; see
    /// `rootfs::expose_program`).
    pub interpreter_dirs: Vec<(PathBuf, PathBuf)>,
    /// Size of `/tmp` in MiB (`EphemeralStorage`).
    pub tmp_mb: u32,
    /// The function's layers, merged, at [`LAYERS_DIR`]; without layers it is an empty directory.
    pub layers_dir: Option<PathBuf>,
}

/// Device nodes a runtime needs; nothing else of the host's `/dev`.
const DEVICES: [&str; 5] = ["null", "zero", "full", "random", "urandom"];

/// Where a zygote sees Kumo's data dir, so that its children can mount their code from it.
/// Each child detaches it before any function code runs.
pub const ZYGOTE_DATA_DIR: &str = "/.kumo/data";
/// Where a zygote sees the library its children enter their sandbox with (detached like the data).
pub const ZYGOTE_LIBRARY: &str = "/.kumo/lib/libkumo_zygote.so";

/// The mount plan of one environment.
pub fn plan(layout: &RootLayout, environment: &EnvironmentMounts) -> MountPlan {
    let mut steps = shared_steps(layout, environment);
    steps.extend(own_steps(&environment.code_dir, environment.tmp_mb));
    MountPlan { root: layout.mount_point.clone(), steps, in_place: false }
}

/// The root of a zygote: an environment's root without the function (empty `/var/task`, `/tmp`,
/// `/proc`), plus Kumo's data dir and the zygote library under `/.kumo`.
pub fn zygote_plan(layout: &RootLayout, runtime: &EnvironmentMounts, data_dir: &Path, library: &Path) -> MountPlan {
    let mut steps = template_steps(layout, runtime, data_dir, MountStep::Dir { target: PathBuf::from("/proc") });
    steps.push(MountStep::Bind {
        source: library.to_path_buf(),
        target: PathBuf::from(ZYGOTE_LIBRARY),
        kind: BindKind::File,
    });
    MountPlan { root: layout.mount_point.clone(), steps, in_place: false }
}

/// What a zygote's child adds to the zygote's root, in place: its code and layers (as the zygote
/// sees them, below [`ZYGOTE_DATA_DIR`]), `/tmp` and `/proc`; then it detaches `/.kumo`'s mounts.
pub fn zygote_child_plan(code_dir: &Path, layers_dir: Option<&Path>, tmp_mb: u32) -> MountPlan {
    let mut steps = own_steps(code_dir, tmp_mb);
    steps.extend(layers_step(layers_dir));
    for target in [ZYGOTE_DATA_DIR, ZYGOTE_LIBRARY] {
        steps.push(MountStep::Detach { target: PathBuf::from(target) });
    }
    MountPlan { root: PathBuf::from("/"), steps, in_place: true }
}

/// The root of a pre-started runtime, before its function is known: an environment's, with
/// `/proc` mounted, `/tmp` and `/var/task` empty, and Kumo's data dir at [`ZYGOTE_DATA_DIR`]
/// for the handover to mount the code from (nothing but Kumo's bootstrap runs before then).
pub fn prestart_plan(layout: &RootLayout, runtime: &EnvironmentMounts, data_dir: &Path) -> MountPlan {
    let steps = template_steps(layout, runtime, data_dir, MountStep::Proc { target: PathBuf::from("/proc") });
    MountPlan { root: layout.mount_point.clone(), steps, in_place: false }
}

/// A root without a function: what every environment shares, `proc` for `/proc`, empty `/tmp`
/// and `/var/task`, and Kumo's data dir at [`ZYGOTE_DATA_DIR`].
fn template_steps(
    layout: &RootLayout,
    runtime: &EnvironmentMounts,
    data_dir: &Path,
    proc: MountStep,
) -> Vec<MountStep> {
    let mut steps = shared_steps(layout, runtime);
    steps.push(proc);
    for target in ["/tmp", TASK_ROOT] {
        steps.push(MountStep::Dir { target: PathBuf::from(target) });
    }
    steps.push(MountStep::Bind {
        source: data_dir.to_path_buf(),
        target: PathBuf::from(ZYGOTE_DATA_DIR),
        kind: BindKind::Directory,
    });
    steps
}

/// The function's layers at `/opt`, if it has any.
fn layers_step(layers_dir: Option<&Path>) -> Option<MountStep> {
    layers_dir.map(|layers| MountStep::Bind {
        source: layers.to_path_buf(),
        target: PathBuf::from(LAYERS_DIR),
        kind: BindKind::Directory,
    })
}

/// What init adds to a pre-started runtime's root at the handover, in place: the function's
/// `/tmp`, code and layers (as seen below [`ZYGOTE_DATA_DIR`]); then it detaches the data dir.
pub fn handover_plan(code_dir: &Path, layers_dir: Option<&Path>, tmp_mb: u32) -> MountPlan {
    let mut steps = own_steps(code_dir, tmp_mb);
    steps.retain(|step| !matches!(step, MountStep::Proc { .. }));
    steps.extend(layers_step(layers_dir));
    steps.push(MountStep::Detach { target: PathBuf::from(ZYGOTE_DATA_DIR) });
    MountPlan { root: PathBuf::from("/"), steps, in_place: true }
}

/// What every environment of a runtime shares: system paths, devices, the runtime itself.
fn shared_steps(layout: &RootLayout, environment: &EnvironmentMounts) -> Vec<MountStep> {
    fn path(value: &str) -> PathBuf {
        PathBuf::from(value)
    }
    let bind = |source: &Path, target: &str, kind| MountStep::Bind {
        source: source.to_path_buf(),
        target: path(target),
        kind,
    };
    let mut steps = vec![bind(&layout.userland, "/usr/bin", BindKind::Directory)];
    for system in &layout.system {
        steps.push(match system {
            SystemPath::Directory(dir) => {
                MountStep::Bind { source: dir.clone(), target: dir.clone(), kind: BindKind::Directory }
            }
            SystemPath::Symlink { path, link_to } => {
                MountStep::Symlink { target: path.clone(), link_to: link_to.clone() }
            }
        });
    }
    // The userland is one directory, so `/bin` and `/sbin` point at it as on merged-/usr systems.
    for link in ["/bin", "/sbin"] {
        if !layout.system.iter().any(|s| matches!(s, SystemPath::Symlink { path, .. } if path == Path::new(link))) {
            steps.push(MountStep::Symlink { target: path(link), link_to: path("usr/bin") });
        }
    }
    steps.push(bind(&layout.etc, "/etc", BindKind::Directory));
    if let Some(resolv_conf) = &layout.resolv_conf {
        steps.push(bind(resolv_conf, "/etc/resolv.conf", BindKind::File));
    }
    for device in DEVICES {
        steps.push(bind(&Path::new("/dev").join(device), &format!("/dev/{device}"), BindKind::Device));
    }
    for (name, link_to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        steps.push(MountStep::Symlink { target: Path::new("/dev").join(name), link_to: path(link_to) });
    }
    match &environment.runtime_dir {
        Some(dir) => steps.push(bind(dir, RUNTIME_DIR, BindKind::Directory)),
        None => steps.push(MountStep::Dir { target: path(RUNTIME_DIR) }),
    }
    if let Some(packages) = &environment.runtime_packages {
        steps.push(bind(packages, RUNTIME_PACKAGES_DIR, BindKind::Directory));
    }
    match &environment.layers_dir {
        Some(dir) => steps.push(bind(dir, LAYERS_DIR, BindKind::Directory)),
        None => steps.push(MountStep::Dir { target: path(LAYERS_DIR) }),
    }
    for (source, target) in &environment.interpreter_dirs {
        steps.push(MountStep::Bind { source: source.clone(), target: target.clone(), kind: BindKind::Directory });
    }
    steps
}

/// What is an environment's own: `/proc` of its pid namespace, its `/tmp`, its code.
fn own_steps(code_dir: &Path, tmp_mb: u32) -> Vec<MountStep> {
    vec![
        MountStep::Proc { target: PathBuf::from("/proc") },
        MountStep::Tmpfs { target: PathBuf::from("/tmp"), size_mb: tmp_mb, mode: 0o1777 },
        MountStep::Bind { source: code_dir.to_path_buf(), target: PathBuf::from(TASK_ROOT), kind: BindKind::Directory },
    ]
}

/// Which step failed and why.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct MountError {
    what: String,
    #[source]
    source: io::Error,
}

fn failed(what: impl Into<String>) -> impl FnOnce(io::Error) -> MountError {
    let what = what.into();
    move |source| MountError { what, source }
}

/// Flags every bind mount is remounted with (plus read-only for directories and files).
const BIND_FLAGS: MountFlags = libc::MS_NOSUID | libc::MS_NODEV;

/// Builds the root of `plan` and pivots into it. Must run inside a new mount namespace (and, for
/// `/proc`, inside the new pid namespace).
pub fn apply(sys: &dyn Syscalls, plan: &MountPlan) -> Result<(), MountError> {
    if plan.in_place {
        let mut tree = Tree { sys, root: Path::new("/"), made: HashSet::new(), in_place: true };
        return plan.steps.iter().try_for_each(|step| tree.apply(step));
    }
    // Nothing mounted from here on may propagate back to the host's namespace.
    sys.mount(None, Path::new("/"), None, libc::MS_REC | libc::MS_PRIVATE, None).map_err(failed("making / private"))?;
    let root = &plan.root;
    sys.mount(
        Some(Path::new("tmpfs")),
        root,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some("size=1m,nr_inodes=4096,mode=0755"),
    )
    .map_err(failed(format!("mounting the root tmpfs on {}", root.display())))?;
    let mut tree = Tree { sys, root, made: HashSet::new(), in_place: false };
    for step in &plan.steps {
        tree.apply(step)?;
    }
    sys.pivot_root(root).map_err(failed("pivot_root"))?;
    let locked = sys.locked_mount_flags(Path::new("/")).map_err(failed("statvfs /"))?;
    sys.mount(
        None,
        Path::new("/"),
        None,
        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | BIND_FLAGS | locked,
        None,
    )
    .map_err(failed("remounting / read-only"))
}

/// The directories made so far in the fresh root tmpfs, so each is made once.
struct Tree<'a> {
    sys: &'a dyn Syscalls,
    root: &'a Path,
    made: HashSet<PathBuf>,
    /// The root is a finished (read-only) one whose mount points all exist: nothing is made.
    in_place: bool,
}

impl Tree<'_> {
    /// The host path of `target` (an absolute path inside the sandbox) below the root.
    fn host_path(&self, target: &Path) -> PathBuf {
        let relative: PathBuf = target.components().filter(|c| matches!(c, Component::Normal(_))).collect();
        self.root.join(relative)
    }

    fn make_dirs(&mut self, target: &Path) -> Result<PathBuf, MountError> {
        if self.in_place {
            return Ok(self.host_path(target));
        }
        let mut current = PathBuf::from("/");
        for component in target.components().filter(|c| matches!(c, Component::Normal(_))) {
            current.push(component);
            if self.made.insert(current.clone()) {
                let host = self.host_path(&current);
                self.sys.mkdir(&host, 0o755).map_err(failed(format!("creating {}", current.display())))?;
            }
        }
        Ok(self.host_path(target))
    }

    fn make_parent(&mut self, target: &Path) -> Result<PathBuf, MountError> {
        if self.in_place {
            return Ok(self.host_path(target));
        }
        if let Some(parent) = target.parent() {
            self.make_dirs(parent)?;
        }
        Ok(self.host_path(target))
    }

    fn apply(&mut self, step: &MountStep) -> Result<(), MountError> {
        let sys = self.sys;
        match step {
            MountStep::Dir { target } => self.make_dirs(target).map(drop),
            MountStep::Symlink { target, link_to } => {
                let host = self.make_parent(target)?;
                sys.symlink(link_to, &host).map_err(failed(format!("linking {}", target.display())))
            }
            MountStep::Bind { source, target, kind } => {
                let what = || format!("mounting {} at {}", source.display(), target.display());
                let host = match kind {
                    BindKind::Directory => self.make_dirs(target)?,
                    BindKind::File | BindKind::Device if self.in_place => self.host_path(target),
                    BindKind::File | BindKind::Device => {
                        let host = self.make_parent(target)?;
                        sys.create_file(&host).map_err(failed(what()))?;
                        host
                    }
                };
                sys.mount(Some(source), &host, None, libc::MS_BIND, None).map_err(failed(what()))?;
                if *kind == BindKind::Device {
                    return Ok(());
                }
                // A bind mount takes its flags from the source; read-only needs a remount, which
                // in a user namespace must repeat the flags the host locked.
                let locked = sys.locked_mount_flags(&host).map_err(failed(what()))?;
                let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | BIND_FLAGS | locked;
                sys.mount(None, &host, None, flags, None).map_err(failed(what()))
            }
            MountStep::Tmpfs { target, size_mb, mode } => {
                let host = self.make_dirs(target)?;
                let data = format!("size={size_mb}m,mode={mode:o}");
                sys.mount(Some(Path::new("tmpfs")), &host, Some("tmpfs"), BIND_FLAGS, Some(&data))
                    .map_err(failed(format!("mounting a tmpfs at {}", target.display())))
            }
            MountStep::Proc { target } => {
                let host = self.make_dirs(target)?;
                sys.mount(
                    Some(Path::new("proc")),
                    &host,
                    Some("proc"),
                    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    None,
                )
                .map_err(failed("mounting /proc"))
            }
            MountStep::Detach { target } => {
                sys.detach(&self.host_path(target)).map_err(failed(format!("detaching {}", target.display())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscalls::Recorder;

    fn layout() -> RootLayout {
        RootLayout {
            mount_point: PathBuf::from("/data/sandbox/root"),
            userland: PathBuf::from("/data/sandbox/userland"),
            etc: PathBuf::from("/data/sandbox/etc"),
            system: vec![
                SystemPath::Directory(PathBuf::from("/usr/lib")),
                SystemPath::Symlink { path: PathBuf::from("/lib"), link_to: PathBuf::from("usr/lib") },
            ],
            resolv_conf: Some(PathBuf::from("/etc/resolv.conf")),
        }
    }

    fn environment() -> EnvironmentMounts {
        EnvironmentMounts {
            code_dir: PathBuf::from("/data/code/abc"),
            runtime_dir: Some(PathBuf::from("/data/runtimes/python")),
            runtime_packages: Some(PathBuf::from("/cache/python-packages")),
            interpreter_dirs: vec![(PathBuf::from("/data/sandbox/lang/x/bin"), PathBuf::from("/var/lang/bin"))],
            tmp_mb: 512,
            layers_dir: None,
        }
    }

    fn targets(plan: &MountPlan) -> Vec<String> {
        plan.steps
            .iter()
            .map(|step| match step {
                MountStep::Dir { target }
                | MountStep::Symlink { target, .. }
                | MountStep::Bind { target, .. }
                | MountStep::Tmpfs { target, .. }
                | MountStep::Proc { target }
                | MountStep::Detach { target } => target.display().to_string(),
            })
            .collect()
    }

    #[test]
    fn the_plan_exposes_only_what_a_runtime_needs() {
        let plan = plan(&layout(), &environment());
        let targets = targets(&plan);
        for expected in
            ["/usr/bin", "/usr/lib", "/lib", "/bin", "/etc", "/dev/null", "/proc", "/tmp", "/var/task", "/var/runtime"]
        {
            assert!(targets.contains(&expected.to_string()), "{expected} missing from {targets:?}");
        }
        assert!(targets.contains(&"/var/lang/bin".to_string()));
        let sources: Vec<&Path> = plan
            .steps
            .iter()
            .filter_map(|step| match step {
                MountStep::Bind { source, .. } => Some(source.as_path()),
                _ => None,
            })
            .collect();
        for forbidden in ["/", "/root", "/home", "/data", "/etc", "/usr", "/data/code"] {
            assert!(!sources.contains(&Path::new(forbidden)), "{forbidden} must not be mounted");
        }
        assert!(plan.steps.contains(&MountStep::Tmpfs { target: PathBuf::from("/tmp"), size_mb: 512, mode: 0o1777 }));
        // /lib comes from the host's symlink, so no second /lib appears.
        assert_eq!(targets.iter().filter(|t| *t == "/lib").count(), 1);
    }

    #[test]
    fn code_and_system_directories_are_read_only_devices_are_not() {
        let plan = plan(&layout(), &environment());
        let kind_of = |target: &str| {
            plan.steps.iter().find_map(|step| match step {
                MountStep::Bind { target: t, kind, .. } if t == Path::new(target) => Some(*kind),
                _ => None,
            })
        };
        assert_eq!(kind_of("/var/task"), Some(BindKind::Directory));
        assert_eq!(kind_of("/etc/resolv.conf"), Some(BindKind::File));
        assert_eq!(kind_of("/dev/urandom"), Some(BindKind::Device));
    }

    #[test]
    fn without_a_runtime_dir_var_runtime_is_an_empty_directory() {
        let environment = EnvironmentMounts {
            runtime_dir: None,
            runtime_packages: None,
            interpreter_dirs: Vec::new(),
            ..environment()
        };
        let plan = plan(&layout(), &environment);
        assert!(plan.steps.contains(&MountStep::Dir { target: PathBuf::from(RUNTIME_DIR) }));
    }

    #[test]
    fn layers_are_bound_read_only_at_opt_and_opt_is_empty_without_them() {
        let without = plan(&layout(), &environment());
        assert!(without.steps.contains(&MountStep::Dir { target: PathBuf::from(LAYERS_DIR) }));
        let with_layers = EnvironmentMounts { layers_dir: Some(PathBuf::from("/data/layers/abc")), ..environment() };
        let plan = plan(&layout(), &with_layers);
        assert!(plan.steps.contains(&MountStep::Bind {
            source: PathBuf::from("/data/layers/abc"),
            target: PathBuf::from(LAYERS_DIR),
            kind: BindKind::Directory,
        }));
        assert!(!plan.steps.contains(&MountStep::Dir { target: PathBuf::from(LAYERS_DIR) }));
    }

    #[test]
    fn apply_builds_the_root_then_pivots_and_seals_it() {
        let recorder = Recorder { locked_flags: libc::MS_NOEXEC, ..Recorder::default() };
        let plan = MountPlan {
            root: PathBuf::from("/r"),
            steps: vec![
                MountStep::Bind {
                    source: PathBuf::from("/code"),
                    target: PathBuf::from("/var/task"),
                    kind: BindKind::Directory,
                },
                MountStep::Bind {
                    source: PathBuf::from("/dev/null"),
                    target: PathBuf::from("/dev/null"),
                    kind: BindKind::Device,
                },
                MountStep::Tmpfs { target: PathBuf::from("/tmp"), size_mb: 512, mode: 0o1777 },
                MountStep::Symlink { target: PathBuf::from("/var/x"), link_to: PathBuf::from("task") },
            ],
            in_place: false,
        };
        apply(&recorder, &plan).unwrap();
        let ro =
            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        let expected = [
            format!("mount - -> / [-] flags={:#x} data=-", libc::MS_REC | libc::MS_PRIVATE),
            format!(
                "mount tmpfs -> /r [tmpfs] flags={:#x} data=size=1m,nr_inodes=4096,mode=0755",
                libc::MS_NOSUID | libc::MS_NODEV
            ),
            "mkdir /r/var 755".to_string(),
            "mkdir /r/var/task 755".to_string(),
            format!("mount /code -> /r/var/task [-] flags={:#x} data=-", libc::MS_BIND),
            format!("mount - -> /r/var/task [-] flags={ro:#x} data=-"),
            "mkdir /r/dev 755".to_string(),
            "touch /r/dev/null".to_string(),
            format!("mount /dev/null -> /r/dev/null [-] flags={:#x} data=-", libc::MS_BIND),
            "mkdir /r/tmp 755".to_string(),
            format!(
                "mount tmpfs -> /r/tmp [tmpfs] flags={:#x} data=size=512m,mode=1777",
                libc::MS_NOSUID | libc::MS_NODEV
            ),
            "symlink /r/var/x -> task".to_string(),
            "pivot_root /r".to_string(),
            format!("mount - -> / [-] flags={ro:#x} data=-"),
        ];
        assert_eq!(recorder.lines(), expected);
    }

    #[test]
    fn a_failing_step_names_itself() {
        let recorder = Recorder { fail_on: Some("mount /code".to_string()), ..Recorder::default() };
        let plan = MountPlan {
            root: PathBuf::from("/r"),
            steps: vec![MountStep::Bind {
                source: PathBuf::from("/code"),
                target: PathBuf::from("/var/task"),
                kind: BindKind::Directory,
            }],
            in_place: false,
        };
        let error = apply(&recorder, &plan).unwrap_err();
        assert!(error.to_string().starts_with("mounting /code at /var/task: "), "{error}");
    }

    #[test]
    fn a_zygote_sees_the_data_dir_which_its_children_detach() {
        let zygote = zygote_plan(&layout(), &environment(), Path::new("/data"), Path::new("/bin/libkumo_zygote.so"));
        assert!(targets(&zygote).contains(&ZYGOTE_DATA_DIR.to_string()));
        // No function's code, /tmp or /proc yet: only their mount points.
        assert!(!zygote.steps.iter().any(|step| matches!(step, MountStep::Tmpfs { .. } | MountStep::Proc { .. })));
        assert!(zygote.steps.contains(&MountStep::Dir { target: PathBuf::from(TASK_ROOT) }));
        assert!(!zygote.in_place);

        let child = zygote_child_plan(Path::new("/.kumo/data/code/abc"), Some(Path::new("/.kumo/data/layers/x")), 1024);
        assert!(child.in_place);
        assert_eq!(
            targets(&child),
            ["/proc", "/tmp", "/var/task", "/opt", ZYGOTE_DATA_DIR, ZYGOTE_LIBRARY].map(String::from).to_vec()
        );
        let recorder = Recorder::default();
        apply(&recorder, &child).unwrap();
        let lines = recorder.lines();
        assert!(lines.iter().all(|line| !line.starts_with("mkdir") && !line.starts_with("pivot_root")), "{lines:?}");
        assert!(
            lines.contains(&format!("mount /.kumo/data/code/abc -> /var/task [-] flags={:#x} data=-", libc::MS_BIND))
        );
        assert_eq!(lines.last().unwrap(), &format!("detach {ZYGOTE_LIBRARY}"));
    }

    #[test]
    fn a_prestarted_runtime_gets_its_code_at_the_handover_and_loses_the_data_dir() {
        let parked = prestart_plan(&layout(), &environment(), Path::new("/data"));
        assert!(!parked.in_place);
        // The runtime starts with /proc (interpreters read /proc/self) but no code and no /tmp.
        assert!(parked.steps.contains(&MountStep::Proc { target: PathBuf::from("/proc") }));
        assert!(parked.steps.contains(&MountStep::Dir { target: PathBuf::from(TASK_ROOT) }));
        assert!(!parked.steps.iter().any(|step| matches!(step, MountStep::Tmpfs { .. })));
        assert!(targets(&parked).contains(&ZYGOTE_DATA_DIR.to_string()));

        let handover = handover_plan(Path::new("/.kumo/data/code/abc"), None, 512);
        assert!(handover.in_place);
        assert_eq!(targets(&handover), ["/tmp", "/var/task", ZYGOTE_DATA_DIR].map(String::from).to_vec());
        let recorder = Recorder::default();
        apply(&recorder, &handover).unwrap();
        let lines = recorder.lines();
        assert!(lines.iter().any(|line| line.contains("size=512m")), "{lines:?}");
        assert_eq!(lines.last().unwrap(), &format!("detach {ZYGOTE_DATA_DIR}"));
    }
}
