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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use pg_query::protobuf::{self as pb, AlterTableType, ConstrType, GrantTargetType, ObjectType, VariableSetKind};
use pg_query::{Node, NodeEnum};
use serde::Serialize;
use serde_json::Value;

use crate::migration::plpgsql::{self, def_elem, node_string};
use crate::migration::Script;

/// The namespaces names live in. Tables, views, materialized views, indexes and sequences
/// share one (`Relation`), as they do in Postgres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum RefKind {
    Schema,
    Extension,
    Relation,
    Type,
    Function,
    Constraint,
    Trigger,
    Policy,
    Column,
}

impl RefKind {
    /// How messages call an object of this kind when nothing more precise is known.
    pub fn noun(self) -> &'static str {
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
        }
    }
}

/// A named database object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectRef {
    pub kind: RefKind,
    pub name: String,
}

impl ObjectRef {
    pub fn new(kind: RefKind, name: impl Into<String>) -> Self {
        ObjectRef { kind, name: name.into() }
    }

    /// The schema part of a schema-qualified name (none for schemas and extensions).
    pub fn schema(&self) -> Option<&str> {
        match self.kind {
            RefKind::Schema | RefKind::Extension => None,
            _ => self.name.split('.').next(),
        }
    }

    /// The table a column, constraint, trigger or policy belongs to, or the relation itself.
    pub fn table(&self) -> Option<String> {
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

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.noun(), self.name)
    }
}

/// What some SQL does to named objects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Footprint {
    /// CREATE TABLE/INDEX/SEQUENCE/VIEW/TYPE/FUNCTION/..., ADD CONSTRAINT, ADD COLUMN (and the
    /// columns, row type, implicit sequences and constraint indexes a CREATE TABLE makes),
    /// CREATE TRIGGER/POLICY, the new name of a RENAME.
    pub creates: BTreeSet<ObjectRef>,
    /// ALTER TABLE x (x, and the column it names), ALTER TYPE, ALTER SEQUENCE, COMMENT ON, GRANT.
    pub alters: BTreeSet<ObjectRef>,
    /// DROP, and the old name of a RENAME or SET SCHEMA: the name is gone after the statement.
    pub drops: BTreeSet<ObjectRef>,
    /// The drops that are old names of a RENAME or SET SCHEMA (for messages).
    pub(crate) renamed: BTreeSet<ObjectRef>,
    /// Every other name used.
    pub references: BTreeSet<ObjectRef>,
    /// A PL/pgSQL EXECUTE (in a `DO` block) whose SQL is not a literal: the footprint may be
    /// incomplete.
    pub dynamic_sql: bool,
}

impl Footprint {
    /// Every name the footprint mentions, in any role.
    pub fn names(&self) -> impl Iterator<Item = &ObjectRef> {
        self.creates.iter().chain(&self.alters).chain(&self.drops).chain(&self.references)
    }

    /// Appends the footprint of SQL that runs after this: what this already created is internal
    /// to the sequence, so later alters and references of it drop out.
    pub fn then(&mut self, next: Footprint) {
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
pub struct Key {
    pub table: String,
    pub columns: Vec<String>,
    pub primary: bool,
}

impl Key {
    /// Whether this unique key can back a foreign key that points at `target`.
    pub fn serves(&self, target: &Key) -> bool {
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
pub struct Keys {
    pub unique: Vec<Key>,
    pub foreign: Vec<Key>,
}

/// What one statement of a script does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatementInfo {
    pub footprint: Footprint,
    pub keys: Keys,
    /// A short description: "table public.t", "index public.i", "constraint public.t.c",
    /// "default public.t.id", "owned by public.t_id_seq", "comment on column public.t.c".
    pub label: Option<String>,
    /// The statement only sets session state (`SET ...`, `SELECT set_config(...)`).
    pub session: bool,
}

/// Every statement of a script, analyzed with the search_path the script set before it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptAnalysis {
    pub statements: Vec<StatementInfo>,
    /// What each created object is, in words ("table", "index", "sequence", "enum type", ...).
    pub nouns: BTreeMap<ObjectRef, &'static str>,
}

impl ScriptAnalysis {
    /// The union of the statements' footprints, in order.
    pub fn footprint(&self) -> Footprint {
        let mut footprint = Footprint::default();
        for statement in &self.statements {
            footprint.then(statement.footprint.clone());
        }
        footprint
    }

    pub fn noun(&self, object: &ObjectRef) -> &'static str {
        self.nouns.get(object).copied().unwrap_or(object.kind.noun())
    }
}

/// The footprint of one statement (several, if `sql` holds several). Unparseable SQL has an
/// empty footprint.
pub fn statement_footprint(sql: &str) -> Footprint {
    analyze_sql(sql, DEFAULT_SCHEMA).footprint
}

/// The union of a script's statement footprints, in order.
pub fn script_footprint(script: &Script) -> Footprint {
    analyze_script(script).footprint()
}

/// Analyzes every statement of a script, following the `search_path` it sets.
pub fn analyze_script(script: &Script) -> ScriptAnalysis {
    let mut schema = DEFAULT_SCHEMA.to_string();
    let mut result = ScriptAnalysis::default();
    for statement in &script.statements {
        let analysis = analyze_sql(&statement.sql, &schema);
        if let Some(path) = &analysis.search_path {
            schema = path.clone();
        }
        result.nouns.extend(analysis.nouns.iter().map(|(o, n)| (o.clone(), *n)));
        let label = analysis.subject.clone().or_else(|| fallback_label(&analysis));
        result.statements.push(StatementInfo {
            footprint: analysis.footprint,
            keys: analysis.keys,
            label,
            session: analysis.session,
        });
    }
    result
}

const DEFAULT_SCHEMA: &str = "public";

fn is_system_schema(schema: &str) -> bool {
    matches!(schema, "pg_catalog" | "information_schema" | "pg_temp" | "pg_toast")
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
        let next = Collector::new(&schema).statement(node, statement_text(sql, raw));
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

/// A table (or other relation) name, split so implicit names can be derived from it.
struct TableName {
    schema: String,
    name: String,
}

impl TableName {
    fn full(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// A column, constraint, trigger or policy of this table.
    fn member(&self, name: &str) -> String {
        format!("{}.{}.{}", self.schema, self.name, name)
    }

    /// Another relation in the same schema (an index, an implicit sequence).
    fn sibling(&self, name: &str) -> String {
        format!("{}.{}", self.schema, name)
    }
}

/// Gathers the footprint of one statement.
struct Collector<'a> {
    schema: &'a str,
    analysis: Analysis,
    /// Names the statement defines that the generic walk would take for references (a
    /// composite type's name is parsed as a relation).
    not_references: BTreeSet<ObjectRef>,
}

impl<'a> Collector<'a> {
    fn new(schema: &'a str) -> Self {
        Collector { schema, analysis: Analysis::default(), not_references: BTreeSet::new() }
    }

    fn statement(mut self, node: &NodeEnum, text: &str) -> Analysis {
        self.specific(node, text);
        self.generic_references(node);
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

    /// Takes in the footprint of SQL run by this statement (a `DO` block's body).
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

    // ----- names -----

    fn qualify(&self, schema: &str, name: &str) -> String {
        let schema = if schema.is_empty() { self.schema } else { schema };
        format!("{schema}.{name}")
    }

    fn table(&self, rv: &pb::RangeVar) -> TableName {
        let schema = match (rv.schemaname.as_str(), rv.relpersistence.as_str()) {
            ("", "t") => "pg_temp",
            ("", _) => self.schema,
            (schema, _) => schema,
        };
        TableName { schema: schema.to_string(), name: rv.relname.clone() }
    }

    /// `[schema.]name` from a list of name parts (a leading catalog name is ignored).
    fn list_name(&self, parts: &[String]) -> Option<String> {
        match parts {
            [name] => Some(self.qualify("", name)),
            [.., schema, name] => Some(self.qualify(schema, name)),
            [] => None,
        }
    }

    /// `[schema.]table.member` from a list of name parts.
    fn member_name(&self, parts: &[String]) -> Option<String> {
        let (member, table) = parts.split_last()?;
        Some(format!("{}.{member}", self.list_name(table)?))
    }

    /// The object a COMMENT, DROP, GRANT or ALTER ... OWNER statement names.
    fn object_ref(&self, objtype: ObjectType, node: &Node) -> Option<ObjectRef> {
        let inner = node.node.as_ref()?;
        let parts = match inner {
            NodeEnum::List(list) => strings(&list.items),
            NodeEnum::String(s) => vec![s.sval.clone()],
            NodeEnum::TypeName(t) => strings(&t.names),
            NodeEnum::ObjectWithArgs(f) => strings(&f.objname),
            NodeEnum::RangeVar(rv) => return Some(ObjectRef::new(relation_kind(objtype)?, self.table(rv).full())),
            _ => return None,
        };
        use ObjectType as O;
        let (kind, name) = match objtype {
            O::ObjectSchema => (RefKind::Schema, parts.last()?.clone()),
            O::ObjectExtension => (RefKind::Extension, parts.last()?.clone()),
            O::ObjectColumn => (RefKind::Column, self.member_name(&parts)?),
            O::ObjectTabconstraint => (RefKind::Constraint, self.member_name(&parts)?),
            O::ObjectTrigger => (RefKind::Trigger, self.member_name(&parts)?),
            O::ObjectPolicy => (RefKind::Policy, self.member_name(&parts)?),
            O::ObjectRule => (RefKind::Relation, self.list_name(&parts[..parts.len().saturating_sub(1)])?),
            other => (relation_kind(other)?, self.list_name(&parts)?),
        };
        Some(ObjectRef::new(kind, name))
    }

    // ----- statement rules -----

    fn specific(&mut self, node: &NodeEnum, text: &str) {
        match node {
            NodeEnum::CreateStmt(s) => self.create_table(s, "table"),
            NodeEnum::CreateForeignTableStmt(s) => {
                if let Some(base) = &s.base_stmt {
                    self.create_table(base, "foreign table");
                }
            }
            NodeEnum::IndexStmt(s) => self.create_index(s),
            NodeEnum::AlterTableStmt(s) => self.alter_table(s),
            NodeEnum::CreateSeqStmt(s) => self.create_sequence(s),
            NodeEnum::AlterSeqStmt(s) => self.alter_sequence(s),
            NodeEnum::ViewStmt(s) => {
                if let Some(rv) = &s.view {
                    self.create_relation(&self.table(rv), "view");
                }
            }
            NodeEnum::CreateTableAsStmt(s) => {
                let noun = if s.objtype == ObjectType::ObjectMatview as i32 { "materialized view" } else { "table" };
                if let Some(rv) = s.into.as_ref().and_then(|i| i.rel.as_ref()) {
                    self.create_relation(&self.table(rv), noun);
                }
            }
            NodeEnum::CreateEnumStmt(s) => self.create_type(&strings(&s.type_name), "enum type"),
            NodeEnum::CreateRangeStmt(s) => self.create_type(&strings(&s.type_name), "range type"),
            NodeEnum::CreateDomainStmt(s) => self.create_type(&strings(&s.domainname), "domain"),
            NodeEnum::CompositeTypeStmt(s) => {
                if let Some(rv) = &s.typevar {
                    let name = self.table(rv).full();
                    self.not_references.insert(ObjectRef::new(RefKind::Relation, name.clone()));
                    self.label(format!("type {name}"));
                    self.create(RefKind::Type, name, "composite type");
                }
            }
            NodeEnum::DefineStmt(s) => self.define(s),
            NodeEnum::AlterEnumStmt(s) => self.alter_type(&strings(&s.type_name)),
            NodeEnum::AlterDomainStmt(s) => self.alter_type(&strings(&s.type_name)),
            NodeEnum::AlterTypeStmt(s) => self.alter_type(&strings(&s.type_name)),
            NodeEnum::CreateFunctionStmt(s) => self.create_function(s, text),
            NodeEnum::AlterFunctionStmt(s) => {
                if let Some(name) = s.func.as_ref().and_then(|f| self.list_name(&strings(&f.objname))) {
                    self.label(format!("alter function {name}"));
                    self.alter(RefKind::Function, name);
                }
            }
            NodeEnum::DoStmt(s) => self.do_block(s),
            NodeEnum::CreateTrigStmt(s) => self.create_trigger(s),
            NodeEnum::CreatePolicyStmt(s) => self.policy(s.table.as_ref(), &s.policy_name, true),
            NodeEnum::AlterPolicyStmt(s) => self.policy(s.table.as_ref(), &s.policy_name, false),
            NodeEnum::RuleStmt(s) => {
                if let Some(rv) = &s.relation {
                    let table = self.table(rv).full();
                    self.label(format!("rule {table}.{}", s.rulename));
                    self.alter(RefKind::Relation, table);
                }
            }
            NodeEnum::CreateEventTrigStmt(s) => self.call_function(&strings(&s.funcname)),
            NodeEnum::CreateExtensionStmt(s) => {
                self.label(format!("extension {}", s.extname));
                self.create(RefKind::Extension, s.extname.clone(), "extension");
                if let Some(schema) = def_elem(&s.options, "schema").and_then(node_string) {
                    self.refer(RefKind::Schema, schema.to_string());
                }
            }
            NodeEnum::AlterExtensionStmt(s) => self.alter(RefKind::Extension, s.extname.clone()),
            NodeEnum::CreateSchemaStmt(s) => {
                self.label(format!("schema {}", s.schemaname));
                self.create(RefKind::Schema, s.schemaname.clone(), "schema");
            }
            NodeEnum::DropStmt(s) => self.drop_objects(s),
            NodeEnum::RenameStmt(s) => self.rename(s),
            NodeEnum::CommentStmt(s) => {
                let objtype = object_type(s.objtype);
                if let Some(object) = s.object.as_deref().and_then(|o| self.object_ref(objtype, o)) {
                    self.label(format!("comment on {} {}", object_noun(objtype, object.kind), object.name));
                    self.analysis.footprint.alters.insert(object);
                }
            }
            NodeEnum::GrantStmt(s) => self.grant(s),
            NodeEnum::AlterOwnerStmt(s) => {
                let objtype = object_type(s.object_type);
                if let Some(object) = s.object.as_deref().and_then(|o| self.object_ref(objtype, o)) {
                    self.analysis.footprint.alters.insert(object);
                }
            }
            NodeEnum::AlterObjectSchemaStmt(s) => self.set_schema(s),
            NodeEnum::VariableSetStmt(s) => self.set_variable(s),
            NodeEnum::SelectStmt(s) => self.select(s),
            _ => {}
        }
    }

    /// A relation with a row type of the same name (tables, views, materialized views).
    fn create_relation(&mut self, table: &TableName, noun: &'static str) {
        self.label(format!("{noun} {}", table.full()));
        self.create(RefKind::Relation, table.full(), noun);
        self.create(RefKind::Type, table.full(), "row type");
    }

    fn create_table(&mut self, s: &pb::CreateStmt, noun: &'static str) {
        let Some(rv) = &s.relation else { return };
        let table = self.table(rv);
        self.create_relation(&table, noun);
        for element in s.table_elts.iter().chain(&s.constraints) {
            match element.node.as_ref() {
                Some(NodeEnum::ColumnDef(column)) => self.column_def(&table, column),
                Some(NodeEnum::Constraint(constraint)) => self.constraint(&table, None, constraint),
                _ => {}
            }
        }
    }

    /// A column of CREATE TABLE or ADD COLUMN, with its inline constraints and the sequence a
    /// `serial` type makes.
    fn column_def(&mut self, table: &TableName, column: &pb::ColumnDef) {
        self.create(RefKind::Column, table.member(&column.colname), "column");
        if column.type_name.as_ref().is_some_and(is_serial) {
            let sequence = implicit_name(&table.name, Some(&column.colname), "seq");
            self.create(RefKind::Relation, table.sibling(&sequence), "sequence");
        }
        for constraint in &column.constraints {
            if let Some(NodeEnum::Constraint(c)) = constraint.node.as_ref() {
                self.constraint(table, Some(&column.colname), c);
            }
        }
    }

    /// A table or column constraint: the constraint (named as Postgres would name it when the
    /// SQL does not), the index of a PRIMARY KEY/UNIQUE/EXCLUDE, the sequence of an identity.
    fn constraint(&mut self, table: &TableName, column: Option<&str>, c: &pb::Constraint) {
        let contype = ConstrType::try_from(c.contype).unwrap_or(ConstrType::Undefined);
        let keys = match (strings(&c.keys), column) {
            (keys, Some(column)) if keys.is_empty() => vec![column.to_string()],
            (keys, _) => keys,
        };
        let (noun, suffix, addition) = match contype {
            ConstrType::ConstrIdentity => {
                let sequence = def_elem(&c.options, "sequence_name")
                    .and_then(|n| self.list_name(&node_strings(n)))
                    .unwrap_or_else(|| table.sibling(&implicit_name(&table.name, column, "seq")));
                self.create(RefKind::Relation, sequence, "sequence");
                return;
            }
            ConstrType::ConstrPrimary => ("primary key", "pkey", None),
            ConstrType::ConstrUnique => ("unique constraint", "key", Some(keys.join("_"))),
            ConstrType::ConstrExclusion => ("exclusion constraint", "excl", Some(exclusion_columns(c).join("_"))),
            ConstrType::ConstrCheck => ("check constraint", "check", check_column(c, column)),
            ConstrType::ConstrForeign => {
                let columns = match (strings(&c.fk_attrs), column) {
                    (cols, Some(column)) if cols.is_empty() => vec![column.to_string()],
                    (cols, _) => cols,
                };
                for col in &columns {
                    self.refer(RefKind::Column, table.member(col));
                }
                self.foreign_key_target(c);
                ("foreign key", "fkey", Some(columns.join("_")))
            }
            _ => return,
        };
        let name = match c.conname.as_str() {
            "" => implicit_name(&table.name, addition.as_deref().filter(|a| !a.is_empty()), suffix),
            name => name.to_string(),
        };
        self.label(format!("constraint {}", table.member(&name)));
        self.create(RefKind::Constraint, table.member(&name), noun);
        if matches!(contype, ConstrType::ConstrPrimary | ConstrType::ConstrUnique | ConstrType::ConstrExclusion) {
            self.create(RefKind::Relation, table.sibling(&name), "index");
            if !c.indexname.is_empty() {
                self.refer(RefKind::Relation, table.sibling(&c.indexname));
            }
            for key in &keys {
                self.refer(RefKind::Column, table.member(key));
            }
        }
        if matches!(contype, ConstrType::ConstrPrimary | ConstrType::ConstrUnique) && !keys.is_empty() {
            let primary = contype == ConstrType::ConstrPrimary;
            self.analysis.keys.unique.push(Key { table: table.full(), columns: keys, primary });
        }
    }

    fn foreign_key_target(&mut self, c: &pb::Constraint) {
        let Some(rv) = &c.pktable else { return };
        let target = self.table(rv);
        let columns = strings(&c.pk_attrs);
        self.refer(RefKind::Relation, target.full());
        for col in &columns {
            self.refer(RefKind::Column, target.member(col));
        }
        self.analysis.keys.foreign.push(Key { table: target.full(), columns, primary: false });
    }

    fn create_index(&mut self, s: &pb::IndexStmt) {
        let Some(rv) = &s.relation else { return };
        let table = self.table(rv);
        let columns: Vec<Option<String>> = s
            .index_params
            .iter()
            .map(|p| match p.node.as_ref() {
                Some(NodeEnum::IndexElem(e)) if !e.name.is_empty() => Some(e.name.clone()),
                _ => None,
            })
            .collect();
        let name = match s.idxname.as_str() {
            "" => {
                let parts: Vec<String> = columns.iter().map(|c| c.clone().unwrap_or_else(|| "expr".into())).collect();
                let suffix = if s.primary {
                    "pkey"
                } else if s.isconstraint {
                    "key"
                } else {
                    "idx"
                };
                implicit_name(&table.name, Some(&parts.join("_")), suffix)
            }
            name => name.to_string(),
        };
        self.label(format!("index {}", table.sibling(&name)));
        self.create(RefKind::Relation, table.sibling(&name), "index");
        self.refer(RefKind::Relation, table.full());
        for column in columns.iter().flatten() {
            self.refer(RefKind::Column, table.member(column));
        }
        let plain: Option<Vec<String>> = columns.into_iter().collect();
        if let (true, None, Some(columns)) = (s.unique, &s.where_clause, plain) {
            self.analysis.keys.unique.push(Key { table: table.full(), columns, primary: s.primary });
        }
    }

    fn alter_table(&mut self, s: &pb::AlterTableStmt) {
        let Some(rv) = &s.relation else { return };
        let table = self.table(rv);
        let objtype = object_type(s.objtype);
        if objtype == ObjectType::ObjectType {
            // ALTER TYPE t ADD ATTRIBUTE: a composite type, parsed as a relation.
            self.not_references.insert(ObjectRef::new(RefKind::Relation, table.full()));
            self.label(format!("alter type {}", table.full()));
            self.alter(RefKind::Type, table.full());
            return;
        }
        self.alter(RefKind::Relation, table.full());
        let commands: Vec<&pb::AlterTableCmd> = s
            .cmds
            .iter()
            .filter_map(|c| match c.node.as_ref() {
                Some(NodeEnum::AlterTableCmd(cmd)) => Some(&**cmd),
                _ => None,
            })
            .collect();
        let outer = self.analysis.subject.take();
        for cmd in &commands {
            self.alter_table_command(&table, cmd);
        }
        // A lone ADD CONSTRAINT keeps the label it gave itself (it knows the implicit name).
        let own = self.analysis.subject.take();
        let general = || format!("alter {} {}", relation_noun(objtype), table.full());
        let label = match commands.as_slice() {
            [cmd] if cmd.subtype == AlterTableType::AtAddConstraint as i32 => own.unwrap_or_else(general),
            [cmd] => command_label(&table, cmd).unwrap_or_else(general),
            _ => general(),
        };
        self.analysis.subject = outer.or(Some(label));
    }

    fn alter_table_command(&mut self, table: &TableName, cmd: &pb::AlterTableCmd) {
        use AlterTableType as A;
        let subtype = AlterTableType::try_from(cmd.subtype).unwrap_or(A::Undefined);
        let def = cmd.def.as_deref().and_then(|d| d.node.as_ref());
        match subtype {
            A::AtAddColumn | A::AtAddColumnToView => {
                if let Some(NodeEnum::ColumnDef(column)) = def {
                    self.column_def(table, column);
                }
            }
            A::AtAddConstraint => {
                if let Some(NodeEnum::Constraint(c)) = def {
                    self.constraint(table, None, c);
                }
            }
            A::AtAddIdentity => {
                self.alter(RefKind::Column, table.member(&cmd.name));
                if let Some(NodeEnum::Constraint(c)) = def {
                    self.constraint(table, Some(&cmd.name), c);
                }
            }
            A::AtDropColumn => self.drop_object(ObjectRef::new(RefKind::Column, table.member(&cmd.name))),
            A::AtDropConstraint => self.drop_object(ObjectRef::new(RefKind::Constraint, table.member(&cmd.name))),
            A::AtValidateConstraint | A::AtAlterConstraint if !cmd.name.is_empty() => {
                self.alter(RefKind::Constraint, table.member(&cmd.name))
            }
            A::AtEnableTrig | A::AtEnableAlwaysTrig | A::AtEnableReplicaTrig | A::AtDisableTrig => {
                self.alter(RefKind::Trigger, table.member(&cmd.name))
            }
            _ if !cmd.name.is_empty() && is_column_command(subtype) => {
                self.alter(RefKind::Column, table.member(&cmd.name))
            }
            _ => {}
        }
    }

    fn create_sequence(&mut self, s: &pb::CreateSeqStmt) {
        let Some(rv) = &s.sequence else { return };
        let name = self.table(rv).full();
        self.label(format!("sequence {name}"));
        self.create(RefKind::Relation, name, "sequence");
        self.owned_by(&s.options);
    }

    fn alter_sequence(&mut self, s: &pb::AlterSeqStmt) {
        let Some(rv) = &s.sequence else { return };
        let name = self.table(rv).full();
        let owned = def_elem(&s.options, "owned_by").is_some();
        self.label(if owned { format!("owned by {name}") } else { format!("alter sequence {name}") });
        self.alter(RefKind::Relation, name);
        self.owned_by(&s.options);
    }

    /// `OWNED BY t.c` needs the table and its column.
    fn owned_by(&mut self, options: &[Node]) {
        let Some(parts) = def_elem(options, "owned_by").map(node_strings) else { return };
        if parts.len() < 2 {
            return; // OWNED BY NONE
        }
        let (_, table) = parts.split_last().unwrap_or((&parts[0], &[]));
        if let (Some(table), Some(column)) = (self.list_name(table), self.member_name(&parts)) {
            self.refer(RefKind::Relation, table);
            self.refer(RefKind::Column, column);
        }
    }

    fn create_type(&mut self, parts: &[String], noun: &'static str) {
        if let Some(name) = self.list_name(parts) {
            self.label(format!("{} {name}", if noun == "domain" { noun } else { "type" }));
            self.create(RefKind::Type, name, noun);
        }
    }

    fn alter_type(&mut self, parts: &[String]) {
        if let Some(name) = self.list_name(parts) {
            self.label(format!("alter type {name}"));
            self.alter(RefKind::Type, name);
        }
    }

    fn define(&mut self, s: &pb::DefineStmt) {
        let parts = strings(&s.defnames);
        match object_type(s.kind) {
            ObjectType::ObjectType => self.create_type(&parts, "type"),
            ObjectType::ObjectAggregate => {
                if let Some(name) = self.list_name(&parts) {
                    self.label(format!("aggregate {name}"));
                    self.create(RefKind::Function, name, "aggregate");
                }
            }
            _ => {}
        }
    }

    /// The function is created; the names its body uses are references (the body does not run).
    fn create_function(&mut self, s: &pb::CreateFunctionStmt, text: &str) {
        let Some(name) = self.list_name(&strings(&s.funcname)) else { return };
        let noun = if s.is_procedure { "procedure" } else { "function" };
        self.label(format!("{noun} {name}"));
        self.create(RefKind::Function, name, noun);
        let language = def_elem(&s.options, "language").and_then(node_string).unwrap_or("sql").to_lowercase();
        let body = def_elem(&s.options, "as").map(node_strings).and_then(|b| b.into_iter().next());
        let inner = match (language.as_str(), body) {
            ("plpgsql", Some(body)) => {
                let inner = plpgsql_analysis(text, self.schema);
                if inner.footprint == Footprint::default() {
                    plpgsql_analysis(&plpgsql::wrap(&body), self.schema)
                } else {
                    inner
                }
            }
            ("sql", Some(body)) => analyze_sql(&body, self.schema),
            _ => return,
        };
        let used: Vec<ObjectRef> = inner.footprint.names().cloned().collect();
        self.analysis.footprint.references.extend(used);
    }

    /// A `DO` block runs its body now: what the body creates, the block creates.
    fn do_block(&mut self, s: &pb::DoStmt) {
        let body = def_elem(&s.args, "as").and_then(node_string);
        let language = def_elem(&s.args, "language").and_then(node_string).unwrap_or("plpgsql");
        if let (Some(body), true) = (body, language.eq_ignore_ascii_case("plpgsql")) {
            let inner = plpgsql_analysis(&plpgsql::wrap(body), self.schema);
            if let Some(subject) = &inner.subject {
                self.label(format!("do block: {subject}"));
            }
            self.absorb(inner);
        }
    }

    fn create_trigger(&mut self, s: &pb::CreateTrigStmt) {
        let Some(rv) = &s.relation else { return };
        let table = self.table(rv);
        self.label(format!("trigger {}", table.member(&s.trigname)));
        self.create(RefKind::Trigger, table.member(&s.trigname), "trigger");
        self.refer(RefKind::Relation, table.full());
        self.call_function(&strings(&s.funcname));
    }

    fn policy(&mut self, rv: Option<&pb::RangeVar>, name: &str, create: bool) {
        let Some(rv) = rv else { return };
        let table = self.table(rv);
        self.refer(RefKind::Relation, table.full());
        if create {
            self.label(format!("policy {}", table.member(name)));
            self.create(RefKind::Policy, table.member(name), "policy");
        } else {
            self.label(format!("alter policy {}", table.member(name)));
            self.alter(RefKind::Policy, table.member(name));
        }
    }

    fn call_function(&mut self, parts: &[String]) {
        if let Some(name) = function_reference(parts, self.schema) {
            self.refer(RefKind::Function, name);
        }
    }

    fn drop_objects(&mut self, s: &pb::DropStmt) {
        let objtype = object_type(s.remove_type);
        for object in &s.objects {
            let Some(object) = self.object_ref(objtype, object) else { continue };
            self.label(format!("drop {} {}", object_noun(objtype, object.kind), object.name));
            if objtype == ObjectType::ObjectRule {
                self.analysis.footprint.alters.insert(object);
                continue;
            }
            if has_row_type(objtype) {
                self.drop_object(ObjectRef::new(RefKind::Type, object.name.clone()));
            }
            self.drop_object(object);
        }
    }

    fn rename(&mut self, s: &pb::RenameStmt) {
        use ObjectType as O;
        let objtype = object_type(s.rename_type);
        let table = s.relation.as_ref().map(|rv| self.table(rv));
        let (kind, old, new) = match (objtype, &table) {
            (O::ObjectColumn | O::ObjectTabconstraint | O::ObjectTrigger | O::ObjectPolicy, Some(t)) => {
                self.alter(RefKind::Relation, t.full());
                let kind = match objtype {
                    O::ObjectColumn => RefKind::Column,
                    O::ObjectTabconstraint => RefKind::Constraint,
                    O::ObjectTrigger => RefKind::Trigger,
                    _ => RefKind::Policy,
                };
                (kind, t.member(&s.subname), t.member(&s.newname))
            }
            (O::ObjectAttribute, Some(t)) => {
                self.not_references.insert(ObjectRef::new(RefKind::Relation, t.full()));
                self.alter(RefKind::Type, t.full());
                return;
            }
            (O::ObjectSchema, _) => (RefKind::Schema, s.subname.clone(), s.newname.clone()),
            (_, Some(t)) if relation_kind(objtype).is_some() => {
                if has_row_type(objtype) {
                    self.rename_away(ObjectRef::new(RefKind::Type, t.full()));
                    self.create(RefKind::Type, t.sibling(&s.newname), "row type");
                }
                (RefKind::Relation, t.full(), t.sibling(&s.newname))
            }
            _ => {
                let Some(object) = s.object.as_deref().and_then(|o| self.object_ref(objtype, o)) else { return };
                let schema = object.schema().unwrap_or(self.schema).to_string();
                (object.kind, object.name, format!("{schema}.{}", s.newname))
            }
        };
        let noun = object_noun(objtype, kind);
        self.label(format!("rename {noun} {old}"));
        self.rename_away(ObjectRef::new(kind, old));
        self.create(kind, new, noun);
    }

    /// The old name of a RENAME or SET SCHEMA: gone after the statement, like a drop.
    fn rename_away(&mut self, old: ObjectRef) {
        self.analysis.footprint.renamed.insert(old.clone());
        self.drop_object(old);
    }

    fn grant(&mut self, s: &pb::GrantStmt) {
        let objtype = object_type(s.objtype);
        let verb = if s.is_grant { "grant on" } else { "revoke on" };
        let all_in_schema = s.targtype == GrantTargetType::AclTargetAllInSchema as i32;
        for object in &s.objects {
            let object = if all_in_schema {
                node_string(object).map(|schema| ObjectRef::new(RefKind::Schema, schema))
            } else {
                self.object_ref(objtype, object)
            };
            if let Some(object) = object {
                self.label(format!("{verb} {} {}", object_noun(objtype, object.kind), object.name));
                self.analysis.footprint.alters.insert(object);
            }
        }
    }

    fn set_schema(&mut self, s: &pb::AlterObjectSchemaStmt) {
        let objtype = object_type(s.object_type);
        let object = match (&s.relation, s.object.as_deref()) {
            (Some(rv), _) => relation_kind(objtype).map(|kind| ObjectRef::new(kind, self.table(rv).full())),
            (None, Some(node)) => self.object_ref(objtype, node),
            _ => None,
        };
        let Some(object) = object else { return };
        let Some(base) = object.name.rsplit('.').next().map(str::to_string) else { return };
        self.label(format!("set schema of {} {}", object_noun(objtype, object.kind), object.name));
        self.refer(RefKind::Schema, s.newschema.clone());
        let kind = object.kind;
        if has_row_type(objtype) {
            self.rename_away(ObjectRef::new(RefKind::Type, object.name.clone()));
            self.create(RefKind::Type, format!("{}.{base}", s.newschema), "row type");
        }
        self.rename_away(object);
        self.create(kind, format!("{}.{base}", s.newschema), object_noun(objtype, kind));
    }

    fn set_variable(&mut self, s: &pb::VariableSetStmt) {
        self.analysis.session = true;
        if !s.name.eq_ignore_ascii_case("search_path") {
            return;
        }
        let schemas: Vec<String> = s.args.iter().filter_map(|a| const_string(a).map(str::to_string)).collect();
        self.analysis.search_path = Some(if s.kind == VariableSetKind::VarSetValue as i32 {
            first_schema(schemas.iter().map(String::as_str)).unwrap_or_else(|| DEFAULT_SCHEMA.to_string())
        } else {
            DEFAULT_SCHEMA.to_string() // RESET / SET TO DEFAULT
        });
    }

    /// `SELECT [pg_catalog.]set_config(...)` with nothing else is session setup (pg_dump's
    /// preamble); `set_config('search_path', ...)` also moves the default schema.
    fn select(&mut self, s: &pb::SelectStmt) {
        let calls: Vec<&pb::FuncCall> = s
            .target_list
            .iter()
            .filter_map(|t| match t.node.as_ref() {
                Some(NodeEnum::ResTarget(r)) => match r.val.as_deref().and_then(|v| v.node.as_ref()) {
                    Some(NodeEnum::FuncCall(call)) => Some(&**call),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let is_set_config = |call: &&pb::FuncCall| strings(&call.funcname).last().is_some_and(|n| n == "set_config");
        if calls.is_empty()
            || calls.len() != s.target_list.len()
            || !s.from_clause.is_empty()
            || !calls.iter().all(is_set_config)
        {
            return;
        }
        self.analysis.session = true;
        for call in calls {
            let args: Vec<Option<&str>> = call.args.iter().map(const_string).collect();
            if let [Some(name), Some(value), ..] = args.as_slice() {
                if name.eq_ignore_ascii_case("search_path") {
                    let path: Vec<String> = value.split(',').map(|p| parse_identifier(p.trim())).collect();
                    let schema = first_schema(path.iter().map(String::as_str));
                    self.analysis.search_path = Some(schema.unwrap_or_else(|| DEFAULT_SCHEMA.to_string()));
                }
            }
        }
    }

    // ----- references found anywhere in the tree -----

    /// The names a parse tree mentions, found by the shape of its JSON form: typed fields such as
    /// `CreateStmt.relation` serialize without their node tag, so tags alone would miss them.
    fn generic_references(&mut self, node: &NodeEnum) {
        let Ok(tree) = serde_json::to_value(node) else { return };
        let mut ctes = BTreeSet::new();
        collect_cte_names(&tree, &mut ctes);
        let mut lookups = Vec::new();
        self.walk(&tree, &ctes, &mut lookups);
        self.catalog_lookups(&lookups);
        self.column_references(&tree, &ctes);
    }

    /// The columns a statement names, resolved against the relations it names: `alias.c` and
    /// `table.c` to that relation; an unqualified `c` to every relation of the statement (one
    /// of them has it; the columns the others lack are never created, so they add no
    /// dependency); `NEW.c`, `OLD.c` and `EXCLUDED.c` to the statement's relations (a trigger's
    /// table, an upsert's target). Target lists (INSERT columns, UPDATE SET, MERGE, COPY, a
    /// trigger's `UPDATE OF`, `JOIN ... USING`) name columns of their statement's relation.
    fn column_references(&mut self, tree: &Value, ctes: &BTreeSet<String>) {
        let mut scope = ColumnScope::default();
        self.collect_scope(tree, ctes, &mut scope);
        let creates = &self.analysis.footprint.creates;
        scope.relations.retain(|(_, table)| !creates.contains(&ObjectRef::new(RefKind::Relation, table.clone())));
        let tables: BTreeSet<&String> = scope.relations.iter().map(|(_, t)| t).collect();
        let mut columns: BTreeSet<String> = scope.targeted;
        for parts in &scope.column_refs {
            match parts.as_slice() {
                [column] => columns.extend(tables.iter().map(|t| format!("{t}.{column}"))),
                [qualifier, column] => {
                    let named: Vec<&String> =
                        scope.relations.iter().filter(|(q, _)| q == qualifier).map(|(_, t)| t).collect();
                    if !named.is_empty() {
                        columns.extend(named.iter().map(|t| format!("{t}.{column}")));
                    } else if matches!(qualifier.as_str(), "new" | "old" | "excluded") {
                        columns.extend(tables.iter().map(|t| format!("{t}.{column}")));
                    }
                }
                [.., schema, table, column] if !is_system_schema(schema) => {
                    columns.insert(format!("{schema}.{table}.{column}"));
                }
                _ => {}
            }
        }
        for column in columns {
            self.refer(RefKind::Column, column);
        }
    }

    /// The relations (by every qualifier that names them), column references and target-list
    /// columns of a parse tree in JSON form.
    fn collect_scope(&self, value: &Value, ctes: &BTreeSet<String>, scope: &mut ColumnScope) {
        match value {
            Value::Array(items) => items.iter().for_each(|item| self.collect_scope(item, ctes, scope)),
            Value::Object(map) => {
                if map.contains_key("relname") && map.contains_key("inh") {
                    if let Some((name, table)) = self.scope_relation(value, ctes) {
                        if let Some(alias) = value["alias"]["aliasname"].as_str().filter(|a| !a.is_empty()) {
                            scope.relations.push((alias.to_string(), table.clone()));
                        }
                        scope.relations.push((name, table));
                    }
                }
                if let Some(fields) = map.get("ColumnRef").map(|c| &c["fields"]) {
                    // `t.*` and `*` name no column.
                    let parts = json_strings(fields);
                    if fields.as_array().is_some_and(|f| f.len() == parts.len()) && !parts.is_empty() {
                        scope.column_refs.push(parts);
                    }
                }
                for (statement, lists) in TARGET_LISTS {
                    let Some(stmt) = map.get(*statement) else { continue };
                    let Some((_, table)) = self.scope_relation(&stmt["relation"], ctes) else { continue };
                    for path in *lists {
                        for name in target_list_names(stmt, path) {
                            scope.targeted.insert(format!("{table}.{name}"));
                        }
                    }
                }
                if let Some(using) = map.get("JoinExpr").map(|j| json_strings(&j["using_clause"])) {
                    scope.column_refs.extend(using.into_iter().map(|c| vec![c]));
                }
                map.values().for_each(|v| self.collect_scope(v, ctes, scope));
            }
            _ => {}
        }
    }

    /// A range variable's relation name and qualified table, unless it is a catalog or a CTE.
    fn scope_relation(&self, rv: &Value, ctes: &BTreeSet<String>) -> Option<(String, String)> {
        let schema = rv["schemaname"].as_str().unwrap_or_default();
        let name = rv["relname"].as_str().unwrap_or_default();
        let catalog_table = schema.is_empty() && name.starts_with("pg_");
        if name.is_empty() || is_system_schema(schema) || catalog_table || (schema.is_empty() && ctes.contains(name)) {
            return None;
        }
        let schema = match (schema, rv["relpersistence"].as_str()) {
            ("", Some("t")) => "pg_temp",
            (schema, _) => schema,
        };
        Some((name.to_string(), self.qualify(schema, name)))
    }

    fn walk(&mut self, value: &Value, ctes: &BTreeSet<String>, lookups: &mut Vec<(String, String)>) {
        match value {
            Value::Array(items) => items.iter().for_each(|item| self.walk(item, ctes, lookups)),
            Value::Object(map) => {
                if map.contains_key("relname") && map.contains_key("inh") {
                    self.range_var_reference(value, ctes);
                } else if map.contains_key("names") && map.contains_key("typmods") && map.contains_key("pct_type") {
                    self.type_reference(value);
                }
                if let Some(call) = map.get("FuncCall") {
                    self.function_call_reference(call);
                }
                if let Some(cast) = map.get("TypeCast") {
                    self.cast_reference(cast);
                }
                if let Some(pair) = map.get("AExpr").and_then(lookup_pair) {
                    lookups.push(pair);
                }
                map.values().for_each(|v| self.walk(v, ctes, lookups));
            }
            _ => {}
        }
    }

    fn range_var_reference(&mut self, rv: &Value, ctes: &BTreeSet<String>) {
        if let Some((_, table)) = self.scope_relation(rv, ctes) {
            self.refer(RefKind::Relation, table);
        }
    }

    fn type_reference(&mut self, type_name: &Value) {
        if type_name["pct_type"].as_bool() == Some(true) {
            return;
        }
        let parts = json_strings(&type_name["names"]);
        let builtin = match parts.as_slice() {
            [name] => is_builtin_type(name),
            [.., schema, _] => schema == "pg_catalog",
            [] => true,
        };
        if !builtin {
            if let Some(name) = self.list_name(&parts) {
                self.refer(RefKind::Type, name);
            }
        }
    }

    /// A function call, and the objects named by string arguments of the lookup functions.
    fn function_call_reference(&mut self, call: &Value) {
        let parts = json_strings(&call["funcname"]);
        self.call_function(&parts);
        let Some(function) = parts.last() else { return };
        let kind = match function.as_str() {
            "nextval" | "currval" | "setval" | "to_regclass" | "pg_get_serial_sequence" => RefKind::Relation,
            "to_regtype" => RefKind::Type,
            "to_regproc" | "to_regprocedure" => RefKind::Function,
            "to_regnamespace" => RefKind::Schema,
            _ => return,
        };
        if let Some(text) = call["args"].get(0).and_then(json_const_string) {
            self.refer_by_string(kind, text);
        }
    }

    /// `'x'::regclass` and its kin name an object in a string.
    fn cast_reference(&mut self, cast: &Value) {
        let parts = json_strings(&cast["type_name"]["names"]);
        let kind = match parts.last().map(String::as_str) {
            Some("regclass") => RefKind::Relation,
            Some("regtype") => RefKind::Type,
            Some("regproc" | "regprocedure") => RefKind::Function,
            Some("regnamespace") => RefKind::Schema,
            _ => return,
        };
        if let Some(text) = json_const_string(&cast["arg"]) {
            self.refer_by_string(kind, text);
        }
    }

    fn refer_by_string(&mut self, kind: RefKind, text: &str) {
        if let Some(object) = self.object_in_string(kind, text) {
            self.analysis.footprint.references.insert(object);
        }
    }

    /// The object a string such as `'public."Users"'` or `'f(int)'` names, parsed the way
    /// Postgres parses it (unquoted parts fold to lower case).
    fn object_in_string(&self, kind: RefKind, text: &str) -> Option<ObjectRef> {
        let text = if kind == RefKind::Function { text.split('(').next().unwrap_or(text) } else { text };
        let parts: Vec<String> = split_qualified(text.trim()).iter().map(|p| parse_identifier(p)).collect();
        if kind == RefKind::Schema {
            return parts.last().map(|s| ObjectRef::new(kind, s.clone()));
        }
        match parts.as_slice() {
            [.., schema, _] if is_system_schema(schema) => None,
            [name] if kind == RefKind::Type && is_builtin_type(name) => None,
            _ => Some(ObjectRef::new(kind, self.list_name(&parts)?)),
        }
    }

    /// Existence checks against the catalogs (`WHERE table_name = 'x'`, `conname = 'c' AND
    /// conrelid = 't'::regclass`, ...) reference what they look for.
    fn catalog_lookups(&mut self, pairs: &[(String, String)]) {
        if pairs.is_empty() {
            return;
        }
        let values = |columns: &[&str]| -> Vec<&str> {
            pairs.iter().filter(|(c, _)| columns.contains(&c.as_str())).map(|(_, v)| v.as_str()).collect()
        };
        let schema = values(&[
            "table_schema",
            "schemaname",
            "nspname",
            "sequence_schema",
            "constraint_schema",
            "routine_schema",
            "trigger_schema",
            "event_object_schema",
            "udt_schema",
        ])
        .first()
        .map(|s| s.to_string())
        .unwrap_or_else(|| self.schema.to_string());
        let mut tables: Vec<String> = values(&[
            "table_name",
            "tablename",
            "relname",
            "indexname",
            "sequence_name",
            "viewname",
            "matviewname",
            "event_object_table",
        ])
        .iter()
        .map(|t| format!("{schema}.{t}"))
        .collect();
        tables.extend(
            values(&["conrelid", "tgrelid", "polrelid", "attrelid", "indrelid"])
                .iter()
                .filter_map(|t| self.object_in_string(RefKind::Relation, t))
                .map(|o| o.name),
        );
        for table in &tables {
            self.refer(RefKind::Relation, table.clone());
        }
        let simple =
            [(RefKind::Type, &["typname", "udt_name"][..]), (RefKind::Function, &["proname", "routine_name"][..])];
        for (kind, columns) in simple {
            for value in values(columns) {
                self.refer(kind, format!("{schema}.{value}"));
            }
        }
        for value in values(&["schema_name"]) {
            self.refer(RefKind::Schema, value.to_string());
        }
        for value in values(&["extname"]) {
            self.refer(RefKind::Extension, value.to_string());
        }
        let Some(table) = tables.first() else { return };
        let members = [
            (RefKind::Column, &["column_name", "attname"][..]),
            (RefKind::Constraint, &["conname", "constraint_name"][..]),
            (RefKind::Trigger, &["tgname", "trigger_name"][..]),
            (RefKind::Policy, &["polname", "policyname"][..]),
        ];
        for (kind, columns) in members {
            for value in values(columns) {
                self.refer(kind, format!("{table}.{value}"));
            }
        }
    }
}

// ----- PL/pgSQL -----

/// The footprint of the SQL a PL/pgSQL function runs, statement by statement in body order.
fn plpgsql_analysis(function_sql: &str, schema: &str) -> Analysis {
    let mut analysis = Analysis::default();
    if let Some(tree) = plpgsql::parse(function_sql) {
        walk_plpgsql(&tree, schema, &mut analysis);
    }
    analysis.session = false;
    analysis
}

fn walk_plpgsql(value: &Value, schema: &str, analysis: &mut Analysis) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| walk_plpgsql(item, schema, analysis)),
        Value::Object(map) => {
            for (key, value) in map {
                match key.as_str() {
                    "PLpgSQL_expr" => analysis.then(expression_analysis(value, schema), false),
                    // EXECUTE, FOR ... IN EXECUTE, RETURN QUERY EXECUTE, OPEN ... FOR EXECUTE.
                    "PLpgSQL_stmt_dynexecute" | "PLpgSQL_stmt_dynfors" => {
                        for (field, inner) in value.as_object().into_iter().flatten() {
                            if field == "query" {
                                analysis.then(dynamic_analysis(inner, schema), false);
                            } else {
                                walk_plpgsql(inner, schema, analysis);
                            }
                        }
                    }
                    "dynquery" => analysis.then(dynamic_analysis(value, schema), false),
                    _ => walk_plpgsql(value, schema, analysis),
                }
            }
        }
        _ => {}
    }
}

/// An embedded SQL statement or expression (`IF <expr>`, `PERFORM`, `x := <expr>`).
fn expression_analysis(expr: &Value, schema: &str) -> Analysis {
    let query = expr["query"].as_str().unwrap_or_default();
    match expr["parseMode"].as_i64().unwrap_or(0) {
        0 => analyze_sql(query, schema),
        // Assignments carry their target: `x := <expr>`.
        3..=5 => {
            let value = query.split_once(":=").or_else(|| query.split_once('=')).map_or(query, |(_, v)| v);
            analyze_sql(&format!("SELECT {value}"), schema)
        }
        1 => Analysis::default(), // a type name
        _ => analyze_sql(&format!("SELECT {query}"), schema),
    }
}

/// EXECUTE of a literal (or literals joined with `||`) runs that SQL; anything else is opaque.
fn dynamic_analysis(expr: &Value, schema: &str) -> Analysis {
    let query = expr["PLpgSQL_expr"]["query"].as_str().unwrap_or_default();
    let select = format!("SELECT {query}");
    let literal = pg_query::parse(&select, 0).ok().and_then(|parsed| {
        let stmt = parsed.protobuf.stmts.first()?.stmt.as_ref()?.node.as_ref()?;
        let NodeEnum::SelectStmt(s) = stmt else { return None };
        let [target] = s.target_list.as_slice() else { return None };
        let Some(NodeEnum::ResTarget(r)) = target.node.as_ref() else { return None };
        literal_text(r.val.as_deref()?)
    });
    match literal {
        Some(sql) => analyze_sql(&sql, schema),
        None => {
            let mut analysis = analyze_sql(&select, schema);
            analysis.footprint.dynamic_sql = true;
            analysis
        }
    }
}

/// The text of a string literal, or of literals concatenated with `||`.
fn literal_text(node: &Node) -> Option<String> {
    match node.node.as_ref()? {
        NodeEnum::AConst(_) => const_string(node).map(str::to_string),
        NodeEnum::AExpr(e) if strings(&e.name) == ["||"] => {
            Some(literal_text(e.lexpr.as_deref()?)? + &literal_text(e.rexpr.as_deref()?)?)
        }
        _ => None,
    }
}

// ----- helpers over parse nodes -----

fn object_type(value: i32) -> ObjectType {
    ObjectType::try_from(value).unwrap_or(ObjectType::Undefined)
}

/// The namespace of an object type that lives among relations (and types/functions).
fn relation_kind(objtype: ObjectType) -> Option<RefKind> {
    use ObjectType as O;
    match objtype {
        O::ObjectTable
        | O::ObjectView
        | O::ObjectMatview
        | O::ObjectIndex
        | O::ObjectSequence
        | O::ObjectForeignTable => Some(RefKind::Relation),
        O::ObjectType | O::ObjectDomain => Some(RefKind::Type),
        O::ObjectFunction | O::ObjectProcedure | O::ObjectRoutine | O::ObjectAggregate => Some(RefKind::Function),
        O::ObjectSchema => Some(RefKind::Schema),
        O::ObjectExtension => Some(RefKind::Extension),
        _ => None,
    }
}

fn has_row_type(objtype: ObjectType) -> bool {
    use ObjectType as O;
    matches!(objtype, O::ObjectTable | O::ObjectView | O::ObjectMatview | O::ObjectForeignTable)
}

fn relation_noun(objtype: ObjectType) -> &'static str {
    use ObjectType as O;
    match objtype {
        O::ObjectView => "view",
        O::ObjectMatview => "materialized view",
        O::ObjectIndex => "index",
        O::ObjectSequence => "sequence",
        O::ObjectForeignTable => "foreign table",
        _ => "table",
    }
}

/// How a message calls an object given its statement's object type.
fn object_noun(objtype: ObjectType, kind: RefKind) -> &'static str {
    use ObjectType as O;
    match objtype {
        O::ObjectTable
        | O::ObjectView
        | O::ObjectMatview
        | O::ObjectIndex
        | O::ObjectSequence
        | O::ObjectForeignTable => relation_noun(objtype),
        O::ObjectDomain => "domain",
        O::ObjectProcedure => "procedure",
        O::ObjectAggregate => "aggregate",
        O::ObjectRule => "rules of table",
        _ => kind.noun(),
    }
}

/// ALTER TABLE subcommands that change one column.
fn is_column_command(subtype: AlterTableType) -> bool {
    use AlterTableType as A;
    matches!(
        subtype,
        A::AtColumnDefault
            | A::AtDropNotNull
            | A::AtSetNotNull
            | A::AtSetExpression
            | A::AtDropExpression
            | A::AtSetStatistics
            | A::AtSetOptions
            | A::AtResetOptions
            | A::AtSetStorage
            | A::AtSetCompression
            | A::AtAlterColumnType
            | A::AtAlterColumnGenericOptions
            | A::AtSetIdentity
            | A::AtDropIdentity
    )
}

/// The label of a single-command ALTER TABLE that has a unit of its own in a pg_dump.
fn command_label(table: &TableName, cmd: &pb::AlterTableCmd) -> Option<String> {
    use AlterTableType as A;
    let column = table.member(&cmd.name);
    match AlterTableType::try_from(cmd.subtype).ok()? {
        A::AtColumnDefault => Some(format!("default {column}")),
        A::AtAddIdentity => Some(format!("identity {column}")),
        A::AtAlterColumnType => Some(format!("column type {column}")),
        A::AtDropColumn => Some(format!("drop column {column}")),
        A::AtDropConstraint => Some(format!("drop constraint {column}")),
        A::AtAddColumn => match cmd.def.as_deref().and_then(|d| d.node.as_ref()) {
            Some(NodeEnum::ColumnDef(c)) => Some(format!("column {}", table.member(&c.colname))),
            _ => None,
        },
        _ => None,
    }
}

fn strings(nodes: &[Node]) -> Vec<String> {
    nodes
        .iter()
        .filter_map(|n| match n.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.clone()),
            _ => None,
        })
        .collect()
}

/// A string constant, possibly cast (`'x'::regclass`).
fn const_string(node: &Node) -> Option<&str> {
    match node.node.as_ref()? {
        NodeEnum::AConst(c) => match c.val.as_ref()? {
            pb::a_const::Val::Sval(s) => Some(&s.sval),
            _ => None,
        },
        NodeEnum::TypeCast(c) => const_string(c.arg.as_deref()?),
        _ => None,
    }
}

/// The strings of a list node (or a single string node).
fn node_strings(node: &Node) -> Vec<String> {
    match node.node.as_ref() {
        Some(NodeEnum::List(list)) => strings(&list.items),
        Some(NodeEnum::String(s)) => vec![s.sval.clone()],
        _ => vec![],
    }
}

fn is_serial(type_name: &pb::TypeName) -> bool {
    let parts = strings(&type_name.names);
    let serial = ["serial", "bigserial", "smallserial", "serial2", "serial4", "serial8"];
    matches!(parts.as_slice(), [name] if serial.contains(&name.as_str()))
}

/// The columns of an EXCLUDE constraint, for its implicit name.
fn exclusion_columns(c: &pb::Constraint) -> Vec<String> {
    c.exclusions
        .iter()
        .filter_map(|e| match e.node.as_ref() {
            Some(NodeEnum::List(pair)) => match pair.items.first()?.node.as_ref()? {
                NodeEnum::IndexElem(elem) if !elem.name.is_empty() => Some(elem.name.clone()),
                _ => Some("expr".to_string()),
            },
            _ => None,
        })
        .collect()
}

/// The column in a CHECK's implicit name: the column it is declared on, or the one column its
/// expression uses (Postgres names it `t_check` otherwise).
fn check_column(c: &pb::Constraint, column: Option<&str>) -> Option<String> {
    if let Some(column) = column {
        return Some(column.to_string());
    }
    let tree = serde_json::to_value(c.raw_expr.as_deref()?).ok()?;
    let mut columns = BTreeSet::new();
    collect_column_refs(&tree, &mut columns);
    let mut columns = columns.into_iter();
    match (columns.next(), columns.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// Postgres's `makeObjectName`: `name1_name2_label`, shortening the longer part until the
/// whole fits in 63 bytes.
fn implicit_name(name1: &str, name2: Option<&str>, label: &str) -> String {
    const MAX: usize = 63;
    let overhead = label.len() + 1 + usize::from(name2.is_some());
    let available = MAX.saturating_sub(overhead);
    let (mut n1, mut n2) = (name1.len(), name2.map_or(0, str::len));
    while n1 + n2 > available {
        if n1 > n2 {
            n1 -= 1;
        } else {
            n2 -= 1;
        }
    }
    let clip = |s: &str, mut n: usize| {
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        s[..n].to_string()
    };
    match name2 {
        Some(name2) => format!("{}_{}_{label}", clip(name1, n1), clip(name2, n2)),
        None => format!("{}_{label}", clip(name1, n1)),
    }
}

/// A function call's reference, unless it is a built-in one.
fn function_reference(parts: &[String], schema: &str) -> Option<String> {
    match parts {
        [name] if is_builtin_function(name) => None,
        [name] => Some(format!("{schema}.{name}")),
        [.., s, _] if is_system_schema(s) => None,
        [.., s, name] => Some(format!("{s}.{name}")),
        [] => None,
    }
}

/// The first schema of a search_path that can hold new objects.
fn first_schema<'s>(path: impl Iterator<Item = &'s str>) -> Option<String> {
    path.map(str::trim).find(|s| !s.is_empty() && *s != "$user" && !is_system_schema(s)).map(str::to_string)
}

/// Splits `a."b.c".d` at the dots outside double quotes.
fn split_qualified(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, ch) in text.char_indices() {
        match ch {
            '"' => quoted = !quoted,
            '.' if !quoted => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// An identifier as Postgres reads it: `"Quoted"` keeps its case, anything else is lower-cased.
fn parse_identifier(part: &str) -> String {
    let part = part.trim();
    match part.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => part.to_lowercase(),
    }
}

// ----- helpers over the JSON form -----

/// The `sval`s of a JSON array of `String` nodes.
fn json_strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["node"]["String"]["sval"].as_str().map(str::to_string))
        .collect()
}

/// A string constant node, possibly cast.
fn json_const_string(node: &Value) -> Option<&str> {
    let inner = &node["node"];
    if let Some(s) = inner["AConst"]["val"]["Sval"]["sval"].as_str() {
        return Some(s);
    }
    let cast = inner.get("TypeCast")?;
    json_const_string(&cast["arg"])
}

/// `column = 'value'` (either way round), for catalog lookups.
fn lookup_pair(expr: &Value) -> Option<(String, String)> {
    if json_strings(&expr["name"]) != ["="] {
        return None;
    }
    let column = |side: &Value| json_strings(&side["node"]["ColumnRef"]["fields"]).pop();
    let (l, r) = (&expr["lexpr"], &expr["rexpr"]);
    match (column(l), json_const_string(r), column(r), json_const_string(l)) {
        (Some(c), Some(v), _, _) | (_, _, Some(c), Some(v)) => Some((c, v.to_string())),
        _ => None,
    }
}

fn collect_cte_names(value: &Value, names: &mut BTreeSet<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|i| collect_cte_names(i, names)),
        Value::Object(map) => {
            if let Some(name) = map.get("CommonTableExpr").and_then(|c| c["ctename"].as_str()) {
                names.insert(name.to_string());
            }
            map.values().for_each(|v| collect_cte_names(v, names));
        }
        _ => {}
    }
}

fn collect_column_refs(value: &Value, columns: &mut BTreeSet<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|i| collect_column_refs(i, columns)),
        Value::Object(map) => {
            if let Some(column) = map.get("ColumnRef").and_then(|c| json_strings(&c["fields"]).pop()) {
                columns.insert(column);
            }
            map.values().for_each(|v| collect_column_refs(v, columns));
        }
        _ => {}
    }
}

/// What [`Collector::column_references`] resolves.
#[derive(Default)]
struct ColumnScope {
    /// `(qualifier, schema.table)`: each relation under its name and under its alias.
    relations: Vec<(String, String)>,
    /// The name parts of every column reference.
    column_refs: Vec<Vec<String>>,
    /// `schema.table.column` named by target lists.
    targeted: BTreeSet<String>,
}

/// Statements whose target lists name columns of the statement's `relation`, and where the
/// lists are (JSON paths; the last step lists `ResTarget`s, `IndexElem`s or strings).
const TARGET_LISTS: &[(&str, &[&[&str]])] = &[
    ("InsertStmt", &[&["cols"], &["on_conflict_clause", "target_list"], &["on_conflict_clause", "infer", "index_elems"]]),
    ("UpdateStmt", &[&["target_list"]]),
    ("MergeStmt", &[&["merge_when_clauses", "target_list"]]),
    ("CopyStmt", &[&["attlist"]]),
    ("CreateTrigStmt", &[&["columns"]]),
    ("IndexStmt", &[&["index_including_params"]]),
];

/// The column names of a target list at `path` below `stmt` (a path step over an array takes
/// every element).
fn target_list_names(stmt: &Value, path: &[&str]) -> Vec<String> {
    let mut nodes = vec![stmt];
    for step in path {
        nodes = nodes
            .into_iter()
            .flat_map(|n| {
                // A list element is a `{"node": {"Tag": {...}}}` wrapper; a typed field is not.
                let inner = n["node"].as_object().and_then(|o| o.values().next()).unwrap_or(n);
                match &inner[*step] {
                    Value::Array(items) => items.iter().collect::<Vec<_>>(),
                    Value::Null => vec![],
                    other => vec![other],
                }
            })
            .collect();
    }
    nodes
        .into_iter()
        .filter_map(|n| {
            let node = &n["node"];
            node["ResTarget"]["name"]
                .as_str()
                .or_else(|| node["IndexElem"]["name"].as_str())
                .or_else(|| node["String"]["sval"].as_str())
                .filter(|name| !name.is_empty())
                .map(str::to_string)
        })
        .collect()
}

// ----- built-ins -----

/// Unqualified type names that resolve to `pg_catalog` (the grammar qualifies SQL-standard
/// spellings such as `integer` itself).
fn is_builtin_type(name: &str) -> bool {
    #[rustfmt::skip]
    const TYPES: &[&str] = &[
        "aclitem", "any", "anyarray", "anycompatible", "anyelement", "anyenum", "anynonarray", "anyrange", "bit",
        "bool", "box", "bpchar", "bytea", "char", "cid", "cidr", "circle", "cstring", "date", "daterange",
        "datemultirange", "event_trigger", "fdw_handler", "float4", "float8", "gtsvector", "index_am_handler", "inet",
        "int2", "int4", "int4range", "int4multirange", "int8", "int8range", "int8multirange", "internal", "interval",
        "json", "jsonb", "jsonpath", "language_handler", "line", "lseg", "macaddr", "macaddr8", "money", "name",
        "numeric", "numrange", "nummultirange", "oid", "path", "pg_lsn", "pg_snapshot", "point", "polygon", "record",
        "refcursor", "regclass", "regcollation", "regconfig", "regdictionary", "regnamespace", "regoper",
        "regoperator", "regproc", "regprocedure", "regrole", "regtype", "serial", "serial2", "serial4", "serial8",
        "bigserial", "smallserial", "table_am_handler", "text", "tid", "time", "timestamp", "timestamptz", "timetz",
        "trigger", "tsm_handler", "tsmultirange", "tsquery", "tsrange", "tstzmultirange", "tstzrange", "tsvector",
        "txid_snapshot", "unknown", "uuid", "varbit", "varchar", "void", "xid", "xid8", "xml",
    ];
    TYPES.contains(&name)
}

/// Common `pg_catalog` functions, so calls to them are not taken for user functions.
fn is_builtin_function(name: &str) -> bool {
    #[rustfmt::skip]
    const FUNCTIONS: &[&str] = &[
        "abs", "age", "array_agg", "array_append", "array_length", "array_position", "array_remove",
        "array_to_string", "avg", "bool_and", "bool_or", "btrim", "ceil", "char_length", "clock_timestamp", "concat",
        "concat_ws", "count", "current_database", "current_schema", "current_setting", "currval", "date_part",
        "date_trunc", "decode", "encode", "every", "exists", "extract", "floor", "format", "format_type",
        "gen_random_uuid", "generate_series", "greatest", "has_table_privilege", "initcap", "json_agg",
        "json_build_array", "json_build_object", "jsonb_agg", "jsonb_array_elements", "jsonb_array_length",
        "jsonb_build_array", "jsonb_build_object", "jsonb_each", "jsonb_object_agg", "jsonb_set", "jsonb_strip_nulls",
        "jsonb_typeof", "lag", "lead", "least", "left", "length", "lower", "lpad", "ltrim", "make_interval", "max",
        "md5", "min", "nextval", "now", "nullif", "obj_description", "pg_advisory_lock", "pg_advisory_unlock",
        "pg_advisory_xact_lock", "pg_get_serial_sequence", "pg_notify", "pg_sleep", "position", "quote_ident",
        "quote_literal", "quote_nullable", "random", "rank", "regexp_replace", "regexp_split_to_array", "repeat",
        "replace", "right", "round", "row_number", "rpad", "rtrim", "set_config", "setval", "split_part",
        "statement_timestamp", "string_agg", "strpos", "substr", "substring", "sum", "timezone", "to_char", "to_date",
        "to_json", "to_jsonb", "to_number", "to_regclass", "to_regnamespace", "to_regproc", "to_regprocedure",
        "to_regtype", "to_timestamp", "to_tsquery", "to_tsvector", "transaction_timestamp", "trim", "trunc", "unnest",
        "upper", "version",
    ];
    FUNCTIONS.contains(&name)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::migration::Span;

    /// The names of a set, as `kind name` strings ("relation public.t").
    fn names(set: &BTreeSet<ObjectRef>) -> Vec<String> {
        set.iter().map(ToString::to_string).collect()
    }

    fn has(set: &BTreeSet<ObjectRef>, name: &str) -> bool {
        names(set).iter().any(|n| n == name)
    }

    fn script(sql: &str) -> Script {
        Script::parse(Path::new("test.sql"), sql.to_string(), Span { start: 0, end: sql.len() }).unwrap()
    }

    #[test]
    fn create_table_creates_the_table_its_columns_and_implicit_objects() {
        let fp = statement_footprint(
            "CREATE TABLE users (id bigserial PRIMARY KEY, tenant_id bigint NOT NULL REFERENCES tenants (id), \
             email text UNIQUE, mood mood, tags varchar(20)[], created_at timestamptz DEFAULT now())",
        );
        for created in [
            "relation public.users",
            "type public.users",
            "column public.users.id",
            "column public.users.email",
            "relation public.users_id_seq",
            "constraint public.users.users_pkey",
            "relation public.users_pkey",
            "constraint public.users.users_tenant_id_fkey",
            "constraint public.users.users_email_key",
        ] {
            assert!(has(&fp.creates, created), "{created} in {:?}", names(&fp.creates));
        }
        assert_eq!(names(&fp.references), ["relation public.tenants", "type public.mood", "column public.tenants.id"]);
        assert!(fp.alters.is_empty() && fp.drops.is_empty() && !fp.dynamic_sql);
    }

    #[test]
    fn names_fold_to_lower_case_unless_quoted_and_other_schemas_are_referenced() {
        let fp = statement_footprint(r#"CREATE TABLE Billing."Invoices" (id int, status Billing.Status)"#);
        assert!(has(&fp.creates, "relation billing.Invoices"), "{:?}", names(&fp.creates));
        assert_eq!(names(&fp.references), ["schema billing", "type billing.status"]);
        let fp = statement_footprint(r#"SELECT nextval('"Billing".invoice_SEQ'), 'public."Odd"'::regclass"#);
        assert_eq!(names(&fp.references), ["schema Billing", "relation Billing.invoice_seq", "relation public.Odd"]);
    }

    #[test]
    fn implicit_names_follow_postgres_truncation() {
        let long = "a".repeat(40);
        assert_eq!(implicit_name(&long, Some(&"b".repeat(40)), "fkey").len(), 63);
        assert_eq!(implicit_name("t", Some("a_b"), "key"), "t_a_b_key");
        assert_eq!(implicit_name("t", None, "pkey"), "t_pkey");
        let fp = statement_footprint("CREATE TABLE t (a int, b int, CHECK (a > 0), CHECK (a < b), UNIQUE (a, b))");
        for created in ["constraint public.t.t_a_check", "constraint public.t.t_check", "constraint public.t.t_a_b_key"]
        {
            assert!(has(&fp.creates, created), "{created} in {:?}", names(&fp.creates));
        }
    }

    #[test]
    fn create_index_references_its_table_and_columns() {
        let fp = statement_footprint(
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_email ON app.accounts USING btree (lower(email), tenant_id) \
             WHERE deleted_at IS NULL",
        );
        assert_eq!(names(&fp.creates), ["relation app.idx_email"]);
        assert_eq!(
            names(&fp.references),
            [
                "schema app",
                "relation app.accounts",
                "column app.accounts.deleted_at",
                "column app.accounts.email",
                "column app.accounts.tenant_id"
            ],
            "the expression's and the predicate's columns too"
        );
        let info = &analyze_script(&script("CREATE UNIQUE INDEX i ON t (a, b); CREATE INDEX ON t (c)")).statements;
        assert_eq!(
            info[0].keys.unique,
            [Key { table: "public.t".into(), columns: vec!["a".into(), "b".into()], primary: false }]
        );
        assert!(has(&info[1].footprint.creates, "relation public.t_c_idx"));
        assert_eq!(info[1].label.as_deref(), Some("index public.t_c_idx"));
    }

    #[test]
    fn alter_table_alters_the_table_and_creates_what_it_adds() {
        let fp = statement_footprint(
            "ALTER TABLE users ADD COLUMN org_id bigint, ADD CONSTRAINT fk_org FOREIGN KEY (org_id) REFERENCES orgs, \
             ALTER COLUMN email SET NOT NULL, DROP COLUMN legacy, DROP CONSTRAINT old_check",
        );
        assert_eq!(names(&fp.creates), ["constraint public.users.fk_org", "column public.users.org_id"]);
        assert_eq!(names(&fp.alters), ["relation public.users", "column public.users.email"]);
        assert_eq!(names(&fp.drops), ["constraint public.users.old_check", "column public.users.legacy"]);
        assert_eq!(names(&fp.references), ["relation public.orgs"]);
    }

    #[test]
    fn pg_dump_defaults_sequences_and_identities() {
        let fp = statement_footprint(
            "ALTER TABLE ONLY public.users ALTER COLUMN id SET DEFAULT nextval('public.users_id_seq'::regclass)",
        );
        assert_eq!(names(&fp.alters), ["relation public.users", "column public.users.id"]);
        assert_eq!(names(&fp.references), ["relation public.users_id_seq"]);
        assert!(fp.creates.is_empty());

        let fp = statement_footprint("ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id");
        assert_eq!(names(&fp.alters), ["relation public.users_id_seq"]);
        assert_eq!(names(&fp.references), ["relation public.users", "column public.users.id"]);

        let fp = statement_footprint(
            "ALTER TABLE public.t ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (SEQUENCE NAME public.t_seq START WITH 1)",
        );
        assert_eq!(names(&fp.creates), ["relation public.t_seq"]);
        assert_eq!(names(&fp.alters), ["relation public.t", "column public.t.id"]);
    }

    #[test]
    fn types_enums_and_their_alterations() {
        let fp = statement_footprint("CREATE TYPE mood AS ENUM ('happy', 'sad')");
        assert_eq!(names(&fp.creates), ["type public.mood"]);
        let fp = statement_footprint("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh'");
        assert_eq!(
            (names(&fp.alters), fp.creates.len(), fp.references.len()),
            (vec!["type public.mood".to_string()], 0, 0)
        );
        let fp = statement_footprint("CREATE TYPE pair AS (a int, b money_amount)");
        assert_eq!(
            (names(&fp.creates), names(&fp.references)),
            (vec!["type public.pair".into()], vec!["type public.money_amount".into()])
        );
        let fp = statement_footprint("CREATE DOMAIN email AS citext CHECK (VALUE ~ '@')");
        assert_eq!(
            (names(&fp.creates), names(&fp.references)),
            (vec!["type public.email".into()], vec!["type public.citext".into()])
        );
    }

    #[test]
    fn comment_grant_rename_and_drop() {
        let alters = |sql: &str| names(&statement_footprint(sql).alters);
        assert_eq!(alters("COMMENT ON COLUMN public.t.c IS 'x'"), ["column public.t.c"]);
        assert_eq!(alters("COMMENT ON CONSTRAINT c ON t IS 'x'"), ["constraint public.t.c"]);
        assert_eq!(alters("COMMENT ON FUNCTION f(int) IS 'x'"), ["function public.f"]);
        assert_eq!(alters("COMMENT ON TYPE mood IS 'x'"), ["type public.mood"]);
        assert_eq!(alters("GRANT SELECT, INSERT ON t, app.u TO bob"), ["relation app.u", "relation public.t"]);
        assert_eq!(alters("GRANT USAGE ON SCHEMA app TO bob"), ["schema app"]);

        // A rename drops the old name (its users must run first) and creates the new one.
        let fp = statement_footprint("ALTER TABLE a RENAME TO b");
        assert_eq!(
            (names(&fp.drops), names(&fp.creates)),
            (
                vec!["relation public.a".into(), "type public.a".into()],
                vec!["relation public.b".into(), "type public.b".into()]
            )
        );
        assert_eq!(fp.renamed, fp.drops);
        assert!(fp.alters.is_empty());
        let fp = statement_footprint("ALTER TABLE t RENAME COLUMN a TO b");
        assert_eq!(
            (names(&fp.alters), names(&fp.drops), names(&fp.creates)),
            (vec!["relation public.t".into()], vec!["column public.t.a".into()], vec!["column public.t.b".into()])
        );

        let fp = statement_footprint("DROP TABLE IF EXISTS a, app.b CASCADE");
        assert_eq!(names(&fp.drops), ["relation app.b", "relation public.a", "type app.b", "type public.a"]);
        let drops = |sql: &str| names(&statement_footprint(sql).drops);
        assert_eq!(drops("DROP INDEX CONCURRENTLY IF EXISTS i"), ["relation public.i"]);
        assert_eq!(drops("DROP TYPE mood"), ["type public.mood"]);
        assert_eq!(drops("DROP FUNCTION app.f(int, text)"), ["function app.f"]);
        assert_eq!(drops("DROP TRIGGER tr ON t"), ["trigger public.t.tr"]);
    }

    #[test]
    fn views_and_dml_reference_their_tables_but_not_ctes_or_catalogs() {
        let fp = statement_footprint(
            "CREATE VIEW recent_orders AS WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval '1 day') \
             SELECT r.*, c.name FROM recent r JOIN customers c ON c.id = r.customer_id JOIN pg_class p ON true",
        );
        assert!(has(&fp.creates, "relation public.recent_orders"));
        let relations = |fp: &Footprint| names(&fp.references).into_iter().filter(|n| n.starts_with("relation ")).collect::<Vec<_>>();
        assert_eq!(relations(&fp), ["relation public.customers", "relation public.orders"]);
        let refs = |sql: &str| relations(&statement_footprint(sql));
        assert_eq!(
            refs("INSERT INTO audit_log (id) SELECT id FROM events"),
            ["relation public.audit_log", "relation public.events"]
        );
        assert_eq!(
            refs("UPDATE users SET role = 'x' WHERE id IN (SELECT user_id FROM admins)"),
            ["relation public.admins", "relation public.users"]
        );
        assert_eq!(refs("DELETE FROM sessions WHERE expires_at < now()"), ["relation public.sessions"]);
        assert_eq!(
            names(&statement_footprint("SELECT normalize_email(email) FROM information_schema.tables").references),
            ["function public.normalize_email"]
        );
    }

    /// The columns of `fp.references`, without the kind.
    fn columns(fp: &Footprint) -> Vec<String> {
        fp.references.iter().filter(|o| o.kind == RefKind::Column).map(|o| o.name.clone()).collect()
    }

    #[test]
    fn views_resolve_columns_by_alias_and_unqualified_names_against_every_relation() {
        let fp = statement_footprint(
            "CREATE VIEW rich AS SELECT a.id, balance, o.total FROM accounts a JOIN app.orders o USING (account_id) \
             WHERE a.balance > 0 AND EXISTS (SELECT 1 FROM notes n WHERE n.account_id = a.id)",
        );
        assert_eq!(
            columns(&fp),
            [
                "app.orders.account_id",
                "app.orders.balance",
                "app.orders.total",
                "public.accounts.account_id",
                "public.accounts.balance",
                "public.accounts.id",
                "public.notes.account_id",
                "public.notes.balance",
            ]
        );
        // `t.*` and `*` name no column; a CTE's and a subquery's columns are not a table's.
        let fp = statement_footprint(
            "CREATE VIEW v AS WITH w AS (SELECT id FROM t) SELECT t.*, w.id, s.x FROM t, w, (SELECT 1 AS x) s",
        );
        assert_eq!(columns(&fp), ["public.t.id"]);
        assert!(!has(&fp.references, "column public.rich.id"), "the view's own columns are not references");
    }

    #[test]
    fn generated_columns_checks_and_index_expressions_read_columns_of_their_table() {
        let fp = statement_footprint(
            "ALTER TABLE accounts ADD COLUMN cents bigint GENERATED ALWAYS AS ((balance * 100)::bigint) STORED",
        );
        assert_eq!(columns(&fp), ["public.accounts.balance"]);
        assert!(has(&fp.creates, "column public.accounts.cents"));
        let fp = statement_footprint("ALTER TABLE accounts ADD CONSTRAINT ok CHECK (balance >= 0 AND email <> '')");
        assert_eq!(columns(&fp), ["public.accounts.balance", "public.accounts.email"]);
        let fp = statement_footprint("CREATE INDEX i ON accounts (lower(email)) INCLUDE (name) WHERE balance > 0");
        assert_eq!(columns(&fp), ["public.accounts.balance", "public.accounts.email", "public.accounts.name"]);
        let fp = statement_footprint("ALTER TABLE accounts ALTER COLUMN code TYPE int USING code_text::int");
        assert_eq!(columns(&fp), ["public.accounts.code_text"]);
        // Columns the same CREATE TABLE makes are its own.
        let fp = statement_footprint("CREATE TABLE t (a int, b int GENERATED ALWAYS AS (a * 2) STORED, CHECK (a > 0))");
        assert!(columns(&fp).is_empty(), "{:?}", columns(&fp));
    }

    #[test]
    fn trigger_columns_and_when_clauses_and_policies_name_columns_of_their_table() {
        let fp = statement_footprint(
            "CREATE TRIGGER tr BEFORE UPDATE OF balance, email ON accounts FOR EACH ROW \
             WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION touch()",
        );
        assert_eq!(columns(&fp), ["public.accounts.balance", "public.accounts.email", "public.accounts.status"]);
        let fp = statement_footprint(
            "CREATE POLICY p ON docs USING (owner = current_user) WITH CHECK (tenant_id = current_tenant())",
        );
        assert_eq!(columns(&fp), ["public.docs.owner", "public.docs.tenant_id"]);
    }

    #[test]
    fn data_statements_name_the_columns_they_write_and_read() {
        let cols = |sql: &str| columns(&statement_footprint(sql));
        assert_eq!(
            cols("INSERT INTO users (id, email) VALUES (1, 'x') ON CONFLICT (email) DO UPDATE SET seen = EXCLUDED.seen"),
            ["public.users.email", "public.users.id", "public.users.seen"]
        );
        assert_eq!(
            cols("UPDATE user_ SET full_name = initcap(nick) WHERE full_name IS NULL"),
            ["public.user_.full_name", "public.user_.nick"]
        );
        assert_eq!(cols("DELETE FROM user_ WHERE email = ''"), ["public.user_.email"]);
        assert_eq!(
            cols("MERGE INTO events e USING (VALUES (1, 'x')) AS v (id, kind) ON e.id = v.id \
                  WHEN MATCHED THEN UPDATE SET seen_at = now() WHEN NOT MATCHED THEN INSERT (id, kind) VALUES (v.id, v.kind)"),
            ["public.events.id", "public.events.kind", "public.events.seen_at"]
        );
        assert_eq!(cols("COPY app.events (id, kind) FROM STDIN"), ["app.events.id", "app.events.kind"]);
        let fp = statement_footprint("TRUNCATE app.events, logs");
        assert_eq!(names(&fp.references), ["schema app", "relation app.events", "relation public.logs"]);
    }

    #[test]
    fn do_block_selects_and_function_bodies_name_columns() {
        let fp = statement_footprint(
            "DO $$ BEGIN IF EXISTS (SELECT 1 FROM products WHERE title <> btrim(title)) THEN \
             UPDATE products SET title = btrim(title); END IF; END $$",
        );
        assert_eq!(columns(&fp), ["public.products.title"]);
        let fp = statement_footprint(
            "CREATE FUNCTION f(p_scope text) RETURNS text LANGUAGE sql STABLE \
             AS $$ SELECT value FROM settings WHERE scope = p_scope $$",
        );
        assert_eq!(columns(&fp), ["public.settings.p_scope", "public.settings.scope", "public.settings.value"]);
        let fp = statement_footprint(
            "CREATE FUNCTION g(p_id bigint) RETURNS text LANGUAGE plpgsql AS $$ DECLARE v text; \
             BEGIN SELECT s.label INTO v FROM app.stock s WHERE s.id = p_id; RETURN v; END $$",
        );
        // A variable is taken for a column of every relation too: a column never created adds no
        // dependency.
        assert_eq!(columns(&fp), ["app.stock.id", "app.stock.label", "app.stock.p_id"]);
    }

    #[test]
    fn renames_and_set_schema_drop_the_old_name_and_create_the_new() {
        let renamed = |sql: &str| {
            let fp = statement_footprint(sql);
            assert_eq!(fp.renamed, fp.drops, "{sql}");
            (names(&fp.drops), names(&fp.creates))
        };
        let pair = |old: &[&str], new: &[&str]| {
            (old.iter().map(|s| s.to_string()).collect::<Vec<_>>(), new.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(renamed("ALTER VIEW v RENAME TO w"), pair(&["relation public.v", "type public.v"], &["relation public.w", "type public.w"]));
        assert_eq!(renamed("ALTER INDEX app.i RENAME TO j"), pair(&["relation app.i"], &["relation app.j"]));
        assert_eq!(renamed("ALTER SEQUENCE s RENAME TO s2"), pair(&["relation public.s"], &["relation public.s2"]));
        assert_eq!(renamed("ALTER TYPE mood RENAME TO feeling"), pair(&["type public.mood"], &["type public.feeling"]));
        assert_eq!(
            renamed("ALTER TABLE t RENAME CONSTRAINT c TO d"),
            pair(&["constraint public.t.c"], &["constraint public.t.d"])
        );
        assert_eq!(renamed("ALTER SCHEMA app RENAME TO core"), pair(&["schema app"], &["schema core"]));
        assert_eq!(
            renamed("ALTER TABLE events SET SCHEMA archive"),
            pair(&["relation public.events", "type public.events"], &["relation archive.events", "type archive.events"])
        );
    }

    #[test]
    fn triggers_and_policies() {
        let fp = statement_footprint(
            "CREATE TRIGGER tr BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION set_updated_at()",
        );
        assert_eq!(names(&fp.creates), ["trigger public.users.tr"]);
        assert_eq!(names(&fp.references), ["relation public.users", "function public.set_updated_at"]);
        let fp = statement_footprint("CREATE POLICY p ON docs USING (tenant_id = current_tenant())");
        assert_eq!(names(&fp.creates), ["policy public.docs.p"]);
        assert_eq!(
            names(&fp.references),
            ["relation public.docs", "function public.current_tenant", "column public.docs.tenant_id"]
        );
    }

    #[test]
    fn a_function_is_created_and_its_body_only_referenced() {
        let fp = statement_footprint(
            "CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$\n\
             BEGIN\n  NEW.updated_at := now();\n  INSERT INTO audit (at) VALUES (clock_timestamp());\n\
               CREATE TABLE scratch (id int);\n  EXECUTE format('SELECT 1 FROM %I', TG_TABLE_NAME);\n  RETURN NEW;\nEND\n$$",
        );
        assert_eq!(names(&fp.creates), ["function public.set_updated_at"]);
        assert!(has(&fp.references, "relation public.audit") && has(&fp.references, "relation public.scratch"));
        assert!(!fp.dynamic_sql, "a function body does not run when it is created");

        let fp = statement_footprint(
            "CREATE FUNCTION active_users() RETURNS SETOF users LANGUAGE sql AS 'SELECT * FROM users WHERE active'",
        );
        assert_eq!(names(&fp.references), ["relation public.users", "type public.users", "column public.users.active"]);
    }

    #[test]
    fn a_do_block_creates_what_its_body_creates() {
        let fp = statement_footprint(
            "DO $$\nBEGIN\n  IF to_regclass('public.widgets') IS NOT NULL THEN RETURN; END IF;\n\
             CREATE TABLE widgets (id int, owner_id int REFERENCES owners (id));\n\
             EXECUTE 'CREATE INDEX widgets_owner ON widgets (owner_id)';\nEND\n$$",
        );
        for created in ["relation public.widgets", "relation public.widgets_owner", "column public.widgets.owner_id"] {
            assert!(has(&fp.creates, created), "{created} in {:?}", names(&fp.creates));
        }
        assert_eq!(names(&fp.references), ["relation public.owners", "column public.owners.id"]);
        assert!(!fp.dynamic_sql, "EXECUTE of a literal is read");
    }

    #[test]
    fn execute_of_a_computed_string_is_dynamic() {
        let fp = statement_footprint(
            "DO $$ DECLARE t text := 'widgets'; BEGIN EXECUTE 'ALTER TABLE ' || t || ' ADD COLUMN x int'; END $$",
        );
        assert!(fp.dynamic_sql);
        let fp = statement_footprint("DO $$ BEGIN EXECUTE format('CREATE TABLE %I ()', 'x'); END $$");
        assert!(fp.dynamic_sql);
        let fp = statement_footprint("DO $$ BEGIN EXECUTE 'CREATE TABLE ' || 'joined (id int)'; END $$");
        assert!(!fp.dynamic_sql && has(&fp.creates, "relation public.joined"));
    }

    #[test]
    fn catalog_guards_reference_what_they_look_for() {
        let fp = statement_footprint(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'fk_a' \
             AND conrelid = 'public.items'::regclass) THEN ALTER TABLE items ADD CONSTRAINT fk_a FOREIGN KEY (a_id) REFERENCES a (id); \
             END IF; END $$",
        );
        assert_eq!(names(&fp.creates), ["constraint public.items.fk_a"]);
        assert_eq!(names(&fp.alters), ["relation public.items"]);
        assert_eq!(names(&fp.references), ["relation public.a", "column public.a.id", "column public.items.a_id"]);
        let fp = statement_footprint(
            "SELECT EXISTS (SELECT FROM information_schema.columns WHERE table_schema = 'app' AND table_name = 'users' AND column_name = 'email')",
        );
        assert_eq!(names(&fp.references), ["schema app", "relation app.users", "column app.users.email"]);
    }

    #[test]
    fn the_script_search_path_sets_the_default_schema_and_session_statements_are_flagged() {
        let analysis = analyze_script(&script(
            "SET statement_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\n\
             SET search_path TO app, public;\nCREATE TABLE t (id int);\nRESET search_path;\nCREATE TABLE u (id int);",
        ));
        let session: Vec<bool> = analysis.statements.iter().map(|s| s.session).collect();
        assert_eq!(session, [true, true, true, false, true, false]);
        assert!(has(&analysis.statements[3].footprint.creates, "relation app.t"));
        assert!(has(&analysis.statements[5].footprint.creates, "relation public.u"));
        assert_eq!(analysis.noun(&ObjectRef::new(RefKind::Relation, "app.t")), "table");
    }

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

    #[test]
    fn extensions_schemas_and_labels() {
        let analysis = analyze_script(&script(
            "CREATE SCHEMA IF NOT EXISTS app;\nCREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA app;\n\
             CREATE TABLE app.t (id uuid DEFAULT app.gen_random_bytes(16));\nALTER TABLE ONLY app.t ADD CONSTRAINT t_pkey PRIMARY KEY (id);\n\
             COMMENT ON TABLE app.t IS 'x';\nDO $$ BEGIN CREATE TABLE IF NOT EXISTS app.u (); END $$;",
        ));
        let labels: Vec<&str> = analysis.statements.iter().map(|s| s.label.as_deref().unwrap_or("-")).collect();
        assert_eq!(
            labels,
            [
                "schema app",
                "extension pgcrypto",
                "table app.t",
                "constraint app.t.t_pkey",
                "comment on table app.t",
                "do block: table app.u"
            ]
        );
        assert_eq!(names(&analysis.statements[1].footprint.references), ["schema app"]);
        assert!(has(&analysis.statements[2].footprint.references, "function app.gen_random_bytes"));
    }
}
