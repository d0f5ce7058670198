//! Schemas, with their privileges and owner.

use super::acl::canonical_acl;
use super::{col, not_extension_member, user_schema, Canonicalizer, Object, ObjectKind, TextRow};

pub(super) const QUERY: &str = concat!(
    "SELECT n.nspname::text, CASE WHEN n.nspacl IS NULL OR n.nspacl = acldefault('n', n.nspowner) THEN NULL ELSE n.nspacl::text END, ",
    "pg_get_userbyid(n.nspowner)::text FROM pg_namespace n WHERE ",
    user_schema!("n"),
    " AND ",
    not_extension_member!("pg_namespace", "n.oid")
);

pub(super) fn objects(rows: Vec<TextRow>, _canon: &mut Canonicalizer) -> Vec<Object> {
    rows.into_iter()
        .map(|mut r| {
            Object::new(ObjectKind::Schema, col(&mut r, 0).unwrap_or_default())
                .attr("acl", col(&mut r, 1).map(|a| canonical_acl(&a)))
                .attr("owner", col(&mut r, 2))
        })
        .collect()
}
