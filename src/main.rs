//! The `pgconverge` command: parse, run, map to an exit code.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use pgconverge::model::Property;
use pgconverge::model::Shard;
use pgconverge::model::Granularity;
use pgconverge::{compare, report, BackendChoice, Catalog, Check, DumpSource, Error, Status};

/// A catalog dump allocates a string per catalog value; mimalloc made the 1,000-table dump
/// about a fifth faster than glibc's allocator (see benches/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes (stable, documented in the README).
const EXIT_CONVERGES: u8 = 0;
const EXIT_COUNTEREXAMPLE: u8 = 1;
const EXIT_INPUT: u8 = 2;
const EXIT_INFRASTRUCTURE: u8 = 3;
const EXIT_NONDETERMINISTIC: u8 = 4;
const EXIT_INTERRUPTED: u8 = 130;

#[derive(Parser)]
#[command(name = "pgconverge", version, about = "Proves a PostgreSQL migration set converges to its reference schema")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check that DIR's migrations converge: exit 0 converges, 1 counterexample, 2 input error, 3 infrastructure error, 4 nondeterministic objects.
    Check(CheckArgs),
    /// Rerun only the failing seeds saved under DIR/proptest-regressions (or --regressions); generate no new cases.
    Replay(CheckArgs),
    /// Detect DIR's layout (format, ordering, ledger, reference, placeholders, roles) and write a pgconverge.toml.
    Init {
        dir: PathBuf,
        /// Overwrite an existing pgconverge.toml.
        #[arg(long)]
        force: bool,
    },
    /// Remove what killed runs left behind: labelled containers and embedded cluster directories whose owner is gone.
    Reap,
    /// Show which backends and PostgreSQL majors are usable here, and why the others are not.
    Doctor {
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
    /// Print the canonical catalog of DIR's reference or migrations, or of an existing database.
    Dump {
        /// The project directory.
        #[arg(required_unless_present = "from_database")]
        dir: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Source::Reference)]
        source: Source,
        /// Read this existing database (read-only) instead of a project.
        #[arg(long, conflicts_with = "dir")]
        from_database: Option<String>,
        #[arg(long, env = "PGCONVERGE_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        #[arg(long, value_enum, default_value_t = DumpFormat::Text)]
        format: DumpFormat,
        /// Dump on this PostgreSQL major (embedded or container, see --backend).
        #[arg(long = "pg")]
        major: Option<u32>,
        #[arg(long, env = "PGCONVERGE_BACKEND", default_value = "auto")]
        backend: BackendChoice,
    },
    /// Compare two catalogs: each a JSON dump (`dump --format json`) or a project directory. Exit 0 equal, 1 different.
    Diff {
        expected: PathBuf,
        found: PathBuf,
        /// For a directory: dump its reference or its migrations.
        #[arg(long, value_enum, default_value_t = Source::Migrations)]
        source: Source,
        #[arg(long, env = "PGCONVERGE_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
        /// A column-order difference counts as a difference (otherwise a warning).
        #[arg(long)]
        strict_column_order: bool,
    },
}

/// What `check` and `replay` take.
#[derive(clap::Args)]
struct CheckArgs {
    /// The project directory (migrations/, schema.sql, pgconverge.toml).
    dir: PathBuf,
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    format: OutputFormat,
    /// Use this server instead of an embedded cluster (only pgconverge_* databases are created and dropped).
    #[arg(long, env = "PGCONVERGE_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Check only these properties (comma-separated: fresh, idempotent, partial, order, interrupt, reversible).
    #[arg(long, value_delimiter = ',')]
    properties: Vec<Property>,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    #[command(flatten)]
    explore: ExploreArgs,
    #[command(flatten)]
    server: BackendArgs,
}

impl CheckArgs {
    async fn run(self, replay_only: bool, cancel: pgconverge::CancellationToken) -> u8 {
        let mut check = self.server.apply(self.explore.apply(Check::new(&self.dir).properties(self.properties))).cancel_on(cancel);
        if replay_only {
            check = check.replay_only();
        }
        run_check(check, self.format, self.database_url, self.color, &self.server.majors).await
    }
}

/// Which server runs the cases.
#[derive(clap::Args, Clone)]
struct BackendArgs {
    /// auto: the URL if given, else a container when the engine has the image, else embedded.
    #[arg(long, env = "PGCONVERGE_BACKEND", default_value = "auto")]
    backend: BackendChoice,
    /// The container image (default postgres:<major>, else the locally built pgconverge/postgres:<major>-local).
    #[arg(long, env = "PGCONVERGE_IMAGE")]
    image: Option<String>,
    /// PostgreSQL majors to check on, one verdict per major (e.g. 15,16,18).
    #[arg(long = "pg", value_delimiter = ',')]
    majors: Vec<u32>,
}

impl BackendArgs {
    fn apply(&self, mut check: Check) -> Check {
        check = check.backend(self.backend);
        if let Some(image) = &self.image {
            check = check.image(image.clone());
        }
        check
    }
}

/// How the generated properties explore.
#[derive(clap::Args, Clone, Default)]
struct ExploreArgs {
    /// Cases per generated property (default 256, or PROPTEST_CASES).
    #[arg(long)]
    cases: Option<u32>,
    /// Base seed: the same seed (and shard) generates the same cases.
    #[arg(long)]
    seed: Option<u64>,
    /// Run the i-th of n deterministic slices of the cases (e.g. 2/4).
    #[arg(long)]
    shard: Option<Shard>,
    /// What may pre-exist in generated start states: migration (whole re-entrant migrations) or object.
    #[arg(long)]
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
    /// Parallel workers per generated property, each with its own database (default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Run every case from scratch instead of reusing the steps it shares with the previous one.
    #[arg(long)]
    no_share: bool,
}

impl ExploreArgs {
    fn apply(self, mut check: Check) -> Check {
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
        check
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputFormat {
    Human,
    Json,
    /// JUnit XML: one test case per property.
    Junit,
    /// GitHub Actions annotations on the migration file and line at fault.
    Github,
}

#[derive(Clone, Copy, ValueEnum)]
enum DumpFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Source {
    Reference,
    Migrations,
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

impl From<Source> for DumpSource {
    fn from(source: Source) -> DumpSource {
        match source {
            Source::Reference => DumpSource::Reference,
            Source::Migrations => DumpSource::Migrations,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_INFRASTRUCTURE);
        }
    };
    let code = runtime.block_on(async {
        let cancel = pgconverge::CancellationToken::new();
        // On a worker thread, so that a signal is seen even while the case runners block theirs.
        let mut task = tokio::spawn(run(cli, cancel.clone()));
        tokio::select! {
            code = &mut task => code.unwrap_or(EXIT_INFRASTRUCTURE),
            signal = termination_signal() => {
                eprintln!("interrupted ({signal}): cleaning up");
                // A check stops at its next step or case and drops what it made; any other
                // command is aborted at its next await, and dropping it unwinds the guards:
                // scratch databases, clusters, containers.
                cancel.cancel();
                if tokio::time::timeout(std::time::Duration::from_secs(15), &mut task).await.is_err() {
                    task.abort();
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), task).await;
                }
                EXIT_INTERRUPTED
            }
        }
    });
    drop(runtime);
    ExitCode::from(code)
}

/// The first of SIGINT (Ctrl-C), SIGTERM (a CI runner's cancel) and SIGHUP (a closed terminal).
async fn termination_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut terminate), Ok(mut hangup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) else {
        let _ = tokio::signal::ctrl_c().await;
        return "SIGINT";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
        _ = hangup.recv() => "SIGHUP",
    }
}

async fn run(cli: Cli, cancel: pgconverge::CancellationToken) -> u8 {
    match cli.command {
        Command::Check(args) => args.run(false, cancel).await,
        Command::Replay(args) => args.run(true, cancel).await,
        Command::Reap => reap(),
        Command::Init { dir, force } => match pgconverge::project::init::init(&dir, force) {
            Ok(outcome) => {
                for guess in &outcome.guesses {
                    println!("{guess}");
                }
                for file in &outcome.files_written {
                    println!("wrote {}", file.display());
                }
                EXIT_CONVERGES
            }
            Err(error) => {
                eprintln!("error: {error}");
                EXIT_INPUT
            }
        },
        Command::Doctor { format } => {
            let report = pgconverge::runner::doctor::doctor().await;
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report).expect("serializable")),
                _ => print!("{report}"),
            }
            EXIT_CONVERGES
        }
        Command::Dump { dir, source, from_database, database_url, format, major, backend } => {
            let catalog = match (&from_database, &dir) {
                (Some(url), _) => pgconverge::dump_url(url).await,
                (None, Some(dir)) => dump_dir(dir, source, database_url.as_deref(), backend, major).await,
                (None, None) => unreachable!("clap requires one of them"),
            };
            match catalog {
                Ok(catalog) => {
                    match format {
                        DumpFormat::Text => print!("{}", catalog.render()),
                        DumpFormat::Json => println!("{}", catalog.to_json()),
                    }
                    EXIT_CONVERGES
                }
                Err(error) => fail(&error, OutputFormat::Human),
            }
        }
        Command::Diff { expected, found, source, database_url, format, strict_column_order } => {
            diff(&expected, &found, source, database_url.as_deref(), format, strict_column_order).await
        }
    }
}

async fn run_check(mut check: Check, format: OutputFormat, url: Option<String>, color: Color, majors: &[u32]) -> u8 {
    if std::io::stderr().is_terminal() {
        check = check.progress(progress_bar());
    }
    if let Some(url) = url {
        check = check.database_url(url);
    }
    // One report per major; a plain run is a matrix of one.
    let mut reports = Vec::new();
    let runs: Vec<Option<u32>> = if majors.is_empty() { vec![None] } else { majors.iter().copied().map(Some).collect() };
    for major in runs {
        let check = match major {
            Some(m) => check.clone().major(m),
            None => check.clone(),
        };
        match check.run_async().await {
            Ok(report) => reports.push(report),
            Err(error) => return fail(&error, format),
        }
    }
    match (format, reports.as_slice()) {
        (OutputFormat::Human, reports) => {
            for report in reports {
                print!("{}", report::human(report, use_color(color)));
                if reports.len() > 1 {
                    println!();
                }
            }
            if reports.len() > 1 {
                for report in reports {
                    println!("PostgreSQL {}: {}", report.server_version, status_word(report.status));
                }
            }
        }
        (OutputFormat::Json, [single]) => println!("{}", report::json(single)),
        (OutputFormat::Json, reports) => {
            let worst = reports.iter().map(|r| r.status).max_by_key(|s| severity(*s)).unwrap_or(Status::Converges);
            let value = serde_json::json!({ "status": worst, "majors": reports.iter().map(|r| r.major).collect::<Vec<_>>(), "reports": reports });
            println!("{}", serde_json::to_string_pretty(&value).expect("serializable"));
        }
        (OutputFormat::Junit, reports) => print!("{}", report::junit_many(reports)),
        (OutputFormat::Github, reports) => {
            for report in reports {
                print!("{}", report::github(report));
            }
        }
    }
    let worst = reports.iter().map(|r| r.status).max_by_key(|s| severity(*s)).unwrap_or(Status::Converges);
    match worst {
        Status::Converges => EXIT_CONVERGES,
        Status::Counterexample => EXIT_COUNTEREXAMPLE,
        Status::Nondeterministic => EXIT_NONDETERMINISTIC,
        // Could not decide: some property did not run all of its cases.
        Status::Incomplete => EXIT_INFRASTRUCTURE,
    }
}

fn severity(status: Status) -> u8 {
    match status {
        Status::Converges => 0,
        Status::Nondeterministic => 1,
        Status::Incomplete => 2,
        Status::Counterexample => 3,
    }
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Converges => "converges",
        Status::Counterexample => "counterexample",
        Status::Nondeterministic => "nondeterministic",
        Status::Incomplete => "incomplete",
    }
}

fn reap() -> u8 {
    let clusters = pgconverge::runner::embedded::reap_stale_clusters(&pgconverge::runner::embedded::cluster_base_dir());
    println!("removed {clusters} leftover embedded cluster directories");
    match pgconverge::runner::container::reap() {
        Ok(containers) => {
            println!("removed {containers} leftover containers");
            EXIT_CONVERGES
        }
        Err(error) => {
            eprintln!("error: {error}");
            EXIT_INFRASTRUCTURE
        }
    }
}

async fn dump_dir(dir: &Path, source: Source, url: Option<&str>, backend: BackendChoice, major: Option<u32>) -> Result<Catalog, Error> {
    let backend = pgconverge::start_backend_for(backend, url, major, None).await?;
    let catalog = pgconverge::dump_project(dir, source.into(), backend.as_ref()).await;
    backend.shutdown().await;
    catalog
}

async fn diff(expected: &Path, found: &Path, source: Source, url: Option<&str>, format: OutputFormat, strict: bool) -> u8 {
    let loaded = async {
        let expected = load_catalog(expected, source, url).await?;
        let found = load_catalog(found, source, url).await?;
        anyhow::Ok((expected, found))
    };
    let (expected_catalog, found_catalog) = match loaded.await {
        Ok(pair) => pair,
        Err(error) => {
            eprintln!("error: {error:#}");
            return match error.downcast_ref::<Error>() {
                Some(e) if !e.is_input_error() => EXIT_INFRASTRUCTURE,
                _ => EXIT_INPUT,
            };
        }
    };
    let options = compare::CompareOptions { strict_column_order: strict };
    let differences = compare::compare(&expected_catalog, &found_catalog, &options);
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&differences).expect("serializable")),
        OutputFormat::Human | OutputFormat::Junit | OutputFormat::Github => {
            for difference in &differences {
                println!("{difference}");
            }
            if differences.is_empty() {
                println!("no differences");
            }
        }
    }
    if compare::has_errors(&differences) {
        EXIT_COUNTEREXAMPLE
    } else {
        EXIT_CONVERGES
    }
}

async fn load_catalog(path: &Path, source: Source, url: Option<&str>) -> anyhow::Result<Catalog> {
    if path.is_dir() {
        return Ok(dump_dir(path, source, url, BackendChoice::Auto, None).await?);
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    Catalog::from_json(&text).with_context(|| format!("{}: not a pgconverge JSON dump", path.display()))
}

fn fail(error: &Error, format: OutputFormat) -> u8 {
    let (kind, code) = if error.is_input_error() { ("input", EXIT_INPUT) } else { ("infrastructure", EXIT_INFRASTRUCTURE) };
    match format {
        OutputFormat::Json => {
            let value = serde_json::json!({ "status": "error", "error": kind, "message": error.to_string() });
            println!("{}", serde_json::to_string_pretty(&value).expect("serializable"));
        }
        OutputFormat::Github => println!("::error title=pgconverge {kind} error::{}", report::github_escape_data(&error.to_string())),
        OutputFormat::Human | OutputFormat::Junit => {}
    }
    eprintln!("error: {error}");
    code
}

/// A one-line progress bar on stderr, drawn only once a property has run for two seconds.
fn progress_bar() -> impl Fn(&pgconverge::engine::explore::Progress) + Send + Sync {
    let last_draw = std::sync::Mutex::new(None::<std::time::Instant>);
    move |p: &pgconverge::engine::explore::Progress| {
        let mut last = last_draw.lock().unwrap_or_else(|e| e.into_inner());
        if p.finished {
            if last.take().is_some() {
                eprintln!();
            }
            return;
        }
        let due = last.is_none_or(|t| t.elapsed() >= std::time::Duration::from_millis(200));
        if p.elapsed < std::time::Duration::from_secs(2) || !due {
            return;
        }
        let rate = p.cases as f64 / p.elapsed.as_secs_f64().max(0.001);
        let width = 30usize;
        let done = ((p.cases as f64 / f64::from(p.target.max(1))) * width as f64).min(width as f64) as usize;
        eprint!(
            "\r{:<10} [{}{}] {}/{} cases, {} failed, {:.1} cases/s ",
            p.property.name(),
            "#".repeat(done),
            ".".repeat(width - done),
            p.cases,
            p.target,
            p.failed,
            rate
        );
        *last = Some(std::time::Instant::now());
    }
}

fn use_color(color: Color) -> bool {
    match color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}
