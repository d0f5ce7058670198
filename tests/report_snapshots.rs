//! Snapshots of the CLI's reports for a planted bug of each kind of failure.

mod common;

use common::pgconverge;

fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    // The backend line names this machine's server binaries and version, or the shared server's
    // socket directory.
    settings.add_filter(r"embedded PostgreSQL [0-9.]+ \([^)]*\)", "[backend]");
    settings.add_filter(r"server at postgres://\S+", "[backend]");
    settings
}

#[test]
fn divergence_report() {
    let run = pgconverge(&["check", "fixtures/divergent/default_mismatch", "--color", "never", "--properties", "fresh,idempotent"]);
    assert_eq!(run.code, 1);
    settings().bind(|| insta::assert_snapshot!("default_mismatch_human", run.stdout));
}

#[test]
fn statement_failure_report() {
    let run = pgconverge(&["check", "fixtures/divergent/guard_wrong_name", "--color", "never", "--properties", "fresh,idempotent"]);
    assert_eq!(run.code, 1);
    settings().bind(|| insta::assert_snapshot!("guard_wrong_name_human", run.stdout));
}

#[test]
fn json_report() {
    let run = pgconverge(&["check", "fixtures/divergent/missing_index", "--format", "json", "--properties", "fresh,idempotent"]);
    assert_eq!(run.code, 1);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    insta::assert_json_snapshot!("missing_index_json", value, {
        ".backend" => "[backend]",
        ".server_version" => "[version]",
    });
}

#[test]
fn every_failing_reentrant_migration_report() {
    let run = pgconverge(&["check", "fixtures/divergent/three_broken_reentrant", "--color", "never", "--properties", "fresh,idempotent"]);
    assert_eq!(run.code, 1);
    settings().bind(|| insta::assert_snapshot!("three_broken_reentrant_human", run.stdout));
}
