//! Extended statistics objects (`CREATE STATISTICS`).

use super::{col, user_schema, Canonicalizer, Object, ObjectKind, TextRow};

pub(super) const QUERY: &str = concat!(
    "SELECT n.nspname || '.' || s.stxname, pg_get_statisticsobjdef(s.oid), tn.nspname || '.' || c.relname ",
    "FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace ",
    "JOIN pg_class c ON c.oid = s.stxrelid JOIN pg_namespace tn ON tn.oid = c.relnamespace WHERE ",
    user_schema!("n")
);

pub(super) fn objects(rows: Vec<TextRow>, _canon: &mut Canonicalizer) -> Vec<Object> {
    rows.into_iter()
        .map(|mut r| {
            let name = col(&mut r, 0).unwrap_or_default();
            let definition = col(&mut r, 1);
            Object::new(ObjectKind::Statistics, name).attr("definition", definition).of_table(col(&mut r, 2).unwrap_or_default())
        })
        .collect()
}
