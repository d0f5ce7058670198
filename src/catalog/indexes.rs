//! Indexes: definition (`pg_get_indexdef`), validity (a failed `CONCURRENTLY` build leaves an
//! invalid index), and the constraint it backs.
//!
//! The index of a primary key or unique constraint has no definition of its own: the
//! constraint's definition says nearly all of it (columns, INCLUDE, NULLS NOT DISTINCT), since
//! such an index has default operator classes, collations and sort order even when attached
//! with `USING INDEX`; its storage options, which the constraint's definition leaves out, are
//! an attribute of their own. `pg_get_indexdef` is the costliest call of a dump (a scan of
//! pg_opclass per column), and half the indexes of a schema back a key.

use super::{col, not_extension_member, user_schema, Canonicalizer, Object, ObjectKind, TextRow};

pub(super) const QUERY: &str = concat!(
    "SELECT n.nspname || '.' || ic.relname, tn.nspname || '.' || c.relname, ",
    "CASE WHEN co.contype IN ('p', 'u') THEN NULL ELSE pg_get_indexdef(i.indexrelid) END, ",
    "i.indisvalid::text, ",
    "co.conname::text, i.indisclustered::text, ",
    "CASE WHEN co.contype IN ('p', 'u') THEN array_to_string(ic.reloptions, ', ') END ",
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
    rows.into_iter()
        .map(|mut r| {
            Object::new(ObjectKind::Index, col(&mut r, 0).unwrap_or_default())
                .of_table(col(&mut r, 1).unwrap_or_default())
                .attr("definition", col(&mut r, 2).map(|d| canon.statement(&d)))
                .attr("invalid", col(&mut r, 3).filter(|v| v == "false").map(|_| "true".into()))
                .attr("constraint", col(&mut r, 4))
                .attr("clustered", col(&mut r, 5).filter(|v| v == "true"))
                .attr("options", col(&mut r, 6))
        })
        .collect()
}
