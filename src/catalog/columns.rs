//! Table columns: type (`format_type`, so `varchar` and `character varying` agree), NOT NULL,
//! default, identity, generated expression, collation when it is not the type's, privileges,
//! whether it exists only through inheritance, storage and compression.
//! Column order is an attribute of the table, compared on its own, read from these rows.

use std::collections::HashMap;

use super::acl::canonical_column_acl;
use super::{col, not_extension_member, user_schema, Canonicalizer, Object, ObjectKind, TextRow};

// A default cannot refer to columns, only a generated column's expression can: deparsing the
// others without the table (relid 0) skips opening the table for every default.
pub(super) const QUERY: &str = concat!(
    "SELECT n.nspname || '.' || c.relname, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull::text, ",
    "pg_get_expr(d.adbin, CASE WHEN a.attgenerated <> '' THEN d.adrelid ELSE 0 END), a.attidentity::text, a.attgenerated::text, ",
    "CASE WHEN a.attcollation <> t.typcollation THEN cn.nspname || '.' || quote_ident(co.collname) END, ",
    "a.attacl::text, a.attnum::text, quote_ident(a.attname), ",
    // 11-13: only inherited (a child's own column survives the parent's DROP COLUMN), storage
    // when it is not the type's, compression when set
    "a.attislocal::text, CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END, a.attcompression::text ",
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
    rows.into_iter()
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
                .attr("acl", col(&mut r, 8).and_then(|a| canonical_column_acl(&a)))
                .attr("inherited_only", col(&mut r, 11).filter(|local| local == "false").map(|_| "true".into()))
                .attr("storage", col(&mut r, 12).map(|s| storage(&s)))
                .attr("compression", col(&mut r, 13).map(|c| compression(&c)))
        })
        .collect()
}

/// `attstorage` in words, as `ALTER COLUMN ... SET STORAGE` spells it.
fn storage(code: &str) -> String {
    match code {
        "p" => "plain",
        "e" => "external",
        "m" => "main",
        "x" => "extended",
        other => other,
    }
    .to_string()
}

/// `attcompression` in words, as `ALTER COLUMN ... SET COMPRESSION` spells it ('' is the default).
fn compression(code: &str) -> String {
    match code {
        "p" => "pglz",
        "l" => "lz4",
        other => other,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(attislocal: &str, storage: Option<&str>, compression: &str) -> TextRow {
        let cells = [
            Some("public.child"),
            Some("amount"),
            Some("numeric(12,2)"),
            Some("true"),
            None,
            Some(""),
            Some(""),
            None,
            None,
            Some("2"),
            Some("amount"),
            Some(attislocal),
            storage,
            Some(compression),
        ];
        cells.iter().map(|c| c.map(str::to_string)).collect()
    }

    /// A column that exists only through inheritance, a non-default storage and a compression
    /// method are attributes; a local column with the type's storage and the default
    /// compression has none of them, so existing dumps read as before.
    #[test]
    fn inheritance_storage_and_compression_are_attributes() {
        let mut canon = Canonicalizer::new();
        let plain = objects(vec![row("true", None, "")], &mut canon).remove(0);
        for key in ["inherited_only", "storage", "compression"] {
            assert!(!plain.attributes.contains_key(key), "{key}: {plain:?}");
        }
        let other = objects(vec![row("false", Some("e"), "l")], &mut canon).remove(0);
        assert_eq!(other.attributes.get("inherited_only").map(String::as_str), Some("true"));
        assert_eq!(other.attributes.get("storage").map(String::as_str), Some("external"));
        assert_eq!(other.attributes.get("compression").map(String::as_str), Some("lz4"));
        assert_eq!(storage("m"), "main");
        assert_eq!(compression("p"), "pglz");
    }
}
