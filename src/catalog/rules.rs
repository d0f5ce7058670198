//! Rewrite rules other than the `_RETURN` rule every view has.

use super::{col, user_schema, Canonicalizer, Object, ObjectKind, TextRow};

pub(super) const QUERY: &str = concat!(
    "SELECT n.nspname || '.' || c.relname, r.rulename::text, pg_get_ruledef(r.oid), r.ev_enabled::text ",
    "FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace ",
    "WHERE r.rulename <> '_RETURN' AND ",
    user_schema!("n")
);

pub(super) fn objects(rows: Vec<TextRow>, canon: &mut Canonicalizer) -> Vec<Object> {
    rows.into_iter()
        .map(|mut r| {
            let table = col(&mut r, 0).unwrap_or_default();
            let name = format!("{table}.{}", col(&mut r, 1).unwrap_or_default());
            Object::new(ObjectKind::Rule, name)
                .of_table(table)
                .attr("definition", col(&mut r, 2).map(|d| canon.statement(&d)))
                .attr("enabled", col(&mut r, 3).filter(|e| e != "O"))
        })
        .collect()
}
