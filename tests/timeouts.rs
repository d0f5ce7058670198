//! No statement runs forever: a statement past `--statement-timeout` (even one whose migration
//! lifted its own timeout) or waiting past `--lock-timeout` is exit 3 naming it, never a
//! counterexample nor a hang; and Ctrl-C cancels a statement in flight, so the run exits within
//! seconds and leaves nothing running or behind on the server.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection};

/// A project whose migrations are `files` (name, SQL), in a temporary directory.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    for (name, sql) in files {
        std::fs::write(dir.path().join("migrations").join(name), sql).unwrap();
    }
    dir
}

/// The CLI on `project`, on the shared server unless `embedded`, started but not waited for.
fn start(project: &Path, args: &[&str], embedded: bool) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pgconverge"));
    command.arg("check").arg(project).args(args).env_remove("PGCONVERGE_DATABASE_URL").env("PGCONVERGE_BACKEND", "embedded");
    if !embedded {
        command.env("PGCONVERGE_DATABASE_URL", common::shared_server_url());
    }
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the pgconverge binary runs")
}

struct Finished {
    code: Option<i32>,
    output: String,
    took: Duration,
}

/// Waits for `child` at most `within` (killing it then, and failing); its exit code and output.
fn finish(mut child: Child, within: Duration) -> Finished {
    let started = Instant::now();
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > within {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = format!("stdout:\n{}\nstderr:\n{}", stdout.join().unwrap(), stderr.join().unwrap());
    let Some(status) = status else { panic!("still running after {within:?}, killed:\n{output}") };
    Finished { code: status.code(), output, took: started.elapsed() }
}

/// What the run with process id `pid` has on the shared server: its databases, and the queries
/// of its sessions that are still running.
fn left_on_server(pid: u32) -> (Vec<String>, Vec<String>) {
    let pattern = format!("pgconverge\\_{pid}\\_%");
    common::on_shared_server(async |conn| {
        let databases = sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE $1")
            .bind(&pattern)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        let running = sqlx::query_scalar("SELECT query FROM pg_stat_activity WHERE datname LIKE $1 AND state <> 'idle'")
            .bind(&pattern)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        (databases, running)
    })
}

/// A migration that sleeps 600 s ends at a 2 s statement timeout: exit 3 (never 1), naming its
/// file and the limit, within seconds.
#[test]
fn a_statement_past_the_statement_timeout_is_an_infrastructure_error_naming_it() {
    let dir = project(&[("1_create.sql", "CREATE TABLE t (id int);\n"), ("2_sleep.sql", "-- a long backfill\nSELECT pg_sleep(600);\n")]);
    let _slot = common::shared_server_slot();
    let run = finish(start(dir.path(), &["--statement-timeout", "2s"], false), Duration::from_secs(20));
    assert_eq!(run.code, Some(3), "{}", run.output);
    assert!(run.output.contains("2_sleep.sql:2:1: the statement runs longer than 2 s (--statement-timeout)"), "{}", run.output);
}

/// A migration that lifts its own statement timeout is still cancelled (the watchdog, from a
/// connection of its own), and reported the same way.
#[test]
fn a_migration_that_lifts_its_own_timeout_is_still_cancelled() {
    let dir = project(&[("1_sleep.sql", "SET statement_timeout = 0;\nSELECT pg_sleep(600);\n")]);
    let _slot = common::shared_server_slot();
    let run = finish(start(dir.path(), &["--statement-timeout", "2s", "--properties", "fresh"], false), Duration::from_secs(20));
    assert_eq!(run.code, Some(3), "{}", run.output);
    assert!(run.output.contains("1_sleep.sql:2:1: the statement runs longer than 2 s (--statement-timeout)"), "{}", run.output);
}

/// `statement_timeout` in pgconverge.toml sets the limit as the flag does.
#[test]
fn the_config_sets_the_statement_timeout() {
    let dir = project(&[("1_sleep.sql", "SELECT pg_sleep(600);\n")]);
    std::fs::write(dir.path().join("pgconverge.toml"), "statement_timeout = \"1500ms\"\n").unwrap();
    let _slot = common::shared_server_slot();
    let run = finish(start(dir.path(), &["--properties", "fresh"], false), Duration::from_secs(20));
    assert_eq!(run.code, Some(3), "{}", run.output);
    assert!(run.output.contains("1_sleep.sql:1:1: the statement runs longer than 1500 ms (--statement-timeout)"), "{}", run.output);
}

/// A migration waiting for a row another session holds (a role this test alters in an open
/// transaction) ends at the lock timeout: exit 3 naming it. A migration's own, shorter
/// `lock_timeout` is its own behaviour: the statement's failure, a counterexample as before.
#[test]
fn a_lock_wait_past_the_lock_timeout_is_an_infrastructure_error_naming_it() {
    let role = format!("pgconverge_timeouts_lock_{}", std::process::id());
    let (hold, holding) = (std::sync::mpsc::channel::<()>(), std::sync::mpsc::channel::<()>());
    let holder = {
        let role = role.clone();
        std::thread::spawn(move || {
            common::on_shared_server(async |conn| {
                sqlx::raw_sql(AssertSqlSafe(format!("DROP ROLE IF EXISTS {role}; CREATE ROLE {role}"))).execute(&mut *conn).await.unwrap();
                sqlx::raw_sql(AssertSqlSafe(format!("BEGIN; ALTER ROLE {role} CONNECTION LIMIT 1"))).execute(&mut *conn).await.unwrap();
                holding.0.send(()).unwrap();
                let _ = hold.1.recv();
                sqlx::raw_sql(AssertSqlSafe(format!("ROLLBACK; DROP ROLE {role}"))).execute(&mut *conn).await.unwrap();
            })
        })
    };
    holding.1.recv().unwrap();
    let alter = format!("ALTER ROLE {role} CONNECTION LIMIT 2;\n");
    let waits = project(&[("1_create.sql", "CREATE TABLE t (id int);\n"), ("2_role.sql", &format!("-- needs the role's row\n{alter}"))]);
    let own = project(&[("1_role.sql", &format!("SET lock_timeout = '100ms';\n{alter}"))]);
    // Altering a role is a right only a trusted project's SQL has.
    for dir in [&waits, &own] {
        std::fs::write(dir.path().join("pgconverge.toml"), "trust = \"superuser\"\n").unwrap();
    }
    let (waited, own_limit) = {
        let _slot = common::shared_server_slot();
        let waited = finish(start(waits.path(), &["--lock-timeout", "2s", "--properties", "fresh"], false), Duration::from_secs(20));
        let own_limit = finish(start(own.path(), &["--lock-timeout", "30s", "--properties", "fresh"], false), Duration::from_secs(20));
        (waited, own_limit)
    };
    hold.0.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(waited.code, Some(3), "{}", waited.output);
    assert!(
        waited.output.contains("2_role.sql:2:1: the statement waited longer than 2 s for a lock (--lock-timeout)"),
        "{}",
        waited.output
    );
    assert_eq!(own_limit.code, Some(1), "its own lock_timeout is the migration's failure: {}", own_limit.output);
    assert!(own_limit.output.contains("55P03"), "{}", own_limit.output);
}

/// A project whose first migration sleeps only where the second already ran: the fresh run
/// passes, and a generated case (partial, order) blocks in pg_sleep.
fn blocking_case_project() -> tempfile::TempDir {
    project(&[
        ("1_wait.sql", "DO $$ BEGIN IF to_regclass('public.marker') IS NOT NULL THEN PERFORM pg_sleep(600); END IF; END $$;\n"),
        ("2_marker.sql", "CREATE TABLE marker (id int);\n"),
    ])
}

/// Waits until a session of the run `pid` on the shared server sleeps in pg_sleep.
fn wait_until_sleeping(pid: u32, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, running) = left_on_server(pid);
        if running.iter().any(|query| query.contains("pg_sleep")) {
            return;
        }
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it blocked");
        assert!(Instant::now() < deadline, "no case blocked in pg_sleep within a minute");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Ctrl-C while a generated case is blocked in a statement on a URL server: the statement is
/// cancelled on the server, the run exits 130 within 5 s, and neither a query nor a database of
/// the run is left there.
#[test]
fn ctrl_c_cancels_a_blocked_case_on_a_url_server() {
    let dir = blocking_case_project();
    let _slot = common::shared_server_slot();
    let mut child = start(dir.path(), &["--properties", "partial,order", "--no-persist"], false);
    let pid = child.id();
    wait_until_sleeping(pid, &mut child);
    std::thread::sleep(Duration::from_secs(3));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    let run = finish(child, Duration::from_secs(30));
    assert_eq!(run.code, Some(130), "{}", run.output);
    assert!(run.took < Duration::from_secs(5), "exited {:?} after the signal:\n{}", run.took, run.output);
    let (databases, running) = left_on_server(pid);
    assert!(running.is_empty(), "still running on the server: {running:?}");
    assert!(databases.is_empty(), "left on the server: {databases:?}");
}

/// The same on an embedded cluster of the run's own: exit 130 within 5 s.
#[test]
fn ctrl_c_cancels_a_blocked_case_on_an_embedded_cluster() {
    let dir = blocking_case_project();
    // Where the run's cluster goes, traversable by the server's user.
    let base = tempfile::tempdir().unwrap();
    std::fs::set_permissions(base.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_pgconverge"));
    command.arg("check").arg(dir.path()).args(["--properties", "partial,order", "--no-persist"]);
    command.env_remove("PGCONVERGE_DATABASE_URL").env("PGCONVERGE_BACKEND", "embedded").env("PGCONVERGE_TMPDIR", base.path());
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let sleeping = || -> bool {
        let clusters =
            std::fs::read_dir(base.path()).unwrap().flatten().map(|e| e.path()).filter(|p| p.join("data/postmaster.pid").exists());
        clusters.into_iter().any(|cluster| {
            let url = format!("postgres://postgres@localhost/postgres?host={}&port=5432", cluster.display());
            runtime.block_on(async {
                let Ok(mut conn) = sqlx::PgConnection::connect(&url).await else { return false };
                let sleeping: Option<i64> =
                    sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname LIKE 'pgconverge\\_%' AND query LIKE '%pg_sleep%' AND state = 'active'")
                        .fetch_one(&mut conn)
                        .await
                        .ok();
                let _ = conn.close().await;
                sleeping.unwrap_or(0) > 0
            })
        })
    };
    while !sleeping() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it blocked");
        assert!(Instant::now() < deadline, "no case blocked in pg_sleep within a minute");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let run = finish(child, Duration::from_secs(30));
    assert_eq!(run.code, Some(130), "{}", run.output);
    assert!(run.took < Duration::from_secs(5), "exited {:?} after the signal:\n{}", run.took, run.output);
}
