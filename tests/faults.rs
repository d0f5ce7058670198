//! Faults the server injects while a good project is checked: a backend terminated
//! (`pg_terminate_backend`, 57P01), a query cancelled (`pg_cancel_backend`, 57014), an idle
//! transaction ended (`idle_in_transaction_session_timeout`, 25P03, FATAL), a backend killed
//! (the server's crash and recovery, 57P02/57P03), the disk full under the server (53100, or
//! a PANIC writing WAL and the crash that follows). Each is the
//! machine's problem: the check ends with exit 3 naming the cause, or converges (exit 0), and
//! never reports a counterexample (exit 1).
//!
//! The checks run as a role this test creates on the shared server, and the faults touch only
//! that role's sessions in `pgconverge_*` databases, so other tests on the server are left alone.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::AssertSqlSafe;

#[derive(Clone, Copy, Debug)]
enum Fault {
    Terminate,
    Cancel,
    IdleInTransaction,
}

impl Fault {
    /// What an exit 3 must say: the server's SQLSTATE or its message.
    fn causes(self) -> &'static [&'static str] {
        match self {
            // Both end the session: sqlx may find the socket closed before it reads why.
            Fault::Terminate => &["57P01", "terminating connection due to administrator command", LOST],
            Fault::Cancel => &["57014", "canceling statement due to user request"],
            Fault::IdleInTransaction => &["25P03", "idle-in-transaction timeout", LOST],
        }
    }
}

/// What a run says when sqlx found the socket closed before it read the server's error.
const LOST: &str = "the connection to the server was lost";

/// A login role of this test's own, dropped (with the databases its checks left) at the end.
struct TestRole {
    name: String,
}

async fn execute(conn: &mut sqlx::PgConnection, sql: String) {
    sqlx::raw_sql(AssertSqlSafe(sql.clone())).execute(conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

impl TestRole {
    fn create(tag: &str) -> TestRole {
        let name = format!("pgconverge_faults_{tag}_{}", std::process::id());
        common::on_shared_server(async |conn| execute(conn, format!("CREATE ROLE {name} LOGIN CREATEDB")).await);
        TestRole { name }
    }

    fn url(&self) -> String {
        common::shared_server_url().replacen("postgres://postgres@", &format!("postgres://{}@", self.name), 1)
    }
}

impl Drop for TestRole {
    fn drop(&mut self) {
        let name = self.name.clone();
        common::on_shared_server(async |conn| {
            // Only the databases this role owns: the ones its checks created and left behind.
            let left: Vec<String> = sqlx::query_scalar(
                "SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = $1) AND datname LIKE 'pgconverge\\_%'",
            )
            .bind(&name)
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
            for database in left {
                let _ = sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))).execute(&mut *conn).await;
            }
            let _ = sqlx::raw_sql(AssertSqlSafe(format!("DROP ROLE IF EXISTS {name}"))).execute(&mut *conn).await;
        });
    }
}

/// Until `stop`, after `delay`: terminates or cancels every session of `role` in a
/// `pgconverge_*` database, every few milliseconds. How many it hit.
fn inject(role: String, function: &'static str, delay: Duration, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        common::on_shared_server(async |conn| {
            let mut hits = 0;
            let sql = format!(
                "SELECT count(*) FILTER (WHERE {function}(pid)) FROM pg_stat_activity \
                 WHERE usename = $1 AND datname LIKE 'pgconverge\\_%' AND pid <> pg_backend_pid()"
            );
            while !stop.load(Ordering::Relaxed) {
                let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql.clone())).bind(&role).fetch_one(&mut *conn).await.unwrap();
                hits += n as u64;
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            hits
        })
    })
}

/// Checks fixtures/k12_lms as `role` while `fault` is injected; the exit code and stderr.
fn check_under(fault: Fault, role: &TestRole, delay: Duration, seed: u32) -> (common::CliRun, u64) {
    let repro = tempfile::tempdir().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let injector = match fault {
        Fault::Terminate => Some(inject(role.name.clone(), "pg_terminate_backend", delay, stop.clone())),
        Fault::Cancel => Some(inject(role.name.clone(), "pg_cancel_backend", delay, stop.clone())),
        Fault::IdleInTransaction => None,
    };
    let seed = seed.to_string();
    let run = common::pgconverge(&[
        "check",
        "fixtures/k12_lms",
        "--database-url",
        &role.url(),
        "--seed",
        &seed,
        "--cases",
        "64",
        "--no-persist",
        "--repro-dir",
        repro.path().to_str().unwrap(),
    ]);
    stop.store(true, Ordering::Relaxed);
    let hits = injector.map_or(0, |injector| injector.join().expect("the injector does not panic"));
    (run, hits)
}

/// Several runs under `fault`: never exit 1, exit 3 names the cause, and the fault did end at
/// least one run (else the test proves nothing).
fn never_a_counterexample(fault: Fault, runs: &[(Duration, Option<&str>)]) {
    let role = TestRole::create(&format!("{fault:?}").to_lowercase());
    let mut infrastructure = 0;
    for (i, (delay, idle_timeout)) in runs.iter().enumerate() {
        if let Some(timeout) = idle_timeout {
            common::on_shared_server(async |conn| {
                execute(conn, format!("ALTER ROLE {} SET idle_in_transaction_session_timeout = '{timeout}'", role.name)).await
            });
        }
        let (run, hits) = check_under(fault, &role, *delay, 42 + i as u32);
        let shown = format!(
            "{fault:?} run {i} (delay {delay:?}, idle timeout {idle_timeout:?}, {hits} sessions hit): exit {}\nstdout:\n{}\nstderr:\n{}",
            run.code, run.stdout, run.stderr
        );
        assert!(run.code == 0 || run.code == 3, "a fault must never be a counterexample (exit 1), nor anything but 0 or 3: {shown}");
        if run.code == 3 {
            infrastructure += 1;
            assert!(
                // A property that could not decide says why in the report; an error, on stderr.
                fault.causes().iter().any(|cause| run.stdout.contains(cause) || run.stderr.contains(cause)),
                "exit 3 must name the cause ({:?}): {shown}",
                fault.causes()
            );
        }
        eprintln!("{}", shown.lines().next().unwrap_or_default());
    }
    assert!(infrastructure > 0, "{fault:?} never ended a run: the test injected nothing");
}

#[test]
fn terminated_backends_are_infrastructure() {
    let delays = [50, 300, 700, 1500, 3000];
    never_a_counterexample(Fault::Terminate, &delays.map(|ms| (Duration::from_millis(ms), None)));
}

#[test]
fn cancelled_queries_are_infrastructure() {
    let delays = [50, 300, 700, 1500, 3000];
    never_a_counterexample(Fault::Cancel, &delays.map(|ms| (Duration::from_millis(ms), None)));
}

#[test]
fn an_ended_idle_transaction_is_infrastructure() {
    let timeouts = ["1ms", "2ms", "5ms", "10ms", "1ms"];
    never_a_counterexample(Fault::IdleInTransaction, &timeouts.map(|t| (Duration::ZERO, Some(t))));
}

/// A backend of the check killed with SIGKILL: the server ends every session and recovers
/// (57P02 to the others, 57P03 while it recovers). On a cluster of this test's own, since a
/// crash ends every session of the server. Never a counterexample; exit 3 names the crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_backend_is_infrastructure() {
    use pgconverge::runner::{Backend, EmbeddedCluster};
    use sqlx::Connection;
    const CAUSES: [&str; 6] = ["57P02", "crash of another server process", "57P03", "recovery mode", "not yet accepting connections", LOST];
    let cluster = EmbeddedCluster::start().await.unwrap();
    let url = format!("postgres://postgres@localhost/postgres?host={}&port=5432", cluster.dir().display());
    let (mut infrastructure, mut killed) = (0, 0);
    for (i, delay) in [300u64, 700, 1500, 2500].into_iter().enumerate() {
        let stop = Arc::new(AtomicBool::new(false));
        let (admin, stopped) = (cluster.admin_options(), stop.clone());
        let killer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            while !stopped.load(Ordering::Relaxed) {
                // One backend of the check, in one of its scratch databases.
                if let Ok(mut conn) = sqlx::PgConnection::connect_with(&admin).await {
                    let pid: Option<i32> = sqlx::query_scalar(
                        "SELECT pid FROM pg_stat_activity WHERE datname LIKE 'pgconverge\\_%' AND pid <> pg_backend_pid() LIMIT 1",
                    )
                    .fetch_optional(&mut conn)
                    .await
                    .ok()
                    .flatten();
                    let _ = conn.close().await;
                    if let Some(pid) = pid {
                        // SAFETY: a plain kill(2) of a server backend this test's cluster runs.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                        return true;
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            false
        });
        let seed = (42 + i).to_string();
        let run = tokio::task::spawn_blocking({
            let url = url.clone();
            move || {
                common::pgconverge_embedded(&[
                    "check",
                    "fixtures/k12_lms",
                    "--database-url",
                    &url,
                    "--seed",
                    &seed,
                    "--cases",
                    "64",
                    "--no-persist",
                ])
            }
        })
        .await
        .unwrap();
        stop.store(true, Ordering::Relaxed);
        killed += killer.await.unwrap() as u32;
        let shown = format!("crash run {i} (delay {delay} ms): exit {}\nstdout:\n{}\nstderr:\n{}", run.code, run.stdout, run.stderr);
        assert!(run.code == 0 || run.code == 3, "a crash must never be a counterexample: {shown}");
        if run.code == 3 {
            infrastructure += 1;
            assert!(CAUSES.iter().any(|c| run.stdout.contains(c) || run.stderr.contains(c)), "exit 3 must name the crash: {shown}");
        }
        eprintln!("{}", shown.lines().next().unwrap_or_default());
        // The server recovers before the next run.
        for _ in 0..100 {
            if sqlx::PgConnection::connect_with(&cluster.admin_options()).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(killed > 0 && infrastructure > 0, "no crash ended a run ({killed} backends killed): the test injected nothing");
}

/// The disk under the server fills while a check runs: the run's own embedded cluster lives on a
/// small tmpfs (in a mount namespace of its own, so nothing outside sees it), and a writer fills
/// the tmpfs after a delay. The server then fails to extend a file (53100) or to write WAL (a
/// PANIC and a crash): never a counterexample; exit 3 names it; and once the run ends, nothing of
/// it is left on the full disk (a cleanup that needs no space: stop the server, remove its
/// directory).
#[test]
fn a_full_disk_is_infrastructure() {
    const CAUSES: [&str; 9] = [
        "No space left on device",
        "53100",
        "could not extend file",
        "could not write",
        "57P02",
        "crash of another server process",
        "recovery mode",
        "not yet accepting connections",
        LOST,
    ];
    // The disk is a tmpfs mounted in a mount namespace of the test's own: that takes root with
    // CAP_SYS_ADMIN (a container needs --privileged). Said once, not read as a verdict below.
    let namespace = std::process::Command::new("unshare").args(["--mount", "true"]).output().expect("unshare (util-linux) runs");
    assert!(
        namespace.status.success(),
        "this test needs root with CAP_SYS_ADMIN to make a mount namespace (`unshare --mount true` failed: {}); in a \
         container, run it with --privileged",
        String::from_utf8_lossy(&namespace.stderr).trim()
    );
    let (mut infrastructure, mut converged) = (0, 0);
    for (i, delay) in ["0.5", "2", "4", "8"].into_iter().enumerate() {
        let seed = (7 + i).to_string();
        // The tmpfs: 160 MB is room for initdb's cluster and a few scratch databases, not for
        // the filler. `leftovers` lists what is on it after the run, the filler aside.
        let script = format!(
            r#"set -u
               dir=$(mktemp -d)
               mount -t tmpfs -o size=160m,mode=1777 pgconverge-disk-full "$dir" || exit 99
               (sleep {delay}; dd if=/dev/zero of="$dir/filler" bs=1M status=none 2>/dev/null; echo filled >&2) &
               PGCONVERGE_TMPDIR="$dir" "$0" check fixtures/k12_lms --backend embedded --seed {seed} --cases 64 --no-persist
               code=$?
               wait
               echo "leftovers: $(ls -A "$dir" | grep -v '^filler$' | tr '\n' ' ')"
               exit $code"#
        );
        let output = std::process::Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script, env!("CARGO_BIN_EXE_pgconverge")])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("PGCONVERGE_DATABASE_URL")
            .output()
            .expect("unshare (util-linux) runs");
        let code = output.status.code().unwrap_or(-1);
        let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        let shown = format!("disk-full run {i} (fill after {delay} s): exit {code}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        assert_ne!(code, 99, "the test needs root to mount a tmpfs in a mount namespace of its own: {shown}");
        assert!(code == 0 || code == 3, "a full disk must never be a counterexample: {shown}");
        assert!(stderr.contains("filled"), "the filler never ran: {shown}");
        let leftovers = stdout.lines().find_map(|l| l.strip_prefix("leftovers: ")).unwrap_or("(none listed)");
        assert!(leftovers.trim().is_empty(), "the run left on the full disk: {leftovers}\n{shown}");
        if code == 3 {
            infrastructure += 1;
            assert!(CAUSES.iter().any(|c| stdout.contains(c) || stderr.contains(c)), "exit 3 must name the full disk: {shown}");
        } else {
            converged += 1;
        }
        eprintln!("{}", shown.lines().next().unwrap_or_default());
    }
    assert!(infrastructure > 0, "the disk never filled during a run ({converged} converged): the test injected nothing");
}
