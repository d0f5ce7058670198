//! CREATE SCHEMA, CREATE EXTENSION (with the schema it is put in) and ALTER EXTENSION.

use pg_query::protobuf as pb;

use super::{RefKind, Walker};
use crate::migration::plpgsql::{def_elem, node_string};

impl Walker<'_> {
    pub(super) fn create_schema(&mut self, s: &pb::CreateSchemaStmt) {
        self.label(format!("schema {}", s.schemaname));
        self.create(RefKind::Schema, s.schemaname.clone(), "schema");
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

    /// Schemas and extensions.
    #[test]
    fn representative_statements() {
        let footprints = render_each(&[
            "CREATE SCHEMA IF NOT EXISTS app",
            "CREATE SCHEMA app AUTHORIZATION bob",
            "CREATE SCHEMA app CREATE TABLE t (id int) CREATE VIEW v AS SELECT id FROM t",
            "CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA app",
            r#"CREATE EXTENSION "uuid-ossp""#,
            "ALTER EXTENSION pgcrypto UPDATE TO '1.3'",
        ]);
        insta::assert_snapshot!(footprints);
    }
}
