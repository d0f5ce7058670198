//! Extensions: name, schema, version. Their member objects are not listed one by one.

use super::{col, Canonicalizer, Object, ObjectKind, TextRow};

pub(super) const QUERY: &str = "SELECT e.extname::text, n.nspname::text, e.extversion::text, pg_get_userbyid(e.extowner)::text \
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace";

pub(super) fn objects(rows: Vec<TextRow>, _canon: &mut Canonicalizer) -> Vec<Object> {
    rows.into_iter()
        .map(|mut r| {
            Object::new(ObjectKind::Extension, col(&mut r, 0).unwrap_or_default())
                .attr("schema", col(&mut r, 1))
                .attr("version", col(&mut r, 2))
                .attr("owner", col(&mut r, 3))
        })
        .collect()
}
