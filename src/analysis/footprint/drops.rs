//! DROP: every object it names is gone, with the row type of a table or view; DROP RULE
//! changes its table instead.

use pg_query::protobuf::{self as pb, ObjectType};

use super::names::{has_row_type, object_noun, object_type};
use super::{ObjectRef, RefKind, Walker};

impl Walker<'_> {
    pub(super) fn drop_objects(&mut self, s: &pb::DropStmt) {
        let objtype = object_type(s.remove_type);
        for object in &s.objects {
            let Some(object) = self.object_ref(objtype, object) else { continue };
            self.label(format!("drop {} {}", object_noun(objtype, object.kind), object.name));
            if objtype == ObjectType::ObjectRule {
                self.analysis.footprint.alters.insert(object);
                continue;
            }
            if has_row_type(objtype) {
                self.drop_object(ObjectRef::new(RefKind::Type, object.name.clone()));
            }
            self.drop_object(object);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::footprint::testing::*;
    use crate::analysis::footprint::*;

    #[test]
    fn a_drop_drops_every_name_it_lists() {
        let fp = statement_footprint("DROP TABLE IF EXISTS a, app.b CASCADE");
        assert_eq!(names(&fp.drops), ["relation app.b", "relation public.a", "type app.b", "type public.a"]);
        let drops = |sql: &str| names(&statement_footprint(sql).drops);
        assert_eq!(drops("DROP INDEX CONCURRENTLY IF EXISTS i"), ["relation public.i"]);
        assert_eq!(drops("DROP TYPE mood"), ["type public.mood"]);
        assert_eq!(drops("DROP FUNCTION app.f(int, text)"), ["function app.f"]);
        assert_eq!(drops("DROP TRIGGER tr ON t"), ["trigger public.t.tr"]);
    }

    /// A DROP of each kind of object.
    #[test]
    fn representative_statements() {
        let footprints = render_each(&[
            "DROP TABLE IF EXISTS a, app.b CASCADE",
            "DROP VIEW v",
            "DROP MATERIALIZED VIEW app.mv",
            "DROP INDEX CONCURRENTLY IF EXISTS i",
            "DROP SEQUENCE s",
            "DROP TYPE mood",
            "DROP DOMAIN email",
            "DROP FUNCTION app.f(int, text)",
            "DROP PROCEDURE archive",
            "DROP AGGREGATE total(numeric)",
            "DROP TRIGGER tr ON t",
            "DROP POLICY IF EXISTS p ON app.docs",
            "DROP RULE no_delete ON users",
            "DROP SCHEMA app CASCADE",
            "DROP EXTENSION pgcrypto",
        ]);
        insta::assert_snapshot!(footprints);
    }
}
