//! What the project's SQL does to the server's shared catalogs (roles, memberships, role and
//! database settings, databases, tablespaces): such objects are not a scratch database's, so
//! cases that touch them run on one worker, and the roles and databases made by name are
//! dropped between cases (and compared, with `compare_roles`).

use std::collections::BTreeSet;

use crate::project::Project;

/// What a project's migrations do to the server's shared catalogs.
#[derive(Debug, Default)]
pub(crate) struct SharedCatalogUse {
    /// Some statement creates, alters or drops a role, a membership, a role's or database's
    /// settings, a database or a tablespace.
    pub(crate) any: bool,
    /// The roles and databases the migrations create, by name.
    pub(crate) roles: BTreeSet<String>,
    pub(crate) databases: BTreeSet<String>,
}

/// [`SharedCatalogUse`] of the project's migrations (ups and downs) and reference: server-wide
/// catalogs, shared by every database, read from the statements (and from DO blocks' text).
pub(crate) fn shared_catalog_use(project: &Project) -> SharedCatalogUse {
    let statements = project
        .migrations
        .migrations
        .iter()
        .flat_map(|m| m.up.statements.iter().chain(m.down.iter().flat_map(|d| d.statements.iter())))
        .chain(project.reference.iter().flat_map(|r| r.statements.iter()));
    from_statements(statements.map(|s| s.sql.as_str()))
}

/// [`SharedCatalogUse`] of these statements' SQL.
fn from_statements<'a>(statements: impl Iterator<Item = &'a str>) -> SharedCatalogUse {
    use pg_query::NodeEnum;
    let in_do_block = regex::Regex::new(r#"(?i)\b(create|alter|drop)\s+(role|user|group|database|tablespace)\b|\bgrant\s+\w+\s+to\b"#)
        .expect("valid regex");
    let created_in_do_block =
        regex::Regex::new(r#"(?i)\bcreate\s+(role|user|group|database)\s+(?:if\s+not\s+exists\s+)?("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)"#)
            .expect("valid regex");
    let mut found = SharedCatalogUse::default();
    for statement in statements {
        let Ok(parsed) = pg_query::parse(statement, 0) else { continue };
        for node in parsed.protobuf.stmts.iter().filter_map(|raw| raw.stmt.as_ref().and_then(|n| n.node.as_ref())) {
            match node {
                NodeEnum::CreateRoleStmt(create) => {
                    found.any = true;
                    found.roles.insert(create.role.clone());
                }
                NodeEnum::CreatedbStmt(create) => {
                    found.any = true;
                    found.databases.insert(create.dbname.clone());
                }
                NodeEnum::AlterRoleStmt(_)
                | NodeEnum::AlterRoleSetStmt(_)
                | NodeEnum::DropRoleStmt(_)
                | NodeEnum::GrantRoleStmt(_)
                | NodeEnum::AlterDatabaseStmt(_)
                | NodeEnum::AlterDatabaseSetStmt(_)
                | NodeEnum::DropdbStmt(_)
                | NodeEnum::CreateTableSpaceStmt(_)
                | NodeEnum::DropTableSpaceStmt(_) => found.any = true,
                NodeEnum::DoStmt(_) if in_do_block.is_match(statement) => {
                    found.any = true;
                    for created in created_in_do_block.captures_iter(statement) {
                        let name = &created[2];
                        let name = match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
                            Some(quoted) => quoted.replace("\"\"", "\""),
                            None => name.to_lowercase(),
                        };
                        if created[1].eq_ignore_ascii_case("database") {
                            found.databases.insert(name);
                        } else {
                            found.roles.insert(name);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_databases_by_name_and_any_shared_catalog_use() {
        let statements = [
            "CREATE TABLE t (id int)",
            "CREATE ROLE reporting NOLOGIN",
            "CREATE USER \"Auditor\"",
            "ALTER ROLE reporting SET statement_timeout = '5s'",
            "CREATE DATABASE archive",
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app') THEN CREATE ROLE App; END IF; END $$",
            "DO $$ BEGIN PERFORM 1; END $$",
        ];
        let found = from_statements(statements.into_iter());
        insta::assert_debug_snapshot!(found, @r#"
        SharedCatalogUse {
            any: true,
            roles: {
                "Auditor",
                "app",
                "reporting",
            },
            databases: {
                "archive",
            },
        }
        "#);
        assert!(!from_statements(["CREATE TABLE t (id int)", "DO $$ BEGIN PERFORM 1; END $$"].into_iter()).any);
    }
}
