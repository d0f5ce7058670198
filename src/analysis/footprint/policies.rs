//! CREATE POLICY and ALTER POLICY: a member of its table.

use pg_query::protobuf as pb;

use super::{RefKind, Walker};

impl Walker<'_> {
    pub(super) fn policy(&mut self, rv: Option<&pb::RangeVar>, name: &str, create: bool) {
        let Some(rv) = rv else { return };
        let table = self.table(rv);
        self.refer(RefKind::Relation, table.full());
        if create {
            self.label(format!("policy {}", table.member(name)));
            self.create(RefKind::Policy, table.member(name), "policy");
        } else {
            self.label(format!("alter policy {}", table.member(name)));
            self.alter(RefKind::Policy, table.member(name));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::footprint::testing::*;
    use crate::analysis::footprint::*;

    #[test]
    fn a_policy_is_a_member_of_its_table() {
        let fp = statement_footprint("CREATE POLICY p ON docs USING (tenant_id = current_tenant())");
        assert_eq!(names(&fp.creates), ["policy public.docs.p"]);
        assert_eq!(names(&fp.references), ["relation public.docs", "function public.current_tenant", "column public.docs.tenant_id"]);
    }

    /// Policies and row level security.
    #[test]
    fn representative_statements() {
        let footprints = render_each(&[
            "CREATE POLICY p ON docs USING (tenant_id = current_tenant())",
            r#"CREATE POLICY "Owners edit" ON app.docs FOR UPDATE TO authenticated USING (owner = auth.uid()) WITH CHECK (owner = auth.uid())"#,
            "ALTER POLICY p ON docs USING (true)",
            "ALTER TABLE docs ENABLE ROW LEVEL SECURITY",
        ]);
        insta::assert_snapshot!(footprints);
    }
}
