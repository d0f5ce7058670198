//! GRANT/REVOKE, COMMENT ON and ALTER ... OWNER TO: they change an existing object, so they
//! alter what they name. ALTER DEFAULT PRIVILEGES needs the schemas it names.

use pg_query::protobuf::{self as pb, GrantTargetType, ObjectType};
use pg_query::NodeEnum;

use super::names::{node_strings, object_noun, object_type, strings};
use super::{ObjectRef, RefKind, Walker};
use crate::migration::plpgsql::{def_elem, node_string};

impl Walker<'_> {
    pub(super) fn grant(&mut self, s: &pb::GrantStmt) {
        let objtype = object_type(s.objtype);
        let verb = if s.is_grant { "grant on" } else { "revoke on" };
        let all_in_schema = s.targtype == GrantTargetType::AclTargetAllInSchema as i32;
        // Column privileges: GRANT SELECT (a, b) ON t.
        let columns: Vec<String> = s
            .privileges
            .iter()
            .filter_map(|p| match p.node.as_ref() {
                Some(NodeEnum::AccessPriv(p)) => Some(strings(&p.cols)),
                _ => None,
            })
            .flatten()
            .collect();
        for object in &s.objects {
            let object = if all_in_schema {
                node_string(object).map(|schema| ObjectRef::new(RefKind::Schema, schema))
            } else {
                self.object_ref(objtype, object)
            };
            let Some(object) = object else { continue };
            if all_in_schema {
                let all = match objtype {
                    ObjectType::ObjectSequence => "sequences",
                    ObjectType::ObjectFunction => "functions",
                    ObjectType::ObjectProcedure => "procedures",
                    ObjectType::ObjectRoutine => "routines",
                    _ => "tables",
                };
                self.label(format!("{verb} all {all} in schema {}", object.name));
            } else {
                self.label(format!("{verb} {} {}", object_noun(objtype, object.kind), object.name));
            }
            if object.kind == RefKind::Relation {
                for column in &columns {
                    self.alter(RefKind::Column, format!("{}.{column}", object.name));
                }
            }
            self.analysis.footprint.alters.insert(object);
        }
    }

    /// ALTER DEFAULT PRIVILEGES [IN SCHEMA s, ...] ...: the schemas must exist.
    pub(super) fn default_privileges(&mut self, s: &pb::AlterDefaultPrivilegesStmt) {
        for schema in def_elem(&s.options, "schemas").map(node_strings).unwrap_or_default() {
            self.refer(RefKind::Schema, schema);
        }
    }

    pub(super) fn comment(&mut self, s: &pb::CommentStmt) {
        let objtype = object_type(s.objtype);
        if let Some(object) = s.object.as_deref().and_then(|o| self.object_ref(objtype, o)) {
            self.label(format!("comment on {} {}", object_noun(objtype, object.kind), object.name));
            self.analysis.footprint.alters.insert(object);
        }
    }

    /// ALTER FUNCTION/TYPE/SCHEMA/... OWNER TO (a table's owner is an ALTER TABLE command).
    pub(super) fn alter_owner(&mut self, s: &pb::AlterOwnerStmt) {
        let objtype = object_type(s.object_type);
        if let Some(object) = s.object.as_deref().and_then(|o| self.object_ref(objtype, o)) {
            self.analysis.footprint.alters.insert(object);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::footprint::testing::*;
    use crate::analysis::footprint::*;

    #[test]
    fn comments_and_grants_alter_what_they_name() {
        let alters = |sql: &str| names(&statement_footprint(sql).alters);
        assert_eq!(alters("COMMENT ON COLUMN public.t.c IS 'x'"), ["column public.t.c"]);
        assert_eq!(alters("COMMENT ON CONSTRAINT c ON t IS 'x'"), ["constraint public.t.c"]);
        assert_eq!(alters("COMMENT ON FUNCTION f(int) IS 'x'"), ["function public.f"]);
        assert_eq!(alters("COMMENT ON TYPE mood IS 'x'"), ["type public.mood"]);
        assert_eq!(alters("GRANT SELECT, INSERT ON t, app.u TO bob"), ["relation app.u", "relation public.t"]);
        assert_eq!(alters("GRANT USAGE ON SCHEMA app TO bob"), ["schema app"]);
    }

    #[test]
    fn column_grants_alter_the_columns_and_default_privileges_need_their_schemas() {
        let fp = statement_footprint("GRANT SELECT (email, name), UPDATE (name) ON users TO bob");
        assert_eq!(names(&fp.alters), ["relation public.users", "column public.users.email", "column public.users.name"]);
        let fp = statement_footprint("ALTER DEFAULT PRIVILEGES IN SCHEMA app, core GRANT SELECT ON TABLES TO bob");
        assert_eq!(names(&fp.references), ["schema app", "schema core", "role bob"]);
        let analysis = analyze_script(&script("REVOKE ALL ON ALL SEQUENCES IN SCHEMA app FROM bob"));
        assert_eq!(analysis.statements[0].label.as_deref(), Some("revoke on all sequences in schema app"));
    }

    /// GRANT/REVOKE, COMMENT ON and OWNER TO of each kind of object.
    #[test]
    fn representative_statements() {
        let footprints = render_each(&[
            "GRANT SELECT, INSERT ON t, app.u TO bob",
            "GRANT SELECT (email) ON users TO bob",
            "GRANT USAGE ON SCHEMA app TO bob",
            "GRANT ALL ON ALL TABLES IN SCHEMA app TO bob",
            "REVOKE EXECUTE ON FUNCTION f(int) FROM PUBLIC",
            "GRANT admin TO bob",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO bob",
            "COMMENT ON TABLE app.t IS 'x'",
            "COMMENT ON COLUMN public.t.c IS 'x'",
            "COMMENT ON CONSTRAINT c ON t IS 'x'",
            "COMMENT ON INDEX i IS 'x'",
            "COMMENT ON FUNCTION f(int) IS 'x'",
            "COMMENT ON TRIGGER tr ON t IS 'x'",
            "COMMENT ON POLICY p ON t IS 'x'",
            "COMMENT ON EXTENSION pgcrypto IS 'x'",
            "ALTER FUNCTION f(int) OWNER TO bob",
            "ALTER TYPE mood OWNER TO bob",
            "ALTER SCHEMA app OWNER TO bob",
        ]);
        insta::assert_snapshot!(footprints);
    }
}
