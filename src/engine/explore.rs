//! The generated properties (partial, order, interrupt) and reversibility: cases from
//! [`crate::generate`], run against scratch databases, shrunk by proptest to a minimal
//! counterexample, persisted as proptest seeds and written out as a psql repro script.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{
    Config, FailurePersistence, FileFailurePersistence, PersistedSeed, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};

use crate::catalog::{self, Canonicalizer, Catalog, IgnoreRules, Object, ObjectKind};
use super::executor::{Executor, Target};
use crate::model::{CaseReport, HiddenDependency, Shard, Timing, plural, Failure, Property, Verdict, VerdictStatus};
use crate::compare::{self, CompareOptions, Difference, Severity};
use crate::analysis::deps::DependencyGraph;
use crate::analysis::footprint::{ObjectRef, RefKind};
use crate::generate::{self, Granularity, Plan, PlanSpace, UnitSpace};
use crate::migration::{Migration, Script};
use crate::engine::prepare::{Preparation, Purpose};
use crate::project::Project;
use crate::analysis::reference_units::{reference_units, ReferenceUnits};
use crate::runner::{self, ApplyOutcome, Backend, RunnerError, ScratchDatabase, ServerHandle, TransactionMode};

/// How the generated properties explore.
#[derive(Debug, Clone)]
pub struct ExploreOptions {
    /// Cases per generated property; `None`: proptest's default (256, or `PROPTEST_CASES`).
    pub cases: Option<u32>,
    /// Base seed: the same seed (and shard) generates the same cases.
    pub seed: Option<u64>,
    pub shard: Option<Shard>,
    pub granularity: Granularity,
    /// Where failing seeds are saved and replayed from (`None`: neither).
    pub regressions: Option<PathBuf>,
    /// Where repro scripts are written (`None`: not written).
    pub repro_dir: Option<PathBuf>,
    /// Run only the persisted seeds.
    pub replay_only: bool,
    pub max_shrink_iters: u32,
    /// Called after every case (the CLI draws a progress bar with it).
    pub progress: Option<ProgressSink>,
    /// Parallel workers per generated property, each with its own warm database.
    pub jobs: usize,
    /// Reuse the longest step prefix a case shares with the previous one (savepoints).
    pub share_prefixes: bool,
    /// Cancelled by the caller (Ctrl-C, SIGTERM): the check stops at the next step or case.
    pub cancel: tokio_util::sync::CancellationToken,
}

/// Where a run reports its progress.
#[derive(Clone)]
pub struct ProgressSink(pub std::sync::Arc<dyn Fn(&Progress) + Send + Sync>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

/// A generated property's progress after a case.
#[derive(Debug, Clone)]
pub struct Progress {
    pub property: Property,
    /// Cases run so far (shrinking steps included).
    pub cases: u64,
    /// The cases the property aims at (before any shrinking).
    pub target: u32,
    /// Cases that failed so far (the first failure and its shrinking steps).
    pub failed: u64,
    pub elapsed: std::time::Duration,
    pub finished: bool,
}

impl Default for ExploreOptions {
    fn default() -> Self {
        ExploreOptions {
            cases: None,
            seed: None,
            shard: None,
            granularity: Granularity::Migration,
            regressions: None,
            repro_dir: None,
            replay_only: false,
            max_shrink_iters: 256,
            progress: None,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            share_prefixes: true,
            cancel: tokio_util::sync::CancellationToken::new(),
        }
    }
}

/// What a case did.
#[derive(Debug, Clone)]
enum CaseOutcome {
    Converged { warnings: Vec<Difference> },
    Failed(Failure),
    /// The start state could not be built (a generator or unit-mapping limit, not a verdict).
    Invalid(String),
}

/// Everything the generated properties share, computed once from a canonical run.
pub struct Universe {
    project: Arc<Project>,
    /// The server, owned: the case runners take it to their threads.
    backend: ServerHandle,
    /// What runs a migration; only the SQL executor runs cases in the sandbox.
    executor: Arc<dyn Executor>,
    ignore: IgnoreRules,
    compare: CompareOptions,
    /// The reference catalog (the canonical run's when there is no reference).
    reference: Catalog,
    /// The canonical run's catalog.
    canonical: Catalog,
    units: ReferenceUnits,
    pub space: PlanSpace,
    /// Migrations that may run inside one big rolled-back transaction.
    sandbox_safe: Vec<bool>,
    /// Extensions, setup files and ledger, run on every database before a case.
    prep: Preparation,
}

impl Universe {
    /// Runs the canonical order once more, dumping after every migration, to learn what each
    /// migration creates (dependencies, and which reference units each one makes).
    pub(crate) async fn build(
        project: Arc<Project>,
        backend: &dyn Backend,
        executor: Arc<dyn Executor>,
        reference: Option<&Catalog>,
        granularity: Granularity,
        ignore: IgnoreRules,
        prep: Preparation,
    ) -> Result<Universe, RunnerError> {
        let migrations = &project.migrations.migrations;
        let mut canon = Canonicalizer::new();
        let database = ScratchDatabase::create(backend).await?;
        let mut conn = database.connect().await?;
        prepare(&prep, &mut conn).await?;
        let units = match &project.reference {
            Some(script) => reference_units(script),
            None => ReferenceUnits { preamble: vec![], ledger: vec![], units: vec![] },
        };
        // Learning from the catalog after every step costs a dump per migration: worth it for
        // hundreds of migrations, too slow for thousands, where the SQL footprints must do.
        let per_step = migrations.len() <= CATALOG_STEP_LIMIT;
        let mut learner = StepLearner::new(migrations.len());
        let mut previous = catalog::dump(&mut conn, &mut canon, &ignore).await?;
        let mut latest_oid = 0;
        let mut live = HashSet::new();
        if per_step {
            let (existing, latest) = crate::analysis::deps::catalog_edges_since(&mut conn, i64::MAX).await?;
            learner.seen_edges.extend(existing);
            latest_oid = latest;
            live = crate::analysis::deps::live_edges(&mut conn).await?;
        }
        for (i, migration) in migrations.iter().enumerate() {
            if executor.up(Target { conn: &mut conn, database: database.name() }, migration).await?.is_some() {
                return Err(RunnerError::NotRepeatable {
                    what: format!("the canonical run of {}", migration.id()),
                    detail: "it passed the fresh property moments ago; is the migration nondeterministic?".into(),
                });
            }
            if per_step || i + 1 == migrations.len() {
                let current = catalog::dump(&mut conn, &mut canon, &ignore).await?;
                if per_step {
                    learner.learn(i, &previous, &current, migrations);
                    let (edges, latest) = crate::analysis::deps::catalog_edges_since(&mut conn, latest_oid).await?;
                    learner.learn_catalog_edges(i, &edges, migrations);
                    latest_oid = latest;
                    let now = crate::analysis::deps::live_edges(&mut conn).await?;
                    learner.learn_released(i, &live, &now);
                    live = now;
                }
                previous = current;
            }
        }
        let _ = conn.close().await;
        database.drop_now().await?;

        let mut deps = crate::analysis::deps::infer_from_sql(migrations);
        deps.merge(&learner.graph);
        add_declared(&mut deps, &project);
        let unit_space = if per_step { unit_space(&units, &learner.added) } else { unit_space_from_sql(&units, migrations) };
        let canonical = previous;
        let space = PlanSpace {
            migrations: migrations.len(),
            deps,
            reentrant: project.reentrant.clone(),
            resumable: migrations
                .iter()
                .enumerate()
                .filter(|(_, m)| !m.runs_in_transaction())
                .map(|(i, m)| (i, m.up.statements.len()))
                .collect(),
            units: unit_space,
            granularity,
            // A migrator pgconverge hands one version at a time runs what it is given in
            // order: its SQL is unknown, so no other order has inferred dependencies to respect.
            in_order_only: !project.runs_out_of_order() || !executor.runs_sql(),
        };
        let sandbox_safe = migrations.iter().map(|m| executor.runs_sql() && sandbox_safe(m)).collect();
        Ok(Universe {
            compare: CompareOptions { strict_column_order: project.config.strict_column_order },
            backend: ServerHandle::of(backend),
            executor,
            ignore,
            reference: reference.cloned().unwrap_or_else(|| canonical.clone()),
            canonical,
            units,
            space,
            sandbox_safe,
            prep,
            project,
        })
    }

    fn migrations(&self) -> &[Migration] {
        &self.project.migrations.migrations
    }

    fn id(&self, migration: usize) -> String {
        self.migrations()[migration].id()
    }

    /// The reference statements that build a set of units: the preamble, then in file order.
    fn unit_statements(&self, units: &BTreeSet<usize>) -> Vec<usize> {
        if units.is_empty() {
            return vec![];
        }
        let mut statements: Vec<usize> = units.iter().flat_map(|&u| self.units.units[u].statements.iter().copied()).collect();
        statements.sort_unstable();
        statements.dedup();
        self.units.preamble.iter().copied().chain(statements).collect()
    }

    fn reference_script(&self) -> Option<&Script> {
        self.project.reference.as_ref()
    }
}

fn sandbox_safe(migration: &Migration) -> bool {
    migration.runs_in_transaction()
        && migration.up.statements.iter().all(|s| {
            let Ok(parsed) = pg_query::parse(&s.sql, 0) else { return false };
            parsed.protobuf.stmts.iter().all(|raw| {
                !matches!(
                    raw.stmt.as_ref().and_then(|n| n.node.as_ref()),
                    // A new enum value cannot be used in the transaction that added it, and a
                    // migration's own COMMIT would end the sandbox.
                    Some(pg_query::NodeEnum::AlterEnumStmt(_)) | Some(pg_query::NodeEnum::TransactionStmt(_))
                )
            })
        })
}

/// Prepares a database for migrations. The setup files already ran once without error (the
/// fresh property did that), so a failure now is the server's doing.
async fn prepare(prep: &Preparation, conn: &mut PgConnection) -> Result<(), RunnerError> {
    match prep.apply(conn, Purpose::Migrations).await? {
        None => Ok(()),
        Some(failure) => Err(RunnerError::NotRepeatable { what: "the setup files".into(), detail: format!("{}: {}", failure.location, failure.error) }),
    }
}

/// `[dependencies]` in pgconverge.toml: `"<version>" = ["<version>", ...]`.
fn add_declared(deps: &mut DependencyGraph, project: &Project) {
    let migrations = &project.migrations.migrations;
    let index = |v: &str| migrations.iter().position(|m| m.version == v || m.id() == v);
    for (dependent, dependencies) in &project.config.dependencies {
        let Some(d) = index(dependent) else { continue };
        for dependency in dependencies {
            if let Some(t) = index(dependency) {
                deps.add(d, t, format!("declared in {}", crate::project::config::CONFIG_FILE));
            }
        }
    }
}

fn object_key(o: &Object) -> (ObjectKind, &str) {
    (o.kind, o.name.as_str())
}

/// Above this many migrations the canonical run dumps the catalog only at its end.
pub const CATALOG_STEP_LIMIT: usize = 400;

/// What the canonical run teaches, one step at a time, keeping only what it needs: migration i
/// depends on j when an object i added or changed belongs to, or names, an object j created,
/// or when the server recorded (pg_depend) that an object i created needs a relation, column,
/// type or function j created; and which migration added each object.
pub struct StepLearner {
    pub graph: DependencyGraph,
    creator: HashMap<String, usize>,
    /// Objects each migration added: (migration, kind, name).
    pub added: Vec<(usize, ObjectKind, String)>,
    qualified: regex::Regex,
    /// The pg_depend edges seen so far (see [`crate::analysis::deps::catalog_edges_since`]).
    seen_edges: HashSet<crate::analysis::deps::CatalogEdge>,
    /// The latest step that removed each object (by name, without a function's arguments).
    removed_by: HashMap<String, usize>,
    /// The steps after which something no longer depended on an object (by name).
    released_by: HashMap<String, Vec<usize>>,
}

impl StepLearner {
    pub fn new(migrations: usize) -> StepLearner {
        StepLearner {
            graph: DependencyGraph::new(migrations),
            creator: HashMap::new(),
            added: Vec::new(),
            seen_edges: HashSet::new(),
            removed_by: HashMap::new(),
            released_by: HashMap::new(),
            qualified: regex::Regex::new(r"[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*").expect("valid regex"),
        }
    }

    pub fn learn(&mut self, i: usize, before: &Catalog, after: &Catalog, migrations: &[Migration]) {
        let before_map: HashMap<_, _> = before.objects.iter().map(|o| (object_key(o), o)).collect();
        let touched: Vec<&Object> =
            after.objects.iter().filter(|o| before_map.get(&object_key(o)).is_none_or(|b| *b != *o)).collect();
        for object in &touched {
            let mut mentioned: BTreeSet<String> = object.table.iter().cloned().collect();
            for value in object.attributes.values() {
                mentioned.extend(self.qualified.find_iter(value).map(|m| m.as_str().to_string()));
            }
            for name in mentioned {
                if let Some(&j) = self.creator.get(&name) {
                    if j != i {
                        let reason = format!(
                            "{} {} (made by {}) uses {name}, created by {}",
                            object.kind,
                            object.name,
                            migrations[i].id(),
                            migrations[j].id()
                        );
                        self.graph.add(i, j, reason);
                    }
                }
            }
        }
        let base = |name: &str| name.split('(').next().unwrap_or(name).to_string();
        let after_map: HashMap<_, _> = after.objects.iter().map(|o| (object_key(o), o)).collect();
        for object in touched.iter().filter(|o| !before_map.contains_key(&object_key(o))) {
            self.creator.entry(base(&object.name)).or_insert(i);
            self.added.push((i, object.kind, object.name.clone()));
            // Back after an earlier step removed it (directly, or with the column its index
            // was on): this step re-creates what that step took away.
            if let Some(&j) = self.removed_by.get(&base(&object.name)) {
                let reason = format!("{} {} (made again by {}) was removed by {}", object.kind, object.name, migrations[i].id(), migrations[j].id());
                self.graph.add(i, j, reason);
            }
        }
        // Removing what an earlier step stopped using (a trigger moved off a function, a
        // constraint on a column dropped before the column) only works after that step: the
        // other order fails on the dependent, or removes it first. Removed: gone from the
        // catalog, or dropped by the SQL and made again (a function redefined by DROP + CREATE).
        let mut removed: BTreeSet<String> = BTreeSet::new();
        for gone in before.objects.iter().filter(|o| !after_map.contains_key(&object_key(o))) {
            // What a step removes, an earlier step made (the SQL does not always say which:
            // an unnamed index gets its name from the server).
            if let Some(&j) = self.creator.get(&base(&gone.name)).filter(|&&j| j != i) {
                let reason = format!("{} {} (removed by {}) was created by {}", gone.kind, gone.name, migrations[i].id(), migrations[j].id());
                self.graph.add(i, j, reason);
            }
            removed.insert(base(&gone.name));
            self.removed_by.insert(base(&gone.name), i);
        }
        removed.extend(crate::analysis::footprint::script_footprint(&migrations[i].up).drops.into_iter().map(|o| o.name));
        for name in removed {
            for &j in self.released_by.get(&name).into_iter().flatten().filter(|&&j| j != i) {
                let reason = format!("removes {name} ({}), which was still used until {}", migrations[i].id(), migrations[j].id());
                self.graph.add(i, j, reason);
            }
        }
    }

    /// The dependencies (pg_depend rows) that vanished at step `i`, after [`StepLearner::learn`]
    /// for the same step: `i` stopped using what they named.
    pub(crate) fn learn_released(&mut self, i: usize, before: &HashSet<crate::analysis::deps::LiveEdge>, after: &HashSet<crate::analysis::deps::LiveEdge>) {
        for (_, referenced) in before.difference(after) {
            let steps = self.released_by.entry(referenced.clone()).or_default();
            if steps.last() != Some(&i) {
                steps.push(i);
            }
        }
    }

    /// The dependencies the server recorded for the objects migration `i` created (after
    /// [`StepLearner::learn`] for the same step): `i` needs the migration that created each
    /// referenced object, or added each referenced column. A column the catalog does not list
    /// (a view's) stands for its relation.
    pub(crate) fn learn_catalog_edges(&mut self, i: usize, edges: &[crate::analysis::deps::CatalogEdge], migrations: &[Migration]) {
        for edge in edges {
            if !self.seen_edges.insert(edge.clone()) {
                continue;
            }
            let known = |name: &str| self.creator.get(name).copied();
            let (j, what) = match (known(&edge.referenced), &edge.relation) {
                (Some(j), Some(_)) => (j, format!("column {}, added by", edge.referenced)),
                (Some(j), None) => (j, format!("{}, created by", edge.referenced)),
                (None, Some(relation)) => match known(relation) {
                    Some(j) => (j, format!("{}, created by", relation)),
                    None => continue,
                },
                (None, None) => continue,
            };
            if j != i {
                let reason =
                    format!("{} (made by {}) depends on {what} {}", edge.dependent, migrations[i].id(), migrations[j].id());
                self.graph.add(i, j, reason);
            }
        }
    }
}

/// Which migration creates each reference unit: the first that added an object the unit
/// creates; a unit that creates nothing (a `SET DEFAULT`) goes with the latest of its needs.
fn unit_space(units: &ReferenceUnits, added: &[(usize, ObjectKind, String)]) -> UnitSpace {
    let creator: Vec<Option<usize>> = units
        .units
        .iter()
        .map(|unit| {
            unit.creates.iter().filter_map(|r| added.iter().find(|(_, kind, name)| matches_ref(r, *kind, name)).map(|(m, _, _)| *m)).min()
        })
        .collect();
    let column_adder: HashMap<&str, usize> =
        added.iter().rev().filter(|(_, kind, _)| *kind == ObjectKind::Column).map(|(m, _, name)| (name.as_str(), *m)).collect();
    let needs = units.units.iter().map(|unit| unit.columns.iter().filter_map(|c| column_adder.get(c.name.as_str()).copied()).collect()).collect();
    finish_unit_space(units, creator, needs)
}

/// The same from the migrations' SQL footprints alone, for sets too large to dump per step.
fn unit_space_from_sql(units: &ReferenceUnits, migrations: &[Migration]) -> UnitSpace {
    let mut first_creator: HashMap<ObjectRef, usize> = HashMap::new();
    for (i, migration) in migrations.iter().enumerate() {
        for created in crate::analysis::footprint::script_footprint(&migration.up).creates {
            first_creator.entry(created).or_insert(i);
        }
    }
    let creator = units.units.iter().map(|unit| unit.creates.iter().filter_map(|r| first_creator.get(r).copied()).min()).collect();
    let needs = units.units.iter().map(|unit| unit.columns.iter().filter_map(|c| first_creator.get(c).copied()).collect()).collect();
    finish_unit_space(units, creator, needs)
}

/// `needs`: the migrations that add the columns each unit names (see [`UnitSpace::needs_migrations`]).
fn finish_unit_space(units: &ReferenceUnits, mut creator: Vec<Option<usize>>, needs: Vec<BTreeSet<usize>>) -> UnitSpace {
    for (u, unit) in units.units.iter().enumerate() {
        if creator[u].is_none() && unit.creates.is_empty() {
            creator[u] = unit.depends_on.iter().filter_map(|&d| creator[d]).max();
        }
    }
    // A unit that a migration creates needs nothing that migration itself adds.
    let needs_migrations: Vec<BTreeSet<usize>> = needs
        .into_iter()
        .zip(&creator)
        .map(|(mut needs, made_by)| {
            if let Some(m) = made_by {
                needs.remove(m);
            }
            needs
        })
        .collect();
    UnitSpace { creator, depends_on: units.units.iter().map(|u| u.depends_on.clone()).collect(), needs_migrations }
}

fn matches_ref(reference: &ObjectRef, kind: ObjectKind, name: &str) -> bool {
    let kind_matches = match reference.kind {
        RefKind::Relation => matches!(
            kind,
            ObjectKind::Table | ObjectKind::View | ObjectKind::MaterializedView | ObjectKind::Index | ObjectKind::Sequence
        ),
        RefKind::Type => kind == ObjectKind::Type,
        RefKind::Function => kind == ObjectKind::Function,
        RefKind::Constraint => kind == ObjectKind::Constraint,
        RefKind::Trigger => kind == ObjectKind::Trigger,
        RefKind::Policy => kind == ObjectKind::Policy,
        RefKind::Column => kind == ObjectKind::Column,
        RefKind::Schema => kind == ObjectKind::Schema,
        RefKind::Extension => kind == ObjectKind::Extension,
    };
    kind_matches && (name == reference.name || (reference.kind == RefKind::Function && name.starts_with(&format!("{}(", reference.name))))
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
enum StepKey {
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
fn step_keys(plan: &Plan) -> Vec<StepKey> {
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
struct WarmSlot {
    cases_per_transaction: u32,
    current: Option<Warm>,
    /// Times the warm database was recycled.
    recycled: u32,
}

impl WarmSlot {
    fn new(share_prefixes: bool) -> WarmSlot {
        let cases_per_transaction = if share_prefixes { CASES_PER_TRANSACTION } else { UNSHARED_CASES_PER_TRANSACTION };
        WarmSlot { cases_per_transaction, current: None, recycled: 0 }
    }

    /// Warm databases made: one, unless the worker ran no sandboxed case.
    fn databases(&self) -> u32 {
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
    async fn close(&mut self) -> Result<(), RunnerError> {
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
    prepare(&universe.prep, &mut conn).await?;
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

type SharedMap<V> = std::sync::Arc<std::sync::Mutex<HashMap<Plan, V>>>;

/// What the workers of one property share: the outcomes of the plans run so far, and the cases
/// the pre-runs counted.
#[derive(Default)]
struct SharedCases {
    memo: SharedMap<CaseOutcome>,
    prerun: SharedMap<u32>,
}

/// A lock that outlives a panicked holder (the maps stay consistent: each update is one insert).
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Counters shared by the workers of one property, for the progress bar.
#[derive(Default)]
struct SharedProgress {
    cases: std::sync::atomic::AtomicU64,
    failed: std::sync::atomic::AtomicU64,
}

/// Runs cases on one thread with a runtime of its own (proptest's runner is synchronous).
struct CaseRunner<'u> {
    universe: &'u Universe,
    runtime: tokio::runtime::Runtime,
    judge: Judge,
    warm: WarmSlot,
    share_prefixes: bool,
    /// Outcomes of the plans run so far, shared by the workers of a property.
    memo: SharedMap<CaseOutcome>,
    /// Cases the pre-run ran and counted, not yet seen by proptest (shared: one worker's pre-run
    /// may run another's cases).
    prerun: SharedMap<u32>,
    failures: HashMap<Plan, Failure>,
    warnings: BTreeMap<String, Difference>,
    start_states: HashSet<(BTreeSet<usize>, BTreeSet<usize>, Option<generate::Interruption>)>,
    orders: HashSet<Vec<usize>>,
    cases: u64,
    /// Wall time of cases that shared no prefix with an earlier one and were not memoized.
    unshared_case_times: Vec<std::time::Duration>,
    infrastructure: Option<RunnerError>,
    /// Cases whose start state could not be built, and the first reason.
    unbuildable: (u64, Option<String>),
    progress: Option<(ProgressSink, Property, u32, std::time::Instant, std::sync::Arc<SharedProgress>)>,
    cancel: tokio_util::sync::CancellationToken,
}

impl<'u> CaseRunner<'u> {
    fn new(universe: &'u Universe, share_prefixes: bool, shared: &SharedCases) -> Result<Self, RunnerError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| RunnerError::Runtime { purpose: "a case runtime", source })?;
        Ok(CaseRunner {
            universe,
            runtime,
            judge: Judge::default(),
            warm: WarmSlot::new(share_prefixes),
            share_prefixes,
            memo: shared.memo.clone(),
            prerun: shared.prerun.clone(),
            failures: HashMap::new(),
            warnings: BTreeMap::new(),
            start_states: HashSet::new(),
            orders: HashSet::new(),
            cases: 0,
            unshared_case_times: Vec::new(),
            infrastructure: None,
            unbuildable: (0, None),
            progress: None,
            cancel: tokio_util::sync::CancellationToken::new(),
        })
    }

    /// One case, as proptest sees it: a failure is `Fail`; an unbuildable start state passes
    /// here (it is counted, and makes the verdict incomplete: a reject would let proptest abort
    /// the whole run, losing what it found); a harness failure stops the run (recorded; every
    /// later case passes trivially).
    fn test(&mut self, plan: Plan, expected: &Catalog) -> Result<(), TestCaseError> {
        // A case the pre-run already ran and counted is only looked up.
        let counted = match lock(&self.prerun).get_mut(&plan) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        };
        let Some(outcome) = self.evaluate(&plan, expected, !counted) else { return Ok(()) };
        match outcome {
            CaseOutcome::Converged { warnings } => {
                for warning in warnings {
                    self.warnings.entry(warning.to_string()).or_insert(warning);
                }
                Ok(())
            }
            CaseOutcome::Failed(failure) => {
                let reason = summary_line(&failure);
                self.failures.insert(plan, failure);
                Err(TestCaseError::fail(reason))
            }
            CaseOutcome::Invalid(_) => Ok(()),
        }
    }

    /// Runs one case (or looks it up), counting it when `count`; `None` once the run has
    /// stopped (cancelled, or a harness failure, which is recorded).
    fn evaluate(&mut self, plan: &Plan, expected: &Catalog, count: bool) -> Option<CaseOutcome> {
        if self.cancel.is_cancelled() && self.infrastructure.is_none() {
            self.infrastructure = Some(RunnerError::Interrupted);
        }
        if self.infrastructure.is_some() {
            return None;
        }
        if count {
            self.cases += 1;
            self.start_states.insert((plan.applied.clone(), plan.preexisting.clone(), plan.interrupted.clone()));
            self.orders.insert(plan.order.clone());
        }
        let memoized = lock(&self.memo).get(plan).cloned();
        let outcome = match memoized {
            Some(outcome) => Ok(outcome),
            None => {
                let started = std::time::Instant::now();
                let universe = self.universe;
                let (judge, warm, share) = (&mut self.judge, &mut self.warm, self.share_prefixes);
                let result = self.runtime.block_on(run_case(universe, judge, warm, share, plan, expected));
                if let Ok((outcome, shared)) = &result {
                    if *shared == 0 {
                        self.unshared_case_times.push(started.elapsed());
                    }
                    lock(&self.memo).insert(plan.clone(), outcome.clone());
                }
                result.map(|(outcome, _)| outcome)
            }
        };
        match outcome {
            Ok(outcome) => {
                if count {
                    self.report_progress(matches!(outcome, CaseOutcome::Failed(_)));
                    if let CaseOutcome::Invalid(reason) = &outcome {
                        self.unbuildable.0 += 1;
                        self.unbuildable.1.get_or_insert_with(|| reason.clone());
                    }
                }
                Some(outcome)
            }
            Err(error) => {
                self.infrastructure = Some(error);
                None
            }
        }
    }

    /// Runs blocks of the cases the workers' proptest runners are about to generate, sorted so
    /// that neighbours share the longest prefixes (see [`presorted_blocks`]), taking the next
    /// block not yet taken until none is left. Proptest then finds each outcome memoized, in its
    /// own order, and shrinks and persists failures as usual. Stops at the first failure:
    /// proptest runs the rest itself.
    fn prerun(&mut self, blocks: &[Vec<Plan>], next_block: &std::sync::atomic::AtomicUsize, expected: &Catalog) {
        while let Some(block) = blocks.get(next_block.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
            for plan in block {
                *lock(&self.prerun).entry(plan.clone()).or_default() += 1;
                match self.evaluate(plan, expected, true) {
                    Some(CaseOutcome::Converged { .. }) | Some(CaseOutcome::Invalid(_)) => {}
                    _ => return,
                }
            }
        }
    }

    fn report_progress(&self, failed_now: bool) {
        if let Some((sink, property, target, started, shared)) = &self.progress {
            use std::sync::atomic::Ordering::Relaxed;
            let cases = shared.cases.fetch_add(1, Relaxed) + 1;
            let failed = shared.failed.fetch_add(u64::from(failed_now), Relaxed) + u64::from(failed_now);
            (sink.0)(&Progress { property: *property, cases, target: *target, failed, elapsed: started.elapsed(), finished: false });
        }
    }

    /// What the worker found, its warm database dropped.
    fn finish(mut self, outcome: Result<Option<(Plan, Failure)>, RunnerError>) -> WorkerResult {
        let result = WorkerResult {
            cases: self.cases,
            start_states: std::mem::take(&mut self.start_states),
            orders: std::mem::take(&mut self.orders),
            warnings: std::mem::take(&mut self.warnings),
            unshared_case_times: std::mem::take(&mut self.unshared_case_times),
            dump_times: std::mem::take(&mut self.judge.dump_times),
            warm_databases: self.warm.databases(),
            recycled: self.warm.recycled,
            unbuildable: std::mem::take(&mut self.unbuildable),
            outcome,
        };
        let _ = self.runtime.block_on(self.warm.close());
        result
    }
}

fn summary_line(failure: &Failure) -> String {
    match failure {
        Failure::StatementFailed { migration, location, error, .. } => format!("{migration} failed at {location}: {}", error.message),
        Failure::Diverged { differences, .. } => {
            differences.first().map_or_else(|| "diverged".to_string(), |d| format!("diverged: {d}"))
        }
    }
}

/// Runs one plan, and says how many steps it shared with the previous sandboxed case: in the
/// warm database inside the open transaction when every migration it touches allows that, else
/// in a scratch database of its own.
async fn run_case(
    universe: &Universe,
    judge_state: &mut Judge,
    slot: &mut WarmSlot,
    share_prefixes: bool,
    plan: &Plan,
    expected: &Catalog,
) -> Result<(CaseOutcome, usize), RunnerError> {
    let sandboxed = plan.interrupted.is_none()
        && plan.applied.iter().chain(plan.order.iter()).all(|&m| universe.sandbox_safe[m]);
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
            // The reference's own session settings (pg_dump sets search_path to '') must not
            // leak into the migrations: build the pre-existing objects over another connection.
            Step::Preexisting(_) => {
                let mut separate = database.connect().await?;
                let outcome = run_step(universe, &mut separate, &step, Some(database.name())).await;
                let _ = separate.close().await;
                outcome?
            }
            _ => run_step(universe, conn, &step, Some(database.name())).await?,
        };
        if let Some(outcome) = outcome {
            return Ok(outcome);
        }
    }
    judge(universe, judge_state, conn, expected).await
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
    match sqlx::raw_sql(AssertSqlSafe(batch)).execute(&mut *conn).await {
        Ok(_) => Ok(true),
        Err(error) => {
            // A server or connection fault is not the migration's doing.
            runner::classify(error, "run a step")?;
            Ok(false)
        }
    }
}

/// Runs one step; `Some` when it ends the case (a failure, or an unbuildable start state).
/// `isolated` names the case's own database, where migrations run through the executor;
/// `None` runs them in the sandbox's open transaction.
async fn run_step(universe: &Universe, conn: &mut PgConnection, step: &Step, isolated: Option<&str>) -> Result<Option<CaseOutcome>, RunnerError> {
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
            if let ApplyOutcome::Failed(f) = runner::apply_script(conn, &migration.up, mode(migration), None).await? {
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
                if let Err(error) = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await {
                    let error = runner::classify(error, "build the pre-existing state")?;
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
            let outcome = runner::apply_script(conn, &migration.up, TransactionMode::Autocommit, Some(interrupted.statements_done)).await?;
            if let ApplyOutcome::Failed(f) = outcome {
                return Ok(Some(CaseOutcome::Invalid(format!("the interrupted prefix of {} failed: {}", migration.id(), f.error.message))));
            }
        }
        Step::Pending(m) => {
            let migration = &migrations[*m];
            let failure = crate::engine::run_migration_script(conn, migration.id(), &migration.up, mode(migration)).await?;
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
struct Judge {
    canon: Canonicalizer,
    dump_times: Vec<std::time::Duration>,
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
        return Ok(CaseOutcome::Failed(Failure::Diverged { expected: "the reference".into(), differences, expected_text, found_text }));
    }
    Ok(CaseOutcome::Converged { warnings: differences })
}

/// Whether the property's regressions file holds a saved seed (a `cc <seed>` line).
fn has_saved_seeds(options: &ExploreOptions, property: Property) -> bool {
    regressions_file(options, property)
        .and_then(|path| std::fs::read_to_string(path).ok())
        .is_some_and(|text| text.lines().any(|line| line.starts_with("cc ")))
}

/// Blocks of cases per worker: small enough that the workers' loads even out (each takes the
/// next block when it is done with one), large enough that a block's cases share prefixes.
const BLOCKS_PER_WORKER: usize = 8;

/// The cases every worker's proptest runner will generate first (one per case it must pass),
/// pooled, sorted by their steps so that neighbours share the longest prefixes, and cut into
/// contiguous blocks that the workers take in turn: each runs a block in its own warm database,
/// and the sharing is nearly that of one sorted run however many workers there are.
fn presorted_blocks(universe: &Universe, property: Property, runners: &[TestRunner], worker_cases: &[u32]) -> Vec<Vec<Plan>> {
    let Some(strategy) = strategy(universe, property) else { return Vec::new() };
    let mut pooled: Vec<Plan> = Vec::new();
    for (runner, &cases) in runners.iter().zip(worker_cases) {
        // A clone: the worker's own runner must start from the same RNG state.
        pooled.extend(next_cases(&strategy, &mut runner.clone(), cases).unwrap_or_default());
    }
    pooled.sort_by_cached_key(step_keys);
    let blocks = if worker_cases.len() > 1 { worker_cases.len() * BLOCKS_PER_WORKER } else { 1 };
    pooled.chunks(pooled.len().div_ceil(blocks).max(1)).map(<[Plan]>::to_vec).collect()
}

/// The next `count` cases `runner` would generate in `TestRunner::run`, which before each case
/// replaces the runner's RNG with one seeded from it (`gen_get_seed`, crate-private; `new_rng`
/// is the same draw). `None` when the strategy gives up.
fn next_cases<S: Strategy>(strategy: &S, runner: &mut TestRunner, count: u32) -> Option<Vec<S::Value>> {
    (0..count)
        .map(|_| {
            let rng = runner.new_rng();
            *runner.rng() = rng;
            strategy.new_tree(runner).ok().map(|tree| tree.current())
        })
        .collect()
}

/// Persists new failures but loads none: the workers after the first save what they find,
/// and only the first replays the saved seeds.
#[derive(Debug, Clone, PartialEq)]
struct SaveOnly(FileFailurePersistence);

impl FailurePersistence for SaveOnly {
    fn load_persisted_failures2(&self, _source_file: Option<&'static str>) -> Vec<PersistedSeed> {
        Vec::new()
    }

    fn save_persisted_failure2(&mut self, source_file: Option<&'static str>, seed: PersistedSeed, value: &dyn std::fmt::Debug) {
        self.0.save_persisted_failure2(source_file, seed, value);
    }

    fn box_clone(&self) -> Box<dyn FailurePersistence> {
        Box::new(self.clone())
    }

    fn eq(&self, other: &dyn FailurePersistence) -> bool {
        other.as_any().downcast_ref::<SaveOnly>().is_some_and(|o| o == self)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn regressions_file(options: &ExploreOptions, property: Property) -> Option<PathBuf> {
    options.regressions.as_ref().map(|dir| dir.join(format!("pgconverge-{}.txt", property.name())))
}

/// The proptest configuration of one worker of one property.
fn config(options: &ExploreOptions, property: Property, worker: usize, cases: u32) -> Config {
    let mut config = Config::default(); // honours PROPTEST_CASES and the other PROPTEST_* settings
    config.cases = cases;
    config.max_shrink_iters = options.max_shrink_iters;
    config.failure_persistence = regressions_file(options, property).map(|path| {
        // proptest wants a 'static path; one small leak per property, worker and run.
        let path: &'static str = Box::leak(path.to_string_lossy().into_owned().into_boxed_str());
        let file = FileFailurePersistence::Direct(path);
        if worker == 0 {
            Box::new(file) as Box<dyn FailurePersistence>
        } else {
            Box::new(SaveOnly(file)) as Box<dyn FailurePersistence>
        }
    });
    config
}

/// Cases per generated property, before sharding: `--cases`, else proptest's default.
fn total_cases(options: &ExploreOptions) -> u32 {
    if options.replay_only {
        return 0;
    }
    let cases = options.cases.unwrap_or_else(|| Config::default().cases);
    match options.shard {
        Some(shard) => cases.div_ceil(shard.count),
        None => cases,
    }
}

/// The RNG of one worker of one property: from the base seed, the shard, the property and the
/// worker, so each explores its own deterministic stream.
fn rng(seed: u64, shard: Option<Shard>, property: Property, worker: usize) -> TestRng {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&u64::from(shard.map_or(0, |s| s.index)).to_le_bytes());
    bytes[16] = property as u8;
    bytes[17] = worker as u8;
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// A base seed when none was given.
pub fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    hasher.finish() >> 1
}

/// What one worker found.
struct WorkerResult {
    cases: u64,
    start_states: HashSet<(BTreeSet<usize>, BTreeSet<usize>, Option<generate::Interruption>)>,
    orders: HashSet<Vec<usize>>,
    warnings: BTreeMap<String, Difference>,
    unshared_case_times: Vec<std::time::Duration>,
    dump_times: Vec<std::time::Duration>,
    warm_databases: u32,
    recycled: u32,
    /// Cases whose start state could not be built, and the first reason.
    unbuildable: (u64, Option<String>),
    outcome: Result<Option<(Plan, Failure)>, RunnerError>,
}

impl WorkerResult {
    /// A worker that could not start.
    fn failed(error: RunnerError) -> WorkerResult {
        WorkerResult {
            cases: 0,
            start_states: HashSet::new(),
            orders: HashSet::new(),
            warnings: BTreeMap::new(),
            unshared_case_times: vec![],
            dump_times: vec![],
            warm_databases: 0,
            recycled: 0,
            unbuildable: (0, None),
            outcome: Err(error),
        }
    }
}

fn strategy(universe: &Universe, property: Property) -> Option<BoxedStrategy<Plan>> {
    match property {
        Property::Partial => Some(generate::partial_plans(universe.space.clone())),
        Property::Order => generate::order_plans(universe.space.clone()),
        Property::Interrupt => generate::interrupt_plans(universe.space.clone()),
        _ => None,
    }
}

/// Waits at the barrier when dropped, so a worker that returns early (or panics) still lets the
/// others past the end of the pre-runs.
struct ArriveOnDrop<'b>(&'b std::sync::Barrier);

impl Drop for ArriveOnDrop<'_> {
    fn drop(&mut self) {
        self.0.wait();
    }
}

/// Where a worker stands in its property's run.
struct WorkerContext<'c> {
    /// The worker's proptest runner (its configuration and its own RNG stream).
    test_runner: TestRunner,
    progress: std::sync::Arc<SharedProgress>,
    target: u32,
    cases_shared: &'c SharedCases,
    blocks: &'c [Vec<Plan>],
    next_block: &'c std::sync::atomic::AtomicUsize,
    prerun_done: &'c std::sync::Barrier,
}

fn run_worker(
    universe: &Universe,
    property: Property,
    options: &ExploreOptions,
    expected: &Catalog,
    context: WorkerContext<'_>,
) -> WorkerResult {
    let WorkerContext { mut test_runner, progress, target, cases_shared, blocks, next_block, prerun_done } = context;
    let arrival = ArriveOnDrop(prerun_done);
    let strategy = strategy(universe, property).expect("only generated properties reach a worker");
    let mut state = match CaseRunner::new(universe, options.share_prefixes, cases_shared) {
        Ok(state) => state,
        Err(error) => return WorkerResult::failed(error),
    };
    state.cancel = options.cancel.clone();
    state.progress = options.progress.clone().map(|sink| (sink, property, target, std::time::Instant::now(), progress));
    state.prerun(blocks, next_block, expected);
    // Every worker's slice is run before any proptest run starts looking outcomes up.
    drop(arrival);
    let case_runner = RefCell::new(state);
    let result = test_runner.run(&strategy, |plan| case_runner.borrow_mut().test(plan, expected));
    let mut state = case_runner.into_inner();
    let outcome = match (state.infrastructure.take(), result) {
        (Some(error), _) => Err(error),
        (None, Ok(())) => Ok(None),
        (None, Err(TestError::Fail(_, plan))) => {
            let failure = state.failures.get(&plan).cloned().expect("every failing plan is recorded");
            Ok(Some((plan, failure)))
        }
        (None, Err(TestError::Abort(reason))) => Err(RunnerError::PropertyAborted { property: property.to_string(), reason: reason.to_string() }),
    };
    state.finish(outcome)
}

/// The cases of a property for an executor that runs whole migrations only (the project's own
/// migrator, seconds a step): few enough to run them all, in this order, the simplest first:
/// each older version applied and the rest pending, then the whole reference pre-existing
/// with every migration pending.
fn exhaustive_plans(universe: &Universe) -> Vec<Plan> {
    let n = universe.migrations().len();
    let mut plans: Vec<Plan> = (0..n)
        .map(|applied| Plan { applied: (0..applied).collect(), preexisting: BTreeSet::new(), interrupted: None, order: (applied..n).collect() })
        .collect();
    if !universe.units.units.is_empty() {
        let everything = (0..universe.units.units.len()).collect();
        plans.push(Plan { applied: BTreeSet::new(), preexisting: everything, interrupted: None, order: (0..n).collect() });
    }
    plans
}

/// Runs every plan of [`exhaustive_plans`] on one worker; the first failure is the verdict's.
fn run_exhaustively(universe: &Universe, property: Property, options: &ExploreOptions, expected: &Catalog, progress: std::sync::Arc<SharedProgress>) -> WorkerResult {
    let plans = exhaustive_plans(universe);
    let mut state = match CaseRunner::new(universe, false, &SharedCases::default()) {
        Ok(state) => state,
        Err(error) => return WorkerResult::failed(error),
    };
    state.cancel = options.cancel.clone();
    state.progress = options.progress.clone().map(|sink| (sink, property, plans.len() as u32, std::time::Instant::now(), progress));
    let mut outcome = Ok(None);
    for plan in plans {
        match state.evaluate(&plan, expected, true) {
            Some(CaseOutcome::Failed(failure)) => {
                outcome = Ok(Some((plan, failure)));
                break;
            }
            Some(_) => {}
            None => break,
        }
    }
    let outcome = match state.infrastructure.take() {
        Some(error) => Err(error),
        None => outcome,
    };
    state.finish(outcome)
}

/// Runs one generated property to a verdict, on `options.jobs` workers in parallel, each with
/// its own warm database and its own slice of the cases.
pub fn explore(universe: &Universe, property: Property, options: &ExploreOptions) -> Result<Verdict, RunnerError> {
    let expected = match property {
        Property::Order => &universe.canonical,
        _ => &universe.reference,
    };
    if strategy(universe, property).is_none() {
        let why = match property {
            Property::Order if !universe.executor.runs_sql() => {
                "not applicable with runner = \"command\": the migrator's SQL is unknown, so dependencies between migrations cannot be inferred".into()
            }
            Property::Order => match universe.project.config.out_of_order {
                Some(false) => "not applicable: out_of_order = false (migrations run in version order only), so there is no other order".into(),
                _ => format!(
                    "not applicable: {} applies migrations in version order only, so there is no other order (out_of_order = true if yours does not)",
                    universe.project.migrations.format
                ),
            },
            _ => "no migration runs outside a transaction".into(),
        };
        return Ok(skipped(property, why));
    }
    let started = std::time::Instant::now();
    let exhaustive = !universe.executor.runs_sql();
    let total = if exhaustive { exhaustive_plans(universe).len() as u32 } else { total_cases(options) };
    let jobs = if exhaustive { 1 } else { options.jobs.max(1).min(total.max(1) as usize) };
    let shared = std::sync::Arc::new(SharedProgress::default());
    let seed = options.seed.unwrap_or_else(random_seed);
    // Split the cases evenly; the first workers take the remainder.
    let worker_cases: Vec<u32> = (0..jobs).map(|w| total / jobs as u32 + u32::from((w as u32) < total % jobs as u32)).collect();
    // Saved failures replay first, before any new case: with seeds saved, proptest goes first.
    let presort = !exhaustive && options.share_prefixes && !has_saved_seeds(options, property);
    let runners: Vec<TestRunner> = (0..jobs)
        .map(|worker| TestRunner::new_with_rng(config(options, property, worker, worker_cases[worker]), rng(seed, options.shard, property, worker)))
        .collect();
    let blocks = if presort { presorted_blocks(universe, property, &runners, &worker_cases) } else { Vec::new() };
    let next_block = std::sync::atomic::AtomicUsize::new(0);
    let cases_shared = SharedCases::default();
    let prerun_done = std::sync::Barrier::new(jobs);
    let results: Vec<WorkerResult> = if exhaustive {
        vec![run_exhaustively(universe, property, options, expected, shared.clone())]
    } else {
        std::thread::scope(|scope| {
        let handles: Vec<_> = runners
            .into_iter()
            .map(|test_runner| {
                let context = WorkerContext {
                    test_runner,
                    progress: shared.clone(),
                    target: total,
                    cases_shared: &cases_shared,
                    blocks: &blocks,
                    next_block: &next_block,
                    prerun_done: &prerun_done,
                };
                scope.spawn(move || run_worker(universe, property, options, expected, context))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a case worker panicked")).collect()
        })
    };
    if let Some(sink) = &options.progress {
        use std::sync::atomic::Ordering::Relaxed;
        (sink.0)(&Progress {
            property,
            cases: shared.cases.load(Relaxed),
            target: total,
            failed: shared.failed.load(Relaxed),
            elapsed: started.elapsed(),
            finished: true,
        });
    }
    let cases: u64 = results.iter().map(|r| r.cases).sum();
    let start_states: HashSet<_> = results.iter().flat_map(|r| r.start_states.iter().cloned()).collect();
    let orders: HashSet<_> = results.iter().flat_map(|r| r.orders.iter().cloned()).collect();
    let mut warnings: BTreeMap<String, Difference> = BTreeMap::new();
    let mut times: Vec<std::time::Duration> = Vec::new();
    let mut dump_times: Vec<std::time::Duration> = Vec::new();
    let mut warm_databases = 0;
    let mut recycled = 0;
    let mut first_failure = None;
    let mut first_error = None;
    let (mut unbuildable, mut unbuildable_reason) = (0, None);
    for result in results {
        warm_databases += result.warm_databases;
        recycled += result.recycled;
        warnings.extend(result.warnings);
        times.extend(result.unshared_case_times);
        dump_times.extend(result.dump_times);
        unbuildable += result.unbuildable.0;
        unbuildable_reason = unbuildable_reason.or(result.unbuildable.1);
        // The first worker's failure wins, so a seed gives one answer however the workers race.
        match result.outcome {
            Err(error) => first_error = first_error.or(Some(error)),
            Ok(Some(found)) if first_failure.is_none() => first_failure = Some(found),
            Ok(_) => {}
        }
    }
    // A counterexample one worker found stands even when another worker's server failed: an
    // infrastructure fault never hides a finding (and never is one).
    if let (Some(error), None) = (first_error, &first_failure) {
        return Err(error);
    }
    let median_ms = |mut times: Vec<std::time::Duration>| {
        times.sort();
        times.get(times.len() / 2).map(|d| d.as_secs_f64() * 1000.0)
    };
    let elapsed = started.elapsed();
    let judged = dump_times.len();
    let timing = Timing {
        elapsed_ms: elapsed.as_secs_f64() * 1000.0,
        amortized_ms: elapsed.as_secs_f64() * 1000.0 / cases.max(1) as f64,
        per_case_ms: median_ms(times),
        dump_ms: median_ms(dump_times),
        judged,
        warm_databases,
        recycled,
        jobs,
    };
    let warnings: Vec<Difference> = warnings.into_values().collect();
    let verdict = match first_failure {
        None if unbuildable > 0 => Verdict {
            property,
            status: VerdictStatus::Incomplete,
            summary: format!(
                "{}; {} of {cases} could not build their start state and proved nothing (first: {}); a dependency pgconverge does not see: declare it under [dependencies] in pgconverge.toml",
                coverage(property, cases - unbuildable, start_states.len(), orders.len()),
                plural(unbuildable as usize, "case"),
                unbuildable_reason.unwrap_or_default()
            ),
            cases,
            failure: None,
            case: None,
            timing: Some(timing),
            warnings,
        },
        None => Verdict {
            property,
            status: VerdictStatus::Pass,
            summary: coverage(property, cases, start_states.len(), orders.len()),
            cases,
            failure: None,
            case: None,
            timing: Some(timing),
            warnings,
        },
        Some((plan, failure)) => {
            let mut case = describe(universe, &plan, &failure);
            case.regressions = regressions_file(options, property);
            if universe.executor.runs_sql() {
                case.repro = write_repro(universe, property, &plan, &failure, options)?;
            }
            Verdict {
                property,
                status: VerdictStatus::Fail,
                summary: case.description.clone(),
                cases,
                failure: Some(failure),
                case: Some(case),
                timing: Some(timing),
                warnings,
            }
        }
    };
    Ok(verdict)
}

fn skipped(property: Property, summary: String) -> Verdict {
    Verdict { property, status: VerdictStatus::Skipped, summary, cases: 0, failure: None, case: None, timing: None, warnings: vec![] }
}

fn coverage(property: Property, cases: u64, start_states: usize, orders: usize) -> String {
    let cases = plural(cases as usize, "case");
    match property {
        Property::Partial => format!(
            "{cases} converged from {} (applied migrations and pre-existing objects)",
            plural(start_states, "distinct start state")
        ),
        Property::Order => format!("{cases} converged to the canonical catalog over {}", plural(orders, "distinct order")),
        _ => format!("{cases} converged after {}", plural(start_states, "distinct interruption")),
    }
}

/// The minimal case in words, with its parts named.
fn describe(universe: &Universe, plan: &Plan, failure: &Failure) -> CaseReport {
    let ids = |set: &mut dyn Iterator<Item = usize>| -> Vec<String> { set.map(|m| universe.id(m)).collect() };
    let applied = ids(&mut plan.applied.iter().copied());
    let order = ids(&mut plan.order.iter().copied());
    let preexisting: Vec<String> = plan.preexisting.iter().map(|&u| universe.units.units[u].label.clone()).collect();
    let interrupted = plan.interrupted.as_ref().map(|i| {
        let total = universe.migrations()[i.migration].up.statements.len();
        format!("{} stopped after {} of {} statements", universe.id(i.migration), i.statements_done, total)
    });
    let mut start = Vec::new();
    start.push(if applied.is_empty() { "nothing applied".to_string() } else { format!("applied: {}", list(&applied)) });
    if !preexisting.is_empty() {
        start.push(format!("with only {} pre-existing", list(&preexisting)));
    }
    if let Some(interrupted) = &interrupted {
        start.push(interrupted.clone());
    }
    let out_of_order: Vec<[String; 2]> =
        plan.out_of_order_pairs().iter().map(|&(early, late)| [universe.id(late), universe.id(early)]).collect();
    let swapped: Vec<String> = out_of_order.iter().take(3).map(|[late, early]| format!("{late} ran before {early}")).collect();
    if !swapped.is_empty() {
        start.push(swapped.join(", "));
    }
    let outcome = match failure {
        Failure::StatementFailed { migration, location, error, .. } => {
            format!("{migration} fails at {location}: {}", error.message)
        }
        Failure::Diverged { differences, .. } => {
            let more = if differences.len() > 1 { format!(" (and {} more)", differences.len() - 1) } else { String::new() };
            format!("the catalog differs: {}{more}", differences.first().map(|d| d.to_string()).unwrap_or_default())
        }
    };
    let hidden_dependency = hidden_dependency(universe, plan, failure);
    let mut description = format!("{}; {} pending: {outcome}", start.join("; "), order.len());
    if let Some(hidden) = &hidden_dependency {
        description.push_str(&format!(
            ". Hidden order dependency: {} needs {}. Declare it in pgconverge.toml ([dependencies] \"{}\" = [{}]) or make the migration robust to running first",
            hidden.migration,
            list(&hidden.needs),
            universe.migrations().iter().find(|m| m.id() == hidden.migration).map_or("", |m| m.version.as_str()),
            hidden
                .needs
                .iter()
                .filter_map(|id| universe.migrations().iter().find(|m| &m.id() == id))
                .map(|m| format!("\"{}\"", m.version))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    CaseReport {
        description,
        applied,
        preexisting,
        interrupted,
        order,
        out_of_order,
        hidden_dependency,
        regressions: None,
        repro: None,
    }
}

/// A statement failure in an order where the failing migration ran before migrations that
/// precede it canonically: those are what it silently needs.
fn hidden_dependency(universe: &Universe, plan: &Plan, failure: &Failure) -> Option<HiddenDependency> {
    let Failure::StatementFailed { migration, .. } = failure else { return None };
    let failed = (0..universe.migrations().len()).find(|&m| &universe.id(m) == migration)?;
    let position = plan.order.iter().position(|&m| m == failed)?;
    let needs: Vec<String> = plan.order[position + 1..].iter().filter(|&&m| m < failed).map(|&m| universe.id(m)).collect();
    (!needs.is_empty()).then(|| HiddenDependency { migration: migration.clone(), needs })
}

fn list(items: &[String]) -> String {
    const SHOWN: usize = 6;
    if items.len() <= SHOWN {
        items.join(", ")
    } else {
        format!("{} and {} more", items[..SHOWN].join(", "), items.len() - SHOWN)
    }
}

fn write_repro(
    universe: &Universe,
    property: Property,
    plan: &Plan,
    failure: &Failure,
    options: &ExploreOptions,
) -> Result<Option<PathBuf>, RunnerError> {
    let Some(dir) = &options.repro_dir else { return Ok(None) };
    let differences = match failure {
        Failure::Diverged { differences, .. } => differences.as_slice(),
        Failure::StatementFailed { .. } => &[],
    };
    let input = crate::engine::repro::ReproInput {
        title: format!("property {property} of {}", universe.project.dir.display()),
        migrations: universe.migrations(),
        plan,
        reference: universe.reference_script().map(|s| (s, universe.unit_statements(&plan.preexisting))),
        differences,
    };
    let text = crate::engine::repro::script(&input);
    std::fs::create_dir_all(dir).map_err(|source| RunnerError::File { action: "create", path: dir.to_path_buf(), source })?;
    let path = dir.join(format!("{}.sql", property.name()));
    std::fs::write(&path, text).map_err(|source| RunnerError::File { action: "write", path: path.clone(), source })?;
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::apply_migration;

    /// The edges pg_depend alone gives on a canonical run of `migrations`, step by step as
    /// [`Universe::build`] reads them (the catalog diff only says which migration created what).
    async fn catalog_only_edges(migrations: &[Migration]) -> StepLearner {
        let cluster = runner::EmbeddedCluster::start().await.expect("an embedded cluster");
        let database = ScratchDatabase::create(&cluster).await.expect("a scratch database");
        let mut conn = database.connect().await.expect("a connection");
        let (mut canon, ignore) = (Canonicalizer::new(), IgnoreRules::default());
        let mut learner = StepLearner::new(migrations.len());
        let mut previous = catalog::dump(&mut conn, &mut canon, &ignore).await.expect("a dump");
        let (existing, mut latest) = crate::analysis::deps::catalog_edges_since(&mut conn, i64::MAX).await.expect("pg_depend");
        let mut catalog_only = StepLearner::new(migrations.len());
        catalog_only.seen_edges.extend(existing);
        for (i, migration) in migrations.iter().enumerate() {
            assert!(apply_migration(&mut conn, migration).await.expect("runs").is_none(), "{}", migration.id());
            let current = catalog::dump(&mut conn, &mut canon, &ignore).await.expect("a dump");
            learner.learn(i, &previous, &current, migrations);
            catalog_only.creator.clone_from(&learner.creator);
            let (edges, now) = crate::analysis::deps::catalog_edges_since(&mut conn, latest).await.expect("pg_depend");
            catalog_only.learn_catalog_edges(i, &edges, migrations);
            (previous, latest) = (current, now);
        }
        drop(conn);
        database.drop_now().await.expect("dropped");
        catalog_only
    }

    /// The server's own record of dependencies (pg_depend), learned step by step on the
    /// canonical run of `fixtures/column_dependencies`: every object over an added column
    /// depends on the migration that added it, whatever the SQL says.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pg_depend_gives_column_dependencies_step_by_step() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/column_dependencies/migrations");
        let migrations = crate::migration::MigrationSet::load(&dir, None).expect("the fixture loads").migrations;
        let catalog_only = catalog_only_edges(&migrations).await;
        let index = |name: &str| migrations.iter().position(|m| m.name == name).unwrap_or(usize::MAX);
        let needs = |name: &str| -> Vec<&str> {
            catalog_only.graph.depends_on(index(name)).iter().map(|&j| migrations[j].name.as_str()).collect()
        };
        assert_eq!(needs("add_balance"), Vec::<&str>::new(), "a column of a table is no pg_depend entry");
        assert_eq!(needs("create_rich_accounts_view"), ["create_accounts", "add_balance"]);
        assert_eq!(needs("add_balance_cents"), ["add_balance"]);
        assert_eq!(needs("index_lower_email"), ["create_accounts", "add_balance", "add_email_and_owner"]);
        assert_eq!(needs("check_balance"), ["add_balance"]);
        assert_eq!(needs("touch_trigger"), ["create_accounts", "add_balance"]);
        assert_eq!(needs("owner_policy"), ["create_accounts", "add_email_and_owner"]);
        let reason = catalog_only.graph.reason(index("create_rich_accounts_view"), index("add_balance")).unwrap_or_default();
        assert!(
            reason.contains("depends on column public.accounts.balance, added by 20260401000002_add_balance"),
            "{reason}"
        );
    }

    /// A column added to an older table keeps the table's object ID, so its dependency on a type
    /// is found although no new object holds it; and each edge counts once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pg_depend_gives_the_type_of_a_column_added_later() {
        let sqls = [
            "CREATE TYPE mood AS ENUM ('ok');",
            "CREATE TABLE t (id int);",
            "ALTER TABLE t ADD COLUMN m mood;",
            "ALTER TABLE t ADD COLUMN n int;",
        ];
        let migrations: Vec<Migration> = sqls
            .iter()
            .enumerate()
            .map(|(i, sql)| Migration {
                version: (i + 1).to_string(),
                name: format!("m{}", i + 1),
                up: Script::parse(
                    std::path::Path::new(&format!("{}_m.sql", i + 1)),
                    sql.to_string(),
                    crate::migration::Span { start: 0, end: sql.len() },
                )
                .expect("valid SQL"),
                down: None,
                no_transaction: None,
                repeatable: false,
            })
            .collect();
        let catalog_only = catalog_only_edges(&migrations).await;
        let needs: Vec<Vec<usize>> = (0..4).map(|i| catalog_only.graph.depends_on(i).iter().copied().collect()).collect();
        assert_eq!(needs, [vec![], vec![], vec![0], vec![]]);
        assert_eq!(
            catalog_only.graph.reason(2, 0),
            Some("column m of table t (made by 3_m3) depends on public.mood, created by 1_m1")
        );
    }

    /// The pre-run only saves time if it runs the very cases proptest then generates: the
    /// replicated generation must give proptest's own sequence, case for case.
    #[test]
    fn pre_generated_cases_are_the_ones_proptest_runs() {
        let strategy = proptest::collection::vec(0..1000u32, 0..12);
        let config = Config { cases: 40, failure_persistence: None, ..Config::default() };
        let seeded = || TestRunner::new_with_rng(config.clone(), rng(7, None, Property::Order, 0));
        let predicted = next_cases(&strategy, &mut seeded(), 40).expect("vectors always generate");
        let seen = RefCell::new(Vec::new());
        seeded()
            .run(&strategy, |value| {
                seen.borrow_mut().push(value);
                Ok(())
            })
            .expect("every case passes");
        assert_eq!(seen.into_inner(), predicted);
        assert!(predicted.windows(2).any(|w| w[0] != w[1]), "the cases differ from each other");
    }

    /// Saved failures replay before new cases: a regressions file with a seed turns the
    /// pre-run off; one with only proptest's header comments does not.
    #[test]
    fn a_saved_seed_lets_proptest_go_first() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let options = ExploreOptions { regressions: Some(dir.path().to_path_buf()), ..ExploreOptions::default() };
        let file = regressions_file(&options, Property::Order).expect("a regressions directory gives a file");
        assert!(!has_saved_seeds(&options, Property::Order), "no file yet");
        std::fs::write(&file, "# Seeds for failure cases proptest has generated in the past.\n").expect("write");
        assert!(!has_saved_seeds(&options, Property::Order));
        std::fs::write(&file, "# header\ncc 0123abcd # shrinks to Plan { .. }\n").expect("write");
        assert!(has_saved_seeds(&options, Property::Order));
        assert!(!has_saved_seeds(&options, Property::Partial), "each property has its own file");
    }

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
