//! Running one case: its steps in a worker's warm database (one open transaction, a savepoint
//! after every step, rolled back to the longest prefix shared with the previous case), or in a
//! scratch database of its own when a migration cannot run in the sandbox; then judging the
//! catalog it ends at.

use std::collections::{BTreeSet, HashMap};

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};

use crate::catalog::{self, Canonicalizer, Catalog};
use crate::compare::{self, Difference, Severity};
use crate::engine::executor::Target;
use crate::generate::{self, Plan};
use crate::migration::Migration;
use crate::model::Failure;
use crate::runner::{self, ApplyOutcome, RunnerError, ScratchDatabase, TransactionMode};

use super::universe::{prepare, recorded_script, Universe};

/// What a case did.
// Converged cases dominate and the memo keeps one outcome per distinct plan: a few hundred
// bytes each, not worth a Box on every failure.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub(super) enum CaseOutcome {
    Converged {
        warnings: Vec<Difference>,
    },
    Failed(Failure),
    /// The start state could not be built (a generator or unit-mapping limit, not a verdict).
    Invalid(String),
}

/// One step of a sandboxed case; equal step prefixes leave the database in equal states.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Applied(usize),
    Preexisting(BTreeSet<usize>),
    Interrupted(generate::Interruption),
    Pending(usize),
}

fn steps(plan: &Plan) -> Vec<Step> {
    let mut steps: Vec<Step> = plan.applied.iter().map(|&m| Step::Applied(m)).collect();
    if !plan.preexisting.is_empty() {
        steps.push(Step::Preexisting(plan.preexisting.clone()));
    }
    if let Some(interrupted) = &plan.interrupted {
        steps.push(Step::Interrupted(interrupted.clone()));
    }
    steps.extend(plan.order.iter().map(|&m| Step::Pending(m)));
    steps
}

/// What a sandboxed step did to the database. An applied migration and the same migration run
/// as pending leave the same state when they succeed, so they share savepoints and judged states.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum StepKey {
    Ran(usize),
    Preexisting(BTreeSet<usize>),
}

impl StepKey {
    /// `None` for an interrupted migration, which never runs in the sandbox.
    fn of(step: &Step) -> Option<StepKey> {
        match step {
            Step::Applied(m) | Step::Pending(m) => Some(StepKey::Ran(*m)),
            Step::Preexisting(units) => Some(StepKey::Preexisting(units.clone())),
            Step::Interrupted(_) => None,
        }
    }
}

/// The steps a plan runs, as state-changing keys (empty when one cannot run in the sandbox).
pub(super) fn step_keys(plan: &Plan) -> Vec<StepKey> {
    steps(plan).iter().map_while(StepKey::of).collect()
}

/// A 128-bit digest of a step sequence: the key of a judged state (the sequences themselves
/// would cost a migration count of words per case, kept for the whole run).
fn state_digest(keys: &[StepKey]) -> u128 {
    use std::hash::{Hash, Hasher};
    let half = |salt: u8| {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        salt.hash(&mut hasher);
        keys.hash(&mut hasher);
        hasher.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}

/// A database kept warm for sandboxed cases: one open transaction, a savepoint after every
/// step, and the steps those savepoints stand for. A case rolls back to the longest prefix it
/// shares with the previous case and runs only the rest.
struct Warm {
    database: ScratchDatabase,
    conn: PgConnection,
    done: Vec<StepKey>,
    /// Cases run in the current transaction.
    cases: u32,
}

impl Warm {
    async fn close(self) -> Result<(), RunnerError> {
        let _ = self.conn.close().await;
        self.database.drop_now().await
    }

    /// Rolls the transaction back, vacuums the database and opens a new transaction at `s0`
    /// (see [`CASES_PER_TRANSACTION`]). The connection keeps its caches.
    async fn recycle(&mut self) -> Result<(), RunnerError> {
        control(&mut self.conn, "ROLLBACK").await?;
        self.done.clear();
        control(&mut self.conn, "VACUUM").await?;
        control(&mut self.conn, "BEGIN").await?;
        control(&mut self.conn, "SAVEPOINT s0").await?;
        self.cases = 0;
        Ok(())
    }
}

/// A worker's warm database, made on its first sandboxed case and recycled every
/// [`CASES_PER_TRANSACTION`] cases.
pub(super) struct WarmSlot {
    cases_per_transaction: u32,
    current: Option<Warm>,
    /// Times the warm database was recycled.
    pub(super) recycled: u32,
}

impl WarmSlot {
    pub(super) fn new(share_prefixes: bool) -> WarmSlot {
        let cases_per_transaction = if share_prefixes { CASES_PER_TRANSACTION } else { UNSHARED_CASES_PER_TRANSACTION };
        WarmSlot { cases_per_transaction, current: None, recycled: 0 }
    }

    /// Warm databases made: one, unless the worker ran no sandboxed case.
    pub(super) fn databases(&self) -> u32 {
        u32::from(self.current.is_some())
    }

    /// The warm database, made first if there is none yet, recycled first when its transaction
    /// has run enough cases.
    async fn warm(&mut self, universe: &Universe) -> Result<&mut Warm, RunnerError> {
        if self.current.is_none() {
            self.current = Some(fresh_warm(universe).await?);
        }
        let warm = self.current.as_mut().expect("warm database just made");
        if warm.cases >= self.cases_per_transaction {
            warm.recycle().await?;
            self.recycled += 1;
        }
        Ok(warm)
    }

    /// Drops the warm database.
    pub(super) async fn close(&mut self) -> Result<(), RunnerError> {
        match self.current.take() {
            Some(warm) => warm.close().await,
            None => Ok(()),
        }
    }
}

/// A new warm database: created, prepared, in its one transaction at savepoint `s0`.
async fn fresh_warm(universe: &Universe) -> Result<Warm, RunnerError> {
    let (database, mut conn) = prepared_database(universe).await?;
    control(&mut conn, "BEGIN").await?;
    control(&mut conn, "SAVEPOINT s0").await?;
    Ok(Warm { database, conn, done: Vec::new(), cases: 0 })
}

/// A scratch database of the harness's own, prepared for migrations, and a connection to it.
async fn prepared_database(universe: &Universe) -> Result<(ScratchDatabase, PgConnection), RunnerError> {
    let database = ScratchDatabase::create(&universe.backend).await?;
    let mut conn = database.connect().await?;
    prepare(&universe.prep, &mut conn, &database).await?;
    Ok((database, conn))
}

/// Every case leaves its rolled-back catalog rows behind as dead tuples, and every catalog scan
/// of later cases wades through them (on k12 the dump grew from 4.1 ms to 8.9 ms over 180
/// cases). Every this many cases the warm database's transaction is rolled back and the
/// database vacuumed (about 40 ms on k12). That is cheaper than a new database, which costs
/// `CREATE DATABASE`, `DROP DATABASE` (a forced checkpoint) and a new connection with cold
/// caches, and it also keeps the one transaction short.
const CASES_PER_TRANSACTION: u32 = 64;

/// The same without shared prefixes (`--no-share`): every case runs all its steps and leaves
/// them all behind as dead rows.
const UNSHARED_CASES_PER_TRANSACTION: u32 = 16;

/// Runs one plan, and says how many steps it shared with the previous sandboxed case: in the
/// warm database inside the open transaction when every migration it touches allows that, else
/// in a scratch database of its own.
pub(super) async fn run_case(
    universe: &Universe,
    judge_state: &mut Judge,
    slot: &mut WarmSlot,
    share_prefixes: bool,
    plan: &Plan,
    expected: &Catalog,
) -> Result<(CaseOutcome, usize), RunnerError> {
    let sandboxed = plan.interrupted.is_none() && plan.applied.iter().chain(plan.order.iter()).all(|&m| universe.sandbox_safe[m]);
    if !sandboxed {
        let (database, mut conn) = prepared_database(universe).await?;
        let outcome = run_isolated(universe, judge_state, &mut conn, &database, plan, expected).await;
        let _ = conn.close().await;
        database.drop_now().await?;
        return outcome.map(|o| (o, 0));
    }
    let steps = steps(plan);
    let keys: Vec<StepKey> = steps.iter().map_while(StepKey::of).collect();
    // Every step of this sequence succeeded before, and the state it left was judged: no
    // database work at all.
    let state = state_digest(&keys);
    if let Some(outcome) = judge_state.judged.get(&state) {
        return Ok((outcome.clone(), keys.len()));
    }
    let warm = slot.warm(universe).await?;
    warm.cases += 1;
    let shared = if share_prefixes { warm.done.iter().zip(&keys).take_while(|(a, b)| a == b).count() } else { 0 };
    if shared < warm.done.len() || !share_prefixes {
        rollback_to(&mut warm.conn, shared).await?;
        warm.done.truncate(shared);
    }
    for (step, key) in steps[shared..].iter().zip(&keys[shared..]) {
        let depth = warm.done.len();
        // Fast path: the whole step and the savepoint after it in one round trip. Only when that
        // fails is the step run again statement by statement, to name the statement and its position.
        if run_step_batched(universe, &mut warm.conn, step, depth + 1).await? {
            warm.done.push(key.clone());
            continue;
        }
        rollback_to(&mut warm.conn, depth).await?;
        if let Some(outcome) = run_step(universe, &mut warm.conn, step, None).await? {
            // A failed statement aborts the transaction; the savepoint before the step revives it.
            rollback_to(&mut warm.conn, depth).await?;
            return Ok((outcome, shared));
        }
        let savepoint = format!("SAVEPOINT s{}", depth + 1);
        sqlx::raw_sql(AssertSqlSafe(savepoint)).execute(&mut warm.conn).await.map_err(|e| RunnerError::db("SAVEPOINT", e))?;
        warm.done.push(key.clone());
    }
    let outcome = judge(universe, judge_state, &mut warm.conn, expected).await?;
    if share_prefixes {
        judge_state.judged.insert(state, outcome.clone());
    }
    Ok((outcome, shared))
}

async fn rollback_to(conn: &mut PgConnection, depth: usize) -> Result<(), RunnerError> {
    let sql = format!("ROLLBACK TO SAVEPOINT s{depth}");
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(conn).await.map(|_| ()).map_err(|e| RunnerError::db("ROLLBACK TO SAVEPOINT", e))
}

async fn control(conn: &mut PgConnection, sql: &'static str) -> Result<(), RunnerError> {
    sqlx::raw_sql(sql).execute(conn).await.map(|_| ()).map_err(|e| RunnerError::db(sql, e))
}

/// After the migrator loaded the whole reference (which records every migration it covers, as
/// `db:schema:load` does), the pending migrations are forgotten again: the objects exist, the
/// migrations are not recorded, the state the re-entrant migrations were written for.
async fn forget_pending(universe: &Universe, conn: &mut PgConnection, database: &str, plan: &Plan) -> Result<(), RunnerError> {
    for &m in &plan.order {
        universe.executor.forget(Target { conn: &mut *conn, database }, &universe.migrations()[m]).await?;
    }
    Ok(())
}

/// A case in a scratch database of its own: migrations in their own transactions (or none),
/// the pre-existing objects over a separate connection.
async fn run_isolated(
    universe: &Universe,
    judge_state: &mut Judge,
    conn: &mut PgConnection,
    database: &ScratchDatabase,
    plan: &Plan,
    expected: &Catalog,
) -> Result<CaseOutcome, RunnerError> {
    for step in steps(plan) {
        let outcome = match &step {
            Step::Preexisting(_) => match run_step_apart(universe, database, &step).await? {
                None if universe.executor.loads_schema() => {
                    forget_pending(universe, conn, database.name(), plan).await?;
                    None
                }
                outcome => outcome,
            },
            _ => run_step(universe, conn, &step, Some(database.name())).await?,
        };
        if let Some(outcome) = outcome {
            return Ok(outcome);
        }
    }
    judge(universe, judge_state, conn, expected).await
}

/// Runs a pre-existing step of an isolated case over a connection of its own: the reference's
/// session settings (pg_dump sets search_path to '') must not leak into the migrations.
async fn run_step_apart(universe: &Universe, database: &ScratchDatabase, step: &Step) -> Result<Option<CaseOutcome>, RunnerError> {
    let mut separate = database.connect().await?;
    let outcome = run_step(universe, &mut separate, step, Some(database.name())).await;
    let _ = separate.close().await;
    outcome
}

/// A framework case run again with the SQL its steps sent recorded (for a repro script): each
/// migration that ran, as the SQL it sent in this case; the schema file's load, as its SQL.
pub(super) struct RecordedCase {
    pub(super) migrations: Vec<Migration>,
    pub(super) schema_load: Option<crate::migration::Script>,
}

/// Runs `plan` in a scratch database of its own, as [`run_isolated`] does, recording the SQL
/// each framework step sends; it stops where the case failed.
pub(super) async fn record_case(universe: &Universe, plan: &Plan) -> Result<RecordedCase, RunnerError> {
    let (database, mut conn) = prepared_database(universe).await?;
    let mut recorded = RecordedCase { migrations: universe.migrations().to_vec(), schema_load: None };
    let outcome = record_steps(universe, &mut conn, &database, plan, &mut recorded).await;
    let _ = conn.close().await;
    database.drop_now().await?;
    outcome.map(|()| recorded)
}

async fn record_steps(
    universe: &Universe,
    conn: &mut PgConnection,
    database: &ScratchDatabase,
    plan: &Plan,
    recorded: &mut RecordedCase,
) -> Result<(), RunnerError> {
    let executor = &universe.executor;
    let unreadable = |e: crate::migration::MigrationError| RunnerError::ProgramIneffective {
        program: format!("the {} driver", universe.project.runner_name()),
        problem: format!("it recorded SQL pgconverge cannot split: {e}"),
    };
    for step in steps(plan) {
        let target = Target { conn: &mut *conn, database: database.name() };
        let failed = match &step {
            Step::Applied(m) | Step::Pending(m) => {
                let migration = &universe.migrations()[*m];
                let ran = executor.up_recorded(target, migration).await?;
                recorded.migrations[*m].up =
                    recorded_script(&migration.up.path, ran.sql.as_deref().unwrap_or_default()).map_err(unreadable)?;
                ran.failure.is_some()
            }
            Step::Preexisting(_) if executor.loads_schema() => {
                let ran = executor.load_schema_recorded(target).await?;
                let path = universe.project.reference_path().unwrap_or(std::path::Path::new("schema file"));
                recorded.schema_load = Some(recorded_script(path, ran.sql.as_deref().unwrap_or_default()).map_err(unreadable)?);
                if ran.failure.is_none() {
                    forget_pending(universe, conn, database.name(), plan).await?;
                }
                ran.failure.is_some()
            }
            Step::Preexisting(_) => run_step_apart(universe, database, &step).await?.is_some(),
            Step::Interrupted(_) => unreachable!("a framework case never stops a migration part way"),
        };
        if failed {
            break;
        }
    }
    Ok(())
}

/// Runs a sandboxed step and then `SAVEPOINT s<savepoint>` as one multi-statement query;
/// `false` when any statement failed (the transaction is then aborted, and the caller rolls
/// back to the savepoint before the step).
async fn run_step_batched(universe: &Universe, conn: &mut PgConnection, step: &Step, savepoint: usize) -> Result<bool, RunnerError> {
    let migrations = universe.migrations();
    let statements: Vec<&str> = match step {
        Step::Applied(m) | Step::Pending(m) => migrations[*m].up.statements.iter().map(|s| s.sql.as_str()).collect(),
        Step::Preexisting(units) => {
            let script = universe.reference_script().expect("units come from a reference");
            let mut sql: Vec<&str> = universe.unit_statements(units).into_iter().map(|i| script.statements[i].sql.as_str()).collect();
            sql.push("RESET ALL");
            sql
        }
        Step::Interrupted(_) => return Ok(false),
    };
    let savepoint = format!("SAVEPOINT s{savepoint}");
    // A newline before each `;`: a statement may end in a `--` comment.
    let batch = statements.into_iter().chain([savepoint.as_str()]).collect::<Vec<_>>().join("\n;\n");
    let started = std::time::Instant::now();
    match sqlx::raw_sql(AssertSqlSafe(batch)).execute(&mut *conn).await {
        Ok(_) => Ok(true),
        // Which statement ran into the limit, the step run statement by statement names. (The
        // watchdog times the whole batch, so a batch of statements each within the limit may
        // be cancelled here and then pass one by one.)
        Err(error) if universe.limits.exceeded(&error, started.elapsed()).is_some() => Ok(false),
        Err(error) => {
            // A server or connection fault is not the migration's doing.
            runner::classify_on(conn, error, "run a step").await?;
            Ok(false)
        }
    }
}

/// Runs one step; `Some` when it ends the case (a failure, or an unbuildable start state).
/// `isolated` names the case's own database, where migrations run through the executor;
/// `None` runs them in the sandbox's open transaction.
async fn run_step(
    universe: &Universe,
    conn: &mut PgConnection,
    step: &Step,
    isolated: Option<&str>,
) -> Result<Option<CaseOutcome>, RunnerError> {
    let migrations = universe.migrations();
    let sandboxed = isolated.is_none();
    let mode = |m: &Migration| {
        if sandboxed || !m.runs_in_transaction() {
            TransactionMode::Autocommit
        } else {
            TransactionMode::Transaction
        }
    };
    match step {
        Step::Applied(m) | Step::Pending(m) if !sandboxed => {
            let migration = &migrations[*m];
            let target = Target { conn, database: isolated.expect("not sandboxed") };
            match universe.executor.up(target, migration).await? {
                Some(failure) if matches!(step, Step::Pending(_)) => return Ok(Some(CaseOutcome::Failed(failure))),
                Some(failure) => {
                    let reason = summary_line(&failure);
                    return Ok(Some(CaseOutcome::Invalid(format!("applied migration {} failed: {reason}", migration.id()))));
                }
                None => {}
            }
        }
        Step::Applied(m) => {
            let migration = &migrations[*m];
            if let ApplyOutcome::Failed(f) = runner::apply_script(conn, &migration.up, mode(migration), None, &universe.limits).await? {
                return Ok(Some(CaseOutcome::Invalid(format!("applied migration {} failed: {}", migration.id(), f.error.message))));
            }
        }
        Step::Preexisting(units) if !sandboxed && units.len() == universe.units.units.len() && universe.executor.loads_schema() => {
            // The whole reference, loaded the migrator's own way (`rails db:schema:load`).
            let target = Target { conn, database: isolated.expect("not sandboxed") };
            if let Some(failure) = universe.executor.load_schema(target).await? {
                return Ok(Some(CaseOutcome::Failed(failure)));
            }
        }
        Step::Preexisting(units) => {
            let script = universe.reference_script().expect("units come from a reference");
            for i in universe.unit_statements(units) {
                let sql = script.statements[i].sql.clone();
                let started = std::time::Instant::now();
                if let Err(error) = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await {
                    if let Some(exceeded) = universe.limits.exceeded(&error, started.elapsed()) {
                        return Err(exceeded.at(script.location_of(&script.statements[i])));
                    }
                    let error = runner::classify_on(conn, error, "build the pre-existing state").await?;
                    let location = script.location_of(&script.statements[i]);
                    return Ok(Some(CaseOutcome::Invalid(format!("pre-existing statement at {location} failed: {}", error.message))));
                }
            }
            if sandboxed {
                control(conn, "RESET ALL").await?;
            }
        }
        Step::Interrupted(interrupted) => {
            let migration = &migrations[interrupted.migration];
            let outcome =
                runner::apply_script(conn, &migration.up, TransactionMode::Autocommit, Some(interrupted.statements_done), &universe.limits)
                    .await?;
            if let ApplyOutcome::Failed(f) = outcome {
                return Ok(Some(CaseOutcome::Invalid(format!("the interrupted prefix of {} failed: {}", migration.id(), f.error.message))));
            }
        }
        Step::Pending(m) => {
            let migration = &migrations[*m];
            let failure =
                crate::engine::run_migration_script(conn, migration.id(), &migration.up, mode(migration), &universe.limits).await?;
            if let Some(failure) = failure {
                return Ok(Some(CaseOutcome::Failed(failure)));
            }
        }
    }
    Ok(None)
}

/// What judging a case needs across cases: the memoized canonicalizer, and how long each
/// catalog dump took (reported in the verdict's timing).
#[derive(Default)]
pub(super) struct Judge {
    canon: Canonicalizer,
    pub(super) dump_times: Vec<std::time::Duration>,
    /// Outcomes of sandboxed states already dumped and compared, by [`state_digest`].
    judged: HashMap<u128, CaseOutcome>,
}

/// Dumps the catalog and compares it with what the case should end at.
async fn judge(universe: &Universe, judge: &mut Judge, conn: &mut PgConnection, expected: &Catalog) -> Result<CaseOutcome, RunnerError> {
    let started = std::time::Instant::now();
    let found = catalog::dump(conn, &mut judge.canon, &universe.ignore).await?;
    judge.dump_times.push(started.elapsed());
    let differences = compare::compare(expected, &found, &universe.compare);
    if compare::has_errors(&differences) {
        let (expected_text, found_text) = compare::involved_text(expected, &found, &differences);
        let differences: Vec<Difference> = differences.into_iter().filter(|d| d.severity == Severity::Error).collect();
        return Ok(CaseOutcome::Failed(Failure::Diverged {
            expected: "the reference".into(),
            differences,
            expected_text,
            found_text,
            origins: vec![],
        }));
    }
    Ok(CaseOutcome::Converged { warnings: differences })
}

/// A failure in one line: the reason a failing case gives proptest, or an unbuildable one records.
pub(super) fn summary_line(failure: &Failure) -> String {
    match failure {
        Failure::StatementFailed { migration, location, error, .. } => format!("{migration} failed at {location}: {}", error.message),
        Failure::Diverged { differences, .. } => differences.first().map_or_else(|| "diverged".to_string(), |d| format!("diverged: {d}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applied_and_pending_runs_of_a_migration_are_one_state() {
        let applied = Plan { applied: [0, 1].into(), preexisting: Default::default(), interrupted: None, order: vec![2] };
        let pending = Plan { applied: [0].into(), preexisting: Default::default(), interrupted: None, order: vec![1, 2] };
        let swapped = Plan { applied: [0].into(), preexisting: Default::default(), interrupted: None, order: vec![2, 1] };
        assert_eq!(step_keys(&applied), step_keys(&pending));
        assert_eq!(state_digest(&step_keys(&applied)), state_digest(&step_keys(&pending)));
        assert_ne!(state_digest(&step_keys(&pending)), state_digest(&step_keys(&swapped)));
    }
}
