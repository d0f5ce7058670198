//! Sequences: type and parameters, OWNED BY; never the current value.

use super::acl::canonical_acl;
use super::{col, not_extension_member, user_schema, Canonicalizer, Object, ObjectKind, TextRow};

pub(super) const QUERY: &str = concat!(
    "SELECT n.nspname || '.' || c.relname, format_type(s.seqtypid, NULL), s.seqstart::text, s.seqincrement::text, ",
    "s.seqmin::text, s.seqmax::text, s.seqcache::text, s.seqcycle::text, ",
    "tn.nspname || '.' || tc.relname || '.' || a.attname, CASE WHEN d.deptype = 'i' THEN 'i' END, ",
    "CASE WHEN c.relacl IS NULL OR c.relacl = acldefault('s', c.relowner) THEN NULL ELSE c.relacl::text END, c.relpersistence::text, ",
    "pg_get_userbyid(c.relowner)::text ",
    "FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace ",
    // The column that owns the sequence (OWNED BY, serial, identity): joins, not a subquery
    // per sequence. A sequence has at most one owner.
    "LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass ",
    "   AND d.deptype IN ('a', 'i') ",
    "LEFT JOIN pg_class tc ON tc.oid = d.refobjid LEFT JOIN pg_namespace tn ON tn.oid = tc.relnamespace ",
    "LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid ",
    "WHERE c.oid >= 16384 AND ",
    user_schema!("n"),
    " AND ",
    not_extension_member!("pg_class", "c.oid")
);

pub(super) fn objects(rows: Vec<TextRow>, _canon: &mut Canonicalizer) -> Vec<Object> {
    rows.into_iter()
        .map(|mut r| {
            let name = col(&mut r, 0).unwrap_or_default();
            let owned_by = col(&mut r, 8);
            let identity = col(&mut r, 9).is_some();
            let mut object = Object::new(ObjectKind::Sequence, name)
                .attr("type", col(&mut r, 1))
                .attr("start", col(&mut r, 2))
                .attr("increment", col(&mut r, 3))
                .attr("min", col(&mut r, 4))
                .attr("max", col(&mut r, 5))
                .attr("cache", col(&mut r, 6))
                .attr("cycle", col(&mut r, 7))
                .attr("acl", col(&mut r, 10).map(|a| canonical_acl(&a)))
                .attr("owner", col(&mut r, 12))
                .attr("unlogged", col(&mut r, 11).filter(|p| p == "u").map(|_| "true".into()))
                .attr("identity_of", owned_by.clone().filter(|_| identity));
            if !identity {
                object = object.attr("owned_by", owned_by.clone());
            }
            if let Some(table) = owned_by.as_deref().and_then(|o| o.rsplit_once('.')).map(|(t, _)| t.to_string()) {
                object = object.of_table(table);
            }
            object
        })
        .collect()
}
