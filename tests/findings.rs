//! Findings that are minimal, reproducible anywhere and saved once: the same seed gives the same
//! minimal case at any `--jobs`; a failing project's saved cases stay byte-identical from run to
//! run; saved cases replay by name, report what they found, and prune; an order case names the
//! pair that matters; nothing of proptest's own reaches stderr.

mod common;

use std::path::Path;

use common::{copy_of, pgconverge, pgconverge_env};
use serde_json::Value;

fn json(run: &common::CliRun) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("JSON report ({e}):\n{}\n{}", run.stdout, run.stderr))
}

fn verdict<'r>(report: &'r Value, property: &str) -> &'r Value {
    report["verdicts"].as_array().expect("verdicts").iter().find(|v| v["property"] == property).expect("the property ran")
}

/// What a failing verdict says about its case, without the timing.
fn finding(report: &Value, property: &str) -> (Value, Value, Value) {
    let v = verdict(report, property);
    assert_eq!(v["status"], "fail", "{property}: {v}");
    (v["case"].clone(), v["failure"].clone(), v["cases"].clone())
}

#[test]
fn the_same_seed_gives_the_same_minimal_case_at_any_jobs() {
    for (dir, property, extra) in [
        ("fixtures/divergent/guard_misses_partial_state", "partial", ["--granularity", "object"]),
        ("fixtures/divergent/enum_value_two_branches", "order", ["--granularity", "migration"]),
    ] {
        let run = |jobs: &str| {
            let args = [
                "check",
                dir,
                "--format",
                "json",
                "--no-persist",
                "--properties",
                property,
                "--cases",
                "64",
                "--seed",
                "5",
                "--jobs",
                jobs,
            ];
            let run = pgconverge(&[&args[..], &extra[..]].concat());
            assert_eq!(run.code, 1, "{dir} --jobs {jobs}:\n{}\n{}", run.stdout, run.stderr);
            finding(&json(&run), property)
        };
        let one = run("1");
        assert_eq!(run("2"), one, "{dir}: --jobs 2 found another case than --jobs 1");
        assert_eq!(run("4"), one, "{dir}: --jobs 4 found another case than --jobs 1");
    }
}

#[test]
fn an_order_case_names_the_pair_that_matters() {
    let run = pgconverge(&[
        "check",
        "fixtures/divergent/enum_value_two_branches",
        "--format",
        "json",
        "--no-persist",
        "--properties",
        "order",
        "--seed",
        "1",
    ]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let (case, _, _) = finding(&json(&run), "order");
    let pair = serde_json::json!([["20260302000003_add_deleted_status", "20260302000002_add_archived_status"]]);
    assert_eq!(case["out_of_order"], pair, "{case}");
    // The rest applied (the newer one among them, so it ran first), the older one pending.
    assert_eq!(case["order"], serde_json::json!(["20260302000002_add_archived_status"]), "{case}");
    assert!(
        case["description"]
            .as_str()
            .unwrap()
            .starts_with("20260302000003_add_deleted_status ran before 20260302000002_add_archived_status: "),
        "{case}"
    );
    let mut blamed: Vec<&str> = case["blamed"].as_array().unwrap().iter().map(|b| b.as_str().unwrap()).collect();
    blamed.sort();
    assert_eq!(blamed, ["20260302000002_add_archived_status", "20260302000003_add_deleted_status"]);
}

/// The minimal partial case keeps only what the failure needs, and the table blames the guilty
/// migration alone.
#[test]
fn a_partial_case_blames_the_guilty_migration_only() {
    let dir = "fixtures/divergent/guard_misses_partial_state";
    let args = ["check", dir, "--no-persist", "--properties", "partial", "--granularity", "object", "--seed", "2"];
    let run = pgconverge(&[&args[..], &["--format", "json"][..]].concat());
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let (case, _, _) = finding(&json(&run), "partial");
    assert_eq!(case["order"], serde_json::json!(["20260301000002_create_invoices"]), "{case}");
    assert_eq!(case["blamed"], serde_json::json!(["20260301000002_create_invoices"]), "{case}");
    assert_eq!(case["preexisting"].as_array().unwrap().len(), 1, "{case}");
    let human = pgconverge(&args);
    let row = |id: &str| {
        human.stdout.lines().find(|l| l.trim_start().starts_with(id)).unwrap_or_else(|| panic!("{id} row:\n{}", human.stdout)).to_string()
    };
    assert!(row("20260301000002_create_invoices").contains("fail"), "{}", human.stdout);
    assert!(!row("20260301000001_create_accounts").contains("fail"), "{}", human.stdout);
    assert!(!row("20260301000003_index_accounts_name").contains("fail"), "{}", human.stdout);
    assert!(!human.stderr.contains("proptest"), "proptest's own messages on stderr:\n{}", human.stderr);
}

fn saved_lines(project: &Path, property: &str) -> Vec<String> {
    let path = project.join("proptest-regressions").join(format!("pgconverge-{property}.txt"));
    std::fs::read_to_string(path).map(|t| t.lines().filter(|l| l.starts_with("cc ")).map(str::to_string).collect()).unwrap_or_default()
}

#[test]
fn a_failing_project_saves_one_line_and_leaves_it_byte_identical() {
    let project = copy_of(Path::new("fixtures/divergent/guard_misses_partial_state"));
    let dir = project.path().to_str().unwrap();
    let file = project.path().join("proptest-regressions/pgconverge-partial.txt");
    // No seed: each run draws its own, as CI does.
    let args = ["check", dir, "--properties", "partial", "--granularity", "object", "--cases", "32"];
    let first = pgconverge(&args);
    assert_eq!(first.code, 1, "{}\n{}", first.stdout, first.stderr);
    assert!(file.exists(), "the failure is saved");
    assert_eq!(saved_lines(project.path(), "partial").len(), 1);
    // Every file of the directory (the saved cases and the repro script), byte for byte.
    let contents = || {
        let mut files: Vec<(std::path::PathBuf, Vec<u8>)> = std::fs::read_dir(project.path().join("proptest-regressions"))
            .expect("the directory")
            .flatten()
            .map(|e| (e.path(), std::fs::read(e.path()).expect("readable")))
            .collect();
        files.sort();
        files
    };
    let saved = contents();
    assert!(saved.len() >= 2, "the saved cases and the repro script: {:?}", saved.iter().map(|(p, _)| p).collect::<Vec<_>>());
    for _ in 0..2 {
        let again = pgconverge(&args);
        assert_eq!(again.code, 1, "{}\n{}", again.stdout, again.stderr);
        assert!(again.stdout.contains("1 saved case replayed: 1 still fails"), "{}", again.stdout);
        assert!(contents() == saved, "proptest-regressions/ changed between two failing runs");
    }
}

#[test]
fn saved_cases_replay_by_name_and_prune() {
    let project = copy_of(Path::new("fixtures/k12_lms"));
    let dir = project.path().to_str().unwrap();
    // Nothing saved: nothing to replay is an input error.
    let nothing = pgconverge(&["replay", dir]);
    assert_eq!(nothing.code, 2, "{}\n{}", nothing.stdout, nothing.stderr);
    assert!(nothing.stderr.contains("nothing to replay"), "{}", nothing.stderr);

    // A saved case that passes (k12 converges), one that names a migration the project no longer has.
    let ids: Vec<String> = {
        let mut ids: Vec<String> = std::fs::read_dir(project.path().join("migrations"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().trim_end_matches(".sql").to_string())
            .collect();
        ids.sort();
        ids
    };
    let order = serde_json::to_string(&ids).unwrap();
    let regressions = project.path().join("proptest-regressions");
    std::fs::create_dir_all(&regressions).unwrap();
    let text = format!(
        "# saved\ncc {} # {{\"applied\":[],\"preexisting\":[],\"order\":{order}}}\ncc {} # {{\"applied\":[\"20990101000000_gone\"],\"preexisting\":[],\"order\":[]}}\n",
        "01".repeat(32),
        "02".repeat(32)
    );
    std::fs::write(regressions.join("pgconverge-partial.txt"), text).unwrap();

    let replay = pgconverge(&["replay", dir, "--properties", "partial"]);
    assert_eq!(replay.code, 0, "{}\n{}", replay.stdout, replay.stderr);
    assert!(replay.stdout.contains("2 saved cases replayed: 1 passes, 1 stale"), "{}", replay.stdout);
    let json = json(&pgconverge(&["replay", dir, "--properties", "partial", "--format", "json"]));
    let replayed = &verdict(&json, "partial")["replayed"];
    assert_eq!(replayed["passing"], 1, "{replayed}");
    assert!(replayed["stale"][0].as_str().unwrap().contains("20990101000000_gone"), "{replayed}");

    let prune = pgconverge(&["replay", dir, "--properties", "partial", "--prune"]);
    assert_eq!(prune.code, 0, "{}\n{}", prune.stdout, prune.stderr);
    assert!(prune.stdout.contains("2 pruned"), "{}", prune.stdout);
    assert!(!regressions.join("pgconverge-partial.txt").exists(), "the file goes with its last line");
    assert_eq!(pgconverge(&["replay", dir]).code, 2);
}

#[test]
fn zero_cases_is_an_input_error() {
    let run = pgconverge(&["check", "fixtures/k12_lms", "--cases", "0", "--no-persist"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("--cases 0"), "{}", run.stderr);
}

/// `PGCONVERGE_SEED` / `PGCONVERGE_SHARD` are `--seed` / `--shard`, and the report shows both.
#[test]
fn seed_and_shard_from_the_environment() {
    let dir = "fixtures/divergent/enum_value_two_branches";
    let base = ["check", dir, "--format", "json", "--no-persist", "--properties", "order", "--cases", "16"];
    let by_flags = pgconverge(&[&base[..], &["--seed", "9", "--shard", "2/3"][..]].concat());
    let by_env = pgconverge_env(&base, &[("PGCONVERGE_SEED", "9"), ("PGCONVERGE_SHARD", "2/3")]);
    let (flags, env) = (json(&by_flags), json(&by_env));
    assert_eq!(flags["seed"], 9);
    assert_eq!(flags["shard"], "2/3");
    assert_eq!(env["seed"], 9);
    assert_eq!(env["shard"], "2/3");
    assert_eq!(finding(&flags, "order"), finding(&env, "order"));
    let bad = pgconverge_env(&["check", dir, "--no-persist"], &[("PGCONVERGE_SHARD", "4/3")]);
    assert_eq!(bad.code, 2, "{}\n{}", bad.stdout, bad.stderr);
}

/// `PGCONVERGE_CASES` is `--cases` (a nightly job raises it without editing the command).
#[test]
fn cases_from_the_environment() {
    let run = pgconverge_env(
        &["check", "fixtures/branches", "--format", "json", "--no-persist", "--properties", "order", "--seed", "1"],
        &[("PGCONVERGE_CASES", "7")],
    );
    let report = json(&run);
    let order = report["verdicts"].as_array().unwrap().iter().find(|v| v["property"] == "order").unwrap();
    assert_eq!(order["cases"], 7, "{report:#}");
    let bad = pgconverge_env(&["check", "fixtures/branches", "--no-persist"], &[("PGCONVERGE_CASES", "lots")]);
    assert_eq!(bad.code, 2, "{}\n{}", bad.stdout, bad.stderr);
}
