//! One exit policy: every error has a kind, the kind decides the code, and a panic is reported
//! as a bug (README, "Exit codes").

mod common;

use common::{pgconverge, pgconverge_embedded, pgconverge_env};

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: not JSON:\n{stdout}"))
}

#[test]
fn a_panic_is_reported_as_a_bug_with_exit_101() {
    // RUST_BACKTRACE=0: the message alone, whatever the environment running the tests sets.
    let env = [("PGCONVERGE_TEST_PANIC", "1"), ("RUST_BACKTRACE", "0")];
    let run = pgconverge_env(&["check", "fixtures/k12_lms"], &env);
    assert_eq!(run.code, 101, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.starts_with("pgconverge hit an internal error (a bug): PGCONVERGE_TEST_PANIC=1 asked for a panic (at src/main.rs:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.trim_end().ends_with("; please report it with the command you ran"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "one message, not the default panic output too:\n{}", run.stderr);

    let run = pgconverge_env(&["check", "fixtures/k12_lms", "--format", "json"], &env);
    assert_eq!(run.code, 101, "{}{}", run.stdout, run.stderr);
    let value = json(&run.stdout);
    assert_eq!((value["status"].as_str(), value["error"].as_str()), (Some("error"), Some("internal")), "{value}");
}

#[test]
fn each_command_rejects_the_formats_it_does_not_write() {
    let cases: [(&[&str], &str); 6] = [
        (&["doctor", "--format", "junit"], "[possible values: human, json]"),
        (&["doctor", "--format", "github"], "[possible values: human, json]"),
        (&["diff", "a.json", "b.json", "--format", "junit"], "[possible values: human, json]"),
        (&["diff", "a.json", "b.json", "--format", "github"], "[possible values: human, json]"),
        (&["dump", "fixtures/k12_lms", "--format", "human"], "[possible values: text, json]"),
        (&["check", "fixtures/k12_lms", "--format", "text"], "[possible values: human, json, junit, github]"),
    ];
    for (args, supported) in cases {
        let run = pgconverge(args);
        assert_eq!(run.code, 2, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("invalid value") && run.stderr.contains(supported), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?} printed:\n{}", run.stdout);
    }
}

#[test]
fn the_url_backend_without_a_url_is_an_input_error() {
    // pgconverge_embedded: no PGCONVERGE_DATABASE_URL (the shared server's) in the environment.
    for args in [&["check", "fixtures/k12_lms", "--backend", "url"][..], &["dump", "fixtures/k12_lms", "--backend", "url"]] {
        let run = pgconverge_embedded(args);
        assert_eq!(run.code, 2, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("--backend url needs a database URL: pass --database-url or set PGCONVERGE_DATABASE_URL"),
            "{}",
            run.stderr
        );
    }
    let run = pgconverge_embedded(&["check", "fixtures/k12_lms", "--backend", "url", "--format", "json"]);
    assert_eq!(run.code, 2);
    assert_eq!(json(&run.stdout)["error"], "input");
}

#[test]
fn a_malformed_database_url_is_an_input_error() {
    for args in [&["check", "fixtures/k12_lms", "--database-url", "not a url"][..], &["dump", "--from-database", "not a url"]] {
        let run = pgconverge(args);
        assert_eq!(run.code, 2, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("error: invalid database URL not a url: "), "{}", run.stderr);
    }
}

#[test]
fn the_command_runner_on_another_backend_is_an_input_error_before_any_server_starts() {
    // Port 1 answers nothing: a connection attempt would be exit 3, not 2.
    let url = ["--database-url", "postgres://someone@127.0.0.1:1/db"];
    for (backend, extra) in [("url", &url[..]), ("container", &[][..])] {
        let mut args = vec!["check", "fixtures/layouts/command_adapter", "--backend", backend];
        args.extend(extra);
        // No URL in the environment, or it would win over --backend container.
        let run = pgconverge_embedded(&args);
        assert_eq!(run.code, 2, "{args:?}: {}{}", run.stdout, run.stderr);
        let expected = format!("runner = \"command\" in pgconverge.toml needs the embedded backend (the {backend} backend's password is not passed to the migrator)");
        assert!(run.stderr.contains(&expected), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn a_bad_image_is_an_input_error_before_any_container_starts() {
    let cases = [
        ("container", "postgres:16!", "`16!` is not a tag"),
        ("container", "Postgres:16", "`Postgres` is not an image name"),
        ("container", "postgres:latest", "`latest` is not an explicit version"),
        // `auto` used to fall back to an embedded cluster without a word.
        ("auto", "postgres:16 beta", "`16 beta` is not a tag"),
    ];
    for (backend, image, reason) in cases {
        // No URL in the environment, or it would win over --backend container and --image.
        let run = pgconverge_embedded(&["check", "fixtures/k12_lms", "--backend", backend, "--image", image, "--no-persist"]);
        assert_eq!(run.code, 2, "{image}: {}{}", run.stdout, run.stderr);
        let expected = format!("error: invalid container image `{image}`: {reason}");
        assert!(run.stderr.contains(&expected), "{image}: {}", run.stderr);
    }
}

/// `dump --source migrations` on a migration that fails was already exit 2 (tests/trust.rs);
/// with `--format json` the error is JSON on stdout too, as for `check`.
#[test]
fn a_failing_migration_in_a_json_dump_is_a_json_input_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("migrations")).unwrap();
    std::fs::write(dir.path().join("migrations/1_a.sql"), "CREATE VIEW a AS SELECT * FROM missing;\n").unwrap();
    let run = pgconverge(&["dump", dir.path().to_str().unwrap(), "--source", "migrations", "--format", "json"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let value = json(&run.stdout);
    assert_eq!(value["error"], "input");
    assert!(value["message"].as_str().unwrap().contains("migration 1_a fails on an empty database"), "{value}");
    assert!(run.stderr.contains("migrations/1_a.sql:1:"), "{}", run.stderr);
}
