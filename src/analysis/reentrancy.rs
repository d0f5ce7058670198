//! Whether a migration looks re-entrant (safe to run again over what it made), read from its
//! text before anything runs, and why: the guards its statements carry.
//!
//! A SQL migration looks re-entrant when every statement that changes something is guarded:
//! `CREATE ... IF NOT EXISTS` (table, index, schema, sequence, extension, materialized view,
//! statistics, foreign table, collation), `CREATE OR REPLACE` (view, function, procedure,
//! trigger, rule, aggregate), `DROP ... IF EXISTS`, `ALTER TABLE` whose every action is
//! `ADD COLUMN IF NOT EXISTS`, `DROP COLUMN IF EXISTS`, `DROP CONSTRAINT IF EXISTS` or a setting
//! made again (`SET`/`DROP DEFAULT`, `SET`/`DROP NOT NULL`, row level security, `OWNER TO`,
//! `VALIDATE CONSTRAINT`), `ALTER TYPE ... ADD VALUE IF NOT EXISTS`, `INSERT ... ON CONFLICT`,
//! `COMMENT ON`, `GRANT`/`REVOKE`, `ALTER DEFAULT PRIVILEGES`, `ALTER ... OWNER TO`, a `CREATE`
//! (or `ALTER TABLE ... ADD`) of what an earlier `DROP ... IF EXISTS` of the migration dropped,
//! and `DO` blocks whose SQL is guarded inside: under an `IF` over a catalog lookup
//! (`to_regclass(...)` and the other `to_reg*` functions, a `pg_*` catalog,
//! `information_schema`), after an `IF <lookup finds it> THEN RETURN`, or in a block that
//! catches `duplicate_*` errors. `SET`, transaction control and `VACUUM`/`ANALYZE` change
//! nothing and count neither way.
//!
//! A lookup that tests for presence (`IF EXISTS (...)`, `IS NOT NULL`) guards only drops and
//! renames under it: `IF to_regclass('t') IS NOT NULL THEN ALTER TABLE t ADD COLUMN c int` fails
//! the second time. Rails and Alembic migrations are scanned as text (`frameworks.rs`).
//!
//! It is a reading of the text, not a proof: the idempotent property is what checks a
//! migration listed in `idempotent`. `pgconverge init` proposes the guarded ones, and `check`
//! notes those that are guarded but not listed.

use std::cell::OnceCell;
use std::collections::BTreeSet;

use pg_query::protobuf::{self as pb, AlterTableType, BoolExprType, NullTestType, ObjectType, OnConflictAction, SubLinkType};
use pg_query::{Node, NodeEnum};
use serde_json::Value;

use crate::analysis::footprint::{analyze_script, ObjectRef, RefKind, ScriptAnalysis};
use crate::migration::plpgsql::{self, def_elem, node_string};
use crate::migration::{Migration, MigrationSet, Script};
use crate::project::init::Guarding;

mod frameworks;

/// What a migration's text says about running it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reentrancy {
    /// Every statement that changes something is guarded: the guards, each once, in order.
    Guarded { reasons: Vec<String> },
    /// No statement is guarded: the first one that changes something.
    Unguarded { first: UnguardedStatement },
    /// Some statements are guarded and some are not: the guards, and the first unguarded one.
    Mixed { reasons: Vec<String>, first: UnguardedStatement },
    /// Nothing that a second run could trip on: no statement, or only session settings
    /// (and a migration whose code pgconverge does not read).
    Inert,
}

impl Reentrancy {
    /// The same, as `pgconverge init` takes it.
    pub(crate) fn guarding(self) -> Guarding {
        match self {
            Reentrancy::Guarded { reasons } => Guarding::Guarded(reasons),
            Reentrancy::Mixed { first, .. } => Guarding::Partly { line: first.line, statement: first.text },
            Reentrancy::Unguarded { .. } | Reentrancy::Inert => Guarding::Unguarded,
        }
    }
}

/// A statement with no guard: where it starts, and its first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnguardedStatement {
    /// 1-based line in the migration file.
    pub(crate) line: usize,
    /// The statement's first line, trimmed (shortened when long).
    pub(crate) text: String,
}

/// Reads `migration`'s up: its SQL statements, or (with none, for a framework's migration) its
/// Ruby or Python file.
pub(crate) fn reentrancy(migration: &Migration) -> Reentrancy {
    let script = &migration.up;
    if !script.statements.is_empty() {
        return sql_reentrancy(script);
    }
    let extension = script.path.extension().and_then(|e| e.to_str()).unwrap_or_default();
    let read = || std::fs::read_to_string(&script.path).unwrap_or_default();
    match extension {
        "rb" => frameworks::rails(&read()),
        "py" => frameworks::alembic(&read()),
        _ => Reentrancy::Inert,
    }
}

/// How each migration of `set` is guarded, as `init` takes it. A guarded migration that a later
/// migration supersedes (see [`supersessions`]) is not re-entrant on the migrated database. The
/// statements are read for supersession only when some migration is guarded.
pub(crate) fn guarding_all(set: &MigrationSet) -> Vec<Guarding> {
    let written = OnceCell::new();
    (0..set.migrations.len())
        .map(|i| match reentrancy(&set.migrations[i]).guarding() {
            Guarding::Guarded(reasons) => match superseded_in(set, written.get_or_init(|| written_objects(set)), i) {
                Some((by, what)) => Guarding::Superseded { by, what },
                None => Guarding::Guarded(reasons),
            },
            other => other,
        })
        .collect()
}

/// For each migration of `set`, the later migration whose statements a re-run of it would undo
/// or trip on, and what that one does (`defines function public.f again`, `drops column
/// public.t.c`); see [`superseded_in`]. Re-run on the migrated database, such a migration
/// undoes the later one (or fails on what it changed), however well it is guarded: it can run
/// twice in a row, but not after the migrations that follow it.
pub(crate) fn supersessions(set: &MigrationSet) -> Vec<Option<(String, String)>> {
    let written = written_objects(set);
    (0..set.migrations.len()).map(|i| superseded_in(set, &written, i)).collect()
}

/// What one migration's statements write and use.
#[derive(Default)]
struct Written {
    /// What `CREATE OR REPLACE` defines: a re-run puts this definition back.
    replaces: BTreeSet<ObjectRef>,
    /// What the other statements create (a guarded `CREATE TABLE`: the table alone, not its
    /// columns and constraints): a re-run skips it while it exists.
    creates: BTreeSet<ObjectRef>,
    /// What they drop (a rename drops the old name).
    drops: BTreeSet<ObjectRef>,
    /// What they only use (the column an index is on).
    uses: BTreeSet<ObjectRef>,
}

/// [`Written`] for each migration. Framework migrations, read as text, write nothing here.
fn written_objects(set: &MigrationSet) -> Vec<Written> {
    set.migrations
        .iter()
        .map(|m| {
            let mut written = Written::default();
            for (statement, info) in m.up.statements.iter().zip(analyze_script(&m.up).statements) {
                let footprint = info.footprint;
                let defined = defines(&statement.sql);
                // A drop in a DO block sits behind the block's own guard (a rename done only
                // while the new name is missing): what a re-run does to it is not read here.
                if !matches!(defined, Defines::Block) {
                    written.drops.extend(footprint.drops);
                }
                match defined {
                    Defines::Replacement => written.replaces.extend(footprint.creates),
                    Defines::Comment => written.replaces.extend(footprint.alters),
                    Defines::Table(table) => written.creates.extend(
                        footprint
                            .creates
                            .into_iter()
                            .filter(|o| o.kind == RefKind::Relation && (o.name == table || o.name.ends_with(&format!(".{table}")))),
                    ),
                    Defines::Block | Defines::Other => written.creates.extend(footprint.creates),
                }
                written.uses.extend(footprint.references);
            }
            written
        })
        .collect()
}

/// What a statement's `CREATE` is, for a re-run.
enum Defines {
    /// `CREATE OR REPLACE` (function, view, trigger, rule, aggregate).
    Replacement,
    /// `COMMENT ON`: a re-run sets the comment again.
    Comment,
    /// `CREATE TABLE`: the table's name, as written.
    Table(String),
    /// A `DO` block.
    Block,
    /// Anything else.
    Other,
}

fn defines(sql: &str) -> Defines {
    let Ok(parsed) = pg_query::parse(sql, 0) else { return Defines::Other };
    let node = parsed.protobuf.stmts.first().and_then(|raw| raw.stmt.as_ref()).and_then(|n| n.node.as_ref());
    match node {
        Some(NodeEnum::CreateFunctionStmt(s)) if s.replace => Defines::Replacement,
        Some(NodeEnum::ViewStmt(s)) if s.replace => Defines::Replacement,
        Some(NodeEnum::CreateTrigStmt(s)) if s.replace => Defines::Replacement,
        Some(NodeEnum::RuleStmt(s)) if s.replace => Defines::Replacement,
        Some(NodeEnum::DefineStmt(s)) if s.replace => Defines::Replacement,
        Some(NodeEnum::CommentStmt(_)) => Defines::Comment,
        Some(NodeEnum::CreateStmt(s)) => s.relation.as_ref().map_or(Defines::Other, |r| Defines::Table(r.relname.clone())),
        Some(NodeEnum::DoStmt(_)) => Defines::Block,
        _ => Defines::Other,
    }
}

/// A later migration whose statements a re-run of the one at `index` would undo or trip on:
/// it creates again or drops what that one replaces, drops what it creates or uses, or
/// creates again what it drops. The first, and what it does.
fn superseded_in(set: &MigrationSet, written: &[Written], index: usize) -> Option<(String, String)> {
    let own = written.get(index)?;
    written.iter().enumerate().skip(index + 1).find_map(|(later, theirs)| {
        let made = |o: &&ObjectRef| theirs.replaces.contains(*o) || theirs.creates.contains(*o);
        let what = own
            .replaces
            .iter()
            .find(|o| made(o))
            .map(|o| format!("defines {o} again"))
            .or_else(|| {
                own.replaces.iter().chain(&own.creates).chain(&own.uses).find(|o| theirs.drops.contains(*o)).map(|o| format!("drops {o}"))
            })
            .or_else(|| own.drops.iter().find(|o| made(o)).map(|o| format!("creates {o} again")))?;
        Some((set.migrations[later].id(), what))
    })
}

/// The guarded and unguarded statements found so far.
#[derive(Debug, Default)]
struct Tally {
    reasons: Vec<String>,
    first_unguarded: Option<UnguardedStatement>,
}

impl Tally {
    fn guarded(&mut self, reason: &str) {
        if !self.reasons.iter().any(|r| r == reason) {
            self.reasons.push(reason.to_string());
        }
    }

    fn unguarded(&mut self, line: usize, text: &str) {
        self.first_unguarded.get_or_insert_with(|| UnguardedStatement { line, text: first_line(text) });
    }

    /// Takes in what one statement's own tally found.
    fn absorb(&mut self, other: Tally) {
        for reason in &other.reasons {
            self.guarded(reason);
        }
        if let Some(first) = other.first_unguarded {
            self.first_unguarded.get_or_insert(first);
        }
    }

    fn verdict(self) -> Reentrancy {
        match (self.reasons.is_empty(), self.first_unguarded) {
            (true, None) => Reentrancy::Inert,
            (false, None) => Reentrancy::Guarded { reasons: self.reasons },
            (true, Some(first)) => Reentrancy::Unguarded { first },
            (false, Some(first)) => Reentrancy::Mixed { reasons: self.reasons, first },
        }
    }
}

/// The first non-blank line of `text`, trimmed, at most 80 characters.
fn first_line(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
    match (line.char_indices().nth(77), line.chars().nth(80)) {
        (Some((end, _)), Some(_)) => format!("{}...", &line[..end]),
        _ => line.to_string(),
    }
}

/// A SQL script, statement by statement. A statement without a guard of its own still counts
/// as guarded when it makes again what earlier guarded statements dropped (`DROP TRIGGER IF
/// EXISTS t ON x; CREATE TRIGGER t ...`): the second run drops it and makes it again.
fn sql_reentrancy(script: &Script) -> Reentrancy {
    let mut tally = Tally::default();
    // Read only when a statement needs it: most migrations have no drop to match.
    let analysis: OnceCell<ScriptAnalysis> = OnceCell::new();
    let footprint = |i: usize| &analysis.get_or_init(|| analyze_script(script)).statements[i].footprint;
    let mut guarded_before = Vec::new();
    for (i, statement) in script.statements.iter().enumerate() {
        let mut own = Tally::default();
        sql_text(&statement.sql, statement.line, &mut own);
        match (&own.first_unguarded, own.reasons.is_empty()) {
            (None, false) => guarded_before.push(i),
            (Some(_), true) => {
                let dropped: BTreeSet<&ObjectRef> = guarded_before.iter().flat_map(|&g| &footprint(g).drops).collect();
                let alters_table = parses_to(&statement.sql, |n| matches!(n, NodeEnum::AlterTableStmt(_)));
                if !dropped.is_empty() && remade(&footprint(i).creates, &dropped, alters_table) {
                    own = Tally::default();
                    own.guarded(REMADE);
                }
            }
            _ => {}
        }
        tally.absorb(own);
    }
    tally.verdict()
}

/// The reason of a statement that makes again what the migration dropped `IF EXISTS` first.
const REMADE: &str = "made again after DROP ... IF EXISTS";

/// Whether `creates` is what was `dropped`: for an `ALTER TABLE`, every column and constraint
/// it adds; otherwise its main object (a relation, function, trigger, policy, schema or
/// extension; else a type).
fn remade(creates: &BTreeSet<ObjectRef>, dropped: &BTreeSet<&ObjectRef>, alters_table: bool) -> bool {
    if alters_table {
        let mut added = creates.iter().filter(|o| matches!(o.kind, RefKind::Column | RefKind::Constraint)).peekable();
        return added.peek().is_some() && added.all(|o| dropped.contains(o));
    }
    let main = |o: &&ObjectRef| !matches!(o.kind, RefKind::Column | RefKind::Type | RefKind::Constraint);
    let has_main = creates.iter().any(|o| main(&o));
    creates.iter().filter(|o| !has_main || main(o)).any(|o| dropped.contains(o))
}

/// Classifies every statement of `sql` (text starting at `line`) into `tally`. SQL that does
/// not parse counts as unguarded.
fn sql_text(sql: &str, line: usize, tally: &mut Tally) {
    let Ok(parsed) = pg_query::parse(sql, 0) else {
        tally.unguarded(line, sql);
        return;
    };
    for raw in &parsed.protobuf.stmts {
        let Some(node) = raw.stmt.as_ref().and_then(|n| n.node.as_ref()) else { continue };
        let start = usize::try_from(raw.stmt_location).unwrap_or(0);
        let end = match usize::try_from(raw.stmt_len) {
            Ok(0) | Err(_) => sql.len(),
            Ok(len) => start + len,
        };
        let text = sql.get(start..end).unwrap_or(sql);
        let leading = text.len() - text.trim_start().len();
        let line = line + sql[..start + leading.min(end - start)].matches('\n').count();
        statement(node, text.trim_start(), line, tally);
    }
}

/// One statement: its own guard, or none.
fn statement(node: &NodeEnum, text: &str, line: usize, tally: &mut Tally) {
    let reason = match node {
        NodeEnum::DoStmt(s) => return do_block(s, text, line, tally),
        NodeEnum::VariableSetStmt(_) | NodeEnum::VariableShowStmt(_) | NodeEnum::TransactionStmt(_) | NodeEnum::VacuumStmt(_) => {
            return;
        }
        NodeEnum::AlterTableStmt(s) => return alter_table(s, text, line, tally),
        other => own_guard(other),
    };
    match reason {
        Some(reason) => tally.guarded(&reason),
        None => tally.unguarded(line, text),
    }
}

/// The guard a statement carries itself, when it has one.
fn own_guard(node: &NodeEnum) -> Option<String> {
    let reason = match node {
        NodeEnum::CreateStmt(s) if s.if_not_exists => "CREATE TABLE IF NOT EXISTS",
        NodeEnum::CreateForeignTableStmt(s) if s.base_stmt.as_ref().is_some_and(|b| b.if_not_exists) => {
            "CREATE FOREIGN TABLE IF NOT EXISTS"
        }
        NodeEnum::IndexStmt(s) if s.if_not_exists => "CREATE INDEX IF NOT EXISTS",
        NodeEnum::CreateSchemaStmt(s) if s.if_not_exists => "CREATE SCHEMA IF NOT EXISTS",
        NodeEnum::CreateSeqStmt(s) if s.if_not_exists => "CREATE SEQUENCE IF NOT EXISTS",
        NodeEnum::CreateExtensionStmt(s) if s.if_not_exists => "CREATE EXTENSION IF NOT EXISTS",
        NodeEnum::CreateStatsStmt(s) if s.if_not_exists => "CREATE STATISTICS IF NOT EXISTS",
        NodeEnum::CreateTableAsStmt(s) if s.if_not_exists => match object_type(s.objtype) {
            ObjectType::ObjectMatview => "CREATE MATERIALIZED VIEW IF NOT EXISTS",
            _ => "CREATE TABLE IF NOT EXISTS ... AS",
        },
        NodeEnum::DefineStmt(s) if s.if_not_exists => return Some(format!("CREATE {} IF NOT EXISTS", object_word(s.kind))),
        NodeEnum::DefineStmt(s) if s.replace => return Some(format!("CREATE OR REPLACE {}", object_word(s.kind))),
        NodeEnum::ViewStmt(s) if s.replace => "CREATE OR REPLACE VIEW",
        NodeEnum::CreateFunctionStmt(s) if s.replace && s.is_procedure => "CREATE OR REPLACE PROCEDURE",
        NodeEnum::CreateFunctionStmt(s) if s.replace => "CREATE OR REPLACE FUNCTION",
        NodeEnum::CreateTrigStmt(s) if s.replace => "CREATE OR REPLACE TRIGGER",
        NodeEnum::RuleStmt(s) if s.replace => "CREATE OR REPLACE RULE",
        NodeEnum::DropStmt(s) if s.missing_ok => return Some(format!("DROP {} IF EXISTS", object_word(s.remove_type))),
        NodeEnum::AlterEnumStmt(s) if s.skip_if_new_val_exists => "ALTER TYPE ... ADD VALUE IF NOT EXISTS",
        NodeEnum::InsertStmt(s) => match s.on_conflict_clause.as_ref().map(|c| OnConflictAction::try_from(c.action)) {
            Some(Ok(OnConflictAction::OnconflictNothing)) => "INSERT ... ON CONFLICT DO NOTHING",
            Some(Ok(OnConflictAction::OnconflictUpdate)) => "INSERT ... ON CONFLICT DO UPDATE",
            _ => return None,
        },
        NodeEnum::CommentStmt(_) => "COMMENT ON",
        NodeEnum::GrantStmt(s) => grant_word(s.is_grant),
        NodeEnum::GrantRoleStmt(s) => grant_word(s.is_grant),
        NodeEnum::AlterDefaultPrivilegesStmt(_) => "ALTER DEFAULT PRIVILEGES",
        NodeEnum::AlterOwnerStmt(_) => "OWNER TO",
        _ => return None,
    };
    Some(reason.to_string())
}

fn grant_word(is_grant: bool) -> &'static str {
    if is_grant {
        "GRANT"
    } else {
        "REVOKE"
    }
}

/// `ALTER TABLE`: guarded when each of its actions is. `ADD CONSTRAINT c` or `ADD COLUMN c`
/// after `DROP CONSTRAINT IF EXISTS c` or `DROP COLUMN IF EXISTS c` in the same statement makes
/// again what it dropped.
fn alter_table(s: &pb::AlterTableStmt, text: &str, line: usize, tally: &mut Tally) {
    let mut dropped: Vec<&str> = Vec::new();
    let mut reasons = Vec::new();
    for cmd in &s.cmds {
        let Some(NodeEnum::AlterTableCmd(cmd)) = cmd.node.as_ref() else {
            tally.unguarded(line, text);
            return;
        };
        if let Some(reason) = alter_table_guard(cmd) {
            if matches!(AlterTableType::try_from(cmd.subtype), Ok(AlterTableType::AtDropColumn | AlterTableType::AtDropConstraint)) {
                dropped.push(&cmd.name);
            }
            reasons.push(reason);
        } else if added_name(cmd).is_some_and(|name| dropped.contains(&name)) {
            reasons.push(REMADE);
        } else {
            tally.unguarded(line, text);
            return;
        }
    }
    if reasons.is_empty() {
        tally.unguarded(line, text);
    }
    reasons.into_iter().for_each(|r| tally.guarded(r));
}

/// The name of the column or constraint an `ADD` action adds.
fn added_name(cmd: &pb::AlterTableCmd) -> Option<&str> {
    use AlterTableType as A;
    let def = cmd.def.as_ref()?.node.as_ref()?;
    match (AlterTableType::try_from(cmd.subtype).ok()?, def) {
        (A::AtAddColumn, NodeEnum::ColumnDef(c)) => Some(&c.colname),
        (A::AtAddConstraint, NodeEnum::Constraint(c)) if !c.conname.is_empty() => Some(&c.conname),
        _ => None,
    }
}

fn alter_table_guard(cmd: &pb::AlterTableCmd) -> Option<&'static str> {
    use AlterTableType as A;
    Some(match AlterTableType::try_from(cmd.subtype).ok()? {
        A::AtAddColumn if cmd.missing_ok => "ADD COLUMN IF NOT EXISTS",
        A::AtDropColumn if cmd.missing_ok => "DROP COLUMN IF EXISTS",
        A::AtDropConstraint if cmd.missing_ok => "DROP CONSTRAINT IF EXISTS",
        A::AtColumnDefault if cmd.def.is_some() => "ALTER COLUMN ... SET DEFAULT",
        A::AtColumnDefault => "ALTER COLUMN ... DROP DEFAULT",
        A::AtSetNotNull => "ALTER COLUMN ... SET NOT NULL",
        A::AtDropNotNull => "ALTER COLUMN ... DROP NOT NULL",
        A::AtEnableRowSecurity => "ENABLE ROW LEVEL SECURITY",
        A::AtDisableRowSecurity => "DISABLE ROW LEVEL SECURITY",
        A::AtForceRowSecurity => "FORCE ROW LEVEL SECURITY",
        A::AtNoForceRowSecurity => "NO FORCE ROW LEVEL SECURITY",
        A::AtChangeOwner => "OWNER TO",
        A::AtValidateConstraint => "VALIDATE CONSTRAINT",
        _ => return None,
    })
}

/// Whether a statement only removes or renames (what a presence test guards).
fn removes(node: &NodeEnum) -> bool {
    use AlterTableType as A;
    match node {
        NodeEnum::DropStmt(_) | NodeEnum::RenameStmt(_) => true,
        NodeEnum::AlterTableStmt(s) => s.cmds.iter().all(|cmd| match cmd.node.as_ref() {
            Some(NodeEnum::AlterTableCmd(cmd)) => {
                matches!(AlterTableType::try_from(cmd.subtype), Ok(A::AtDropColumn | A::AtDropConstraint))
            }
            _ => false,
        }),
        _ => false,
    }
}

fn object_type(value: i32) -> ObjectType {
    ObjectType::try_from(value).unwrap_or(ObjectType::Undefined)
}

/// How SQL spells an object type in `DROP <word>`, `CREATE <word>`.
fn object_word(value: i32) -> &'static str {
    use ObjectType as O;
    match object_type(value) {
        O::ObjectTable => "TABLE",
        O::ObjectIndex => "INDEX",
        O::ObjectView => "VIEW",
        O::ObjectMatview => "MATERIALIZED VIEW",
        O::ObjectSequence => "SEQUENCE",
        O::ObjectForeignTable => "FOREIGN TABLE",
        O::ObjectType => "TYPE",
        O::ObjectDomain => "DOMAIN",
        O::ObjectFunction => "FUNCTION",
        O::ObjectProcedure => "PROCEDURE",
        O::ObjectRoutine => "ROUTINE",
        O::ObjectAggregate => "AGGREGATE",
        O::ObjectOperator => "OPERATOR",
        O::ObjectTrigger => "TRIGGER",
        O::ObjectPolicy => "POLICY",
        O::ObjectRule => "RULE",
        O::ObjectSchema => "SCHEMA",
        O::ObjectExtension => "EXTENSION",
        O::ObjectCollation => "COLLATION",
        O::ObjectStatisticExt => "STATISTICS",
        O::ObjectPublication => "PUBLICATION",
        O::ObjectEventTrigger => "EVENT TRIGGER",
        O::ObjectCast => "CAST",
        _ => "...",
    }
}

// ----- DO blocks -----

/// What guards the PL/pgSQL statements being read.
#[derive(Debug, Clone)]
enum Guard {
    None,
    /// Everything under it (a lookup that tests for absence, an early return, a handler of
    /// `duplicate_*` errors).
    Everything(String),
    /// Only drops and renames under it (a lookup that tests for presence).
    Removals(String),
}

/// A `DO` block: guarded when every SQL statement its body runs is.
fn do_block(s: &pb::DoStmt, text: &str, line: usize, tally: &mut Tally) {
    let body = def_elem(&s.args, "as").and_then(node_string);
    let language = def_elem(&s.args, "language").and_then(node_string).unwrap_or("plpgsql");
    let tree = match (body, language.eq_ignore_ascii_case("plpgsql")) {
        (Some(body), true) => plpgsql::parse(&plpgsql::wrap(body)).map(|tree| (body, tree)),
        _ => None,
    };
    let Some((body, tree)) = tree else {
        tally.unguarded(line, text);
        return;
    };
    // PL/pgSQL numbers the body's lines from 1, the line its text starts on.
    let body_line = line + text.find(body).map_or(0, |at| text[..at].matches('\n').count());
    let mut own = Tally::default();
    DoWalker { tally: &mut own, body_line }.statement(&tree[0]["PLpgSQL_function"]["action"], &Guard::None);
    if own.reasons.is_empty() && own.first_unguarded.is_none() {
        return;
    }
    tally.absorb(own);
}

struct DoWalker<'t> {
    tally: &'t mut Tally,
    body_line: usize,
}

impl DoWalker<'_> {
    /// A statement list, in order: an early return over a lookup guards what follows it.
    fn list(&mut self, items: &Value, guard: &Guard) {
        let mut guard = guard.clone();
        for item in items.as_array().into_iter().flatten() {
            if let Some(reason) = early_return(item) {
                guard = Guard::Everything(reason);
                continue;
            }
            self.statement(item, &guard);
        }
    }

    fn statement(&mut self, item: &Value, guard: &Guard) {
        let Some((kind, fields)) = item.as_object().and_then(|m| m.iter().next()) else { return };
        let lineno = fields["lineno"].as_u64().and_then(|n| usize::try_from(n).ok()).unwrap_or(1);
        let line = self.body_line + lineno.saturating_sub(1);
        let query = |field: &str| fields[field]["PLpgSQL_expr"]["query"].as_str().unwrap_or_default();
        match kind.as_str() {
            "PLpgSQL_stmt_block" => {
                let caught = duplicates_caught(&fields["exceptions"]);
                let inner = if caught.is_empty() {
                    guard.clone()
                } else {
                    Guard::Everything(format!("DO: EXCEPTION WHEN {}", caught.join(" OR ")))
                };
                self.list(&fields["body"], &inner);
                for handler in fields["exceptions"]["PLpgSQL_exception_block"]["exc_list"].as_array().into_iter().flatten() {
                    self.list(&handler["PLpgSQL_exception"]["action"], guard);
                }
            }
            "PLpgSQL_stmt_if" => {
                let inner = match lookup(query("cond")) {
                    Some(Lookup { name, presence: Some(false) }) => Guard::Everything(format!("DO: IF over {name}")),
                    Some(Lookup { name, .. }) => Guard::Removals(format!("DO: IF over {name}")),
                    None => guard.clone(),
                };
                self.list(&fields["then_body"], &inner);
                for elsif in fields["elsif_list"].as_array().into_iter().flatten() {
                    self.list(&elsif["PLpgSQL_if_elsif"]["stmts"], guard);
                }
                self.list(&fields["else_body"], guard);
            }
            "PLpgSQL_stmt_execsql" => self.sql(query("sqlstmt"), line, guard),
            "PLpgSQL_stmt_dynexecute" => match string_literal(query("query")) {
                Some(sql) => self.sql(&sql, line, guard),
                None => self.opaque(&format!("EXECUTE {}", query("query")), line, guard),
            },
            "PLpgSQL_stmt_perform" => {
                let expression = query("expr");
                self.opaque(&format!("PERFORM {}", expression.strip_prefix("SELECT ").unwrap_or(expression)), line, guard);
            }
            "PLpgSQL_stmt_call" => self.opaque(query("expr"), line, guard),
            "PLpgSQL_stmt_dynfors" => self.opaque(&format!("FOR ... IN EXECUTE {}", query("query")), line, guard),
            // Loops and CASE: the statements inside, under the same guard.
            _ => {
                self.list(&fields["body"], guard);
                for when in fields["case_when_list"].as_array().into_iter().flatten() {
                    self.list(&when["PLpgSQL_case_when"]["stmts"], guard);
                }
                self.list(&fields["else_stmts"], guard);
            }
        }
    }

    /// SQL the body runs: guarded by `guard`, or by its own guard.
    fn sql(&mut self, sql: &str, line: usize, guard: &Guard) {
        match guard {
            Guard::Everything(reason) => self.tally.guarded(reason),
            Guard::Removals(reason) if parses_to(sql, removes) => self.tally.guarded(reason),
            _ => sql_text(sql, line, self.tally),
        }
    }

    /// A statement whose effect is not read (a call, dynamic SQL): guarded only by `guard`.
    fn opaque(&mut self, text: &str, line: usize, guard: &Guard) {
        match guard {
            Guard::Everything(reason) => self.tally.guarded(reason),
            _ => self.tally.unguarded(line, text),
        }
    }
}

/// Whether `sql` parses and each of its statements satisfies `test`.
fn parses_to(sql: &str, test: fn(&NodeEnum) -> bool) -> bool {
    pg_query::parse(sql, 0).is_ok_and(|parsed| {
        let nodes: Vec<&NodeEnum> = parsed.protobuf.stmts.iter().filter_map(|r| r.stmt.as_ref()?.node.as_ref()).collect();
        !nodes.is_empty() && nodes.into_iter().all(test)
    })
}

/// `IF <a lookup that finds it> THEN RETURN; END IF;` (nothing else in it): what follows runs
/// only when the object is missing.
fn early_return(item: &Value) -> Option<String> {
    let fields = item.get("PLpgSQL_stmt_if")?;
    if fields.get("elsif_list").is_some() || fields.get("else_body").is_some() {
        return None;
    }
    let then: &Vec<Value> = fields["then_body"].as_array()?;
    let returns = then.iter().any(|s| s.get("PLpgSQL_stmt_return").is_some());
    let only_return_and_raise = then.iter().all(|s| s.get("PLpgSQL_stmt_return").is_some() || s.get("PLpgSQL_stmt_raise").is_some());
    let found = lookup(fields["cond"]["PLpgSQL_expr"]["query"].as_str()?)?;
    (returns && only_return_and_raise && found.presence == Some(true)).then(|| format!("DO: RETURN when {} finds it", found.name))
}

/// The `duplicate_*` conditions a block's handlers catch.
fn duplicates_caught(exceptions: &Value) -> Vec<String> {
    let handlers = exceptions["PLpgSQL_exception_block"]["exc_list"].as_array().into_iter().flatten();
    let conditions = handlers.flat_map(|h| h["PLpgSQL_exception"]["conditions"].as_array().into_iter().flatten());
    conditions
        .filter_map(|c| c["PLpgSQL_condition"]["condname"].as_str())
        .filter(|name| name.starts_with("duplicate_"))
        .map(str::to_string)
        .collect()
}

/// A condition that looks an object up: what it reads, and whether it holds when the object
/// is there (`EXISTS (...)`, `to_regclass(...) IS NOT NULL`: `Some(true)`) or missing
/// (`NOT EXISTS`, `IS NULL`: `Some(false)`); `None` for any other shape.
#[derive(Debug)]
struct Lookup {
    name: String,
    presence: Option<bool>,
}

fn lookup(condition: &str) -> Option<Lookup> {
    let parsed = pg_query::parse(&format!("SELECT {condition}"), 0).ok()?;
    let function = parsed.functions.iter().map(|(f, _)| f.rsplit('.').next().unwrap_or(f)).find(|f| f.starts_with("to_reg"));
    let table = parsed.tables.iter().map(|(t, _)| t.as_str()).find(|t| is_catalog(t));
    let name = function.or(table)?.to_string();
    let presence = match parsed.protobuf.stmts.first().and_then(|r| r.stmt.as_ref()?.node.as_ref()) {
        Some(NodeEnum::SelectStmt(s)) => match s.target_list.first().and_then(|t| t.node.as_ref()) {
            Some(NodeEnum::ResTarget(r)) => r.val.as_deref().and_then(presence),
            _ => None,
        },
        _ => None,
    };
    Some(Lookup { name, presence })
}

fn presence(node: &Node) -> Option<bool> {
    match node.node.as_ref()? {
        NodeEnum::NullTest(t) => match NullTestType::try_from(t.nulltesttype).ok()? {
            NullTestType::IsNotNull => Some(true),
            NullTestType::IsNull => Some(false),
            NullTestType::Undefined => None,
        },
        NodeEnum::SubLink(s) if s.sub_link_type == SubLinkType::ExistsSublink as i32 => Some(true),
        NodeEnum::BoolExpr(b) if b.boolop == BoolExprType::NotExpr as i32 => b.args.first().and_then(presence).map(|p| !p),
        // AND / OR of tests that agree.
        NodeEnum::BoolExpr(b) => {
            let all: Vec<Option<bool>> = b.args.iter().map(presence).collect();
            let first = *all.first()?;
            all.iter().all(|p| *p == first).then_some(first).flatten()
        }
        _ => None,
    }
}

/// A system catalog or information_schema relation (`pg_constraint`, `pg_catalog.pg_type`,
/// `information_schema.columns`).
fn is_catalog(table: &str) -> bool {
    match table.split_once('.') {
        Some((schema, _)) => schema == "pg_catalog" || schema == "information_schema",
        None => table.starts_with("pg_"),
    }
}

/// The text of a single SQL string literal (`'CREATE TABLE ...'`).
fn string_literal(expression: &str) -> Option<String> {
    let parsed = pg_query::parse(&format!("SELECT {expression}"), 0).ok()?;
    let NodeEnum::SelectStmt(s) = parsed.protobuf.stmts.first()?.stmt.as_ref()?.node.as_ref()? else { return None };
    let NodeEnum::ResTarget(r) = s.target_list.first()?.node.as_ref()? else { return None };
    match r.val.as_ref()?.node.as_ref()? {
        NodeEnum::AConst(c) => match c.val.as_ref()? {
            pb::a_const::Val::Sval(s) => Some(s.sval.clone()),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::migration::Span;

    fn of_sql(sql: &str) -> Reentrancy {
        sql_reentrancy(&Script::parse(Path::new("m.sql"), sql.to_string(), Span { start: 0, end: sql.len() }).unwrap())
    }

    /// One line: the verdict, its guards, and the first unguarded statement.
    pub(super) fn render(reentrancy: &Reentrancy) -> String {
        match reentrancy {
            Reentrancy::Guarded { reasons } => format!("guarded: {}", reasons.join(", ")),
            Reentrancy::Unguarded { first } => format!("unguarded: line {}: {}", first.line, first.text),
            Reentrancy::Mixed { reasons, first } => {
                format!("mixed: {}; unguarded: line {}: {}", reasons.join(", "), first.line, first.text)
            }
            Reentrancy::Inert => "inert".to_string(),
        }
    }

    /// Each example, then its verdict.
    pub(super) fn render_each(examples: &[&str], read: impl Fn(&str) -> Reentrancy) -> String {
        examples.iter().map(|text| format!("{}\n    => {}\n\n", text.trim_end(), render(&read(text)))).collect()
    }

    #[test]
    fn sql_examples() {
        let examples = [
            "CREATE TABLE IF NOT EXISTS a (id int);\nCREATE INDEX IF NOT EXISTS a_id ON a (id);",
            "CREATE TABLE a (id int);",
            "CREATE TABLE IF NOT EXISTS a (id int);\nALTER TABLE a ADD CONSTRAINT a_pk PRIMARY KEY (id);",
            "CREATE SCHEMA IF NOT EXISTS app;\nCREATE SEQUENCE IF NOT EXISTS app.s;\nCREATE EXTENSION IF NOT EXISTS pgcrypto;\n\
             CREATE MATERIALIZED VIEW IF NOT EXISTS mv AS SELECT 1 AS one;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS a_id ON a (id);",
            "CREATE OR REPLACE VIEW v AS SELECT 1 AS one;\nCREATE OR REPLACE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n\
             CREATE OR REPLACE TRIGGER t BEFORE INSERT ON a FOR EACH ROW EXECUTE FUNCTION f();",
            "CREATE UNIQUE INDEX a_id ON a (id);",
            "DROP TABLE IF EXISTS old;\nDROP INDEX IF EXISTS old_idx;\nDROP FUNCTION IF EXISTS f(int);",
            "DROP TABLE old;",
            "ALTER TABLE a ADD COLUMN IF NOT EXISTS b int, DROP COLUMN IF EXISTS c;\nALTER TABLE a ALTER COLUMN b SET DEFAULT 0, ALTER COLUMN b SET NOT NULL;\n\
             ALTER TABLE a DROP CONSTRAINT IF EXISTS a_b_check;\nALTER TABLE a ENABLE ROW LEVEL SECURITY;",
            "ALTER TABLE a ADD COLUMN IF NOT EXISTS b int, ADD COLUMN c int;",
            "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh';",
            "INSERT INTO settings (k, v) VALUES ('a', '1') ON CONFLICT DO NOTHING;\n\
             INSERT INTO settings (k, v) VALUES ('b', '2') ON CONFLICT (k) DO UPDATE SET v = excluded.v;",
            "INSERT INTO settings (k, v) VALUES ('a', '1');",
            "UPDATE settings SET v = '2' WHERE k = 'a';",
            "COMMENT ON TABLE a IS 'x';\nGRANT SELECT ON a TO PUBLIC;\nREVOKE ALL ON a FROM PUBLIC;\nALTER TABLE a OWNER TO app;",
            "SET statement_timeout = 0;\nBEGIN;\nCOMMIT;",
            // A CREATE of what an earlier DROP ... IF EXISTS dropped runs again after the drop.
            "DROP TRIGGER IF EXISTS touch ON a;\nCREATE TRIGGER touch BEFORE UPDATE ON a FOR EACH ROW EXECUTE FUNCTION f();\n\
             DROP POLICY IF EXISTS p ON a;\nCREATE POLICY p ON a USING (true);\nDROP VIEW IF EXISTS v;\nCREATE VIEW v AS SELECT 1 AS one;",
            // The index is not what the drop dropped.
            "DROP TABLE IF EXISTS a;\nCREATE INDEX b_x ON b (x);",
            "DROP TYPE IF EXISTS mood;\nCREATE TYPE mood AS ENUM ('a');",
            "ALTER TABLE t DROP CONSTRAINT IF EXISTS t_x_check, ADD CONSTRAINT t_x_check CHECK (x > 0);",
            "ALTER TABLE t DROP CONSTRAINT IF EXISTS t_x_key;\nALTER TABLE t ADD CONSTRAINT t_x_key UNIQUE (x);",
            // b was not dropped: the second run fails on it.
            "ALTER TABLE t DROP COLUMN IF EXISTS a;\nALTER TABLE t ADD COLUMN a int, ADD COLUMN b int;",
            "DO $$\nBEGIN\n    IF to_regclass('public.a') IS NOT NULL THEN\n        RETURN;\n    END IF;\n\n    CREATE TABLE a (id int);\n    CREATE INDEX a_id ON a (id);\nEND\n$$;",
            "DO $$\nBEGIN\n    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'a_b_fk' AND conrelid = 'public.a'::regclass) THEN\n\
             \x20       ALTER TABLE a ADD CONSTRAINT a_b_fk FOREIGN KEY (b_id) REFERENCES b (id);\n    END IF;\nEND\n$$;",
            "DO $$ BEGIN CREATE TYPE mood AS ENUM ('a'); EXCEPTION WHEN duplicate_object THEN NULL; END $$;",
            // A presence test guards drops and renames under it, not what it adds.
            "DO $$\nBEGIN\n    IF to_regclass('legacy') IS NOT NULL THEN\n        ALTER TABLE legacy ADD COLUMN c int;\n    END IF;\nEND $$;",
            "DO $$ BEGIN IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 't' AND column_name = 'old') THEN \
             ALTER TABLE t RENAME COLUMN old TO new; END IF; END $$;",
            // Returning when the object is missing guards nothing.
            "DO $$\nBEGIN\n    IF to_regclass('x') IS NULL THEN RETURN; END IF;\n    ALTER TABLE x ADD COLUMN c int;\nEND $$;",
            "DO $$ BEGIN RAISE NOTICE 'nothing to do'; END $$;",
            "DO $$ BEGIN EXECUTE 'CREATE TABLE IF NOT EXISTS x ()'; END $$;",
            "DO $$ BEGIN EXECUTE format('CREATE TABLE %I ()', 'x'); END $$;",
            "DO $$ BEGIN FOR i IN 1..3 LOOP PERFORM pg_sleep(0); END LOOP; END $$;",
            "DO LANGUAGE plpython3u $$ plpy.execute('CREATE TABLE x ()') $$;",
            "CREATE TABLE IF NOT EXISTS a ();\nDO $$\nBEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN\n\
             \x20   CREATE TYPE mood AS ENUM ('a');\n  END IF;\n  CREATE TYPE other AS ENUM ('b');\nEND\n$$;",
        ];
        insta::assert_snapshot!(render_each(&examples, of_sql));
    }

    #[test]
    fn the_k12_lms_guarded_migrations_are_the_seven_it_lists() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/k12_lms/migrations");
        let set = crate::migration::MigrationSet::load(&dir, None).unwrap();
        let verdicts: Vec<String> = set.migrations.iter().map(|m| format!("{}: {}", m.version, render(&reentrancy(m)))).collect();
        insta::assert_snapshot!(verdicts.join("\n"));
        let guarded: Vec<String> = set
            .migrations
            .iter()
            .zip(guarding_all(&set))
            .filter(|(_, guarding)| matches!(guarding, Guarding::Guarded(_)))
            .map(|(m, _)| m.version.clone())
            .collect();
        let config = crate::project::config::Config::load(dir.parent().unwrap()).unwrap();
        assert_eq!(crate::project::config::Idempotent::Versions(guarded), config.idempotent);
    }

    /// A later migration supersedes a guarded one when it defines again what that one
    /// replaces, drops what it creates or uses, or creates what it drops; not when it only alters
    /// it, adds it again behind a guard, or drops a part of a table the guarded one creates.
    #[test]
    fn a_later_create_or_drop_of_the_same_object_supersedes_a_guarded_migration() {
        let dir = tempfile::tempdir().unwrap();
        for (name, sql) in [
            ("01_create_t.sql", "CREATE TABLE IF NOT EXISTS t (a int PRIMARY KEY, b int);"),
            ("02_add_c.sql", "ALTER TABLE t ADD COLUMN IF NOT EXISTS c int;"),
            ("03_view.sql", "CREATE OR REPLACE VIEW v AS SELECT a FROM t;"),
            ("04_view_again.sql", "CREATE OR REPLACE VIEW v AS SELECT a, c FROM t;"),
            ("05_index_b.sql", "CREATE INDEX IF NOT EXISTS t_b ON t (b);"),
            ("06_drop_b.sql", "ALTER TABLE t DROP COLUMN b;"),
            ("07_index_a.sql", "CREATE INDEX IF NOT EXISTS t_a ON t (a);"),
            ("08_again.sql", "ALTER TABLE t ADD COLUMN IF NOT EXISTS c int;\nALTER TABLE t DROP CONSTRAINT t_pkey;"),
            ("09_drop_w.sql", "DROP TABLE IF EXISTS w;"),
            ("10_create_w.sql", "CREATE TABLE w (x int);"),
        ] {
            std::fs::write(dir.path().join(name), sql).unwrap();
        }
        let set = crate::migration::MigrationSet::load(dir.path(), None).unwrap();
        let found = supersessions(&set);
        let by = |migration: &str, object: &str| Some((migration.to_string(), object.to_string()));
        assert_eq!(
            found,
            [
                None, // its column and key, dropped later, came with the table: a re-run skips it
                None, // added again, guarded: a re-run skips it
                by("04_view_again", "defines relation public.v again"),
                None,
                by("06_drop_b", "drops column public.t.b"),
                None,
                None,
                None,
                by("10_create_w", "creates relation public.w again"),
                None,
            ]
        );
    }

    #[test]
    fn long_statements_are_shortened() {
        let text = format!("CREATE TABLE {} ();", "x".repeat(100));
        assert_eq!(first_line(&text).chars().count(), 80);
        assert_eq!(first_line(&"y".repeat(80)), "y".repeat(80));
        assert_eq!(first_line("\n  SELECT 1\n  FROM t"), "SELECT 1");
    }
}
