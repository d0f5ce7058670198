//! `pgconverge fuzz`: a budget that ends the run near it (no verdict, exit 0), a counterexample
//! that decides the exit code and is saved, relative directories from any current directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::CliRun;

/// Runs `pgconverge fuzz ARGS` from `cwd` on the test process's shared server.
fn fuzz_from(cwd: &Path, args: &[&str]) -> CliRun {
    let _slot = common::shared_server_slot();
    let output = Command::new(env!("CARGO_BIN_EXE_pgconverge"))
        .arg("fuzz")
        .args(args)
        .current_dir(cwd)
        .env("PGCONVERGE_DATABASE_URL", common::shared_server_url())
        .env("PGCONVERGE_BACKEND", "embedded")
        .env_remove("PGCONVERGE_CASES")
        .env_remove("PGCONVERGE_SEED")
        .env_remove("PGCONVERGE_SHARD")
        .output()
        .expect("the pgconverge binary runs");
    CliRun {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read_report(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()))
}

#[test]
fn the_budget_cancels_the_running_check_and_no_later_one_starts() {
    let out = tempfile::tempdir().unwrap();
    let k12 = fixture("fixtures/k12_lms");
    let budget = 6;
    let started = Instant::now();
    // Far more cases than fit in the budget; the second directory never starts.
    let run = fuzz_from(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &[
            k12.to_str().unwrap(),
            "fixtures/spelling_variants",
            "--budget",
            &budget.to_string(),
            "--cases",
            "1000000",
            "--out",
            out.path().to_str().unwrap(),
        ],
    );
    let elapsed = started.elapsed();
    assert_eq!(run.code, 0, "no verdict is not a failure\n{}\n{}", run.stdout, run.stderr);
    assert!(elapsed >= Duration::from_secs(budget), "it ran until the budget: {elapsed:?}\n{}", run.stdout);
    // The check stops at its next step, within its 5 s grace, and drops what it made.
    assert!(elapsed < Duration::from_secs(budget + 12), "it ended near the budget, not after the cases: {elapsed:?}\n{}", run.stdout);
    assert!(run.stdout.contains("budget ran out: not a verdict"), "{}", run.stdout);
    assert!(run.stdout.contains("1000000 cases per generated property"), "{}", run.stdout);

    let name = k12.to_str().unwrap().trim_start_matches('/').replace('/', "_");
    let cut_short = read_report(&out.path().join(format!("{name}.json")));
    assert_eq!(cut_short["status"], "budget_ran_out", "{cut_short:#}");
    assert!(cut_short["summary"].as_str().unwrap().starts_with("budget ran out: not a verdict"), "{cut_short:#}");
    assert_eq!(cut_short["cases"], 1_000_000);
    assert!(cut_short.get("report").is_none() && cut_short.get("error").is_none(), "{cut_short:#}");
    let not_run = read_report(&out.path().join("fixtures_spelling_variants.json"));
    assert_eq!(not_run["status"], "not_run", "{not_run:#}");
    assert_eq!(not_run["seed"], cut_short["seed"], "one seed for the whole run");
    assert!(!k12.join("proptest-regressions").exists(), "a cancelled check saves no case");
}

#[test]
fn a_counterexample_decides_the_exit_code_and_is_saved_in_its_project() {
    let tmp = tempfile::tempdir().unwrap();
    let divergent = tmp.path().join("enum_value_two_branches");
    common::copy_dir(&fixture("fixtures/divergent/enum_value_two_branches"), &divergent);
    let out = tmp.path().join("reports");
    let missing = tmp.path().join("no_such_project");
    // A project that converges, one that cannot be read (exit 2 alone), one with an order bug.
    let run = fuzz_from(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &[
            "fixtures/k12_lms",
            missing.to_str().unwrap(),
            divergent.to_str().unwrap(),
            "--budget",
            "600",
            "--cases",
            "64",
            "--seed",
            "7",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 1, "a counterexample is the worst outcome\n{}\n{}", run.stdout, run.stderr);
    assert_eq!(read_report(&out.join("fixtures_k12_lms.json"))["status"], "converges");
    let missing_report = read_report(&out.join(format!("{}.json", missing.to_str().unwrap().trim_start_matches('/').replace('/', "_"))));
    assert_eq!((missing_report["status"].as_str(), missing_report["error"]["error"].as_str()), (Some("error"), Some("input")));
    let failing = read_report(&out.join(format!("{}.json", divergent.to_str().unwrap().trim_start_matches('/').replace('/', "_"))));
    assert_eq!(failing["status"], "counterexample", "{failing:#}");
    assert_eq!(failing["report"]["status"], "counterexample", "the check's own report is kept");
    assert_eq!(failing["report"]["seed"], 7);
    let order = failing["report"]["verdicts"].as_array().unwrap().iter().find(|v| v["property"] == "order").unwrap();
    assert_eq!(order["status"], "fail", "{order:#}");
    assert!(divergent.join("proptest-regressions/pgconverge-order.txt").is_file(), "saved as check saves it");
    assert!(run.stdout.contains("FAIL  order"), "the check's report of the failure: {}", run.stdout);

    // Without the counterexample, the input error decides.
    let run = fuzz_from(tmp.path(), &["no_such_project", "--budget", "60", "--cases", "1"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
}

#[test]
fn relative_directories_and_the_default_out_are_the_current_directorys() {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(&fixture("fixtures/k12_lms"), &tmp.path().join("work/db"));
    let cwd = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&cwd).unwrap();
    let run = fuzz_from(&cwd, &["../work/db", "--budget", "300", "--cases", "4", "--shard", "2/2"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report = read_report(&cwd.join("pgconverge-fuzz/work_db.json"));
    assert_eq!(report["status"], "converges", "{report:#}");
    assert_eq!((report["project"].as_str(), report["shard"].as_str()), (Some("../work/db"), Some("2/2")));
    // The seed of the night: today's UTC date, printed with the options that rerun it.
    let seed = report["seed"].as_u64().unwrap();
    assert!((20_250_101..21_000_101).contains(&seed), "{seed}");
    assert!(run.stdout.contains(&format!("seed {seed} (the UTC date), shard 2/2")), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("--seed {seed} --shard 2/2 --cases 4")), "{}", run.stdout);
}
