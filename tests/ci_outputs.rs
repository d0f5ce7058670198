//! What `check` hands a CI job: `--junit` and `--json` files beside the report on stdout,
//! written on every outcome (a verdict, an input or infrastructure error, a later major's
//! error), GitHub annotations on the line to fix, and annotations after the human report under
//! GitHub Actions. The python-tests tier validates every JUnit file against
//! `tests/data/junit.xsd`.

mod common;

use std::path::{Path, PathBuf};

use common::{pgconverge, pgconverge_embedded_env, pgconverge_env, CliRun};
use serde_json::Value;

/// The migration whose last statement re-writes `ai_templates` (an `ADD COLUMN` at line 34):
/// the table's column order is the difference.
const COLUMN_ORDER_FILE: &str = "fixtures/divergent/column_order/migrations/20260216000003_create_ai_templates.sql";

/// A server that answers nothing: connecting is an infrastructure error (exit 3).
const UNREACHABLE: &str = "postgres://someone@127.0.0.1:1/x";

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        Files { dir: tempfile::tempdir().unwrap() }
    }

    fn junit(&self) -> PathBuf {
        self.dir.path().join("junit.xml")
    }

    fn json(&self) -> PathBuf {
        self.dir.path().join("report.json")
    }

    /// `--junit <dir>/junit.xml --json <dir>/report.json` after `args`.
    fn args(&self, args: &[&str]) -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(["--junit".into(), path_arg(&self.junit()), "--json".into(), path_arg(&self.json())]);
        all
    }

    fn read_junit(&self) -> String {
        std::fs::read_to_string(self.junit()).unwrap_or_else(|e| panic!("{}: {e}", self.junit().display()))
    }

    fn read_json(&self) -> Value {
        let text = std::fs::read_to_string(self.json()).unwrap_or_else(|e| panic!("{}: {e}", self.json().display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: not JSON:\n{text}"))
    }

    /// Only the two reports: no temporary file left beside them.
    fn assert_only_reports(&self) {
        let mut names: Vec<String> =
            std::fs::read_dir(self.dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, ["junit.xml", "report.json"]);
    }
}

fn path_arg(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}

fn run(args: &[String]) -> CliRun {
    pgconverge(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn output(run: &CliRun) -> String {
    format!("exit {}\n--- stdout\n{}--- stderr\n{}", run.code, run.stdout, run.stderr)
}

fn converging(files: &Files) -> CliRun {
    run(&files.args(&["check", "fixtures/k12_lms", "--properties", "fresh", "--no-persist"]))
}

fn divergent(files: &Files) -> CliRun {
    run(&files.args(&["check", "fixtures/divergent/column_order", "--properties", "fresh", "--no-persist"]))
}

fn input_error(files: &Files) -> CliRun {
    run(&files.args(&["check", "fixtures/no_such_project"]))
}

fn infrastructure_error(files: &Files) -> CliRun {
    run(&files.args(&["check", "fixtures/k12_lms", "--database-url", UNREACHABLE]))
}

#[test]
fn a_converging_check_writes_both_files_beside_the_human_report() {
    let files = Files::new();
    let run = converging(&files);
    assert_eq!(run.code, 0, "{}", output(&run));
    assert!(
        run.stdout.starts_with("pgconverge check fixtures/k12_lms\n") && run.stdout.contains("\nconverges: 1 property holds"),
        "{}",
        output(&run)
    );
    let xml = files.read_junit();
    assert!(xml.contains("<testcase classname=\"pgconverge.fixtures/k12_lms\" name=\"fresh\">"), "{xml}");
    assert!(!xml.contains("<failure") && !xml.contains("<error"), "{xml}");
    let json = files.read_json();
    assert_eq!((json["status"].as_str(), json["verdicts"][0]["status"].as_str()), (Some("converges"), Some("pass")), "{json}");
    files.assert_only_reports();
}

#[test]
fn a_divergent_check_writes_the_counterexample_and_where_it_comes_from() {
    let files = Files::new();
    let run = divergent(&files);
    assert_eq!(run.code, 1, "{}", output(&run));
    assert!(run.stdout.starts_with("pgconverge check fixtures/divergent/column_order\n"), "{}", output(&run));
    assert!(!run.stdout.contains("::error"), "no annotations outside GitHub Actions: {}", run.stdout);
    let xml = files.read_junit();
    assert!(xml.contains("<failure message=") && xml.contains("type=\"diverged\""), "{xml}");
    let json = files.read_json();
    assert_eq!(json["status"], "counterexample");
    let failure = &json["verdicts"][0]["failure"];
    assert_eq!(
        failure["origins"][0],
        serde_json::json!({
            "kind": "table",
            "object": "public.ai_templates",
            "migration": "20260216000003_create_ai_templates",
            "location": { "file": COLUMN_ORDER_FILE, "line": 34, "column": 1 },
        }),
        "{failure}"
    );
    files.assert_only_reports();
}

#[test]
fn an_input_error_writes_an_error_document_to_both_files() {
    let files = Files::new();
    let run = input_error(&files);
    assert_eq!(run.code, 2, "{}", output(&run));
    assert!(run.stdout.is_empty(), "the human format has nothing to show: {}", output(&run));
    let xml = files.read_junit();
    assert!(xml.contains("<testcase classname=\"pgconverge.fixtures/no_such_project\" name=\"run\">"), "{xml}");
    assert!(xml.contains("type=\"input\">") && xml.contains("<error message=\"fixtures/no_such_project"), "{xml}");
    let json = files.read_json();
    assert_eq!(
        (json["status"].as_str(), json["error"].as_str(), json["exit_code"].as_u64()),
        (Some("error"), Some("input"), Some(2)),
        "{json}"
    );
    assert!(json["message"].as_str().unwrap().starts_with("fixtures/no_such_project"), "{json}");
    files.assert_only_reports();
}

#[test]
fn an_infrastructure_error_writes_an_error_document_to_both_files() {
    let files = Files::new();
    let run = infrastructure_error(&files);
    assert_eq!(run.code, 3, "{}", output(&run));
    let xml = files.read_junit();
    assert!(xml.contains("type=\"infrastructure\">"), "{xml}");
    let json = files.read_json();
    assert_eq!((json["error"].as_str(), json["exit_code"].as_u64()), (Some("infrastructure"), Some(3)), "{json}");
    assert_eq!(json["message"].as_str(), run.stderr.trim_end().strip_prefix("error: "), "the message stderr gives: {json}");
}

#[test]
fn the_error_document_goes_to_stdout_in_the_chosen_format() {
    for (format, starts) in
        [("junit", "<?xml version=\"1.0\""), ("json", "{"), ("github", "::error title=pgconverge infrastructure error::")]
    {
        let run = pgconverge(&["check", "fixtures/k12_lms", "--database-url", UNREACHABLE, "--format", format]);
        assert_eq!(run.code, 3, "{format}: {}", output(&run));
        assert!(run.stdout.starts_with(starts), "{format}: {}", output(&run));
    }
}

#[test]
fn a_report_file_that_cannot_be_written_is_an_input_error_before_the_check_runs() {
    let files = Files::new();
    let missing = files.dir.path().join("no/such/dir/junit.xml");
    // The unreachable server would be exit 3 had the check started.
    let run = pgconverge(&[
        "check",
        "fixtures/k12_lms",
        "--database-url",
        UNREACHABLE,
        "--junit",
        &path_arg(&missing),
        "--json",
        &path_arg(&files.json()),
    ]);
    assert_eq!(run.code, 2, "{}", output(&run));
    assert!(
        run.stderr.contains(&format!("{}: cannot write a report file there: the directory", missing.display()))
            && run.stderr.contains("does not exist"),
        "{}",
        output(&run)
    );
    assert_eq!(run.stderr.lines().count(), 1, "said once: {}", run.stderr);
    assert_eq!(files.read_json()["error"], "input", "the file that can be written says why");
    // A directory is no file either.
    let run = pgconverge(&["check", "fixtures/k12_lms", "--database-url", UNREACHABLE, "--json", &path_arg(files.dir.path())]);
    assert_eq!(run.code, 2, "{}", output(&run));
    assert!(run.stderr.contains("it is a directory"), "{}", output(&run));
}

#[test]
fn a_later_majors_error_keeps_the_earlier_majors_counterexample() {
    let files = Files::new();
    let major = common::shared_server_major().to_string();
    // PostgreSQL 99 exists nowhere: the second major is an infrastructure error, after the
    // first found the counterexample.
    let pg = format!("{major},99");
    let args = files.args(&["check", "fixtures/divergent/column_order", "--properties", "fresh", "--no-persist", "--pg", &pg]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = pgconverge_embedded_env(&args, &[("PGCONVERGE_NO_FETCH", "1")]);
    assert_eq!(run.code, 3, "{}", output(&run));
    assert!(run.stdout.contains("\ncounterexample: 1 of 1 property fails"), "stdout keeps it too: {}", output(&run));
    let json = files.read_json();
    assert_eq!((json["status"].as_str(), json["error"].as_str()), (Some("error"), Some("infrastructure")), "{json}");
    assert_eq!(json["reports"][0]["status"], "counterexample", "{json}");
    assert_eq!(json["reports"][0]["major"].as_u64(), major.parse::<u64>().ok(), "{json}");
    let xml = files.read_junit();
    assert!(xml.contains("type=\"diverged\"") && xml.contains("type=\"infrastructure\">"), "{xml}");
}

#[test]
fn github_annotations_point_at_the_statement_behind_a_divergence() {
    // The migration statement that last altered the table.
    let run = pgconverge(&["check", "fixtures/divergent/column_order", "--properties", "fresh", "--no-persist", "--format", "github"]);
    assert_eq!(run.code, 1, "{}", output(&run));
    assert!(
        run.stdout.starts_with(&format!("::error file={COLUMN_ORDER_FILE},line=34,col=1,title=pgconverge fresh::")),
        "{}",
        output(&run)
    );
    // No migration creates the foreign key: the reference statement that does.
    let run =
        pgconverge(&["check", "fixtures/divergent/missing_foreign_key", "--properties", "fresh", "--no-persist", "--format", "github"]);
    assert_eq!(run.code, 1, "{}", output(&run));
    assert!(
        run.stdout.starts_with("::error file=fixtures/divergent/missing_foreign_key/schema.sql,line=359,col=1,title=pgconverge fresh::"),
        "{}",
        output(&run)
    );
}

#[test]
fn under_github_actions_annotations_follow_the_human_report() {
    let args = ["check", "fixtures/divergent/column_order", "--properties", "fresh", "--no-persist"];
    let run = pgconverge_env(&args, &[("GITHUB_ACTIONS", "true")]);
    assert_eq!(run.code, 1, "{}", output(&run));
    let (human, annotations) = run.stdout.split_once("\n::").unwrap_or_else(|| panic!("no annotations: {}", output(&run)));
    assert!(
        human.starts_with("pgconverge check fixtures/divergent/column_order\n") && human.ends_with("counterexample: 1 of 1 property fails"),
        "{human}"
    );
    let annotations: Vec<&str> = annotations.lines().collect();
    assert!(
        annotations[0].starts_with(&format!("error file={COLUMN_ORDER_FILE},line=34,col=1,title=pgconverge fresh::")),
        "{annotations:?}"
    );
    assert!(annotations.last().unwrap().starts_with("::notice title=pgconverge::"), "{annotations:?}");

    let opted_out = pgconverge_env(&[&args[..], &["--no-annotations"]].concat(), &[("GITHUB_ACTIONS", "true")]);
    assert_eq!(opted_out.stdout, human.to_string() + "\n", "{}", output(&opted_out));
    // JSON on stdout stays one document.
    let json = pgconverge_env(&[&args[..], &["--format", "json"]].concat(), &[("GITHUB_ACTIONS", "true")]);
    let value: Value = serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("{e}: {}", output(&json)));
    assert_eq!(value["status"], "counterexample");
    // --format github prints them once.
    let github = pgconverge_env(&[&args[..], &["--format", "github"]].concat(), &[("GITHUB_ACTIONS", "true")]);
    assert_eq!(github.stdout.matches("title=pgconverge fresh::").count(), 1, "{}", output(&github));
}

#[test]
#[cfg_attr(not(feature = "python-tests"), ignore = "python-tests tier: cargo test --features python-tests")]
fn every_junit_file_validates_against_the_xsd() {
    common::require_xmlschema();
    type Scenario = fn(&Files) -> CliRun;
    let cases: [(&str, Scenario, i32, bool); 4] = [
        ("converging", converging, 0, false),
        ("divergent", divergent, 1, false),
        ("input error", input_error, 2, true),
        ("infrastructure error", infrastructure_error, 3, true),
    ];
    for (name, check, code, has_error) in cases {
        let files = Files::new();
        let run = check(&files);
        assert_eq!(run.code, code, "{name}: {}", output(&run));
        let xml = files.read_junit();
        assert_eq!(xml.contains("<error message="), has_error, "{name}: {xml}");
        common::assert_valid_junit(name, &xml);
    }
}
