//! Indexes: definition (`pg_get_indexdef`), validity (a failed `CONCURRENTLY` build leaves an
//! invalid index), and the constraint it backs.

use super::{col, TextRow, not_extension_member, user_schema, Canonicalizer, Object, ObjectKind};

pub(super) const QUERY: &str = concat!(
    "SELECT n.nspname || '.' || ic.relname, tn.nspname || '.' || c.relname, pg_get_indexdef(i.indexrelid), ",
    "i.indisvalid::text, ",
    "co.conname::text, i.indisclustered::text ",
    "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace ",
    "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = c.relnamespace ",
    // A join, not a subquery per index: pg_constraint has no index on conindid. An index backs
    // at most one constraint.
    "LEFT JOIN pg_constraint co ON co.conindid = i.indexrelid AND co.conrelid = i.indrelid AND co.contype IN ('p', 'u', 'x') ",
    "WHERE i.indexrelid >= 16384 AND ",
    user_schema!("n"),
    " AND ",
    not_extension_member!("pg_class", "ic.oid")
);

pub(super) fn objects(rows: Vec<TextRow>, canon: &mut Canonicalizer) -> Vec<Object> {
    rows
        .into_iter()
        .map(|mut r| {
            Object::new(ObjectKind::Index, col(&mut r, 0).unwrap_or_default())
                .of_table(col(&mut r, 1).unwrap_or_default())
                .attr("definition", col(&mut r, 2).map(|d| canon.statement(&d)))
                .attr("invalid", col(&mut r, 3).filter(|v| v == "false").map(|_| "true".into()))
                .attr("constraint", col(&mut r, 4))
                .attr("clustered", col(&mut r, 5).filter(|v| v == "true"))
        })
        .collect()
}
