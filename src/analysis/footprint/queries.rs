//! References found anywhere in a parse tree, by the shape of its JSON form: relations (not
//! CTEs or catalogs), types that are not built in, functions called, objects named in strings
//! (`'x'::regclass`, `nextval('x')`), catalog lookups (`WHERE conname = 'c' AND conrelid =
//! 't'::regclass`), and the columns a statement names, resolved against its relations.

use std::collections::BTreeSet;

use pg_query::NodeEnum;
use serde_json::Value;

use super::names::{is_builtin_type, is_system_schema, json_strings, parse_identifier, split_qualified};
use super::{ObjectRef, RefKind, Walker};

impl Walker<'_> {
    /// The names a parse tree mentions, found by the shape of its JSON form: typed fields such as
    /// `CreateStmt.relation` serialize without their node tag, so tags alone would miss them.
    pub(super) fn generic_references(&mut self, node: &NodeEnum) {
        let Ok(tree) = serde_json::to_value(node) else { return };
        let mut ctes = BTreeSet::new();
        collect_cte_names(&tree, &mut ctes);
        let mut lookups = Vec::new();
        self.walk(&tree, &ctes, &mut lookups);
        self.catalog_lookups(&lookups);
        self.column_references(&tree, &ctes);
    }

    /// The columns a statement names, resolved against the relations it names: `alias.c` and
    /// `table.c` to that relation; an unqualified `c` to every relation of the statement (one
    /// of them has it; the columns the others lack are never created, so they add no
    /// dependency); `NEW.c`, `OLD.c` and `EXCLUDED.c` to the statement's relations (a trigger's
    /// table, an upsert's target). Target lists (INSERT columns, UPDATE SET, MERGE, COPY, a
    /// trigger's `UPDATE OF`, `JOIN ... USING`) name columns of their statement's relation.
    fn column_references(&mut self, tree: &Value, ctes: &BTreeSet<String>) {
        let mut scope = ColumnScope::default();
        self.collect_scope(tree, ctes, &mut scope);
        let creates = &self.analysis.footprint.creates;
        scope.relations.retain(|(_, table)| !creates.contains(&ObjectRef::new(RefKind::Relation, table.clone())));
        let tables: BTreeSet<&String> = scope.relations.iter().map(|(_, t)| t).collect();
        let mut columns: BTreeSet<String> = scope.targeted;
        for parts in &scope.column_refs {
            match parts.as_slice() {
                [column] => columns.extend(tables.iter().map(|t| format!("{t}.{column}"))),
                [qualifier, column] => {
                    let named: Vec<&String> = scope.relations.iter().filter(|(q, _)| q == qualifier).map(|(_, t)| t).collect();
                    if !named.is_empty() {
                        columns.extend(named.iter().map(|t| format!("{t}.{column}")));
                    } else if matches!(qualifier.as_str(), "new" | "old" | "excluded") {
                        columns.extend(tables.iter().map(|t| format!("{t}.{column}")));
                    }
                }
                [.., schema, table, column] if !is_system_schema(schema) => {
                    columns.insert(format!("{schema}.{table}.{column}"));
                }
                _ => {}
            }
        }
        for column in columns {
            self.refer(RefKind::Column, column);
        }
    }

    /// The relations (by every qualifier that names them), column references and target-list
    /// columns of a parse tree in JSON form.
    fn collect_scope(&self, value: &Value, ctes: &BTreeSet<String>, scope: &mut ColumnScope) {
        match value {
            Value::Array(items) => items.iter().for_each(|item| self.collect_scope(item, ctes, scope)),
            Value::Object(map) => {
                if map.contains_key("relname") && map.contains_key("inh") {
                    if let Some((name, table)) = self.scope_relation(value, ctes) {
                        if let Some(alias) = value["alias"]["aliasname"].as_str().filter(|a| !a.is_empty()) {
                            scope.relations.push((alias.to_string(), table.clone()));
                        }
                        scope.relations.push((name, table));
                    }
                }
                if let Some(fields) = map.get("ColumnRef").map(|c| &c["fields"]) {
                    // `t.*` and `*` name no column.
                    let parts = json_strings(fields);
                    if fields.as_array().is_some_and(|f| f.len() == parts.len()) && !parts.is_empty() {
                        scope.column_refs.push(parts);
                    }
                }
                for (statement, lists) in TARGET_LISTS {
                    let Some(stmt) = map.get(*statement) else { continue };
                    let Some((_, table)) = self.scope_relation(&stmt["relation"], ctes) else { continue };
                    for path in *lists {
                        for name in target_list_names(stmt, path) {
                            scope.targeted.insert(format!("{table}.{name}"));
                        }
                    }
                }
                if let Some(using) = map.get("JoinExpr").map(|j| json_strings(&j["using_clause"])) {
                    scope.column_refs.extend(using.into_iter().map(|c| vec![c]));
                }
                map.values().for_each(|v| self.collect_scope(v, ctes, scope));
            }
            _ => {}
        }
    }

    /// A range variable's relation name and qualified table, unless it is a catalog or a CTE.
    fn scope_relation(&self, rv: &Value, ctes: &BTreeSet<String>) -> Option<(String, String)> {
        let schema = rv["schemaname"].as_str().unwrap_or_default();
        let name = rv["relname"].as_str().unwrap_or_default();
        let catalog_table = schema.is_empty() && name.starts_with("pg_");
        if name.is_empty() || is_system_schema(schema) || catalog_table || (schema.is_empty() && ctes.contains(name)) {
            return None;
        }
        let schema = match (schema, rv["relpersistence"].as_str()) {
            ("", Some("t")) => "pg_temp",
            (schema, _) => schema,
        };
        Some((name.to_string(), self.qualify(schema, name)))
    }

    fn walk(&mut self, value: &Value, ctes: &BTreeSet<String>, lookups: &mut Vec<(String, String)>) {
        match value {
            Value::Array(items) => items.iter().for_each(|item| self.walk(item, ctes, lookups)),
            Value::Object(map) => {
                if map.contains_key("relname") && map.contains_key("inh") {
                    self.range_var_reference(value, ctes);
                } else if map.contains_key("names") && map.contains_key("typmods") && map.contains_key("pct_type") {
                    self.type_reference(value);
                }
                // By shape too: CALL's function call is a typed field.
                if map.contains_key("funcname") && map.contains_key("agg_star") {
                    self.function_call_reference(value);
                }
                // A role specification (`TO r`, `OWNER TO r`, `IN ROLE r`): serialized without
                // its tag where it is a typed field, so found by its fields.
                if let (Some(kind), Some(name)) = (map.get("roletype"), map.get("rolename").and_then(Value::as_str)) {
                    if kind.as_i64() == Some(pg_query::protobuf::RoleSpecType::RolespecCstring as i64) && !name.is_empty() {
                        self.refer(RefKind::Role, name.to_string());
                    }
                }
                if let Some(cast) = map.get("TypeCast") {
                    self.cast_reference(cast);
                }
                if let Some(pair) = map.get("AExpr").and_then(lookup_pair) {
                    lookups.push(pair);
                }
                map.values().for_each(|v| self.walk(v, ctes, lookups));
            }
            _ => {}
        }
    }

    fn range_var_reference(&mut self, rv: &Value, ctes: &BTreeSet<String>) {
        if let Some((_, table)) = self.scope_relation(rv, ctes) {
            self.refer(RefKind::Relation, table);
        }
    }

    fn type_reference(&mut self, type_name: &Value) {
        if type_name["pct_type"].as_bool() == Some(true) {
            return;
        }
        let parts = json_strings(&type_name["names"]);
        let builtin = match parts.as_slice() {
            [name] => is_builtin_type(name),
            [.., schema, _] => schema == "pg_catalog",
            [] => true,
        };
        if !builtin {
            if let Some(name) = self.list_name(&parts) {
                self.refer(RefKind::Type, name);
            }
        }
    }

    /// A function call, and the objects named by string arguments of the lookup functions.
    fn function_call_reference(&mut self, call: &Value) {
        let parts = json_strings(&call["funcname"]);
        self.call_function(&parts);
        let Some(function) = parts.last() else { return };
        let kind = match function.as_str() {
            "nextval" | "currval" | "setval" | "to_regclass" | "pg_get_serial_sequence" => RefKind::Relation,
            "to_regtype" => RefKind::Type,
            "to_regproc" | "to_regprocedure" => RefKind::Function,
            "to_regnamespace" => RefKind::Schema,
            "to_regrole" => RefKind::Role,
            _ => return,
        };
        if let Some(text) = call["args"].get(0).and_then(json_const_string) {
            self.refer_by_string(kind, text);
        }
    }

    /// `'x'::regclass` and its kin name an object in a string.
    fn cast_reference(&mut self, cast: &Value) {
        let parts = json_strings(&cast["type_name"]["names"]);
        let kind = match parts.last().map(String::as_str) {
            Some("regclass") => RefKind::Relation,
            Some("regtype") => RefKind::Type,
            Some("regproc" | "regprocedure") => RefKind::Function,
            Some("regnamespace") => RefKind::Schema,
            Some("regrole") => RefKind::Role,
            _ => return,
        };
        if let Some(text) = json_const_string(&cast["arg"]) {
            self.refer_by_string(kind, text);
        }
    }

    fn refer_by_string(&mut self, kind: RefKind, text: &str) {
        if let Some(object) = self.object_in_string(kind, text) {
            self.analysis.footprint.references.insert(object);
        }
    }

    /// The object a string such as `'public."Users"'` or `'f(int)'` names, parsed the way
    /// Postgres parses it (unquoted parts fold to lower case).
    fn object_in_string(&self, kind: RefKind, text: &str) -> Option<ObjectRef> {
        let text = if kind == RefKind::Function { text.split('(').next().unwrap_or(text) } else { text };
        let parts: Vec<String> = split_qualified(text.trim()).iter().map(|p| parse_identifier(p)).collect();
        if matches!(kind, RefKind::Schema | RefKind::Role) {
            return parts.last().map(|s| ObjectRef::new(kind, s.clone()));
        }
        match parts.as_slice() {
            [.., schema, _] if is_system_schema(schema) => None,
            [name] if kind == RefKind::Type && is_builtin_type(name) => None,
            _ => Some(ObjectRef::new(kind, self.list_name(&parts)?)),
        }
    }

    /// Existence checks against the catalogs (`WHERE table_name = 'x'`, `conname = 'c' AND
    /// conrelid = 't'::regclass`, ...) reference what they look for.
    fn catalog_lookups(&mut self, pairs: &[(String, String)]) {
        if pairs.is_empty() {
            return;
        }
        let values = |columns: &[&str]| -> Vec<&str> {
            pairs.iter().filter(|(c, _)| columns.contains(&c.as_str())).map(|(_, v)| v.as_str()).collect()
        };
        let schema = values(&[
            "table_schema",
            "schemaname",
            "nspname",
            "sequence_schema",
            "constraint_schema",
            "routine_schema",
            "trigger_schema",
            "event_object_schema",
            "udt_schema",
        ])
        .first()
        .map(|s| s.to_string())
        .unwrap_or_else(|| self.schema.to_string());
        let mut tables: Vec<String> =
            values(&["table_name", "tablename", "relname", "indexname", "sequence_name", "viewname", "matviewname", "event_object_table"])
                .iter()
                .map(|t| format!("{schema}.{t}"))
                .collect();
        tables.extend(
            values(&["conrelid", "tgrelid", "polrelid", "attrelid", "indrelid"])
                .iter()
                .filter_map(|t| self.object_in_string(RefKind::Relation, t))
                .map(|o| o.name),
        );
        for table in &tables {
            self.refer(RefKind::Relation, table.clone());
        }
        for role in values(&["rolname", "usename", "groname"]) {
            self.refer(RefKind::Role, role.to_string());
        }
        let simple = [(RefKind::Type, &["typname", "udt_name"][..]), (RefKind::Function, &["proname", "routine_name"][..])];
        for (kind, columns) in simple {
            for value in values(columns) {
                self.refer(kind, format!("{schema}.{value}"));
            }
        }
        for value in values(&["schema_name"]) {
            self.refer(RefKind::Schema, value.to_string());
        }
        for value in values(&["extname"]) {
            self.refer(RefKind::Extension, value.to_string());
        }
        let Some(table) = tables.first() else { return };
        let members = [
            (RefKind::Column, &["column_name", "attname"][..]),
            (RefKind::Constraint, &["conname", "constraint_name"][..]),
            (RefKind::Trigger, &["tgname", "trigger_name"][..]),
            (RefKind::Policy, &["polname", "policyname"][..]),
        ];
        for (kind, columns) in members {
            for value in values(columns) {
                self.refer(kind, format!("{table}.{value}"));
            }
        }
    }
}

/// A string constant node, possibly cast.
fn json_const_string(node: &Value) -> Option<&str> {
    let inner = &node["node"];
    if let Some(s) = inner["AConst"]["val"]["Sval"]["sval"].as_str() {
        return Some(s);
    }
    let cast = inner.get("TypeCast")?;
    json_const_string(&cast["arg"])
}

/// `column = 'value'` (either way round), for catalog lookups.
fn lookup_pair(expr: &Value) -> Option<(String, String)> {
    if json_strings(&expr["name"]) != ["="] {
        return None;
    }
    let column = |side: &Value| json_strings(&side["node"]["ColumnRef"]["fields"]).pop();
    let (l, r) = (&expr["lexpr"], &expr["rexpr"]);
    match (column(l), json_const_string(r), column(r), json_const_string(l)) {
        (Some(c), Some(v), _, _) | (_, _, Some(c), Some(v)) => Some((c, v.to_string())),
        _ => None,
    }
}

fn collect_cte_names(value: &Value, names: &mut BTreeSet<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|i| collect_cte_names(i, names)),
        Value::Object(map) => {
            if let Some(name) = map.get("CommonTableExpr").and_then(|c| c["ctename"].as_str()) {
                names.insert(name.to_string());
            }
            map.values().for_each(|v| collect_cte_names(v, names));
        }
        _ => {}
    }
}

/// What [`Walker::column_references`] resolves.
#[derive(Default)]
struct ColumnScope {
    /// `(qualifier, schema.table)`: each relation under its name and under its alias.
    relations: Vec<(String, String)>,
    /// The name parts of every column reference.
    column_refs: Vec<Vec<String>>,
    /// `schema.table.column` named by target lists.
    targeted: BTreeSet<String>,
}

/// Statements whose target lists name columns of the statement's `relation`, and where the
/// lists are (JSON paths; the last step lists `ResTarget`s, `IndexElem`s or strings).
const TARGET_LISTS: &[(&str, &[&[&str]])] = &[
    ("InsertStmt", &[&["cols"], &["on_conflict_clause", "target_list"], &["on_conflict_clause", "infer", "index_elems"]]),
    ("UpdateStmt", &[&["target_list"]]),
    ("MergeStmt", &[&["merge_when_clauses", "target_list"]]),
    ("CopyStmt", &[&["attlist"]]),
    ("CreateTrigStmt", &[&["columns"]]),
    ("IndexStmt", &[&["index_including_params"]]),
];

/// The column names of a target list at `path` below `stmt` (a path step over an array takes
/// every element).
fn target_list_names(stmt: &Value, path: &[&str]) -> Vec<String> {
    let mut nodes = vec![stmt];
    for step in path {
        nodes = nodes
            .into_iter()
            .flat_map(|n| {
                // A list element is a `{"node": {"Tag": {...}}}` wrapper; a typed field is not.
                let inner = n["node"].as_object().and_then(|o| o.values().next()).unwrap_or(n);
                match &inner[*step] {
                    Value::Array(items) => items.iter().collect::<Vec<_>>(),
                    Value::Null => vec![],
                    other => vec![other],
                }
            })
            .collect();
    }
    nodes
        .into_iter()
        .filter_map(|n| {
            let node = &n["node"];
            node["ResTarget"]["name"]
                .as_str()
                .or_else(|| node["IndexElem"]["name"].as_str())
                .or_else(|| node["String"]["sval"].as_str())
                .filter(|name| !name.is_empty())
                .map(str::to_string)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::analysis::footprint::testing::*;
    use crate::analysis::footprint::*;

    #[test]
    fn views_and_dml_reference_their_tables_but_not_ctes_or_catalogs() {
        let fp = statement_footprint(
            "CREATE VIEW recent_orders AS WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval '1 day') \
             SELECT r.*, c.name FROM recent r JOIN customers c ON c.id = r.customer_id JOIN pg_class p ON true",
        );
        assert!(has(&fp.creates, "relation public.recent_orders"));
        let relations = |fp: &Footprint| names(&fp.references).into_iter().filter(|n| n.starts_with("relation ")).collect::<Vec<_>>();
        assert_eq!(relations(&fp), ["relation public.customers", "relation public.orders"]);
        let refs = |sql: &str| relations(&statement_footprint(sql));
        assert_eq!(refs("INSERT INTO audit_log (id) SELECT id FROM events"), ["relation public.audit_log", "relation public.events"]);
        assert_eq!(
            refs("UPDATE users SET role = 'x' WHERE id IN (SELECT user_id FROM admins)"),
            ["relation public.admins", "relation public.users"]
        );
        assert_eq!(refs("DELETE FROM sessions WHERE expires_at < now()"), ["relation public.sessions"]);
        assert_eq!(
            names(&statement_footprint("SELECT normalize_email(email) FROM information_schema.tables").references),
            ["function public.normalize_email"]
        );
    }

    #[test]
    fn views_resolve_columns_by_alias_and_unqualified_names_against_every_relation() {
        let fp = statement_footprint(
            "CREATE VIEW rich AS SELECT a.id, balance, o.total FROM accounts a JOIN app.orders o USING (account_id) \
             WHERE a.balance > 0 AND EXISTS (SELECT 1 FROM notes n WHERE n.account_id = a.id)",
        );
        assert_eq!(
            columns(&fp),
            [
                "app.orders.account_id",
                "app.orders.balance",
                "app.orders.total",
                "public.accounts.account_id",
                "public.accounts.balance",
                "public.accounts.id",
                "public.notes.account_id",
                "public.notes.balance",
            ]
        );
        // `t.*` and `*` name no column; a CTE's and a subquery's columns are not a table's.
        let fp = statement_footprint("CREATE VIEW v AS WITH w AS (SELECT id FROM t) SELECT t.*, w.id, s.x FROM t, w, (SELECT 1 AS x) s");
        assert_eq!(columns(&fp), ["public.t.id"]);
        assert!(!has(&fp.references, "column public.rich.id"), "the view's own columns are not references");
    }

    #[test]
    fn generated_columns_checks_and_index_expressions_read_columns_of_their_table() {
        let fp = statement_footprint("ALTER TABLE accounts ADD COLUMN cents bigint GENERATED ALWAYS AS ((balance * 100)::bigint) STORED");
        assert_eq!(columns(&fp), ["public.accounts.balance"]);
        assert!(has(&fp.creates, "column public.accounts.cents"));
        let fp = statement_footprint("ALTER TABLE accounts ADD CONSTRAINT ok CHECK (balance >= 0 AND email <> '')");
        assert_eq!(columns(&fp), ["public.accounts.balance", "public.accounts.email"]);
        let fp = statement_footprint("CREATE INDEX i ON accounts (lower(email)) INCLUDE (name) WHERE balance > 0");
        assert_eq!(columns(&fp), ["public.accounts.balance", "public.accounts.email", "public.accounts.name"]);
        let fp = statement_footprint("ALTER TABLE accounts ALTER COLUMN code TYPE int USING code_text::int");
        assert_eq!(columns(&fp), ["public.accounts.code_text"]);
        // Columns the same CREATE TABLE makes are its own.
        let fp = statement_footprint("CREATE TABLE t (a int, b int GENERATED ALWAYS AS (a * 2) STORED, CHECK (a > 0))");
        assert!(columns(&fp).is_empty(), "{:?}", columns(&fp));
    }

    #[test]
    fn trigger_columns_and_when_clauses_and_policies_name_columns_of_their_table() {
        let fp = statement_footprint(
            "CREATE TRIGGER tr BEFORE UPDATE OF balance, email ON accounts FOR EACH ROW \
             WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION touch()",
        );
        assert_eq!(columns(&fp), ["public.accounts.balance", "public.accounts.email", "public.accounts.status"]);
        let fp = statement_footprint("CREATE POLICY p ON docs USING (owner = current_user) WITH CHECK (tenant_id = current_tenant())");
        assert_eq!(columns(&fp), ["public.docs.owner", "public.docs.tenant_id"]);
    }

    #[test]
    fn data_statements_name_the_columns_they_write_and_read() {
        let cols = |sql: &str| columns(&statement_footprint(sql));
        assert_eq!(
            cols("INSERT INTO users (id, email) VALUES (1, 'x') ON CONFLICT (email) DO UPDATE SET seen = EXCLUDED.seen"),
            ["public.users.email", "public.users.id", "public.users.seen"]
        );
        assert_eq!(
            cols("UPDATE user_ SET full_name = initcap(nick) WHERE full_name IS NULL"),
            ["public.user_.full_name", "public.user_.nick"]
        );
        assert_eq!(cols("DELETE FROM user_ WHERE email = ''"), ["public.user_.email"]);
        assert_eq!(
            cols(
                "MERGE INTO events e USING (VALUES (1, 'x')) AS v (id, kind) ON e.id = v.id \
                  WHEN MATCHED THEN UPDATE SET seen_at = now() WHEN NOT MATCHED THEN INSERT (id, kind) VALUES (v.id, v.kind)"
            ),
            ["public.events.id", "public.events.kind", "public.events.seen_at"]
        );
        assert_eq!(cols("COPY app.events (id, kind) FROM STDIN"), ["app.events.id", "app.events.kind"]);
        let fp = statement_footprint("TRUNCATE app.events, logs");
        assert_eq!(names(&fp.references), ["schema app", "relation app.events", "relation public.logs"]);
    }

    #[test]
    fn catalog_guards_reference_what_they_look_for() {
        let fp = statement_footprint(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'fk_a' \
             AND conrelid = 'public.items'::regclass) THEN ALTER TABLE items ADD CONSTRAINT fk_a FOREIGN KEY (a_id) REFERENCES a (id); \
             END IF; END $$",
        );
        assert_eq!(names(&fp.creates), ["constraint public.items.fk_a"]);
        assert_eq!(names(&fp.alters), ["relation public.items"]);
        assert_eq!(names(&fp.references), ["relation public.a", "column public.a.id", "column public.items.a_id"]);
        let fp = statement_footprint(
            "SELECT EXISTS (SELECT FROM information_schema.columns WHERE table_schema = 'app' AND table_name = 'users' AND column_name = 'email')",
        );
        assert_eq!(names(&fp.references), ["schema app", "relation app.users", "column app.users.email"]);
    }

    /// References: relations (not CTEs or catalogs), columns by scope, types, objects named in strings, catalog lookups.
    #[test]
    fn representative_statements() {
        let footprints = render_each(&[
            "CREATE VIEW recent_orders AS WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval '1 day') SELECT r.*, c.name FROM recent r JOIN customers c ON c.id = r.customer_id JOIN pg_class p ON true",
            "SELECT a.id, balance FROM accounts a JOIN app.orders o USING (account_id) WHERE EXISTS (SELECT 1 FROM notes n WHERE n.account_id = a.id)",
            "INSERT INTO users (id, email) VALUES (1, 'x') ON CONFLICT (email) DO UPDATE SET seen = EXCLUDED.seen",
            "UPDATE users SET role = 'x' WHERE id IN (SELECT user_id FROM admins)",
            "DELETE FROM sessions s USING users u WHERE s.user_id = u.id AND u.banned",
            "MERGE INTO events e USING (VALUES (1, 'x')) AS v (id, kind) ON e.id = v.id WHEN MATCHED THEN UPDATE SET seen_at = now() WHEN NOT MATCHED THEN INSERT (id, kind) VALUES (v.id, v.kind)",
            "COPY app.events (id, kind) FROM STDIN",
            "TRUNCATE app.events, logs",
            r#"SELECT x::app.money, y::text, z::"Custom" FROM t"#,
            r#"SELECT to_regtype('app.mood'), 'f(int)'::regprocedure, 'app'::regnamespace, to_regclass('"Odd"'), 'int4'::regtype"#,
            "SELECT EXISTS (SELECT FROM information_schema.columns WHERE table_schema = 'app' AND table_name = 'users' AND column_name = 'email')",
            "SELECT 1 FROM pg_constraint WHERE conname = 'fk_a' AND conrelid = 'public.items'::regclass",
            "SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typname = 'mood' AND n.nspname = 'app'",
            "SELECT 1 FROM pg_extension WHERE extname = 'pgcrypto'",
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = 'app'",
        ]);
        insta::assert_snapshot!(footprints);
    }
}
