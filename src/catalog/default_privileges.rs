//! Default privileges (`ALTER DEFAULT PRIVILEGES`): a forgotten one is security drift.

use super::acl::canonical_acl;
use super::{col, Canonicalizer, Object, ObjectKind, TextRow};

pub(super) const QUERY: &str =
    "SELECT pg_get_userbyid(d.defaclrole)::text, coalesce(n.nspname, '*'), d.defaclobjtype::text, d.defaclacl::text \
    FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace";

pub(super) fn objects(rows: Vec<TextRow>, _canon: &mut Canonicalizer) -> Vec<Object> {
    rows.into_iter()
        .map(|mut r| {
            let role = col(&mut r, 0).unwrap_or_default();
            let schema = col(&mut r, 1).unwrap_or_default();
            let on = match col(&mut r, 2).as_deref() {
                Some("r") => "tables",
                Some("S") => "sequences",
                Some("f") => "functions",
                Some("T") => "types",
                Some("n") => "schemas",
                _ => "other",
            };
            Object::new(ObjectKind::DefaultPrivileges, format!("{role} in {schema} on {on}"))
                .attr("acl", col(&mut r, 3).map(|a| canonical_acl(&a)))
        })
        .collect()
}
