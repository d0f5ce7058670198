//! Types: enums, ranges (with their multiranges), domains, composite and base types
//! (DefineStmt, which also creates aggregates and operators), and their alterations. ALTER
//! TYPE ... ADD ATTRIBUTE parses as an ALTER TABLE and is read in `tables`.

use pg_query::protobuf::{self as pb, ObjectType};
use pg_query::{Node, NodeEnum};

use super::names::{node_strings, object_type, strings};
use super::{ObjectRef, RefKind, Walker};
use crate::migration::plpgsql::def_elem;

/// Options of CREATE TYPE/AGGREGATE/OPERATOR and of a range that name a type.
const TYPE_OPTIONS: &[&str] = &["stype", "mstype", "basetype", "like", "element", "subtype", "leftarg", "rightarg"];

/// Options that name a function.
#[rustfmt::skip]
const FUNCTION_OPTIONS: &[&str] = &[
    "sfunc", "finalfunc", "combinefunc", "serialfunc", "deserialfunc", "msfunc", "minvfunc", "mfinalfunc", "input",
    "output", "receive", "send", "typmod_in", "typmod_out", "analyze", "subscript", "subtype_diff", "canonical",
    "function", "procedure", "restrict", "join",
];

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

    /// CREATE TYPE ... AS RANGE also creates the multirange type over the range (`floatrange`
    /// makes `floatmultirange`, `tsr` makes `tsr_multirange`).
    pub(super) fn create_range_type(&mut self, s: &pb::CreateRangeStmt) {
        let mut parts = strings(&s.type_name);
        self.create_type(&parts, "range type");
        self.definition(&s.params);
        let multirange = match (def_elem(&s.params, "multirange_type_name"), parts.last_mut()) {
            (Some(name), _) => self.list_name(&definition_name(name)),
            (None, Some(range)) => {
                *range = match range.find("range") {
                    Some(at) => format!("{}multi{}", &range[..at], &range[at..]),
                    None => format!("{range}_multirange"),
                };
                self.list_name(&parts)
            }
            (None, None) => None,
        };
        if let Some(multirange) = multirange {
            self.create(RefKind::Type, multirange, "multirange type");
        }
    }

    /// The options of CREATE TYPE/AGGREGATE/OPERATOR/... and of a range: the grammar parses a
    /// bare word in them as a type name, but only some options take a type; those that take a
    /// function call it, and in the others it is a word (`storage = plain`).
    fn definition(&mut self, options: &[Node]) {
        for option in options {
            let Some(NodeEnum::DefElem(d)) = option.node.as_ref() else { continue };
            let Some(NodeEnum::TypeName(t)) = d.arg.as_deref().and_then(|a| a.node.as_ref()) else { continue };
            if TYPE_OPTIONS.contains(&d.defname.as_str()) {
                continue;
            }
            let parts = strings(&t.names);
            if let Some(name) = self.list_name(&parts) {
                self.not_references.insert(ObjectRef::new(RefKind::Type, name));
            }
            if FUNCTION_OPTIONS.contains(&d.defname.as_str()) {
                self.call_function(&parts);
            }
        }
    }

    pub(super) fn define(&mut self, s: &pb::DefineStmt) {
        self.definition(&s.definition);
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

/// The name an option gives (a type name, or a list of names).
fn definition_name(node: &Node) -> Vec<String> {
    match node.node.as_ref() {
        Some(NodeEnum::TypeName(t)) => strings(&t.names),
        _ => node_strings(node),
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
        assert_eq!((names(&fp.alters), fp.creates.len(), fp.references.len()), (vec!["type public.mood".to_string()], 0, 0));
        let fp = statement_footprint("CREATE TYPE pair AS (a int, b money_amount)");
        assert_eq!((names(&fp.creates), names(&fp.references)), (vec!["type public.pair".into()], vec!["type public.money_amount".into()]));
        let fp = statement_footprint("CREATE DOMAIN email AS citext CHECK (VALUE ~ '@')");
        assert_eq!((names(&fp.creates), names(&fp.references)), (vec!["type public.email".into()], vec!["type public.citext".into()]));
    }

    #[test]
    fn options_that_take_a_function_call_it_and_the_words_of_others_are_no_types() {
        let fp = statement_footprint("CREATE AGGREGATE app.total(numeric) (sfunc = app.add_to, stype = app.acc, finalfunc = finish)");
        assert_eq!(names(&fp.references), ["schema app", "type app.acc", "function app.add_to", "function public.finish"]);
        let fp = statement_footprint(
            "CREATE TYPE complex (internallength = 16, input = complex_in, output = complex_out, storage = plain, alignment = double)",
        );
        assert_eq!(names(&fp.references), ["function public.complex_in", "function public.complex_out"]);
        let fp = statement_footprint("CREATE OPERATOR === (leftarg = box, rightarg = money_box, function = area_equal)");
        assert_eq!(names(&fp.references), ["type public.money_box", "function public.area_equal"]);
    }

    /// The multirange names Postgres 15 gives.
    #[test]
    fn a_range_creates_its_multirange() {
        let created = |sql: &str| names(&statement_footprint(sql).creates);
        let fp = statement_footprint(
            "CREATE TYPE floatrange AS RANGE (subtype = float8, subtype_diff = float8mi, subtype_opclass = float8_ops)",
        );
        assert_eq!(names(&fp.creates), ["type public.floatmultirange", "type public.floatrange"]);
        assert_eq!(names(&fp.references), ["function public.float8mi"]);
        assert_eq!(created("CREATE TYPE app.tsr AS RANGE (subtype = timestamp)"), ["type app.tsr", "type app.tsr_multirange"]);
        assert_eq!(
            created("CREATE TYPE r3 AS RANGE (subtype = int4, multirange_type_name = r3_many)"),
            ["type public.r3", "type public.r3_many"]
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
