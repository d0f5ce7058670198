//! Tables and the other relations with a row type (views, materialized views, CREATE TABLE AS,
//! foreign tables), their columns and constraints with the names Postgres gives them, the
//! keys foreign keys need, ALTER TABLE and rules.

use std::collections::BTreeSet;

use pg_query::protobuf::{self as pb, AlterTableType, ConstrType, ObjectType};
use pg_query::NodeEnum;
use serde_json::Value;

use super::names::{
    implicit_name, index_column_names, index_element_name, json_strings, node_strings, object_type, relation_noun, strings, TableName,
};
use super::{Key, ObjectRef, RefKind, Walker};
use crate::migration::plpgsql::def_elem;

impl Walker<'_> {
    pub(super) fn create_foreign_table(&mut self, s: &pb::CreateForeignTableStmt) {
        if let Some(base) = &s.base_stmt {
            self.create_table(base, "foreign table");
        }
    }

    pub(super) fn create_view(&mut self, s: &pb::ViewStmt) {
        if let Some(rv) = &s.view {
            self.create_relation(&self.table(rv), "view");
        }
    }

    /// CREATE TABLE AS and CREATE MATERIALIZED VIEW.
    pub(super) fn create_table_as(&mut self, s: &pb::CreateTableAsStmt) {
        let noun = if s.objtype == ObjectType::ObjectMatview as i32 { "materialized view" } else { "table" };
        if let Some(rv) = s.into.as_ref().and_then(|i| i.rel.as_ref()) {
            self.create_relation(&self.table(rv), noun);
        }
    }

    /// A rule changes how its table behaves.
    pub(super) fn create_rule(&mut self, s: &pb::RuleStmt) {
        if let Some(rv) = &s.relation {
            let table = self.table(rv).full();
            self.label(format!("rule {table}.{}", s.rulename));
            self.alter(RefKind::Relation, table);
        }
    }

    /// A relation with a row type of the same name (tables, views, materialized views).
    fn create_relation(&mut self, table: &TableName, noun: &'static str) {
        self.label(format!("{noun} {}", table.full()));
        self.create(RefKind::Relation, table.full(), noun);
        self.create(RefKind::Type, table.full(), "row type");
    }

    pub(super) fn create_table(&mut self, s: &pb::CreateStmt, noun: &'static str) {
        let Some(rv) = &s.relation else { return };
        let table = self.table(rv);
        self.create_relation(&table, noun);
        for element in s.table_elts.iter().chain(&s.constraints) {
            match element.node.as_ref() {
                Some(NodeEnum::ColumnDef(column)) => self.column_def(&table, column),
                Some(NodeEnum::Constraint(constraint)) => self.constraint(&table, None, constraint),
                _ => {}
            }
        }
    }

    /// A column of CREATE TABLE or ADD COLUMN, with its inline constraints and the sequence a
    /// `serial` type makes.
    fn column_def(&mut self, table: &TableName, column: &pb::ColumnDef) {
        self.create(RefKind::Column, table.member(&column.colname), "column");
        if column.type_name.as_ref().is_some_and(is_serial) {
            let sequence = implicit_name(&table.name, Some(&column.colname), "seq");
            self.create(RefKind::Relation, table.sibling(&sequence), "sequence");
        }
        for constraint in &column.constraints {
            if let Some(NodeEnum::Constraint(c)) = constraint.node.as_ref() {
                self.constraint(table, Some(&column.colname), c);
            }
        }
    }

    /// A table or column constraint: the constraint (named as Postgres would name it when the
    /// SQL does not), the index of a PRIMARY KEY/UNIQUE/EXCLUDE, the sequence of an identity.
    fn constraint(&mut self, table: &TableName, column: Option<&str>, c: &pb::Constraint) {
        let contype = ConstrType::try_from(c.contype).unwrap_or(ConstrType::Undefined);
        let keys = match (strings(&c.keys), column) {
            (keys, Some(column)) if keys.is_empty() => vec![column.to_string()],
            (keys, _) => keys,
        };
        let (noun, suffix, addition) = match contype {
            ConstrType::ConstrIdentity => {
                let sequence = def_elem(&c.options, "sequence_name")
                    .and_then(|n| self.list_name(&node_strings(n)))
                    .unwrap_or_else(|| table.sibling(&implicit_name(&table.name, column, "seq")));
                self.create(RefKind::Relation, sequence, "sequence");
                return;
            }
            ConstrType::ConstrPrimary => ("primary key", "pkey", None),
            ConstrType::ConstrUnique => {
                let columns = index_column_names(keys.iter().cloned().chain(strings(&c.including)));
                ("unique constraint", "key", Some(columns.join("_")))
            }
            ConstrType::ConstrExclusion => {
                let columns = index_column_names(exclusion_columns(c).into_iter().chain(strings(&c.including)));
                ("exclusion constraint", "excl", Some(columns.join("_")))
            }
            ConstrType::ConstrCheck => ("check constraint", "check", check_column(c)),
            ConstrType::ConstrForeign => {
                let columns = match (strings(&c.fk_attrs), column) {
                    (cols, Some(column)) if cols.is_empty() => vec![column.to_string()],
                    (cols, _) => cols,
                };
                for col in &columns {
                    self.refer(RefKind::Column, table.member(col));
                }
                self.foreign_key_target(c);
                ("foreign key", "fkey", Some(columns.join("_")))
            }
            _ => return,
        };
        let indexed = matches!(contype, ConstrType::ConstrPrimary | ConstrType::ConstrUnique | ConstrType::ConstrExclusion);
        let addition = addition.as_deref().filter(|a| !a.is_empty());
        let name = match c.conname.as_str() {
            // ADD ... USING INDEX i without a name: the constraint takes the index's.
            "" if !c.indexname.is_empty() => c.indexname.clone(),
            // Postgres merges the equal keys of a statement, so their names are never numbered.
            "" if indexed => implicit_name(&table.name, addition, suffix),
            "" => self.unused_name(table, addition, suffix),
            name => name.to_string(),
        };
        self.label(format!("constraint {}", table.member(&name)));
        self.create(RefKind::Constraint, table.member(&name), noun);
        if indexed {
            match c.indexname.as_str() {
                "" => self.create(RefKind::Relation, table.sibling(&name), "index"),
                // ADD ... USING INDEX: the index becomes the constraint's, renamed to its name.
                index if index == name => self.refer(RefKind::Relation, table.sibling(index)),
                index => {
                    self.rename_away(ObjectRef::new(RefKind::Relation, table.sibling(index)));
                    self.create(RefKind::Relation, table.sibling(&name), "index");
                }
            }
            for key in &keys {
                self.refer(RefKind::Column, table.member(key));
            }
        }
        if matches!(contype, ConstrType::ConstrPrimary | ConstrType::ConstrUnique) && !keys.is_empty() {
            let primary = contype == ConstrType::ConstrPrimary;
            self.analysis.keys.unique.push(Key { table: table.full(), columns: keys, primary });
        }
    }

    /// Postgres's `ChooseConstraintName` within the statement: an implicit name the statement
    /// already gave gets a number after the label (`t_check`, then `t_check1`).
    fn unused_name(&self, table: &TableName, addition: Option<&str>, label: &str) -> String {
        let taken = |name: &String| self.analysis.footprint.creates.contains(&ObjectRef::new(RefKind::Constraint, table.member(name)));
        (0..)
            .map(|pass| match pass {
                0 => implicit_name(&table.name, addition, label),
                _ => implicit_name(&table.name, addition, &format!("{label}{pass}")),
            })
            .find(|name| !taken(name))
            .unwrap_or_default()
    }

    fn foreign_key_target(&mut self, c: &pb::Constraint) {
        let Some(rv) = &c.pktable else { return };
        let target = self.table(rv);
        let columns = strings(&c.pk_attrs);
        self.refer(RefKind::Relation, target.full());
        for col in &columns {
            self.refer(RefKind::Column, target.member(col));
        }
        self.analysis.keys.foreign.push(Key { table: target.full(), columns, primary: false });
    }

    pub(super) fn alter_table(&mut self, s: &pb::AlterTableStmt) {
        let Some(rv) = &s.relation else { return };
        let table = self.table(rv);
        let objtype = object_type(s.objtype);
        if objtype == ObjectType::ObjectType {
            // ALTER TYPE t ADD ATTRIBUTE: a composite type, parsed as a relation.
            self.not_references.insert(ObjectRef::new(RefKind::Relation, table.full()));
            self.label(format!("alter type {}", table.full()));
            self.alter(RefKind::Type, table.full());
            return;
        }
        self.alter(RefKind::Relation, table.full());
        let commands: Vec<&pb::AlterTableCmd> = s
            .cmds
            .iter()
            .filter_map(|c| match c.node.as_ref() {
                Some(NodeEnum::AlterTableCmd(cmd)) => Some(&**cmd),
                _ => None,
            })
            .collect();
        let outer = self.analysis.subject.take();
        for cmd in &commands {
            self.alter_table_command(&table, cmd);
        }
        // A lone ADD CONSTRAINT keeps the label it gave itself (it knows the implicit name).
        let own = self.analysis.subject.take();
        let general = || format!("alter {} {}", relation_noun(objtype), table.full());
        let label = match commands.as_slice() {
            [cmd] if cmd.subtype == AlterTableType::AtAddConstraint as i32 => own.unwrap_or_else(general),
            [cmd] => command_label(&table, cmd).unwrap_or_else(general),
            _ => general(),
        };
        self.analysis.subject = outer.or(Some(label));
    }

    fn alter_table_command(&mut self, table: &TableName, cmd: &pb::AlterTableCmd) {
        use AlterTableType as A;
        let subtype = AlterTableType::try_from(cmd.subtype).unwrap_or(A::Undefined);
        let def = cmd.def.as_deref().and_then(|d| d.node.as_ref());
        match subtype {
            A::AtAddColumn | A::AtAddColumnToView => {
                if let Some(NodeEnum::ColumnDef(column)) = def {
                    self.column_def(table, column);
                }
            }
            A::AtAddConstraint => {
                if let Some(NodeEnum::Constraint(c)) = def {
                    self.constraint(table, None, c);
                }
            }
            A::AtAddIdentity => {
                self.alter(RefKind::Column, table.member(&cmd.name));
                if let Some(NodeEnum::Constraint(c)) = def {
                    self.constraint(table, Some(&cmd.name), c);
                }
            }
            A::AtDropColumn => self.drop_object(ObjectRef::new(RefKind::Column, table.member(&cmd.name))),
            A::AtDropConstraint => self.drop_object(ObjectRef::new(RefKind::Constraint, table.member(&cmd.name))),
            A::AtValidateConstraint | A::AtAlterConstraint if !cmd.name.is_empty() => {
                self.alter(RefKind::Constraint, table.member(&cmd.name))
            }
            A::AtEnableTrig | A::AtEnableAlwaysTrig | A::AtEnableReplicaTrig | A::AtDisableTrig => {
                self.alter(RefKind::Trigger, table.member(&cmd.name))
            }
            _ if !cmd.name.is_empty() && is_column_command(subtype) => self.alter(RefKind::Column, table.member(&cmd.name)),
            _ => {}
        }
    }
}

/// ALTER TABLE subcommands that change one column.
fn is_column_command(subtype: AlterTableType) -> bool {
    use AlterTableType as A;
    matches!(
        subtype,
        A::AtColumnDefault
            | A::AtDropNotNull
            | A::AtSetNotNull
            | A::AtSetExpression
            | A::AtDropExpression
            | A::AtSetStatistics
            | A::AtSetOptions
            | A::AtResetOptions
            | A::AtSetStorage
            | A::AtSetCompression
            | A::AtAlterColumnType
            | A::AtAlterColumnGenericOptions
            | A::AtSetIdentity
            | A::AtDropIdentity
    )
}

/// The label of a single-command ALTER TABLE that has a unit of its own in a pg_dump.
fn command_label(table: &TableName, cmd: &pb::AlterTableCmd) -> Option<String> {
    use AlterTableType as A;
    let column = table.member(&cmd.name);
    match AlterTableType::try_from(cmd.subtype).ok()? {
        A::AtColumnDefault => Some(format!("default {column}")),
        A::AtAddIdentity => Some(format!("identity {column}")),
        A::AtAlterColumnType => Some(format!("column type {column}")),
        A::AtDropColumn => Some(format!("drop column {column}")),
        A::AtDropConstraint => Some(format!("drop constraint {column}")),
        A::AtAddColumn => match cmd.def.as_deref().and_then(|d| d.node.as_ref()) {
            Some(NodeEnum::ColumnDef(c)) => Some(format!("column {}", table.member(&c.colname))),
            _ => None,
        },
        _ => None,
    }
}

fn is_serial(type_name: &pb::TypeName) -> bool {
    let parts = strings(&type_name.names);
    let serial = ["serial", "bigserial", "smallserial", "serial2", "serial4", "serial8"];
    matches!(parts.as_slice(), [name] if serial.contains(&name.as_str()))
}

/// The columns of an EXCLUDE constraint, for its implicit name.
fn exclusion_columns(c: &pb::Constraint) -> Vec<String> {
    c.exclusions
        .iter()
        .filter_map(|e| match e.node.as_ref() {
            Some(NodeEnum::List(pair)) => match pair.items.first()?.node.as_ref()? {
                NodeEnum::IndexElem(elem) => Some(index_element_name(elem)),
                _ => Some("expr".to_string()),
            },
            _ => None,
        })
        .collect()
}

/// The column in a CHECK's implicit name: the one column its expression uses, wherever the
/// CHECK is declared (Postgres names it `t_check` otherwise).
fn check_column(c: &pb::Constraint) -> Option<String> {
    let tree = serde_json::to_value(c.raw_expr.as_deref()?).ok()?;
    let mut columns = BTreeSet::new();
    collect_column_refs(&tree, &mut columns);
    let mut columns = columns.into_iter();
    match (columns.next(), columns.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

fn collect_column_refs(value: &Value, columns: &mut BTreeSet<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|i| collect_column_refs(i, columns)),
        Value::Object(map) => {
            if let Some(column) = map.get("ColumnRef").and_then(|c| json_strings(&c["fields"]).pop()) {
                columns.insert(column);
            }
            map.values().for_each(|v| collect_column_refs(v, columns));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::footprint::testing::*;
    use crate::analysis::footprint::*;

    #[test]
    fn create_table_creates_the_table_its_columns_and_implicit_objects() {
        let fp = statement_footprint(
            "CREATE TABLE users (id bigserial PRIMARY KEY, tenant_id bigint NOT NULL REFERENCES tenants (id), \
             email text UNIQUE, mood mood, tags varchar(20)[], created_at timestamptz DEFAULT now())",
        );
        for created in [
            "relation public.users",
            "type public.users",
            "column public.users.id",
            "column public.users.email",
            "relation public.users_id_seq",
            "constraint public.users.users_pkey",
            "relation public.users_pkey",
            "constraint public.users.users_tenant_id_fkey",
            "constraint public.users.users_email_key",
        ] {
            assert!(has(&fp.creates, created), "{created} in {:?}", names(&fp.creates));
        }
        assert_eq!(names(&fp.references), ["relation public.tenants", "type public.mood", "column public.tenants.id"]);
        assert!(fp.alters.is_empty() && fp.drops.is_empty() && !fp.dynamic_sql);
    }

    #[test]
    fn alter_table_alters_the_table_and_creates_what_it_adds() {
        let fp = statement_footprint(
            "ALTER TABLE users ADD COLUMN org_id bigint, ADD CONSTRAINT fk_org FOREIGN KEY (org_id) REFERENCES orgs, \
             ALTER COLUMN email SET NOT NULL, DROP COLUMN legacy, DROP CONSTRAINT old_check",
        );
        assert_eq!(names(&fp.creates), ["constraint public.users.fk_org", "column public.users.org_id"]);
        assert_eq!(names(&fp.alters), ["relation public.users", "column public.users.email"]);
        assert_eq!(names(&fp.drops), ["constraint public.users.old_check", "column public.users.legacy"]);
        assert_eq!(names(&fp.references), ["relation public.orgs"]);
    }

    /// The names Postgres 15 gives these constraints: INCLUDE columns count, expressions are
    /// named as in an index.
    #[test]
    fn implicit_key_and_exclusion_names_are_the_ones_postgres_gives() {
        let fp = statement_footprint(
            "CREATE TABLE y (a int, b int, UNIQUE (a) INCLUDE (b), UNIQUE (a, b) INCLUDE (a), EXCLUDE USING btree (lower(a::text) WITH =))",
        );
        let constraints: Vec<String> = names(&fp.creates).into_iter().filter(|n| n.starts_with("constraint ")).collect();
        assert_eq!(constraints, ["constraint public.y.y_a_b_a1_key", "constraint public.y.y_a_b_key", "constraint public.y.y_lower_excl"]);
    }

    /// The names Postgres 15 gives these: a CHECK is named after the one column its expression
    /// uses, wherever it is declared; a repeated implicit name gets a number, but equal keys are
    /// one.
    #[test]
    fn implicit_check_names_come_from_the_expression_and_repeat_with_a_number() {
        let fp = statement_footprint(
            "CREATE TABLE c1 (a int CHECK (a > 0 AND b > 0), b int CHECK (true), c int CHECK (c > 0), d int CHECK (a > 0), \
             CHECK (d > 0 OR d < -1))",
        );
        let constraints: Vec<String> = names(&fp.creates).into_iter().filter(|n| n.starts_with("constraint ")).collect();
        assert_eq!(
            constraints,
            [
                "constraint public.c1.c1_a_check",
                "constraint public.c1.c1_c_check",
                "constraint public.c1.c1_check",
                "constraint public.c1.c1_check1",
                "constraint public.c1.c1_d_check"
            ]
        );
        let fp = statement_footprint("CREATE TABLE t (a int REFERENCES x, b int UNIQUE, FOREIGN KEY (a) REFERENCES y, UNIQUE (b))");
        let constraints: Vec<String> = names(&fp.creates).into_iter().filter(|n| n.starts_with("constraint ")).collect();
        assert_eq!(constraints, ["constraint public.t.t_a_fkey", "constraint public.t.t_a_fkey1", "constraint public.t.t_b_key"]);
    }

    /// Checked against PostgreSQL 15, which says so: "ALTER TABLE / ADD CONSTRAINT USING INDEX
    /// will rename index".
    #[test]
    fn a_key_using_an_index_renames_the_index_to_the_constraint_name() {
        let fp = statement_footprint("ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx");
        assert_eq!(names(&fp.creates), ["relation public.users_email_key", "constraint public.users.users_email_key"]);
        assert_eq!(names(&fp.drops), ["relation public.users_email_idx"]);
        assert_eq!(fp.renamed, fp.drops);
        let fp = statement_footprint("ALTER TABLE users ADD PRIMARY KEY USING INDEX users_id_idx");
        assert_eq!(names(&fp.creates), ["constraint public.users.users_id_idx"], "the index keeps its name");
        assert_eq!(names(&fp.references), ["relation public.users_id_idx"]);
        assert!(fp.drops.is_empty());
    }

    /// Tables, views and their kin, columns, constraints with implicit names, ALTER TABLE, rules.
    #[test]
    fn representative_statements() {
        let footprints = render_each(&[
            "CREATE TABLE users (id bigserial PRIMARY KEY, tenant_id bigint NOT NULL REFERENCES tenants (id), email text UNIQUE, mood mood, created_at timestamptz DEFAULT now())",
            "CREATE TABLE t (a int, b int, CHECK (a > 0), CHECK (a < b), UNIQUE (a, b), EXCLUDE USING gist (b WITH =))",
            "CREATE TABLE IF NOT EXISTS app.orders (id int GENERATED ALWAYS AS IDENTITY, user_id int, FOREIGN KEY (user_id) REFERENCES users ON DELETE CASCADE)",
            "CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
            "CREATE FOREIGN TABLE remote_users (id int) SERVER remote",
            "CREATE VIEW active_users AS SELECT id, email FROM users WHERE active",
            "CREATE MATERIALIZED VIEW app.order_counts AS SELECT user_id, count(*) FROM app.orders GROUP BY user_id",
            "CREATE TABLE users_copy AS SELECT * FROM users",
            "ALTER TABLE ONLY public.users ADD CONSTRAINT users_pkey PRIMARY KEY (id)",
            "ALTER TABLE ONLY public.users ALTER COLUMN id SET DEFAULT nextval('public.users_id_seq'::regclass)",
            "ALTER TABLE users ADD COLUMN org_id bigint REFERENCES orgs, ALTER COLUMN email SET NOT NULL, DROP COLUMN legacy",
            "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx",
            "ALTER TABLE users ALTER COLUMN code TYPE int USING code_text::int",
            "ALTER TABLE users VALIDATE CONSTRAINT users_org_id_fkey",
            "ALTER TABLE users DROP CONSTRAINT IF EXISTS users_org_id_fkey",
            "ALTER TABLE users OWNER TO bob",
            "ALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
            "CREATE RULE no_delete AS ON DELETE TO users DO INSTEAD NOTHING",
        ]);
        insta::assert_snapshot!(footprints);
    }
}
