//! Dependencies between migrations: which migrations must run before which.
//!
//! A [`DependencyGraph`] has one node per migration (indices in canonical order). Edges are
//! inferred from the SQL ([`infer_from_sql`], through [`crate::analysis::footprint`]) and may be merged
//! with edges found elsewhere (the catalog, declarations in the config).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use serde::Serialize;

use crate::analysis::footprint::{analyze_script, Footprint, ObjectRef, RefKind, ScriptAnalysis};
use crate::migration::Migration;

/// Which migrations depend on which, with a readable reason per edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DependencyGraph {
    /// `depends_on[i]`: the migrations `i` needs (inferred edges always point to `j < i`).
    depends_on: Vec<BTreeSet<usize>>,
    /// `reasons[i][j]`: why `i` depends on `j` (the first reason given).
    reasons: Vec<BTreeMap<usize, String>>,
}

impl DependencyGraph {
    pub(crate) fn new(n: usize) -> Self {
        DependencyGraph { depends_on: vec![BTreeSet::new(); n], reasons: vec![BTreeMap::new(); n] }
    }

    pub(crate) fn len(&self) -> usize {
        self.depends_on.len()
    }

    /// Records that `dependent` needs `dependency`. Self-edges are ignored; the first reason
    /// given for an edge is kept.
    pub(crate) fn add(&mut self, dependent: usize, dependency: usize, reason: String) {
        if dependent == dependency {
            return;
        }
        self.depends_on[dependent].insert(dependency);
        self.reasons[dependent].entry(dependency).or_insert(reason);
    }

    pub(crate) fn depends_on(&self, i: usize) -> &BTreeSet<usize> {
        &self.depends_on[i]
    }

    #[cfg(test)]
    pub(crate) fn reason(&self, dependent: usize, dependency: usize) -> Option<&str> {
        self.reasons.get(dependent)?.get(&dependency).map(String::as_str)
    }

    /// `set` plus everything it transitively depends on.
    pub(crate) fn dependency_closure(&self, set: &BTreeSet<usize>) -> BTreeSet<usize> {
        let mut closure = set.clone();
        let mut todo: Vec<usize> = set.iter().copied().collect();
        while let Some(node) = todo.pop() {
            for &dependency in &self.depends_on[node] {
                if closure.insert(dependency) {
                    todo.push(dependency);
                }
            }
        }
        closure
    }

    /// Whether every node of `order` comes after the nodes it depends on that are also in
    /// `order` (dependencies outside `order` are taken as already applied).
    #[cfg(test)]
    pub(crate) fn respects(&self, order: &[usize]) -> bool {
        let position: HashMap<usize, usize> = order.iter().enumerate().map(|(p, &node)| (node, p)).collect();
        order.iter().enumerate().all(|(p, &node)| self.depends_on[node].iter().all(|d| position.get(d).is_none_or(|&dp| dp < p)))
    }

    /// Kahn's algorithm over `nodes`: among the nodes whose dependencies inside `nodes` are done,
    /// pick the smallest (priority[node], node). All-zero priorities give canonical order.
    /// A missing priority counts as 0. If declared edges form a cycle, the nodes left on it
    /// follow in (priority, node) order, so every node is still returned once.
    pub(crate) fn topological_order(&self, nodes: &BTreeSet<usize>, priority: &[u32]) -> Vec<usize> {
        let key = |node: usize| Reverse((priority.get(node).copied().unwrap_or(0), node));
        let mut waiting_on: BTreeMap<usize, usize> =
            nodes.iter().map(|&n| (n, self.depends_on[n].iter().filter(|d| nodes.contains(d)).count())).collect();
        let mut dependents: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for &n in nodes {
            for d in self.depends_on[n].iter().filter(|d| nodes.contains(d)) {
                dependents.entry(*d).or_default().push(n);
            }
        }
        let mut ready: BinaryHeap<_> = waiting_on.iter().filter(|(_, &w)| w == 0).map(|(&n, _)| key(n)).collect();
        let mut order = Vec::with_capacity(nodes.len());
        while order.len() < nodes.len() {
            let Some(Reverse((_, node))) = ready.pop() else {
                // A cycle: release the best remaining node to keep going.
                let stuck = waiting_on.iter().filter(|(_, &w)| w > 0).map(|(&n, _)| key(n)).max();
                let Some(Reverse((_, node))) = stuck else { break };
                waiting_on.insert(node, 0);
                ready.push(key(node));
                continue;
            };
            if waiting_on.remove(&node).is_none() {
                continue;
            }
            order.push(node);
            for &dependent in dependents.get(&node).into_iter().flatten() {
                if let Some(w) = waiting_on.get_mut(&dependent) {
                    if *w > 0 {
                        *w -= 1;
                        if *w == 0 {
                            ready.push(key(dependent));
                        }
                    }
                }
            }
        }
        order
    }

    /// Adds every edge of `other` (keeping this graph's reason where both have the edge).
    pub(crate) fn merge(&mut self, other: &DependencyGraph) {
        if other.len() > self.len() {
            self.depends_on.resize(other.len(), BTreeSet::new());
            self.reasons.resize(other.len(), BTreeMap::new());
        }
        for (dependent, reasons) in other.reasons.iter().enumerate() {
            for (&dependency, reason) in reasons {
                self.add(dependent, dependency, reason.clone());
            }
        }
    }
}

/// B depends on A (A before B in canonical order) when B references, alters or drops something
/// that A created (the latest creator before B). Columns count as objects: a view, index,
/// check, trigger, policy, function body or data statement that names a column depends on the
/// migration that added it. Two more rules keep reorderings runnable: a migration that drops or
/// renames an object (RENAME, SET SCHEMA) depends on the earlier migrations that used or altered
/// it under that name since it was created, and one that creates an object depends on the
/// migration that dropped or renamed it before. The new name of a rename is created by it, so
/// its later users depend on the rename. Two migrations that only alter the same object do not
/// depend on each other.
pub(crate) fn infer_from_sql(migrations: &[Migration]) -> DependencyGraph {
    let mut graph = DependencyGraph::new(migrations.len());
    let mut history = History::default();
    for (i, migration) in migrations.iter().enumerate() {
        let analysis = analyze_script(&migration.up);
        let footprint = analysis.footprint();
        for (object, verb) in footprint
            .references
            .iter()
            .map(|o| (o, "references"))
            .chain(footprint.alters.iter().map(|o| (o, "alters")))
            .chain(footprint.drops.iter().map(|o| (o, if footprint.renamed.contains(o) { "renames" } else { "drops" })))
        {
            if let Some(&j) = history.creator.get(object) {
                let (noun, name) = (history.noun(object), &object.name);
                graph.add(i, j, format!("{verb} {noun} {name} created by {}", migrations[j].id()));
            }
        }
        for object in &footprint.drops {
            let verb = if footprint.renamed.contains(object) { "renames" } else { "drops" };
            for &j in history.users.get(object).into_iter().flatten() {
                let (noun, name) = (history.noun(object), &object.name);
                graph.add(i, j, format!("{verb} {noun} {name} used by {}", migrations[j].id()));
            }
        }
        for object in &footprint.creates {
            if let Some(&(j, renamed)) = history.dropper.get(object) {
                let (noun, name) = (history.noun(object), &object.name);
                let verb = if renamed { "renamed away" } else { "dropped" };
                graph.add(i, j, format!("recreates {noun} {name} {verb} by {}", migrations[j].id()));
            }
            // CREATE OR REPLACE, or CREATE ... IF NOT EXISTS, of what an earlier migration made
            // (and nobody dropped since): the later definition supersedes the earlier one, so
            // the other order leaves the earlier one in place (or fails).
            if let Some(j) = history.live_creator(object) {
                let (noun, name) = (history.noun(object), &object.name);
                graph.add(i, j, format!("redefines {noun} {name} created by {}", migrations[j].id()));
            }
        }
        // A column one migration changed (its type, default, nullability) is what later users
        // and later changes of that column build on: ALTER COLUMN TYPE after DROP DEFAULT, a
        // view over a column whose type an earlier migration changed. Two ADD COLUMNs on one
        // table still commute: adding a column is not changing one.
        for object in footprint.references.iter().chain(&footprint.alters).filter(|o| o.kind == RefKind::Column) {
            if let Some(&j) = history.column_changer.get(object) {
                graph.add(i, j, format!("uses column {} changed by {}", object.name, migrations[j].id()));
            }
        }
        history.record(i, &footprint, &analysis);
    }
    graph
}

/// The `pg_depend` rows with what they reference joined by kind (relation and column, type,
/// function): the FROM part both dependency queries share.
macro_rules! user_object_dependencies {
    () => {
        "FROM pg_catalog.pg_depend d \
         LEFT JOIN pg_catalog.pg_class rc ON d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND rc.oid = d.refobjid \
         LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace \
         LEFT JOIN pg_catalog.pg_attribute ra ON d.refobjsubid > 0 AND ra.attrelid = rc.oid AND ra.attnum = d.refobjsubid \
         LEFT JOIN pg_catalog.pg_type rt ON d.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass AND rt.oid = d.refobjid \
         LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = rt.typnamespace \
         LEFT JOIN pg_catalog.pg_proc rp ON d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND rp.oid = d.refobjid \
         LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = rp.pronamespace "
    };
}

/// Normal and automatic dependencies on user relations, columns, types and functions: the
/// conditions both dependency queries share, after their own first WHERE condition.
macro_rules! user_object_dependency_filter {
    () => {
        "AND d.refobjid >= 16384 AND d.deptype IN ('n', 'a') \
         AND d.refclassid IN ('pg_catalog.pg_class'::pg_catalog.regclass, 'pg_catalog.pg_type'::pg_catalog.regclass, \
                              'pg_catalog.pg_proc'::pg_catalog.regclass) \
         AND COALESCE(rn.nspname, tn.nspname, pn.nspname) NOT IN ('pg_catalog', 'information_schema') \
         AND COALESCE(rn.nspname, tn.nspname, pn.nspname) !~ '^pg_(toast|temp_|toast_temp_)'"
    };
}

/// A dependency the server recorded in `pg_depend`: `dependent` (as `pg_describe_object` says
/// it: "rule _RETURN on view v", "index i", "default value for column c of table t") needs
/// `referenced`, named the way [`crate::catalog`] names objects: `schema.table.column` for a
/// column, `schema.name` for a relation, type or function (without arguments).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CatalogEdge {
    pub(crate) dependent: String,
    pub(crate) referenced: String,
    /// The relation of a referenced column (`schema.table`), when the reference is a column.
    pub(crate) relation: Option<String>,
}

/// The `pg_depend` rows of objects newer than `after_oid`, and of every table column, that point
/// at user relations, columns, types and functions. Normal and automatic dependencies only:
/// internal ones bind objects made together (a view and its rule, a table and its row type).
/// Object IDs grow monotonically in a cluster (until they wrap after 4 billion), so the objects
/// a migration creates have IDs above every one that existed before it, and `after_oid` = the
/// largest before the migration picks its new dependencies; a column added to an older table
/// has that table's ID, so columns (few rows: only types that are not built in) always come and
/// the caller keeps the ones it has seen. Every name is schema-qualified: a migration may have
/// moved search_path.
const NEW_DEPENDENCIES: &str = concat!(
    "SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid), \
            COALESCE(rn.nspname || '.' || rc.relname, tn.nspname || '.' || rt.typname, pn.nspname || '.' || rp.proname), \
            ra.attname::text ",
    user_object_dependencies!(),
    "WHERE (d.objid::pg_catalog.int8 > $1 OR (d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid > 0)) ",
    user_object_dependency_filter!()
);

/// Every normal or automatic `pg_depend` row from one object to a user relation, column, type or
/// function: the dependent as (classid, objid, objsubid), the referenced object by name (a
/// column as `schema.table.column`). What vanishes between two steps is what the step stopped
/// using (see [`live_edges`]).
const LIVE_DEPENDENCIES: &str = concat!(
    "SELECT d.classid::pg_catalog.int8, d.objid::pg_catalog.int8, d.objsubid, \
            COALESCE(rn.nspname || '.' || rc.relname || COALESCE('.' || ra.attname, ''), tn.nspname || '.' || rt.typname, pn.nspname || '.' || rp.proname) ",
    user_object_dependencies!(),
    "WHERE d.objid >= 16384 ",
    user_object_dependency_filter!()
);

/// A live `pg_depend` row: the dependent object's (classid, objid, objsubid), and the name of
/// what it needs.
pub(crate) type LiveEdge = ((i64, i64, i32), String);

/// Every live dependency on a user object (see [`LIVE_DEPENDENCIES`]).
pub(crate) async fn live_edges(
    conn: &mut sqlx::postgres::PgConnection,
) -> Result<std::collections::HashSet<LiveEdge>, crate::runner::RunnerError> {
    let rows: Vec<(i64, i64, i32, Option<String>)> =
        sqlx::query_as(LIVE_DEPENDENCIES).fetch_all(&mut *conn).await.map_err(|e| crate::runner::RunnerError::db("read pg_depend", e))?;
    Ok(rows.into_iter().filter_map(|(class, object, sub, referenced)| Some(((class, object, sub), referenced?))).collect())
}

/// The largest object ID `pg_depend` holds as a dependent (0 on an empty table).
const LATEST_DEPENDENT: &str = "SELECT COALESCE(pg_catalog.max(objid::pg_catalog.int8), 0) FROM pg_catalog.pg_depend";

/// The dependencies recorded for objects created since `after_oid` (see [`NEW_DEPENDENCIES`]),
/// and the largest dependent object ID now, for the next call.
pub(crate) async fn catalog_edges_since(
    conn: &mut sqlx::postgres::PgConnection,
    after_oid: i64,
) -> Result<(Vec<CatalogEdge>, i64), crate::runner::RunnerError> {
    use crate::runner::RunnerError;
    let rows: Vec<(Option<String>, Option<String>, Option<String>)> =
        sqlx::query_as(NEW_DEPENDENCIES).bind(after_oid).fetch_all(&mut *conn).await.map_err(|e| RunnerError::db("read pg_depend", e))?;
    let latest: i64 = sqlx::query_scalar(LATEST_DEPENDENT).fetch_one(&mut *conn).await.map_err(|e| RunnerError::db("read pg_depend", e))?;
    let edges = rows
        .into_iter()
        .filter_map(|(dependent, referenced, column)| {
            let (dependent, referenced) = (dependent?, referenced?);
            Some(match column {
                Some(column) => CatalogEdge { dependent, referenced: format!("{referenced}.{column}"), relation: Some(referenced) },
                None => CatalogEdge { dependent, referenced, relation: None },
            })
        })
        .collect();
    Ok((edges, latest))
}

/// What the migrations so far did to each object.
#[derive(Default)]
struct History {
    /// The latest migration that created each object.
    creator: HashMap<ObjectRef, usize>,
    /// The migrations that referenced or altered each object since it was last created.
    users: HashMap<ObjectRef, Vec<usize>>,
    /// The latest migration that dropped (or renamed away) each object, and whether it renamed.
    dropper: HashMap<ObjectRef, (usize, bool)>,
    /// How to call each created object in a reason ("table", "index", ...).
    nouns: HashMap<ObjectRef, &'static str>,
    /// The latest migration that altered each column (ALTER COLUMN ...).
    column_changer: HashMap<ObjectRef, usize>,
}

impl History {
    fn record(&mut self, i: usize, footprint: &Footprint, analysis: &ScriptAnalysis) {
        for object in footprint.references.iter().chain(&footprint.alters) {
            self.users.entry(object.clone()).or_default().push(i);
        }
        for object in footprint.alters.iter().filter(|o| o.kind == RefKind::Column) {
            self.column_changer.insert(object.clone(), i);
        }
        for object in &footprint.drops {
            self.dropper.insert(object.clone(), (i, footprint.renamed.contains(object)));
            self.users.remove(object);
            self.column_changer.remove(object);
            if object.kind == RefKind::Relation {
                self.column_changer.retain(|column, _| column.table().as_deref() != Some(object.name.as_str()));
            }
        }
        for object in &footprint.creates {
            self.creator.insert(object.clone(), i);
            self.users.remove(object);
            self.column_changer.remove(object);
            self.nouns.insert(object.clone(), analysis.noun(object));
        }
    }

    /// The latest migration that created `object`, unless it was dropped (or renamed away)
    /// since, nor its table (a column, constraint, trigger or policy goes with its table).
    fn live_creator(&self, object: &ObjectRef) -> Option<usize> {
        let created = *self.creator.get(object)?;
        let table = object.table().filter(|_| object.kind != RefKind::Relation).map(|t| ObjectRef::new(RefKind::Relation, t));
        let gone = [Some(object), table.as_ref()]
            .into_iter()
            .flatten()
            .any(|o| self.dropper.get(o).is_some_and(|&(dropped, _)| dropped >= created));
        (!gone).then_some(created)
    }

    fn noun(&self, object: &ObjectRef) -> &'static str {
        self.nouns.get(object).copied().unwrap_or_else(|| object.kind.noun())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::migration::{MigrationSet, Script, Span};

    fn migration(version: &str, name: &str, sql: &str) -> Migration {
        let up = Script::parse(Path::new(&format!("{version}_{name}.sql")), sql.to_string(), Span { start: 0, end: sql.len() })
            .expect("valid SQL");
        Migration { version: version.into(), name: name.into(), up, down: None, no_transaction: None, repeatable: false }
    }

    fn migrations(sqls: &[&str]) -> Vec<Migration> {
        sqls.iter().enumerate().map(|(i, sql)| migration(&(i + 1).to_string(), &format!("m{}", i + 1), sql)).collect()
    }

    fn edges(graph: &DependencyGraph) -> Vec<Vec<usize>> {
        (0..graph.len()).map(|i| graph.depends_on(i).iter().copied().collect()).collect()
    }

    fn k12() -> Vec<Migration> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/k12_lms/migrations");
        MigrationSet::load(&dir, None).expect("the k12 fixture loads").migrations
    }

    #[test]
    fn foreign_keys_chain_migrations() {
        let set = vec![
            migration("20260105090000", "create_tenants", "CREATE TABLE tenants (id bigint PRIMARY KEY);"),
            migration("20260112103000", "create_users", "CREATE TABLE users (id bigserial PRIMARY KEY, tenant_id bigint REFERENCES tenants (id));"),
            migration("20260120141500", "create_courses", "CREATE TABLE courses (id bigserial PRIMARY KEY, teacher_id bigint);\nALTER TABLE courses ADD FOREIGN KEY (teacher_id) REFERENCES users;"),
        ];
        let graph = infer_from_sql(&set);
        assert_eq!(edges(&graph), [vec![], vec![0], vec![1]]);
        assert_eq!(graph.reason(1, 0), Some("references table public.tenants created by 20260105090000_create_tenants"));
        assert_eq!(graph.reason(2, 1), Some("references table public.users created by 20260112103000_create_users"));
        assert_eq!(graph.dependency_closure(&[2].into()), [0, 1, 2].into());
    }

    #[test]
    fn k12_dependencies_follow_the_foreign_keys() {
        let set = k12();
        let id = |i: usize| set[i].id();
        let index = |name: &str| set.iter().position(|m| m.name == name).unwrap_or_else(|| panic!("{name}"));
        let graph = infer_from_sql(&set);
        let invocations = index("create_ai_invocations");
        let expected: BTreeSet<usize> =
            ["create_tenants", "create_users", "create_ai_provider_configs", "create_ai_task_policies", "create_ai_templates"]
                .map(index)
                .into();
        assert_eq!(graph.depends_on(invocations), &expected, "{:?}", edges(&graph));
        let links = index("create_lti_resource_links");
        assert!(graph.depends_on(links).contains(&index("create_lti_registrations")));
        assert!(graph.depends_on(links).contains(&index("create_courses")));
        assert_eq!(graph.depends_on(links), &["create_tenants", "create_courses", "create_lti_registrations"].map(index).into());
        assert_eq!(
            graph.reason(invocations, index("create_ai_templates")),
            Some(format!("references table public.ai_templates created by {}", id(index("create_ai_templates"))).as_str())
        );
        let all: BTreeSet<usize> = (0..set.len()).collect();
        assert_eq!(graph.topological_order(&all, &[0; 10]), (0..set.len()).collect::<Vec<_>>());
    }

    #[test]
    fn migrations_that_only_alter_the_same_object_are_independent() {
        let graph = infer_from_sql(&migrations(&[
            "CREATE TABLE users (id int);\nCREATE TYPE mood AS ENUM ('ok');",
            "ALTER TABLE users ADD COLUMN a int;",
            "ALTER TABLE users ADD COLUMN b int;",
            "ALTER TYPE mood ADD VALUE 'happy';",
            "ALTER TYPE mood ADD VALUE 'sad';",
            "CREATE INDEX users_b ON users (b);",
        ]));
        assert_eq!(edges(&graph), [vec![], vec![0], vec![0], vec![0], vec![0], vec![0, 2]]);
        assert_eq!(graph.reason(5, 2), Some("references column public.users.b created by 3_m3"));
    }

    #[test]
    fn a_do_block_creates_what_it_runs() {
        let graph = infer_from_sql(&migrations(&[
            "DO $$ BEGIN IF to_regclass('public.t') IS NULL THEN CREATE TABLE t (id int PRIMARY KEY); END IF; END $$;",
            "CREATE TABLE u (t_id int REFERENCES t);",
        ]));
        assert_eq!(edges(&graph), [vec![], vec![0]]);
    }

    #[test]
    fn an_execute_of_a_concatenated_string_is_dynamic() {
        let set = migrations(&["DO $$ DECLARE t text := 'x'; BEGIN EXECUTE 'CREATE TABLE ' || t || ' (id int)'; END $$;"]);
        assert!(crate::analysis::footprint::script_footprint(&set[0].up).dynamic_sql);
        assert!(!crate::analysis::footprint::script_footprint(&migrations(&["CREATE TABLE x (id int);"])[0].up).dynamic_sql);
    }

    #[test]
    fn drops_come_after_every_use_and_recreation_after_the_drop() {
        let graph = infer_from_sql(&migrations(&[
            "CREATE TABLE t (id int);",
            "ALTER TABLE t ADD COLUMN a int;",
            "CREATE VIEW v AS SELECT id FROM t;",
            "DROP VIEW v;\nDROP TABLE t;",
            "CREATE TABLE t (id bigint);",
            "INSERT INTO t VALUES (1);",
        ]));
        assert_eq!(edges(&graph), [vec![], vec![0], vec![0], vec![0, 1, 2], vec![3], vec![4]]);
        assert_eq!(graph.reason(3, 1), Some("drops table public.t used by 2_m2"));
        assert_eq!(graph.reason(4, 3), Some("recreates table public.t dropped by 4_m4"));
    }

    fn fixture(name: &str) -> Vec<Migration> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name).join("migrations");
        MigrationSet::load(&dir, None).expect("the fixture loads").migrations
    }

    /// Each migration's dependencies, by migration name.
    fn named_edges(set: &[Migration], graph: &DependencyGraph) -> BTreeMap<String, Vec<String>> {
        (0..set.len())
            .filter(|&i| !graph.depends_on(i).is_empty())
            .map(|i| (set[i].name.clone(), graph.depends_on(i).iter().map(|&j| set[j].name.clone()).collect()))
            .collect()
    }

    fn expected(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs.iter().map(|(m, deps)| (m.to_string(), deps.iter().map(|d| d.to_string()).collect())).collect()
    }

    #[test]
    fn what_names_an_added_column_depends_on_the_migration_that_added_it() {
        let set = fixture("column_dependencies");
        let graph = infer_from_sql(&set);
        assert_eq!(
            named_edges(&set, &graph),
            expected(&[
                ("add_balance", &["create_accounts"]),
                ("add_email_and_owner", &["create_accounts"]),
                ("add_updated_at", &["create_accounts"]),
                ("create_rich_accounts_view", &["create_accounts", "add_balance"]),
                ("add_balance_cents", &["create_accounts", "add_balance"]),
                ("index_lower_email", &["create_accounts", "add_balance", "add_email_and_owner"]),
                ("check_balance", &["create_accounts", "add_balance"]),
                ("touch_trigger", &["create_accounts", "add_balance"]),
                ("owner_policy", &["create_accounts", "add_email_and_owner"]),
            ])
        );
        let id = |name: &str| set.iter().find(|m| m.name == name).map(Migration::id).unwrap_or_default();
        let index = |name: &str| set.iter().position(|m| m.name == name).unwrap_or(usize::MAX);
        assert_eq!(
            graph.reason(index("create_rich_accounts_view"), index("add_balance")),
            Some(format!("references column public.accounts.balance created by {}", id("add_balance")).as_str())
        );
    }

    #[test]
    fn renames_come_after_the_users_of_the_old_name_and_before_those_of_the_new() {
        let set = fixture("renames_and_data");
        let graph = infer_from_sql(&set);
        assert_eq!(
            named_edges(&set, &graph),
            expected(&[
                ("seed_admin", &["create_user_"]),
                ("clean_users", &["create_user_"]),
                ("rename_user_to_users", &["create_user_", "seed_admin", "clean_users"]),
                ("trim_titles", &["create_products"]),
                ("rename_title_to_name", &["create_products", "trim_titles"]),
                ("merge_signup_event", &["create_events"]),
                ("archive_events", &["create_events", "merge_signup_event"]),
                ("add_settings_scope", &["create_settings"]),
                ("create_scoped_setting", &["create_settings", "add_settings_scope"]),
                ("rename_settings_value", &["create_settings", "add_settings_scope", "create_scoped_setting"]),
            ])
        );
        let index = |name: &str| set.iter().position(|m| m.name == name).unwrap_or(usize::MAX);
        let id = |name: &str| set[index(name)].id();
        assert_eq!(
            graph.reason(index("rename_user_to_users"), index("seed_admin")),
            Some(format!("renames table public.user_ used by {}", id("seed_admin")).as_str())
        );
        assert_eq!(
            graph.reason(index("rename_title_to_name"), index("trim_titles")),
            Some(format!("renames column public.products.title used by {}", id("trim_titles")).as_str())
        );
    }

    #[test]
    fn users_of_a_new_name_depend_on_the_rename_and_the_old_name_can_be_reused_after_it() {
        let graph = infer_from_sql(&migrations(&[
            "CREATE TABLE user_ (id int, full_name text);",
            "ALTER TABLE user_ RENAME TO users;",
            "ALTER TABLE users RENAME COLUMN full_name TO name;",
            "CREATE VIEW names AS SELECT name FROM users;",
            "CREATE TABLE user_ (id int);",
            "ALTER INDEX IF EXISTS old_idx RENAME TO new_idx;",
        ]));
        assert_eq!(edges(&graph), [vec![], vec![0], vec![1], vec![1, 2], vec![1], vec![]]);
        assert_eq!(graph.reason(3, 2), Some("references column public.users.name created by 3_m3"));
        assert_eq!(graph.reason(4, 1), Some("recreates table public.user_ renamed away by 2_m2"));
    }

    /// A later full definition of the same object supersedes the earlier one (atuin redefines
    /// its trigger function in three migrations; crates.io recreates an index IF NOT EXISTS):
    /// the other order would leave the earlier definition, so it is a dependency, not an order
    /// to explore. After a drop, the drop is what the new definition needs.
    #[test]
    fn a_redefinition_depends_on_the_definition_it_replaces() {
        let graph = infer_from_sql(&migrations(&[
            "CREATE TABLE history (id int, user_id int);",
            "CREATE FUNCTION count_history() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;",
            "CREATE OR REPLACE FUNCTION count_history() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$;",
            "CREATE INDEX IF NOT EXISTS history_user ON history (user_id);",
            "CREATE INDEX IF NOT EXISTS history_user ON history (user_id);",
            "DROP INDEX history_user;",
            "CREATE INDEX IF NOT EXISTS history_user ON history (user_id, id);",
        ]));
        assert_eq!(graph.reason(2, 1), Some("redefines function public.count_history created by 2_m2"));
        assert_eq!(graph.reason(4, 3), Some("redefines index public.history_user created by 4_m4"));
        assert!(graph.depends_on(6).contains(&5) && !graph.depends_on(6).contains(&4), "{:?}", edges(&graph));
    }

    /// A change to a column (type, default, nullability) is what later changes and later users
    /// of that column build on (crates.io: ALTER COLUMN token TYPE bytea needs the earlier DROP
    /// DEFAULT; a materialized view over a column whose type changed). Adding columns commutes.
    #[test]
    fn later_uses_of_a_changed_column_depend_on_the_change() {
        let graph = infer_from_sql(&migrations(&[
            "CREATE TABLE api_tokens (id int PRIMARY KEY, token text DEFAULT 'x');",
            "ALTER TABLE api_tokens ALTER COLUMN token DROP DEFAULT;",
            "ALTER TABLE api_tokens ALTER COLUMN token TYPE bytea USING decode(token, 'escape');",
            "CREATE MATERIALIZED VIEW recent_tokens AS SELECT id, token FROM api_tokens;",
            "ALTER TABLE api_tokens ADD COLUMN a int;",
            "ALTER TABLE api_tokens ADD COLUMN b int;",
        ]));
        assert_eq!(graph.reason(2, 1), Some("uses column public.api_tokens.token changed by 2_m2"));
        assert!(graph.depends_on(3).contains(&2), "{:?}", edges(&graph));
        assert_eq!(edges(&graph)[4..], [vec![0], vec![0]]);
    }

    /// The two pg_depend queries are built from shared parts: both must still be one valid SELECT.
    #[test]
    fn the_dependency_queries_parse() {
        for query in [NEW_DEPENDENCIES, LIVE_DEPENDENCIES] {
            let parsed = pg_query::parse(query, 0).unwrap_or_else(|e| panic!("{e}: {query}"));
            assert_eq!(parsed.protobuf.stmts.len(), 1);
        }
    }

    #[test]
    fn graph_operations() {
        let mut graph = DependencyGraph::new(4);
        graph.add(1, 0, "first".into());
        graph.add(1, 0, "second".into());
        graph.add(2, 2, "self".into());
        graph.add(3, 2, "x".into());
        assert_eq!(graph.reason(1, 0), Some("first"));
        assert!(graph.depends_on(2).is_empty());
        assert!(graph.respects(&[0, 1, 2, 3]) && graph.respects(&[2, 3, 0, 1]) && graph.respects(&[1, 3]));
        assert!(!graph.respects(&[1, 0]) && !graph.respects(&[3, 0, 2]));
        let all: BTreeSet<usize> = (0..4).collect();
        assert_eq!(graph.topological_order(&all, &[0, 0, 0, 0]), [0, 1, 2, 3]);
        assert_eq!(graph.topological_order(&all, &[3, 2, 1, 0]), [2, 3, 0, 1], "reverse where the edges allow");
        assert_eq!(DependencyGraph::new(4).topological_order(&all, &[3, 2, 1, 0]), [3, 2, 1, 0]);
        assert_eq!(graph.topological_order(&[1, 3].into(), &[]), [1, 3], "dependencies outside the set are ignored");

        let mut other = DependencyGraph::new(4);
        other.add(1, 0, "other".into());
        other.add(2, 1, "new".into());
        graph.merge(&other);
        assert_eq!((graph.reason(1, 0), graph.reason(2, 1)), (Some("first"), Some("new")));
        assert_eq!(graph.dependency_closure(&[2].into()), [0, 1, 2].into());
    }

    #[test]
    fn a_cycle_from_declared_edges_still_orders_every_node() {
        let mut graph = DependencyGraph::new(3);
        graph.add(0, 1, "declared".into());
        graph.add(1, 0, "declared".into());
        let order = graph.topological_order(&[0, 1, 2].into(), &[]);
        assert_eq!(order.len(), 3);
        assert_eq!(order[0], 2);
    }

    #[test]
    fn k12_reversed_priorities_put_later_migrations_first_where_allowed() {
        let set = k12();
        let graph = infer_from_sql(&set);
        let all: BTreeSet<usize> = (0..set.len()).collect();
        let reversed: Vec<u32> = (0..set.len() as u32).rev().collect();
        let order = graph.topological_order(&all, &reversed);
        assert!(graph.respects(&order));
        assert_ne!(order, (0..set.len()).collect::<Vec<_>>());
        // Greedy latest-first: each step takes the latest migration whose needs are met.
        let mut done = BTreeSet::new();
        for &m in &order {
            let latest_ready = all.iter().rev().find(|&&c| !done.contains(&c) && graph.depends_on(c).is_subset(&done));
            assert_eq!(latest_ready, Some(&m));
            done.insert(m);
        }
    }
}
