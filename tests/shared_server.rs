//! The shared server of tests/common: CLI runs use it instead of an `initdb` each, it outlives
//! the test thread that started it, and when the test process exits (its tests passed or not)
//! the server is stopped and its directory removed.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Run by `the_shared_server_is_gone_after_the_process_exits` in a child process of its own.
#[test]
#[ignore = "a child process of the_shared_server_is_gone_after_the_process_exits"]
fn child_passes() {
    use_the_shared_server();
}

/// Run by `the_shared_server_is_gone_after_the_process_exits` in a child process of its own.
#[test]
#[ignore = "a child process of the_shared_server_is_gone_after_the_process_exits"]
fn child_fails() {
    use_the_shared_server();
    panic!("this child fails on purpose: the server must be gone after exit(101) too");
}

/// Starts the shared server from a thread that ends at once (the server's parent-death signal
/// is per thread), runs the CLI on it, and prints the server's directory and pid.
fn use_the_shared_server() {
    let url = std::thread::spawn(|| common::shared_server_url().to_string()).join().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let run = common::pgconverge(&["check", "fixtures/divergent/default_mismatch", "--properties", "fresh", "--format", "json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["backend"], format!("server at {url}"), "the CLI ran on the shared server");
    let dir = &common::shared_server().dir;
    let pid = std::fs::read_to_string(dir.join("data/postmaster.pid")).unwrap().lines().next().unwrap().to_string();
    println!("shared server: {} {pid}", dir.display());
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only probes for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

#[test]
fn the_shared_server_is_gone_after_the_process_exits() {
    for (child, code) in [("child_passes", 0), ("child_fails", 101)] {
        let output = Command::new(std::env::current_exe().unwrap())
            .args([child, "--exact", "--ignored", "--nocapture", "--test-threads", "1"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{child}:\n{stdout}{stderr}");
        let line = stdout
            .lines()
            .find_map(|l| l.split_once("shared server: ").map(|(_, rest)| rest))
            .unwrap_or_else(|| panic!("{child}:\n{stdout}{stderr}"));
        let (dir, pid) = line.rsplit_once(' ').unwrap();
        assert!(!alive(pid.parse().unwrap()), "{child}: the shared server {pid} still runs");
        assert!(!Path::new(dir).exists(), "{child}: {dir} left behind");
    }
}

#[test]
fn no_more_checks_than_the_server_has_connections_for_hold_a_turn_at_once() {
    let turns = common::shared_server_turns();
    let holding = AtomicUsize::new(0);
    let most = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 * turns + 2 {
            scope.spawn(|| {
                let _slot = common::shared_server_slot();
                most.fetch_max(holding.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(200));
                holding.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    let most = most.into_inner();
    assert!(most <= turns, "{most} checks held a turn at once; the limit is {turns}");
    assert!(most > 1, "checks share the server: {most} at once");
}
