//! The properties, run against a backend: what pgconverge proves about a project.
//!
//! A property that does not hold yields a [`Verdict`] with a [`Failure`] (a counterexample);
//! `Err` means the check could not decide (bad input, or the server failed).

use std::collections::BTreeSet;
use std::path::PathBuf;

pub mod command;
pub mod explore;
pub mod prepare;
pub mod repro;

use sqlx::postgres::PgConnection;
use sqlx::Connection;

use crate::catalog::{self, Canonicalizer, Catalog, IgnoreRules};
use explore::{ExploreOptions, Universe};
use crate::model::{plural, Failure, Property, Report, Status, Verdict, VerdictStatus};
use crate::engine::prepare::{Preparation, Purpose};
use crate::compare::{self, CompareOptions, Difference, Severity};
use crate::migration::{split::char_position_to_byte_offset, Location, Migration, Script, Statement};
use crate::project::{Project, ProjectError};
use crate::runner::{self, ApplyOutcome, Backend, PgError, RunnerError, ScratchDatabase, TransactionMode};

/// Why a check could not decide: the crate's error (kept under this name for the engine).
pub(crate) type CheckError = crate::error::Error;

/// Runs the properties of a project against a server.
pub struct Checker<'a> {
    project: &'a Project,
    backend: &'a dyn Backend,
    canon: Canonicalizer,
    ignore: IgnoreRules,
    compare: CompareOptions,
    prep: Preparation,
    /// Objects found to differ between two runs of the same steps while a property compared
    /// catalogs part way through the history (see [`Checker::stable_differences`]).
    unstable: BTreeSet<(catalog::ObjectKind, String)>,
}

impl<'a> Checker<'a> {
    pub fn new(project: &'a Project, backend: &'a dyn Backend) -> Checker<'a> {
        Checker {
            project,
            backend,
            canon: Canonicalizer::new(),
            ignore: IgnoreRules::with_owners(project.config.ignore.clone(), project.config.compare_owners),
            compare: CompareOptions { strict_column_order: project.config.strict_column_order },
            prep: Preparation::default(),
            unstable: BTreeSet::new(),
        }
    }

    /// Runs `properties` (the defaults when empty: fresh, partial and order always; idempotent
    /// when a migration is re-entrant; interrupt when one runs outside a transaction;
    /// reversible when downs exist). Properties that do not apply are reported as skipped.
    pub async fn run(mut self, properties: &[Property], options: &ExploreOptions) -> Result<Report, CheckError> {
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
            None => None,
        };
        let mut verdicts = Vec::new();
        let (database, mut conn) = self.scratch_database(Purpose::Migrations).await?;
        let fresh_outcome = self.canonical_run(&mut conn).await?;
        if let Ok(first) = &fresh_outcome {
            // The same migrations twice: whatever differs froze something like now().
            let (again_database, mut again) = self.scratch_database(Purpose::Migrations).await?;
            if let Ok(second) = self.canonical_run(&mut again).await? {
                nondeterministic.extend(differing_objects(first, &second, &self.compare));
            }
            let _ = again.close().await;
            again_database.drop_now().await?;
        }
        // Nondeterministic objects are reported on their own and left out of every comparison,
        // so they neither fail a property nor hide a real difference elsewhere.
        self.ignore.exact.extend(nondeterministic.iter().cloned());
        let reference = reference.map(|c| c.without(&self.ignore));
        let fresh_outcome = fresh_outcome.map(|c| c.without(&self.ignore));
        let fresh = self.fresh(fresh_outcome, reference.as_ref());
        if wanted(Property::Fresh) {
            verdicts.push(fresh.verdict.clone());
        }
        if wanted(Property::Idempotent) {
            let verdict = self.idempotent(&mut conn, fresh.catalog.as_ref()).await.map_err(CheckError::from);
            verdicts.push(undecided_is_incomplete(Property::Idempotent, verdict)?);
        }
        let _ = conn.close().await;
        database.drop_now().await?;

        let mut options = options.clone();
        let any_resumable = self.project.migrations.migrations.iter().any(|m| !m.runs_in_transaction());
        let mut generated: Vec<Property> = Vec::new();
        for property in [Property::Partial, Property::Order, Property::Interrupt] {
            if !wanted(property) {
                continue;
            }
            if property == Property::Interrupt && !any_resumable {
                let why = if explicit(property) { "no migration runs outside a transaction" } else { "not applicable: every migration runs in a transaction" };
                verdicts.push(skipped(property, why.to_string()));
                continue;
            }
            generated.push(property);
        }
        let seed = (!generated.is_empty()).then(|| *options.seed.get_or_insert_with(crate::engine::explore::random_seed));
        if !generated.is_empty() {
            if fresh.catalog.is_none() || fresh.verdict.status == VerdictStatus::Fail {
                for property in generated {
                    verdicts.push(skipped(property, "not run: the fresh property fails, fix that first".to_string()));
                }
            } else {
                let universe = Universe::build(
                    self.project,
                    self.backend,
                    reference.as_ref(),
                    options.granularity,
                    self.ignore.clone(),
                    self.prep.clone(),
                )
                .await?;
                for property in generated {
                    // proptest's runner is synchronous: run it on a thread with a runtime of its own.
                    let verdict = std::thread::scope(|scope| {
                        scope.spawn(|| crate::engine::explore::explore(&universe, property, &options)).join()
                    })
                    .map_err(|_| CheckError::Panicked { task: format!("the case runner of the {property} property") })?;
                    verdicts.push(undecided_is_incomplete(property, verdict.map_err(CheckError::from))?);
                }
            }
        }
        if wanted(Property::Reversible) {
            let verdict = self.reversible(explicit(Property::Reversible)).await;
            verdicts.push(undecided_is_incomplete(Property::Reversible, verdict)?);
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
        Ok(Report {
            status,
            project: self.project.dir.clone(),
            format: self.project.migrations.format.to_string(),
            migrations: self.project.migrations.migrations.len(),
            migration_ids: self.project.migrations.migrations.iter().map(|m| m.id()).collect(),
            reference: self.project.reference_path().map(|p| p.to_path_buf()),
            backend: self.backend.describe(),
            server_version: version.to_string(),
            major: version.major,
            reference_objects,
            seed,
            nondeterministic,
            notes: left_out_notes(self.project),
            verdicts,
        })
    }

    /// Loads the preparation (extensions, setup files, ledger) and leaves what the setup files
    /// create out of every comparison: the same for `check`, `dump` and `diff`.
    pub(crate) async fn prepare(&mut self) -> Result<(), CheckError> {
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
            let script = self.project.reference.as_ref().ok_or_else(|| ProjectError::MissingReference {
                path: self.project.dir.join(crate::project::DEFAULT_REFERENCE),
            })?;
            return self.reference_catalog(script).await;
        }
        let (database, mut conn) = self.scratch_database(Purpose::Migrations).await?;
        let outcome = self.canonical_run(&mut conn).await;
        let _ = conn.close().await;
        database.drop_now().await?;
        match outcome? {
            Ok(catalog) => Ok(catalog),
            Err((migration, Failure::StatementFailed { location, error, .. })) => Err(CheckError::Migration { migration, location, error }),
            Err((migration, Failure::Diverged { .. })) => unreachable!("a canonical run of {migration} fails by a statement or not at all"),
        }
    }

    /// Up then down, for each migration that has a down, restores the catalog as it was before
    /// the up; when every migration has a down, all of them in reverse restore an empty database.
    async fn reversible(&mut self, asked: bool) -> Result<Verdict, CheckError> {
        let migrations = &self.project.migrations.migrations;
        let with_down = migrations.iter().filter(|m| m.down.is_some()).count();
        if with_down == 0 {
            let reason = if asked { "no migration has a down migration" } else { "not applicable: no down migrations" };
            return Ok(skipped(Property::Reversible, reason.to_string()));
        }
        let (database, mut conn) = self.scratch_database(Purpose::Migrations).await?;
        let empty = self.dump(&mut conn).await?;
        let mut before = empty.clone();
        let mut cases = 0;
        for migration in migrations {
            if let Some(failure) = apply_migration(&mut conn, migration).await? {
                let summary = format!("{} failed on the way up", migration.id());
                return Ok(fail(Property::Reversible, summary, failure, cases));
            }
            if let Some(down) = &migration.down {
                cases += 1;
                if let Some(failure) = apply_down(&mut conn, migration, down).await? {
                    let summary = format!("the down migration of {} failed right after its up", migration.id());
                    return Ok(fail(Property::Reversible, summary, failure, cases));
                }
                let after = self.dump(&mut conn).await?;
                let mut differences = compare::compare(&before, &after, &self.compare);
                if compare::has_errors(&differences) {
                    // The same up and down once more: what differs between the two runs froze
                    // something like now(), and is not what the down failed to restore.
                    let again = match apply_migration(&mut conn, migration).await? {
                        None if apply_down(&mut conn, migration, down).await?.is_none() => Some(self.dump(&mut conn).await?),
                        _ => None,
                    };
                    if let Some(again) = again {
                        differences = self.stable_differences(differences, &after, &again);
                    }
                }
                if compare::has_errors(&differences) {
                    let summary = format!("{} up then down does not restore the catalog", migration.id());
                    let against = format!("the catalog before {} ran", migration.id());
                    return Ok(fail(Property::Reversible, summary, diverged(&before, &after, differences, &against), cases));
                }
                if let Some(failure) = apply_migration(&mut conn, migration).await? {
                    let summary = format!("{} failed when re-applied after its down", migration.id());
                    return Ok(fail(Property::Reversible, summary, failure, cases));
                }
            }
            before = self.dump(&mut conn).await?;
        }
        let mut summary =
            format!("{} with a down: up then down restores the catalog", plural(with_down, "migration"));
        if with_down == migrations.len() {
            cases += 1;
            for migration in migrations.iter().rev() {
                let down = migration.down.as_ref().expect("every migration has a down");
                if let Some(failure) = apply_down(&mut conn, migration, down).await? {
                    let summary = format!("undoing the whole set: the down migration of {} failed", migration.id());
                    return Ok(fail(Property::Reversible, summary, failure, cases));
                }
            }
            let after = self.dump(&mut conn).await?;
            let differences = compare::compare(&empty, &after, &self.compare);
            if compare::has_errors(&differences) {
                let summary = "all down migrations in reverse do not restore an empty database".to_string();
                return Ok(fail(Property::Reversible, summary, diverged(&empty, &after, differences, "an empty database"), cases));
            }
            summary.push_str("; all downs in reverse restore an empty database");
        }
        let _ = conn.close().await;
        database.drop_now().await?;
        let mut verdict = pass(Property::Reversible, summary, vec![]);
        verdict.cases = cases;
        Ok(verdict)
    }

    /// A new scratch database, prepared (extensions, setup, ledger), and a connection to it.
    async fn scratch_database(&self, purpose: Purpose) -> Result<(ScratchDatabase, PgConnection), CheckError> {
        let database = ScratchDatabase::create(self.backend).await?;
        let mut conn = database.connect().await?;
        if let Some(failure) = self.prep.apply(&mut conn, purpose).await? {
            let _ = conn.close().await;
            database.drop_now().await?;
            return Err(CheckError::Setup { location: failure.location, error: failure.error });
        }
        Ok((database, conn))
    }

    /// The catalog of an empty database after the preparation alone.
    async fn baseline(&mut self) -> Result<Catalog, CheckError> {
        let (database, mut conn) = self.scratch_database(Purpose::Migrations).await?;
        let catalog = self.dump(&mut conn).await?;
        let _ = conn.close().await;
        database.drop_now().await?;
        Ok(catalog)
    }

    /// Every migration in canonical order; the catalog, or the first failure.
    async fn canonical_run(&mut self, conn: &mut PgConnection) -> Result<Result<Catalog, (String, Failure)>, RunnerError> {
        for migration in &self.project.migrations.migrations {
            if let Some(failure) = apply_migration(conn, migration).await? {
                return Ok(Err((migration.id(), failure)));
            }
        }
        Ok(Ok(self.dump(conn).await?))
    }

    /// `differences` without the objects that differ between `first` and `second`, two runs of
    /// the same steps from the same state: those are nondeterministic at this point (a view
    /// that froze `'now'`, replaced later in the history), reported as such, not as a failure.
    fn stable_differences(&mut self, mut differences: Vec<Difference>, first: &Catalog, second: &Catalog) -> Vec<Difference> {
        let unstable: BTreeSet<(catalog::ObjectKind, String)> = differing_objects(first, second, &self.compare).into_iter().collect();
        differences.retain(|d| !unstable.contains(&(d.kind, d.object.clone())));
        self.unstable.extend(unstable);
        differences
    }

    async fn dump(&mut self, conn: &mut PgConnection) -> Result<Catalog, RunnerError> {
        catalog::dump(conn, &mut self.canon, &self.ignore).await
    }

    async fn reference_catalog(&mut self, script: &Script) -> Result<Catalog, CheckError> {
        let (database, mut conn) = self.scratch_database(Purpose::Reference).await?;
        apply_reference(&mut conn, script).await?;
        let catalog = self.dump(&mut conn).await?;
        let _ = conn.close().await;
        database.drop_now().await?;
        Ok(catalog)
    }

    fn fresh(&self, outcome: Result<Catalog, (String, Failure)>, reference: Option<&Catalog>) -> FreshRun {
        let migrations = &self.project.migrations.migrations;
        let catalog = match outcome {
            Ok(catalog) => catalog,
            Err((migration, failure)) => {
                let summary = format!("{migration} failed on an empty database after the migrations before it");
                return FreshRun { verdict: fail(Property::Fresh, summary, failure, 1), catalog: None };
            }
        };
        let verdict = match reference {
            None => pass(
                Property::Fresh,
                format!(
                    "{} applied in order to an empty database (no reference schema: this run is the reference, {})",
                    plural(migrations.len(), "migration"),
                    plural(catalog.objects.len(), "object")
                ),
                vec![],
            ),
            Some(reference) => {
                let restored = self.ignore.with_changed_setup_objects(reference, &catalog);
                let (reference, found) = restored.as_ref().map_or((reference, &catalog), |(e, f)| (e, f));
                let differences = compare::compare(reference, found, &self.compare);
                let against = self.project.reference_path().map(|p| p.display().to_string()).unwrap_or_default();
                if compare::has_errors(&differences) {
                    let summary = format!(
                        "{} applied in order to an empty database, but the catalog differs from {against} ({})",
                        plural(migrations.len(), "migration"),
                        plural(differences.iter().filter(|d| d.severity == Severity::Error).count(), "difference")
                    );
                    fail(Property::Fresh, summary, diverged(reference, found, differences, &against), 1)
                } else {
                    let summary = format!(
                        "{} applied in order to an empty database; the catalog equals {against} ({})",
                        plural(migrations.len(), "migration"),
                        plural(reference.objects.len(), "object")
                    );
                    pass(Property::Fresh, summary, differences)
                }
            }
        };
        FreshRun { verdict, catalog: Some(catalog) }
    }

    async fn idempotent(&mut self, conn: &mut PgConnection, migrated: Option<&Catalog>) -> Result<Verdict, RunnerError> {
        let reentrant: Vec<&Migration> =
            self.project.reentrant.iter().map(|&i| &self.project.migrations.migrations[i]).collect();
        if reentrant.is_empty() {
            return Ok(skipped(
                Property::Idempotent,
                "no migration claims to be re-entrant (set `idempotent` in pgconverge.toml)".to_string(),
            ));
        }
        let Some(before) = migrated else {
            return Ok(skipped(
                Property::Idempotent,
                "not run: the fresh run failed, so there is no migrated database to re-run on".to_string(),
            ));
        };
        for migration in &reentrant {
            if let Some(failure) = apply_migration(conn, migration).await? {
                let summary = format!("re-running {} on the migrated database failed", migration.id());
                return Ok(fail(Property::Idempotent, summary, failure, 1));
            }
        }
        let after = self.dump(conn).await?;
        let mut differences = compare::compare(before, &after, &self.compare);
        if !differences.is_empty() {
            // Re-run once more: what differs between the two re-runs froze something like now().
            let mut again_ok = true;
            for migration in &reentrant {
                again_ok &= apply_migration(conn, migration).await?.is_none();
            }
            if again_ok {
                let again = self.dump(conn).await?;
                differences = self.stable_differences(differences, &after, &again);
            }
        }
        if differences.is_empty() {
            let summary = format!(
                "{} re-run on the migrated database: all succeeded and the catalog is unchanged",
                plural(reentrant.len(), "re-entrant migration")
            );
            Ok(pass(Property::Idempotent, summary, vec![]))
        } else {
            let summary = format!(
                "re-running {} succeeded but changed the catalog ({})",
                plural(reentrant.len(), "re-entrant migration"),
                plural(differences.len(), "difference")
            );
            Ok(fail(Property::Idempotent, summary, diverged(before, &after, differences, "the catalog before the re-run"), 1))
        }
    }
}

/// A property the server stopped part way is incomplete, so the verdicts before it (and any
/// counterexample) are still reported; only an interruption ends the whole check.
fn undecided_is_incomplete(property: Property, verdict: Result<Verdict, CheckError>) -> Result<Verdict, CheckError> {
    match verdict {
        Err(CheckError::Runner(error)) if !matches!(error, RunnerError::Interrupted) => Ok(Verdict {
            property,
            status: VerdictStatus::Incomplete,
            summary: format!("could not be decided: {error}"),
            cases: 0,
            failure: None,
            case: None,
            timing: None,
            warnings: vec![],
        }),
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
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The objects two catalogs of the same SQL disagree on.
fn differing_objects(first: &Catalog, second: &Catalog, options: &CompareOptions) -> Vec<(catalog::ObjectKind, String)> {
    compare::compare(first, second, options).into_iter().map(|d| (d.kind, d.object)).collect()
}

struct FreshRun {
    verdict: Verdict,
    /// The catalog after the fresh run, when every migration succeeded.
    catalog: Option<Catalog>,
}

fn pass(property: Property, summary: String, warnings: Vec<Difference>) -> Verdict {
    Verdict { property, status: VerdictStatus::Pass, summary, cases: 1, failure: None, case: None, timing: None, warnings }
}

fn fail(property: Property, summary: String, failure: Failure, cases: u64) -> Verdict {
    Verdict { property, status: VerdictStatus::Fail, summary, cases, failure: Some(failure), case: None, timing: None, warnings: vec![] }
}

fn skipped(property: Property, summary: String) -> Verdict {
    Verdict { property, status: VerdictStatus::Skipped, summary, cases: 0, failure: None, case: None, timing: None, warnings: vec![] }
}

fn diverged(expected: &Catalog, found: &Catalog, differences: Vec<Difference>, against: &str) -> Failure {
    let (expected_text, found_text) = compare::involved_text(expected, found, &differences);
    Failure::Diverged { expected: against.to_string(), differences, expected_text, found_text }
}

/// Runs one of a migration's scripts in `mode`; `Some` when a statement failed, naming the
/// migration as `id`.
pub async fn run_migration_script(
    conn: &mut PgConnection,
    id: String,
    script: &Script,
    mode: TransactionMode,
) -> Result<Option<Failure>, RunnerError> {
    match runner::apply_script(conn, script, mode, None).await? {
        ApplyOutcome::Applied => Ok(None),
        ApplyOutcome::Failed(failure) => {
            let statement = &script.statements[failure.statement_index];
            Ok(Some(Failure::StatementFailed {
                migration: id,
                statement: failure.statement_index + 1,
                location: failure_location(script, statement, &failure.error),
                sql: statement.sql.clone(),
                error: failure.error,
            }))
        }
    }
}

/// In a transaction unless the migration must not run in one.
fn migration_mode(migration: &Migration) -> TransactionMode {
    if migration.runs_in_transaction() {
        TransactionMode::Transaction
    } else {
        TransactionMode::Autocommit
    }
}

/// Runs a migration's down script.
async fn apply_down(conn: &mut PgConnection, migration: &Migration, down: &Script) -> Result<Option<Failure>, RunnerError> {
    run_migration_script(conn, format!("{} (down)", migration.id()), down, migration_mode(migration)).await
}

/// Applies one migration. `Some` when a statement failed.
pub async fn apply_migration(conn: &mut PgConnection, migration: &Migration) -> Result<Option<Failure>, RunnerError> {
    run_migration_script(conn, migration.id(), &migration.up, migration_mode(migration)).await
}

/// Applies the reference schema statement by statement; a failing statement is an error in the
/// user's input, named by its position.
pub async fn apply_reference(conn: &mut PgConnection, script: &Script) -> Result<(), CheckError> {
    if let ApplyOutcome::Failed(failure) = runner::apply_script(conn, script, TransactionMode::Autocommit, None).await? {
        let statement = &script.statements[failure.statement_index];
        let location = failure_location(script, statement, &failure.error);
        return Err(CheckError::Reference { location, error: failure.error });
    }
    Ok(())
}

/// Where in the file a failed statement went wrong: the server's error position when it gives
/// one, the line inside a `DO` block when PL/pgSQL names it, else the statement's start.
pub fn failure_location(script: &Script, statement: &Statement, error: &PgError) -> Location {
    if let Some(position) = error.position {
        return script.location_in(statement, char_position_to_byte_offset(&statement.sql, position));
    }
    if let Some(location) = plpgsql_location(script, statement, error) {
        return location;
    }
    script.location_of(statement)
}

/// `PL/pgSQL function inline_code_block line N at ...`: line N counts from the line on which
/// the DO block's dollar-quoted body opens.
fn plpgsql_location(script: &Script, statement: &Statement, error: &PgError) -> Option<Location> {
    let context = error.context.as_deref()?;
    let pattern = regex::Regex::new(r"inline_code_block line (\d+)").expect("valid regex");
    let body_line: usize = pattern.captures(context)?.get(1)?.as_str().parse().ok()?;
    let quote = regex::Regex::new(r"\$[A-Za-z_0-9]*\$").expect("valid regex");
    let opening = quote.find(&statement.sql)?;
    let opening_location = script.location_in(statement, opening.start());
    let line = opening_location.line + body_line.max(1) - 1;
    let line_text = script.file_text.lines().nth(line - 1).unwrap_or("");
    let column = line_text.chars().take_while(|c| c.is_whitespace()).count() + 1;
    Some(Location { file: script.path.clone(), line, column })
}
