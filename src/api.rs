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
use crate::runner::{self, Backend, EmbeddedCluster, ExistingServer, RunnerError};
pub use tokio_util::sync::CancellationToken;

/// Checks the project in `dir` with every property, on a throwaway embedded cluster (or the
/// server in `PGCONVERGE_DATABASE_URL`). For a `#[test]`:
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
    /// A check of the project in `dir` with the config's properties, on an embedded cluster (or
    /// the server in `PGCONVERGE_DATABASE_URL`, the image in `PGCONVERGE_IMAGE`).
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
            backend: BackendChoice::Embedded,
            major: None,
            image: lookup("PGCONVERGE_IMAGE").filter(|i| !i.is_empty()),
            environment_error,
        }
    }

    /// Which kind of server to use (the library's default is an embedded cluster; the CLI's is `auto`).
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
        let backend = if project.runs_own_migrator() {
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
            start_backend_for(BackendChoice::Embedded, None, self.major, None).await?
        } else {
            start_backend_for(self.backend, self.database_url.as_deref(), self.major, self.image.as_deref()).await?
        };
        let report = Checker::new(&project, backend.as_ref()).run(&properties, &explore).await;
        backend.shutdown().await;
        report
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
pub enum BackendChoice {
    /// A container when the engine answers and has the image, else an embedded cluster. (A
    /// database URL, when one is given, always selects the URL backend.)
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

/// The major a container runs when none is named: the newest installed one, else 16.
#[cfg(feature = "container")]
fn default_major() -> u32 {
    crate::runner::embedded::find_server_binaries().ok().and_then(|b| b.first().map(|b| b.major)).unwrap_or(16)
}

/// Starts the chosen backend, for `major` when given, from `image` when given.
pub async fn start_backend_for(
    choice: BackendChoice,
    database_url: Option<&str>,
    major: Option<u32>,
    image: Option<&str>,
) -> Result<Box<dyn Backend>, RunnerError> {
    #[cfg(feature = "container")]
    {
        use crate::runner::container::ImageRef;
        // A bad image is the user's to fix before anything starts (`auto` would otherwise quietly
        // fall back to an embedded cluster).
        if let (Some(image), BackendChoice::Auto | BackendChoice::Container, None) = (image, choice, database_url) {
            ImageRef::parse_or_tag(image, &major.unwrap_or(16).to_string()).check()?;
        }
    }
    let choice = match (choice, database_url) {
        // A database URL names the server: it wins over any default or environment choice.
        (_, Some(_)) => BackendChoice::Url,
        (BackendChoice::Auto, None) => auto_choice(major, image).await,
        (other, _) => other,
    };
    match choice {
        BackendChoice::Url => {
            let url = database_url.ok_or(RunnerError::MissingDatabaseUrl)?;
            let mut server = ExistingServer::from_url(url)?;
            // As an embedded start reaps dead clusters: what killed runs of this host left.
            server.reap_leftovers().await;
            Ok(Box::new(server))
        }
        BackendChoice::Embedded => match major {
            Some(m) => {
                let binaries = tokio::task::spawn_blocking(move || crate::runner::majors::find_major(m))
                    .await
                    .map_err(|e| RunnerError::Task { task: format!("the search for PostgreSQL {m}"), message: e.to_string() })??;
                Ok(Box::new(EmbeddedCluster::start_with(binaries).await?))
            }
            None => Ok(Box::new(EmbeddedCluster::start().await?)),
        },
        #[cfg(feature = "container")]
        BackendChoice::Container => {
            use crate::runner::container::{self, ContainerServer, ImageRef};
            let m = major.unwrap_or_else(default_major);
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
        BackendChoice::Container => Err(RunnerError::ContainerBackendNotBuilt),
        BackendChoice::Auto => unreachable!("resolved above"),
    }
}

/// `auto` without a URL: a container when the engine answers and has the image, else embedded.
#[cfg(feature = "container")]
async fn auto_choice(major: Option<u32>, image: Option<&str>) -> BackendChoice {
    use crate::runner::container::ImageRef;
    let m = match major {
        Some(m) => m,
        // Runs `postgres --version` of each install: off the async threads.
        None => tokio::task::spawn_blocking(default_major).await.unwrap_or(16),
    };
    let has_image = match image {
        Some(image) => ImageRef::parse_or_tag(image, &m.to_string()).exists_locally().await,
        None => ImageRef::official(m).exists_locally().await || ImageRef::local(m).exists_locally().await,
    };
    if has_image {
        BackendChoice::Container
    } else {
        BackendChoice::Embedded
    }
}

/// `auto` without a URL, and without the container backend: embedded.
#[cfg(not(feature = "container"))]
async fn auto_choice(_major: Option<u32>, _image: Option<&str>) -> BackendChoice {
    BackendChoice::Embedded
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
    crate::project::init::init(dir, force, &|migration| crate::analysis::reentrancy::reentrancy(migration).guarding())
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
