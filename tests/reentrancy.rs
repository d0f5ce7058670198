//! Re-entrant migrations are never skipped in silence: `init` lists the guarded ones under
//! `idempotent` (each with a comment saying how it is guarded), and `check` notes a guarded
//! migration that `idempotent` leaves out, which the idempotent property would never re-run.

mod common;

use std::path::Path;

use common::pgconverge;
use pgconverge::project::config::{Config, Idempotent};

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn versions(list: &[&str]) -> Idempotent {
    Idempotent::Versions(list.iter().map(|v| v.to_string()).collect())
}

/// k12_lms lists its seven guarded migrations by hand; init finds the same seven.
#[test]
fn init_lists_the_guarded_migrations_k12_lms_lists_by_hand() {
    let copy = common::copy_of(Path::new("fixtures/k12_lms"));
    std::fs::remove_file(copy.path().join("pgconverge.toml")).unwrap();
    let outcome = pgconverge::init(copy.path(), false).unwrap();
    let written = Config::load(copy.path()).unwrap();
    let by_hand = Config::load(Path::new("fixtures/k12_lms")).unwrap();
    assert_eq!(written.idempotent, by_hand.idempotent);
    let text = std::fs::read_to_string(copy.path().join("pgconverge.toml")).unwrap();
    assert!(
        text.contains("    \"20260216000002\", # 20260216000002_create_ai_task_policies.sql: CREATE TABLE IF NOT EXISTS, CREATE INDEX IF NOT EXISTS, DO: IF over pg_constraint\n"),
        "{text}"
    );
    let guesses = outcome.guesses.join("\n");
    assert!(guesses.contains("idempotent: 20260216000001, 20260216000002, "), "{guesses}");
}

/// Only migrations whose every statement is guarded are listed; a partly guarded one is named
/// in the guesses instead. The list goes before `[substitutions]`, so the file stays valid TOML.
#[test]
fn init_lists_only_the_fully_guarded_migrations_of_a_mixed_project() {
    let dir = project(&[
        ("migrations/0001_users.sql", "CREATE TABLE users (id bigint PRIMARY KEY);\n"),
        (
            "migrations/0002_audit.sql",
            "CREATE SCHEMA IF NOT EXISTS {{ .Schema }};\nCREATE TABLE IF NOT EXISTS {{ .Schema }}.audit (id bigint);\n\
             CREATE INDEX IF NOT EXISTS audit_id ON {{ .Schema }}.audit (id);\n",
        ),
        (
            "migrations/0003_email.sql",
            "ALTER TABLE users ADD COLUMN IF NOT EXISTS email text;\nALTER TABLE users ADD CONSTRAINT users_email UNIQUE (email);\n",
        ),
        (
            "migrations/0004_mood.sql",
            "DO $$\nBEGIN\n    CREATE TYPE mood AS ENUM ('ok');\nEXCEPTION WHEN duplicate_object THEN NULL;\nEND\n$$;\n",
        ),
    ]);
    let outcome = pgconverge::init(dir.path(), false).unwrap();
    let text = std::fs::read_to_string(dir.path().join("pgconverge.toml")).unwrap();
    insta::assert_snapshot!(text);
    let config = Config::load(dir.path()).unwrap();
    assert_eq!(config.idempotent, versions(&["0002", "0004"]));
    assert_eq!(config.substitutions["{{ .Schema }}"], "pgconverge_schema");
    let guesses = outcome.guesses.join("\n");
    assert!(
        guesses.contains(
            "note: 0003_email.sql is partly guarded, so not listed as idempotent: line 2 (ALTER TABLE users ADD CONSTRAINT users_email UNIQUE (email)) has no guard"
        ),
        "{guesses}"
    );
    assert!(!guesses.contains("warning"), "{guesses}");
    pgconverge::Project::load(dir.path()).unwrap();
}

/// A guarded migration that `idempotent` leaves out is named in the report's notes (human and
/// JSON); listed, it is not.
#[test]
fn check_notes_a_guarded_migration_idempotent_leaves_out() {
    let dir = project(&[
        ("migrations/0001_users.sql", "CREATE TABLE users (id bigint PRIMARY KEY);\n"),
        ("migrations/0002_audit.sql", "CREATE TABLE IF NOT EXISTS audit (id bigint);\nCOMMENT ON TABLE audit IS 'who did what';\n"),
    ]);
    let path = dir.path().to_str().unwrap();
    let note = "1 migration looks re-entrant but is not listed in `idempotent`: 0002_audit.sql \
                (list its version in pgconverge.toml to check that running it again changes nothing)";

    let human = pgconverge(&["check", path, "--properties", "fresh", "--no-persist"]);
    assert_eq!(human.code, 0, "{}{}", human.stdout, human.stderr);
    assert!(human.stdout.contains(&format!("  note: {note}\n")), "{}", human.stdout);

    let json = pgconverge(&["check", path, "--properties", "fresh", "--format", "json", "--no-persist"]);
    assert_eq!(json.code, 0, "{}{}", json.stdout, json.stderr);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON report");
    assert_eq!(report["notes"], serde_json::json!([note]));

    std::fs::write(dir.path().join("pgconverge.toml"), "idempotent = [\"0002\"]\n").unwrap();
    let listed = pgconverge(&["check", path, "--properties", "fresh", "--format", "json", "--no-persist"]);
    assert_eq!(listed.code, 0, "{}{}", listed.stdout, listed.stderr);
    let report: serde_json::Value = serde_json::from_str(&listed.stdout).expect("JSON report");
    assert_eq!(report.get("notes"), None, "{report:#}");
}
