//! What a run that died leaves on a URL server: every `pgconverge_*` database carries an owner
//! record, and `pgconverge reap --database-url` (and the start of the next URL run on this host)
//! drops what an owner that is gone left, and nothing else: not a user's database, not a
//! `pgconverge_*` database without a record, not another host's, not a running check's.
//!
//! A reap is server-wide, so each test has a cluster of its own, never the shared server of
//! tests/common.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pgconverge::runner::{Backend, EmbeddedCluster, ExistingServer, ScratchDatabase};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection, Executor};

async fn start() -> (EmbeddedCluster, String, PgConnection) {
    let cluster = EmbeddedCluster::start().await.unwrap();
    let url = format!("postgres://postgres@localhost/postgres?host={}&port=5432", cluster.dir().display());
    let admin = PgConnection::connect_with(&cluster.admin_options()).await.unwrap();
    (cluster, url, admin)
}

async fn execute(conn: &mut PgConnection, sql: &str) {
    conn.execute(AssertSqlSafe(sql.to_string())).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn databases(conn: &mut PgConnection) -> Vec<String> {
    sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres' ORDER BY 1")
        .fetch_all(conn)
        .await
        .unwrap()
}

async fn roles(conn: &mut PgConnection) -> Vec<String> {
    sqlx::query_scalar("SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'pgconverge%' ORDER BY 1").fetch_all(conn).await.unwrap()
}

async fn comment_of(conn: &mut PgConnection, database: &str) -> Option<String> {
    sqlx::query_scalar("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1")
        .bind(database)
        .fetch_one(conn)
        .await
        .unwrap()
}

fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string()
}

/// A pid that no process has now.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    child.wait().unwrap();
    child.id()
}

/// An owner record as pgconverge writes it, naming `host` and `pid`, started now.
fn record(host: &str, pid: u32) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    format!("pgconverge owner: run=test host={host} pid={pid} exe=pgconverge started={now}")
}

/// `pgconverge reap --database-url URL [extra]`.
fn reap(url: &str, extra: &[&str]) -> common::CliRun {
    let mut args = vec!["reap", "--database-url", url];
    args.extend_from_slice(extra);
    common::pgconverge_embedded(&args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reap_drops_what_a_dead_owner_left_and_nothing_else() {
    let (_cluster, url, mut admin) = start().await;
    let here = this_host();

    // A scratch database made the library's way carries this process as its owner.
    let server = ExistingServer::from_url(&url).unwrap();
    let scratch = ScratchDatabase::create(&server).await.unwrap();
    let name = scratch.name().to_string();
    let comment = comment_of(&mut admin, &name).await.expect("the scratch database has a comment");
    assert!(comment.starts_with("pgconverge owner: run="), "{comment}");
    assert!(comment.contains(&format!(" host={here} ")) && comment.contains(&format!(" pid={} ", std::process::id())), "{comment}");
    // The process dies without dropping it: the guard never runs, and its pid is no one's.
    std::mem::forget(scratch);
    execute(&mut admin, &format!("COMMENT ON DATABASE {name} IS '{}'", record(&here, dead_pid()))).await;

    execute(&mut admin, "CREATE DATABASE important").await;
    {
        let mut important = PgConnection::connect_with(&server.admin_options().database("important")).await.unwrap();
        execute(&mut important, "CREATE TABLE kept (id int); INSERT INTO kept VALUES (42)").await;
        important.close().await.unwrap();
    }
    execute(&mut admin, "CREATE DATABASE pgconverge_manual").await;
    execute(&mut admin, "CREATE DATABASE pgconverge_elsewhere").await;
    execute(&mut admin, &format!("COMMENT ON DATABASE pgconverge_elsewhere IS '{}'", record("another-host", 4242))).await;
    execute(&mut admin, "CREATE ROLE pgconverge_dead_role").await;
    execute(&mut admin, &format!("COMMENT ON ROLE pgconverge_dead_role IS '{}'", record(&here, dead_pid()))).await;
    execute(&mut admin, "CREATE ROLE pgconverge_plain_role").await;

    let run = reap(&url, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(&format!("dropped database {name} ")), "{}", run.stdout);
    assert!(run.stdout.contains("dropped role pgconverge_dead_role "), "{}", run.stdout);
    assert!(run.stdout.contains("left alone: database pgconverge_elsewhere"), "{}", run.stdout);
    assert!(run.stdout.contains("owned by host another-host pid 4242"), "{}", run.stdout);
    assert!(run.stdout.contains("left alone: database pgconverge_manual [no owner record]"), "{}", run.stdout);
    assert!(run.stdout.contains("left alone: role pgconverge_plain_role [no owner record]"), "{}", run.stdout);
    assert!(run.stdout.contains("dropped 1 database, 1 role; left alone 3"), "{}", run.stdout);
    assert_eq!(databases(&mut admin).await, ["important", "pgconverge_elsewhere", "pgconverge_manual"]);
    assert_eq!(roles(&mut admin).await, ["pgconverge_plain_role"]);

    // --older-than: a day is more than their age; zero is not. A role without a record stays.
    let run = reap(&url, &["--older-than", "1d"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(databases(&mut admin).await, ["important", "pgconverge_elsewhere", "pgconverge_manual"], "{}", run.stdout);
    let run = reap(&url, &["--older-than", "0s"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("dropped database pgconverge_elsewhere "), "{}", run.stdout);
    assert_eq!(databases(&mut admin).await, ["important"], "{}", run.stdout);
    assert_eq!(roles(&mut admin).await, ["pgconverge_plain_role"]);

    let mut important = PgConnection::connect_with(&server.admin_options().database("important")).await.unwrap();
    let kept: i32 = sqlx::query_scalar("SELECT id FROM kept").fetch_one(&mut important).await.unwrap();
    assert_eq!(kept, 42);
}

#[test]
fn reap_exits_2_on_a_bad_url_and_3_on_an_unreachable_server_without_showing_the_password() {
    let bad = reap("mysql://me:hunter2secret@localhost/db", &[]);
    assert_eq!(bad.code, 2, "{}{}", bad.stdout, bad.stderr);
    let unreachable = reap("postgres://me:hunter2secret@127.0.0.1:1/db", &[]);
    assert_eq!(unreachable.code, 3, "{}{}", unreachable.stdout, unreachable.stderr);
    for run in [bad, unreachable] {
        assert!(!run.stdout.contains("hunter2") && !run.stderr.contains("hunter2"), "{}{}", run.stdout, run.stderr);
    }
}

/// A project whose only migration sleeps, so that the check is surely mid-flight.
fn sleeping_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    std::fs::write(dir.path().join("migrations/1_sleep.sql"), "SELECT pg_sleep(60);\n").unwrap();
    dir
}

fn start_check(project: &Path, url: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pgconverge"))
        .args(["check", project.to_str().unwrap(), "--database-url", url])
        .env_remove("PGCONVERGE_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The scratch database a session of the check sleeps in.
async fn sleeping_database(admin: &mut PgConnection) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT datname::text FROM pg_stat_activity WHERE datname LIKE 'pgconverge%' AND query LIKE '%pg_sleep(60)%' \
             AND pid <> pg_backend_pid() LIMIT 1",
        )
        .fetch_optional(&mut *admin)
        .await
        .unwrap();
        if let Some(name) = found {
            return name;
        }
        assert!(Instant::now() < deadline, "the check never reached its migration");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_checks_database_is_left_alone_and_reaped_once_it_is_killed() {
    let (_cluster, url, mut admin) = start().await;
    let project = sleeping_project();
    let mut check = start_check(project.path(), &url);
    let name = sleeping_database(&mut admin).await;
    let comment = comment_of(&mut admin, &name).await.unwrap_or_default();
    assert!(comment.contains(&format!(" pid={} ", check.id())), "{comment}");

    // The run's sandbox role carries the same record.
    let sandbox: Vec<String> = roles(&mut admin).await.into_iter().filter(|r| r.ends_with("_sandbox")).collect();
    assert_eq!(sandbox.len(), 1, "{sandbox:?}");
    let role_comment: Option<String> = sqlx::query_scalar("SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1")
        .bind(&sandbox[0])
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(role_comment.unwrap_or_default().contains(&format!(" pid={} ", check.id())));

    let run = reap(&url, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(&format!("left alone: database {name} ")), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("left alone: role {} ", sandbox[0])), "{}", run.stdout);
    assert!(run.stdout.contains("is running"), "{}", run.stdout);
    assert!(databases(&mut admin).await.contains(&name));
    assert!(check.try_wait().unwrap().is_none(), "the check ended early");

    // kill -9: the check cleans nothing up, and its server session sleeps on.
    check.kill().unwrap();
    check.wait().unwrap();
    assert!(databases(&mut admin).await.contains(&name), "a killed check cannot drop its database");
    let run = reap(&url, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(&format!("dropped database {name} ")), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("dropped role {} ", sandbox[0])), "{}", run.stdout);
    assert!(!databases(&mut admin).await.contains(&name));
    assert!(roles(&mut admin).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_run_drops_a_dead_owners_leftover_at_its_start_and_says_so() {
    let (_cluster, url, mut admin) = start().await;
    let here = this_host();
    execute(&mut admin, "CREATE DATABASE pgconverge_leftover").await;
    execute(&mut admin, &format!("COMMENT ON DATABASE pgconverge_leftover IS '{}'", record(&here, dead_pid()))).await;
    execute(&mut admin, "CREATE ROLE pgconverge_leftover_role").await;
    execute(&mut admin, &format!("COMMENT ON ROLE pgconverge_leftover_role IS '{}'", record(&here, dead_pid()))).await;
    execute(&mut admin, "CREATE DATABASE pgconverge_manual").await;
    execute(&mut admin, "CREATE DATABASE pgconverge_elsewhere").await;
    execute(&mut admin, &format!("COMMENT ON DATABASE pgconverge_elsewhere IS '{}'", record("another-host", dead_pid()))).await;

    let run = common::pgconverge_embedded(&["check", "fixtures/in_order_only", "--properties", "fresh", "--database-url", &url]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("note: dropped leftover database pgconverge_leftover ("), "{}", run.stdout);
    assert!(run.stdout.contains("is not running"), "{}", run.stdout);
    assert!(run.stdout.contains("note: dropped leftover role pgconverge_leftover_role ("), "{}", run.stdout);
    assert_eq!(databases(&mut admin).await, ["pgconverge_elsewhere", "pgconverge_manual"]);
    assert!(roles(&mut admin).await.is_empty());
}
