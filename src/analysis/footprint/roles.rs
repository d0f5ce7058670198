//! Roles: CREATE/ALTER/DROP ROLE (USER, GROUP), ALTER ROLE ... SET, GRANT/REVOKE of a role,
//! COMMENT ON ROLE and ALTER ROLE ... RENAME (in `renames`). Every other role a statement names
//! (`GRANT ... TO r`, `OWNER TO r`, `CREATE POLICY ... TO r`, `SET ROLE r`, `IN ROLE r`) is a
//! reference, found by the generic walk (`queries`): a migration that grants to a role another
//! migration creates runs after it. Roles are the server's, so their names are never qualified.

use pg_query::protobuf as pb;
use pg_query::NodeEnum;

use super::{ObjectRef, RefKind, Walker};

/// A role named by a role specification: `CURRENT_USER`, `SESSION_USER` and `PUBLIC` name none.
pub(super) fn named_role(spec: &pb::RoleSpec) -> Option<&str> {
    (spec.roletype == pb::RoleSpecType::RolespecCstring as i32 && !spec.rolename.is_empty()).then_some(spec.rolename.as_str())
}

impl Walker<'_> {
    pub(super) fn create_role(&mut self, s: &pb::CreateRoleStmt) {
        self.label(format!("role {}", s.role));
        self.create(RefKind::Role, s.role.clone(), "role");
    }

    /// ALTER ROLE r WITH ..., ALTER ROLE r SET ... (not `ALTER ROLE ALL SET`, which names none).
    pub(super) fn alter_role(&mut self, spec: Option<&pb::RoleSpec>) {
        if let Some(role) = spec.and_then(named_role) {
            self.label(format!("alter role {role}"));
            self.alter(RefKind::Role, role.to_string());
        }
    }

    pub(super) fn drop_roles(&mut self, s: &pb::DropRoleStmt) {
        for spec in s.roles.iter().filter_map(|n| match n.node.as_ref() {
            Some(NodeEnum::RoleSpec(spec)) => Some(spec),
            _ => None,
        }) {
            if let Some(role) = named_role(spec) {
                self.drop_object(ObjectRef::new(RefKind::Role, role));
            }
        }
    }

    /// GRANT r TO m / REVOKE r FROM m: the membership is both roles' (r's members, m's
    /// memberships), so both are altered.
    pub(super) fn grant_role(&mut self, s: &pb::GrantRoleStmt) {
        let granted = s.granted_roles.iter().filter_map(|n| match n.node.as_ref() {
            Some(NodeEnum::AccessPriv(p)) if !p.priv_name.is_empty() => Some(p.priv_name.clone()),
            _ => None,
        });
        let grantees = s.grantee_roles.iter().filter_map(|n| match n.node.as_ref() {
            Some(NodeEnum::RoleSpec(spec)) => named_role(spec).map(str::to_string),
            _ => None,
        });
        let roles: Vec<String> = granted.chain(grantees).collect();
        if let Some(first) = roles.first() {
            self.label(format!("{} role {first}", if s.is_grant { "grant" } else { "revoke" }));
        }
        for role in roles {
            self.alter(RefKind::Role, role);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::footprint::testing::*;

    /// Each statement that creates, alters, drops or names a role.
    #[test]
    fn representative_statements() {
        let footprints = render_each(&[
            "CREATE ROLE reporting NOLOGIN",
            "CREATE USER \"Auditor\" IN ROLE reporting ROLE app ADMIN boss",
            "ALTER ROLE reporting CONNECTION LIMIT 5",
            "ALTER ROLE reporting SET statement_timeout = '5s'",
            "ALTER ROLE ALL SET work_mem = '64MB'",
            "ALTER ROLE CURRENT_USER SET work_mem = '64MB'",
            "DROP ROLE IF EXISTS reporting, auditor",
            "GRANT reporting TO auditor WITH ADMIN OPTION",
            "REVOKE reporting FROM auditor",
            "COMMENT ON ROLE reporting IS 'reports'",
            "ALTER ROLE reporting RENAME TO reports",
            "GRANT SELECT ON invoices TO reporting, PUBLIC",
            "ALTER TABLE invoices OWNER TO app_owner",
            "ALTER FUNCTION f(int) OWNER TO CURRENT_USER",
            "CREATE SCHEMA billing AUTHORIZATION app_owner",
            "CREATE POLICY own ON invoices TO reporting USING (true)",
            "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner GRANT SELECT ON TABLES TO reporting",
            "SET ROLE reporting",
            "REASSIGN OWNED BY app_owner TO postgres",
        ]);
        insta::assert_snapshot!(footprints);
    }
}
