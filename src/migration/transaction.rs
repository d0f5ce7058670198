//! Finding statements that Postgres refuses inside a transaction block, from pg_query's AST.
//!
//! `ALTER TYPE ... ADD VALUE` is not among them: since PostgreSQL 12 it runs in a transaction
//! (the new value just cannot be used before commit).

use pg_query::protobuf::{AlterTableType, ReindexObjectType};
use pg_query::{Node, NodeEnum};

use super::{Script, Statement};

/// The first statement of `script` that cannot run inside a transaction block, as
/// `"line N: <WHAT> cannot run inside a transaction block"`.
pub(crate) fn detect_no_transaction(script: &Script) -> Option<String> {
    script.statements.iter().find_map(|statement| {
        let what = refused_in_transaction(statement)?;
        Some(format!("line {}: {what} cannot run inside a transaction block", statement.line))
    })
}

/// What the statement is, in Postgres's own words, if Postgres refuses it in a transaction.
fn refused_in_transaction(statement: &Statement) -> Option<&'static str> {
    // The script was split by the same parser, so this parse only fails on exotic input; a
    // statement we cannot parse is not one we can judge.
    let parsed = pg_query::parse(&statement.sql, 0).ok()?;
    parsed.protobuf.stmts.iter().find_map(|raw| {
        let node = raw.stmt.as_ref()?.node.as_ref()?;
        refused_node(node)
    })
}

fn refused_node(node: &NodeEnum) -> Option<&'static str> {
    match node {
        NodeEnum::IndexStmt(s) if s.concurrent => Some("CREATE INDEX CONCURRENTLY"),
        NodeEnum::DropStmt(s) if s.concurrent => Some("DROP INDEX CONCURRENTLY"),
        NodeEnum::ReindexStmt(s) => reindex(s),
        NodeEnum::VacuumStmt(s) if s.is_vacuumcmd => Some("VACUUM"),
        NodeEnum::CreatedbStmt(_) => Some("CREATE DATABASE"),
        NodeEnum::DropdbStmt(_) => Some("DROP DATABASE"),
        NodeEnum::AlterSystemStmt(_) => Some("ALTER SYSTEM"),
        NodeEnum::CreateTableSpaceStmt(_) => Some("CREATE TABLESPACE"),
        NodeEnum::DropTableSpaceStmt(_) => Some("DROP TABLESPACE"),
        NodeEnum::AlterTableStmt(s) if s.cmds.iter().any(is_detach_concurrently) => Some("ALTER TABLE ... DETACH PARTITION CONCURRENTLY"),
        // Without a table, CLUSTER reclusters every table, one transaction each.
        NodeEnum::ClusterStmt(s) if s.relation.is_none() => Some("CLUSTER"),
        NodeEnum::AlterDatabaseStmt(s) if s.options.iter().any(|o| def_named(o, "tablespace")) => Some("ALTER DATABASE SET TABLESPACE"),
        NodeEnum::DoStmt(s) if crate::migration::plpgsql::do_block_ends_transactions(s) => Some("a DO block that COMMITs or ROLLBACKs"),
        _ => None,
    }
}

fn reindex(stmt: &pg_query::protobuf::ReindexStmt) -> Option<&'static str> {
    if stmt.params.iter().any(|p| def_named(p, "concurrently") && def_enabled(p)) {
        return Some("REINDEX CONCURRENTLY");
    }
    // These forms reindex table by table, each in its own transaction.
    match ReindexObjectType::try_from(stmt.kind).ok()? {
        ReindexObjectType::ReindexObjectSchema => Some("REINDEX SCHEMA"),
        ReindexObjectType::ReindexObjectSystem => Some("REINDEX SYSTEM"),
        ReindexObjectType::ReindexObjectDatabase => Some("REINDEX DATABASE"),
        _ => None,
    }
}

fn is_detach_concurrently(cmd: &Node) -> bool {
    let Some(NodeEnum::AlterTableCmd(cmd)) = &cmd.node else { return false };
    let detach = cmd.subtype == AlterTableType::AtDetachPartition as i32;
    let concurrent = matches!(cmd.def.as_deref().and_then(|d| d.node.as_ref()), Some(NodeEnum::PartitionCmd(p)) if p.concurrent);
    detach && concurrent
}

/// Whether `node` is an option (`DefElem`) called `name`.
fn def_named(node: &Node, name: &str) -> bool {
    matches!(&node.node, Some(NodeEnum::DefElem(d)) if d.defname == name)
}

/// Whether a boolean option is on: a bare option is, `false`/`off`/`0` are not.
fn def_enabled(node: &Node) -> bool {
    let Some(NodeEnum::DefElem(d)) = &node.node else { return false };
    match d.arg.as_deref().and_then(|a| a.node.as_ref()) {
        None => true,
        Some(NodeEnum::String(s)) => !matches!(s.sval.to_ascii_lowercase().as_str(), "false" | "off" | "0" | "no"),
        Some(NodeEnum::Integer(i)) => i.ival != 0,
        Some(NodeEnum::Boolean(b)) => b.boolval,
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::Span;
    use std::path::Path;

    fn detect(sql: &str) -> Option<String> {
        let script = Script::parse(Path::new("m.sql"), sql.to_string(), Span { start: 0, end: sql.len() }).unwrap();
        detect_no_transaction(&script)
    }

    #[test]
    fn create_index_concurrently_is_named_with_its_line() {
        let sql = "CREATE TABLE t (id int);\n\nCREATE INDEX CONCURRENTLY t_id ON t (id);";
        assert_eq!(detect(sql).as_deref(), Some("line 3: CREATE INDEX CONCURRENTLY cannot run inside a transaction block"));
    }

    #[test]
    fn each_refused_statement_is_found() {
        let cases = [
            ("DROP INDEX CONCURRENTLY t_id", "DROP INDEX CONCURRENTLY"),
            ("REINDEX INDEX CONCURRENTLY t_id", "REINDEX CONCURRENTLY"),
            ("REINDEX (CONCURRENTLY) TABLE t", "REINDEX CONCURRENTLY"),
            ("REINDEX SCHEMA public", "REINDEX SCHEMA"),
            ("VACUUM t", "VACUUM"),
            ("VACUUM (ANALYZE) t", "VACUUM"),
            ("CREATE DATABASE d", "CREATE DATABASE"),
            ("DROP DATABASE d", "DROP DATABASE"),
            ("ALTER SYSTEM SET work_mem = '8MB'", "ALTER SYSTEM"),
            ("CREATE TABLESPACE s LOCATION '/x'", "CREATE TABLESPACE"),
            ("DROP TABLESPACE s", "DROP TABLESPACE"),
            ("ALTER TABLE p DETACH PARTITION c CONCURRENTLY", "ALTER TABLE ... DETACH PARTITION CONCURRENTLY"),
            ("CLUSTER", "CLUSTER"),
            ("ALTER DATABASE d SET TABLESPACE s", "ALTER DATABASE SET TABLESPACE"),
            // A batched backfill (supabase/storage's migrations do this).
            ("DO $$ BEGIN LOOP EXIT WHEN true; COMMIT; END LOOP; END $$", "a DO block that COMMITs or ROLLBACKs"),
            ("DO $$ BEGIN IF false THEN ROLLBACK; END IF; END $$", "a DO block that COMMITs or ROLLBACKs"),
        ];
        for (sql, what) in cases {
            let expected = format!("line 1: {what} cannot run inside a transaction block");
            assert_eq!(detect(sql), Some(expected), "{sql}");
        }
    }

    #[test]
    fn transactional_statements_are_not_flagged() {
        for sql in [
            "CREATE INDEX t_id ON t (id)",
            "DROP INDEX t_id",
            "REINDEX TABLE t",
            "REINDEX (CONCURRENTLY false) TABLE t",
            "ANALYZE t",
            "ALTER TYPE mood ADD VALUE 'meh'",
            "ALTER TABLE p DETACH PARTITION c",
            "CLUSTER t USING t_id",
            "ALTER DATABASE d SET work_mem = '8MB'",
            "DO $$ BEGIN PERFORM 1; END $$",
            "DO $$ BEGIN RAISE NOTICE 'COMMIT;'; END $$",
            "DO $$ BEGIN EXECUTE 'SELECT 1'; EXCEPTION WHEN others THEN NULL; END $$",
        ] {
            assert_eq!(detect(sql), None, "{sql}");
        }
    }
}
