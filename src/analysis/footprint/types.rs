//! Types: enums, ranges, domains, composite and base types (DefineStmt, which also creates
//! aggregates), and their alterations. ALTER TYPE ... ADD ATTRIBUTE parses as an ALTER TABLE
//! and is read in `tables`.

use pg_query::protobuf::{self as pb, ObjectType};

use super::names::{object_type, strings};
use super::{ObjectRef, RefKind, Walker};

impl Walker<'_> {
    pub(super) fn create_type(&mut self, parts: &[String], noun: &'static str) {
        if let Some(name) = self.list_name(parts) {
            self.label(format!("{} {name}", if noun == "domain" { noun } else { "type" }));
            self.create(RefKind::Type, name, noun);
        }
    }

    pub(super) fn alter_type(&mut self, parts: &[String]) {
        if let Some(name) = self.list_name(parts) {
            self.label(format!("alter type {name}"));
            self.alter(RefKind::Type, name);
        }
    }

    pub(super) fn define(&mut self, s: &pb::DefineStmt) {
        let parts = strings(&s.defnames);
        match object_type(s.kind) {
            ObjectType::ObjectType => self.create_type(&parts, "type"),
            ObjectType::ObjectAggregate => {
                if let Some(name) = self.list_name(&parts) {
                    self.label(format!("aggregate {name}"));
                    self.create(RefKind::Function, name, "aggregate");
                }
            }
            _ => {}
        }
    }

    /// `CREATE TYPE t AS (...)`: the grammar parses the type's name as a relation.
    pub(super) fn create_composite_type(&mut self, s: &pb::CompositeTypeStmt) {
        if let Some(rv) = &s.typevar {
            let name = self.table(rv).full();
            self.not_references.insert(ObjectRef::new(RefKind::Relation, name.clone()));
            self.label(format!("type {name}"));
            self.create(RefKind::Type, name, "composite type");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::footprint::testing::*;
    use crate::analysis::footprint::*;

    #[test]
    fn types_enums_and_their_alterations() {
        let fp = statement_footprint("CREATE TYPE mood AS ENUM ('happy', 'sad')");
        assert_eq!(names(&fp.creates), ["type public.mood"]);
        let fp = statement_footprint("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh'");
        assert_eq!(
            (names(&fp.alters), fp.creates.len(), fp.references.len()),
            (vec!["type public.mood".to_string()], 0, 0)
        );
        let fp = statement_footprint("CREATE TYPE pair AS (a int, b money_amount)");
        assert_eq!(
            (names(&fp.creates), names(&fp.references)),
            (vec!["type public.pair".into()], vec!["type public.money_amount".into()])
        );
        let fp = statement_footprint("CREATE DOMAIN email AS citext CHECK (VALUE ~ '@')");
        assert_eq!(
            (names(&fp.creates), names(&fp.references)),
            (vec!["type public.email".into()], vec!["type public.citext".into()])
        );
    }

    /// Enums, composite types, domains, ranges, shell types, aggregates and their alterations.
    #[test]
    fn representative_statements() {
        let footprints = render_each(&[
            "CREATE TYPE mood AS ENUM ('happy', 'sad')",
            "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' AFTER 'happy'",
            "ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'",
            "CREATE TYPE pair AS (a int, b money_amount)",
            "ALTER TYPE pair ADD ATTRIBUTE c app.unit",
            "CREATE DOMAIN email AS citext CHECK (VALUE ~ '@')",
            "ALTER DOMAIN email ADD CONSTRAINT email_nonempty CHECK (VALUE <> '')",
            "CREATE TYPE floatrange AS RANGE (subtype = float8)",
            "CREATE TYPE complex",
            "CREATE AGGREGATE app.total(numeric) (sfunc = numeric_add, stype = numeric)",
        ]);
        insta::assert_snapshot!(footprints);
    }
}
