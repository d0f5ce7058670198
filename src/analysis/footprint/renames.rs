//! RENAME and SET SCHEMA: the old name is gone after the statement (like a drop, so its users
//! must run first) and the new one is created; a table's row type moves with it.

use pg_query::protobuf::{self as pb, ObjectType};

use super::names::{has_row_type, object_noun, object_type, relation_kind};
use super::{ObjectRef, RefKind, Walker};

impl Walker<'_> {
    pub(super) fn rename(&mut self, s: &pb::RenameStmt) {
        use ObjectType as O;
        let objtype = object_type(s.rename_type);
        let table = s.relation.as_ref().map(|rv| self.table(rv));
        let (kind, old, new) = match (objtype, &table) {
            (O::ObjectColumn | O::ObjectTabconstraint | O::ObjectTrigger | O::ObjectPolicy, Some(t)) => {
                self.alter(RefKind::Relation, t.full());
                let kind = match objtype {
                    O::ObjectColumn => RefKind::Column,
                    O::ObjectTabconstraint => RefKind::Constraint,
                    O::ObjectTrigger => RefKind::Trigger,
                    _ => RefKind::Policy,
                };
                (kind, t.member(&s.subname), t.member(&s.newname))
            }
            (O::ObjectAttribute, Some(t)) => {
                self.not_references.insert(ObjectRef::new(RefKind::Relation, t.full()));
                self.alter(RefKind::Type, t.full());
                return;
            }
            (O::ObjectSchema, _) => (RefKind::Schema, s.subname.clone(), s.newname.clone()),
            (O::ObjectRole, _) => (RefKind::Role, s.subname.clone(), s.newname.clone()),
            (_, Some(t)) if relation_kind(objtype).is_some() => {
                if has_row_type(objtype) {
                    self.rename_away(ObjectRef::new(RefKind::Type, t.full()));
                    self.create(RefKind::Type, t.sibling(&s.newname), "row type");
                }
                (RefKind::Relation, t.full(), t.sibling(&s.newname))
            }
            _ => {
                let Some(object) = s.object.as_deref().and_then(|o| self.object_ref(objtype, o)) else { return };
                let schema = object.schema().unwrap_or(self.schema).to_string();
                (object.kind, object.name, format!("{schema}.{}", s.newname))
            }
        };
        let noun = object_noun(objtype, kind);
        self.label(format!("rename {noun} {old}"));
        self.rename_away(ObjectRef::new(kind, old));
        self.create(kind, new, noun);
    }

    /// The old name of a RENAME or SET SCHEMA: gone after the statement, like a drop.
    pub(super) fn rename_away(&mut self, old: ObjectRef) {
        self.analysis.footprint.renamed.insert(old.clone());
        self.drop_object(old);
    }

    pub(super) fn set_schema(&mut self, s: &pb::AlterObjectSchemaStmt) {
        let objtype = object_type(s.object_type);
        let object = match (&s.relation, s.object.as_deref()) {
            (Some(rv), _) => relation_kind(objtype).map(|kind| ObjectRef::new(kind, self.table(rv).full())),
            (None, Some(node)) => self.object_ref(objtype, node),
            _ => None,
        };
        let Some(object) = object else { return };
        let Some(base) = object.name.rsplit('.').next().map(str::to_string) else { return };
        self.label(format!("set schema of {} {}", object_noun(objtype, object.kind), object.name));
        self.refer(RefKind::Schema, s.newschema.clone());
        let kind = object.kind;
        if has_row_type(objtype) {
            self.rename_away(ObjectRef::new(RefKind::Type, object.name.clone()));
            self.create(RefKind::Type, format!("{}.{base}", s.newschema), "row type");
        }
        self.rename_away(object);
        self.create(kind, format!("{}.{base}", s.newschema), object_noun(objtype, kind));
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::footprint::testing::*;
    use crate::analysis::footprint::*;

    #[test]
    fn renames_and_set_schema_drop_the_old_name_and_create_the_new() {
        let renamed = |sql: &str| {
            let fp = statement_footprint(sql);
            assert_eq!(fp.renamed, fp.drops, "{sql}");
            (names(&fp.drops), names(&fp.creates))
        };
        let pair = |old: &[&str], new: &[&str]| {
            (old.iter().map(|s| s.to_string()).collect::<Vec<_>>(), new.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(
            renamed("ALTER VIEW v RENAME TO w"),
            pair(&["relation public.v", "type public.v"], &["relation public.w", "type public.w"])
        );
        assert_eq!(renamed("ALTER INDEX app.i RENAME TO j"), pair(&["relation app.i"], &["relation app.j"]));
        assert_eq!(renamed("ALTER SEQUENCE s RENAME TO s2"), pair(&["relation public.s"], &["relation public.s2"]));
        assert_eq!(renamed("ALTER TYPE mood RENAME TO feeling"), pair(&["type public.mood"], &["type public.feeling"]));
        assert_eq!(renamed("ALTER TABLE t RENAME CONSTRAINT c TO d"), pair(&["constraint public.t.c"], &["constraint public.t.d"]));
        assert_eq!(renamed("ALTER SCHEMA app RENAME TO core"), pair(&["schema app"], &["schema core"]));
        assert_eq!(
            renamed("ALTER TABLE events SET SCHEMA archive"),
            pair(&["relation public.events", "type public.events"], &["relation archive.events", "type archive.events"])
        );
    }

    #[test]
    fn a_rename_drops_the_old_name_and_creates_the_new() {
        // A rename drops the old name (its users must run first) and creates the new one.
        let fp = statement_footprint("ALTER TABLE a RENAME TO b");
        assert_eq!(
            (names(&fp.drops), names(&fp.creates)),
            (vec!["relation public.a".into(), "type public.a".into()], vec!["relation public.b".into(), "type public.b".into()])
        );
        assert_eq!(fp.renamed, fp.drops);
        assert!(fp.alters.is_empty());
        let fp = statement_footprint("ALTER TABLE t RENAME COLUMN a TO b");
        assert_eq!(
            (names(&fp.alters), names(&fp.drops), names(&fp.creates)),
            (vec!["relation public.t".into()], vec!["column public.t.a".into()], vec!["column public.t.b".into()])
        );
    }

    /// RENAME and SET SCHEMA of each kind of object.
    #[test]
    fn representative_statements() {
        let footprints = render_each(&[
            "ALTER TABLE a RENAME TO b",
            "ALTER TABLE IF EXISTS app.t RENAME COLUMN a TO b",
            "ALTER TABLE t RENAME CONSTRAINT c TO d",
            "ALTER INDEX app.i RENAME TO j",
            "ALTER MATERIALIZED VIEW mv RENAME TO mv2",
            "ALTER TYPE mood RENAME TO feeling",
            "ALTER TYPE pair RENAME ATTRIBUTE a TO x",
            "ALTER FUNCTION f(int) RENAME TO g",
            "ALTER TRIGGER tr ON t RENAME TO tr2",
            "ALTER POLICY p ON t RENAME TO q",
            "ALTER SCHEMA app RENAME TO core",
            "ALTER TABLE events SET SCHEMA archive",
            "ALTER FUNCTION app.f(int) SET SCHEMA core",
            "ALTER TYPE mood SET SCHEMA app",
        ]);
        insta::assert_snapshot!(footprints);
    }
}
