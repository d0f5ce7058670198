//! The library API as a project's own `cargo test` would call it.

mod common;

use pgconverge::{Check, Failure, Property, VerdictStatus};

#[test]
fn one_liner_proves_k12() {
    // The one-liner runs every default property (and would save failing seeds under
    // fixtures/k12_lms/proptest-regressions; k12 converges, so nothing is written).
    let report = pgconverge::check("fixtures/k12_lms").expect("the check decides");
    assert!(report.converges(), "{}", pgconverge::report::human(&report, false));
    assert_eq!(report.migrations, 10);
    assert!(report.verdicts.iter().all(|v| v.status != VerdictStatus::Fail));
    assert!(!std::path::Path::new("fixtures/k12_lms/proptest-regressions").exists());
}

#[test]
fn builder_selects_properties_and_reports_the_counterexample() {
    let _slot = common::shared_server_slot();
    let report = Check::new("fixtures/divergent/unguarded_index_after_guarded_table")
        .database_url(common::shared_server_url())
        .properties([Property::Idempotent])
        .run()
        .expect("the check decides");
    assert!(!report.converges());
    let verdict = report.failures().next().expect("one failure");
    match verdict.failure.as_ref().unwrap() {
        Failure::StatementFailed { migration, error, location, .. } => {
            assert_eq!(migration, "20260216000002_create_ai_task_policies");
            assert_eq!(error.code, "42P07", "relation already exists");
            assert!(location.file.ends_with("20260216000002_create_ai_task_policies.sql"));
        }
        other => panic!("expected a statement failure, got {other:?}"),
    }
}

#[test]
fn input_errors_are_errors_not_verdicts() {
    let error = pgconverge::check("fixtures/bad_input/syntax_error").expect_err("bad input");
    assert_eq!(error.kind(), pgconverge::ErrorKind::Input, "{error}");
}

#[test]
fn a_server_choice_that_cannot_work_is_an_input_error() {
    use pgconverge::{BackendChoice, ErrorKind};
    let error = Check::new("fixtures/k12_lms").backend(BackendChoice::Url).run().expect_err("no URL");
    assert_eq!((error.kind(), error.kind().exit_code()), (ErrorKind::Input, 2), "{error}");
    let error = Check::new("fixtures/k12_lms").backend(BackendChoice::Container).image("postgres:latest").run().expect_err("latest");
    assert_eq!(error.kind(), ErrorKind::Input, "{error}");
}

#[tokio::test]
async fn check_works_inside_a_tokio_test() {
    // The synchronous call from inside a runtime (it runs on a thread of its own) ...
    let report = Check::new("fixtures/k12_lms").properties([Property::Fresh]).no_persistence().run().expect("the check decides");
    assert!(report.converges(), "{}", pgconverge::report::human(&report, false));
    // ... and the async one on the test's own runtime.
    let report =
        Check::new("fixtures/k12_lms").properties([Property::Fresh]).no_persistence().run_async().await.expect("the check decides");
    assert!(report.converges(), "{}", pgconverge::report::human(&report, false));
}

#[test]
fn a_cancelled_check_stops_and_the_next_check_in_the_process_still_runs() {
    let cancel = pgconverge::CancellationToken::new();
    let check =
        Check::new("fixtures/k12_lms").properties([Property::Order]).cases(100_000).jobs(1).no_persistence().cancel_on(cancel.clone());
    let started = std::time::Instant::now();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(4));
        cancel.cancel();
    });
    let error = check.run().expect_err("a cancelled check decides nothing");
    canceller.join().unwrap();
    assert!(error.to_string().contains("interrupted"), "{error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "took {:?} to stop", started.elapsed());
    // Cancellation belongs to that check alone: a new one in the same process runs.
    let report = Check::new("fixtures/k12_lms").properties([Property::Fresh]).no_persistence().run().expect("the next check decides");
    assert!(report.converges(), "{}", pgconverge::report::human(&report, false));
}

/// `assert_converges` is the one line a project's test needs: silent when the set converges.
#[test]
fn assert_converges_passes_on_a_converging_set() {
    pgconverge::assert_converges("fixtures/branches");
}

/// It panics with the human report (the failing property and object) when the set does not
/// converge; from a `#[tokio::test]` as well.
#[tokio::test]
async fn assert_converges_panics_with_the_report_inside_an_async_test() {
    let caught = std::panic::catch_unwind(|| pgconverge::assert_converges("fixtures/divergent/default_mismatch"));
    let message = match caught {
        Ok(()) => panic!("a divergent set passed assert_converges"),
        Err(payload) => payload.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert!(message.contains("does not converge (counterexample, exit 1"), "{message}");
    assert!(message.contains("public.ai_provider_configs.status"), "{message}");
}

#[test]
fn the_library_and_the_cli_choose_the_same_backend_by_default_and_say_why() {
    // Neither names a backend: both take `auto`, by one rule. The CLI gets the URL exactly when
    // this process has one (the library reads it from the environment).
    let report = Check::new("fixtures/k12_lms").properties([Property::Fresh]).no_persistence().run().expect("the check decides");
    let url = std::env::var("PGCONVERGE_DATABASE_URL").ok().filter(|u| !u.is_empty());
    let mut cli = std::process::Command::new(env!("CARGO_BIN_EXE_pgconverge"));
    cli.args(["check", "fixtures/k12_lms", "--properties", "fresh", "--no-persist", "--format", "json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("PGCONVERGE_BACKEND")
        .env_remove("PGCONVERGE_DATABASE_URL");
    if let Some(url) = &url {
        cli.env("PGCONVERGE_DATABASE_URL", url);
    }
    let output = cli.output().expect("the pgconverge binary runs");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("a JSON report");

    let reason = report.backend_reason.as_deref().expect("the library's report says why");
    assert_eq!(json["backend_reason"].as_str(), Some(reason));
    assert_eq!(json["backend"].as_str(), Some(report.backend.as_str()));
    match url {
        Some(_) => assert_eq!(reason, "url: --database-url given"),
        None => assert!(reason.starts_with("embedded: PostgreSQL ") && reason.contains(" binaries found in /"), "{reason}"),
    }
}
