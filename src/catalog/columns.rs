//! Table columns: type (`format_type`, so `varchar` and `character varying` agree), NOT NULL,
//! default, identity, generated expression, collation when it is not the type's, privileges.
//! Column order is an attribute of the table, compared on its own, read from these rows.

use std::collections::HashMap;

use super::{col, TextRow, not_extension_member, user_schema, Canonicalizer, Object, ObjectKind};

// A default cannot refer to columns, only a generated column's expression can: deparsing the
// others without the table (relid 0) skips opening the table for every default.
pub(super) const QUERY: &str = concat!(
    "SELECT n.nspname || '.' || c.relname, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull::text, ",
    "pg_get_expr(d.adbin, CASE WHEN a.attgenerated <> '' THEN d.adrelid ELSE 0 END), a.attidentity::text, a.attgenerated::text, ",
    "CASE WHEN a.attcollation <> t.typcollation THEN cn.nspname || '.' || quote_ident(co.collname) END, ",
    "a.attacl::text, a.attnum::text, quote_ident(a.attname) ",
    "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace ",
    "JOIN pg_type t ON t.oid = a.atttypid ",
    "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum ",
    "LEFT JOIN pg_collation co ON co.oid = a.attcollation LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace ",
    "WHERE a.attrelid >= 16384 AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f') AND ",
    user_schema!("n"),
    " AND ",
    not_extension_member!("pg_class", "c.oid")
);

/// Each table's columns, quoted, in their order (`id, "Name", email`): the table's
/// `column_order`. Read here rather than by a subquery per table.
pub(super) fn column_order(rows: &[TextRow]) -> HashMap<String, String> {
    let mut positions: HashMap<&str, Vec<(i32, &str)>> = HashMap::new();
    for row in rows {
        let field = |i: usize| row.get(i).and_then(Option::as_deref);
        if let (Some(table), Some(attnum), Some(quoted)) = (field(0), field(9).and_then(|n| n.parse().ok()), field(10)) {
            positions.entry(table).or_default().push((attnum, quoted));
        }
    }
    positions
        .into_iter()
        .map(|(table, mut columns)| {
            columns.sort_unstable();
            (table.to_string(), columns.into_iter().map(|(_, name)| name).collect::<Vec<_>>().join(", "))
        })
        .collect()
}

pub(super) fn objects(rows: Vec<TextRow>, canon: &mut Canonicalizer) -> Vec<Object> {
    rows
        .into_iter()
        .map(|mut r| {
            let table = col(&mut r, 0).unwrap_or_default();
            let name = format!("{table}.{}", col(&mut r, 1).unwrap_or_default());
            let expression = col(&mut r, 4).map(|e| canon.expression(&e));
            let generated = col(&mut r, 6).filter(|g| g == "s").is_some();
            let identity = match col(&mut r, 5).as_deref() {
                Some("a") => Some("always".to_string()),
                Some("d") => Some("by default".to_string()),
                _ => None,
            };
            let (default, generated_as) = if generated { (None, expression) } else { (expression, None) };
            Object::new(ObjectKind::Column, name)
                .of_table(table)
                .attr("type", col(&mut r, 2))
                .attr("not_null", col(&mut r, 3).filter(|v| v == "true"))
                .attr("default", default)
                .attr("generated", generated_as)
                .attr("identity", identity)
                .attr("collation", col(&mut r, 7))
                .attr("acl", col(&mut r, 8))
        })
        .collect()
}
