//! Repro scripts run anywhere: every repro script a divergent fixture produces, run with
//! `psql -X -v ON_ERROR_STOP=1 -f` on a brand-new empty database, ends in the case's own failure
//! (the server's error, or pgconverge's check raising the difference), never in a syntax error.
//! And a project whose migrations directory is its root reads none of what a check wrote.

mod common;

use std::path::{Path, PathBuf};

use common::{expectation, expected_str, fixture_cases, pgconverge, run_with_psql};

/// A report's failing verdicts that name a repro script: (property, failure, script).
fn repros(report: &serde_json::Value) -> Vec<(String, serde_json::Value, PathBuf)> {
    let verdicts = report["verdicts"].as_array().expect("verdicts");
    verdicts
        .iter()
        .filter_map(|v| {
            let script = v["case"]["repro"].as_str()?;
            Some((v["property"].as_str().unwrap().to_string(), v["failure"].clone(), PathBuf::from(script)))
        })
        .collect()
}

/// Whether the case's pgconverge.toml names a runner other than pgconverge's own (`sql`).
fn runs_own_migrator(case: &Path) -> bool {
    common::configured_runner(case).is_some_and(|runner| runner != "sql")
}

#[test]
fn every_repro_script_of_a_divergent_fixture_ends_in_the_same_failure() {
    let mut problems = Vec::new();
    let mut reproduced = Vec::new();
    for case in fixture_cases("divergent") {
        // A case the project's own migrator runs (`runner = "rails"`, ...) has no SQL to write out:
        // its counterexamples come without a repro script (tests/rails.rs covers those cases).
        if runs_own_migrator(&case) {
            continue;
        }
        let out = tempfile::tempdir().unwrap();
        let mut args = vec!["check", case.to_str().unwrap(), "--format", "json", "--cases", "64", "--seed", "1", "--no-persist"];
        args.extend(["--repro-dir", out.path().to_str().unwrap()]);
        let expect = expectation(&case);
        if let Some(granularity) = expected_str(&expect, "granularity") {
            args.extend(["--granularity", granularity]);
        }
        let run = pgconverge(&args);
        assert_eq!(run.code, 1, "{}: {}{}", case.display(), run.stdout, run.stderr);
        let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("a JSON report");
        for (property, failure, script) in repros(&report) {
            let name = format!("{} ({property})", case.display());
            assert!(script.starts_with(out.path()), "{name}: the script goes to --repro-dir: {}", script.display());
            let text = std::fs::read_to_string(&script).unwrap_or_else(|e| panic!("{name}: {}: {e}", script.display()));
            let (code, stderr) = run_with_psql(&script);
            // What psql must say: the server's own error, or pgconverge's check naming each
            // difference.
            let expected: Vec<String> = match failure["kind"].as_str() {
                Some("statement_failed") => vec![format!("ERROR:  {}", failure["error"]["message"].as_str().unwrap())],
                Some("diverged") => failure["differences"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| format!("pgconverge: {} {}: ", d["kind"].as_str().unwrap().replace('_', " "), d["object"].as_str().unwrap()))
                    .collect(),
                other => panic!("{name}: failure kind {other:?}"),
            };
            let missing: Vec<&String> = expected.iter().filter(|e| !stderr.contains(e.as_str())).collect();
            if code != 3 || !missing.is_empty() || stderr.contains("syntax error") {
                problems.push(format!("{name}: psql exited {code}, lacking {missing:?}:\n{stderr}\n--- {}:\n{text}", script.display()));
            }
            reproduced.push(name);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    // The fixtures planted for the generated properties all write one.
    for planted in ["concurrent_index_not_resumable (interrupt)", "dynamic_sql_dependency (order)", "enum_value_two_branches (order)"] {
        assert!(reproduced.iter().any(|r| r.ends_with(planted)), "no repro script for {planted}: {reproduced:?}");
    }
    assert!(reproduced.iter().any(|r| r.ends_with("guard_misses_partial_state (partial)")), "{reproduced:?}");
}

/// `fixtures/divergent/enum_value_two_branches` moved into a schema that a setup file creates
/// (with the role that owns it), with a column of an extension's type and a migration that reads
/// the ledger table: its repro script fails on an empty database unless it prepares the database
/// as check does.
#[test]
fn a_repro_script_prepares_the_database_as_check_does() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/divergent/enum_value_two_branches/migrations");
    let project = tempfile::tempdir().unwrap();
    let write = |path: &str, text: String| {
        let path = project.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("pgconverge.toml", "setup = [\"setup.sql\"]\nextensions = [\"citext\"]\nledger = \"sqlx\"\n".into());
    write(
        "setup.sql",
        "CREATE ROLE pgconverge_repro_owner NOLOGIN;\nCREATE SCHEMA blog AUTHORIZATION pgconverge_repro_owner;\nSET search_path = blog, public;\n"
            .into(),
    );
    for entry in std::fs::read_dir(&base).unwrap().flatten() {
        let mut text = std::fs::read_to_string(entry.path()).unwrap();
        if text.contains("CREATE TABLE posts") {
            text = text.replace("title text", "title citext");
            text.push_str("\nALTER TABLE posts OWNER TO pgconverge_repro_owner;\nSELECT count(*) FROM _sqlx_migrations;\n");
        }
        write(&format!("migrations/{}", entry.file_name().to_str().unwrap()), text);
    }
    let out = tempfile::tempdir().unwrap();
    let dir = project.path().to_str().unwrap();
    let run = pgconverge(&[
        "check",
        dir,
        "--properties",
        "order",
        "--cases",
        "64",
        "--seed",
        "3",
        "--no-persist",
        "--format",
        "json",
        "--repro-dir",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let script = out.path().join("order.sql");
    let text = std::fs::read_to_string(&script).unwrap();
    // Twice: on the second run the setup's role is already on the server, and is kept.
    for attempt in ["first", "second"] {
        let (code, stderr) = run_with_psql(&script);
        assert_eq!(code, 3, "{attempt} run:\n{stderr}\n---\n{text}");
        assert!(stderr.contains("ERROR:  pgconverge: type blog.status: labels"), "{attempt} run:\n{stderr}\n---\n{text}");
    }
}

/// `fixtures/divergent/enum_value_two_branches` (its order property fails) laid out with the
/// migrations directory at the project's root, by a file pattern that walks subdirectories or as
/// nested version directories. No reference: under the root, loading would read it as a
/// migration. The canonical run is the reference, and the label order still differs.
fn root_project(shape: &str) -> tempfile::TempDir {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/divergent/enum_value_two_branches/migrations");
    let dir = tempfile::tempdir().unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&base).unwrap().flatten().map(|e| e.file_name().into_string().unwrap()).collect();
    names.sort();
    let config = match shape {
        "pattern" => "migrations = \".\"\npattern = '^(?P<version>\\d+)_(?P<name>\\w+)\\.sql$'\n",
        _ => "migrations = \".\"\n",
    };
    std::fs::write(dir.path().join("pgconverge.toml"), config).unwrap();
    for (i, name) in names.iter().enumerate() {
        let target = match shape {
            "pattern" => dir.path().join(name),
            _ => dir.path().join(format!("v{}", i + 1)).join(name),
        };
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(base.join(name), target).unwrap();
    }
    dir
}

#[test]
fn a_project_whose_migrations_directory_is_its_root_checks_the_same_twice() {
    for shape in ["pattern", "nested"] {
        let project = root_project(shape);
        let dir = project.path().to_str().unwrap();
        let args = ["check", dir, "--properties", "fresh,order", "--cases", "64", "--seed", "3", "--format", "json"];
        let verdicts = |run: &common::CliRun| -> Vec<(String, String, Option<String>)> {
            assert_eq!(run.code, 1, "{shape}: {}{}", run.stdout, run.stderr);
            let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
            let list = report["verdicts"].as_array().unwrap().iter();
            list.map(|v| (v["property"].to_string(), v["status"].to_string(), v["case"]["repro"].as_str().map(str::to_string))).collect()
        };
        let first = verdicts(&pgconverge(&args));
        // The first run wrote its seed and its repro script under the project.
        let regressions = project.path().join("proptest-regressions");
        assert!(regressions.join("pgconverge-order.txt").is_file(), "{shape}: {first:?}");
        let script = regressions.join("order.sql");
        assert!(script.is_file(), "{shape}: {first:?}");
        assert_eq!(first.iter().filter_map(|v| v.2.clone()).collect::<Vec<_>>(), vec![script.display().to_string()], "{shape}");
        // What cargo or a build leaves under the root is not read either.
        std::fs::create_dir_all(project.path().join("target/debug")).unwrap();
        std::fs::write(project.path().join("target/debug/notes.sql"), "this is not SQL").unwrap();

        let second = verdicts(&pgconverge(&args));
        assert_eq!(first, second, "{shape}: the second run reads none of the first run's output");
    }
}
