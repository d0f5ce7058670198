//! A reference made by `pg_dump --schema-only` (Rails' `structure.sql` is one) describes the
//! same schema as the migrations it was dumped from, even where pg_dump spells an expression
//! in a way Postgres stores differently when it reads it back (a `varchar` column's
//! `CHECK (col IN (...))` comes back as `ANY (ARRAY[('a'::varchar)::text, ...])`). Every
//! converging fixture must therefore converge against a real pg_dump of its own migrated
//! database (made with `--no-owner`: `OWNER TO postgres` needs `trust = "superuser"`, which
//! fixtures/pg_dump_round_trip shows).

mod common;

use std::path::Path;
use std::process::Command;

use common::{pgconverge, CONVERGING_FIXTURES};
use pgconverge::runner::{Backend, EmbeddedCluster};
use pgconverge::Project;
use sqlx::Connection;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_converging_fixture_converges_against_a_pg_dump_of_its_migrations() {
    let cluster = EmbeddedCluster::start().await.unwrap();
    // The check runs on a server of its own: the setup files' roles, made here by migrate(),
    // would be roles of someone else's to a check on this one.
    let checking = EmbeddedCluster::start().await.unwrap();
    let url = format!("postgres://postgres@localhost/postgres?host={}&port=5432", checking.dir().display());
    let mut admin = sqlx::PgConnection::connect_with(&cluster.admin_options()).await.unwrap();
    let role_statement = regex::Regex::new(r"^((CREATE|ALTER|COMMENT ON) ROLE |GRANT \w+ TO \w+;$)").unwrap();
    let mut problems = Vec::new();
    for (i, &fixture) in CONVERGING_FIXTURES.iter().enumerate() {
        let project = Project::load(Path::new(fixture)).unwrap();
        let database = format!("migrated_{i}");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database} TEMPLATE template0"))).execute(&mut admin).await.unwrap();
        let mut conn = sqlx::PgConnection::connect_with(&cluster.admin_options().database(&database)).await.unwrap();
        // The fixture's own preparation (extensions, setup, ledger) and its migrations, in order.
        pgconverge::migrate(&project, &mut conn).await.unwrap_or_else(|e| panic!("{fixture}: {e}"));
        conn.close().await.unwrap();

        let mut dump = pg_dump(&cluster, &database);
        if project.config.compare_roles {
            // pg_dump carries no roles (`pg_dumpall --roles-only` does): the role statements of
            // the fixture's own reference, written that way, stand in for that part.
            let own = std::fs::read_to_string(project.reference_path().unwrap()).unwrap();
            let roles: Vec<&str> = own.lines().filter(|l| role_statement.is_match(l)).collect();
            assert!(!roles.is_empty(), "{fixture}: compare_roles, but its reference creates no role");
            dump = format!("{}\n{dump}", roles.join("\n"));
        }
        let copy = common::copy_of(Path::new(fixture));
        let reference = project.config.reference.clone().unwrap_or_else(|| "schema.sql".into());
        std::fs::write(copy.path().join(reference), &dump).unwrap();
        if dump.contains("FOR ROLE postgres") {
            // Even with --no-owner, pg_dump writes default privileges for the role that made
            // them, here the superuser migrate() ran as: only a superuser may set those.
            let config = copy.path().join("pgconverge.toml");
            let text = std::fs::read_to_string(&config).unwrap_or_default();
            std::fs::write(&config, format!("trust = \"superuser\"\n{text}")).unwrap();
        }
        let run = pgconverge(&["check", copy.path().to_str().unwrap(), "--properties", "fresh", "--database-url", &url, "--no-persist"]);
        if run.code != 0 {
            problems.push(format!("{fixture} against its pg_dump: exit {}\n{}{}", run.code, run.stdout, run.stderr));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// `pg_dump --schema-only` of one database of the cluster, by the pg_dump installed next to the
/// cluster's server (`/usr/local/bin` may hold only links to the server's own programs).
fn pg_dump(cluster: &EmbeddedCluster, database: &str) -> String {
    let binaries = cluster.binaries();
    let server = std::fs::canonicalize(binaries.bin_dir.join("postgres")).unwrap();
    let pg_dump = server.with_file_name("pg_dump");
    let library_path = std::env::join_paths(&binaries.lib_dirs).unwrap();
    let output = Command::new(&pg_dump)
        .args([
            "--schema-only",
            "--no-owner",
            "--host",
            cluster.dir().to_str().unwrap(),
            "--port",
            "5432",
            "--username",
            "postgres",
            database,
        ])
        .env("LD_LIBRARY_PATH", library_path)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", pg_dump.display()));
    assert!(output.status.success(), "pg_dump failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}
