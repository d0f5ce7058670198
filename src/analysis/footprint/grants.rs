//! GRANT/REVOKE, COMMENT ON and ALTER ... OWNER TO: they change an existing object, so they
//! alter what they name.

use pg_query::protobuf::{self as pb, GrantTargetType};

use super::names::{object_noun, object_type};
use super::{ObjectRef, RefKind, Walker};
use crate::migration::plpgsql::node_string;

impl Walker<'_> {
    pub(super) fn grant(&mut self, s: &pb::GrantStmt) {
        let objtype = object_type(s.objtype);
        let verb = if s.is_grant { "grant on" } else { "revoke on" };
        let all_in_schema = s.targtype == GrantTargetType::AclTargetAllInSchema as i32;
        for object in &s.objects {
            let object = if all_in_schema {
                node_string(object).map(|schema| ObjectRef::new(RefKind::Schema, schema))
            } else {
                self.object_ref(objtype, object)
            };
            if let Some(object) = object {
                self.label(format!("{verb} {} {}", object_noun(objtype, object.kind), object.name));
                self.analysis.footprint.alters.insert(object);
            }
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
