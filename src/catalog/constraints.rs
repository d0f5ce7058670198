//! Table constraints (primary key, unique, check, foreign key, exclusion, constraint triggers):
//! definition, deferrability, and whether they were validated (`NOT VALID` matters).

use super::{col, TextRow, user_schema, Canonicalizer, Object, ObjectKind};

pub(super) const QUERY: &str = concat!(
    "SELECT n.nspname || '.' || c.relname, co.conname::text, co.contype::text, pg_get_constraintdef(co.oid), ",
    "co.condeferrable::text, co.condeferred::text, co.convalidated::text ",
    "FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace ",
    // PostgreSQL 18 records NOT NULL as constraints too (contype 'n'); the column's `not_null`
    // already says it, and leaving them out keeps catalogs of different majors comparable.
    "WHERE co.conrelid <> 0 AND co.contype <> 'n' AND ",
    user_schema!("n")
);

pub(super) fn objects(rows: Vec<TextRow>, canon: &mut Canonicalizer) -> Vec<Object> {
    rows
        .into_iter()
        .map(|mut r| {
            let table = col(&mut r, 0).unwrap_or_default();
            let name = format!("{table}.{}", col(&mut r, 1).unwrap_or_default());
            let kind = match col(&mut r, 2).as_deref() {
                Some("p") => "primary key",
                Some("u") => "unique",
                Some("c") => "check",
                Some("f") => "foreign key",
                Some("x") => "exclusion",
                Some("t") => "trigger",
                _ => "other",
            };
            Object::new(ObjectKind::Constraint, name)
                .of_table(table)
                .attr("kind", Some(kind.to_string()))
                .attr("definition", col(&mut r, 3).map(|d| canon.constraint(&d)))
                .attr("deferrable", col(&mut r, 4).filter(|v| v == "true"))
                .attr("initially_deferred", col(&mut r, 5).filter(|v| v == "true"))
                .attr("not_valid", col(&mut r, 6).filter(|v| v == "false").map(|_| "true".into()))
        })
        .collect()
}
