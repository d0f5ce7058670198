//! CREATE TRIGGER (a member of its table that calls a function) and CREATE EVENT TRIGGER.

use pg_query::protobuf as pb;

use super::names::strings;
use super::{RefKind, Walker};

impl Walker<'_> {
    pub(super) fn create_trigger(&mut self, s: &pb::CreateTrigStmt) {
        let Some(rv) = &s.relation else { return };
        let table = self.table(rv);
        self.label(format!("trigger {}", table.member(&s.trigname)));
        self.create(RefKind::Trigger, table.member(&s.trigname), "trigger");
        self.refer(RefKind::Relation, table.full());
        self.call_function(&strings(&s.funcname));
    }

    /// An event trigger belongs to no table: it only calls its function.
    pub(super) fn create_event_trigger(&mut self, s: &pb::CreateEventTrigStmt) {
        self.call_function(&strings(&s.funcname));
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::footprint::testing::*;
    use crate::analysis::footprint::*;

    #[test]
    fn a_trigger_is_a_member_of_its_table_and_calls_its_function() {
        let fp = statement_footprint("CREATE TRIGGER tr BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION set_updated_at()");
        assert_eq!(names(&fp.creates), ["trigger public.users.tr"]);
        assert_eq!(names(&fp.references), ["relation public.users", "function public.set_updated_at"]);
    }

    /// Triggers, constraint triggers and event triggers.
    #[test]
    fn representative_statements() {
        let footprints = render_each(&[
            "CREATE TRIGGER tr BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION set_updated_at()",
            "CREATE TRIGGER tr BEFORE UPDATE OF balance, email ON app.accounts FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION app.touch()",
            "CREATE CONSTRAINT TRIGGER ct AFTER INSERT ON orders DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE PROCEDURE check_order()",
            "CREATE EVENT TRIGGER log_ddl ON ddl_command_end EXECUTE FUNCTION log_ddl()",
            "ALTER TABLE users DISABLE TRIGGER tr",
        ]);
        insta::assert_snapshot!(footprints);
    }
}
