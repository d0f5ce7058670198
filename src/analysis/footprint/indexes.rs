//! CREATE INDEX: the index (named as Postgres names it when the SQL does not), the columns it
//! covers and the unique key it declares.

use pg_query::protobuf as pb;
use pg_query::NodeEnum;

use super::names::implicit_name;
use super::{Key, RefKind, Walker};

impl Walker<'_> {
    pub(super) fn create_index(&mut self, s: &pb::IndexStmt) {
        let Some(rv) = &s.relation else { return };
        let table = self.table(rv);
        let columns: Vec<Option<String>> = s
            .index_params
            .iter()
            .map(|p| match p.node.as_ref() {
                Some(NodeEnum::IndexElem(e)) if !e.name.is_empty() => Some(e.name.clone()),
                _ => None,
            })
            .collect();
        let name = match s.idxname.as_str() {
            "" => {
                let parts: Vec<String> = columns.iter().map(|c| c.clone().unwrap_or_else(|| "expr".into())).collect();
                let suffix = if s.primary {
                    "pkey"
                } else if s.isconstraint {
                    "key"
                } else {
                    "idx"
                };
                implicit_name(&table.name, Some(&parts.join("_")), suffix)
            }
            name => name.to_string(),
        };
        self.label(format!("index {}", table.sibling(&name)));
        self.create(RefKind::Relation, table.sibling(&name), "index");
        self.refer(RefKind::Relation, table.full());
        for column in columns.iter().flatten() {
            self.refer(RefKind::Column, table.member(column));
        }
        let plain: Option<Vec<String>> = columns.into_iter().collect();
        if let (true, None, Some(columns)) = (s.unique, &s.where_clause, plain) {
            self.analysis.keys.unique.push(Key { table: table.full(), columns, primary: s.primary });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::footprint::testing::*;
    use crate::analysis::footprint::*;

    #[test]
    fn create_index_references_its_table_and_columns() {
        let fp = statement_footprint(
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_email ON app.accounts USING btree (lower(email), tenant_id) \
             WHERE deleted_at IS NULL",
        );
        assert_eq!(names(&fp.creates), ["relation app.idx_email"]);
        assert_eq!(
            names(&fp.references),
            [
                "schema app",
                "relation app.accounts",
                "column app.accounts.deleted_at",
                "column app.accounts.email",
                "column app.accounts.tenant_id"
            ],
            "the expression's and the predicate's columns too"
        );
        let info = &analyze_script(&script("CREATE UNIQUE INDEX i ON t (a, b); CREATE INDEX ON t (c)")).statements;
        assert_eq!(
            info[0].keys.unique,
            [Key { table: "public.t".into(), columns: vec!["a".into(), "b".into()], primary: false }]
        );
        assert!(has(&info[1].footprint.creates, "relation public.t_c_idx"));
        assert_eq!(info[1].label.as_deref(), Some("index public.t_c_idx"));
    }

    /// Named and implicitly named indexes, their columns and the unique keys they declare.
    #[test]
    fn representative_statements() {
        let footprints = render_each(&[
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_email ON app.accounts USING btree (lower(email), tenant_id) WHERE deleted_at IS NULL",
            "CREATE UNIQUE INDEX i ON t (a, b)",
            "CREATE UNIQUE INDEX ON t (a) WHERE b IS NULL",
            "CREATE INDEX ON t (c)",
            "CREATE INDEX ON t (lower(name), id)",
            "CREATE INDEX ON t ((a + b))",
            "CREATE INDEX i ON accounts (email) INCLUDE (name)",
            "CREATE INDEX parent_a_idx ON ONLY parent (a)",
        ]);
        insta::assert_snapshot!(footprints);
    }
}
