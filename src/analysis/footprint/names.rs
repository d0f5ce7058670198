//! Names: qualifying them against the default schema, reading them out of parse nodes and
//! strings, the names Postgres gives objects the SQL leaves unnamed, what object types are
//! called, and the built-in types and functions (which are not references).

use pg_query::protobuf::{self as pb, ObjectType};
use pg_query::{Node, NodeEnum};
use serde_json::Value;

use super::{ObjectRef, RefKind, Walker};

impl Walker<'_> {
    pub(super) fn qualify(&self, schema: &str, name: &str) -> String {
        let schema = if schema.is_empty() { self.schema } else { schema };
        format!("{schema}.{name}")
    }

    pub(super) fn table(&self, rv: &pb::RangeVar) -> TableName {
        let schema = match (rv.schemaname.as_str(), rv.relpersistence.as_str()) {
            ("", "t") => "pg_temp",
            ("", _) => self.schema,
            (schema, _) => schema,
        };
        TableName { schema: schema.to_string(), name: rv.relname.clone() }
    }

    /// `[schema.]name` from a list of name parts (a leading catalog name is ignored).
    pub(super) fn list_name(&self, parts: &[String]) -> Option<String> {
        match parts {
            [name] => Some(self.qualify("", name)),
            [.., schema, name] => Some(self.qualify(schema, name)),
            [] => None,
        }
    }

    /// `[schema.]table.member` from a list of name parts.
    pub(super) fn member_name(&self, parts: &[String]) -> Option<String> {
        let (member, table) = parts.split_last()?;
        Some(format!("{}.{member}", self.list_name(table)?))
    }

    /// The object a COMMENT, DROP, GRANT or ALTER ... OWNER statement names.
    pub(super) fn object_ref(&self, objtype: ObjectType, node: &Node) -> Option<ObjectRef> {
        let inner = node.node.as_ref()?;
        let parts = match inner {
            NodeEnum::List(list) => strings(&list.items),
            NodeEnum::String(s) => vec![s.sval.clone()],
            NodeEnum::TypeName(t) => strings(&t.names),
            NodeEnum::ObjectWithArgs(f) => strings(&f.objname),
            NodeEnum::RangeVar(rv) => return Some(ObjectRef::new(relation_kind(objtype)?, self.table(rv).full())),
            _ => return None,
        };
        use ObjectType as O;
        let (kind, name) = match objtype {
            O::ObjectSchema => (RefKind::Schema, parts.last()?.clone()),
            O::ObjectRole => (RefKind::Role, parts.last()?.clone()),
            O::ObjectExtension => (RefKind::Extension, parts.last()?.clone()),
            O::ObjectColumn => (RefKind::Column, self.member_name(&parts)?),
            O::ObjectTabconstraint => (RefKind::Constraint, self.member_name(&parts)?),
            O::ObjectTrigger => (RefKind::Trigger, self.member_name(&parts)?),
            O::ObjectPolicy => (RefKind::Policy, self.member_name(&parts)?),
            O::ObjectRule => (RefKind::Relation, self.list_name(&parts[..parts.len().saturating_sub(1)])?),
            other => (relation_kind(other)?, self.list_name(&parts)?),
        };
        Some(ObjectRef::new(kind, name))
    }
}

pub(super) const DEFAULT_SCHEMA: &str = "public";

pub(super) fn is_system_schema(schema: &str) -> bool {
    matches!(schema, "pg_catalog" | "information_schema" | "pg_temp" | "pg_toast")
}

/// A table (or other relation) name, split so implicit names can be derived from it.
pub(super) struct TableName {
    pub(super) schema: String,
    pub(super) name: String,
}

impl TableName {
    pub(super) fn full(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// A column, constraint, trigger or policy of this table.
    pub(super) fn member(&self, name: &str) -> String {
        format!("{}.{}.{}", self.schema, self.name, name)
    }

    /// Another relation in the same schema (an index, an implicit sequence).
    pub(super) fn sibling(&self, name: &str) -> String {
        format!("{}.{}", self.schema, name)
    }
}

pub(super) fn object_type(value: i32) -> ObjectType {
    ObjectType::try_from(value).unwrap_or(ObjectType::Undefined)
}

/// The namespace of an object type that lives among relations (and types/functions).
pub(super) fn relation_kind(objtype: ObjectType) -> Option<RefKind> {
    use ObjectType as O;
    match objtype {
        O::ObjectTable | O::ObjectView | O::ObjectMatview | O::ObjectIndex | O::ObjectSequence | O::ObjectForeignTable => {
            Some(RefKind::Relation)
        }
        O::ObjectType | O::ObjectDomain => Some(RefKind::Type),
        O::ObjectFunction | O::ObjectProcedure | O::ObjectRoutine | O::ObjectAggregate => Some(RefKind::Function),
        O::ObjectSchema => Some(RefKind::Schema),
        O::ObjectExtension => Some(RefKind::Extension),
        _ => None,
    }
}

pub(super) fn has_row_type(objtype: ObjectType) -> bool {
    use ObjectType as O;
    matches!(objtype, O::ObjectTable | O::ObjectView | O::ObjectMatview | O::ObjectForeignTable)
}

pub(super) fn relation_noun(objtype: ObjectType) -> &'static str {
    use ObjectType as O;
    match objtype {
        O::ObjectView => "view",
        O::ObjectMatview => "materialized view",
        O::ObjectIndex => "index",
        O::ObjectSequence => "sequence",
        O::ObjectForeignTable => "foreign table",
        _ => "table",
    }
}

/// How a message calls an object given its statement's object type.
pub(super) fn object_noun(objtype: ObjectType, kind: RefKind) -> &'static str {
    use ObjectType as O;
    match objtype {
        O::ObjectTable | O::ObjectView | O::ObjectMatview | O::ObjectIndex | O::ObjectSequence | O::ObjectForeignTable => {
            relation_noun(objtype)
        }
        O::ObjectDomain => "domain",
        O::ObjectProcedure => "procedure",
        O::ObjectAggregate => "aggregate",
        O::ObjectRule => "rules of table",
        _ => kind.noun(),
    }
}

pub(super) fn strings(nodes: &[Node]) -> Vec<String> {
    nodes
        .iter()
        .filter_map(|n| match n.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.clone()),
            _ => None,
        })
        .collect()
}

/// A string constant, possibly cast (`'x'::regclass`).
pub(super) fn const_string(node: &Node) -> Option<&str> {
    match node.node.as_ref()? {
        NodeEnum::AConst(c) => match c.val.as_ref()? {
            pb::a_const::Val::Sval(s) => Some(&s.sval),
            _ => None,
        },
        NodeEnum::TypeCast(c) => const_string(c.arg.as_deref()?),
        _ => None,
    }
}

/// The strings of a list node (or a single string node).
pub(super) fn node_strings(node: &Node) -> Vec<String> {
    match node.node.as_ref() {
        Some(NodeEnum::List(list)) => strings(&list.items),
        Some(NodeEnum::String(s)) => vec![s.sval.clone()],
        _ => vec![],
    }
}

/// The `sval`s of a JSON array of `String` nodes.
pub(super) fn json_strings(value: &Value) -> Vec<String> {
    value.as_array().into_iter().flatten().filter_map(|n| n["node"]["String"]["sval"].as_str().map(str::to_string)).collect()
}

/// Postgres's `makeObjectName`: `name1_name2_label`, shortening the longer part until the
/// whole fits in 63 bytes.
pub(super) fn implicit_name(name1: &str, name2: Option<&str>, label: &str) -> String {
    const MAX: usize = 63;
    let overhead = label.len() + 1 + usize::from(name2.is_some());
    let available = MAX.saturating_sub(overhead);
    let (mut n1, mut n2) = (name1.len(), name2.map_or(0, str::len));
    while n1 + n2 > available {
        if n1 > n2 {
            n1 -= 1;
        } else {
            n2 -= 1;
        }
    }
    match name2 {
        Some(name2) => format!("{}_{}_{label}", clip(name1, n1), clip(name2, n2)),
        None => format!("{}_{label}", clip(name1, n1)),
    }
}

/// The first `n` bytes of `s`, fewer if `n` falls inside a character.
fn clip(s: &str, mut n: usize) -> &str {
    n = n.min(s.len());
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

/// Postgres's `ChooseIndexColumnNames`: the names of an index's columns (key columns, then
/// INCLUDE columns) for its implicit name, a repeated one numbered (`a`, `a1`) within 63 bytes.
pub(super) fn index_column_names(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut result: Vec<String> = Vec::new();
    for name in names {
        let mut current = name.clone();
        for pass in 1.. {
            if !result.contains(&current) {
                break;
            }
            let number = pass.to_string();
            current = format!("{}{number}", clip(&name, 63 - number.len()));
        }
        result.push(current);
    }
    result
}

/// The name of an index element for [`index_column_names`]: the column, or the name Postgres
/// figures for an expression (`FigureIndexColname`: `lower(email)` is `lower`), else `expr`.
pub(super) fn index_element_name(element: &pb::IndexElem) -> String {
    if !element.name.is_empty() {
        return element.name.clone();
    }
    element.expr.as_deref().and_then(|e| expression_name(e).1).unwrap_or_else(|| "expr".to_string())
}

/// Postgres's `FigureColnameInternal` for the expressions an index can hold: the name of an
/// expression's column and how strong it is (2 for a column or a function, 1 for the type of
/// a cast or a CASE; a weak name gives way to a stronger one).
fn expression_name(node: &Node) -> (u8, Option<String>) {
    let named = |name: &str| (2, Some(name.to_string()));
    let inner = |node: Option<&Node>| node.map_or((0, None), expression_name);
    let last_field = |fields: &[Node]| strings(fields).pop();
    match node.node.as_ref() {
        Some(NodeEnum::ColumnRef(c)) => last_field(&c.fields).map_or((0, None), |f| (2, Some(f))),
        Some(NodeEnum::AIndirection(i)) => match last_field(&i.indirection) {
            Some(field) => (2, Some(field)),
            None => inner(i.arg.as_deref()),
        },
        Some(NodeEnum::FuncCall(f)) => (2, strings(&f.funcname).pop()),
        Some(NodeEnum::AExpr(e)) if e.kind == pb::AExprKind::AexprNullif as i32 => named("nullif"),
        Some(NodeEnum::TypeCast(c)) => match (inner(c.arg.as_deref()), &c.type_name) {
            ((strength, _), Some(t)) if strength <= 1 => (1, strings(&t.names).pop()),
            (arg, _) => arg,
        },
        Some(NodeEnum::CollateClause(c)) => inner(c.arg.as_deref()),
        Some(NodeEnum::CaseExpr(c)) => match inner(c.defresult.as_deref()) {
            (strength, _) if strength <= 1 => (1, Some("case".to_string())),
            otherwise => otherwise,
        },
        Some(NodeEnum::AArrayExpr(_)) => named("array"),
        Some(NodeEnum::RowExpr(_)) => named("row"),
        Some(NodeEnum::CoalesceExpr(_)) => named("coalesce"),
        Some(NodeEnum::MinMaxExpr(m)) if m.op == pb::MinMaxOp::IsGreatest as i32 => named("greatest"),
        Some(NodeEnum::MinMaxExpr(m)) if m.op == pb::MinMaxOp::IsLeast as i32 => named("least"),
        _ => (0, None),
    }
}

/// Splits `a."b.c".d` at the dots outside double quotes.
pub(super) fn split_qualified(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, ch) in text.char_indices() {
        match ch {
            '"' => quoted = !quoted,
            '.' if !quoted => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// An identifier as Postgres reads it: `"Quoted"` keeps its case, anything else is lower-cased.
pub(super) fn parse_identifier(part: &str) -> String {
    let part = part.trim();
    match part.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => part.to_lowercase(),
    }
}

/// Unqualified type names that resolve to `pg_catalog` (the grammar qualifies SQL-standard
/// spellings such as `integer` itself).
pub(super) fn is_builtin_type(name: &str) -> bool {
    #[rustfmt::skip]
    const TYPES: &[&str] = &[
        "aclitem", "any", "anyarray", "anycompatible", "anyelement", "anyenum", "anynonarray", "anyrange", "bit",
        "bool", "box", "bpchar", "bytea", "char", "cid", "cidr", "circle", "cstring", "date", "daterange",
        "datemultirange", "event_trigger", "fdw_handler", "float4", "float8", "gtsvector", "index_am_handler", "inet",
        "int2", "int4", "int4range", "int4multirange", "int8", "int8range", "int8multirange", "internal", "interval",
        "json", "jsonb", "jsonpath", "language_handler", "line", "lseg", "macaddr", "macaddr8", "money", "name",
        "numeric", "numrange", "nummultirange", "oid", "path", "pg_lsn", "pg_snapshot", "point", "polygon", "record",
        "refcursor", "regclass", "regcollation", "regconfig", "regdictionary", "regnamespace", "regoper",
        "regoperator", "regproc", "regprocedure", "regrole", "regtype", "serial", "serial2", "serial4", "serial8",
        "bigserial", "smallserial", "table_am_handler", "text", "tid", "time", "timestamp", "timestamptz", "timetz",
        "trigger", "tsm_handler", "tsmultirange", "tsquery", "tsrange", "tstzmultirange", "tstzrange", "tsvector",
        "txid_snapshot", "unknown", "uuid", "varbit", "varchar", "void", "xid", "xid8", "xml",
    ];
    TYPES.contains(&name)
}

/// Common `pg_catalog` functions, so calls to them are not taken for user functions.
pub(super) fn is_builtin_function(name: &str) -> bool {
    #[rustfmt::skip]
    const FUNCTIONS: &[&str] = &[
        "abs", "age", "array_agg", "array_append", "array_length", "array_position", "array_remove",
        "array_to_string", "avg", "bool_and", "bool_or", "btrim", "ceil", "char_length", "clock_timestamp", "concat",
        "concat_ws", "count", "current_database", "current_schema", "current_setting", "currval", "date_part",
        "date_trunc", "decode", "encode", "every", "exists", "extract", "floor", "format", "format_type",
        "gen_random_uuid", "generate_series", "greatest", "has_table_privilege", "initcap", "json_agg",
        "json_build_array", "json_build_object", "jsonb_agg", "jsonb_array_elements", "jsonb_array_length",
        "jsonb_build_array", "jsonb_build_object", "jsonb_each", "jsonb_object_agg", "jsonb_set", "jsonb_strip_nulls",
        "jsonb_typeof", "lag", "lead", "least", "left", "length", "lower", "lpad", "ltrim", "make_interval", "max",
        "md5", "min", "nextval", "now", "nullif", "obj_description", "pg_advisory_lock", "pg_advisory_unlock",
        "pg_advisory_xact_lock", "pg_get_serial_sequence", "pg_notify", "pg_sleep", "position", "quote_ident",
        "quote_literal", "quote_nullable", "random", "rank", "regexp_replace", "regexp_split_to_array", "repeat",
        "replace", "right", "round", "row_number", "rpad", "rtrim", "set_config", "setval", "split_part",
        "statement_timestamp", "string_agg", "strpos", "substr", "substring", "sum", "timezone", "to_char", "to_date",
        "to_json", "to_jsonb", "to_number", "to_regclass", "to_regnamespace", "to_regproc", "to_regprocedure",
        "to_regtype", "to_timestamp", "to_tsquery", "to_tsvector", "transaction_timestamp", "trim", "trunc", "unnest",
        "upper", "version",
    ];
    FUNCTIONS.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::footprint::testing::*;
    use crate::analysis::footprint::*;

    #[test]
    fn names_fold_to_lower_case_unless_quoted_and_other_schemas_are_referenced() {
        let fp = statement_footprint(r#"CREATE TABLE Billing."Invoices" (id int, status Billing.Status)"#);
        assert!(has(&fp.creates, "relation billing.Invoices"), "{:?}", names(&fp.creates));
        assert_eq!(names(&fp.references), ["schema billing", "type billing.status"]);
        let fp = statement_footprint(r#"SELECT nextval('"Billing".invoice_SEQ'), 'public."Odd"'::regclass"#);
        assert_eq!(names(&fp.references), ["schema Billing", "relation Billing.invoice_seq", "relation public.Odd"]);
    }

    #[test]
    fn implicit_names_follow_postgres_truncation() {
        let long = "a".repeat(40);
        assert_eq!(implicit_name(&long, Some(&"b".repeat(40)), "fkey").len(), 63);
        assert_eq!(implicit_name("t", Some("a_b"), "key"), "t_a_b_key");
        assert_eq!(implicit_name("t", None, "pkey"), "t_pkey");
        let fp = statement_footprint("CREATE TABLE t (a int, b int, CHECK (a > 0), CHECK (a < b), UNIQUE (a, b))");
        for created in ["constraint public.t.t_a_check", "constraint public.t.t_check", "constraint public.t.t_a_b_key"] {
            assert!(has(&fp.creates, created), "{created} in {:?}", names(&fp.creates));
        }
    }

    /// Qualification, case folding, built-in types and functions, implicit names past 63 bytes.
    #[test]
    fn representative_statements() {
        let footprints = render_each(&[
            r#"CREATE TABLE Billing."Invoices" (id int, status Billing.Status)"#,
            r#"SELECT nextval('"Billing".invoice_SEQ'), 'public."Odd"'::regclass"#,
            "CREATE TEMP TABLE scratch (id int)",
            r#"CREATE TABLE t (id int, note "MyType", at pg_catalog.timestamptz, amount numeric(10, 2), tags text[], mood app.mood)"#,
            "SELECT my_func(1), pg_catalog.now(), lower('x'), app.f(), pg_catalog.my_func()",
            "CREATE TABLE aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa (bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb int UNIQUE)",
        ]);
        insta::assert_snapshot!(footprints);
    }
}
