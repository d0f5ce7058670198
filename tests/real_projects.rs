//! Real projects as they are: custom layouts, setup SQL, templating, ledgers, the command
//! adapter, nondeterminism, and `init`.

mod common;

use std::path::Path;

use common::{pgconverge, pgconverge_embedded};

const LAYOUTS: [&str; 5] = [
    "fixtures/layouts/manifest_numeric",
    "fixtures/layouts/custom_pattern",
    "fixtures/layouts/templated",
    "fixtures/layouts/ledger_trigger",
    "fixtures/layouts/command_adapter",
];

#[test]
fn every_layout_converges_without_edits_to_its_sql() {
    for dir in LAYOUTS {
        let args = ["check", dir, "--cases", "24", "--no-persist", "--seed", "2"];
        // The command runner needs the embedded backend: a URL's password is not passed to commands.
        let run = if dir.ends_with("command_adapter") { pgconverge_embedded(&args) } else { pgconverge(&args) };
        assert_eq!(run.code, 0, "{dir}:\n{}{}", run.stdout, run.stderr);
    }
}

#[test]
fn manifest_versions_sort_numerically() {
    let run = pgconverge(&["check", "fixtures/layouts/manifest_numeric", "--properties", "fresh", "--format", "json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let ids: Vec<String> = report["migration_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    let dirs: Vec<&str> = ids.iter().map(|id| id.split('/').next().unwrap()).collect();
    let first_of = |d: &str| dirs.iter().position(|x| *x == d).unwrap();
    assert!(first_of("v1.2") < first_of("v1.9") && first_of("v1.9") < first_of("v1.10"), "{ids:?}");
}

#[test]
fn the_command_adapter_drives_the_projects_own_migrator() {
    let run = pgconverge_embedded(&["check", "fixtures/layouts/command_adapter", "--format", "json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["format"], "command");
    let status = |p: &str| report["verdicts"].as_array().unwrap().iter().find(|v| v["property"] == p).unwrap()["status"].clone();
    assert_eq!(status("fresh"), "pass");
    assert_eq!(status("partial"), "pass");
    // Statement-level properties are reported as not applicable, not silently left out.
    for property in ["idempotent", "order", "interrupt"] {
        assert_eq!(status(property), "skipped", "{property}");
    }
}

#[test]
fn a_frozen_now_is_nondeterministic_and_does_not_hide_the_real_bug() {
    let run = pgconverge(&["check", "fixtures/nondeterministic", "--properties", "fresh", "--format", "json"]);
    assert_eq!(run.code, 1, "the planted bug is still a counterexample: {}{}", run.stdout, run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["nondeterministic"], serde_json::json!(["view public.v"]));
    let differences = report["verdicts"][0]["failure"]["differences"].as_array().unwrap();
    assert_eq!(differences.len(), 1, "only the real bug: {differences:?}");
    assert_eq!(differences[0]["object"], "public.events.kind");

    // With the bug fixed, what remains is the nondeterministic view: exit 4, its own meaning.
    let fixed = copy_fixture("fixtures/nondeterministic");
    let schema = fixed.path().join("schema.sql");
    let text = std::fs::read_to_string(&schema).unwrap();
    std::fs::write(&schema, text.replace("DEFAULT 'view'", "DEFAULT 'click'")).unwrap();
    let run = pgconverge(&["check", fixed.path().to_str().unwrap(), "--properties", "fresh"]);
    assert_eq!(run.code, 4, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("view public.v"), "{}", run.stdout);
}

#[test]
fn init_writes_a_config_with_which_check_passes() {
    // init does not guess a migrator: for the command-adapter fixture it finds its SQL
    // migrations and reference, and pgconverge runs those itself.
    for dir in LAYOUTS {
        let copy = copy_fixture(dir);
        std::fs::remove_file(copy.path().join("pgconverge.toml")).unwrap();
        let init = pgconverge(&["init", copy.path().to_str().unwrap()]);
        assert_eq!(init.code, 0, "{dir}: {}{}", init.stdout, init.stderr);
        assert!(init.stdout.contains("wrote"), "{dir}: {}", init.stdout);
        let again = pgconverge(&["init", copy.path().to_str().unwrap()]);
        assert_eq!(again.code, 2, "{dir}: init refuses to overwrite without --force");
        let run =
            pgconverge(&["check", copy.path().to_str().unwrap(), "--cases", "16", "--no-persist", "--properties", "fresh,partial,order"]);
        assert_eq!(
            run.code,
            0,
            "{dir}:\n{}\n{}{}",
            std::fs::read_to_string(copy.path().join("pgconverge.toml")).unwrap(),
            run.stdout,
            run.stderr
        );
    }
}

#[test]
fn github_annotations_point_at_the_migration_file_and_line() {
    let run = pgconverge(&["check", "fixtures/divergent/guard_wrong_name", "--properties", "fresh,idempotent", "--format", "github"]);
    assert_eq!(run.code, 1);
    let error = run.stdout.lines().find(|l| l.starts_with("::error ")).expect("an error annotation");
    assert!(
        error.starts_with(
            "::error file=fixtures/divergent/guard_wrong_name/migrations/20260216000001_create_ai_provider_configs.sql,line=9,col=5,"
        ),
        "{error}"
    );
}

#[test]
fn junit_output_has_one_test_case_per_property() {
    let run = pgconverge(&["check", "fixtures/divergent/default_mismatch", "--properties", "fresh,idempotent", "--format", "junit"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout.matches("<testcase ").count(), 2, "{}", run.stdout);
    assert_eq!(run.stdout.matches("<failure ").count(), 1, "{}", run.stdout);
}

fn copy_fixture(dir: &str) -> tempfile::TempDir {
    let target = tempfile::tempdir().unwrap();
    copy_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir).as_path(), target.path());
    target
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        let destination = to.join(entry.file_name());
        if path.is_dir() {
            std::fs::create_dir_all(&destination).unwrap();
            copy_dir(&path, &destination);
        } else {
            std::fs::copy(&path, &destination).unwrap();
        }
    }
}
