//! What the canonical run teaches, computed once per check: the dependencies between
//! migrations, which migration makes each reference unit, and which migrations may run in the
//! sandbox's one rolled-back transaction.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use sqlx::postgres::PgConnection;
use sqlx::Connection;

use crate::analysis::deps::DependencyGraph;
use crate::analysis::footprint::ObjectRef;
use crate::analysis::reference_units::{reference_units, ReferenceUnits};
use crate::catalog::{self, Canonicalizer, Catalog, IgnoreRules, Object, ObjectKind};
use crate::compare::CompareOptions;
use crate::engine::executor::{Executor, Target};
use crate::engine::prepare::{Preparation, Purpose};
use crate::generate::{Granularity, PlanSpace, UnitSpace};
use crate::migration::{Migration, Script};
use crate::project::Project;
use crate::runner::limits::CheckSessions;
use crate::runner::{RunnerError, ScratchDatabase, ServerHandle, SessionLimits};

/// Everything the generated properties share, computed once from a canonical run.
pub(crate) struct Universe {
    pub(super) project: Arc<Project>,
    /// The server, owned: the case runners take it to their threads.
    pub(super) backend: ServerHandle,
    /// The limits the sessions of `backend` run under: a statement that runs into one is the
    /// harness's error, naming the statement.
    pub(super) limits: SessionLimits,
    /// What runs a migration; only the SQL executor runs cases in the sandbox.
    pub(super) executor: Arc<dyn Executor>,
    pub(super) ignore: IgnoreRules,
    pub(super) compare: CompareOptions,
    /// The reference catalog (the canonical run's when there is no reference).
    pub(super) reference: Catalog,
    /// The canonical run's catalog.
    pub(super) canonical: Catalog,
    pub(super) units: ReferenceUnits,
    pub(crate) space: PlanSpace,
    /// Migrations that may run inside one big rolled-back transaction.
    pub(super) sandbox_safe: Vec<bool>,
    /// Extensions, setup files and ledger, run on every database before a case.
    pub(super) prep: Preparation,
    /// Why the SQL of a migrator pgconverge does not run itself is unknown (order then keeps
    /// the canonical order): a shell command's never is, a framework driver's may be unreadable.
    pub(super) unknown_sql: Option<String>,
}

impl Universe {
    /// Runs the canonical order once more, dumping after every migration, to learn what each
    /// migration creates (dependencies, and which reference units each one makes).
    pub(crate) async fn build(
        project: Arc<Project>,
        sessions: &CheckSessions,
        executor: Arc<dyn Executor>,
        reference: Option<&Catalog>,
        granularity: Granularity,
        ignore: IgnoreRules,
        prep: Preparation,
    ) -> Result<Universe, RunnerError> {
        let migrations = &project.migrations.migrations;
        let mut canon = Canonicalizer::new();
        let database = ScratchDatabase::create(&sessions.server).await?;
        let mut conn = database.connect().await?;
        prepare(&prep, &mut conn, &database).await?;
        let units = match &project.reference {
            Some(script) => reference_units(script),
            // A reference only the migrator can load (`db/schema.rb`) is one unit: all of it.
            None if executor.loads_schema() => ReferenceUnits {
                preamble: vec![],
                ledger: vec![],
                units: vec![crate::analysis::reference_units::ReferenceUnit::whole(project.reference_path())],
            },
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
        // The SQL the dependencies are inferred from: the migrations' own, or what the
        // framework's migration code sent on this run (the driver records it). Without either,
        // no order but the canonical one.
        let mut analysed = migrations.clone();
        let mut unknown_sql = None;
        for (i, migration) in migrations.iter().enumerate() {
            let ran = executor.up_recorded(Target { conn: &mut conn, database: database.name() }, migration).await?;
            if !executor.runs_sql() {
                match ran.sql.as_deref().map(|sql| recorded_script(&migration.up.path, sql)) {
                    Some(Ok(script)) => analysed[i].up = script,
                    Some(Err(error)) => {
                        let why = format!("the SQL {} sent does not split into statements ({error})", migration.id());
                        unknown_sql.get_or_insert(why);
                    }
                    // A shell command reports nothing.
                    None => {
                        unknown_sql.get_or_insert_with(|| UNKNOWN_SQL.to_string());
                    }
                }
            }
            if ran.failure.is_some() {
                return Err(RunnerError::NotRepeatable {
                    what: format!("the canonical run of {}", migration.id()),
                    detail: "it passed the fresh property moments ago; is the migration nondeterministic?".into(),
                });
            }
            if per_step || i + 1 == migrations.len() {
                let current = catalog::dump(&mut conn, &mut canon, &ignore).await?;
                if per_step {
                    learner.learn(i, &previous, &current, &analysed);
                    let (edges, latest) = crate::analysis::deps::catalog_edges_since(&mut conn, latest_oid).await?;
                    learner.learn_catalog_edges(i, &edges, &analysed);
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

        // No migration ran, so none reported its SQL.
        if !executor.runs_sql() && migrations.is_empty() {
            unknown_sql.get_or_insert_with(|| UNKNOWN_SQL.to_string());
        }
        let migrations = &analysed;
        let mut deps = crate::analysis::deps::infer_from_sql(migrations);
        deps.merge(&learner.graph);
        add_declared(&mut deps, &project);
        let unit_space = if per_step { unit_space(&units, &learner.added) } else { unit_space_from_sql(&units, migrations) };
        let canonical = previous;
        let space = PlanSpace {
            migrations: migrations.len(),
            deps,
            reentrant: project.reentrant.clone(),
            // Only pgconverge stops a migration part way, statement by statement.
            resumable: migrations
                .iter()
                .enumerate()
                .filter(|(_, m)| executor.runs_sql() && !m.runs_in_transaction())
                .map(|(i, m)| (i, m.up.statements.len()))
                .collect(),
            units: unit_space,
            granularity,
            // A migrator whose SQL is unknown (a shell command) runs in version order only: no
            // other order has inferred dependencies to respect.
            in_order_only: !project.runs_out_of_order() || unknown_sql.is_some(),
        };
        let sandbox_safe = migrations.iter().map(|m| executor.runs_sql() && sandbox_safe(m)).collect();
        Ok(Universe {
            compare: CompareOptions { strict_column_order: project.config.strict_column_order },
            backend: sessions.server.clone(),
            limits: sessions.limits,
            executor,
            ignore,
            reference: reference.cloned().unwrap_or_else(|| canonical.clone()),
            canonical,
            units,
            space,
            sandbox_safe,
            prep,
            unknown_sql,
            project,
        })
    }

    pub(super) fn migrations(&self) -> &[Migration] {
        &self.project.migrations.migrations
    }

    pub(super) fn id(&self, migration: usize) -> String {
        self.migrations()[migration].id()
    }

    /// The reference statements that build a set of units: the preamble, then in file order.
    pub(super) fn unit_statements(&self, units: &BTreeSet<usize>) -> Vec<usize> {
        if units.is_empty() {
            return vec![];
        }
        let mut statements: Vec<usize> = units.iter().flat_map(|&u| self.units.units[u].statements.iter().copied()).collect();
        statements.sort_unstable();
        statements.dedup();
        self.units.preamble.iter().copied().chain(statements).collect()
    }

    pub(super) fn reference_script(&self) -> Option<&Script> {
        self.project.reference.as_ref()
    }
}

/// Why order keeps the canonical order for a migrator that reports no SQL (a shell command).
const UNKNOWN_SQL: &str = "the migrator's SQL is unknown";

/// What a framework step sent, as a script named by the file it came from (the migration's, or
/// the schema file: the statements have no lines there).
pub(super) fn recorded_script(path: &std::path::Path, sql: &[String]) -> Result<Script, crate::migration::MigrationError> {
    let mut text = String::new();
    for statement in sql {
        text.push_str(statement.trim().trim_end_matches(';'));
        // A newline before the `;`: a statement may end in a `--` comment.
        text.push_str("\n;\n");
    }
    let span = crate::migration::Span { start: 0, end: text.len() };
    Script::parse(path, text, span)
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
pub(super) async fn prepare(prep: &Preparation, conn: &mut PgConnection, database: &ScratchDatabase) -> Result<(), RunnerError> {
    match prep.apply(conn, Purpose::Migrations, Some(database)).await? {
        None => Ok(()),
        Some(failure) => {
            Err(RunnerError::NotRepeatable { what: "the setup files".into(), detail: format!("{}: {}", failure.location, failure.error) })
        }
    }
}

/// `[dependencies]` in pgconverge.toml: `"<version>" = ["<version>", ...]`; and what the
/// framework declares (Alembic's revision graph).
fn add_declared(deps: &mut DependencyGraph, project: &Project) {
    let migrations = &project.migrations.migrations;
    let index = |v: &str| migrations.iter().position(|m| m.version == v || m.id() == v);
    for (dependent, dependency, why) in project.framework.iter().flat_map(|f| &f.declared) {
        if let (Some(d), Some(t)) = (index(dependent), index(dependency)) {
            deps.add(d, t, why.clone());
        }
    }
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
pub(crate) const CATALOG_STEP_LIMIT: usize = 400;

/// What the canonical run teaches, one step at a time, keeping only what it needs: migration i
/// depends on j when an object i added or changed belongs to, or names, an object j created,
/// or when the server recorded (pg_depend) that an object i created needs a relation, column,
/// type or function j created; and which migration added each object.
pub(crate) struct StepLearner {
    pub(crate) graph: DependencyGraph,
    creator: HashMap<String, usize>,
    /// Objects each migration added: (migration, kind, name).
    pub(crate) added: Vec<(usize, ObjectKind, String)>,
    qualified: regex::Regex,
    /// The pg_depend edges seen so far (see [`crate::analysis::deps::catalog_edges_since`]).
    seen_edges: HashSet<crate::analysis::deps::CatalogEdge>,
    /// The latest step that removed each object (by name, without a function's arguments).
    removed_by: HashMap<String, usize>,
    /// The steps after which something no longer depended on an object (by name).
    released_by: HashMap<String, Vec<usize>>,
}

impl StepLearner {
    pub(crate) fn new(migrations: usize) -> StepLearner {
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

    pub(crate) fn learn(&mut self, i: usize, before: &Catalog, after: &Catalog, migrations: &[Migration]) {
        let before_map: HashMap<_, _> = before.objects.iter().map(|o| (object_key(o), o)).collect();
        let touched: Vec<&Object> = after.objects.iter().filter(|o| before_map.get(&object_key(o)).is_none_or(|b| *b != *o)).collect();
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
                let reason =
                    format!("{} {} (made again by {}) was removed by {}", object.kind, object.name, migrations[i].id(), migrations[j].id());
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
                let reason =
                    format!("{} {} (removed by {}) was created by {}", gone.kind, gone.name, migrations[i].id(), migrations[j].id());
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
    pub(crate) fn learn_released(
        &mut self,
        i: usize,
        before: &HashSet<crate::analysis::deps::LiveEdge>,
        after: &HashSet<crate::analysis::deps::LiveEdge>,
    ) {
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
                let reason = format!("{} (made by {}) depends on {what} {}", edge.dependent, migrations[i].id(), migrations[j].id());
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
            unit.creates.iter().filter_map(|r| added.iter().find(|(_, kind, name)| r.denotes(*kind, name)).map(|(m, _, _)| *m)).min()
        })
        .collect();
    let column_adder: HashMap<&str, usize> =
        added.iter().rev().filter(|(_, kind, _)| *kind == ObjectKind::Column).map(|(m, _, name)| (name.as_str(), *m)).collect();
    let needs =
        units.units.iter().map(|unit| unit.columns.iter().filter_map(|c| column_adder.get(c.name.as_str()).copied()).collect()).collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::executor::apply_migration;
    use crate::runner;

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
            assert!(
                apply_migration(&mut conn, migration, &runner::SessionLimits::NONE).await.expect("runs").is_none(),
                "{}",
                migration.id()
            );
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
        let needs =
            |name: &str| -> Vec<&str> { catalog_only.graph.depends_on(index(name)).iter().map(|&j| migrations[j].name.as_str()).collect() };
        assert_eq!(needs("add_balance"), Vec::<&str>::new(), "a column of a table is no pg_depend entry");
        assert_eq!(needs("create_rich_accounts_view"), ["create_accounts", "add_balance"]);
        assert_eq!(needs("add_balance_cents"), ["add_balance"]);
        assert_eq!(needs("index_lower_email"), ["create_accounts", "add_balance", "add_email_and_owner"]);
        assert_eq!(needs("check_balance"), ["add_balance"]);
        assert_eq!(needs("touch_trigger"), ["create_accounts", "add_balance"]);
        assert_eq!(needs("owner_policy"), ["create_accounts", "add_email_and_owner"]);
        let reason = catalog_only.graph.reason(index("create_rich_accounts_view"), index("add_balance")).unwrap_or_default();
        assert!(reason.contains("depends on column public.accounts.balance, added by 20260401000002_add_balance"), "{reason}");
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
        assert_eq!(catalog_only.graph.reason(2, 0), Some("column m of table t (made by 3_m3) depends on public.mood, created by 1_m1"));
    }
}
