//! CREATE SCHEMA, CREATE EXTENSION (with the schema it is put in) and ALTER EXTENSION.

use pg_query::protobuf as pb;

use super::{RefKind, Walker};
use crate::migration::plpgsql::{def_elem, node_string};

impl Walker<'_> {
    /// CREATE SCHEMA [name] [AUTHORIZATION role] [element ...]: without a name the schema is
    /// named after the role; its elements (CREATE TABLE, VIEW, INDEX, ...) create in it and look
    /// names up in it first, as Postgres puts it in front of the search_path while they run.
    pub(super) fn create_schema(&mut self, s: &pb::CreateSchemaStmt, text: &str) {
        let name = match (s.schemaname.as_str(), &s.authrole) {
            ("", Some(role)) => role.rolename.clone(),
            (name, _) => name.to_string(),
        };
        if name.is_empty() {
            return; // AUTHORIZATION CURRENT_USER: a name only the server knows
        }
        self.label(format!("schema {name}"));
        self.create(RefKind::Schema, name.clone(), "schema");
        if let Some(role) = s.authrole.as_ref().and_then(super::roles::named_role) {
            self.refer(RefKind::Role, role.to_string());
        }
        for element in s.schema_elts.iter().filter_map(|e| e.node.as_ref()) {
            let inner = Walker::new(&name).statement(element, text);
            self.absorb(inner);
        }
    }

    pub(super) fn create_extension(&mut self, s: &pb::CreateExtensionStmt) {
        self.label(format!("extension {}", s.extname));
        self.create(RefKind::Extension, s.extname.clone(), "extension");
        if let Some(schema) = def_elem(&s.options, "schema").and_then(node_string) {
            self.refer(RefKind::Schema, schema.to_string());
        }
    }

    pub(super) fn alter_extension(&mut self, s: &pb::AlterExtensionStmt) {
        self.alter(RefKind::Extension, s.extname.clone());
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::footprint::testing::*;
    use crate::analysis::footprint::*;

    #[test]
    fn extensions_schemas_and_labels() {
        let analysis = analyze_script(&script(
            "CREATE SCHEMA IF NOT EXISTS app;\nCREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA app;\n\
             CREATE TABLE app.t (id uuid DEFAULT app.gen_random_bytes(16));\nALTER TABLE ONLY app.t ADD CONSTRAINT t_pkey PRIMARY KEY (id);\n\
             COMMENT ON TABLE app.t IS 'x';\nDO $$ BEGIN CREATE TABLE IF NOT EXISTS app.u (); END $$;",
        ));
        let labels: Vec<&str> = analysis.statements.iter().map(|s| s.label.as_deref().unwrap_or("-")).collect();
        assert_eq!(
            labels,
            [
                "schema app",
                "extension pgcrypto",
                "table app.t",
                "constraint app.t.t_pkey",
                "comment on table app.t",
                "do block: table app.u"
            ]
        );
        assert_eq!(names(&analysis.statements[1].footprint.references), ["schema app"]);
        assert!(has(&analysis.statements[2].footprint.references, "function app.gen_random_bytes"));
    }

    /// As PostgreSQL 15 names them.
    #[test]
    fn a_schema_elements_are_created_in_it() {
        let fp = statement_footprint("CREATE SCHEMA app CREATE TABLE t (id int) CREATE VIEW v AS SELECT id FROM t CREATE INDEX ON t (id)");
        assert_eq!(
            names(&fp.creates),
            ["schema app", "relation app.t", "relation app.t_id_idx", "relation app.v", "type app.t", "type app.v", "column app.t.id"]
        );
        assert!(fp.references.is_empty(), "{:?}", names(&fp.references));
        assert_eq!(names(&statement_footprint("CREATE SCHEMA AUTHORIZATION bob").creates), ["schema bob"]);
    }

    /// Schemas and extensions.
    #[test]
    fn representative_statements() {
        let footprints = render_each(&[
            "CREATE SCHEMA IF NOT EXISTS app",
            "CREATE SCHEMA AUTHORIZATION bob",
            "CREATE SCHEMA app CREATE TABLE t (id int) CREATE VIEW v AS SELECT id FROM t",
            "CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA app",
            r#"CREATE EXTENSION "uuid-ossp""#,
            "ALTER EXTENSION pgcrypto UPDATE TO '1.3'",
        ]);
        insta::assert_snapshot!(footprints);
    }
}
