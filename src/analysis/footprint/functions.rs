//! Functions and procedures (CREATE, ALTER, calls), `DO` blocks, and the PL/pgSQL walk that
//! reads the SQL a body runs: a function's body only references what it names (it does not run
//! when the function is created); a `DO` block's body runs, so it creates what it creates.

use pg_query::protobuf as pb;
use pg_query::{Node, NodeEnum};
use serde_json::Value;

use super::names::{const_string, is_builtin_function, is_system_schema, node_strings, strings};
use super::{analyze_sql, Analysis, Footprint, ObjectRef, RefKind, Walker};
use crate::migration::plpgsql::{self, def_elem, node_string};

impl Walker<'_> {
    /// The function is created; the names its body uses are references (the body does not run).
    pub(super) fn create_function(&mut self, s: &pb::CreateFunctionStmt, text: &str) {
        let Some(name) = self.list_name(&strings(&s.funcname)) else { return };
        let noun = if s.is_procedure { "procedure" } else { "function" };
        self.label(format!("{noun} {name}"));
        self.create(RefKind::Function, name, noun);
        let language = def_elem(&s.options, "language").and_then(node_string).unwrap_or("sql").to_lowercase();
        let body = def_elem(&s.options, "as").map(node_strings).and_then(|b| b.into_iter().next());
        let inner = match (language.as_str(), body) {
            ("plpgsql", Some(body)) => {
                let inner = plpgsql_analysis(text, self.schema);
                if inner.footprint == Footprint::default() {
                    plpgsql_analysis(&plpgsql::wrap(&body), self.schema)
                } else {
                    inner
                }
            }
            ("sql", Some(body)) => analyze_sql(&body, self.schema),
            _ => return,
        };
        let used: Vec<ObjectRef> = inner.footprint.names().cloned().collect();
        self.analysis.footprint.references.extend(used);
    }

    /// A `DO` block runs its body now: what the body creates, the block creates.
    pub(super) fn do_block(&mut self, s: &pb::DoStmt) {
        let body = def_elem(&s.args, "as").and_then(node_string);
        let language = def_elem(&s.args, "language").and_then(node_string).unwrap_or("plpgsql");
        if let (Some(body), true) = (body, language.eq_ignore_ascii_case("plpgsql")) {
            let inner = plpgsql_analysis(&plpgsql::wrap(body), self.schema);
            if let Some(subject) = &inner.subject {
                self.label(format!("do block: {subject}"));
            }
            self.absorb(inner);
        }
    }

    pub(super) fn call_function(&mut self, parts: &[String]) {
        if let Some(name) = function_reference(parts, self.schema) {
            self.refer(RefKind::Function, name);
        }
    }

    pub(super) fn alter_function(&mut self, s: &pb::AlterFunctionStmt) {
        if let Some(name) = s.func.as_ref().and_then(|f| self.list_name(&strings(&f.objname))) {
            self.label(format!("alter function {name}"));
            self.alter(RefKind::Function, name);
        }
    }
}

/// A function call's reference, unless it is a built-in one.
fn function_reference(parts: &[String], schema: &str) -> Option<String> {
    match parts {
        [name] if is_builtin_function(name) => None,
        [name] => Some(format!("{schema}.{name}")),
        [.., s, _] if is_system_schema(s) => None,
        [.., s, name] => Some(format!("{s}.{name}")),
        [] => None,
    }
}

/// The footprint of the SQL a PL/pgSQL function runs, statement by statement in body order.
fn plpgsql_analysis(function_sql: &str, schema: &str) -> Analysis {
    let mut analysis = Analysis::default();
    if let Some(tree) = plpgsql::parse(function_sql) {
        walk_plpgsql(&tree, schema, &mut analysis);
    }
    analysis.session = false;
    analysis
}

fn walk_plpgsql(value: &Value, schema: &str, analysis: &mut Analysis) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| walk_plpgsql(item, schema, analysis)),
        Value::Object(map) => {
            for (key, value) in map {
                match key.as_str() {
                    "PLpgSQL_expr" => analysis.then(expression_analysis(value, schema), false),
                    // EXECUTE, FOR ... IN EXECUTE, RETURN QUERY EXECUTE, OPEN ... FOR EXECUTE.
                    "PLpgSQL_stmt_dynexecute" | "PLpgSQL_stmt_dynfors" => {
                        for (field, inner) in value.as_object().into_iter().flatten() {
                            if field == "query" {
                                analysis.then(dynamic_analysis(inner, schema), false);
                            } else {
                                walk_plpgsql(inner, schema, analysis);
                            }
                        }
                    }
                    "dynquery" => analysis.then(dynamic_analysis(value, schema), false),
                    _ => walk_plpgsql(value, schema, analysis),
                }
            }
        }
        _ => {}
    }
}

/// An embedded SQL statement or expression (`IF <expr>`, `PERFORM`, `x := <expr>`).
fn expression_analysis(expr: &Value, schema: &str) -> Analysis {
    let query = expr["query"].as_str().unwrap_or_default();
    match expr["parseMode"].as_i64().unwrap_or(0) {
        0 => analyze_sql(query, schema),
        // Assignments carry their target: `x := <expr>`.
        3..=5 => {
            let value = query.split_once(":=").or_else(|| query.split_once('=')).map_or(query, |(_, v)| v);
            analyze_sql(&format!("SELECT {value}"), schema)
        }
        1 => Analysis::default(), // a type name
        _ => analyze_sql(&format!("SELECT {query}"), schema),
    }
}

/// EXECUTE of a literal (or literals joined with `||`) runs that SQL; anything else is opaque.
fn dynamic_analysis(expr: &Value, schema: &str) -> Analysis {
    let query = expr["PLpgSQL_expr"]["query"].as_str().unwrap_or_default();
    let select = format!("SELECT {query}");
    let literal = pg_query::parse(&select, 0).ok().and_then(|parsed| {
        let stmt = parsed.protobuf.stmts.first()?.stmt.as_ref()?.node.as_ref()?;
        let NodeEnum::SelectStmt(s) = stmt else { return None };
        let [target] = s.target_list.as_slice() else { return None };
        let Some(NodeEnum::ResTarget(r)) = target.node.as_ref() else { return None };
        literal_text(r.val.as_deref()?)
    });
    match literal {
        Some(sql) => analyze_sql(&sql, schema),
        None => {
            let mut analysis = analyze_sql(&select, schema);
            analysis.footprint.dynamic_sql = true;
            analysis
        }
    }
}

/// The text of a string literal, or of literals concatenated with `||`.
fn literal_text(node: &Node) -> Option<String> {
    match node.node.as_ref()? {
        NodeEnum::AConst(_) => const_string(node).map(str::to_string),
        NodeEnum::AExpr(e) if strings(&e.name) == ["||"] => Some(literal_text(e.lexpr.as_deref()?)? + &literal_text(e.rexpr.as_deref()?)?),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::footprint::testing::*;
    use crate::analysis::footprint::*;

    #[test]
    fn a_function_is_created_and_its_body_only_referenced() {
        let fp = statement_footprint(
            "CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$\n\
             BEGIN\n  NEW.updated_at := now();\n  INSERT INTO audit (at) VALUES (clock_timestamp());\n\
               CREATE TABLE scratch (id int);\n  EXECUTE format('SELECT 1 FROM %I', TG_TABLE_NAME);\n  RETURN NEW;\nEND\n$$",
        );
        assert_eq!(names(&fp.creates), ["function public.set_updated_at"]);
        assert!(has(&fp.references, "relation public.audit") && has(&fp.references, "relation public.scratch"));
        assert!(!fp.dynamic_sql, "a function body does not run when it is created");

        let fp =
            statement_footprint("CREATE FUNCTION active_users() RETURNS SETOF users LANGUAGE sql AS 'SELECT * FROM users WHERE active'");
        assert_eq!(names(&fp.references), ["relation public.users", "type public.users", "column public.users.active"]);
    }

    #[test]
    fn do_block_selects_and_function_bodies_name_columns() {
        let fp = statement_footprint(
            "DO $$ BEGIN IF EXISTS (SELECT 1 FROM products WHERE title <> btrim(title)) THEN \
             UPDATE products SET title = btrim(title); END IF; END $$",
        );
        assert_eq!(columns(&fp), ["public.products.title"]);
        let fp = statement_footprint(
            "CREATE FUNCTION f(p_scope text) RETURNS text LANGUAGE sql STABLE \
             AS $$ SELECT value FROM settings WHERE scope = p_scope $$",
        );
        assert_eq!(columns(&fp), ["public.settings.p_scope", "public.settings.scope", "public.settings.value"]);
        let fp = statement_footprint(
            "CREATE FUNCTION g(p_id bigint) RETURNS text LANGUAGE plpgsql AS $$ DECLARE v text; \
             BEGIN SELECT s.label INTO v FROM app.stock s WHERE s.id = p_id; RETURN v; END $$",
        );
        // A variable is taken for a column of every relation too: a column never created adds no
        // dependency.
        assert_eq!(columns(&fp), ["app.stock.id", "app.stock.label", "app.stock.p_id"]);
    }

    #[test]
    fn a_do_block_creates_what_its_body_creates() {
        let fp = statement_footprint(
            "DO $$\nBEGIN\n  IF to_regclass('public.widgets') IS NOT NULL THEN RETURN; END IF;\n\
             CREATE TABLE widgets (id int, owner_id int REFERENCES owners (id));\n\
             EXECUTE 'CREATE INDEX widgets_owner ON widgets (owner_id)';\nEND\n$$",
        );
        for created in ["relation public.widgets", "relation public.widgets_owner", "column public.widgets.owner_id"] {
            assert!(has(&fp.creates, created), "{created} in {:?}", names(&fp.creates));
        }
        assert_eq!(names(&fp.references), ["relation public.owners", "column public.owners.id"]);
        assert!(!fp.dynamic_sql, "EXECUTE of a literal is read");
    }

    #[test]
    fn execute_of_a_computed_string_is_dynamic() {
        let fp = statement_footprint("DO $$ DECLARE t text := 'widgets'; BEGIN EXECUTE 'ALTER TABLE ' || t || ' ADD COLUMN x int'; END $$");
        assert!(fp.dynamic_sql);
        let fp = statement_footprint("DO $$ BEGIN EXECUTE format('CREATE TABLE %I ()', 'x'); END $$");
        assert!(fp.dynamic_sql);
        let fp = statement_footprint("DO $$ BEGIN EXECUTE 'CREATE TABLE ' || 'joined (id int)'; END $$");
        assert!(!fp.dynamic_sql && has(&fp.creates, "relation public.joined"));
    }

    #[test]
    fn a_call_references_its_procedure() {
        assert_eq!(names(&statement_footprint("CALL app.archive(30)").references), ["schema app", "function app.archive"]);
        let fp = statement_footprint("DO $$ BEGIN CALL archive(nextval('s')); END $$");
        assert_eq!(names(&fp.references), ["relation public.s", "function public.archive"]);
    }

    /// Functions and procedures (their bodies are references), calls, and DO blocks (their bodies run).
    #[test]
    fn representative_statements() {
        let footprints = render_each(&[
            "CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); INSERT INTO audit (at) VALUES (clock_timestamp()); RETURN NEW; END $$",
            "CREATE FUNCTION active_users() RETURNS SETOF users LANGUAGE sql AS 'SELECT * FROM users WHERE active'",
            "CREATE PROCEDURE app.archive(days int) LANGUAGE sql AS $$ DELETE FROM app.events WHERE at < now() - make_interval(days => days) $$",
            "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE RETURN a + b",
            "ALTER FUNCTION add(int, int) SET search_path = public",
            "CALL app.archive(30)",
            "DO $$ BEGIN IF to_regclass('public.widgets') IS NOT NULL THEN RETURN; END IF; CREATE TABLE widgets (id int, owner_id int REFERENCES owners (id)); EXECUTE 'CREATE INDEX widgets_owner ON widgets (owner_id)'; END $$",
            "DO $$ DECLARE t text := 'widgets'; BEGIN EXECUTE 'ALTER TABLE ' || t || ' ADD COLUMN x int'; END $$",
            "DO $$ DECLARE r record; BEGIN FOR r IN SELECT id FROM batches LOOP UPDATE items SET done = true WHERE batch_id = r.id; COMMIT; END LOOP; END $$",
        ]);
        insta::assert_snapshot!(footprints);
    }
}
