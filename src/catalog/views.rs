//! Views and materialized views: definition, options, privileges.

use super::acl::canonical_acl;
use super::{col, not_extension_member, user_schema, Canonicalizer, Object, ObjectKind, TextRow};

pub(super) const QUERY: &str = concat!(
    "SELECT n.nspname || '.' || c.relname, c.relkind::text, pg_get_viewdef(c.oid), ",
    "array_to_string(c.reloptions, ', '), CASE WHEN c.relacl IS NULL OR c.relacl = acldefault('r', c.relowner) THEN NULL ELSE c.relacl::text END, ",
    "(SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) ",
    "   FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), ",
    "pg_get_userbyid(c.relowner)::text ",
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm') AND ",
    user_schema!("n"),
    " AND ",
    not_extension_member!("pg_class", "c.oid")
);

pub(super) fn objects(rows: Vec<TextRow>, canon: &mut Canonicalizer) -> Vec<Object> {
    rows.into_iter()
        .map(|mut r| {
            let name = col(&mut r, 0).unwrap_or_default();
            let kind = if col(&mut r, 1).as_deref() == Some("m") { ObjectKind::MaterializedView } else { ObjectKind::View };
            Object::new(kind, name)
                .attr("definition", col(&mut r, 2).map(|d| canon.statement(&d)))
                .attr("options", col(&mut r, 3))
                .attr("acl", col(&mut r, 4).map(|a| canonical_acl(&a)))
                .attr("columns", col(&mut r, 5))
                .attr("owner", col(&mut r, 6))
        })
        .collect()
}
