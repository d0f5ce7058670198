//! CREATE INDEX: the index (named as Postgres names it when the SQL does not), the columns it
//! covers and the unique key it declares.

use pg_query::protobuf as pb;
use pg_query::NodeEnum;

use super::names::{implicit_name, index_column_names, index_element_name};
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
                let elements = s.index_params.iter().chain(&s.index_including_params).map(|p| match p.node.as_ref() {
                    Some(NodeEnum::IndexElem(e)) => index_element_name(e),
                    _ => "expr".to_string(),
                });
                let parts = index_column_names(elements);
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
        assert_eq!(info[0].keys.unique, [Key { table: "public.t".into(), columns: vec!["a".into(), "b".into()], primary: false }]);
        assert!(has(&info[1].footprint.creates, "relation public.t_c_idx"));
        assert_eq!(info[1].label.as_deref(), Some("index public.t_c_idx"));
    }

    /// The names Postgres 15 gives these indexes.
    #[test]
    fn implicit_index_names_are_the_ones_postgres_gives() {
        let created = |sql: &str| names(&statement_footprint(sql).creates);
        for (sql, index) in [
            ("CREATE INDEX ON t (email) INCLUDE (name)", "t_email_name_idx"),
            ("CREATE INDEX ON t (lower(name), a)", "t_lower_a_idx"),
            ("CREATE INDEX ON t (pg_catalog.upper(name))", "t_upper_idx"),
            ("CREATE INDEX ON t ((a::text))", "t_a_idx"),
            ("CREATE INDEX ON t (((a + b)::int))", "t_int4_idx"),
            ("CREATE INDEX ON t ((j->>'x'))", "t_expr_idx"),
            ("CREATE INDEX ON t (coalesce(a, b))", "t_coalesce_idx"),
            ("CREATE INDEX ON t (greatest(a, b))", "t_greatest_idx"),
            ("CREATE INDEX ON t (nullif(a, 0))", "t_nullif_idx"),
            ("CREATE INDEX ON t ((CASE WHEN a > 0 THEN 1 END))", "t_case_idx"),
            ("CREATE INDEX ON t ((CASE WHEN a > 0 THEN 1 ELSE b END))", "t_b_idx"),
            ("CREATE INDEX ON t (name COLLATE \"C\")", "t_name_idx"),
            ("CREATE INDEX ON t (a, a)", "t_a_a1_idx"),
        ] {
            assert_eq!(created(sql), [format!("relation public.{index}")], "{sql}");
        }
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
            "CREATE INDEX ON accounts (email) INCLUDE (name)",
            "CREATE INDEX parent_a_idx ON ONLY parent (a)",
        ]);
        insta::assert_snapshot!(footprints);
    }
}
