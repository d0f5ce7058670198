//! One spelling for a cast of an `ARRAY[...]` constructor: the cast pushed into its elements.
//!
//! Postgres prints `col IN ('a', 'b')` on a `varchar` column as
//! `(col)::text = ANY ((ARRAY['a'::varchar, 'b'::varchar])::text[])`: a cast of the whole array.
//! When it reads that text back (a `pg_dump` reference), its parser pushes a cast of an
//! `ARRAY[...]` into the elements (`transformTypeCast` hands the target type to
//! `transformArrayExpr`), and it stores and prints
//! `ANY (ARRAY[('a'::varchar)::text, ('b'::varchar)::text])`. Both are one constraint (or index
//! predicate, or view): the canonical text rewrites the first form into the second, as
//! Postgres's parser does.

use pg_query::protobuf::{self, Node, TypeName};
use pg_query::NodeEnum;

/// Rewrites every `(ARRAY[e1, ...])::t[]` in the statement into `ARRAY[e1::t, ...]`.
pub(super) fn push_array_casts_into_elements(result: &mut protobuf::ParseResult) {
    for raw in &mut result.stmts {
        if let Some(stmt) = raw.stmt.as_mut() {
            node(stmt);
        }
    }
}

fn node(node: &mut Node) {
    let Some(inner) = node.node.as_mut() else { return };
    children(inner);
    if let NodeEnum::TypeCast(cast) = inner {
        if let Some(array) = cast_pushed_into_elements(cast) {
            *inner = array;
        }
    }
}

fn children(inner: &mut NodeEnum) {
    match inner {
        NodeEnum::SelectStmt(s) => select(s),
        NodeEnum::InsertStmt(s) => {
            boxed(&mut s.select_stmt);
            if let Some(with) = s.with_clause.as_mut() {
                nodes(&mut with.ctes);
            }
        }
        NodeEnum::UpdateStmt(s) => {
            nodes(&mut s.target_list);
            boxed(&mut s.where_clause);
            nodes(&mut s.from_clause);
        }
        NodeEnum::DeleteStmt(s) => {
            nodes(&mut s.using_clause);
            boxed(&mut s.where_clause);
        }
        NodeEnum::CommonTableExpr(c) => boxed(&mut c.ctequery),
        NodeEnum::ResTarget(t) => boxed(&mut t.val),
        NodeEnum::AExpr(e) => {
            boxed(&mut e.lexpr);
            boxed(&mut e.rexpr);
        }
        NodeEnum::BoolExpr(e) => nodes(&mut e.args),
        NodeEnum::FuncCall(f) => {
            nodes(&mut f.args);
            nodes(&mut f.agg_order);
            boxed(&mut f.agg_filter);
        }
        NodeEnum::SubLink(l) => {
            boxed(&mut l.testexpr);
            boxed(&mut l.subselect);
        }
        NodeEnum::CaseExpr(c) => {
            boxed(&mut c.arg);
            nodes(&mut c.args);
            boxed(&mut c.defresult);
        }
        NodeEnum::CaseWhen(w) => {
            boxed(&mut w.expr);
            boxed(&mut w.result);
        }
        NodeEnum::CoalesceExpr(e) => nodes(&mut e.args),
        NodeEnum::MinMaxExpr(e) => nodes(&mut e.args),
        NodeEnum::NullTest(t) => boxed(&mut t.arg),
        NodeEnum::BooleanTest(t) => boxed(&mut t.arg),
        NodeEnum::RowExpr(r) => nodes(&mut r.args),
        NodeEnum::CollateClause(c) => boxed(&mut c.arg),
        NodeEnum::AIndirection(i) => boxed(&mut i.arg),
        NodeEnum::NamedArgExpr(a) => boxed(&mut a.arg),
        NodeEnum::List(l) => nodes(&mut l.items),
        NodeEnum::SortBy(s) => boxed(&mut s.node),
        NodeEnum::JoinExpr(j) => {
            boxed(&mut j.larg);
            boxed(&mut j.rarg);
            boxed(&mut j.quals);
        }
        NodeEnum::RangeSubselect(r) => boxed(&mut r.subquery),
        NodeEnum::RangeFunction(r) => nodes(&mut r.functions),
        NodeEnum::AArrayExpr(a) => nodes(&mut a.elements),
        NodeEnum::AlterTableStmt(s) => nodes(&mut s.cmds),
        NodeEnum::AlterTableCmd(c) => boxed(&mut c.def),
        NodeEnum::Constraint(c) => {
            boxed(&mut c.raw_expr);
            boxed(&mut c.where_clause);
        }
        NodeEnum::CreateStmt(s) => {
            nodes(&mut s.table_elts);
            nodes(&mut s.constraints);
        }
        NodeEnum::ColumnDef(c) => {
            boxed(&mut c.raw_default);
            nodes(&mut c.constraints);
        }
        NodeEnum::IndexStmt(s) => {
            nodes(&mut s.index_params);
            boxed(&mut s.where_clause);
        }
        NodeEnum::IndexElem(e) => boxed(&mut e.expr),
        NodeEnum::ViewStmt(v) => boxed(&mut v.query),
        NodeEnum::CreateTableAsStmt(s) => boxed(&mut s.query),
        NodeEnum::CreateTrigStmt(t) => boxed(&mut t.when_clause),
        NodeEnum::RuleStmt(r) => {
            boxed(&mut r.where_clause);
            nodes(&mut r.actions);
        }
        NodeEnum::CreatePolicyStmt(p) => {
            boxed(&mut p.qual);
            boxed(&mut p.with_check);
        }
        NodeEnum::TypeCast(c) => boxed(&mut c.arg),
        _ => {}
    }
}

fn select(s: &mut protobuf::SelectStmt) {
    nodes(&mut s.distinct_clause);
    nodes(&mut s.target_list);
    nodes(&mut s.from_clause);
    boxed(&mut s.where_clause);
    nodes(&mut s.group_clause);
    boxed(&mut s.having_clause);
    nodes(&mut s.values_lists);
    nodes(&mut s.sort_clause);
    boxed(&mut s.limit_offset);
    boxed(&mut s.limit_count);
    if let Some(with) = s.with_clause.as_mut() {
        nodes(&mut with.ctes);
    }
    if let Some(left) = s.larg.as_mut() {
        select(left);
    }
    if let Some(right) = s.rarg.as_mut() {
        select(right);
    }
}

fn nodes(list: &mut [Node]) {
    list.iter_mut().for_each(node);
}

fn boxed(child: &mut Option<Box<Node>>) {
    if let Some(child) = child.as_mut() {
        node(child);
    }
}

/// `(ARRAY[e1, ...])::t[]` as `ARRAY[e1::t, ...]`, leaving an element already cast to `t` as
/// it is (Postgres adds no second cast there). `None` for anything else: an empty array (its
/// cast gives it its type), a multidimensional one, or a target with a type modifier.
fn cast_pushed_into_elements(cast: &protobuf::TypeCast) -> Option<NodeEnum> {
    let Some(NodeEnum::AArrayExpr(array)) = cast.arg.as_ref().and_then(|a| a.node.as_ref()) else { return None };
    let target = cast.type_name.as_ref()?;
    if array.elements.is_empty() || target.array_bounds.len() != 1 || !target.typmods.is_empty() || target.setof {
        return None;
    }
    let element_type = TypeName { array_bounds: vec![], location: -1, ..target.clone() };
    let mut elements = Vec::with_capacity(array.elements.len());
    for element in &array.elements {
        match element.node.as_ref() {
            None | Some(NodeEnum::AArrayExpr(_)) => return None,
            Some(NodeEnum::TypeCast(inner)) if inner.type_name.as_ref().is_some_and(|t| same_type(t, &element_type)) => {
                elements.push(element.clone())
            }
            Some(_) => elements.push(Node {
                node: Some(NodeEnum::TypeCast(Box::new(protobuf::TypeCast {
                    arg: Some(Box::new(element.clone())),
                    type_name: Some(element_type.clone()),
                    location: -1,
                }))),
            }),
        }
    }
    Some(NodeEnum::AArrayExpr(protobuf::AArrayExpr { elements, list_start: -1, list_end: -1, location: -1 }))
}

/// The same type name, written with or without `pg_catalog.`.
fn same_type(a: &TypeName, b: &TypeName) -> bool {
    let names = |t: &TypeName| -> Vec<String> {
        let mut names: Vec<String> = t
            .names
            .iter()
            .filter_map(|n| match n.node.as_ref() {
                Some(NodeEnum::String(s)) => Some(s.sval.clone()),
                _ => None,
            })
            .collect();
        if names.len() == 2 && names[0] == "pg_catalog" {
            names.remove(0);
        }
        names
    };
    names(a) == names(b) && a.typmods.len() == b.typmods.len() && a.array_bounds.len() == b.array_bounds.len() && a.setof == b.setof
}
