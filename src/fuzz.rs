//! Fuzzing under a time budget (`pgconverge fuzz`): project directories checked one after
//! another with many cases, where a deadline cancels the running check. A check the deadline
//! cut short is no verdict: neither a pass nor a counterexample.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::api::{CancellationToken, Check};
use crate::error::{Error, ErrorKind};
use crate::model::{Shard, Status};
use crate::report::Matrix;

/// Cases per generated property when fuzzing and nothing else says (a check's default is 256).
pub const DEFAULT_CASES: u32 = 2000;

/// The seed of a night's run: the UTC date of `now` as the number `YYYYMMDD`, so every shard
/// started the same night explores the same stream, each its own slice of it.
pub fn date_seed(now: SystemTime) -> u64 {
    let days = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400);
    let (year, month, day) = civil_date(days);
    year * 10_000 + month * 100 + day
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// for days on or after the epoch).
fn civil_date(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// What fuzzing one project directory came to.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// The check ended in time: its verdicts (one report per major).
    Finished(Matrix),
    /// The check could not decide (input or infrastructure).
    Failed(Error),
    /// The deadline cancelled the check before it ended: not a verdict.
    BudgetRanOut,
    /// The budget was spent before the check could start: not a verdict.
    NotRun,
}

impl Outcome {
    /// `converges`, `counterexample`, `nondeterministic`, `incomplete` (a finished check's
    /// status), `error`, `budget_ran_out` or `not_run`.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Finished(matrix) => matrix.status().name(),
            Outcome::Failed(_) => "error",
            Outcome::BudgetRanOut => "budget_ran_out",
            Outcome::NotRun => "not_run",
        }
    }

    /// The outcome as a check's: a finished check's status, the error of one that could not
    /// decide, and converges for a directory the budget cut short or left out (no verdict is
    /// not a failure).
    pub fn into_result(self) -> Result<Status, Error> {
        match self {
            Outcome::Finished(matrix) => Ok(matrix.status()),
            Outcome::Failed(error) => Err(error),
            Outcome::BudgetRanOut | Outcome::NotRun => Ok(Status::Converges),
        }
    }

    /// One line that says what the outcome means: the check's closing line
    /// (`counterexample: 1 of 3 properties fails`), `budget ran out: not a verdict (...)`, ...
    pub fn headline(&self) -> String {
        match self {
            Outcome::Finished(matrix) => {
                let human = matrix.human(false);
                let last = human.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or_default();
                // A matrix closes with one `PostgreSQL <version>: <status>` line per major.
                if matrix.reports.len() > 1 {
                    format!("{} on {} majors", matrix.status(), matrix.reports.len())
                } else {
                    last.to_string()
                }
            }
            Outcome::Failed(error) => format!("error ({}): {error}", error.kind()),
            Outcome::BudgetRanOut => "budget ran out: not a verdict (the check was cancelled at the deadline)".to_string(),
            Outcome::NotRun => "not run: the budget was spent before it could start (not a verdict)".to_string(),
        }
    }
}

/// Runs `check` (once per major in `majors`, once when empty) until it ends or `deadline`
/// passes. At the deadline the check is cancelled through a child of `cancel` (its statements
/// in flight are cancelled and what it made is dropped) and the outcome is
/// [`Outcome::BudgetRanOut`]. `cancel` itself (a signal) still interrupts: that is the
/// check's interrupted error, never an outcome.
pub async fn run_until(check: Check, majors: &[u32], deadline: Instant, cancel: &CancellationToken) -> Outcome {
    let budget = cancel.child_token();
    let check = check.cancel_on(budget.clone());
    let timer = async {
        tokio::time::sleep_until(deadline.into()).await;
        budget.cancel();
        std::future::pending::<()>().await
    };
    let result = tokio::select! {
        result = check.run_matrix_async(majors) => result,
        () = timer => unreachable!("the timer never ends"),
    };
    let cut_short = budget.is_cancelled() && !cancel.is_cancelled();
    match result {
        // What the cancellation itself caused (an interrupted check, a cancelled statement, a
        // property that could not run all its cases) says nothing about the migrations.
        Err(error) if cut_short && error.kind() != ErrorKind::Input => Outcome::BudgetRanOut,
        Ok(matrix) if cut_short && matrix.status() == Status::Incomplete => Outcome::BudgetRanOut,
        Ok(matrix) => Outcome::Finished(matrix),
        Err(error) => Outcome::Failed(error),
    }
}

/// How a fuzzing run explores: the same for every directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The base seed of the generated properties.
    pub seed: u64,
    /// The slice of the cases this run does.
    pub shard: Option<Shard>,
    /// Cases per generated property.
    pub cases: u32,
    /// The whole run's budget.
    pub budget: Duration,
}

/// The JSON report of one directory (the README's "Nightly fuzzing" describes it).
#[derive(Serialize)]
struct DirReport<'a> {
    project: String,
    status: &'static str,
    summary: String,
    seed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<String>,
    cases: u32,
    budget_s: u64,
    elapsed_ms: u64,
    /// The check's own JSON report (`check --format json`), when it finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorJson<'a>>,
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    error: &'a str,
    message: String,
}

/// The JSON report of fuzzing `dir`: the outcome, its headline, how the run explored, how long
/// the directory took, and the check's own report or error.
pub fn report_json(dir: &Path, outcome: &Outcome, settings: &Settings, elapsed: Duration) -> String {
    let report = match outcome {
        Outcome::Finished(matrix) => Some(serde_json::from_str(&matrix.json()).expect("a report is JSON")),
        _ => None,
    };
    let error = match outcome {
        Outcome::Failed(error) => Some(ErrorJson { error: error.kind().name(), message: error.to_string() }),
        _ => None,
    };
    let value = DirReport {
        project: crate::report::shown(dir),
        status: outcome.name(),
        summary: outcome.headline(),
        seed: settings.seed,
        shard: settings.shard.map(|shard| shard.to_string()),
        cases: settings.cases,
        budget_s: settings.budget.as_secs(),
        elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        report,
        error,
    };
    serde_json::to_string_pretty(&value).expect("a fuzz report serializes")
}

/// The report file name (without `.json`) of each directory, distinct and in order: the path
/// as given with `/` as `_` (`fixtures/k12_lms` is `fixtures_k12_lms`), the directory's own
/// name for `.` or a path of `..` alone, and `-2`, `-3`, ... after a name already taken.
pub fn report_names(dirs: &[PathBuf]) -> Vec<String> {
    let mut taken = BTreeSet::new();
    dirs.iter()
        .map(|dir| {
            let base = path_name(dir);
            let mut name = base.clone();
            let mut n = 1;
            while !taken.insert(name.clone()) {
                n += 1;
                name = format!("{base}-{n}");
            }
            name
        })
        .collect()
}

fn path_name(dir: &Path) -> String {
    let parts: Vec<String> = dir
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let only_dots = dir.components().all(|c| matches!(c, Component::CurDir | Component::ParentDir));
    if !parts.is_empty() && !only_dots {
        return parts.join("_");
    }
    let own_name = std::fs::canonicalize(dir).ok().and_then(|path| path.file_name().map(|n| n.to_string_lossy().into_owned()));
    own_name.unwrap_or_else(|| "project".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_is_the_utc_date() {
        let at = |secs: u64| date_seed(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), 19_700_101);
        // 2024-02-29 23:59:59 UTC, then the next second.
        assert_eq!(at(1_709_251_199), 20_240_229);
        assert_eq!(at(1_709_251_200), 20_240_301);
        // 2026-12-31 and 2027-01-01.
        assert_eq!(at(1_798_675_200), 20_261_231);
        assert_eq!(at(1_798_761_600), 20_270_101);
        assert_eq!(at(4_107_542_400), 21_000_301, "2100 is not a leap year");
    }

    #[test]
    fn report_names_are_the_paths_and_distinct() {
        let dirs: Vec<PathBuf> =
            ["fixtures/k12_lms", "./fixtures/k12_lms/", "fixtures_k12_lms", "/tmp/x/p", "../p"].iter().map(PathBuf::from).collect();
        assert_eq!(report_names(&dirs), ["fixtures_k12_lms", "fixtures_k12_lms-2", "fixtures_k12_lms-3", "tmp_x_p", "p"]);
        let here = std::env::current_dir().unwrap();
        let own = here.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(report_names(&[PathBuf::from("."), PathBuf::from("./")]), [own.clone(), format!("{own}-2")]);
    }

    #[test]
    fn no_verdict_is_not_a_failure() {
        assert!(matches!(Outcome::BudgetRanOut.into_result(), Ok(Status::Converges)));
        assert!(matches!(Outcome::NotRun.into_result(), Ok(Status::Converges)));
        assert!(Outcome::BudgetRanOut.headline().starts_with("budget ran out: not a verdict"));
        let settings = Settings { seed: 20_260_301, shard: "2/4".parse().ok(), cases: 2000, budget: Duration::from_secs(60) };
        let json: serde_json::Value =
            serde_json::from_str(&report_json(Path::new("./db"), &Outcome::BudgetRanOut, &settings, Duration::from_millis(61_500)))
                .unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "project": "db", "status": "budget_ran_out", "summary": Outcome::BudgetRanOut.headline(),
                "seed": 20_260_301, "shard": "2/4", "cases": 2000, "budget_s": 60, "elapsed_ms": 61_500
            })
        );
    }
}
