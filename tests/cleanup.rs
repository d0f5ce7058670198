//! Nothing is left behind: not on Ctrl-C, and after a SIGKILL the next run reaps what the
//! killed one left. These run the embedded backend itself (a cluster per run), never the shared
//! server of tests/common; the container test is in the `docker-tests` tier.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A project whose only migration sleeps, so the run is surely mid-flight when signalled.
fn sleeping_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    std::fs::write(dir.path().join("migrations/1_sleep.sql"), "SELECT pg_sleep(60);\n").unwrap();
    dir
}

/// A cluster base directory the unprivileged server user can traverse.
fn cluster_base() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn start_check(project: &Path, base: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pgconverge"))
        .args(["check", project.to_str().unwrap()])
        .env("PGCONVERGE_TMPDIR", base)
        .env_remove("PGCONVERGE_DATABASE_URL")
        .env("PGCONVERGE_BACKEND", "embedded")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn cluster_dirs(base: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(base).unwrap().flatten().map(|e| e.path()).filter(|p| p.join("data").exists()).collect()
}

/// Waits until the cluster is up and a backend is sleeping in the migration; the cluster's
/// directory and its postmaster's pid, read as soon as the server wrote it (a loaded machine
/// may take a while to get to the signal).
fn wait_for_running_server(base: &Path) -> (PathBuf, i32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for dir in cluster_dirs(base) {
            let pid = std::fs::read_to_string(dir.join("data/postmaster.pid"))
                .ok()
                .and_then(|text| text.lines().next().and_then(|l| l.trim().parse::<i32>().ok()));
            if let Some(pid) = pid {
                std::thread::sleep(Duration::from_millis(1500));
                return (dir, pid);
            }
        }
        assert!(Instant::now() < deadline, "no cluster started");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only probes for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "did not exit within {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Signals a check that is inside a 60-second statement: it exits 130 (interrupted) within
/// seconds, its server stopped and its cluster directory gone.
fn signal_stops_the_server_and_removes_the_cluster(signal: i32) {
    let project = sleeping_project();
    let base = cluster_base();
    let mut child = start_check(project.path(), base.path());
    let (cluster, server) = wait_for_running_server(base.path());
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, signal) };
    let status = wait_exit(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(130), "signal {signal}");
    assert!(!cluster.exists(), "{} left behind", cluster.display());
    assert!(!alive(server), "server {server} still running");
}

#[test]
fn ctrl_c_stops_the_server_and_removes_the_cluster() {
    signal_stops_the_server_and_removes_the_cluster(libc::SIGINT);
}

#[test]
fn sigterm_stops_the_server_and_removes_the_cluster() {
    signal_stops_the_server_and_removes_the_cluster(libc::SIGTERM);
}

#[test]
fn sighup_stops_the_server_and_removes_the_cluster() {
    signal_stops_the_server_and_removes_the_cluster(libc::SIGHUP);
}

#[test]
fn after_sigkill_the_server_dies_and_the_next_run_reaps_the_directory() {
    let project = sleeping_project();
    let base = cluster_base();
    let mut child = start_check(project.path(), base.path());
    let (cluster, server) = wait_for_running_server(base.path());
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while alive(server) {
        assert!(Instant::now() < deadline, "server {server} outlived the harness");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(cluster.exists(), "a SIGKILLed run cannot clean up after itself");
    let reaped = pgconverge::runner::embedded::reap_stale_clusters(base.path());
    assert_eq!((reaped.removed, reaped.refused), (1, vec![]));
    assert!(!cluster.exists());
}

/// The reaper's base (/dev/shm) is world-writable: a directory planted there that names a
/// process which is not the harness's server (here a `sleep`) is left alone and reported, as is
/// a symlink and (as root) another user's directory; a real leftover next to them is reaped.
#[test]
fn the_reaper_leaves_alone_what_pgconverge_did_not_make() {
    use std::os::unix::fs::MetadataExt;
    let base = tempfile::tempdir().unwrap();
    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    let victim = sleeper.id();
    let gone = {
        let mut child = Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        child.id()
    };
    let plant = |name: &str, owner: u32, postmaster: Option<u32>| -> PathBuf {
        let dir = base.path().join(name);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        std::fs::write(dir.join("owner.pid"), owner.to_string()).unwrap();
        if let Some(pid) = postmaster {
            std::fs::write(dir.join("data/postmaster.pid"), format!("{pid}\n/data\n")).unwrap();
        }
        dir
    };
    let planted = plant("pgconverge-1-planted", gone, Some(victim));
    let link = base.path().join("pgconverge-2-link");
    std::os::unix::fs::symlink(&planted, &link).unwrap();
    let mut refused = vec![planted.clone(), link.clone()];
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let foreign = plant("pgconverge-3-foreign", gone, Some(victim));
        for path in [&foreign, &foreign.join("data"), &foreign.join("owner.pid"), &foreign.join("data/postmaster.pid")] {
            std::os::unix::fs::chown(path, Some(65534), Some(65534)).unwrap();
        }
        refused.push(foreign);
    }
    let leftover = plant("pgconverge-4-leftover", gone, None);
    let before: Vec<_> = refused.iter().map(|p| std::fs::symlink_metadata(p).unwrap().mtime_nsec()).collect();

    let reaped = pgconverge::runner::embedded::reap_stale_clusters(base.path());

    let alive = matches!(sleeper.try_wait(), Ok(None));
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(alive, "the reaper signalled process {victim}, named by a planted postmaster.pid");
    assert_eq!(reaped.removed, 1, "{reaped:?}");
    assert!(!leftover.exists(), "a real leftover is still reaped");
    let mut reported: Vec<PathBuf> = reaped.refused.iter().map(|(path, _)| path.clone()).collect();
    reported.sort();
    assert_eq!(reported, refused, "every planted directory is reported: {reaped:?}");
    for (path, why) in &reaped.refused {
        if path == &planted {
            assert!(why.contains(&format!("names process {victim}")), "{why}");
        }
    }
    let after: Vec<_> = refused.iter().map(|p| std::fs::symlink_metadata(p).unwrap().mtime_nsec()).collect();
    assert_eq!(before, after, "the planted directories are untouched");
    assert_eq!(std::fs::read_to_string(planted.join("data/postmaster.pid")).unwrap(), format!("{victim}\n/data\n"));
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
}

/// Containers a run started, by the owner-pid label pgconverge puts on every container.
fn containers_of(pid: u32) -> Vec<String> {
    let output = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label={}={pid}", pgconverge::runner::container::LABEL_OWNER_PID)])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).lines().map(str::to_string).collect()
}

fn start_container_check(project: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pgconverge"))
        .args(["check", project.to_str().unwrap(), "--backend", "container", "--pg", "15", "--no-persist"])
        .env_remove("PGCONVERGE_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_for_container(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while containers_of(pid).is_empty() {
        assert!(Instant::now() < deadline, "no container started");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Let the run reach the sleeping migration.
    std::thread::sleep(Duration::from_secs(3));
}

#[test]
#[cfg_attr(not(feature = "docker-tests"), ignore = "docker-tests tier: cargo test --features docker-tests")]
fn ctrl_c_removes_the_container_and_sigkill_leaves_one_that_reap_removes() {
    common::require_docker();
    // Build the local image first if needed, so the timed parts below only start containers.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(pgconverge::runner::container::ensure_local_image(15)).unwrap();
    let project = sleeping_project();

    let mut interrupted = start_container_check(project.path());
    let pid = interrupted.id();
    wait_for_container(pid);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    assert_eq!(wait_exit(&mut interrupted, Duration::from_secs(60)).code(), Some(130));
    assert!(containers_of(pid).is_empty(), "Ctrl-C left containers behind");

    let mut killed = start_container_check(project.path());
    let pid = killed.id();
    wait_for_container(pid);
    killed.kill().unwrap();
    killed.wait().unwrap();
    assert!(!containers_of(pid).is_empty(), "a SIGKILLed run cannot remove its container");
    let reap = Command::new(env!("CARGO_BIN_EXE_pgconverge")).arg("reap").output().unwrap();
    assert!(reap.status.success(), "{}", String::from_utf8_lossy(&reap.stderr));
    assert!(String::from_utf8_lossy(&reap.stdout).contains("leftover containers"));
    assert!(containers_of(pid).is_empty(), "pgconverge reap left the killed run's container");
}

#[test]
fn ctrl_c_stops_a_run_that_is_generating_cases() {
    let base = cluster_base();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pgconverge"))
        .args(["check", "fixtures/k12_lms", "--properties", "order", "--cases", "100000", "--jobs", "1", "--no-persist"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("PGCONVERGE_TMPDIR", base.path())
        .env("PGCONVERGE_BACKEND", "embedded")
        .env_remove("PGCONVERGE_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (cluster, server) = wait_for_running_server(base.path());
    // Well into the generated cases (the canonical run and the catalog learning take about a second).
    std::thread::sleep(Duration::from_secs(5));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_exit(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(130));
    assert!(!cluster.exists(), "{} left behind", cluster.display());
    assert!(!alive(server), "server {server} still running");
}
