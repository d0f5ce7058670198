//! Table constraints (primary key, unique, check, foreign key, exclusion, constraint triggers):
//! definition, deferrability, whether they were validated (`NOT VALID` matters), and whether
//! they exist only through inheritance.

use super::{col, user_schema, Canonicalizer, Object, ObjectKind, TextRow};

pub(super) const QUERY: &str = concat!(
    "SELECT n.nspname || '.' || c.relname, co.conname::text, co.contype::text, pg_get_constraintdef(co.oid), ",
    "co.condeferrable::text, co.condeferred::text, co.convalidated::text, co.conislocal::text ",
    "FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace ",
    // PostgreSQL 18 records NOT NULL as constraints too (contype 'n'); the column's `not_null`
    // already says it, and leaving them out keeps catalogs of different majors comparable.
    "WHERE co.conrelid <> 0 AND co.contype <> 'n' AND ",
    user_schema!("n")
);

pub(super) fn objects(rows: Vec<TextRow>, canon: &mut Canonicalizer) -> Vec<Object> {
    rows.into_iter()
        .map(|mut r| {
            let table = col(&mut r, 0).unwrap_or_default();
            let name = format!("{table}.{}", col(&mut r, 1).unwrap_or_default());
            let kind = match col(&mut r, 2).as_deref() {
                Some("p") => "primary key",
                Some("u") => "unique",
                Some("c") => "check",
                Some("f") => "foreign key",
                Some("x") => "exclusion",
                Some("t") => "trigger",
                _ => "other",
            };
            Object::new(ObjectKind::Constraint, name)
                .of_table(table)
                .attr("kind", Some(kind.to_string()))
                .attr("definition", col(&mut r, 3).map(|d| canon.constraint(&d)))
                .attr("deferrable", col(&mut r, 4).filter(|v| v == "true"))
                .attr("initially_deferred", col(&mut r, 5).filter(|v| v == "true"))
                .attr("not_valid", col(&mut r, 6).filter(|v| v == "false").map(|_| "true".into()))
                // A child's own copy of an inherited constraint survives the parent's DROP
                // CONSTRAINT; an only-inherited one does not.
                .attr("inherited_only", col(&mut r, 7).filter(|local| local == "false").map(|_| "true".into()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A constraint a child only inherits differs from the child's own copy of it.
    #[test]
    fn an_only_inherited_constraint_says_so() {
        let row = |conislocal: &str| -> TextRow {
            ["public.child", "positive", "c", "CHECK ((amount > 0))", "false", "false", "true", conislocal]
                .iter()
                .map(|c| Some(c.to_string()))
                .collect()
        };
        let mut canon = Canonicalizer::new();
        let own = objects(vec![row("true")], &mut canon).remove(0);
        let inherited = objects(vec![row("false")], &mut canon).remove(0);
        assert!(!own.attributes.contains_key("inherited_only"), "{own:?}");
        assert_eq!(inherited.attributes.get("inherited_only").map(String::as_str), Some("true"));
        assert_eq!(own.attributes.get("definition"), inherited.attributes.get("definition"));
    }
}
