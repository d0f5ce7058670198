//! Functions, procedures and aggregates, by signature: full definition (language, volatility,
//! SECURITY DEFINER, SET search_path, body) and privileges. Functions a range type creates for
//! itself (internal dependencies) follow from the type and are skipped.

use super::acl::canonical_acl;
use super::{col, not_extension_member, user_schema, Canonicalizer, Object, ObjectKind, TextRow};

pub(super) const QUERY: &str = concat!(
    "SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', p.prokind::text, ",
    "CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END, ",
    "(SELECT 'sfunc ' || a.aggtransfn::regproc::text || ' stype ' || format_type(a.aggtranstype, NULL) ",
    "   || coalesce(' finalfunc ' || nullif(a.aggfinalfn, 0)::regproc::text, '') || coalesce(' initcond ' || a.agginitval, '') ",
    "   FROM pg_aggregate a WHERE a.aggfnoid = p.oid), ",
    "CASE WHEN p.proacl IS NULL OR p.proacl = acldefault('f', p.proowner) THEN NULL ELSE p.proacl::text END, pg_get_userbyid(p.proowner)::text ",
    "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid >= 16384 AND ",
    user_schema!("n"),
    " AND ",
    not_extension_member!("pg_proc", "p.oid"),
    " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'i')"
);

pub(super) fn objects(rows: Vec<TextRow>, canon: &mut Canonicalizer) -> Vec<Object> {
    rows.into_iter()
        .map(|mut r| {
            let kind = match col(&mut r, 1).as_deref() {
                Some("p") => "procedure",
                Some("a") => "aggregate",
                Some("w") => "window",
                _ => "function",
            };
            Object::new(ObjectKind::Function, col(&mut r, 0).unwrap_or_default())
                .attr("kind", Some(kind.to_string()))
                .attr("definition", col(&mut r, 2).map(|d| canon.statement(&d)))
                .attr("aggregate", col(&mut r, 3))
                .attr("acl", col(&mut r, 4).map(|a| canonical_acl(&a)))
                .attr("owner", col(&mut r, 5))
        })
        .collect()
}
