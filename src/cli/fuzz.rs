//! `pgconverge fuzz`: `check` with many cases on each project directory in turn, within a time
//! budget, a JSON report per directory; for a nightly job of any project.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use pgconverge::fuzz::{self, Outcome, Settings};
use pgconverge::runner::RunnerError;
use pgconverge::{CancellationToken, Check, Error, ErrorKind, Status};

use super::check::{BackendArgs, ExploreArgs};

#[derive(clap::Args)]
#[command(mut_arg("cases", |arg| arg.help("Cases per generated property (default 2000)")))]
#[command(mut_arg("seed", |arg| arg.help("Base seed (default: the UTC date as YYYYMMDD, the same on every shard of one night)")))]
pub struct FuzzArgs {
    /// The project directories, checked in this order (relative ones from the current directory).
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Seconds the whole run may take: no directory starts after it, and the one running is cancelled at it (not a verdict).
    #[arg(long, value_name = "SECONDS")]
    budget: u64,
    /// Where the JSON report of each directory is written (DIR_WITH_SLASHES_AS_UNDERSCORES.json).
    #[arg(long, value_name = "DIR", default_value = "pgconverge-fuzz")]
    out: PathBuf,
    #[command(flatten)]
    explore: ExploreArgs,
    #[command(flatten)]
    server: BackendArgs,
}

impl FuzzArgs {
    /// The most severe outcome over the directories: a counterexample before an error before
    /// nondeterminism; a directory the budget cut short counts as no verdict, not a failure.
    pub async fn run(self, cancel: CancellationToken) -> Result<Status, Error> {
        let started = Instant::now();
        let deadline = started + Duration::from_secs(self.budget);
        let dated = self.explore.seed.is_none();
        let settings = Settings {
            seed: self.explore.seed.unwrap_or_else(|| fuzz::date_seed(SystemTime::now())),
            shard: self.explore.shard,
            cases: self.explore.cases.unwrap_or(fuzz::DEFAULT_CASES),
            budget: Duration::from_secs(self.budget),
        };
        std::fs::create_dir_all(&self.out).map_err(|source| RunnerError::File { action: "create", path: self.out.clone(), source })?;
        print_plan(&self.dirs, &settings, dated);
        let names = fuzz::report_names(&self.dirs);
        let mut worst: Result<Status, Error> = Ok(Status::Converges);
        let mut tally: Vec<&'static str> = Vec::new();
        for (dir, name) in self.dirs.iter().zip(names) {
            let dir_started = Instant::now();
            let outcome = if dir_started >= deadline {
                Outcome::NotRun
            } else {
                println!("\n== {} ({} s of the budget left)", dir.display(), deadline.duration_since(dir_started).as_secs());
                let mut explore = self.explore.clone();
                explore.seed = Some(settings.seed);
                explore.cases = Some(settings.cases);
                let mut check = explore.apply(Check::new(dir)).backend(self.server.backend);
                if let Some(image) = &self.server.image {
                    check = check.image(image.clone());
                }
                fuzz::run_until(check, &self.server.majors, deadline, &cancel).await
            };
            if let Outcome::Failed(error) = &outcome {
                if error.kind() == ErrorKind::Interrupted {
                    return outcome.into_result();
                }
            }
            let elapsed = dir_started.elapsed();
            let report = self.out.join(format!("{name}.json"));
            let json = fuzz::report_json(dir, &outcome, &settings, elapsed);
            std::fs::write(&report, json + "\n").map_err(|source| RunnerError::File { action: "write", path: report.clone(), source })?;
            print_outcome(dir, &outcome, elapsed, &report);
            tally.push(outcome.name());
            worst = super::exit::most_severe(worst, outcome.into_result());
        }
        println!("\nfuzz: {}", summed_up(&tally));
        worst
    }
}

fn print_plan(dirs: &[PathBuf], settings: &Settings, dated: bool) {
    let origin = if dated { " (the UTC date)" } else { "" };
    let shard = settings.shard.map(|shard| format!(", shard {shard}")).unwrap_or_default();
    let rerun_shard = settings.shard.map(|shard| format!(" --shard {shard}")).unwrap_or_default();
    let count = if dirs.len() == 1 { "1 directory".to_string() } else { format!("{} directories", dirs.len()) };
    println!(
        "pgconverge fuzz: {count}, seed {}{origin}{shard}, {} cases per generated property, budget {} s",
        settings.seed,
        settings.cases,
        settings.budget.as_secs()
    );
    println!("rerun a directory's cases with: pgconverge check DIR --seed {}{rerun_shard} --cases {}", settings.seed, settings.cases);
}

/// What the directory came to: one line when it converges or has no verdict; the check's whole
/// report (the failing case, its saved seed, the repro script) otherwise.
fn print_outcome(dir: &Path, outcome: &Outcome, elapsed: Duration, report: &Path) {
    let seconds = elapsed.as_secs_f64();
    match outcome {
        Outcome::Finished(matrix) if matrix.status() != Status::Converges => {
            for line in matrix.human(false).lines() {
                if line.is_empty() {
                    println!();
                } else {
                    println!("   {line}");
                }
            }
            println!("   ({seconds:.1} s)");
        }
        Outcome::NotRun => println!("\n== {}\n   {}", dir.display(), outcome.headline()),
        _ => println!("   {} ({seconds:.1} s)", outcome.headline()),
    }
    println!("   report: {}", report.display());
}

/// `converges 2, budget ran out 1`: how many directories came to each outcome, in run order.
fn summed_up(names: &[&str]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for name in names {
        match counts.iter_mut().find(|(seen, _)| seen == name) {
            Some((_, count)) => *count += 1,
            None => counts.push((name, 1)),
        }
    }
    counts.iter().map(|(name, count)| format!("{} {count}", name.replace('_', " "))).collect::<Vec<_>>().join(", ")
}
