//! `pgconverge check` and `pgconverge replay`: run the properties, once per `--pg` major.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pgconverge::engine::explore::Progress;
use pgconverge::model::{Granularity, Property, Shard};
use pgconverge::{BackendChoice, Check, Error, Status};

use super::exit::ErrorStyle;
use super::outputs::{CheckOutputs, Found};

/// What `check` and `replay` take.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// The project directory (migrations/, schema.sql, pgconverge.toml).
    dir: PathBuf,
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    format: CheckFormat,
    /// Also write the JUnit XML report to PATH (beside --format on stdout); written whatever the check ends with, an error included.
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Also write the JSON report to PATH (beside --format on stdout); written whatever the check ends with, an error included.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// No GitHub Actions annotations after the human report (they are added when GITHUB_ACTIONS=true).
    #[arg(long)]
    no_annotations: bool,
    /// Use this server instead of an embedded cluster (only pgconverge_* databases are created and dropped).
    #[arg(long, env = "PGCONVERGE_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Check only these properties (comma-separated: fresh, idempotent, partial, order, interrupt, reversible).
    #[arg(long, value_delimiter = ',')]
    properties: Vec<Property>,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    /// How long one statement may run before it is cancelled, an infrastructure error (e.g. 30s, 5min, 1h; default: statement_timeout in pgconverge.toml, else 5min).
    #[arg(long, value_name = "DURATION", value_parser = parse_time_limit)]
    statement_timeout: Option<std::time::Duration>,
    /// How long one statement may wait for a lock before it is cancelled, an infrastructure error (default: lock_timeout in pgconverge.toml, else 1min).
    #[arg(long, value_name = "DURATION", value_parser = parse_time_limit)]
    lock_timeout: Option<std::time::Duration>,
    #[command(flatten)]
    explore: ExploreArgs,
    #[command(flatten)]
    server: BackendArgs,
    /// What the run has found so far, which [`CheckOutputs`] writes.
    #[arg(skip)]
    found: Found,
}

/// What `replay` takes: `check`'s arguments, and whether to prune.
#[derive(clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub check: CheckArgs,
    /// Remove the saved counterexamples that now pass or name migrations that no longer exist.
    #[arg(long)]
    prune: bool,
}

impl ReplayArgs {
    pub async fn run(mut self, cancel: pgconverge::CancellationToken) -> Result<Status, Error> {
        self.check.explore.prune = self.prune;
        self.check.run(true, cancel).await
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum CheckFormat {
    Human,
    Json,
    /// JUnit XML: one test case per property.
    Junit,
    /// GitHub Actions annotations on the migration file and line at fault.
    Github,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

/// Which server runs the cases.
#[derive(clap::Args, Clone)]
pub(super) struct BackendArgs {
    /// Which server runs the cases (the report says which was chosen and why).
    #[arg(long, value_enum, env = "PGCONVERGE_BACKEND", default_value_t = BackendChoice::Auto)]
    pub(super) backend: BackendChoice,
    /// The container image (default postgres:<major>, else the locally built pgconverge/postgres:<major>-local).
    #[arg(long, env = "PGCONVERGE_IMAGE")]
    pub(super) image: Option<String>,
    /// PostgreSQL majors to check on, one verdict per major (e.g. 15,16,18).
    #[arg(long = "pg", value_delimiter = ',')]
    pub(super) majors: Vec<u32>,
}

/// How the generated properties explore.
#[derive(clap::Args, Clone, Default)]
pub(super) struct ExploreArgs {
    /// Cases per generated property (default 256, or PROPTEST_CASES).
    #[arg(long, env = "PGCONVERGE_CASES")]
    pub(super) cases: Option<u32>,
    /// Base seed: the same seed and shard generate the same cases and the same minimal counterexample, whatever --jobs.
    #[arg(long, env = "PGCONVERGE_SEED")]
    pub(super) seed: Option<u64>,
    /// Run the i-th of n deterministic slices of the cases (e.g. 2/4), one per CI runner.
    #[arg(long, env = "PGCONVERGE_SHARD")]
    pub(super) shard: Option<Shard>,
    /// Case runs a failure's shrinking may spend (default PROPTEST_MAX_SHRINK_ITERS, else 256).
    #[arg(long)]
    shrink_iters: Option<u32>,
    /// What may pre-exist in generated start states (default: granularity in pgconverge.toml, else migration).
    #[arg(long, value_enum)]
    granularity: Option<Granularity>,
    /// Where failing seeds are saved and replayed from (default DIR/proptest-regressions).
    #[arg(long, conflicts_with = "no_persist")]
    regressions: Option<PathBuf>,
    /// Neither save nor replay failing seeds.
    #[arg(long)]
    no_persist: bool,
    /// Where repro scripts are written (default: the regressions directory).
    #[arg(long)]
    repro_dir: Option<PathBuf>,
    /// Parallel workers per generated property, each with its own database (default: one per core; 1 to 64).
    #[arg(long, value_parser = parse_jobs)]
    jobs: Option<usize>,
    /// Run every case from scratch instead of reusing the steps it shares with the previous one.
    #[arg(long)]
    no_share: bool,
    /// Set by `replay --prune`.
    #[arg(skip)]
    prune: bool,
}

impl CheckArgs {
    /// Nothing on stdout: [`CheckOutputs`] writes an error in the chosen format, with what the
    /// run had found.
    pub fn error_style(&self) -> ErrorStyle {
        ErrorStyle::Human
    }

    /// Where the outcome goes: stdout, the report files, the annotations.
    pub fn outputs(&self) -> CheckOutputs {
        let github_actions = std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true");
        CheckOutputs {
            format: self.format,
            color: use_color(self.color),
            junit: self.junit.clone(),
            json: self.json.clone(),
            annotations: github_actions && !self.no_annotations,
            project: self.dir.clone(),
            found: self.found.clone(),
        }
    }

    /// `replay_only`: `replay`, which runs the saved seeds and generates no new cases.
    /// `cancel`: the run stops when it is cancelled (a signal).
    pub async fn run(self, replay_only: bool, cancel: pgconverge::CancellationToken) -> Result<Status, Error> {
        let mut check =
            self.explore.apply(Check::new(&self.dir).properties(self.properties)).backend(self.server.backend).cancel_on(cancel);
        if let Some(image) = self.server.image {
            check = check.image(image);
        }
        if let Some(url) = self.database_url {
            check = check.database_url(url);
        }
        if replay_only {
            check = check.replay_only();
        }
        if let Some(limit) = self.statement_timeout {
            check = check.statement_timeout(limit);
        }
        if let Some(limit) = self.lock_timeout {
            check = check.lock_timeout(limit);
        }
        if progress_wanted() {
            check = check.progress(progress_bar());
        }
        // The majors one by one, keeping each report and verdict as it comes: a later major's
        // error or an interruption loses none of them (`CheckOutputs` writes them all).
        let found = self.found.clone();
        check = check.on_verdict(move |verdict| found.verdict(verdict));
        let majors: Vec<Option<u32>> =
            if self.server.majors.is_empty() { vec![None] } else { self.server.majors.iter().copied().map(Some).collect() };
        for major in majors {
            let on_major = match major {
                Some(major) => check.clone().major(major),
                None => check.clone(),
            };
            self.found.report(on_major.run_async().await?);
        }
        Ok(self.found.status())
    }
}

impl ExploreArgs {
    pub(super) fn apply(self, mut check: Check) -> Check {
        if let Some(cases) = self.cases {
            check = check.cases(cases);
        }
        if let Some(seed) = self.seed {
            check = check.seed(seed);
        }
        if let Some(shard) = self.shard {
            check = check.shard(shard);
        }
        if let Some(granularity) = self.granularity {
            check = check.granularity(granularity);
        }
        if let Some(dir) = self.regressions {
            check = check.regressions(dir);
        }
        if self.no_persist {
            check = check.no_persistence();
        }
        if let Some(dir) = self.repro_dir {
            check = check.repro_dir(dir);
        }
        if let Some(jobs) = self.jobs {
            check = check.jobs(jobs);
        }
        if self.no_share {
            check = check.share_prefixes(false);
        }
        if let Some(runs) = self.shrink_iters {
            check = check.shrink_iters(runs);
        }
        if self.prune {
            check = check.prune();
        }
        check
    }
}

/// The most `--jobs`: each job holds a database and connections of its own, and more jobs than
/// a server's default 100 connections allow only fail; 64 is past any gain on one server.
const MAX_JOBS: usize = 64;

fn parse_jobs(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(jobs) if (1..=MAX_JOBS).contains(&jobs) => Ok(jobs),
        Ok(_) => Err(format!("out of range: --jobs takes 1 to {MAX_JOBS} (each job holds database connections of its own)")),
        Err(e) => Err(format!("not a number: {e}")),
    }
}

fn parse_time_limit(value: &str) -> Result<std::time::Duration, String> {
    value.parse::<pgconverge::project::config::TimeLimit>().map(|limit| limit.0)
}

/// Whether the human report is coloured: `--color always` or `never` as said; `auto` as anstream
/// decides for stdout (no colour under `NO_COLOR` or `CLICOLOR=0`, colour under
/// `CLICOLOR_FORCE=1`, else colour on a terminal that supports it).
fn use_color(color: Color) -> bool {
    let choice = match color {
        Color::Always => anstream::ColorChoice::Always,
        Color::Never => anstream::ColorChoice::Never,
        Color::Auto => anstream::AutoStream::choice(&std::io::stdout()),
    };
    choice != anstream::ColorChoice::Never
}

/// Whether to draw a progress bar: on a terminal, and not in CI, whose log keeps every redraw.
fn progress_wanted() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("CI").is_none_or(|ci| ci.is_empty())
}

/// How long a property runs before its progress bar appears: a quick check draws nothing.
const PROGRESS_DELAY: Duration = Duration::from_secs(2);

/// A progress bar on stderr for the property running: its cases done of its target, failed
/// cases and the rate. It appears once the property has run for [`PROGRESS_DELAY`], and its
/// last state stays on screen when the property ends.
fn progress_bar() -> impl Fn(&Progress) + Send + Sync {
    let style = ProgressStyle::with_template("{prefix:<10} [{bar:30}] {pos}/{len} cases, {msg}")
        .expect("a valid progress template")
        .progress_chars("#.");
    let current = Mutex::new(None::<(Property, ProgressBar)>);
    move |p: &Progress| {
        let mut current = current.lock().unwrap_or_else(|e| e.into_inner());
        // A bar left by a property that ended without its last report.
        if current.as_ref().is_some_and(|(property, _)| *property != p.property) {
            if let Some((_, bar)) = current.take() {
                bar.finish();
            }
        }
        if current.is_none() {
            if p.finished || p.elapsed < PROGRESS_DELAY {
                return;
            }
            let bar = ProgressBar::with_draw_target(Some(u64::from(p.target)), ProgressDrawTarget::stderr())
                .with_style(style.clone())
                .with_prefix(p.property.name())
                .with_elapsed(p.elapsed);
            *current = Some((p.property, bar));
        }
        let Some((_, bar)) = current.as_ref() else { return };
        let rate = p.cases as f64 / p.elapsed.as_secs_f64().max(0.001);
        bar.set_length(u64::from(p.target));
        bar.set_position(p.cases);
        bar.set_message(format!("{} failed, {rate:.1} cases/s", p.failed));
        if p.finished {
            bar.finish();
            *current = None;
        }
    }
}
