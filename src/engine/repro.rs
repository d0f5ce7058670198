//! Standalone repro scripts: the minimal case as plain SQL that `psql -f` runs on an empty
//! database, ending in the same error or in a check that shows the same difference.

use std::fmt::Write;

use crate::catalog::ObjectKind;
use crate::compare::{Change, Difference};
use crate::generate::Plan;
use crate::migration::{Migration, Script};

/// The pieces of a case, as SQL.
pub(crate) struct ReproInput<'a> {
    pub(crate) title: String,
    pub(crate) migrations: &'a [Migration],
    pub(crate) plan: &'a Plan,
    /// The reference schema and the statement indices that build the pre-existing units
    /// (preamble first, in file order).
    pub(crate) reference: Option<(&'a Script, Vec<usize>)>,
    /// The differences the case ends in, when it ends in one rather than an error.
    pub(crate) differences: &'a [Difference],
}

pub(crate) fn script(input: &ReproInput<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "-- pgconverge repro: {}", input.title);
    let _ = writeln!(out, "-- Run on an empty database: psql -X -v ON_ERROR_STOP=1 -d <empty database> -f <this file>");
    let _ = writeln!(out, "\\set ON_ERROR_STOP on\n");
    for &m in &input.plan.applied {
        write_migration(&mut out, &input.migrations[m], "applied", None);
    }
    if let Some((reference, statements)) = &input.reference {
        if !statements.is_empty() {
            let _ = writeln!(out, "-- pre-existing objects, as {} gives them", reference.path.display());
            for &i in statements {
                let _ = writeln!(out, "{};", reference.statements[i].sql);
            }
            // The reference may set session state (pg_dump sets search_path to '').
            let _ = writeln!(out, "RESET ALL;\n");
        }
    }
    if let Some(interrupted) = &input.plan.interrupted {
        let migration = &input.migrations[interrupted.migration];
        let label = format!("interrupted after {}", crate::model::plural(interrupted.statements_done, "statement"));
        write_migration(&mut out, migration, &label, Some(interrupted.statements_done));
    }
    for &m in &input.plan.order {
        write_migration(&mut out, &input.migrations[m], "pending", None);
    }
    for difference in input.differences {
        write_check(&mut out, difference);
    }
    out
}

fn write_migration(out: &mut String, migration: &Migration, role: &str, limit: Option<usize>) {
    let _ = writeln!(out, "-- {role}: {} ({})", migration.id(), migration.up.path.display());
    let in_transaction = migration.runs_in_transaction() && limit.is_none();
    if in_transaction {
        let _ = writeln!(out, "BEGIN;");
    }
    let statements = &migration.up.statements[..limit.unwrap_or(usize::MAX).min(migration.up.statements.len())];
    for statement in statements {
        let _ = writeln!(out, "{};", statement.sql);
    }
    if in_transaction {
        let _ = writeln!(out, "COMMIT;");
    }
    out.push('\n');
}

/// A check that raises with the difference's text when the database is in the state found.
fn write_check(out: &mut String, difference: &Difference) {
    let message = difference.to_string().replace('\'', "''");
    let condition = match (&difference.change, difference.kind) {
        (Change::Missing, kind) if is_relation(kind) => Some(format!("to_regclass({}) IS NULL", literal(&difference.object))),
        (Change::Unexpected, kind) if is_relation(kind) => Some(format!("to_regclass({}) IS NOT NULL", literal(&difference.object))),
        (Change::Missing, ObjectKind::Column) => column_exists(&difference.object).map(|c| format!("NOT {c}")),
        (Change::Unexpected, ObjectKind::Column) => column_exists(&difference.object),
        (Change::Missing, ObjectKind::Constraint) => constraint_exists(&difference.object).map(|c| format!("NOT {c}")),
        (Change::Unexpected, ObjectKind::Constraint) => constraint_exists(&difference.object),
        (Change::Attribute { attribute, found, .. }, ObjectKind::Type) if attribute == "labels" => found.as_ref().map(|labels| {
            format!(
                "(SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e \
                 WHERE e.enumtypid = {}::regtype) = {}",
                literal(&difference.object),
                literal(labels)
            )
        }),
        (Change::Attribute { attribute, found, .. }, ObjectKind::Column) if attribute == "type" => {
            column_parts(&difference.object).zip(found.as_ref()).map(|((table, column), found)| {
                format!(
                    "(SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = {}::regclass AND attname = {}) = {}",
                    literal(&table),
                    literal(&column),
                    literal(found)
                )
            })
        }
        _ => None,
    };
    match condition {
        Some(condition) => {
            let _ = writeln!(
                out,
                "-- the difference pgconverge found:\nDO $pgconverge$ BEGIN IF {condition} THEN RAISE EXCEPTION 'pgconverge: {message}'; END IF; END $pgconverge$;"
            );
        }
        None => {
            // A difference can span lines (a function's body): every line stays a comment, so
            // the script still runs with psql.
            let text = format!("the difference pgconverge found (compare with `pgconverge dump`): {difference}");
            for line in text.lines() {
                let _ = writeln!(out, "-- {line}");
            }
        }
    }
}

fn is_relation(kind: ObjectKind) -> bool {
    matches!(kind, ObjectKind::Table | ObjectKind::Index | ObjectKind::View | ObjectKind::MaterializedView | ObjectKind::Sequence)
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn column_parts(qualified: &str) -> Option<(String, String)> {
    let (table, column) = qualified.rsplit_once('.')?;
    Some((table.to_string(), column.to_string()))
}

fn column_exists(qualified: &str) -> Option<String> {
    let (table, column) = column_parts(qualified)?;
    Some(format!(
        "EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass({}) AND attname = {} AND NOT attisdropped)",
        literal(&table),
        literal(&column)
    ))
}

fn constraint_exists(qualified: &str) -> Option<String> {
    let (table, name) = column_parts(qualified)?;
    Some(format!("EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass({}) AND conname = {})", literal(&table), literal(&name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{Change, Severity};

    /// A difference whose text spans lines is commented line by line: no line of it is SQL.
    #[test]
    fn a_multi_line_difference_is_commented_on_every_line() {
        let difference = Difference {
            kind: ObjectKind::Function,
            object: "public.f()".into(),
            change: Change::Attribute {
                attribute: "definition".into(),
                expected: Some("CREATE FUNCTION public.f() RETURNS int\nLANGUAGE sql AS $$ SELECT 1 $$".into()),
                found: Some("CREATE FUNCTION public.f() RETURNS int\nLANGUAGE sql AS $$ SELECT 2 $$".into()),
            },
            severity: Severity::Error,
            dependents: 0,
        };
        let mut out = String::new();
        write_check(&mut out, &difference);
        assert!(out.lines().count() > 1, "{out}");
        assert!(out.lines().all(|line| line.starts_with("-- ")), "{out}");
    }
}
