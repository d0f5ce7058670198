//! Migrations are untrusted code (they come from pull requests): by default the project's SQL
//! runs as a role the run creates, which owns its scratch databases and has no other right.
//! An attack set run against a server that holds someone else's database leaves that
//! database, the server's configuration and its roles exactly as they were, and every attack
//! is refused with a message that names the statement and the opt-in.

mod common;

use std::path::Path;

use common::pgconverge_embedded_env as pgconverge_env;
use pgconverge::runner::{Backend, EmbeddedCluster};
use sqlx::{Connection, Executor, PgConnection};

/// One project per attack: the first refused statement ends a check, and each must be named.
const ATTACKS: [&str; 16] = [
    "DROP DATABASE important",
    "ALTER SYSTEM SET work_mem = '1MB'",
    "ALTER ROLE postgres PASSWORD 'pwned'",
    "ALTER ROLE app_owner PASSWORD 'pwned'",
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'important'",
    "COPY (SELECT 1) TO PROGRAM 'touch /tmp/pgconverge-sandbox-pwned'",
    "COPY t FROM PROGRAM 'env'",
    "COPY (SELECT 1) TO '/tmp/pgconverge-sandbox-file'",
    "SELECT pg_read_file('/etc/passwd')",
    "CREATE EXTENSION dblink",
    "CREATE ROLE intruder SUPERUSER",
    "CREATE ROLE intruder",
    "CREATE DATABASE other",
    "SET ROLE postgres",
    "GRANT pg_execute_server_program TO CURRENT_USER",
    "ALTER DATABASE important OWNER TO CURRENT_USER",
];

/// What the server holds that is not the harness's: the other database's rows, the
/// databases, the roles (passwords included), the configuration and its auto file.
async fn snapshot(cluster: &EmbeddedCluster) -> String {
    let mut admin = PgConnection::connect_with(&cluster.admin_options()).await.unwrap();
    let mut text = String::new();
    for query in [
        "SELECT string_agg(format('%s %s %s', datname, pg_get_userbyid(datdba), datacl), E'\\n' ORDER BY datname) FROM pg_database",
        "SELECT string_agg(format('%s %s %s %s %s %s %s %s', rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, \
         rolreplication, rolbypassrls, rolpassword), E'\\n' ORDER BY rolname) FROM pg_authid",
        "SELECT string_agg(format('%s %s %s', r.rolname, m.roleid::regrole, m.admin_option), E'\\n' ORDER BY 1) \
         FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member",
        "SELECT string_agg(format('%s=%s', name, setting), E'\\n' ORDER BY name) FROM pg_settings",
        "SELECT pg_read_file('postgresql.auto.conf')",
    ] {
        let part: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(query)).fetch_one(&mut admin).await.unwrap();
        text.push_str(&part.unwrap_or_default());
        text.push_str("\n--\n");
    }
    admin.close().await.unwrap();
    let mut important = PgConnection::connect_with(&cluster.admin_options().database("important")).await.unwrap();
    let rows: Option<String> = sqlx::query_scalar("SELECT string_agg(format('%s %s', id, name), E'\\n' ORDER BY id) FROM accounts")
        .fetch_one(&mut important)
        .await
        .unwrap();
    important.close().await.unwrap();
    text + &rows.unwrap_or_default()
}

fn project(dir: &Path, attack: &str) {
    std::fs::create_dir_all(dir.join("migrations")).unwrap();
    std::fs::write(dir.join("migrations/20260101000001_attack.sql"), format!("CREATE TABLE t (line text);\n{attack};\n")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attack_set_on_a_url_server_changes_nothing_of_anyone_else_and_names_each_refused_statement() {
    let cluster = EmbeddedCluster::start().await.unwrap();
    let url = format!("postgres://postgres@localhost/postgres?host={}&port=5432", cluster.dir().display());
    let mut admin = PgConnection::connect_with(&cluster.admin_options()).await.unwrap();
    admin.execute("CREATE DATABASE important").await.unwrap();
    admin.execute("CREATE ROLE app_owner LOGIN PASSWORD 'app-secret'").await.unwrap();
    admin.close().await.unwrap();
    // Someone else's session, which must survive.
    let mut bystander = PgConnection::connect_with(&cluster.admin_options().database("important")).await.unwrap();
    bystander
        .execute("CREATE TABLE accounts (id int PRIMARY KEY, name text); INSERT INTO accounts VALUES (1, 'ada'), (2, 'grace')")
        .await
        .unwrap();
    let before = snapshot(&cluster).await;

    let work = tempfile::tempdir().unwrap();
    let mut unrefused = Vec::new();
    for (i, attack) in ATTACKS.iter().enumerate() {
        let dir = work.path().join(format!("attack_{i}"));
        project(&dir, attack);
        let run = pgconverge_env(
            &["check", dir.to_str().unwrap(), "--database-url", &url, "--properties", "fresh", "--no-persist"],
            &[("PGCONVERGE_TEST_SECRET", "token-that-must-not-leak")],
        );
        let output = format!("{}{}", run.stdout, run.stderr);
        assert!(!output.contains("token-that-must-not-leak"), "{attack}: the environment leaked:\n{output}");
        let named = output.contains("20260101000001_attack.sql:2:1") && output.contains("trust = \"superuser\"");
        if run.code != 2 || !named {
            unrefused.push(format!("{attack}: exit {}\n{output}", run.code));
        }
    }
    assert!(unrefused.is_empty(), "not refused as a sandbox refusal:\n{}", unrefused.join("\n\n"));

    // A setup file that asks for a superuser is refused too, naming its line.
    let dir = work.path().join("setup_superuser");
    project(&dir, "SELECT 1");
    std::fs::write(dir.join("setup.sql"), "CREATE ROLE app NOLOGIN;\nCREATE ROLE boss SUPERUSER;\n").unwrap();
    std::fs::write(dir.join("pgconverge.toml"), "setup = [\"setup.sql\"]\n").unwrap();
    let run = pgconverge_env(&["check", dir.to_str().unwrap(), "--database-url", &url, "--no-persist"], &[]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("setup.sql:2:1") && run.stderr.contains("SUPERUSER"), "{}", run.stderr);

    bystander.execute("SELECT 1").await.expect("the bystander's session survives");
    bystander.close().await.unwrap();
    assert_eq!(snapshot(&cluster).await, before, "the server changed");
    assert!(!Path::new("/tmp/pgconverge-sandbox-pwned").exists() && !Path::new("/tmp/pgconverge-sandbox-file").exists());
    let mut admin = PgConnection::connect_with(&cluster.admin_options()).await.unwrap();
    let left: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'pgconverge%' UNION ALL SELECT rolname::text FROM pg_roles \
         WHERE rolname LIKE 'pgconverge%' OR rolname IN ('app', 'intruder')",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// The project's SQL does not run as a superuser by default, and does with `trust = "superuser"`;
/// the setup's roles are granted to the sandbox role (ownership and grants to them work) and
/// dropped when the run ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_sql_runs_unprivileged_unless_trusted_and_setup_roles_are_dropped() {
    let cluster = EmbeddedCluster::start().await.unwrap();
    let url = format!("postgres://postgres@localhost/postgres?host={}&port=5432", cluster.dir().display());
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::create_dir_all(dir.join("migrations")).unwrap();
    // A new owner needs CREATE on the schema unless a superuser gives it the table.
    let setup =
        "CREATE ROLE app_owner_role NOLOGIN;\nCREATE ROLE app_reader_role NOLOGIN;\nGRANT CREATE ON SCHEMA public TO app_owner_role;\n";
    std::fs::write(dir.join("setup.sql"), setup).unwrap();
    std::fs::write(
        dir.join("migrations/20260101000001_create.sql"),
        "DO $$ BEGIN IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN RAISE EXCEPTION 'ran as a superuser'; END IF; END $$;\n\
         CREATE TABLE accounts (id int);\nALTER TABLE accounts OWNER TO app_owner_role;\nGRANT SELECT ON accounts TO app_reader_role;\n",
    )
    .unwrap();
    std::fs::write(dir.join("pgconverge.toml"), "setup = [\"setup.sql\"]\n").unwrap();
    let sandboxed = pgconverge_env(&["check", dir.to_str().unwrap(), "--database-url", &url, "--no-persist", "--cases", "8"], &[]);
    assert_eq!(sandboxed.code, 0, "{}{}", sandboxed.stdout, sandboxed.stderr);

    std::fs::write(dir.join("pgconverge.toml"), "setup = [\"setup.sql\"]\ntrust = \"superuser\"\n").unwrap();
    let trusted = pgconverge_env(&["check", dir.to_str().unwrap(), "--database-url", &url, "--no-persist", "--properties", "fresh"], &[]);
    assert_eq!(trusted.code, 1, "{}{}", trusted.stdout, trusted.stderr);
    assert!(trusted.stdout.contains("ran as a superuser"), "{}", trusted.stdout);

    let mut admin = PgConnection::connect_with(&cluster.admin_options()).await.unwrap();
    let left: Vec<String> =
        sqlx::query_scalar("SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'pgconverge%' OR rolname LIKE 'app_%'")
            .fetch_all(&mut admin)
            .await
            .unwrap();
    assert!(left.is_empty(), "roles left behind: {left:?}");
}

/// Under `trust = "superuser"` a migration may change a role: role settings are the server's,
/// so two workers' open sandbox transactions would wait on each other's row forever. The cases
/// of such a project run on one worker, and the check ends.
#[test]
fn a_trusted_migration_that_alters_a_role_does_not_hang_the_workers() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::create_dir_all(dir.join("migrations")).unwrap();
    std::fs::write(dir.join("setup.sql"), "CREATE ROLE app_tuned NOLOGIN;\n").unwrap();
    std::fs::write(dir.join("pgconverge.toml"), "setup = [\"setup.sql\"]\ntrust = \"superuser\"\n").unwrap();
    std::fs::write(dir.join("migrations/20260101000001_a.sql"), "CREATE TABLE a (id int);\n").unwrap();
    std::fs::write(dir.join("migrations/20260101000002_tune.sql"), "ALTER ROLE app_tuned SET work_mem = '8MB';\n").unwrap();
    std::fs::write(dir.join("migrations/20260101000003_b.sql"), "CREATE TABLE b (id int);\n").unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pgconverge"))
        .args(["check", dir.to_str().unwrap(), "--backend", "embedded", "--no-persist", "--cases", "64", "--jobs", "2"])
        .env_remove("PGCONVERGE_DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > std::time::Duration::from_secs(180) {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let output = child.wait_with_output().unwrap();
    let shown = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let status = status.unwrap_or_else(|| panic!("the check hung for 180 s:\n{shown}"));
    assert_eq!(status.code(), Some(0), "{shown}");
}

/// Under `trust = "superuser"` migrations may create roles and databases: every case creates
/// them anew (they are dropped after each), nothing is left on the server, and on a URL server
/// that already has one of them the check refuses to start (it would drop it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_migrations_that_create_roles_and_databases_converge_and_leave_nothing() {
    let cluster = EmbeddedCluster::start().await.unwrap();
    let url = format!("postgres://postgres@localhost/postgres?host={}&port=5432", cluster.dir().display());
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::create_dir_all(dir.join("migrations")).unwrap();
    std::fs::write(dir.join("pgconverge.toml"), "trust = \"superuser\"\n").unwrap();
    std::fs::write(
        dir.join("migrations/20260101000001_service_role.sql"),
        "CREATE ROLE app_service NOLOGIN;\nCREATE TABLE jobs (id int);\nGRANT SELECT ON jobs TO app_service;\n",
    )
    .unwrap();
    std::fs::write(dir.join("migrations/20260101000002_archive.sql"), "-- no-transaction\nCREATE DATABASE app_archive;\n").unwrap();
    std::fs::write(dir.join("migrations/20260101000003_events.sql"), "CREATE TABLE events (id int);\n").unwrap();
    for args in [vec!["--backend", "embedded"], vec!["--database-url", url.as_str()]] {
        // (interrupt fails, rightly: a CREATE DATABASE that ran before the migrator died fails
        // when the migration runs again.)
        let mut all = vec!["check", dir.to_str().unwrap(), "--no-persist", "--cases", "32", "--properties", "fresh,partial,order"];
        all.extend(args.iter().copied());
        let run = pgconverge_env(&all, &[]);
        assert_eq!(run.code, 0, "{args:?}: {}{}", run.stdout, run.stderr);
    }
    let mut admin = PgConnection::connect_with(&cluster.admin_options()).await.unwrap();
    let left: Vec<String> = sqlx::query_scalar(
        "SELECT rolname::text FROM pg_roles WHERE rolname IN ('app_service') OR rolname LIKE 'pgconverge%' \
         UNION ALL SELECT datname::text FROM pg_database WHERE datname = 'app_archive' OR datname LIKE 'pgconverge%'",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(left.is_empty(), "left behind: {left:?}");

    admin.execute("CREATE ROLE app_service NOLOGIN").await.unwrap();
    let run = pgconverge_env(&["check", dir.to_str().unwrap(), "--no-persist", "--database-url", &url], &[]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("role app_service"), "{}", run.stderr);
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_roles WHERE rolname = 'app_service'").fetch_one(&mut admin).await.unwrap();
    assert_eq!(kept, 1, "the server's own role app_service was dropped");
}

/// `compare_roles = true` with a reference that creates no role (what `pg_dump` writes): the
/// roles are compared between runs of the migrations, as the fresh run made them, and the report
/// says so. A role setting that two independent migrations set to different values then depends
/// on their order: found by `order`, naming the role; without `compare_roles` the same project
/// converges (roles are the server's, compared only when asked).
#[test]
fn roles_without_a_reference_are_compared_between_runs() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::create_dir_all(dir.join("migrations")).unwrap();
    let migrations = [
        ("20260801000001_reporting_role.sql", "CREATE ROLE reporting NOLOGIN;\nALTER ROLE reporting SET work_mem = '8MB';\n"),
        ("20260801000002_invoices.sql", "CREATE TABLE invoices (id int);\n"),
    ];
    for (name, sql) in migrations {
        std::fs::write(dir.join("migrations").join(name), sql).unwrap();
    }
    std::fs::write(dir.join("schema.sql"), "CREATE TABLE invoices (id int);\n").unwrap();
    let config = |compare_roles: bool| format!("trust = \"superuser\"\ncompare_roles = {compare_roles}\n");
    std::fs::write(dir.join("pgconverge.toml"), config(true)).unwrap();
    let path = dir.to_str().unwrap();
    let check = |properties: &str| {
        pgconverge_env(&["check", path, "--no-persist", "--cases", "32", "--properties", properties, "--format", "json"], &[])
    };
    let run = check("fresh,partial,order");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let notes = report["notes"].to_string();
    assert!(notes.contains("compare_roles: the reference creates no role") && notes.contains("(reporting)"), "{notes}");

    // Two independent migrations each set the role's work_mem: the last one wins.
    std::fs::write(dir.join("migrations/20260801000003_tune_reports.sql"), "ALTER ROLE reporting SET work_mem = '16MB';\n").unwrap();
    std::fs::write(
        dir.join("migrations/20260801000004_invoice_reports.sql"),
        "CREATE VIEW invoice_report AS SELECT id FROM invoices;\nALTER ROLE reporting SET work_mem = '32MB';\n",
    )
    .unwrap();
    std::fs::write(dir.join("schema.sql"), "CREATE TABLE invoices (id int);\nCREATE VIEW invoice_report AS SELECT id FROM invoices;\n")
        .unwrap();
    let run = check("order");
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("role reporting") && run.stdout.contains("work_mem"), "{}", run.stdout);
    std::fs::write(dir.join("pgconverge.toml"), config(false)).unwrap();
    let run = check("order");
    assert_eq!(run.code, 0, "without compare_roles roles are not compared: {}{}", run.stdout, run.stderr);
}
