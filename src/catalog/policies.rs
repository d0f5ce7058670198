//! Row-level security policies: command, permissive or restrictive, roles, USING, WITH CHECK.

use super::{col, user_schema, Canonicalizer, Object, ObjectKind, TextRow};

pub(super) const QUERY: &str = concat!(
    "SELECT n.nspname || '.' || c.relname, p.polname::text, p.polcmd::text, p.polpermissive::text, ",
    // Roles sorted by name: polroles keeps them in the order the policy listed them.
    "(SELECT string_agg(role, ', ' ORDER BY role) FROM (SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END AS role ",
    "   FROM unnest(p.polroles) r) roles), ",
    "pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid) ",
    "FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ",
    user_schema!("n")
);

pub(super) fn objects(rows: Vec<TextRow>, canon: &mut Canonicalizer) -> Vec<Object> {
    rows.into_iter()
        .map(|mut r| {
            let table = col(&mut r, 0).unwrap_or_default();
            let name = format!("{table}.{}", col(&mut r, 1).unwrap_or_default());
            let command = match col(&mut r, 2).as_deref() {
                Some("r") => "select",
                Some("a") => "insert",
                Some("w") => "update",
                Some("d") => "delete",
                _ => "all",
            };
            let permissive = if col(&mut r, 3).as_deref() == Some("true") { "permissive" } else { "restrictive" };
            Object::new(ObjectKind::Policy, name)
                .of_table(table)
                .attr("command", Some(command.to_string()))
                .attr("mode", Some(permissive.to_string()))
                .attr("roles", col(&mut r, 4))
                .attr("using", col(&mut r, 5).map(|e| canon.expression(&e)))
                .attr("with_check", col(&mut r, 6).map(|e| canon.expression(&e)))
        })
        .collect()
}
