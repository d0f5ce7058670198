//! The library's front door: one call for the common case, a builder for the rest.

use std::path::{Path, PathBuf};

use sqlx::postgres::PgConnection;

use crate::catalog::{self, Canonicalizer, Catalog, IgnoreRules};
use crate::engine::executor::apply_migration;
use crate::engine::explore::ExploreOptions;
use crate::engine::prepare::{Preparation, Purpose};
use crate::engine::Checker;
use crate::error::Error;
use crate::model::{Failure, Property, Report};
use crate::model::{Granularity, Shard};
use crate::project::init::{InitError, InitOutcome};
use crate::project::{Project, ProjectError};
use crate::report::Matrix;
use crate::runner::embedded::ServerBinaries;
use crate::runner::{self, Backend, EmbeddedCluster, ExistingServer, RunnerError};
pub use tokio_util::sync::CancellationToken;

/// Checks the project in `dir` with every property, on the backend [`BackendChoice::Auto`]
/// chooses: the server in `PGCONVERGE_DATABASE_URL` when it is set, else a throwaway embedded
/// cluster of the PostgreSQL server binaries installed here. For a `#[test]`:
///
/// ```no_run
/// let report = pgconverge::check("fixtures/k12_lms").unwrap();
/// assert!(report.converges(), "{}", pgconverge::report::human(&report, false));
/// ```
pub fn check(dir: impl AsRef<Path>) -> Result<Report, Error> {
    Check::new(dir).run()
}

/// Checks the project in `dir` as [`check`] does and panics, with the human report, unless it
/// converges (exactly when `pgconverge check` would exit 0). For a `#[test]` or a
/// `#[tokio::test]`:
///
/// ```no_run
/// #[test]
/// fn migrations_converge() {
///     pgconverge::assert_converges("db");
/// }
/// ```
#[track_caller]
pub fn assert_converges(dir: impl AsRef<Path>) {
    let dir = dir.as_ref();
    match check(dir) {
        Ok(report) if report.converges() => {}
        Ok(report) => panic!(
            "{} does not converge ({}, exit {} from `pgconverge check`):\n{}",
            dir.display(),
            report.status.name(),
            report.status.exit_code(),
            crate::report::human(&report, false)
        ),
        Err(error) => panic!("pgconverge could not check {}: {error}", dir.display()),
    }
}

/// A configurable check.
#[derive(Debug, Clone)]
pub struct Check {
    dir: PathBuf,
    database_url: Option<String>,
    properties: Vec<Property>,
    explore: ExploreOptions,
    /// Seeds and repro scripts go to `DIR/proptest-regressions` unless told otherwise.
    persist_default: bool,
    backend: BackendChoice,
    major: Option<u32>,
    image: Option<String>,
    /// A `PGCONVERGE_SEED`/`PGCONVERGE_SHARD` value that does not parse, reported when the check runs.
    environment_error: Option<(&'static str, String)>,
}

impl Check {
    /// A check of the project in `dir` with the config's properties, on the backend
    /// [`BackendChoice::Auto`] chooses: the server in `PGCONVERGE_DATABASE_URL` when it is set,
    /// else an embedded cluster when server binaries are found, else a container (of the image in
    /// `PGCONVERGE_IMAGE`, when it is set).
    ///
    /// `PGCONVERGE_SEED`, `PGCONVERGE_SHARD` (`i/n`) and `PGCONVERGE_CASES` set the seed, the
    /// shard and the cases per generated property as [`Check::seed`], [`Check::shard`] and
    /// [`Check::cases`] do, so a seed printed by a failing `cargo test` reruns the same cases
    /// (`PGCONVERGE_SEED=<seed> cargo test`) and a nightly job runs more of them.
    pub fn new(dir: impl AsRef<Path>) -> Check {
        Check::with_environment(dir.as_ref(), |name| std::env::var(name).ok())
    }

    /// [`Check::new`] with the environment read through `lookup`.
    fn with_environment(dir: &Path, lookup: impl Fn(&str) -> Option<String>) -> Check {
        let mut environment_error = None;
        let mut explore = ExploreOptions::default();
        let variable = |name: &'static str| lookup(name).filter(|v| !v.trim().is_empty()).map(|v| (name, v));
        if let Some((name, value)) = variable("PGCONVERGE_SEED") {
            match value.trim().parse::<u64>() {
                Ok(seed) => explore.seed = Some(seed),
                Err(_) => environment_error = Some((name, format!("`{value}` is not a seed (a number)"))),
            }
        }
        if let Some((name, value)) = variable("PGCONVERGE_CASES") {
            match value.trim().parse::<u32>() {
                Ok(cases) if cases > 0 => explore.cases = Some(cases),
                _ => environment_error = Some((name, format!("`{value}` is not a number of cases (1 or more)"))),
            }
        }
        if let Some((name, value)) = variable("PGCONVERGE_SHARD") {
            match value.parse::<Shard>() {
                Ok(shard) => explore.shard = Some(shard),
                Err(message) => environment_error = Some((name, message)),
            }
        }
        Check {
            dir: dir.to_path_buf(),
            database_url: lookup("PGCONVERGE_DATABASE_URL").filter(|u| !u.is_empty()),
            properties: Vec::new(),
            explore,
            persist_default: true,
            backend: BackendChoice::Auto,
            major: None,
            image: lookup("PGCONVERGE_IMAGE").filter(|i| !i.is_empty()),
            environment_error,
        }
    }

    /// Which kind of server to use. The default, as the CLI's, is [`BackendChoice::Auto`]: the
    /// URL when one is given, else an embedded cluster when server binaries are found, else a
    /// container when the Docker engine answers.
    pub fn backend(mut self, backend: BackendChoice) -> Check {
        self.backend = backend;
        self
    }

    /// The PostgreSQL major version to run on.
    pub fn major(mut self, major: u32) -> Check {
        self.major = Some(major);
        self
    }

    /// The container image (with `--backend container`).
    pub fn image(mut self, image: impl Into<String>) -> Check {
        self.image = Some(image.into());
        self
    }

    /// Use an existing server: the harness creates and drops only its own `pgconverge_*` databases.
    pub fn database_url(mut self, url: impl Into<String>) -> Check {
        self.database_url = Some(url.into());
        self
    }

    /// Check only these properties.
    pub fn properties(mut self, properties: impl IntoIterator<Item = Property>) -> Check {
        self.properties = properties.into_iter().collect();
        self
    }

    /// Cases per generated property (default: proptest's, 256 or `PROPTEST_CASES`).
    pub fn cases(mut self, cases: u32) -> Check {
        self.explore.cases = Some(cases);
        self
    }

    /// The base seed: the same seed generates the same cases.
    pub fn seed(mut self, seed: u64) -> Check {
        self.explore.seed = Some(seed);
        self
    }

    /// Run only this slice of the generated cases.
    pub fn shard(mut self, shard: Shard) -> Check {
        self.explore.shard = Some(shard);
        self
    }

    /// What may pre-exist in generated start states. [`Granularity::Object`] here, or in the
    /// config's `granularity`, makes it any subset of objects; the default is whole migrations.
    pub fn granularity(mut self, granularity: Granularity) -> Check {
        self.explore.granularity = granularity;
        self
    }

    /// Where failing seeds are saved and replayed from, and repro scripts written
    /// (default `DIR/proptest-regressions`).
    pub fn regressions(mut self, dir: impl Into<PathBuf>) -> Check {
        self.explore.regressions = Some(dir.into());
        self.persist_default = false;
        self
    }

    /// Neither save nor replay seeds (repro scripts only where `repro_dir` says).
    pub fn no_persistence(mut self) -> Check {
        self.explore.regressions = None;
        self.persist_default = false;
        self
    }

    /// Where repro scripts are written (default: the regressions directory).
    pub fn repro_dir(mut self, dir: impl Into<PathBuf>) -> Check {
        self.explore.repro_dir = Some(dir.into());
        self
    }

    /// Called after every generated case (for a progress bar).
    pub fn progress(mut self, sink: impl Fn(&crate::engine::explore::Progress) + Send + Sync + 'static) -> Check {
        self.explore.progress = Some(crate::engine::explore::ProgressSink(std::sync::Arc::new(sink)));
        self
    }

    /// Called with each property's verdict as soon as it is decided, before the report: a
    /// caller that must not lose a finding when a later step fails or the run is interrupted
    /// (and the check returns an error instead of a report) keeps them. Not called once the
    /// check is cancelled.
    pub fn on_verdict(mut self, sink: impl Fn(&crate::model::Verdict) + Send + Sync + 'static) -> Check {
        self.explore.verdicts = Some(crate::engine::explore::VerdictSink(std::sync::Arc::new(sink)));
        self
    }

    /// Parallel workers per generated property (default: one per core).
    pub fn jobs(mut self, jobs: usize) -> Check {
        self.explore.jobs = jobs.max(1);
        self
    }

    /// Whether a case reuses the state of the step prefix it shares with the previous case.
    pub fn share_prefixes(mut self, share: bool) -> Check {
        self.explore.share_prefixes = share;
        self
    }

    /// Only replay the saved counterexamples; generate no new cases. With none saved, the
    /// check is an input error (there is nothing to decide).
    pub fn replay_only(mut self) -> Check {
        self.explore.replay_only = true;
        self
    }

    /// Remove the saved counterexamples that now pass or no longer name existing migrations
    /// (after replaying them).
    pub fn prune(mut self) -> Check {
        self.explore.prune = true;
        self
    }

    /// Case runs a failure's shrinking may spend (default `PROPTEST_MAX_SHRINK_ITERS`, else
    /// 256). A case whose shrinking ran out of budget says so in its description.
    pub fn shrink_iters(mut self, runs: u32) -> Check {
        self.explore.max_shrink_iters = Some(runs);
        self
    }

    /// Stops the check when `token` is cancelled (the CLI cancels on Ctrl-C, SIGTERM and
    /// SIGHUP): the statements it has in flight are cancelled on the server, it drops what it
    /// created, and returns an interrupted error. Whatever has not ended after 5 s is cut off
    /// with its connection.
    pub fn cancel_on(mut self, token: CancellationToken) -> Check {
        self.explore.cancel = token;
        self
    }

    /// How long one statement (a migration's, the reference's) may run before it is cancelled,
    /// an infrastructure error naming it (default: `statement_timeout` in pgconverge.toml, else
    /// 5 minutes). A migration's own `SET statement_timeout` does not lift it.
    /// `Duration::ZERO` sets none: the server's own settings apply.
    pub fn statement_timeout(mut self, limit: std::time::Duration) -> Check {
        self.explore.statement_timeout = Some(limit);
        self
    }

    /// How long one statement may wait for a lock before it is cancelled, an infrastructure
    /// error naming it (default: `lock_timeout` in pgconverge.toml, else 1 minute).
    /// `Duration::ZERO` sets none: the server's own settings apply.
    pub fn lock_timeout(mut self, limit: std::time::Duration) -> Check {
        self.explore.lock_timeout = Some(limit);
        self
    }

    /// Runs the check on a runtime of its own, for synchronous callers such as `#[test]`.
    /// Inside an async runtime (`#[tokio::test]`) it runs on a thread of its own; there,
    /// `run_async().await` is the better call.
    pub fn run(&self) -> Result<Report, Error> {
        let run_here = || own_runtime()?.block_on(self.run_async());
        if tokio::runtime::Handle::try_current().is_err() {
            return run_here();
        }
        // A runtime cannot start inside another's thread.
        std::thread::scope(|scope| scope.spawn(run_here).join()).unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    /// Runs the check once per PostgreSQL major in `majors`, in order (once, on the default
    /// major, when `majors` is empty), on a runtime of its own.
    pub fn run_matrix(&self, majors: &[u32]) -> Result<Matrix, Error> {
        own_runtime()?.block_on(self.run_matrix_async(majors))
    }

    /// [`Check::run_matrix`] on the caller's runtime. The first error ends the matrix.
    pub async fn run_matrix_async(&self, majors: &[u32]) -> Result<Matrix, Error> {
        let mut reports = Vec::new();
        if majors.is_empty() {
            reports.push(self.run_async().await?);
        }
        for &major in majors {
            reports.push(self.clone().major(major).run_async().await?);
        }
        Ok(Matrix { reports })
    }

    /// Runs the check on the caller's runtime.
    pub async fn run_async(&self) -> Result<Report, Error> {
        let cancel = self.explore.cancel.clone();
        let run = self.run_uncancelled();
        tokio::pin!(run);
        tokio::select! {
            result = &mut run => result,
            _ = cancel.cancelled() => {
                // The engine stops at its next step and drops its databases; a statement that
                // does not end in time is cut off, and the guards drop what is left.
                let _ = tokio::time::timeout(std::time::Duration::from_secs(5), &mut run).await;
                Err(RunnerError::Interrupted.into())
            }
        }
    }

    async fn run_uncancelled(&self) -> Result<Report, Error> {
        // Input errors come before any server is started.
        if let Some((variable, message)) = &self.environment_error {
            return Err(Error::Environment { variable, message: message.clone() });
        }
        if self.explore.cases == Some(0) && !self.explore.replay_only {
            return Err(
                RunnerError::NothingToRun("--cases 0 runs no generated case: give at least 1 (or leave it out for 256)".into()).into()
            );
        }
        // Reading and parsing the files (and a `list` command) blocks: off the async runtime.
        let dir = self.dir.clone();
        let project = tokio::task::spawn_blocking(move || Project::load(&dir))
            .await
            .map_err(|e| Error::Panicked { task: format!("loading the project: {e}") })??;
        let mut explore = self.explore.clone();
        if self.persist_default {
            explore.regressions = Some(crate::project::paths::join(&project.dir, Path::new(crate::project::DEFAULT_REGRESSIONS_DIR)));
        }
        if explore.repro_dir.is_none() {
            explore.repro_dir = explore.regressions.clone();
        }
        let properties = if self.properties.is_empty() { project.config.properties.clone() } else { self.properties.clone() };
        if explore.replay_only {
            let saved = match &explore.regressions {
                Some(dir) => crate::engine::explore::has_saved_cases(dir, &properties)?,
                None => false,
            };
            if !saved {
                let where_ = explore.regressions.as_ref().map_or("(saving is off: --no-persist)".to_string(), |d| d.display().to_string());
                return Err(RunnerError::NothingToRun(format!("nothing to replay: no saved counterexample in {where_}")).into());
            }
        }
        if explore.granularity == Granularity::Migration {
            if let Some(granularity) = project.config.granularity {
                explore.granularity = granularity;
            }
        }
        let (decision, url, image) = if project.runs_own_migrator() {
            // The commands get no password, so only an embedded cluster works: say so before
            // starting anything (`auto` means embedded here).
            let refused = match (self.backend, self.database_url.is_some()) {
                (_, true) | (BackendChoice::Url, false) => Some("url"),
                (BackendChoice::Container, false) => Some("container"),
                (BackendChoice::Auto | BackendChoice::Embedded, false) => None,
            };
            if let Some(backend) = refused {
                return Err(RunnerError::CommandRunnerNeedsEmbedded { runner: project.runner_name(), backend: backend.to_string() }.into());
            }
            let mut decision = choose_backend(BackendChoice::Embedded, None, self.major, None).await?;
            if self.backend == BackendChoice::Auto {
                decision.reason = format!(
                    "embedded: the project's own migrator (runner = \"{}\") runs on an embedded cluster only",
                    project.runner_name()
                );
            }
            (decision, None, None)
        } else {
            let (url, image) = (self.database_url.as_deref(), self.image.as_deref());
            (choose_backend_checked(self.backend, url, self.major, image).await?, url, image)
        };
        let backend = start_backend(&decision, url, self.major, image).await?;
        let report = Checker::new(&project, backend.as_ref()).run(&properties, &explore).await;
        backend.shutdown().await;
        let mut report = report?;
        report.backend_reason = Some(decision.reason);
        Ok(report)
    }
}

/// A runtime for a synchronous caller of the check.
fn own_runtime() -> Result<tokio::runtime::Runtime, RunnerError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| RunnerError::Runtime { purpose: "the async runtime", source })
}

/// Which kind of server runs the cases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum BackendChoice {
    /// The URL when one is given; else an embedded cluster when PostgreSQL server binaries are
    /// found; else a container when the Docker engine answers. Images the engine happens to have
    /// never change the choice.
    #[default]
    Auto,
    /// A throwaway cluster of the server binaries installed here, on a unix socket.
    Embedded,
    /// A throwaway container of a PostgreSQL image on the local Docker engine.
    Container,
    /// An existing server at a database URL; only `pgconverge_*` databases are created there.
    Url,
}

impl std::str::FromStr for BackendChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(BackendChoice::Auto),
            "embedded" => Ok(BackendChoice::Embedded),
            "container" => Ok(BackendChoice::Container),
            "url" => Ok(BackendChoice::Url),
            other => Err(format!("unknown backend `{other}` (expected auto, embedded, container or url)")),
        }
    }
}

/// The backend a check runs on, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendDecision {
    /// `Embedded`, `Container` or `Url`: never `Auto`.
    pub choice: BackendChoice,
    /// Why, in words, for the report: `embedded: PostgreSQL 15 binaries found in
    /// /usr/lib/postgresql/15/bin`, `container: asked with --backend container`.
    pub reason: String,
    /// The server binaries that decided on an embedded cluster: the ones it runs.
    binaries: Option<ServerBinaries>,
}

/// What `auto` looks at on this machine: [`BackendFacts::probe`] finds them, [`decide`] uses them.
#[derive(Debug, Clone, Default)]
struct BackendFacts {
    /// Server binaries of the wanted major (the newest of any major when none is wanted),
    /// installed or fetched earlier into the cache.
    binaries: Option<ServerBinaries>,
    /// Where binaries were looked for, for the error when there are none.
    searched: String,
    /// Whether a Docker engine answers (only asked when no binaries were found).
    engine_answers: bool,
    /// The PostgreSQL image the engine has for the major, if any: named in the reason for a
    /// container, never a reason to choose one.
    local_image: Option<String>,
    /// Whether a wanted major's missing binaries may be fetched (`PGCONVERGE_NO_FETCH` unset).
    fetch_allowed: bool,
}

impl BackendFacts {
    /// The facts of this machine for `major` (the engine is asked only when no binaries are found).
    async fn probe(major: Option<u32>, image: Option<&str>) -> BackendFacts {
        // Probing runs `postgres --version` of each install: off the async threads.
        let binaries = tokio::task::spawn_blocking(move || match major {
            Some(m) => crate::runner::majors::installed_major(m).or_else(|| crate::runner::majors::cached_major(m)),
            None => crate::runner::embedded::find_server_binaries().ok().and_then(|found| found.into_iter().next()),
        })
        .await
        .ok()
        .flatten();
        let searched = match std::env::var_os("PGCONVERGE_PG_BIN") {
            Some(dir) => format!("PGCONVERGE_PG_BIN={}", PathBuf::from(dir).display()),
            None => "PATH, /usr/lib/postgresql/*/bin, pg_config --bindir".to_string(),
        };
        let searched = match (major, crate::runner::majors::cache_dir()) {
            (Some(m), Some(cache)) => format!("PostgreSQL {m}: {searched}, {}", cache.join(format!("postgres-{m}")).display()),
            (Some(m), None) => format!("PostgreSQL {m}: {searched}"),
            (None, _) => searched,
        };
        let fetch_allowed = std::env::var_os("PGCONVERGE_NO_FETCH").is_none();
        let mut facts = BackendFacts { binaries, searched, fetch_allowed, ..BackendFacts::default() };
        if facts.binaries.is_none() {
            facts.probe_engine(major, image).await;
        }
        facts
    }

    #[cfg(feature = "container")]
    async fn probe_engine(&mut self, major: Option<u32>, image: Option<&str>) {
        use crate::runner::container::{self, ImageRef};
        self.engine_answers = container::engine_available().await;
        if !self.engine_answers {
            return;
        }
        let m = major.unwrap_or(DEFAULT_CONTAINER_MAJOR);
        let candidates = match image {
            Some(image) => vec![ImageRef::parse_or_tag(image, &m.to_string())],
            None => vec![ImageRef::official(m), ImageRef::local(m)],
        };
        for candidate in candidates {
            if candidate.exists_locally().await {
                self.local_image = Some(candidate.to_string());
                return;
            }
        }
    }

    #[cfg(not(feature = "container"))]
    async fn probe_engine(&mut self, _major: Option<u32>, _image: Option<&str>) {}
}

/// The major a container runs when none is named and no server binaries say which.
#[cfg(feature = "container")]
const DEFAULT_CONTAINER_MAJOR: u32 = 16;

/// The backend for `choice`: a URL, when given, wins; `embedded` and `container` are taken as
/// asked; `auto` is an embedded cluster when server binaries are found, else a container when
/// the engine answers, else (for a `--pg` major) an embedded cluster on binaries fetched for it.
/// `image`: whether an image was named (it applies to a container only).
fn decide(
    choice: BackendChoice,
    url_given: bool,
    major: Option<u32>,
    image: bool,
    facts: BackendFacts,
) -> Result<BackendDecision, RunnerError> {
    let decision = |choice: BackendChoice, reason: String| BackendDecision { choice, reason, binaries: None };
    match (choice, url_given) {
        // A database URL names the server: it wins over any default or environment choice.
        (_, true) => return Ok(decision(BackendChoice::Url, "url: --database-url given".into())),
        (BackendChoice::Url, false) => return Err(RunnerError::MissingDatabaseUrl),
        (BackendChoice::Embedded, false) => return Ok(decision(BackendChoice::Embedded, "embedded: asked with --backend embedded".into())),
        (BackendChoice::Container, false) => {
            return Ok(decision(BackendChoice::Container, "container: asked with --backend container".into()))
        }
        (BackendChoice::Auto, false) => {}
    }
    if let Some(binaries) = facts.binaries {
        let unused_image = if image { " (--image is for a container: --backend container)" } else { "" };
        let reason = format!("embedded: PostgreSQL {} binaries found in {}{unused_image}", binaries.major, binaries.bin_dir.display());
        return Ok(BackendDecision { choice: BackendChoice::Embedded, reason, binaries: Some(binaries) });
    }
    if facts.engine_answers {
        let has = facts.local_image.map(|image| format!(", and has {image}")).unwrap_or_default();
        let reason = format!("container: no PostgreSQL server binaries found ({}); the Docker engine answers{has}", facts.searched);
        return Ok(decision(BackendChoice::Container, reason));
    }
    match major {
        Some(m) if facts.fetch_allowed => Ok(decision(
            BackendChoice::Embedded,
            format!("embedded: no PostgreSQL {m} binaries here and no Docker engine answers, so they are fetched (scripts/fetch-postgres)"),
        )),
        _ => Err(RunnerError::NoBackend { searched: facts.searched }),
    }
}

/// Which backend `choice` comes to on this machine, and why (see [`BackendChoice::Auto`]).
pub async fn choose_backend(
    choice: BackendChoice,
    database_url: Option<&str>,
    major: Option<u32>,
    image: Option<&str>,
) -> Result<BackendDecision, RunnerError> {
    let facts = match (choice, database_url) {
        (BackendChoice::Auto, None) => BackendFacts::probe(major, image).await,
        _ => BackendFacts::default(),
    };
    decide(choice, database_url.is_some(), major, image.is_some(), facts)
}

/// The major a container runs when none is named: the newest installed one, else 16.
#[cfg(feature = "container")]
fn default_major() -> u32 {
    crate::runner::embedded::find_server_binaries().ok().and_then(|b| b.first().map(|b| b.major)).unwrap_or(DEFAULT_CONTAINER_MAJOR)
}

/// Starts the chosen backend, for `major` when given, from `image` when given.
pub async fn start_backend_for(
    choice: BackendChoice,
    database_url: Option<&str>,
    major: Option<u32>,
    image: Option<&str>,
) -> Result<Box<dyn Backend>, RunnerError> {
    let decision = choose_backend_checked(choice, database_url, major, image).await?;
    start_backend(&decision, database_url, major, image).await
}

/// [`choose_backend`], after checking that a named image is one a container can run.
async fn choose_backend_checked(
    choice: BackendChoice,
    database_url: Option<&str>,
    major: Option<u32>,
    image: Option<&str>,
) -> Result<BackendDecision, RunnerError> {
    #[cfg(feature = "container")]
    {
        use crate::runner::container::ImageRef;
        // A bad image is the user's to fix before anything starts, even when `auto` would not use it.
        if let (Some(image), BackendChoice::Auto | BackendChoice::Container, None) = (image, choice, database_url) {
            ImageRef::parse_or_tag(image, &major.unwrap_or(DEFAULT_CONTAINER_MAJOR).to_string()).check()?;
        }
    }
    choose_backend(choice, database_url, major, image).await
}

/// Starts the backend `decision` names, for `major` when given, from `image` when given.
pub async fn start_backend(
    decision: &BackendDecision,
    database_url: Option<&str>,
    major: Option<u32>,
    image: Option<&str>,
) -> Result<Box<dyn Backend>, RunnerError> {
    match decision.choice {
        BackendChoice::Url => {
            let url = database_url.ok_or(RunnerError::MissingDatabaseUrl)?;
            let mut server = ExistingServer::from_url(url)?;
            // As an embedded start reaps dead clusters: what killed runs of this host left.
            server.reap_leftovers().await;
            Ok(Box::new(server))
        }
        BackendChoice::Embedded => match (&decision.binaries, major) {
            (Some(binaries), _) => Ok(Box::new(EmbeddedCluster::start_with(binaries.clone()).await?)),
            (None, Some(m)) => {
                let binaries = tokio::task::spawn_blocking(move || crate::runner::majors::find_major(m))
                    .await
                    .map_err(|e| RunnerError::Task { task: format!("the search for PostgreSQL {m}"), message: e.to_string() })??;
                Ok(Box::new(EmbeddedCluster::start_with(binaries).await?))
            }
            (None, None) => Ok(Box::new(EmbeddedCluster::start().await?)),
        },
        #[cfg(feature = "container")]
        BackendChoice::Container => {
            use crate::runner::container::{self, ContainerServer, ImageRef};
            let m = match major {
                Some(m) => m,
                // Runs `postgres --version` of each install: off the async threads.
                None => tokio::task::spawn_blocking(default_major).await.unwrap_or(DEFAULT_CONTAINER_MAJOR),
            };
            let image = match image {
                Some(image) => ImageRef::parse_or_tag(image, &m.to_string()),
                None => {
                    let official = ImageRef::official(m);
                    if official.exists_locally().await || std::env::var_os("PGCONVERGE_IMAGE").is_some() {
                        container::image_for(m).await
                    } else {
                        // No registry needed: build the local image from binaries on this machine.
                        container::ensure_local_image(m).await?
                    }
                }
            };
            Ok(Box::new(ContainerServer::start(&image).await?))
        }
        #[cfg(not(feature = "container"))]
        BackendChoice::Container => {
            // The image would name the container's.
            let _ = image;
            Err(RunnerError::ContainerBackendNotBuilt)
        }
        BackendChoice::Auto => unreachable!("a decision is never auto"),
    }
}

/// What `dump` reads a catalog from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpSource {
    /// The project's reference schema, applied to a scratch database.
    Reference,
    /// The project's migrations, applied in order to a scratch database.
    Migrations,
}

/// The canonical catalog of a project's reference or of its migrations, prepared exactly as
/// `check` prepares them: extensions, setup files (whose objects are left out unless
/// `setup_in_result`), the ledger table, and the config's `ignore` globs.
pub async fn dump_project(dir: &Path, source: DumpSource, backend: &dyn Backend) -> Result<Catalog, Error> {
    let project = Project::load(dir)?;
    let mut checker = crate::engine::Checker::new(&project, backend);
    let watchdog = checker.watchdog();
    let catalog = match checker.prepare().await {
        Ok(()) => checker.dump_source(source == DumpSource::Migrations).await,
        Err(error) => Err(error),
    };
    watchdog.stop().await;
    catalog
}

/// Migrates the database `conn` is connected to as `check`'s fresh run migrates a scratch
/// database: the project's preparation (extensions, setup files, the ledger table), then every
/// migration in canonical order, its statements run by pgconverge (a `runner = "command"`
/// migrator is not used). For a database to inspect afterwards, with `pg_dump` for instance. A
/// setup file or migration that fails is an input error that names the statement.
pub async fn migrate(project: &Project, conn: &mut PgConnection) -> Result<(), Error> {
    let preparation = Preparation::load(project).map_err(ProjectError::from)?;
    if let Some(failure) = preparation.apply(conn, Purpose::Migrations, None).await? {
        return Err(Error::Setup { location: failure.location, error: failure.error });
    }
    for migration in &project.migrations.migrations {
        // The caller's own session: its limits are its own, none of pgconverge's.
        match apply_migration(conn, migration, &runner::SessionLimits::NONE).await? {
            None => {}
            Some(Failure::StatementFailed { migration, location, error, .. }) => {
                return Err(Error::Migration { migration, location, error })
            }
            Some(Failure::Diverged { .. }) => unreachable!("applying a migration fails by a statement or not at all"),
        }
    }
    Ok(())
}

/// `pgconverge init DIR`: guesses `DIR/pgconverge.toml` from the project's files and writes it
/// (with a setup file when roles need one); see [`crate::project::init`] for what it guesses.
/// `idempotent` lists the migrations whose every statement that changes something is guarded,
/// each with a comment saying how. An existing config or setup file is an error unless `force`.
pub fn init(dir: &Path, force: bool) -> Result<InitOutcome, InitError> {
    crate::project::init::init(dir, force, &crate::analysis::reentrancy::guarding_all)
}

/// The canonical catalog of an existing database, read in a read-only transaction.
pub async fn dump_url(url: &str) -> Result<Catalog, Error> {
    let server = ExistingServer::from_url(url)?;
    let mut conn = runner::connect(&server.admin_options(), "connect to the database").await?;
    sqlx::raw_sql("BEGIN READ ONLY").execute(&mut conn).await.map_err(|e| RunnerError::db("begin a read-only transaction", e))?;
    let catalog = catalog::dump(&mut conn, &mut Canonicalizer::new(), &IgnoreRules::default()).await?;
    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut conn).await;
    Ok(catalog)
}

/// Without the container backend, choosing it is an input error (the choice cannot work as given).
#[cfg(all(test, not(feature = "container")))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_the_feature_a_container_is_an_input_error() {
        let error = start_backend_for(BackendChoice::Container, None, Some(15), None).await.err().expect("refused");
        assert!(error.to_string().contains("`container` feature"), "{error}");
        assert_eq!(crate::Error::from(error).kind(), crate::ErrorKind::Input);
    }
}

#[cfg(test)]
mod environment_tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Check {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Check::with_environment(Path::new("db"), move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn seed_shard_and_cases_come_from_the_environment() {
        let check = from(&[("PGCONVERGE_SEED", "7"), ("PGCONVERGE_SHARD", "2/3"), ("PGCONVERGE_CASES", "4096")]);
        assert_eq!((check.explore.seed, check.explore.cases), (Some(7), Some(4096)));
        assert_eq!(check.explore.shard.map(|s| s.to_string()), Some("2/3".to_string()));
        assert!(check.environment_error.is_none());
        let unset = from(&[]);
        assert_eq!((unset.explore.seed, unset.explore.cases, unset.explore.shard), (None, None, None));
    }

    #[test]
    fn a_bad_value_is_an_error_naming_the_variable() {
        for (name, value) in [("PGCONVERGE_CASES", "0"), ("PGCONVERGE_CASES", "many"), ("PGCONVERGE_SEED", "x")] {
            let check = from(&[(name, value)]);
            assert_eq!(check.environment_error.as_ref().map(|(n, _)| *n), Some(name), "{name}={value}");
        }
    }
}

#[cfg(test)]
mod backend_choice_tests {
    use super::*;

    fn binaries(major: u32, dir: &str) -> ServerBinaries {
        ServerBinaries { bin_dir: PathBuf::from(dir), version: format!("{major}.4"), major, lib_dirs: vec![] }
    }

    fn machine(binaries: Option<ServerBinaries>, engine_answers: bool, local_image: Option<&str>) -> BackendFacts {
        BackendFacts {
            binaries,
            searched: "PATH, /usr/lib/postgresql/*/bin, pg_config --bindir".into(),
            engine_answers,
            local_image: local_image.map(str::to_string),
            fetch_allowed: true,
        }
    }

    fn auto(facts: BackendFacts) -> Result<BackendDecision, RunnerError> {
        decide(BackendChoice::Auto, false, None, false, facts)
    }

    #[test]
    fn an_image_on_the_engine_does_not_change_the_default() {
        let installed = Some(binaries(15, "/usr/lib/postgresql/15/bin"));
        for image in [None, Some("postgres:15"), Some("pgconverge/postgres:15-local")] {
            let decision = auto(machine(installed.clone(), true, image)).expect("decided");
            assert_eq!(decision.choice, BackendChoice::Embedded, "with {image:?}");
            assert_eq!(decision.reason, "embedded: PostgreSQL 15 binaries found in /usr/lib/postgresql/15/bin");
            assert_eq!(decision.binaries, installed, "the binaries that decided are the ones started");
        }
    }

    #[test]
    fn without_server_binaries_a_container_when_the_engine_answers_else_an_error_saying_what_to_install() {
        let decision = auto(machine(None, true, Some("postgres:16"))).expect("decided");
        assert_eq!(decision.choice, BackendChoice::Container);
        assert!(decision.reason.starts_with("container: no PostgreSQL server binaries found ("), "{}", decision.reason);
        assert!(decision.reason.ends_with("the Docker engine answers, and has postgres:16"), "{}", decision.reason);

        let error = auto(machine(None, false, None)).expect_err("nothing to run on");
        assert_eq!(crate::Error::from(error).kind(), crate::ErrorKind::Infrastructure);
        let message = auto(machine(None, false, None)).expect_err("nothing to run on").to_string();
        for what in ["install PostgreSQL's server binaries", "PGCONVERGE_PG_BIN", "Docker engine", "--database-url"] {
            assert!(message.contains(what), "{message}");
        }
    }

    #[test]
    fn a_wanted_major_without_binaries_or_engine_is_fetched_unless_fetching_is_off() {
        let decision = decide(BackendChoice::Auto, false, Some(18), false, machine(None, false, None)).expect("decided");
        assert_eq!((decision.choice, decision.binaries), (BackendChoice::Embedded, None));
        assert!(decision.reason.contains("fetched"), "{}", decision.reason);
        let no_fetch = BackendFacts { fetch_allowed: false, ..machine(None, false, None) };
        assert!(matches!(decide(BackendChoice::Auto, false, Some(18), false, no_fetch), Err(RunnerError::NoBackend { .. })));
    }

    #[test]
    fn an_asked_backend_is_taken_as_asked_and_a_url_wins() {
        let installed = || machine(Some(binaries(15, "/usr/local/bin")), true, Some("postgres:15"));
        let asked = |choice, url| decide(choice, url, None, false, installed()).map(|d| (d.choice, d.reason));
        assert_eq!(
            asked(BackendChoice::Container, false).unwrap(),
            (BackendChoice::Container, "container: asked with --backend container".into())
        );
        assert_eq!(
            asked(BackendChoice::Embedded, false).unwrap(),
            (BackendChoice::Embedded, "embedded: asked with --backend embedded".into())
        );
        for choice in [BackendChoice::Auto, BackendChoice::Embedded, BackendChoice::Container, BackendChoice::Url] {
            assert_eq!(asked(choice, true).unwrap(), (BackendChoice::Url, "url: --database-url given".into()));
        }
        assert!(matches!(asked(BackendChoice::Url, false), Err(RunnerError::MissingDatabaseUrl)));
        let with_image = decide(BackendChoice::Auto, false, None, true, installed()).unwrap();
        assert_eq!(with_image.choice, BackendChoice::Embedded);
        assert!(with_image.reason.ends_with("(--image is for a container: --backend container)"), "{}", with_image.reason);
    }
}
