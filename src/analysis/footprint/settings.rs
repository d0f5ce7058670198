//! Session settings: `SET ...` and pg_dump's `SELECT set_config(...)` preamble only set session
//! state; a `search_path` they set moves the default schema of the statements after them.

use pg_query::protobuf::{self as pb, VariableSetKind};
use pg_query::NodeEnum;

use super::names::{const_string, is_system_schema, parse_identifier, strings, DEFAULT_SCHEMA};
use super::{RefKind, Walker};

impl Walker<'_> {
    pub(super) fn set_variable(&mut self, s: &pb::VariableSetStmt) {
        self.analysis.session = true;
        if s.name.eq_ignore_ascii_case("role") || s.name.eq_ignore_ascii_case("session_authorization") {
            // SET ROLE r needs r: a migration that creates it runs first.
            if let Some(role) = s.args.first().and_then(const_string).filter(|r| *r != "none") {
                self.refer(RefKind::Role, role.to_string());
            }
            return;
        }
        if !s.name.eq_ignore_ascii_case("search_path") {
            return;
        }
        let schemas: Vec<String> = s.args.iter().filter_map(|a| const_string(a).map(str::to_string)).collect();
        self.analysis.search_path = Some(if s.kind == VariableSetKind::VarSetValue as i32 {
            first_schema(schemas.iter().map(String::as_str)).unwrap_or_else(|| DEFAULT_SCHEMA.to_string())
        } else {
            DEFAULT_SCHEMA.to_string() // RESET / SET TO DEFAULT
        });
    }

    /// `SELECT [pg_catalog.]set_config(...)` with nothing else is session setup (pg_dump's
    /// preamble); `set_config('search_path', ...)` also moves the default schema.
    pub(super) fn select(&mut self, s: &pb::SelectStmt) {
        let calls: Vec<&pb::FuncCall> = s
            .target_list
            .iter()
            .filter_map(|t| match t.node.as_ref() {
                Some(NodeEnum::ResTarget(r)) => match r.val.as_deref().and_then(|v| v.node.as_ref()) {
                    Some(NodeEnum::FuncCall(call)) => Some(&**call),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let is_set_config = |call: &&pb::FuncCall| strings(&call.funcname).last().is_some_and(|n| n == "set_config");
        if calls.is_empty() || calls.len() != s.target_list.len() || !s.from_clause.is_empty() || !calls.iter().all(is_set_config) {
            return;
        }
        self.analysis.session = true;
        for call in calls {
            let args: Vec<Option<&str>> = call.args.iter().map(const_string).collect();
            if let [Some(name), Some(value), ..] = args.as_slice() {
                if name.eq_ignore_ascii_case("search_path") {
                    let path: Vec<String> = value.split(',').map(|p| parse_identifier(p.trim())).collect();
                    let schema = first_schema(path.iter().map(String::as_str));
                    self.analysis.search_path = Some(schema.unwrap_or_else(|| DEFAULT_SCHEMA.to_string()));
                }
            }
        }
    }
}

/// The first schema of a search_path that can hold new objects.
fn first_schema<'s>(path: impl Iterator<Item = &'s str>) -> Option<String> {
    path.map(str::trim).find(|s| !s.is_empty() && *s != "$user" && !is_system_schema(s)).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use crate::analysis::footprint::testing::*;
    use crate::analysis::footprint::*;

    #[test]
    fn the_script_search_path_sets_the_default_schema_and_session_statements_are_flagged() {
        let analysis = analyze_script(&script(
            "SET statement_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\n\
             SET search_path TO app, public;\nCREATE TABLE t (id int);\nRESET search_path;\nCREATE TABLE u (id int);",
        ));
        let session: Vec<bool> = analysis.statements.iter().map(|s| s.session).collect();
        assert_eq!(session, [true, true, true, false, true, false]);
        assert!(has(&analysis.statements[3].footprint.creates, "relation app.t"));
        assert!(has(&analysis.statements[5].footprint.creates, "relation public.u"));
        assert_eq!(analysis.noun(&ObjectRef::new(RefKind::Relation, "app.t")), "table");
    }

    /// A script: each statement sees the `search_path` the statements before it set.
    #[test]
    fn a_script_follows_its_search_path() {
        let footprints = render_script(
            "SET statement_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\nCREATE TABLE a (id int);\n\
             SET search_path TO app, public;\nCREATE TABLE t (id int);\n\
             SELECT set_config('search_path', '\"Core\", public', false);\nCREATE TABLE u (id int);\n\
             SET search_path = \"$user\", public;\nCREATE TABLE v (id int);\nRESET search_path;\n\
             SELECT set_config('app.tenant', '1', true), count(*) FROM w;\nSET LOCAL lock_timeout = '1s';",
        );
        insta::assert_snapshot!(footprints);
    }
}
