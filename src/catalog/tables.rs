//! Tables: kind (ordinary, partitioned, foreign), persistence, partitioning, inheritance, RLS
//! flags, storage options, privileges, and their column order (compared on its own; read from
//! the columns' rows, see [`attach_column_order`]).

use std::collections::HashMap;

use super::acl::canonical_acl;
use super::{col, not_extension_member, user_schema, Canonicalizer, Object, ObjectKind, TextRow};

pub(super) const QUERY: &str = concat!(
    "SELECT n.nspname || '.' || c.relname, c.relkind::text, c.relpersistence::text, ",
    "pg_get_partkeydef(c.oid), CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END, ",
    "(SELECT string_agg(pn.nspname || '.' || pc.relname, ', ' ORDER BY i.inhseqno) FROM pg_inherits i ",
    "   JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid), ",
    "c.relrowsecurity::text, c.relforcerowsecurity::text, array_to_string(c.reloptions, ', '), ",
    "CASE WHEN c.relacl IS NULL OR c.relacl = acldefault('r', c.relowner) THEN NULL ELSE c.relacl::text END, ",
    // (only for a table that says it uses an index: one lookup fewer per table)
    "CASE WHEN c.relreplident = 'i' THEN (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_index x ",
    "   JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (x.indkey) WHERE x.indrelid = c.oid AND x.indisreplident) END, ",
    "c.relreplident::text, pg_get_userbyid(c.relowner)::text ",
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace ",
    "WHERE c.relkind IN ('r', 'p', 'f') AND ",
    user_schema!("n"),
    " AND ",
    not_extension_member!("pg_class", "c.oid")
);

pub(super) fn objects(rows: Vec<TextRow>, _canon: &mut Canonicalizer) -> Vec<Object> {
    rows.into_iter()
        .map(|mut r| {
            let kind = match col(&mut r, 1).as_deref() {
                Some("p") => "partitioned",
                Some("f") => "foreign",
                _ => "ordinary",
            };
            let persistence = match col(&mut r, 2).as_deref() {
                Some("u") => "unlogged",
                Some("t") => "temporary",
                _ => "permanent",
            };
            let replica_identity = match col(&mut r, 11).as_deref() {
                Some("n") => Some("nothing".to_string()),
                Some("f") => Some("full".to_string()),
                Some("i") => col(&mut r, 10).map(|cols| format!("index ({cols})")),
                _ => None, // default: the primary key
            };
            Object::new(ObjectKind::Table, col(&mut r, 0).unwrap_or_default())
                .attr("kind", Some(kind.to_string()))
                .attr("persistence", Some(persistence.to_string()))
                .attr("partition_key", col(&mut r, 3))
                .attr("partition_bound", col(&mut r, 4))
                .attr("inherits", col(&mut r, 5))
                .attr("row_security", col(&mut r, 6).filter(|v| v == "true"))
                .attr("force_row_security", col(&mut r, 7).filter(|v| v == "true"))
                .attr("options", col(&mut r, 8))
                .attr("acl", col(&mut r, 9).map(|a| canonical_acl(&a)))
                .attr("owner", col(&mut r, 12))
                .attr("replica_identity", replica_identity)
        })
        .collect()
}

/// Sets each table's `column_order` (see `columns::column_order`).
pub(super) fn attach_column_order(objects: &mut [Object], mut column_order: HashMap<String, String>) {
    for table in objects.iter_mut().filter(|o| o.kind == ObjectKind::Table) {
        let order = column_order.remove(&table.name);
        table.set_attr("column_order", order);
    }
}
