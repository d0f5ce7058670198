//! Verdicts a team can act on without a second look: what looks like a failure but is not one
//! (nondeterminism part way through a history), a property that cannot run all of its cases
//! (incomplete, never a pass and never lost), and files a manifest leaves out on purpose.

mod common;

use common::pgconverge;

/// A view froze `'now'` in the middle of the history and a later migration replaced it: the
/// reversible property compares catalogs part way through, where two runs of the same down
/// differ only in the frozen timestamp. That is nondeterminism (exit 4), not a counterexample.
#[test]
fn nondeterminism_part_way_through_a_history_is_not_a_counterexample() {
    let run = pgconverge(&["check", "fixtures/nondeterministic_midway", "--format", "json", "--cases", "16", "--no-persist"]);
    assert_eq!(run.code, 4, "{}{}", run.stdout, run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON report");
    assert_eq!(report["status"], "nondeterministic");
    assert_eq!(report["nondeterministic"], serde_json::json!(["view public.stamp"]));
    let reversible = report["verdicts"].as_array().unwrap().iter().find(|v| v["property"] == "reversible").unwrap();
    assert_eq!(reversible["status"], "pass", "{reversible}");
    assert_eq!(reversible["cases"], 4, "three up/down pairs and the whole set undone");
}

/// A start state that cannot be built (a dependency hidden in dynamic SQL) makes the property
/// incomplete: exit 3 and the reason, never a pass, and never a proptest abort that loses the
/// other verdicts. With the order property beside it, its counterexample still decides (exit 1).
#[test]
fn unbuildable_start_states_make_a_property_incomplete_not_a_pass_or_an_abort() {
    let dir = "fixtures/divergent/dynamic_sql_dependency";
    let run =
        pgconverge(&["check", dir, "--properties", "fresh,partial", "--format", "json", "--cases", "64", "--seed", "1", "--no-persist"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON report");
    assert_eq!(report["status"], "incomplete");
    let verdicts = report["verdicts"].as_array().unwrap();
    assert_eq!(verdicts[0]["status"], "pass", "fresh is still reported");
    assert_eq!(verdicts[1]["status"], "incomplete");
    let summary = verdicts[1]["summary"].as_str().unwrap();
    assert!(summary.contains("could not build their start state") && summary.contains("relation \"settings\" does not exist"), "{summary}");

    let human = pgconverge(&["check", dir, "--properties", "partial,order", "--cases", "64", "--seed", "1", "--no-persist"]);
    assert_eq!(human.code, 1, "the order counterexample decides: {}", human.stdout);
    assert!(human.stdout.contains("  inc.  partial") && human.stdout.contains("  FAIL  order"), "{}", human.stdout);
}

/// `manifest_unlisted = "ignore"`: files a manifest deliberately leaves out are not migrations,
/// and the report says which were left out (never a silent skip); without it they are an error.
#[test]
fn files_a_manifest_leaves_out_on_purpose_are_reported() {
    let run = pgconverge(&["check", "fixtures/manifest_unlisted", "--properties", "fresh,order", "--cases", "8", "--no-persist"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("2 migrations (plain)"), "{}", run.stdout);
    assert!(
        run.stdout.contains("note: 2 files not listed in a manifest and left out (manifest_unlisted = \"ignore\"): v1/a.sql, v1/b.sql"),
        "{}",
        run.stdout
    );

    let copy = common::copy_of(std::path::Path::new("fixtures/manifest_unlisted"));
    std::fs::write(copy.path().join("pgconverge.toml"), "order = \"manifest\"\n").unwrap();
    let strict = pgconverge(&["check", copy.path().to_str().unwrap(), "--no-persist"]);
    assert_eq!(strict.code, 2, "{}{}", strict.stdout, strict.stderr);
    assert!(
        strict.stderr.contains("v1/a.sql: not listed in the manifest") && strict.stderr.contains("manifest_unlisted"),
        "{}",
        strict.stderr
    );
}

/// A migration that needs an extension the server build lacks is the machine's setup, not a
/// counterexample: exit 3 naming the extension. (`pg_no_such_extension` stands for pgcrypto on
/// a build without contrib.)
#[test]
fn a_missing_extension_is_an_infrastructure_error_naming_it() {
    let expect = common::expectation(std::path::Path::new("fixtures/missing_extension"));
    let expected = common::expected_str(&expect, "error").unwrap();
    let run = pgconverge(&["check", "fixtures/missing_extension", "--format", "json", "--no-persist"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON error");
    assert_eq!(report["error"], "infrastructure");
    let message = report["message"].as_str().unwrap();
    assert!(message.starts_with(expected), "{message}");
    assert!(message.contains("pgconverge doctor") && !message.contains(" at line "), "{message}");
}

/// An `extensions` entry the server does not have (a typo) is the user's input: exit 2 naming
/// the config file, the key and the name.
#[test]
fn an_unknown_configured_extension_is_an_input_error_naming_the_config() {
    let copy = common::copy_of(std::path::Path::new("fixtures/k12_lms"));
    let config = copy.path().join("pgconverge.toml");
    std::fs::write(&config, "extensions = [\"typo\"]\n").unwrap();
    let run = pgconverge(&["check", copy.path().to_str().unwrap(), "--format", "json", "--no-persist"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON error");
    assert_eq!(report["error"], "input");
    let message = report["message"].as_str().unwrap();
    assert!(message.starts_with(&format!("{}: `extensions` names \"typo\"", config.display())), "{message}");
    assert!(!message.contains(" at line "), "{message}");
}

/// `doctor` lists what each usable server build can create, read from its control files.
#[test]
fn doctor_lists_each_server_builds_extensions() {
    let run = pgconverge(&["doctor", "--format", "json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON doctor report");
    let binaries = report["embedded"]["binaries"].as_array().unwrap();
    assert!(!binaries.is_empty(), "{}", run.stdout);
    for build in binaries.iter().filter(|b| b["source"] == "installed") {
        let extensions: Vec<&str> = build["extensions"].as_array().unwrap().iter().filter_map(|e| e.as_str()).collect();
        assert!(extensions.contains(&"plpgsql"), "every build has plpgsql: {build}");
    }
}

/// `dump` and `diff` prepare a scratch database exactly as `check` does (setup files, ledger,
/// extensions), and a migration that fails there is the user's input to fix: exit 2 at its
/// file:line:col, not an infrastructure error.
#[test]
fn dump_and_diff_prepare_like_check_and_a_failing_migration_is_input() {
    for dir in ["fixtures/layouts/templated", "fixtures/layouts/ledger_trigger"] {
        let run = pgconverge(&["dump", dir, "--source", "migrations"]);
        assert_eq!(run.code, 0, "{dir}: {}{}", run.stdout, run.stderr);
        assert!(
            !run.stdout.contains("role app_reader") && !run.stdout.contains("__diesel_schema_migrations"),
            "{dir}: setup and ledger objects are left out:\n{}",
            run.stdout
        );
        let diff = pgconverge(&["diff", dir, dir, "--source", "migrations"]);
        assert_eq!(diff.code, 0, "{dir}: {}{}", diff.stdout, diff.stderr);
    }
    let templated = pgconverge(&["dump", "fixtures/layouts/templated", "--source", "migrations"]);
    assert!(templated.stdout.contains("myapp."), "{}", templated.stdout);

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("migrations")).unwrap();
    std::fs::write(dir.path().join("migrations/1_a.sql"), "CREATE TABLE a (id int);\n").unwrap();
    std::fs::write(dir.path().join("migrations/2_b.sql"), "-- needs c\nCREATE VIEW b AS\n  SELECT * FROM c;\n").unwrap();
    let project = dir.path().to_str().unwrap();
    for args in [vec!["dump", project, "--source", "migrations"], vec!["diff", project, project, "--source", "migrations"]] {
        let run = pgconverge(&args);
        assert_eq!(run.code, 2, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("migrations/2_b.sql:3:17: migration 2_b fails"), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("relation \"c\" does not exist"), "{}", run.stderr);
    }
}

/// golang-migrate keeps one version number: it never runs a migration older than one applied,
/// so its start states are prefixes and it has no other order. Exploring orders it cannot run
/// would be a false alarm (found on a real history: enum labels added in separate migrations);
/// `out_of_order = true` says the migrator does run them, and then the same set fails `order`.
#[test]
fn an_in_order_only_migrator_gets_no_orders_it_cannot_run() {
    let run = pgconverge(&["check", "fixtures/in_order_only", "--format", "json", "--cases", "32", "--seed", "1", "--no-persist"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["format"], "golang-migrate");
    let verdict = |p: &str| report["verdicts"].as_array().unwrap().iter().find(|v| v["property"] == p).unwrap().clone();
    assert_eq!(verdict("partial")["status"], "pass");
    assert_eq!(verdict("order")["status"], "skipped");
    assert!(verdict("order")["summary"].as_str().unwrap().contains("version order only"), "{}", verdict("order"));

    let copy = common::copy_of(std::path::Path::new("fixtures/in_order_only"));
    std::fs::write(copy.path().join("pgconverge.toml"), "out_of_order = true\n").unwrap();
    let run = pgconverge(&["check", copy.path().to_str().unwrap(), "--format", "json", "--cases", "64", "--seed", "1", "--no-persist"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let failed: Vec<&str> =
        report["verdicts"].as_array().unwrap().iter().filter(|v| v["status"] == "fail").filter_map(|v| v["property"].as_str()).collect();
    assert!(failed.contains(&"order"), "{failed:?}");
}
