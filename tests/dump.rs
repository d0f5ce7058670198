//! `pgconverge dump` and `diff`: canonical, byte-stable, independent of creation order.

mod common;

use common::pgconverge;
use pgconverge::migration::Script;
use pgconverge::project::read_reference;

#[test]
fn k12_dump_is_byte_identical_across_runs_and_creation_orders() {
    let first = pgconverge(&["dump", "fixtures/k12_lms"]);
    let second = pgconverge(&["dump", "fixtures/k12_lms"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.stdout.len() > 1000);
    assert_eq!(first.stdout, second.stdout);
    // The migrations build the same schema in another order (inline constraints, DO blocks).
    let migrations = pgconverge(&["dump", "fixtures/k12_lms", "--source", "migrations"]);
    assert_eq!(migrations.code, 0, "{}", migrations.stderr);
    pretty_assertions::assert_eq!(first.stdout, migrations.stdout);
    // And the reference with its tables created in reverse order.
    let shuffled = shuffled_k12_project();
    let reordered = pgconverge(&["dump", shuffled.path().to_str().unwrap()]);
    assert_eq!(reordered.code, 0, "{}", reordered.stderr);
    pretty_assertions::assert_eq!(first.stdout, reordered.stdout);
}

/// A copy of fixtures/k12_lms whose schema.sql creates its tables first, in reverse order.
fn shuffled_k12_project() -> tempfile::TempDir {
    let reference: Script = read_reference(std::path::Path::new("fixtures/k12_lms/schema.sql")).unwrap();
    let (mut tables, rest): (Vec<&str>, Vec<&str>) = reference
        .statements
        .iter()
        .map(|s| s.sql.as_str())
        .partition(|sql| sql.starts_with("CREATE TABLE"));
    assert!(tables.len() >= 10);
    tables.reverse();
    let sql: String = tables.into_iter().chain(rest).map(|s| format!("{s};\n")).collect();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("schema.sql"), sql).unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    std::fs::write(migrations.join("1_noop.sql"), "SELECT 1;\n").unwrap();
    dir
}

#[test]
fn k12_dump_snapshot() {
    let run = pgconverge(&["dump", "fixtures/k12_lms"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("k12_lms_reference_dump", run.stdout);
}

#[test]
fn json_dumps_round_trip_through_diff() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference.json");
    let diverged = dir.path().join("diverged.json");
    let run = pgconverge(&["dump", "fixtures/divergent/default_mismatch", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    std::fs::write(&reference, &run.stdout).unwrap();
    let run = pgconverge(&["dump", "fixtures/divergent/default_mismatch", "--source", "migrations", "--format", "json"]);
    std::fs::write(&diverged, &run.stdout).unwrap();

    let same = pgconverge(&["diff", reference.to_str().unwrap(), reference.to_str().unwrap()]);
    assert_eq!((same.code, same.stdout.as_str()), (0, "no differences\n"));
    let different = pgconverge(&["diff", reference.to_str().unwrap(), diverged.to_str().unwrap()]);
    assert_eq!(different.code, 1);
    assert_eq!(
        different.stdout,
        "column public.ai_provider_configs.status: default 'inactive'::varchar expected, 'active'::varchar found\n"
    );
}

#[test]
fn diff_of_two_directories() {
    let run = pgconverge(&["diff", "fixtures/k12_lms", "fixtures/divergent/guard_wrong_name", "--source", "reference"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains("table public.lti_registrations: expected, not found"), "{}", run.stdout);
}
