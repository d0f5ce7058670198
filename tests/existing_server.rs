//! The existing-server backend: it creates and drops only its own `pgconverge_*` databases and
//! leaves everything else on the server as it was.

use pgconverge::runner::{Backend, EmbeddedCluster};
use pgconverge::{Check, Property};
use sqlx::{Connection, Executor};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_backend_leaves_no_database_behind_and_touches_no_other() {
    let cluster = EmbeddedCluster::start().await.unwrap();
    let url = format!("postgres://postgres@localhost/postgres?host={}&port=5432", cluster.dir().display());
    let mut admin = sqlx::PgConnection::connect_with(&cluster.admin_options()).await.unwrap();
    admin.execute("CREATE DATABASE users_own_db").await.unwrap();
    {
        let mut own = sqlx::PgConnection::connect_with(&cluster.admin_options().database("users_own_db")).await.unwrap();
        own.execute("CREATE TABLE precious (id int); INSERT INTO precious VALUES (42)").await.unwrap();
        own.close().await.unwrap();
    }

    // Every property, generated cases included, on the existing server.
    let passing = Check::new("fixtures/k12_lms").database_url(url.clone()).cases(16).no_persistence().run_async().await.unwrap();
    assert!(passing.converges());
    let failing =
        Check::new("fixtures/divergent/guard_wrong_name").database_url(url.clone()).cases(16).no_persistence().run_async().await.unwrap();
    assert!(!failing.converges());
    let bad = Check::new("fixtures/bad_input/reference_syntax_error").database_url(url).run_async().await;
    assert!(bad.is_err());

    let leftovers: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE 'pgconverge%'").fetch_all(&mut admin).await.unwrap();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    let mut own = sqlx::PgConnection::connect_with(&cluster.admin_options().database("users_own_db")).await.unwrap();
    let kept: i32 = sqlx::query_scalar("SELECT id FROM precious").fetch_one(&mut own).await.unwrap();
    assert_eq!(kept, 42);
}

/// A worker keeps one warm database and recycles it every 64 judged cases (rollback, VACUUM,
/// a new transaction): the cases after a recycling still converge, and the database is gone
/// when the check returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recycled_warm_database_is_dropped() {
    let cluster = EmbeddedCluster::start().await.unwrap();
    let url = format!("postgres://postgres@localhost/postgres?host={}&port=5432", cluster.dir().display());
    let mut admin = sqlx::PgConnection::connect_with(&cluster.admin_options()).await.unwrap();
    let report = Check::new("fixtures/k12_lms")
        .database_url(url)
        .properties([Property::Order])
        .cases(400)
        .seed(7)
        .jobs(1)
        .no_persistence()
        .run_async()
        .await
        .unwrap();
    assert!(report.converges());
    let timing = report.verdicts.iter().find_map(|v| v.timing.clone()).expect("the order property's timing");
    assert_eq!(timing.warm_databases, 1, "{timing:?}");
    assert!(timing.recycled >= 2, "{timing:?}");
    assert!(timing.judged > 128, "{timing:?}");
    let leftovers: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE 'pgconverge%'").fetch_all(&mut admin).await.unwrap();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_cluster_directory_is_removed_on_drop() {
    let cluster = EmbeddedCluster::start().await.unwrap();
    let dir = cluster.dir().to_path_buf();
    assert!(dir.join("data/PG_VERSION").is_file());
    drop(cluster);
    assert!(!dir.exists(), "{} still exists", dir.display());
}
