//! Standalone repro scripts: the minimal case as plain SQL that `psql -f` runs on an empty
//! database, ending in the same error or in a check that raises with the same difference.
//!
//! A script replays what `check` ran, in the order it ran it: the preparation (extensions, setup
//! files, the ledger table), the applied migrations, the pre-existing reference statements, the
//! interrupted prefix and the pending migrations. A statement failure is the last statement the
//! script runs (psql stops there with the server's own error); a divergence ends in one `DO` block
//! that raises `pgconverge: <difference>` for every difference the database ends in.

use std::fmt::Write;
use std::path::{Component, Path, PathBuf};

use crate::catalog::ObjectKind;
use crate::compare::{Change, Difference};
use crate::engine::prepare::{create_extension_sql, creates_role, ledger_ddl, Preparation};
use crate::generate::Plan;
use crate::migration::{Migration, Script};
use crate::model::Failure;

/// The pieces of a case, as SQL.
pub(crate) struct ReproInput<'a> {
    pub(crate) title: String,
    /// What `check` runs on every database before the case (extensions, setup files, ledger).
    pub(crate) preparation: &'a Preparation,
    pub(crate) migrations: &'a [Migration],
    pub(crate) plan: &'a Plan,
    /// The reference schema and the statement indices that build the pre-existing units
    /// (preamble first, in file order).
    pub(crate) reference: Option<(&'a Script, Vec<usize>)>,
    /// How the case ended: the script ends the same way.
    pub(crate) failure: &'a Failure,
}

pub(crate) fn script(input: &ReproInput<'_>) -> String {
    let mut out = String::new();
    write_header(&mut out, input);
    write_preparation(&mut out, input.preparation);
    for &m in &input.plan.applied {
        write_migration(&mut out, &input.migrations[m], "applied", Stop::AtEnd);
    }
    if let Some((reference, statements)) = &input.reference {
        if !statements.is_empty() {
            comment(&mut out, &format!("pre-existing objects, as {} gives them", reference.path.display()));
            for &i in statements {
                write_statement(&mut out, &reference.statements[i].sql);
            }
            // The reference may set session state (pg_dump sets search_path to '').
            let _ = writeln!(out, "RESET ALL;\n");
        }
    }
    if let Some(interrupted) = &input.plan.interrupted {
        let migration = &input.migrations[interrupted.migration];
        let label = format!("interrupted after {}", crate::model::plural(interrupted.statements_done, "statement"));
        write_migration(&mut out, migration, &label, Stop::Interrupted(interrupted.statements_done));
    }
    match input.failure {
        Failure::StatementFailed { migration: failed, statement, error, .. } => {
            // The failing statement is the last one the script runs: nothing after it ran in
            // the case either.
            let failing = input.plan.order.iter().position(|&m| input.migrations[m].id() == *failed);
            let stop = failing.unwrap_or(input.plan.order.len().saturating_sub(1));
            for (position, &m) in input.plan.order.iter().enumerate().take(stop + 1) {
                let how = match failing {
                    Some(at) if at == position => Stop::Failing { statement: *statement, error: error.to_string() },
                    _ => Stop::AtEnd,
                };
                write_migration(&mut out, &input.migrations[m], "pending", how);
            }
        }
        Failure::Diverged { differences, .. } => {
            for &m in &input.plan.order {
                write_migration(&mut out, &input.migrations[m], "pending", Stop::AtEnd);
            }
            write_checks(&mut out, differences);
        }
    }
    out
}

fn write_header(out: &mut String, input: &ReproInput<'_>) {
    comment(out, &format!("pgconverge repro: {}", input.title));
    let ending = match input.failure {
        Failure::StatementFailed { migration, statement, error, .. } => {
            format!("{migration} fails at statement {statement}; psql stops there with the server's error: {error}")
        }
        Failure::Diverged { differences, .. } => format!(
            "every statement succeeds, and the last block raises `pgconverge: ...` for the {} the catalog ends in",
            if differences.len() == 1 { "difference".to_string() } else { format!("{} differences", differences.len()) }
        ),
    };
    comment(out, &format!("It ends as the case did: {ending}."));
    comment(
        out,
        "Run it as a superuser on a new, empty database (setup files may create roles and extensions; a role already on \
         the server is kept, as check keeps it):",
    );
    comment(out, "  psql -X -v ON_ERROR_STOP=1 -d <empty database> -f <this file>");
    let _ = writeln!(out, "\\set ON_ERROR_STOP on\n");
}

/// The extensions, setup statements and ledger table, as [`Preparation::apply`] runs them.
fn write_preparation(out: &mut String, preparation: &Preparation) {
    if preparation.extensions.is_empty() && preparation.setup.iter().all(|s| s.statements.is_empty()) && preparation.ledger.is_none() {
        return;
    }
    comment(out, "what check runs on every database first: extensions, setup files, the ledger table");
    for extension in &preparation.extensions {
        write_statement(out, &create_extension_sql(extension));
    }
    for script in &preparation.setup {
        comment(out, &format!("setup: {}", script.path.display()));
        for statement in &script.statements {
            if creates_role(&statement.sql) {
                write_role_statement(out, &statement.sql);
            } else {
                write_statement(out, &statement.sql);
            }
        }
    }
    if let Some(ledger) = preparation.ledger {
        comment(out, "the ledger table, as the migration tool creates it");
        for sql in ledger_ddl(ledger) {
            write_statement(out, sql);
        }
    }
    out.push('\n');
}

/// A role belongs to the server, not the database: check keeps one that is already there (an
/// earlier run's), and so does the script.
fn write_role_statement(out: &mut String, sql: &str) {
    let body = dollar_quoted(sql, "sql");
    let mut block = String::new();
    let _ = writeln!(block, "\nBEGIN\n  EXECUTE {body};");
    let _ = writeln!(
        block,
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN\n  RAISE NOTICE 'pgconverge: the role is already on the server; kept';"
    );
    let _ = write!(block, "END ");
    let _ = writeln!(out, "DO {};", dollar_quoted(&block, "pgconverge"));
}

/// Where a migration's replay stops.
enum Stop {
    /// Every statement, in a transaction when the migration runs in one.
    AtEnd,
    /// The first `n` statements, outside a transaction (the case stopped it there).
    Interrupted(usize),
    /// Through the 1-based `statement`, which fails with `error` (in a transaction left open:
    /// psql stops at the error).
    Failing { statement: usize, error: String },
}

fn write_migration(out: &mut String, migration: &Migration, role: &str, stop: Stop) {
    comment(out, &format!("{role}: {} ({})", migration.id(), migration.up.path.display()));
    let all = migration.up.statements.len();
    if all == 0 {
        // A framework migration whose guard returned early, or an empty file.
        comment(out, "(no SQL)");
        out.push('\n');
        return;
    }
    let (count, in_transaction) = match &stop {
        Stop::AtEnd => (all, migration.runs_in_transaction()),
        Stop::Interrupted(n) => ((*n).min(all), false),
        Stop::Failing { statement, .. } => ((*statement).min(all), migration.runs_in_transaction()),
    };
    if in_transaction {
        let _ = writeln!(out, "BEGIN;");
    }
    for (i, statement) in migration.up.statements[..count].iter().enumerate() {
        if let Stop::Failing { error, .. } = &stop {
            if i + 1 == count {
                comment(out, &format!("check failed here: {error}"));
            }
        }
        write_statement(out, &statement.sql);
    }
    if in_transaction && matches!(stop, Stop::AtEnd) {
        let _ = writeln!(out, "COMMIT;");
    }
    out.push('\n');
}

/// One statement and its terminator. A statement may end in a `--` comment, which would swallow
/// a `;` on the same line: the `;` then goes on a line of its own.
fn write_statement(out: &mut String, sql: &str) {
    let sql = sql.trim_end();
    out.push_str(sql);
    if sql.lines().last().is_some_and(|line| line.contains("--")) {
        out.push('\n');
    }
    out.push_str(";\n");
}

/// `text` as SQL comment lines, every line of it (a `--` comment ends at a line feed or a
/// carriage return, so both start a new comment line).
fn comment(out: &mut String, text: &str) {
    for line in lines(text) {
        match line.is_empty() {
            true => out.push_str("--\n"),
            false => {
                let _ = writeln!(out, "-- {line}");
            }
        }
    }
}

/// The lines of `text`, broken at `\r\n`, `\n` and a lone `\r` alike.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').flat_map(|line| line.strip_suffix('\r').unwrap_or(line).split('\r'))
}

/// `text` in dollar quotes whose tag (`$tag$`, `$tag1$`, ...) it does not contain.
fn dollar_quoted(text: &str, tag: &str) -> String {
    let mut quote = format!("${tag}$");
    let mut n = 0;
    while text.contains(&quote) {
        n += 1;
        quote = format!("${tag}{n}$");
    }
    format!("{quote}{text}{quote}")
}

/// A string literal that means `text` whatever `standard_conforming_strings` says.
fn literal(text: &str) -> String {
    if text.contains('\\') {
        format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", text.replace('\'', "''"))
    }
}

/// One block that collects every difference the database is in and raises with them all; it
/// raises nothing on a database that ends as the reference says.
fn write_checks(out: &mut String, differences: &[Difference]) {
    comment(out, "the differences pgconverge found: the block raises with each one the database ends in");
    let mut block = String::from("\nDECLARE\n  differences text[] := '{}';\nBEGIN\n");
    for difference in differences {
        let message = literal(&format!("pgconverge: {difference}"));
        let (condition, note) = match check(difference) {
            Check::Exact(condition) => (condition, None),
            Check::Exists(condition) => (condition, Some("this checks that the object is there, not the attribute itself")),
            Check::Unchecked => ("true".to_string(), Some("not checked: this script cannot read this kind of object")),
        };
        for line in lines(&difference.to_string()) {
            let _ = writeln!(block, "  -- {line}");
        }
        if let Some(note) = note {
            let _ = writeln!(block, "  -- ({note}; compare with `pgconverge dump`)");
        }
        let _ = writeln!(block, "  IF {condition} THEN\n    differences := array_append(differences, {message});\n  END IF;");
    }
    block.push_str("  IF cardinality(differences) > 0 THEN\n    RAISE EXCEPTION USING MESSAGE = array_to_string(differences, E'\\n');\n  END IF;\nEND ");
    let _ = writeln!(out, "DO {};", dollar_quoted(&block, "pgconverge"));
}

/// How closely a difference can be checked in SQL.
enum Check {
    /// True exactly when the database is as found.
    Exact(String),
    /// True when the object is there (its differing attribute is canonicalized by pgconverge,
    /// which SQL cannot repeat).
    Exists(String),
    /// Not checkable here.
    Unchecked,
}

fn check(difference: &Difference) -> Check {
    let Some(source) = source(difference.kind) else { return Check::Unchecked };
    let rows = |extra: &str| {
        format!("EXISTS (SELECT 1 FROM {} WHERE {} = {}{}{extra})", source.from, source.name, literal(&difference.object), source.filter)
    };
    match &difference.change {
        Change::Missing => Check::Exact(format!("NOT {}", rows(""))),
        Change::Unexpected => Check::Exact(rows("")),
        Change::Attribute { attribute, found, .. } => match attribute_value(difference.kind, attribute) {
            Some(value) => {
                let found = found.as_deref().map_or("NULL".to_string(), literal);
                Check::Exact(rows(&format!(" AND ({value}) IS NOT DISTINCT FROM {found}")))
            }
            None => Check::Exists(rows("")),
        },
    }
}

/// Where the objects of a kind are, and their names as the catalog dump spells them.
struct Source {
    from: &'static str,
    name: &'static str,
    filter: &'static str,
}

fn source(kind: ObjectKind) -> Option<Source> {
    const CLASS: &str = "pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace";
    const RELATION: &str = "n.nspname || '.' || c.relname";
    let (from, name, filter) = match kind {
        ObjectKind::Schema => ("pg_namespace n", "n.nspname::text", ""),
        ObjectKind::Extension => ("pg_extension e", "e.extname::text", ""),
        ObjectKind::Collation => ("pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace", "n.nspname || '.' || co.collname", ""),
        ObjectKind::Type => ("pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace", "n.nspname || '.' || t.typname", ""),
        ObjectKind::Table | ObjectKind::Sequence | ObjectKind::View | ObjectKind::MaterializedView => (CLASS, RELATION, ""),
        ObjectKind::Index => {
            ("pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace", RELATION, "")
        }
        ObjectKind::Column => (
            "pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_type t ON t.oid = a.atttypid",
            "n.nspname || '.' || c.relname || '.' || a.attname",
            " AND a.attnum > 0 AND NOT a.attisdropped",
        ),
        ObjectKind::Constraint => (
            "pg_constraint co JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace",
            "n.nspname || '.' || c.relname || '.' || co.conname",
            "",
        ),
        ObjectKind::Function => (
            "pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace",
            "n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'",
            "",
        ),
        ObjectKind::Trigger => (
            "pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace",
            "n.nspname || '.' || c.relname || '.' || tg.tgname",
            " AND NOT tg.tgisinternal",
        ),
        ObjectKind::Rule => (
            "pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace",
            "n.nspname || '.' || c.relname || '.' || r.rulename",
            "",
        ),
        ObjectKind::Policy => (
            "pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace",
            "n.nspname || '.' || c.relname || '.' || p.polname",
            "",
        ),
        ObjectKind::Statistics => ("pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace", "n.nspname || '.' || s.stxname", ""),
        ObjectKind::Role => ("pg_roles r", "r.rolname::text", ""),
        ObjectKind::DefaultPrivileges | ObjectKind::Comment => return None,
    };
    Some(Source { from, name, filter })
}

/// An attribute as the catalog dump reads it (src/catalog), where it takes the server's text
/// as it is; `None` for the attributes pgconverge canonicalizes (definitions, defaults, grants).
fn attribute_value(kind: ObjectKind, attribute: &str) -> Option<&'static str> {
    let value = match (kind, attribute) {
        (ObjectKind::Column, "type") => "format_type(a.atttypid, a.atttypmod)",
        (ObjectKind::Column, "not_null") => "CASE WHEN a.attnotnull THEN 'true' END",
        (ObjectKind::Column, "identity") => "CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END",
        (ObjectKind::Column, "collation") => {
            "CASE WHEN a.attcollation <> t.typcollation THEN (SELECT cn.nspname || '.' || quote_ident(cl.collname) \
             FROM pg_collation cl JOIN pg_namespace cn ON cn.oid = cl.collnamespace WHERE cl.oid = a.attcollation) END"
        }
        (ObjectKind::Column, "inherited_only") => "CASE WHEN NOT a.attislocal THEN 'true' END",
        (ObjectKind::Column, "storage") => {
            "CASE WHEN a.attstorage <> t.typstorage THEN CASE a.attstorage WHEN 'p' THEN 'plain' WHEN 'e' THEN 'external' \
             WHEN 'm' THEN 'main' WHEN 'x' THEN 'extended' ELSE a.attstorage::text END END"
        }
        (ObjectKind::Column, "compression") => {
            "CASE a.attcompression WHEN 'p' THEN 'pglz' WHEN 'l' THEN 'lz4' ELSE NULLIF(a.attcompression::text, '') END"
        }
        (ObjectKind::Constraint, "kind") => {
            "CASE co.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique' WHEN 'c' THEN 'check' WHEN 'f' THEN 'foreign key' \
             WHEN 'x' THEN 'exclusion' WHEN 't' THEN 'trigger' ELSE 'other' END"
        }
        (ObjectKind::Constraint, "deferrable") => "CASE WHEN co.condeferrable THEN 'true' END",
        (ObjectKind::Constraint, "initially_deferred") => "CASE WHEN co.condeferred THEN 'true' END",
        (ObjectKind::Constraint, "not_valid") => "CASE WHEN NOT co.convalidated THEN 'true' END",
        (ObjectKind::Constraint, "inherited_only") => "CASE WHEN NOT co.conislocal THEN 'true' END",
        (ObjectKind::Index, "invalid") => "CASE WHEN NOT i.indisvalid THEN 'true' END",
        (ObjectKind::Index, "clustered") => "CASE WHEN i.indisclustered THEN 'true' END",
        (ObjectKind::Type, "labels") => {
            "(SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)"
        }
        (ObjectKind::Type, "owner") => "pg_get_userbyid(t.typowner)::text",
        (ObjectKind::Table | ObjectKind::Sequence | ObjectKind::View | ObjectKind::MaterializedView, "owner") => {
            "pg_get_userbyid(c.relowner)::text"
        }
        (ObjectKind::Table, "column_order") => {
            "(SELECT string_agg(quote_ident(ca.attname), ', ' ORDER BY ca.attnum) FROM pg_attribute ca \
             WHERE ca.attrelid = c.oid AND ca.attnum > 0 AND NOT ca.attisdropped)"
        }
        (ObjectKind::Table, "inherits") => {
            "(SELECT string_agg(pn.nspname || '.' || pc.relname, ', ' ORDER BY i.inhseqno) FROM pg_inherits i \
             JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid)"
        }
        (ObjectKind::Table, "row_security") => "CASE WHEN c.relrowsecurity THEN 'true' END",
        (ObjectKind::Table, "force_row_security") => "CASE WHEN c.relforcerowsecurity THEN 'true' END",
        (ObjectKind::Table, "options") => "NULLIF(array_to_string(c.reloptions, ', '), '')",
        (ObjectKind::Schema, "owner") => "pg_get_userbyid(n.nspowner)::text",
        (ObjectKind::Function, "owner") => "pg_get_userbyid(p.proowner)::text",
        (ObjectKind::Extension, "version") => "e.extversion::text",
        (ObjectKind::Extension, "owner") => "pg_get_userbyid(e.extowner)::text",
        (ObjectKind::Extension, "schema") => "(SELECT en.nspname::text FROM pg_namespace en WHERE en.oid = e.extnamespace)",
        (ObjectKind::Trigger, "enabled") => "CASE tg.tgenabled WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'replica' WHEN 'A' THEN 'always' END",
        _ => return None,
    };
    Some(value)
}

/// Where repro scripts go when asked for `requested`: never where loading the project reads
/// migrations. A directory inside the migrations directory (or the directory itself) that
/// loading would walk is replaced by `DIR/target/pgconverge/repro`; `proptest-regressions/`
/// and `target/` are never walked (see `migration::files`), so a project whose migrations
/// directory is its root (`migrations = "."`) keeps its scripts next to its seeds.
pub(crate) fn repro_dir(requested: &Path, project_dir: &Path, migrations_dir: &Path) -> PathBuf {
    let (requested_abs, migrations_abs) = (lexical_absolute(requested), lexical_absolute(migrations_dir));
    let Ok(inside) = requested_abs.strip_prefix(&migrations_abs) else { return requested.to_path_buf() };
    let skipped = inside.components().any(|c| crate::migration::is_skipped_dir(&c.as_os_str().to_string_lossy()));
    if skipped {
        return requested.to_path_buf();
    }
    project_dir.join("target").join("pgconverge").join("repro")
}

/// `path` made absolute against the working directory, with `.` and `..` folded away (no
/// symlinks resolved: the directories need not exist yet).
fn lexical_absolute(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{Change, Severity};
    use crate::generate::Interruption;
    use crate::migration::Span;
    use crate::project::config::Ledger;
    use crate::runner::PgError;

    fn script_of(path: &str, text: &str) -> Script {
        Script::parse(Path::new(path), text.to_string(), Span { start: 0, end: text.len() }).unwrap()
    }

    fn migration(version: &str, name: &str, text: &str) -> Migration {
        let path = format!("migrations/{version}_{name}.sql");
        Migration {
            version: version.into(),
            name: name.into(),
            up: script_of(&path, text),
            down: None,
            no_transaction: text.starts_with("-- no-transaction").then(|| "declared".to_string()),
            repeatable: false,
        }
    }

    fn function_difference() -> Difference {
        Difference {
            kind: ObjectKind::Function,
            object: "public.f()".into(),
            change: Change::Attribute {
                attribute: "definition".into(),
                expected: Some("CREATE FUNCTION public.f() RETURNS int\nLANGUAGE sql AS $$ SELECT 1 $$".into()),
                found: Some("CREATE FUNCTION public.f() RETURNS int\r\nLANGUAGE sql AS $$ SELECT 2 $$".into()),
            },
            severity: Severity::Error,
            dependents: 0,
        }
    }

    /// A difference whose text spans lines (a function's definition) stays inside the check
    /// block's comments and its literal: no line of it is read as SQL.
    #[test]
    fn a_multi_line_difference_is_commented_on_every_line() {
        let mut out = String::new();
        write_checks(&mut out, &[function_difference()]);
        let commented = out.lines().filter(|l| l.trim_start().starts_with("--")).count();
        assert!(out.lines().any(|l| l.trim_start() == "-- LANGUAGE sql AS $$ SELECT 2 $$ found"), "{out}");
        assert!(commented >= 4, "{out}");
        // Every line outside the comments is the block's own PL/pgSQL.
        let mut comment_text = String::new();
        comment(&mut comment_text, "a\nb\rc\r\n\nd");
        assert_eq!(comment_text, "-- a\n-- b\n-- c\n--\n-- d\n");
    }

    /// The minimal case of a divergence whose difference spans several lines, as a script.
    #[test]
    fn a_divergence_with_a_multi_line_difference() {
        let migrations = vec![
            migration("1", "create_f", "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n"),
            migration(
                "2",
                "replace_f",
                "-- why\nCREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 2 $$ -- the new body\n;\n",
            ),
        ];
        let plan = Plan { applied: [0].into(), preexisting: Default::default(), interrupted: None, order: vec![1] };
        let labels = Difference {
            kind: ObjectKind::Type,
            object: "public.status".into(),
            change: Change::Attribute {
                attribute: "labels".into(),
                expected: Some("'draft', 'it''s'".into()),
                found: Some("'it''s', 'draft'".into()),
            },
            severity: Severity::Error,
            dependents: 0,
        };
        let failure = Failure::diverged_from_reference(vec![function_difference(), labels]);
        let preparation = Preparation::default();
        let input = ReproInput {
            title: "property order of fixtures/example".into(),
            preparation: &preparation,
            migrations: &migrations,
            plan: &plan,
            reference: None,
            failure: &failure,
        };
        insta::assert_snapshot!(script(&input));
    }

    /// A project with an extension, a setup file that creates a role and a schema, and a ledger:
    /// the script prepares the database as check does, and stops at the failing statement.
    #[test]
    fn a_project_with_setup_files_and_an_extension() {
        let setup = script_of(
            "setup.sql",
            "CREATE ROLE app NOLOGIN;\nCREATE SCHEMA app AUTHORIZATION app;\nGRANT USAGE ON SCHEMA app TO app; -- the app reads it\n",
        );
        let preparation =
            Preparation { extensions: vec!["citext".into()], setup: vec![setup], ledger: Some(Ledger::Rails), ..Default::default() };
        let migrations = vec![
            migration("1", "create_t", "CREATE TABLE app.t (id int, email citext);\n"),
            migration("2", "index_t", "-- no-transaction\nCREATE INDEX CONCURRENTLY index_a ON app.t (id);\nCREATE INDEX CONCURRENTLY index_b ON app.t (email);\n"),
            migration("3", "never_reached", "SELECT 3;\n"),
        ];
        let plan = Plan {
            applied: [0].into(),
            preexisting: Default::default(),
            interrupted: Some(Interruption { migration: 1, statements_done: 1 }),
            order: vec![1, 2],
        };
        let error = PgError {
            code: "42P07".into(),
            message: "relation \"index_a\" already exists".into(),
            detail: None,
            hint: None,
            context: None,
            position: None,
        };
        let failure = Failure::StatementFailed {
            migration: migrations[1].id(),
            statement: 1,
            location: migrations[1].up.location_of(&migrations[1].up.statements[0]),
            sql: migrations[1].up.statements[0].sql.clone(),
            error,
        };
        let input = ReproInput {
            title: "property interrupt of fixtures/example".into(),
            preparation: &preparation,
            migrations: &migrations,
            plan: &plan,
            reference: None,
            failure: &failure,
        };
        let text = script(&input);
        assert!(!text.contains("never_reached"), "nothing runs after the failing statement:\n{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn dollar_quotes_avoid_their_own_tag() {
        assert_eq!(dollar_quoted("a", "x"), "$x$a$x$");
        assert_eq!(dollar_quoted("$x$ and $x1$", "x"), "$x2$$x$ and $x1$$x2$");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal("a\\b'"), "E'a\\\\b'''");
    }

    #[test]
    fn repro_scripts_never_go_where_loading_reads_migrations() {
        let project = Path::new("/p");
        // A separate migrations directory: the default (the regressions directory) stays.
        assert_eq!(
            repro_dir(Path::new("/p/proptest-regressions"), project, Path::new("/p/migrations")),
            Path::new("/p/proptest-regressions")
        );
        // Inside the migrations directory, or the directory itself: moved.
        let moved = Path::new("/p/target/pgconverge/repro");
        assert_eq!(repro_dir(Path::new("/p/migrations/repro"), project, Path::new("/p/migrations")), moved);
        assert_eq!(repro_dir(Path::new("/p/migrations/./"), project, Path::new("/p/migrations")), moved);
        assert_eq!(repro_dir(Path::new("/p/x/../migrations/v1"), project, Path::new("/p/migrations")), moved);
        // `migrations = "."`: proptest-regressions/ and target/ are never walked.
        assert_eq!(repro_dir(Path::new("/p/proptest-regressions"), project, Path::new("/p/.")), Path::new("/p/proptest-regressions"));
        assert_eq!(repro_dir(Path::new("/p/scripts"), project, Path::new("/p/.")), moved);
    }
}
