//! User-defined types: enums (labels in order), domains, composites, ranges. The implicit array
//! type of every type and the row type of every table follow from their owners and are skipped.

use super::acl::canonical_acl;
use super::{col, not_extension_member, user_schema, Canonicalizer, Object, ObjectKind, TextRow};

pub(super) const QUERY: &str = concat!(
    "SELECT n.nspname || '.' || t.typname, t.typtype::text, ",
    // 2: enum labels in sort order
    "(SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), ",
    // 3-5: domain base type, NOT NULL, default
    "CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END, ",
    "CASE WHEN t.typtype = 'd' THEN t.typnotnull::text END, ",
    "pg_get_expr(t.typdefaultbin, 0), ",
    // 6: domain constraints, as JSON [[name, definition, validated], ...] (canonicalized here)
    "(SELECT json_agg(json_build_array(c.conname, pg_get_constraintdef(c.oid), c.convalidated) ORDER BY c.conname) ",
    "   FROM pg_constraint c WHERE c.contypid = t.oid), ",
    // 7: composite attributes in order
    "(SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) ",
    "   FROM pg_attribute a WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), ",
    // 8: range subtype, opclass, collation
    "(SELECT format_type(r.rngsubtype, NULL) || ' opclass ' || opc.opcname || coalesce(' collation ' || coll.collname, '') ",
    "   FROM pg_range r JOIN pg_opclass opc ON opc.oid = r.rngsubopc LEFT JOIN pg_collation coll ON coll.oid = r.rngcollation ",
    "   WHERE r.rngtypid = t.oid), ",
    "CASE WHEN t.typacl IS NULL OR t.typacl = acldefault('T', t.typowner) THEN NULL ELSE t.typacl::text END, pg_get_userbyid(t.typowner)::text ",
    "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace ",
    "WHERE t.oid >= 16384 AND t.typtype IN ('e', 'd', 'c', 'r') AND ",
    "(t.typtype <> 'c' OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c') AND ",
    user_schema!("n"),
    " AND ",
    not_extension_member!("pg_type", "t.oid")
);

pub(super) fn objects(rows: Vec<TextRow>, canon: &mut Canonicalizer) -> Vec<Object> {
    rows.into_iter()
        .map(|mut r| {
            let kind = match col(&mut r, 1).as_deref() {
                Some("e") => "enum",
                Some("d") => "domain",
                Some("c") => "composite",
                _ => "range",
            };
            Object::new(ObjectKind::Type, col(&mut r, 0).unwrap_or_default())
                .attr("kind", Some(kind.to_string()))
                .attr("labels", col(&mut r, 2))
                .attr("base_type", col(&mut r, 3))
                .attr("not_null", col(&mut r, 4).filter(|v| v == "true"))
                .attr("default", col(&mut r, 5).map(|d| canon.expression(&d)))
                .attr("checks", col(&mut r, 6).map(|c| domain_checks(&c, canon)))
                .attr("attributes", col(&mut r, 7))
                .attr("range", col(&mut r, 8))
                .attr("acl", col(&mut r, 9).map(|a| canonical_acl(&a)))
                .attr("owner", col(&mut r, 10))
        })
        .collect()
}

/// A domain's constraints, one a line: name, canonical definition, and `NOT VALID` when it is
/// (the text of a varchar domain's `IN` list differs after a pg_dump, as a table's does).
fn domain_checks(json: &str, canon: &mut Canonicalizer) -> String {
    let Ok(checks) = serde_json::from_str::<Vec<(String, String, bool)>>(json) else { return json.to_string() };
    checks
        .into_iter()
        .map(|(name, definition, validated)| {
            let not_valid = if validated { "" } else { " NOT VALID" };
            format!("{name} {}{not_valid}", canon.constraint(&definition))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_checks_are_canonical() {
        let mut canon = Canonicalizer::new();
        let created = r#"[["code_check", "CHECK (((VALUE)::text = ANY ((ARRAY['a'::character varying])::text[])))", true]]"#;
        let reloaded = r#"[["code_check", "CHECK (((VALUE)::text = ANY (ARRAY[('a'::character varying)::text])))", true]]"#;
        assert_eq!(domain_checks(created, &mut canon), domain_checks(reloaded, &mut canon));
        let two = r#"[["a", "CHECK ((VALUE > 0))", true], ["b", "CHECK ((VALUE < 9))", false]]"#;
        assert_eq!(domain_checks(two, &mut canon), "a CHECK (value > 0)\nb CHECK (value < 9) NOT VALID");
    }
}
