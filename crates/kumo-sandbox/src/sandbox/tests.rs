//! Unit tests of the sandbox's decisions: what a failed self-test step drops, what the report says.

use super::*;

fn full_features() -> Features {
    Features {
        namespaces: Some(NamespaceConfig { hostname: "localhost".into(), user: None, mount_only: false }),
        layout: Some(RootLayout {
            mount_point: PathBuf::from("/s/root"),
            userland: PathBuf::from("/s/userland"),
            etc: PathBuf::from("/s/etc"),
            system: Vec::new(),
            resolv_conf: None,
        }),
        identity: Some(Identity { uid: SANDBOX_UID, gid: SANDBOX_GID }),
        no_new_privs: true,
        seccomp: true,
        rlimits: rlimits::for_environment(true),
        network: true,
    }
}

fn failure(step: &str) -> SetupFailure {
    SetupFailure { step: step.to_string(), message: "Operation not permitted (os error 1)".to_string() }
}

#[test]
fn a_failed_unshare_drops_namespaces_and_the_root_with_a_reason() {
    let mut features = full_features();
    let mut reasons = BTreeMap::new();
    assert!(degrade(&mut features, &mut None, &mut reasons, &failure("namespaces"), false));
    assert!(features.namespaces.is_none() && features.layout.is_none() && features.identity.is_none());
    let report = build_report(&features, None, reasons, false);
    assert_eq!(report.isolation, "partial");
    for name in ["namespaces.pid", "namespaces.user", "filesystem", "unprivileged-user", "cgroups.memory"] {
        assert!(report.missing.contains(&name), "{name} not in {:?}", report.missing);
    }
    assert!(report.reasons["namespaces.pid"].contains("Operation not permitted"));
    assert!(report.active.contains(&"seccomp"));
}

#[test]
fn without_its_own_root_the_sandbox_keeps_kumos_identity_and_says_so() {
    let mut features = full_features();
    let mut reasons = BTreeMap::new();
    assert!(degrade(&mut features, &mut None, &mut reasons, &failure("mounts"), true));
    assert!(features.layout.is_none() && features.identity.is_none());
    assert!(features.namespaces.is_some(), "the namespaces themselves still work");
    let report = build_report(&features, None, reasons, true);
    assert!(report.missing.contains(&"filesystem") && report.missing.contains(&"unprivileged-user"));
    assert!(report.reasons["unprivileged-user"].contains("own root"));
    assert!(report.active.contains(&"namespaces.pid"));
}

#[test]
fn a_failed_setns_leaves_environments_on_the_hosts_network_and_says_so() {
    let mut features = full_features();
    let report = build_report(&features, None, BTreeMap::new(), true);
    assert_eq!(report.network, "isolated");
    assert!(report.active.contains(&"namespaces.net"));
    let mut reasons = BTreeMap::new();
    assert!(degrade(&mut features, &mut None, &mut reasons, &failure("network"), true));
    assert!(!features.network && features.namespaces.is_some());
    let report = build_report(&features, None, reasons, true);
    assert_eq!(report.network, "host");
    assert!(report.missing.contains(&"namespaces.net"));
    assert!(report.reasons["namespaces.net"].contains("Operation not permitted"));
    assert!(!degrade(&mut features, &mut None, &mut BTreeMap::new(), &failure("network"), true));
}

#[test]
fn unattributable_failures_are_not_degraded_silently() {
    let mut features = full_features();
    assert!(!degrade(&mut features, &mut None, &mut BTreeMap::new(), &failure("exec"), true));
    assert!(degrade(&mut features, &mut None, &mut BTreeMap::new(), &failure("seccomp"), true));
    assert!(!degrade(&mut features, &mut None, &mut BTreeMap::new(), &failure("seccomp"), true));
}

#[test]
fn off_is_loud() {
    let sandbox = Sandbox::off("KUMO_SANDBOX=off");
    let report = sandbox.report();
    assert_eq!(report.isolation, "off");
    assert!(report.active.is_empty());
    assert!(report.missing.contains(&"seccomp"));
    assert_eq!(sandbox.task_root(Path::new("/data/code/x")), PathBuf::from("/data/code/x"));
    assert_eq!(sandbox.layers_root(Some(Path::new("/data/layers/y"))), PathBuf::from("/data/layers/y"));
    assert_eq!(sandbox.layers_root(None), PathBuf::from("/opt"));
}

#[test]
fn the_launch_config_uses_sandbox_paths() {
    let features = full_features();
    let config = launch_config(
        &features,
        &probe_plan(),
        &BTreeMap::from([("A".to_string(), "1".to_string())]),
        Path::new("/data/code/x"),
        512,
    );
    assert_eq!(config.working_dir, PathBuf::from("/var/task"));
    assert_eq!(config.environment, [("A".to_string(), "1".to_string())]);
    let plan = config.mounts.unwrap();
    assert!(plan.steps.contains(&crate::config::MountStep::Tmpfs {
        target: PathBuf::from("/tmp"),
        size_mb: 512,
        mode: 0o1777
    }));
}
