//! The orchestrator: prepares the project, builds the reference and the fresh catalog, runs
//! each wanted property in turn and assembles the report. Properties that do not apply are
//! reported as skipped, never silently left out.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sqlx::postgres::PgConnection;
use sqlx::Connection;

use super::executor::{self, Executor, Target};
use super::explore::{self, ExploreOptions, Universe};
use super::origins::Origins;
use super::prepare::{Preparation, Purpose};
use super::CheckError;
use crate::analysis::reentrancy::guarding_all;
use crate::analysis::shared_catalogs::shared_catalog_use;
use crate::catalog::{self, Canonicalizer, Catalog, IgnoreRules};
use crate::compare::{self, CompareOptions, Difference};
use crate::migration::Script;
use crate::model::{plural, Failure, Property, Report, Status, Verdict, VerdictStatus};
use crate::project::config::Trust;
use crate::project::init::Guarding;
use crate::project::{Project, ProjectError};
use crate::runner::limits::{CheckSessions, SessionLimits, Watchdog};
use crate::runner::{self, Backend, RunRoles, RunnerError, ScratchDatabase, ServerHandle};

/// Runs the properties of a project against a server.
pub struct Checker<'a> {
    pub(super) project: &'a Project,
    backend: &'a dyn Backend,
    /// The check's sessions on `backend`'s server, and the limits they run under (the
    /// config's, or `run`'s options'); with the run's roles (the sandbox role the project's SQL
    /// runs as) once [`Checker::prepare`] made them.
    pub(super) sessions: CheckSessions,
    /// Whether a migration touches the server's shared catalogs (roles, databases), read by
    /// [`Checker::prepare`].
    shares_catalogs: bool,
    /// What runs the migrations (pgconverge's SQL runner or the project's own migrator), chosen
    /// by [`Checker::prepare`].
    executor: Option<Arc<dyn Executor>>,
    /// Set by the caller to stop the check (Ctrl-C, SIGTERM).
    cancel: tokio_util::sync::CancellationToken,
    pub(super) canon: Canonicalizer,
    pub(super) ignore: IgnoreRules,
    pub(super) compare: CompareOptions,
    prep: Preparation,
    /// Objects found to differ between two runs of the same steps while a property compared
    /// catalogs part way through the history (see [`Checker::stable_differences`]).
    unstable: BTreeSet<(catalog::ObjectKind, String)>,
    /// The statements behind the differences, read on the first divergence.
    origins: Option<Origins>,
}

impl<'a> Checker<'a> {
    /// A checker of `project` on `backend`'s server (which the caller owns and stops).
    pub fn new(project: &'a Project, backend: &'a dyn Backend) -> Checker<'a> {
        Checker {
            project,
            backend,
            sessions: CheckSessions::new(backend, session_limits(project, None, None)),
            shares_catalogs: false,
            executor: None,
            cancel: tokio_util::sync::CancellationToken::new(),
            canon: Canonicalizer::new(),
            ignore: IgnoreRules::with_owners(project.config.ignore.clone(), project.config.compare_owners),
            compare: CompareOptions { strict_column_order: project.config.strict_column_order },
            prep: Preparation::default(),
            unstable: BTreeSet::new(),
            origins: None,
        }
    }

    /// Runs `properties` (the defaults when empty: fresh, partial and order always; idempotent
    /// when a migration is re-entrant; interrupt when one runs outside a transaction;
    /// reversible when downs exist). Properties that do not apply are reported as skipped.
    /// `options.cancel` stops the check: the statements in flight are cancelled and it returns
    /// `Err`, interrupted. A statement that runs past the statement or lock timeout (the
    /// options', else the config's) is an infrastructure error naming it.
    pub async fn run(mut self, properties: &[Property], options: &ExploreOptions) -> Result<Report, CheckError> {
        self.cancel = options.cancel.clone();
        self.sessions =
            self.sessions.with_limits(self.backend, session_limits(self.project, options.statement_timeout, options.lock_timeout));
        let (watchdog, cancel) = (self.watchdog(), self.cancel.clone());
        let report = self.run_watched(properties, options).await;
        // The run's roles go after its databases (the guards dropped them already).
        if let Some(roles) = self.sessions.server.run_roles() {
            roles.drop_now().await;
        }
        watchdog.stop().await;
        if cancel.is_cancelled() {
            // A statement the watchdog cancelled failed (or left a property incomplete) because
            // of the cancellation: the check was interrupted, whatever it says.
            return Err(RunnerError::Interrupted.into());
        }
        report
    }

    async fn run_watched(&mut self, properties: &[Property], options: &ExploreOptions) -> Result<Report, CheckError> {
        let explicit = |p: Property| properties.contains(&p);
        let wanted = |p: Property| properties.is_empty() || explicit(p);
        let version = runner::server_version(self.backend).await?;
        self.prepare().await?;
        let mut nondeterministic = BTreeSet::new();
        let reference = match &self.project.reference {
            Some(script) => {
                let first = self.reference_catalog(script).await?;
                let second = self.reference_catalog(script).await?;
                nondeterministic.extend(differing_objects(&first, &second, &self.compare));
                Some(first)
            }
            None if self.project.framework.is_some() && self.executor().loads_schema() => {
                let first = self.framework_reference_catalog().await?;
                let second = self.framework_reference_catalog().await?;
                nondeterministic.extend(differing_objects(&first, &second, &self.compare));
                Some(first)
            }
            None => None,
        };
        let mut verdicts = Vec::new();
        let mut migrated = self.workspace(Purpose::Migrations).await?;
        let fresh_outcome = self.canonical_run(&mut migrated).await?;
        if let Ok(first) = &fresh_outcome {
            // The same migrations twice: whatever differs froze something like now().
            let mut again = self.workspace(Purpose::Migrations).await?;
            if let Ok(second) = self.canonical_run(&mut again).await? {
                nondeterministic.extend(differing_objects(first, &second, &self.compare));
            }
            again.close().await?;
        }
        // Nondeterministic objects are reported on their own and left out of every comparison,
        // so they neither fail a property nor hide a real difference elsewhere.
        self.ignore.exact.extend(nondeterministic.iter().cloned());
        let reference = reference.map(|c| c.without(&self.ignore));
        let fresh_outcome = fresh_outcome.map(|c| c.without(&self.ignore));
        let mut role_note = None;
        let reference = match (reference, &fresh_outcome) {
            (Some(reference), Ok(fresh)) if !self.ignore.roles.is_empty() => {
                let (reference, note) = roles_from_the_fresh_run(reference, fresh);
                role_note = note;
                Some(reference)
            }
            (reference, _) => reference,
        };
        let fresh = self.fresh(fresh_outcome, reference.as_ref());
        if wanted(Property::Fresh) {
            self.record(&mut verdicts, options, fresh.verdict.clone());
        }
        if wanted(Property::Idempotent) {
            let verdict = self.idempotent(&mut migrated, fresh.catalog.as_ref()).await;
            self.record(&mut verdicts, options, undecided_is_incomplete(Property::Idempotent, verdict)?);
        }
        migrated.close().await?;

        let mut options = options.clone();
        if self.project.config.trust == Trust::Superuser && self.shares_catalogs {
            // Roles, memberships, role settings and databases are the server's, not a scratch
            // database's: two workers' open sandbox transactions would wait on each other's rows
            // of pg_authid or pg_db_role_setting forever. One worker runs every case.
            options.jobs = 1;
        }
        let any_resumable = self.project.migrations.migrations.iter().any(|m| !m.runs_in_transaction());
        let mut generated: Vec<Property> = Vec::new();
        for property in [Property::Partial, Property::Order, Property::Interrupt] {
            if !wanted(property) {
                continue;
            }
            if property == Property::Interrupt && !self.executor().runs_sql() {
                let runner = self.project.runner_name();
                let why = format!("not applicable with runner = \"{runner}\": stopping a migration part way needs statement-level control");
                self.record(&mut verdicts, &options, skipped(property, why));
                continue;
            }
            if property == Property::Interrupt && !any_resumable {
                let why = if explicit(property) {
                    "no migration runs outside a transaction"
                } else {
                    "not applicable: every migration runs in a transaction"
                };
                self.record(&mut verdicts, &options, skipped(property, why.to_string()));
                continue;
            }
            generated.push(property);
        }
        // Only generated cases have a seed (a migrator's cases are all run, in a fixed order).
        let seeded = generated.iter().any(|&p| explore::generates_cases(self.project, self.executor().as_ref(), p));
        let seed = seeded.then(|| *options.seed.get_or_insert_with(explore::random_seed));
        if !generated.is_empty() {
            if fresh.catalog.is_none() || fresh.verdict.status == VerdictStatus::Fail {
                // What keeps them from running is a finding too, asked for or not: never a
                // report that converges because nothing ran.
                if !wanted(Property::Fresh) {
                    self.record(&mut verdicts, &options, fresh.verdict.clone());
                }
                for property in generated {
                    self.record(
                        &mut verdicts,
                        &options,
                        skipped(property, "not run: the fresh property fails, fix that first".to_string()),
                    );
                }
            } else {
                let universe = Universe::build(
                    Arc::new(self.project.clone()),
                    &self.sessions,
                    self.executor(),
                    reference.as_ref(),
                    options.granularity,
                    self.ignore.clone(),
                    self.prep.clone(),
                )
                .await?;
                let universe = Arc::new(universe);
                for property in generated {
                    self.stop_if_cancelled()?;
                    // proptest's runner is synchronous: off the async runtime, with an owned context.
                    let (universe, explore_options) = (universe.clone(), options.clone());
                    let verdict = tokio::task::spawn_blocking(move || explore::explore(&universe, property, &explore_options))
                        .await
                        .map_err(|_| CheckError::Panicked { task: format!("the case runner of the {property} property") })?;
                    self.record(&mut verdicts, &options, undecided_is_incomplete(property, verdict.map_err(CheckError::from))?);
                }
            }
        }
        if wanted(Property::Reversible) {
            let verdict = self.reversible(explicit(Property::Reversible)).await;
            self.record(&mut verdicts, &options, undecided_is_incomplete(Property::Reversible, verdict)?);
        }
        verdicts.sort_by_key(|v| v.property);
        nondeterministic.extend(std::mem::take(&mut self.unstable));
        let status = if verdicts.iter().any(|v| v.status == VerdictStatus::Fail) {
            Status::Counterexample
        } else if verdicts.iter().any(|v| v.status == VerdictStatus::Incomplete) {
            Status::Incomplete
        } else if !nondeterministic.is_empty() {
            Status::Nondeterministic
        } else {
            Status::Converges
        };
        let nondeterministic: Vec<String> = nondeterministic.iter().map(|(kind, name)| format!("{kind} {name}")).collect();
        let reference_objects = reference.as_ref().or(fresh.catalog.as_ref()).map_or(0, |c| c.objects.len());
        let (format, format_detection) = if let Some(framework) = &self.project.framework {
            (framework.kind.runner_name().to_string(), None)
        } else if self.project.command.is_some() {
            ("command".to_string(), None)
        } else {
            (self.project.migrations.format.to_string(), self.project.migrations.detected.clone())
        };
        Ok(Report {
            status,
            project: self.project.dir.clone(),
            format,
            format_detection,
            migrations: self.project.migrations.migrations.len(),
            migration_ids: self.project.migrations.migrations.iter().map(|m| m.id()).collect(),
            reference: self.project.reference_path().map(|p| p.to_path_buf()),
            backend: self.backend.describe(),
            backend_reason: None,
            server_version: version.to_string(),
            major: version.major,
            reference_objects,
            seed,
            shard: seed.and(options.shard),
            nondeterministic,
            notes: left_out_notes(self.project)
                .into_iter()
                .chain(unlisted_reentrant_note(self.project))
                .chain(self.backend.notes())
                .chain(self.sessions.server.run_roles().and_then(|r| r.note()))
                .chain(role_note)
                .collect(),
            verdicts,
        })
    }

    /// The statements behind each object, read on first use.
    pub(super) fn origins(&mut self) -> &Origins {
        self.origins.get_or_insert_with(|| Origins::of(self.project))
    }

    /// Adds a decided verdict: traces its divergences to the statements behind them, and hands
    /// it to the caller's sink, unless the check was cancelled (a statement the cancellation
    /// stopped proves nothing).
    fn record(&mut self, verdicts: &mut Vec<Verdict>, options: &ExploreOptions, mut verdict: Verdict) {
        let failures = verdict.failure.iter().chain(verdict.findings.iter().map(|f| &f.failure));
        if failures.into_iter().any(|f| matches!(f, Failure::Diverged { .. })) {
            self.origins().trace(&mut verdict);
        }
        if let Some(sink) = options.verdicts.as_ref().filter(|_| !self.cancel.is_cancelled()) {
            (sink.0)(&verdict);
        }
        verdicts.push(verdict);
    }

    /// Starts the watchdog of the check's sessions: it cancels a statement past the statement
    /// timeout, and every statement in flight once the check is cancelled.
    pub(crate) fn watchdog(&self) -> Watchdog {
        self.sessions.watchdog(self.backend, self.cancel.clone())
    }

    /// The executor [`Checker::prepare`] chose.
    pub(super) fn executor(&self) -> Arc<dyn Executor> {
        self.executor.clone().expect("prepare() chooses the executor first")
    }

    /// `Err(Interrupted)` once the caller cancelled the check.
    pub(super) fn stop_if_cancelled(&self) -> Result<(), RunnerError> {
        if self.cancel.is_cancelled() {
            return Err(RunnerError::Interrupted);
        }
        Ok(())
    }

    /// Loads the preparation (extensions, setup files, ledger) and leaves what the setup files
    /// create out of every comparison: the same for `check`, `dump` and `diff`.
    pub(crate) async fn prepare(&mut self) -> Result<(), CheckError> {
        let shared = shared_catalog_use(self.project);
        self.shares_catalogs = shared.any;
        let sandboxed = self.project.config.trust == Trust::Sandbox;
        // The sandbox role's sessions carry the check's limits and name: made from its server.
        if self.project.config.compare_roles {
            self.ignore.roles = shared.roles.iter().cloned().collect();
        }
        let roles = RunRoles::start(&self.sessions.server, sandboxed, shared.roles, shared.databases).await?;
        self.sessions.server = ServerHandle::with_roles(&self.sessions.server, roles);
        self.executor = Some(executor::for_project(self.project, &self.sessions.server, self.sessions.limits)?);
        self.prep = Preparation::load(self.project).map_err(ProjectError::from)?;
        if !self.prep.setup.is_empty() && !self.project.config.setup_in_result {
            // What the setup files create is not part of the compared result while it is as
            // they made it (an empty database's `public` schema and `plpgsql` included).
            let baseline = self.baseline().await?;
            self.ignore.setup.extend(baseline.objects.into_iter().map(|o| ((o.kind, o.name.clone()), o)));
        }
        Ok(())
    }

    /// The catalog of the project's reference (`migrations` false) or of its migrations in
    /// order, on a scratch database prepared as `check` prepares it. Call [`Checker::prepare`]
    /// first. A migration that fails is the user's input to fix (exit 2), as is a reference
    /// that does not apply.
    pub(crate) async fn dump_source(&mut self, migrations: bool) -> Result<Catalog, CheckError> {
        if !migrations {
            if self.project.framework.is_some() && self.executor().loads_schema() {
                return self.framework_reference_catalog().await;
            }
            let script = self
                .project
                .reference
                .as_ref()
                .ok_or_else(|| ProjectError::MissingReference { path: self.project.dir.join(crate::project::DEFAULT_REFERENCE) })?;
            return self.reference_catalog(script).await;
        }
        let mut workspace = self.workspace(Purpose::Migrations).await?;
        let outcome = self.canonical_run(&mut workspace).await;
        workspace.close().await?;
        match outcome? {
            Ok(catalog) => Ok(catalog),
            Err((migration, Failure::StatementFailed { location, error, .. })) => Err(CheckError::Migration { migration, location, error }),
            Err((migration, Failure::Diverged { .. })) => unreachable!("a canonical run of {migration} fails by a statement or not at all"),
        }
    }

    /// A new scratch database, prepared (extensions, setup, ledger), and a connection to it.
    pub(super) async fn workspace(&self, purpose: Purpose) -> Result<Workspace, CheckError> {
        self.stop_if_cancelled()?;
        let database = ScratchDatabase::create(&self.sessions.server).await?;
        let mut workspace = Workspace { conn: database.connect().await?, database };
        if let Some(failure) = self.prep.apply(&mut workspace.conn, purpose, Some(&workspace.database)).await? {
            workspace.close().await?;
            return Err(CheckError::Setup { location: failure.location, error: failure.error });
        }
        Ok(workspace)
    }

    /// The catalog of an empty database after the preparation alone.
    async fn baseline(&mut self) -> Result<Catalog, CheckError> {
        let mut workspace = self.workspace(Purpose::Migrations).await?;
        let catalog = self.dump(&mut workspace.conn).await;
        workspace.close().await?;
        Ok(catalog?)
    }

    /// Every migration in canonical order; the catalog, or the first failure.
    pub(super) async fn canonical_run(&mut self, workspace: &mut Workspace) -> Result<Result<Catalog, (String, Failure)>, RunnerError> {
        let executor = self.executor();
        for migration in &self.project.migrations.migrations {
            self.stop_if_cancelled()?;
            if let Some(failure) = executor.up(workspace.target(), migration).await? {
                return Ok(Err((migration.id(), failure)));
            }
        }
        Ok(Ok(self.dump(&mut workspace.conn).await?))
    }

    /// `differences` without the objects that differ between `first` and `second`, two runs of
    /// the same steps: those are nondeterministic at this point (a view that froze `'now'`,
    /// replaced later in the history), reported as such, not as a failure. Only objects among
    /// `differences` count: when the second run starts where the first ended (a re-run outside
    /// a transaction), what only it added (a third unnamed index) is not nondeterminism.
    pub(super) fn stable_differences(&mut self, mut differences: Vec<Difference>, first: &Catalog, second: &Catalog) -> Vec<Difference> {
        let unstable: BTreeSet<(catalog::ObjectKind, String)> = differing_objects(first, second, &self.compare)
            .into_iter()
            .filter(|(kind, object)| differences.iter().any(|d| d.kind == *kind && d.object == *object))
            .collect();
        differences.retain(|d| !unstable.contains(&(d.kind, d.object.clone())));
        self.unstable.extend(unstable);
        differences
    }

    pub(super) async fn dump(&mut self, conn: &mut PgConnection) -> Result<Catalog, RunnerError> {
        catalog::dump(conn, &mut self.canon, &self.ignore).await
    }

    /// The catalog of the framework's schema file, loaded by the framework (`db:schema:load`);
    /// a load that fails is the user's input to fix, as a reference that does not apply is.
    async fn framework_reference_catalog(&mut self) -> Result<Catalog, CheckError> {
        let executor = self.executor();
        let mut workspace = self.workspace(Purpose::Reference).await?;
        let outcome = match executor.load_schema(workspace.target()).await {
            Ok(None) => self.dump(&mut workspace.conn).await.map_err(CheckError::from),
            Ok(Some(Failure::StatementFailed { location, error, .. })) => Err(CheckError::Reference { location, error }),
            Ok(Some(Failure::Diverged { .. })) => unreachable!("loading a schema fails by an error or not at all"),
            Err(error) => Err(error.into()),
        };
        workspace.close().await?;
        outcome
    }

    async fn reference_catalog(&mut self, script: &Script) -> Result<Catalog, CheckError> {
        let mut workspace = self.workspace(Purpose::Reference).await?;
        let outcome = match executor::apply_reference(&mut workspace.conn, script, &self.sessions.limits).await {
            Ok(()) => self.dump(&mut workspace.conn).await.map_err(CheckError::from),
            Err(error) => Err(error),
        };
        workspace.close().await?;
        outcome
    }
}

/// A scratch database of the harness's own, prepared, with a connection to it. Closed (the
/// database dropped) by [`Workspace::close`]; the database's own guard drops it otherwise.
pub(crate) struct Workspace {
    pub(super) conn: PgConnection,
    database: ScratchDatabase,
}

impl Workspace {
    /// What an executor runs a step against.
    pub(super) fn target(&mut self) -> Target<'_> {
        Target { conn: &mut self.conn, database: self.database.name() }
    }

    pub(super) async fn close(self) -> Result<(), RunnerError> {
        let _ = self.conn.close().await;
        self.database.drop_now().await
    }
}

/// The limits of a check's sessions: `statement` and `lock` when given, else the project's
/// `statement_timeout` and `lock_timeout`, else the defaults; a zero limit is none.
fn session_limits(project: &Project, statement: Option<std::time::Duration>, lock: Option<std::time::Duration>) -> SessionLimits {
    use crate::project::config::{DEFAULT_LOCK_TIMEOUT, DEFAULT_STATEMENT_TIMEOUT};
    let config = &project.config;
    let statement = statement.or(config.statement_timeout.map(|limit| limit.0)).unwrap_or(DEFAULT_STATEMENT_TIMEOUT);
    let lock = lock.or(config.lock_timeout.map(|limit| limit.0)).unwrap_or(DEFAULT_LOCK_TIMEOUT);
    SessionLimits { statement: (!statement.is_zero()).then_some(statement), lock: (!lock.is_zero()).then_some(lock) }
}

/// A property the server stopped part way is incomplete, so the verdicts before it (and any
/// counterexample) are still reported; only an interruption ends the whole check.
fn undecided_is_incomplete(property: Property, verdict: Result<Verdict, CheckError>) -> Result<Verdict, CheckError> {
    match verdict {
        Err(CheckError::Runner(error)) if !matches!(error, RunnerError::Interrupted) => {
            Ok(Verdict::new(property, VerdictStatus::Incomplete, format!("could not be decided: {error}")))
        }
        other => other,
    }
}

/// Says which files were left out (unlisted in a manifest, or SQL the migrator never runs), so
/// nothing is skipped silently.
fn left_out_notes(project: &Project) -> Vec<String> {
    let set = &project.migrations;
    let note = |files: &[PathBuf], why: &str| -> Option<String> {
        if files.is_empty() {
            return None;
        }
        let shown: Vec<String> = files.iter().take(5).map(|p| p.strip_prefix(&set.dir).unwrap_or(p).display().to_string()).collect();
        let more = if files.len() > shown.len() { format!(" and {} more", files.len() - shown.len()) } else { String::new() };
        Some(format!("{} {why}: {}{more}", plural(files.len(), "file"), shown.join(", ")))
    };
    [
        note(&set.unlisted, "not listed in a manifest and left out (manifest_unlisted = \"ignore\")"),
        note(&set.stray, &format!("beside the migration directories, which {} never runs, left out", set.format)),
        note(&set.near_misses, "named almost like migrations (only `*.sql` files are read), left out: rename them if they are migrations"),
        note(
            &unread_in_subdirectories(project),
            &format!("in subdirectories, which {} migrations never are, left out: move them up if they are migrations", set.format),
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Names the migrations that look re-entrant (every statement that changes something guarded)
/// but are not listed in `idempotent`, which the idempotent property therefore never re-runs.
/// Not for a `runner = "command"` project, whose migrator cannot re-run a migration.
fn unlisted_reentrant_note(project: &Project) -> Option<String> {
    if project.command.is_some() {
        return None;
    }
    let set = &project.migrations;
    // A guarded migration a later one supersedes is not re-entrant on the migrated database.
    let unlisted: Vec<String> = guarding_all(set)
        .into_iter()
        .enumerate()
        .filter(|(i, guarding)| !project.reentrant.contains(i) && matches!(guarding, Guarding::Guarded(_)))
        .map(|(i, _)| &set.migrations[i])
        .map(|m| m.up.path.strip_prefix(&set.dir).unwrap_or(&m.up.path).display().to_string())
        .collect();
    if unlisted.is_empty() {
        return None;
    }
    let shown = unlisted.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    let more = if unlisted.len() > 5 { format!(" and {} more", unlisted.len() - 5) } else { String::new() };
    Some(format!(
        "{} re-entrant but {} not listed in `idempotent`: {shown}{more} (list {} in pgconverge.toml to check that running {} again changes nothing)",
        crate::model::count_with_verb(unlisted.len(), "migration", "looks"),
        crate::model::agreeing(unlisted.len(), "is"),
        if unlisted.len() == 1 { "its version" } else { "their versions" },
        if unlisted.len() == 1 { "it" } else { "them" },
    ))
}

/// The `.sql` files in the migrations directory's subdirectories that are neither the reference
/// nor a setup file (with `migrations = "."` those may well live there).
fn unread_in_subdirectories(project: &Project) -> Vec<PathBuf> {
    let known: Vec<PathBuf> = project
        .reference_path()
        .map(Path::to_path_buf)
        .into_iter()
        .chain(project.config.setup.iter().map(|s| crate::project::paths::join(&project.dir, s)))
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    let unknown = |p: &&PathBuf| std::fs::canonicalize(p).map_or(true, |real| !known.contains(&real));
    project.migrations.in_subdirectories.iter().filter(unknown).cloned().collect()
}

/// The objects two catalogs of the same SQL disagree on.
fn differing_objects(first: &Catalog, second: &Catalog, options: &CompareOptions) -> Vec<(catalog::ObjectKind, String)> {
    compare::compare(first, second, options).into_iter().map(|d| (d.kind, d.object)).collect()
}

pub(super) fn pass(property: Property, summary: String, warnings: Vec<Difference>) -> Verdict {
    Verdict { cases: 1, warnings, ..Verdict::new(property, VerdictStatus::Pass, summary) }
}

pub(super) fn fail(property: Property, summary: String, failure: Failure, cases: u64) -> Verdict {
    Verdict { cases, failure: Some(failure), ..Verdict::new(property, VerdictStatus::Fail, summary) }
}

pub(super) fn skipped(property: Property, summary: String) -> Verdict {
    Verdict::new(property, VerdictStatus::Skipped, summary)
}

pub(super) fn diverged(expected: &Catalog, found: &Catalog, differences: Vec<Difference>, against: &str) -> Failure {
    let (expected_text, found_text) = compare::involved_text(expected, found, &differences);
    Failure::Diverged { expected: against.to_string(), differences, expected_text, found_text, origins: vec![] }
}

/// With `compare_roles`, a reference that creates none of the compared roles (a `pg_dump`
/// never does): the roles as the fresh run made them are expected everywhere else, so they are
/// compared between runs of the migrations (orders, partial states, interrupted runs) and a note
/// says so. A reference that creates any of them is compared with as it is.
fn roles_from_the_fresh_run(reference: Catalog, fresh: &Catalog) -> (Catalog, Option<String>) {
    let is_role = |o: &&catalog::Object| o.kind == catalog::ObjectKind::Role;
    if reference.objects.iter().any(|o| is_role(&o)) {
        return (reference, None);
    }
    let made: Vec<catalog::Object> = fresh.objects.iter().filter(is_role).cloned().collect();
    if made.is_empty() {
        return (reference, None);
    }
    let names: Vec<&str> = made.iter().map(|o| o.name.as_str()).collect();
    let note = format!(
        "compare_roles: the reference creates no role, so the roles the migrations create ({}) are compared between runs \
         of the migrations, as the fresh run made them",
        names.join(", ")
    );
    let objects = reference.objects.into_iter().chain(made).collect();
    (Catalog::from_objects(reference.server_version, objects), Some(note))
}
