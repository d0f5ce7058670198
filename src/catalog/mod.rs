//! The catalog model: every user object of a database, read from `pg_catalog` (never
//! `information_schema`), as a sorted, serde-able list of [`Object`]s.
//!
//! Each object kind has its own file with its query. An object is a kind, a qualified name, the
//! table it belongs to (if any) and its attributes as canonical text, so `compare` can diff any
//! kind the same way. The model does not depend on the order objects were created in.

mod acl;
mod array_casts;
mod canonical;
mod collations;
mod columns;
mod comments;
mod constraints;
mod default_privileges;
mod extensions;
mod functions;
mod indexes;
mod policies;
mod roles;
mod rules;
mod schemas;
mod sequences;
mod statistics;
mod tables;
mod triggers;
mod types;
mod views;

use std::collections::BTreeMap;
use std::fmt;

use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};

pub use canonical::Canonicalizer;

use crate::runner::RunnerError;

/// The kinds of object the catalog holds, in the order dumps list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ObjectKind {
    /// A role the project creates, compared with `compare_roles = true`: its attributes,
    /// settings, memberships and comment.
    Role,
    /// A schema, with its owner and grants.
    Schema,
    /// An installed extension and its version.
    Extension,
    /// A collation a migration created.
    Collation,
    /// A user-defined type: an enum (labels in order), a domain, a composite or a range.
    Type,
    /// A sequence and its parameters.
    Sequence,
    /// A table: its kind, partitioning, inheritance, options, row security, owner, grants and
    /// column order.
    Table,
    /// A table's column: type, default, nullability, identity, generation, collation, grants.
    Column,
    /// A table's constraint: primary key, unique, check, foreign key, exclusion.
    Constraint,
    /// An index, with the constraint it backs, if any.
    Index,
    /// A view and its canonical definition.
    View,
    /// A materialized view and its canonical definition.
    MaterializedView,
    /// A function, procedure or aggregate, by its signature.
    Function,
    /// A trigger on a table.
    Trigger,
    /// A rewrite rule (other than a view's own `_RETURN`).
    Rule,
    /// A row-level security policy.
    Policy,
    /// Extended statistics (`CREATE STATISTICS`).
    Statistics,
    /// An `ALTER DEFAULT PRIVILEGES` entry.
    DefaultPrivileges,
    /// A `COMMENT ON` an object.
    Comment,
}

impl ObjectKind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            ObjectKind::Role => "role",
            ObjectKind::Schema => "schema",
            ObjectKind::Extension => "extension",
            ObjectKind::Collation => "collation",
            ObjectKind::Type => "type",
            ObjectKind::Sequence => "sequence",
            ObjectKind::Table => "table",
            ObjectKind::Column => "column",
            ObjectKind::Constraint => "constraint",
            ObjectKind::Index => "index",
            ObjectKind::View => "view",
            ObjectKind::MaterializedView => "materialized view",
            ObjectKind::Function => "function",
            ObjectKind::Trigger => "trigger",
            ObjectKind::Rule => "rule",
            ObjectKind::Policy => "policy",
            ObjectKind::Statistics => "statistics",
            ObjectKind::DefaultPrivileges => "default privileges",
            ObjectKind::Comment => "comment",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One database object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    /// What kind of object it is.
    pub kind: ObjectKind,
    /// Schema-qualified name: `public.users`, `public.users.email` (a column),
    /// `public.users.users_pkey` (a constraint), `public.f(integer)` (a function).
    pub name: String,
    /// The table (or view) this object belongs to, qualified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Canonical text of each attribute that has a value.
    pub attributes: BTreeMap<String, String>,
}

impl Object {
    pub(crate) fn new(kind: ObjectKind, name: impl Into<String>) -> Object {
        Object { kind, name: name.into(), table: None, attributes: BTreeMap::new() }
    }

    pub(crate) fn of_table(mut self, table: impl Into<String>) -> Object {
        self.table = Some(table.into());
        self
    }

    /// Sets an attribute; `None` and empty values are left out, so "absent" has one spelling.
    pub(crate) fn attr(mut self, key: &str, value: Option<String>) -> Object {
        self.set_attr(key, value);
        self
    }

    /// [`Object::attr`] on an object already built.
    pub(crate) fn set_attr(&mut self, key: &str, value: Option<String>) {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            self.attributes.insert(key.to_string(), value);
        }
    }

    /// `table public.users`.
    pub(crate) fn title(&self) -> String {
        format!("{} {}", self.kind, self.name)
    }

    /// The object as canonical text: its title, then one `key: value` line per attribute.
    pub(crate) fn render(&self) -> String {
        let mut out = self.title();
        out.push('\n');
        for (key, value) in &self.attributes {
            out.push_str("  ");
            out.push_str(key);
            out.push_str(": ");
            out.push_str(&value.replace('\n', "\n    "));
            out.push('\n');
        }
        out
    }
}

/// The user objects of one database, sorted by kind and name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// The server version the catalog was read from (informational; not compared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// The objects, sorted by kind, then name.
    pub objects: Vec<Object>,
}

impl Catalog {
    pub(crate) fn from_objects(server_version: Option<String>, mut objects: Vec<Object>) -> Catalog {
        objects.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        objects.dedup_by(|a, b| a.kind == b.kind && a.name == b.name);
        Catalog { server_version, objects }
    }

    pub(crate) fn get(&self, kind: ObjectKind, name: &str) -> Option<&Object> {
        self.objects.binary_search_by(|o| (o.kind, o.name.as_str()).cmp(&(kind, name))).ok().map(|i| &self.objects[i])
    }

    /// The whole catalog as canonical text (what `pgconverge dump` prints).
    pub fn render(&self) -> String {
        self.objects.iter().map(Object::render).collect()
    }

    /// Drops the objects `ignore` matches, and those that belong to a matched table; and the
    /// owners, unless `ignore` compares them.
    pub(crate) fn without(mut self, ignore: &IgnoreRules) -> Catalog {
        if !ignore.compare_owners {
            for object in &mut self.objects {
                object.attributes.remove(OWNER);
            }
        }
        self.objects.retain(|o| !ignore.matches(o));
        self
    }

    /// The catalog as pretty JSON (what `pgconverge dump --format json` prints).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a catalog always serializes")
    }

    /// A catalog from the JSON [`Catalog::to_json`] writes.
    pub fn from_json(text: &str) -> Result<Catalog, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// The attribute that names an object's owner, compared only with `compare_owners = true`.
pub(crate) const OWNER: &str = "owner";

/// The migration ledgers of common tools: the harness never compares them.
pub(crate) const LEDGER_TABLES: &[&str] = &[
    "schema_migrations",          // Rails, golang-migrate, dbmate
    "ar_internal_metadata",       // Rails
    "_sqlx_migrations",           // sqlx
    "__diesel_schema_migrations", // diesel
    "flyway_schema_history",      // Flyway
    "alembic_version",            // Alembic
    "goose_db_version",           // goose
    "gorp_migrations",            // sql-migrate
    "knex_migrations",            // knex
    "knex_migrations_lock",
    "schema_version", // old Flyway
    "pgconverge_ledger",
];

/// Which objects are left out of dumps and comparisons: the ledger tables, and the user's globs
/// (`*` and `?`) matched against an object's qualified name or the table it belongs to.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    pub(crate) globs: Vec<String>,
    pub(crate) keep_ledgers: bool,
    /// Exact objects left out: nondeterministic objects.
    pub(crate) exact: std::collections::BTreeSet<(ObjectKind, String)>,
    /// What the setup files create, as they create it: each object is left out while it is
    /// unchanged, so a migration that changes one (the `public` schema's grants) is compared.
    pub(crate) setup: BTreeMap<(ObjectKind, String), Object>,
    /// Owners are compared (`compare_owners = true`); otherwise dumps leave them out.
    pub(crate) compare_owners: bool,
    /// The roles dumped and compared (`compare_roles = true`): those the project creates.
    pub(crate) roles: Vec<String>,
}

impl IgnoreRules {
    pub(crate) fn new(globs: Vec<String>) -> IgnoreRules {
        IgnoreRules { globs, ..IgnoreRules::default() }
    }

    /// The rules a project sets: its `ignore` globs, and whether owners are compared.
    pub(crate) fn with_owners(globs: Vec<String>, compare_owners: bool) -> IgnoreRules {
        IgnoreRules { compare_owners, ..IgnoreRules::new(globs) }
    }

    pub(crate) fn matches(&self, object: &Object) -> bool {
        let key = (object.kind, object.name.clone());
        if self.exact.contains(&key) || self.setup.get(&key) == Some(object) {
            return true;
        }
        let subject_names = [Some(object.name.as_str()), object.table.as_deref()];
        subject_names.into_iter().flatten().any(|name| self.matches_name(name))
            || (object.kind == ObjectKind::Sequence
                && object.attributes.get("owned_by").is_some_and(|owner| self.matches_name(table_of_column(owner))))
            || (object.kind == ObjectKind::Comment && object.attributes.get("on").is_some_and(|target| self.matches_name(target)))
    }

    /// Two catalogs with each setup object that one side left out as unchanged put back where
    /// the other kept it as changed, so the difference reads as the attribute that changed (the
    /// `public` schema's grants) rather than as an object that appeared. `None` when there is
    /// nothing to put back.
    pub(crate) fn with_changed_setup_objects(&self, expected: &Catalog, found: &Catalog) -> Option<(Catalog, Catalog)> {
        let missing_from = |side: &Catalog, other: &Catalog| -> Vec<Object> {
            other
                .objects
                .iter()
                .filter(|o| side.get(o.kind, &o.name).is_none())
                .filter_map(|o| self.setup.get(&(o.kind, o.name.clone())).cloned())
                .collect()
        };
        let (to_expected, to_found) = (missing_from(expected, found), missing_from(found, expected));
        if to_expected.is_empty() && to_found.is_empty() {
            return None;
        }
        let joined = |side: &Catalog, more: Vec<Object>| {
            Catalog::from_objects(side.server_version.clone(), side.objects.iter().cloned().chain(more).collect())
        };
        Some((joined(expected, to_expected), joined(found, to_found)))
    }

    fn matches_name(&self, qualified: &str) -> bool {
        let unqualified = qualified.rsplit_once('.').map_or(qualified, |(_, n)| n);
        (!self.keep_ledgers && LEDGER_TABLES.contains(&unqualified) && qualified.matches('.').count() == 1)
            || self.globs.iter().any(|g| glob_match(g, qualified))
    }
}

fn table_of_column(column: &str) -> &str {
    column.rsplit_once('.').map_or(column, |(table, _)| table)
}

/// `*` matches any run of characters, `?` one character.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Privileges are listed only where they differ from the owner's defaults (`acldefault`), so a
/// table nobody granted anything on reads the same on every major (17 added MAINTAIN to the
/// owner's default privileges).
///
/// Filters of user objects shared by the per-kind queries. Several queries also filter on
/// `oid >= 16384` (FirstNormalObjectId): every object created after initdb has such an OID, and
/// the filter lets Postgres skip the thousands of built-in rows before any joins.
macro_rules! user_schema {
    ($ns:literal) => {
        concat!($ns, ".nspname NOT IN ('pg_catalog', 'information_schema') AND ", $ns, ".nspname !~ '^pg_(toast|temp_|toast_temp_)'")
    };
}
/// Objects that belong to an extension are represented by the extension. `extension_members`
/// is the combined query's one scan of pg_depend (see [`EXTENSION_MEMBERS`]).
macro_rules! not_extension_member {
    ($class:literal, $oid:literal) => {
        concat!("NOT EXISTS (SELECT 1 FROM extension_members em WHERE em.classid = '", $class, "'::regclass AND em.objid = ", $oid, ")")
    };
}

/// The members of extensions, read once per dump. A membership (`deptype = 'e'`) always refers
/// to its pg_extension row, so the index on the referenced object finds them all; pg_depend has
/// no index on `deptype`, and a filter on it alone scanned the whole table (23,000 rows, 2.3 ms,
/// on the 1,000-table set).
const EXTENSION_MEMBERS: &str = "WITH extension_members AS MATERIALIZED (SELECT classid, objid FROM pg_depend \
     WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e')\n";
pub(crate) use {not_extension_member, user_schema};

/// A query's rows with every column read as nullable text (each query casts to text).
pub(crate) type TextRow = Vec<Option<String>>;

/// Takes column `i` of a text row.
pub(crate) fn col(row: &mut TextRow, i: usize) -> Option<String> {
    row.get_mut(i).and_then(Option::take)
}

/// The session settings a dump changes, and what to; each is restored after. search_path
/// `pg_catalog` makes every name come out schema-qualified. JIT is off: the combined query costs
/// enough to trigger it, and compiling takes longer than running. Parallel query is off: it
/// would interleave the kinds' rows (see [`dump_objects`]).
const DUMP_SETTINGS: [(&str, &str); 3] = [("search_path", "pg_catalog"), ("jit", "off"), ("max_parallel_workers_per_gather", "0")];

/// One simple query of two statements: the first reads the server version and the
/// [`DUMP_SETTINGS`] as they are, the second sets them.
fn read_and_set_settings() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let read: Vec<String> = DUMP_SETTINGS.iter().map(|(name, _)| format!("current_setting('{name}')")).collect();
        let set: Vec<String> =
            DUMP_SETTINGS.iter().map(|(name, value)| format!("pg_catalog.set_config('{name}', '{value}', false)")).collect();
        format!("SELECT current_setting('server_version'), {}, current_user::text; SELECT {}", read.join(", "), set.join(", "))
    })
}

/// Dumps every user object of the database `conn` is connected to, in three round trips, with
/// `search_path = pg_catalog` (every name schema-qualified), JIT and parallel query off; the
/// settings are restored after. `canon` spells SQL text one way; `ignore` leaves objects out.
pub async fn dump(conn: &mut PgConnection, canon: &mut Canonicalizer, ignore: &IgnoreRules) -> Result<Catalog, RunnerError> {
    let settings = sqlx::raw_sql(AssertSqlSafe(read_and_set_settings()))
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| RunnerError::db("read and set search_path", e))?;
    let saved = |i: usize| -> Result<String, RunnerError> {
        let row = settings.first().ok_or_else(|| RunnerError::db("read search_path", sqlx::Error::RowNotFound))?;
        row.try_get::<String, _>(i).map_err(|e| RunnerError::db("read search_path", e))
    };
    let version = saved(0)?;
    let mut restore = Vec::with_capacity(DUMP_SETTINGS.len());
    for (i, (name, _)) in DUMP_SETTINGS.iter().enumerate() {
        restore.push(format!("pg_catalog.set_config('{name}', {}, false)", quote_literal(&saved(i + 1)?)));
    }
    let mut result = dump_objects(conn, canon).await;
    if !ignore.roles.is_empty() {
        if let Ok(objects) = &mut result {
            match roles::dump(conn, &ignore.roles).await {
                Ok(roles) => objects.extend(roles),
                Err(e) => result = Err(e),
            }
        }
    }
    let restore = format!("SELECT {}", restore.join(", "));
    let restored = sqlx::raw_sql(AssertSqlSafe(restore)).execute(&mut *conn).await;
    // A failed dump's own error is the cause (a cancelled query); the restore's then only says
    // that the transaction is aborted.
    let mut objects = result?;
    restored.map_err(|e| RunnerError::db("restore search_path", e))?;
    // The run's sandbox role has a name of its own per run: one spelling in every dump, so
    // two runs (`diff`) and saved dumps agree.
    let role = saved(DUMP_SETTINGS.len() + 1)?;
    if crate::runner::roles::is_sandbox_role(&role) {
        for value in objects.iter_mut().flat_map(|o| o.attributes.values_mut()) {
            if value.contains(&role) {
                *value = value.replace(&role, crate::runner::roles::SANDBOX_ROLE_IN_DUMPS);
            }
        }
    }
    Ok(Catalog::from_objects(Some(version), objects).without(ignore))
}

/// One object kind's query: how many columns it returns, and what turns its rows into objects.
struct Kind {
    query: &'static str,
    columns: usize,
    objects: fn(Vec<TextRow>, &mut Canonicalizer) -> Vec<Object>,
}

/// The per-kind queries, in dump order.
const QUERIES: [Kind; 17] = [
    Kind { query: schemas::QUERY, columns: 3, objects: schemas::objects },
    Kind { query: extensions::QUERY, columns: 4, objects: extensions::objects },
    Kind { query: collations::QUERY, columns: 4, objects: collations::objects },
    Kind { query: types::QUERY, columns: 11, objects: types::objects },
    Kind { query: sequences::QUERY, columns: 13, objects: sequences::objects },
    Kind { query: tables::QUERY, columns: 13, objects: tables::objects },
    Kind { query: columns::QUERY, columns: 14, objects: columns::objects },
    Kind { query: constraints::QUERY, columns: 8, objects: constraints::objects },
    Kind { query: indexes::QUERY, columns: 7, objects: indexes::objects },
    Kind { query: views::QUERY, columns: 7, objects: views::objects },
    Kind { query: functions::QUERY, columns: 6, objects: functions::objects },
    Kind { query: triggers::QUERY, columns: 4, objects: triggers::objects },
    Kind { query: rules::QUERY, columns: 4, objects: rules::objects },
    Kind { query: policies::QUERY, columns: 7, objects: policies::objects },
    Kind { query: statistics::QUERY, columns: 3, objects: statistics::objects },
    Kind { query: default_privileges::QUERY, columns: 4, objects: default_privileges::objects },
    Kind { query: comments::QUERY, columns: 4, objects: comments::objects },
];

/// All per-kind queries as one: `SELECT i, ARRAY[its columns as text] FROM (query i)`, glued
/// with UNION ALL after their shared CTE. One round trip and one cached plan per dump instead
/// of seventeen.
fn combined_query() -> &'static str {
    static COMBINED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    COMBINED.get_or_init(|| {
        let branches: Vec<String> = QUERIES
            .iter()
            .enumerate()
            .map(|(i, Kind { query, columns, .. })| {
                let names: Vec<String> = (0..*columns).map(|c| format!("c{c}")).collect();
                let array: Vec<String> = names.iter().map(|n| format!("q.{n}::text")).collect();
                format!("SELECT {i}, ARRAY[{}] FROM ({query}) AS q({})", array.join(", "), names.join(", "))
            })
            .collect();
        format!("{EXTENSION_MEMBERS}{}", branches.join("\nUNION ALL\n"))
    })
}

async fn dump_objects(conn: &mut PgConnection, canon: &mut Canonicalizer) -> Result<Vec<Object>, RunnerError> {
    // A prepared statement, cached on the connection: Postgres keeps the plan of a statement
    // without parameters, so later dumps skip planning these catalog joins.
    let mut rows = sqlx::query_as::<_, (i32, TextRow)>(AssertSqlSafe(combined_query())).fetch(&mut *conn);
    // Rows are read as they arrive, and each kind's objects are built as soon as the next kind's
    // rows begin: the client's work overlaps the server's on the later branches. A serial
    // Append (parallel query is off while dumping) returns its branches in order; were a kind's
    // rows ever split, the dump would be incomplete, so that is an error, not a verdict.
    let mut built = KindBuilder::default();
    while let Some((i, row)) = rows.try_next().await.map_err(|e| RunnerError::db("read the catalog", e))? {
        let kind = usize::try_from(i).ok().filter(|&i| i < QUERIES.len());
        let Some(kind) = kind else {
            return Err(RunnerError::Catalog(format!("the catalog query returned an unknown kind {i}")));
        };
        built.push(kind, row, canon)?;
    }
    built.finish(canon)
}

/// Builds each kind's objects once all of its rows are in (see [`dump_objects`]).
#[derive(Default)]
struct KindBuilder {
    /// The kind whose rows are coming in. Kinds arrive in increasing order, so a row of a kind
    /// below it arrived out of order.
    current: Option<usize>,
    rows: Vec<TextRow>,
    objects: Vec<Object>,
    column_order: Option<std::collections::HashMap<String, String>>,
}

impl KindBuilder {
    fn push(&mut self, kind: usize, row: TextRow, canon: &mut Canonicalizer) -> Result<(), RunnerError> {
        if self.current != Some(kind) {
            if self.current.is_some_and(|current| kind < current) {
                return Err(RunnerError::Catalog(format!("the catalog query returned the rows of kind {kind} out of order")));
            }
            self.build(canon);
            self.current = Some(kind);
        }
        self.rows.push(row);
        Ok(())
    }

    fn build(&mut self, canon: &mut Canonicalizer) {
        let Some(kind) = self.current.take() else { return };
        let rows = std::mem::take(&mut self.rows);
        let query = &QUERIES[kind];
        if query.query == columns::QUERY {
            self.column_order = Some(columns::column_order(&rows));
        }
        self.objects.extend((query.objects)(rows, canon));
    }

    fn finish(mut self, canon: &mut Canonicalizer) -> Result<Vec<Object>, RunnerError> {
        self.build(canon);
        tables::attach_column_order(&mut self.objects, self.column_order.unwrap_or_default());
        Ok(self.objects)
    }
}

pub(crate) fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kinds are built as their rows end; a kind's rows after a later kind's are an error,
    /// never a dump that silently lacks them.
    #[test]
    fn kinds_are_built_in_order_and_split_kinds_are_an_error() {
        let row = |cells: &[&str]| -> TextRow { cells.iter().map(|c| Some(c.to_string())).collect() };
        let mut canon = Canonicalizer::new();
        let mut built = KindBuilder::default();
        built.push(0, row(&["app", ""]), &mut canon).unwrap();
        built.push(0, row(&["public", ""]), &mut canon).unwrap();
        built.push(1, row(&["citext", "public", "1.6"]), &mut canon).unwrap();
        let objects = built.finish(&mut canon).unwrap();
        let names: Vec<(ObjectKind, &str)> = objects.iter().map(|o| (o.kind, o.name.as_str())).collect();
        assert_eq!(names, [(ObjectKind::Schema, "app"), (ObjectKind::Schema, "public"), (ObjectKind::Extension, "citext")]);

        let mut built = KindBuilder::default();
        built.push(0, row(&["app", ""]), &mut canon).unwrap();
        built.push(1, row(&["citext", "public", "1.6"]), &mut canon).unwrap();
        let error = built.push(0, row(&["public", ""]), &mut canon).unwrap_err();
        assert!(error.to_string().contains("kind 0 out of order"), "{error}");
    }

    /// Each query's declared column count is what it selects (the combined query names them).
    #[test]
    fn declared_column_counts_match_the_queries() {
        for (kind, Kind { query, columns, .. }) in QUERIES.iter().enumerate() {
            let (query, columns) = (*query, *columns);
            let parsed = pg_query::parse(query, 0).expect("a catalog query parses");
            let stmt = parsed.protobuf.stmts[0].stmt.as_ref().and_then(|n| n.node.as_ref());
            let Some(pg_query::NodeEnum::SelectStmt(select)) = stmt else { panic!("query {kind}: not a SELECT") };
            // A UNION's columns are its first branch's.
            let first = select.larg.as_ref().map_or(select.as_ref(), |l| l.as_ref());
            assert_eq!(first.target_list.len(), columns, "query {kind}");
        }
        assert!(pg_query::parse(combined_query(), 0).is_ok());
    }

    #[test]
    fn glob_matching() {
        assert!(glob_match("public.*", "public.users"));
        assert!(glob_match("*.tmp_?", "public.tmp_1"));
        assert!(!glob_match("public.user", "public.users"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn ignore_rules_cover_ledgers_and_their_children() {
        let rules = IgnoreRules::new(vec!["audit.*".into()]);
        assert!(rules.matches(&Object::new(ObjectKind::Table, "public.schema_migrations")));
        assert!(rules.matches(&Object::new(ObjectKind::Index, "public.schema_migrations_pkey").of_table("public.schema_migrations")));
        assert!(rules.matches(&Object::new(ObjectKind::Table, "audit.log")));
        assert!(!rules.matches(&Object::new(ObjectKind::Column, "public.users.schema_migrations").of_table("public.users")));
        assert!(!rules.matches(&Object::new(ObjectKind::Table, "public.users")));
    }

    /// Owners are read always and kept only when the project compares them.
    #[test]
    fn owners_are_left_out_unless_compared() {
        let table = Object::new(ObjectKind::Table, "public.t").attr(OWNER, Some("app".into()));
        let catalog = Catalog::from_objects(None, vec![table]);
        let without = catalog.clone().without(&IgnoreRules::default());
        assert_eq!(without.render(), "table public.t\n");
        let compared = catalog.without(&IgnoreRules { compare_owners: true, ..IgnoreRules::default() });
        assert_eq!(compared.render(), "table public.t\n  owner: app\n");
    }

    /// What the setup made is left out while unchanged; changed, it is compared, and the other
    /// side gets the setup's version back, so the difference is the attribute that changed.
    #[test]
    fn setup_objects_are_left_out_by_value() {
        let public = |acl: &str| Object::new(ObjectKind::Schema, "public").attr("acl", Some(acl.into()));
        let as_made = public("{=U/pg_database_owner,pg_database_owner=UC/pg_database_owner}");
        let changed = public("{pg_database_owner=UC/pg_database_owner}");
        let mut rules = IgnoreRules::default();
        rules.setup.insert((ObjectKind::Schema, "public".into()), as_made.clone());
        assert!(rules.matches(&as_made));
        assert!(!rules.matches(&changed));

        let reference = Catalog::from_objects(None, vec![as_made.clone()]).without(&rules);
        let migrated = Catalog::from_objects(None, vec![changed.clone()]).without(&rules);
        assert!(reference.objects.is_empty());
        assert_eq!(migrated.objects, std::slice::from_ref(&changed));
        let (expected, found) = rules.with_changed_setup_objects(&reference, &migrated).expect("public is put back");
        assert_eq!((expected.objects, found.objects), (vec![as_made], vec![changed]));
        assert!(rules.with_changed_setup_objects(&reference, &reference).is_none());
    }

    #[test]
    fn catalog_is_sorted_and_renders_stably() {
        let a = Object::new(ObjectKind::Table, "public.b").attr("persistence", Some("permanent".into()));
        let b = Object::new(ObjectKind::Schema, "public");
        let c = Object::new(ObjectKind::Table, "public.a").attr("x", None).attr("y", Some(String::new()));
        let catalog = Catalog::from_objects(None, vec![a.clone(), b.clone(), c.clone()]);
        assert_eq!(catalog, Catalog::from_objects(None, vec![c, a, b]));
        assert_eq!(catalog.render(), "schema public\ntable public.a\ntable public.b\n  persistence: permanent\n");
    }
}
