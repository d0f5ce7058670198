//! What a SQL statement creates, alters, drops and references, read from its parse tree.
//!
//! Names are `schema.name`: pg_query already folds unquoted identifiers to lower case and keeps
//! quoted ones as written; unqualified names take the default schema (`public`, or the first
//! schema of a `search_path` the script set). Columns, constraints, triggers and policies are
//! `schema.table.name`; schemas and extensions are bare names; functions carry no argument list.
//!
//! Statement rules find what a statement creates, alters and drops. Every other name in the
//! parse tree is a reference: relations, types that are not built in, functions called,
//! `'x'::regclass` / `nextval('x')` / `to_regclass('x')` strings, and catalog lookups such as
//! `WHERE conname = 'x' AND conrelid = 't'::regclass`. PL/pgSQL bodies (`DO` blocks and
//! `CREATE FUNCTION ... LANGUAGE plpgsql`) are parsed and their embedded SQL analyzed in turn.
//!
//! Layout: this module holds the public types, the entry points and the statement walker with
//! its dispatch (`Walker::specific`); each statement family's rules are an `impl Walker` block
//! in a file of their own (`tables`, `indexes`, `sequences`, `types`, `functions`, `triggers`,
//! `policies`, `schemas`, `drops`, `renames`, `grants`, `settings`, `roles`). `queries` finds the
//! references anywhere in a parse tree; `names` qualifies names and knows the built-ins.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use pg_query::protobuf as pb;
use pg_query::NodeEnum;
use serde::Serialize;

use crate::catalog::ObjectKind;
use crate::migration::Script;

use names::{is_system_schema, strings, DEFAULT_SCHEMA};

mod drops;
mod functions;
mod grants;
mod indexes;
mod names;
mod policies;
mod queries;
mod renames;
mod roles;
mod schemas;
mod sequences;
mod settings;
mod tables;
mod triggers;
mod types;

/// The namespaces names live in. Tables, views, materialized views, indexes and sequences
/// share one (`Relation`), as they do in Postgres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub(crate) enum RefKind {
    Schema,
    Extension,
    Relation,
    Type,
    Function,
    Constraint,
    Trigger,
    Policy,
    Column,
    /// A role: the server's, never schema-qualified.
    Role,
}

impl RefKind {
    /// How messages call an object of this kind when nothing more precise is known.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            RefKind::Schema => "schema",
            RefKind::Extension => "extension",
            RefKind::Relation => "relation",
            RefKind::Type => "type",
            RefKind::Function => "function",
            RefKind::Constraint => "constraint",
            RefKind::Trigger => "trigger",
            RefKind::Policy => "policy",
            RefKind::Column => "column",
            RefKind::Role => "role",
        }
    }
}

/// A named database object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub(crate) struct ObjectRef {
    pub(crate) kind: RefKind,
    pub(crate) name: String,
}

impl ObjectRef {
    pub(crate) fn new(kind: RefKind, name: impl Into<String>) -> Self {
        ObjectRef { kind, name: name.into() }
    }

    /// The schema part of a schema-qualified name (none for schemas and extensions).
    pub(crate) fn schema(&self) -> Option<&str> {
        match self.kind {
            RefKind::Schema | RefKind::Extension | RefKind::Role => None,
            _ => self.name.split('.').next(),
        }
    }

    /// The table a column, constraint, trigger or policy belongs to, or the relation itself.
    pub(crate) fn table(&self) -> Option<String> {
        let parts: Vec<&str> = self.name.split('.').collect();
        match self.kind {
            RefKind::Relation => Some(self.name.clone()),
            RefKind::Column | RefKind::Constraint | RefKind::Trigger | RefKind::Policy if parts.len() >= 3 => {
                Some(format!("{}.{}", parts[0], parts[1]))
            }
            _ => None,
        }
    }
}

impl ObjectRef {
    /// Whether this is the catalog's object `kind` `name` (a function's catalog name carries
    /// its argument types, the footprint's does not).
    pub(crate) fn denotes(&self, kind: ObjectKind, name: &str) -> bool {
        let kind_matches = match self.kind {
            RefKind::Relation => {
                matches!(
                    kind,
                    ObjectKind::Table | ObjectKind::View | ObjectKind::MaterializedView | ObjectKind::Index | ObjectKind::Sequence
                )
            }
            RefKind::Type => kind == ObjectKind::Type,
            RefKind::Function => kind == ObjectKind::Function,
            RefKind::Constraint => kind == ObjectKind::Constraint,
            RefKind::Trigger => kind == ObjectKind::Trigger,
            RefKind::Policy => kind == ObjectKind::Policy,
            RefKind::Column => kind == ObjectKind::Column,
            RefKind::Schema => kind == ObjectKind::Schema,
            RefKind::Extension => kind == ObjectKind::Extension,
            RefKind::Role => kind == ObjectKind::Role,
        };
        kind_matches && (name == self.name || (self.kind == RefKind::Function && name.starts_with(&format!("{}(", self.name))))
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.noun(), self.name)
    }
}

/// What some SQL does to named objects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Footprint {
    /// CREATE TABLE/INDEX/SEQUENCE/VIEW/TYPE/FUNCTION/..., ADD CONSTRAINT, ADD COLUMN (and the
    /// columns, row type, implicit sequences and constraint indexes a CREATE TABLE makes),
    /// CREATE TRIGGER/POLICY, the new name of a RENAME.
    pub(crate) creates: BTreeSet<ObjectRef>,
    /// ALTER TABLE x (x, and the column it names), ALTER TYPE, ALTER SEQUENCE, COMMENT ON, GRANT.
    pub(crate) alters: BTreeSet<ObjectRef>,
    /// DROP, and the old name of a RENAME or SET SCHEMA: the name is gone after the statement.
    pub(crate) drops: BTreeSet<ObjectRef>,
    /// The drops that are old names of a RENAME or SET SCHEMA (for messages).
    pub(crate) renamed: BTreeSet<ObjectRef>,
    /// Every other name used.
    pub(crate) references: BTreeSet<ObjectRef>,
    /// A PL/pgSQL EXECUTE (in a `DO` block) whose SQL is not a literal: the footprint may be
    /// incomplete.
    pub(crate) dynamic_sql: bool,
}

impl Footprint {
    /// Every name the footprint mentions, in any role.
    pub(crate) fn names(&self) -> impl Iterator<Item = &ObjectRef> {
        self.creates.iter().chain(&self.alters).chain(&self.drops).chain(&self.references)
    }

    /// Appends the footprint of SQL that runs after this: what this already created is internal
    /// to the sequence, so later alters and references of it drop out.
    pub(crate) fn then(&mut self, next: Footprint) {
        for object in next.alters {
            if !self.creates.contains(&object) {
                self.references.remove(&object);
                self.alters.insert(object);
            }
        }
        for object in next.references {
            if !self.creates.contains(&object) && !self.alters.contains(&object) && !self.drops.contains(&object) {
                self.references.insert(object);
            }
        }
        for object in next.drops {
            self.references.remove(&object);
            self.drops.insert(object);
        }
        self.renamed.extend(next.renamed);
        self.creates.extend(next.creates);
        self.dynamic_sql |= next.dynamic_sql;
    }

    /// Within one statement the order of its parts does not count: a name the statement
    /// creates, alters or drops is not also a reference of it.
    fn settle(&mut self) {
        let creates = &self.creates;
        self.alters.retain(|o| !creates.contains(o));
        let schemas: BTreeSet<ObjectRef> = self
            .names()
            .filter_map(ObjectRef::schema)
            .filter(|s| !is_system_schema(s) && *s != "public")
            .map(|s| ObjectRef::new(RefKind::Schema, s))
            .collect();
        self.references.extend(schemas);
        let (creates, alters, drops) = (&self.creates, &self.alters, &self.drops);
        self.references.retain(|o| !creates.contains(o) && !alters.contains(o) && !drops.contains(o));
    }
}

/// A key of a table: its columns (empty in a foreign key means "the primary key").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Key {
    pub(crate) table: String,
    pub(crate) columns: Vec<String>,
    pub(crate) primary: bool,
}

impl Key {
    /// Whether this unique key can back a foreign key that points at `target`.
    pub(crate) fn serves(&self, target: &Key) -> bool {
        if self.table != target.table {
            return false;
        }
        if target.columns.is_empty() {
            return self.primary;
        }
        let mine: BTreeSet<&String> = self.columns.iter().collect();
        mine == target.columns.iter().collect()
    }
}

/// The keys a statement declares: unique keys (PRIMARY KEY, UNIQUE, unique indexes on plain
/// columns without a predicate) and the keys its foreign keys point at, which Postgres requires
/// to be unique.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Keys {
    pub(crate) unique: Vec<Key>,
    pub(crate) foreign: Vec<Key>,
}

/// What one statement of a script does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct StatementInfo {
    pub(crate) footprint: Footprint,
    pub(crate) keys: Keys,
    /// A short description: "table public.t", "index public.i", "constraint public.t.c",
    /// "default public.t.id", "owned by public.t_id_seq", "comment on column public.t.c".
    pub(crate) label: Option<String>,
    /// The statement only sets session state (`SET ...`, `SELECT set_config(...)`).
    pub(crate) session: bool,
}

/// Every statement of a script, analyzed with the search_path the script set before it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ScriptAnalysis {
    pub(crate) statements: Vec<StatementInfo>,
    /// What each created object is, in words ("table", "index", "sequence", "enum type", ...).
    pub(crate) nouns: BTreeMap<ObjectRef, &'static str>,
}

impl ScriptAnalysis {
    /// The union of the statements' footprints, in order.
    pub(crate) fn footprint(&self) -> Footprint {
        let mut footprint = Footprint::default();
        for statement in &self.statements {
            footprint.then(statement.footprint.clone());
        }
        footprint
    }

    pub(crate) fn noun(&self, object: &ObjectRef) -> &'static str {
        self.nouns.get(object).copied().unwrap_or(object.kind.noun())
    }
}

/// The footprint of one statement (several, if `sql` holds several). Unparseable SQL has an
/// empty footprint.
#[cfg(test)]
pub(crate) fn statement_footprint(sql: &str) -> Footprint {
    analyze_sql(sql, DEFAULT_SCHEMA).footprint
}

/// The union of a script's statement footprints, in order.
pub(crate) fn script_footprint(script: &Script) -> Footprint {
    analyze_script(script).footprint()
}

/// Analyzes every statement of a script, following the `search_path` it sets.
pub(crate) fn analyze_script(script: &Script) -> ScriptAnalysis {
    let mut schema = DEFAULT_SCHEMA.to_string();
    let mut result = ScriptAnalysis::default();
    for statement in &script.statements {
        let analysis = analyze_sql(&statement.sql, &schema);
        if let Some(path) = &analysis.search_path {
            schema = path.clone();
        }
        result.nouns.extend(analysis.nouns.iter().map(|(o, n)| (o.clone(), *n)));
        let label = analysis.subject.clone().or_else(|| fallback_label(&analysis));
        result.statements.push(StatementInfo { footprint: analysis.footprint, keys: analysis.keys, label, session: analysis.session });
    }
    result
}

/// What analyzing some SQL found.
#[derive(Debug, Default)]
struct Analysis {
    footprint: Footprint,
    nouns: BTreeMap<ObjectRef, &'static str>,
    keys: Keys,
    /// The label of the (first) statement.
    subject: Option<String>,
    /// The first schema of a `search_path` the SQL set.
    search_path: Option<String>,
    /// Every statement only set session state.
    session: bool,
}

impl Analysis {
    fn then(&mut self, next: Analysis, first: bool) {
        self.footprint.then(next.footprint);
        self.nouns.extend(next.nouns);
        self.keys.unique.extend(next.keys.unique);
        self.keys.foreign.extend(next.keys.foreign);
        self.subject = self.subject.take().or(next.subject);
        self.search_path = next.search_path.or(self.search_path.take());
        self.session = (first || self.session) && next.session;
    }
}

/// A label from the footprint when the statement has no rule of its own: the main object it
/// creates, else the first it alters.
fn fallback_label(analysis: &Analysis) -> Option<String> {
    let fp = &analysis.footprint;
    let main = |o: &&ObjectRef| !matches!(o.kind, RefKind::Column | RefKind::Type | RefKind::Constraint);
    if let Some(o) = fp.creates.iter().find(main).or(fp.creates.iter().next()) {
        let noun = analysis.nouns.get(o).copied().unwrap_or(o.kind.noun());
        return Some(format!("{noun} {}", o.name));
    }
    fp.alters.iter().find(main).or(fp.alters.iter().next()).map(|o| format!("alter {o}"))
}

/// Parses `sql` and analyzes each statement in it, in order.
fn analyze_sql(sql: &str, schema: &str) -> Analysis {
    let Ok(parsed) = pg_query::parse(sql, 0) else { return Analysis::default() };
    let mut analysis = Analysis::default();
    let mut schema = schema.to_string();
    for (i, raw) in parsed.protobuf.stmts.iter().enumerate() {
        let Some(node) = raw.stmt.as_ref().and_then(|n| n.node.as_ref()) else { continue };
        let next = Walker::new(&schema).statement(node, statement_text(sql, raw));
        if let Some(path) = &next.search_path {
            schema = path.clone();
        }
        analysis.then(next, i == 0);
    }
    analysis
}

/// The text of one parsed statement (for PL/pgSQL, which needs the original function text).
fn statement_text<'a>(sql: &'a str, raw: &pb::RawStmt) -> &'a str {
    let start = usize::try_from(raw.stmt_location).unwrap_or(0);
    let end = match usize::try_from(raw.stmt_len) {
        Ok(0) | Err(_) => sql.len(),
        Ok(len) => start + len,
    };
    sql.get(start..end).unwrap_or(sql)
}

/// Gathers the footprint of one statement.
struct Walker<'a> {
    schema: &'a str,
    analysis: Analysis,
    /// Names the generic walk would take for references that are none: a composite type's
    /// name (parsed as a relation), the words in a definition's options (parsed as types).
    not_references: BTreeSet<ObjectRef>,
}

impl<'a> Walker<'a> {
    fn new(schema: &'a str) -> Self {
        Walker { schema, analysis: Analysis::default(), not_references: BTreeSet::new() }
    }

    fn statement(mut self, node: &NodeEnum, text: &str) -> Analysis {
        self.specific(node, text);
        // A CREATE SCHEMA names nothing but its elements, which `create_schema` walks in the
        // new schema.
        if !matches!(node, NodeEnum::CreateSchemaStmt(_)) {
            self.generic_references(node);
        }
        let mut analysis = self.analysis;
        analysis.footprint.references.retain(|o| !self.not_references.contains(o));
        analysis.footprint.settle();
        analysis
    }

    // ----- recording -----

    fn create(&mut self, kind: RefKind, name: String, noun: &'static str) {
        let object = ObjectRef::new(kind, name);
        self.analysis.nouns.insert(object.clone(), noun);
        self.analysis.footprint.creates.insert(object);
    }

    fn alter(&mut self, kind: RefKind, name: String) {
        self.analysis.footprint.alters.insert(ObjectRef::new(kind, name));
    }

    fn drop_object(&mut self, object: ObjectRef) {
        self.analysis.footprint.drops.insert(object);
    }

    fn refer(&mut self, kind: RefKind, name: String) {
        self.analysis.footprint.references.insert(ObjectRef::new(kind, name));
    }

    fn label(&mut self, label: String) {
        self.analysis.subject.get_or_insert(label);
    }

    /// Takes in the footprint of SQL run by this statement (a `DO` block's body, the elements
    /// of a CREATE SCHEMA).
    fn absorb(&mut self, inner: Analysis) {
        let fp = &mut self.analysis.footprint;
        fp.creates.extend(inner.footprint.creates);
        fp.alters.extend(inner.footprint.alters);
        fp.drops.extend(inner.footprint.drops);
        fp.renamed.extend(inner.footprint.renamed);
        fp.references.extend(inner.footprint.references);
        fp.dynamic_sql |= inner.footprint.dynamic_sql;
        self.analysis.nouns.extend(inner.nouns);
        self.analysis.keys.unique.extend(inner.keys.unique);
        self.analysis.keys.foreign.extend(inner.keys.foreign);
    }

    /// Hands the statement to its family's rule, which records what it creates, alters and
    /// drops (the generic walk in `queries` finds the rest).
    fn specific(&mut self, node: &NodeEnum, text: &str) {
        match node {
            NodeEnum::CreateStmt(s) => self.create_table(s, "table"),
            NodeEnum::CreateForeignTableStmt(s) => self.create_foreign_table(s),
            NodeEnum::ViewStmt(s) => self.create_view(s),
            NodeEnum::CreateTableAsStmt(s) => self.create_table_as(s),
            NodeEnum::AlterTableStmt(s) => self.alter_table(s),
            NodeEnum::RuleStmt(s) => self.create_rule(s),
            NodeEnum::IndexStmt(s) => self.create_index(s),
            NodeEnum::CreateSeqStmt(s) => self.create_sequence(s),
            NodeEnum::AlterSeqStmt(s) => self.alter_sequence(s),
            NodeEnum::CreateEnumStmt(s) => self.create_type(&strings(&s.type_name), "enum type"),
            NodeEnum::CreateRangeStmt(s) => self.create_range_type(s),
            NodeEnum::CreateDomainStmt(s) => self.create_type(&strings(&s.domainname), "domain"),
            NodeEnum::CompositeTypeStmt(s) => self.create_composite_type(s),
            NodeEnum::DefineStmt(s) => self.define(s),
            NodeEnum::AlterEnumStmt(s) => self.alter_type(&strings(&s.type_name)),
            NodeEnum::AlterDomainStmt(s) => self.alter_type(&strings(&s.type_name)),
            NodeEnum::AlterTypeStmt(s) => self.alter_type(&strings(&s.type_name)),
            NodeEnum::CreateFunctionStmt(s) => self.create_function(s, text),
            NodeEnum::AlterFunctionStmt(s) => self.alter_function(s),
            NodeEnum::DoStmt(s) => self.do_block(s),
            NodeEnum::CreateTrigStmt(s) => self.create_trigger(s),
            NodeEnum::CreateEventTrigStmt(s) => self.create_event_trigger(s),
            NodeEnum::CreatePolicyStmt(s) => self.policy(s.table.as_ref(), &s.policy_name, true),
            NodeEnum::AlterPolicyStmt(s) => self.policy(s.table.as_ref(), &s.policy_name, false),
            NodeEnum::CreateSchemaStmt(s) => self.create_schema(s, text),
            NodeEnum::CreateExtensionStmt(s) => self.create_extension(s),
            NodeEnum::AlterExtensionStmt(s) => self.alter_extension(s),
            NodeEnum::DropStmt(s) => self.drop_objects(s),
            NodeEnum::RenameStmt(s) => self.rename(s),
            NodeEnum::AlterObjectSchemaStmt(s) => self.set_schema(s),
            NodeEnum::GrantStmt(s) => self.grant(s),
            NodeEnum::AlterDefaultPrivilegesStmt(s) => self.default_privileges(s),
            NodeEnum::CommentStmt(s) => self.comment(s),
            NodeEnum::AlterOwnerStmt(s) => self.alter_owner(s),
            NodeEnum::VariableSetStmt(s) => self.set_variable(s),
            NodeEnum::CreateRoleStmt(s) => self.create_role(s),
            NodeEnum::AlterRoleStmt(s) => self.alter_role(s.role.as_ref()),
            NodeEnum::AlterRoleSetStmt(s) => self.alter_role(s.role.as_ref()),
            NodeEnum::DropRoleStmt(s) => self.drop_roles(s),
            NodeEnum::GrantRoleStmt(s) => self.grant_role(s),
            NodeEnum::SelectStmt(s) => self.select(s),
            _ => {}
        }
    }
}

/// What the rule files' tests share: name lists for assertions, and the rendering their
/// snapshots record.
#[cfg(test)]
mod testing {
    use std::fmt::Write as _;
    use std::path::Path;

    use super::*;
    use crate::migration::Span;

    /// The names of a set, as `kind name` strings ("relation public.t").
    pub(super) fn names(set: &BTreeSet<ObjectRef>) -> Vec<String> {
        set.iter().map(ToString::to_string).collect()
    }

    pub(super) fn has(set: &BTreeSet<ObjectRef>, name: &str) -> bool {
        names(set).iter().any(|n| n == name)
    }

    /// The columns of `fp.references`, without the kind.
    pub(super) fn columns(fp: &Footprint) -> Vec<String> {
        fp.references.iter().filter(|o| o.kind == RefKind::Column).map(|o| o.name.clone()).collect()
    }

    pub(super) fn script(sql: &str) -> Script {
        Script::parse(Path::new("test.sql"), sql.to_string(), Span { start: 0, end: sql.len() }).unwrap()
    }

    /// One line per name the footprint mentions: `create`, `alter`, `drop` (marked `(renamed)`
    /// for the old name of a RENAME or SET SCHEMA), `refer`, each role's names in their sorted
    /// order (kind, then name); then `dynamic sql` if it is.
    pub(super) fn render(fp: &Footprint) -> String {
        render_with_nouns(fp, &BTreeMap::new())
    }

    /// [`render`], with the noun of each created name that has one: `create relation public.t (table)`.
    fn render_with_nouns(fp: &Footprint, nouns: &BTreeMap<ObjectRef, &'static str>) -> String {
        let mut out = String::new();
        for o in &fp.creates {
            match nouns.get(o) {
                Some(noun) => writeln!(out, "create {o} ({noun})"),
                None => writeln!(out, "create {o}"),
            }
            .unwrap();
        }
        for o in &fp.alters {
            writeln!(out, "alter  {o}").unwrap();
        }
        for o in &fp.drops {
            let renamed = if fp.renamed.contains(o) { " (renamed)" } else { "" };
            writeln!(out, "drop   {o}{renamed}").unwrap();
        }
        for o in &fp.references {
            writeln!(out, "refer  {o}").unwrap();
        }
        if fp.dynamic_sql {
            writeln!(out, "dynamic sql").unwrap();
        }
        out
    }

    fn render_key(key: &Key) -> String {
        match (key.columns.as_slice(), key.primary) {
            ([], _) => format!("{} (its primary key)", key.table),
            (columns, primary) => format!("{} ({}){}", key.table, columns.join(", "), if primary { " primary" } else { "" }),
        }
    }

    /// A script statement by statement: the statement's SQL, then indented its label, whether
    /// it only sets session state, its footprint (created names with their nouns) and its keys.
    pub(super) fn render_script(sql: &str) -> String {
        let script = script(sql);
        let analysis = analyze_script(&script);
        let mut out = String::new();
        for (statement, info) in script.statements.iter().zip(&analysis.statements) {
            writeln!(out, "{}", statement.sql.trim()).unwrap();
            let mut lines = Vec::new();
            if let Some(label) = &info.label {
                lines.push(format!("label  {label}"));
            }
            if info.session {
                lines.push("session".to_string());
            }
            lines.extend(render_with_nouns(&info.footprint, &analysis.nouns).lines().map(str::to_string));
            lines.extend(info.keys.unique.iter().map(|k| format!("unique key  {}", render_key(k))));
            lines.extend(info.keys.foreign.iter().map(|k| format!("foreign key to  {}", render_key(k))));
            for line in lines {
                writeln!(out, "    {line}").unwrap();
            }
            out.push('\n');
        }
        out
    }

    /// [`render_script`] of each SQL text in turn: the body of a rule file's snapshot.
    pub(super) fn render_each(sqls: &[&str]) -> String {
        sqls.iter().map(|sql| render_script(sql)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn a_script_footprint_is_the_ordered_union() {
        let fp = script_footprint(&script(
            "ALTER TABLE users ADD COLUMN x int;\nCREATE TABLE t (user_id int REFERENCES users);\nCREATE INDEX i ON t (user_id);\nDROP TABLE old;",
        ));
        assert_eq!(names(&fp.alters), ["relation public.users"], "the created t is internal");
        assert!(has(&fp.creates, "relation public.i") && has(&fp.creates, "column public.users.x"));
        assert_eq!(names(&fp.drops), ["relation public.old", "type public.old"]);
        assert!(fp.references.is_empty(), "{:?}", names(&fp.references));
    }

    #[test]
    fn unparseable_sql_has_an_empty_footprint() {
        assert_eq!(statement_footprint("CREATE TABLEX oops ("), Footprint::default());
        assert_eq!(statement_footprint("DO $$ BEGIN this is not plpgsql; END $$"), Footprint::default());
    }

    /// A script's footprint: what it creates is internal, so later alters and references of it
    /// drop out.
    #[test]
    fn a_script_footprint_snapshot() {
        let footprint = render(&script_footprint(&script(
            "ALTER TABLE users ADD COLUMN x int;\nCREATE TABLE t (user_id int REFERENCES users);\nCREATE INDEX i ON t (user_id);\n\
             ALTER TABLE t ADD COLUMN y int;\nDROP TABLE old;\nALTER TABLE old2 RENAME TO new2;\nSELECT f(new2.a) FROM new2;",
        )));
        insta::assert_snapshot!(footprint);
    }
}
