//! Comparing two catalogs: pure, two models in, object-level differences out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, Object, ObjectKind};

/// Whether a difference fails a property or is only reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The difference fails the property.
    Error,
    /// The difference is reported but does not fail (a column order, unless strict).
    Warning,
}

/// What differs about one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// Expected (in the reference), not found.
    Missing,
    /// Found, not expected.
    Unexpected,
    /// One attribute differs; `None` means the attribute is absent on that side.
    Attribute {
        /// The attribute's name (`type`, `default`, `column_order`, ...).
        attribute: String,
        /// Its value on the expected side.
        expected: Option<String>,
        /// Its value as found.
        found: Option<String>,
    },
}

/// One object that differs between the expected and the found catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// The object's kind.
    pub kind: ObjectKind,
    /// The object's schema-qualified name.
    pub object: String,
    /// What differs.
    #[serde(flatten)]
    pub change: Change,
    /// Whether it fails the property.
    pub severity: Severity,
    /// Objects that belong to a missing or unexpected table and are not listed on their own.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dependents: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: ", self.kind, self.object)?;
        match &self.change {
            Change::Missing => write!(f, "expected, not found")?,
            Change::Unexpected => write!(f, "not expected, found")?,
            Change::Attribute { attribute, expected, found } => {
                let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".to_string());
                write!(f, "{attribute} {} expected, {} found", show(expected), show(found))?
            }
        }
        if self.dependents > 0 {
            let objects = if self.dependents == 1 { "object" } else { "objects" };
            write!(f, " (with {} dependent {objects})", self.dependents)?;
        }
        if self.severity == Severity::Warning {
            write!(f, " [warning]")?;
        }
        Ok(())
    }
}

/// How two catalogs are compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompareOptions {
    /// A column-order difference fails (otherwise it is a warning).
    pub strict_column_order: bool,
}

/// The table attribute that carries column order, compared on its own terms.
const COLUMN_ORDER: &str = "column_order";

/// Every difference between `expected` and `found`, sorted by object.
pub fn compare(expected: &Catalog, found: &Catalog, options: &CompareOptions) -> Vec<Difference> {
    let expected_objects = index(expected);
    let found_objects = index(found);
    let missing_tables = absent_tables(&expected_objects, &found_objects);
    let unexpected_tables = absent_tables(&found_objects, &expected_objects);

    let mut differences = Vec::new();
    let mut dependents: BTreeMap<(ObjectKind, &str), usize> = BTreeMap::new();
    let keys: BTreeSet<_> = expected_objects.keys().chain(found_objects.keys()).copied().collect();
    for key in keys {
        match (expected_objects.get(&key), found_objects.get(&key)) {
            (Some(e), None) => match e.table.as_deref().filter(|t| missing_tables.contains(t)) {
                Some(table) => *dependents.entry((ObjectKind::Table, table)).or_default() += 1,
                None => differences.push(whole(e, Change::Missing)),
            },
            (None, Some(f)) => match f.table.as_deref().filter(|t| unexpected_tables.contains(t)) {
                Some(table) => *dependents.entry((ObjectKind::Table, table)).or_default() += 1,
                None => differences.push(whole(f, Change::Unexpected)),
            },
            (Some(e), Some(f)) => differences.extend(attribute_differences(e, f, options)),
            (None, None) => unreachable!("key comes from one of the two maps"),
        }
    }
    for difference in &mut differences {
        if matches!(difference.change, Change::Missing | Change::Unexpected) {
            difference.dependents = dependents.get(&(difference.kind, difference.object.as_str())).copied().unwrap_or(0);
        }
    }
    differences
}

/// True when any difference fails the comparison.
pub fn has_errors(differences: &[Difference]) -> bool {
    differences.iter().any(|d| d.severity == Severity::Error)
}

fn index(catalog: &Catalog) -> BTreeMap<(ObjectKind, &str), &Object> {
    catalog.objects.iter().map(|o| ((o.kind, o.name.as_str()), o)).collect()
}

/// Tables (and views) present in `from` and absent in `other`.
fn absent_tables<'a>(
    from: &BTreeMap<(ObjectKind, &'a str), &'a Object>,
    other: &BTreeMap<(ObjectKind, &str), &Object>,
) -> BTreeSet<&'a str> {
    from.keys()
        .filter(|(kind, _)| matches!(kind, ObjectKind::Table | ObjectKind::View | ObjectKind::MaterializedView))
        .filter(|key| !other.contains_key(key))
        .map(|(_, name)| *name)
        .collect()
}

fn whole(object: &Object, change: Change) -> Difference {
    Difference { kind: object.kind, object: object.name.clone(), change, severity: Severity::Error, dependents: 0 }
}

fn attribute_differences(expected: &Object, found: &Object, options: &CompareOptions) -> Vec<Difference> {
    let names: BTreeSet<&String> = expected.attributes.keys().chain(found.attributes.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let e = expected.attributes.get(name);
            let f = found.attributes.get(name);
            if e == f {
                return None;
            }
            let severity = if name == COLUMN_ORDER { column_order_severity(e, f, options)? } else { Severity::Error };
            Some(Difference {
                kind: expected.kind,
                object: expected.name.clone(),
                change: Change::Attribute { attribute: name.clone(), expected: e.cloned(), found: f.cloned() },
                severity,
                dependents: 0,
            })
        })
        .collect()
}

/// Same columns in another order: a warning unless strict. Different columns: nothing here,
/// since the missing or unexpected column is reported on its own.
fn column_order_severity(expected: Option<&String>, found: Option<&String>, options: &CompareOptions) -> Option<Severity> {
    let set = |v: Option<&String>| -> BTreeSet<String> { v.map(|s| s.split(", ").map(str::to_string).collect()).unwrap_or_default() };
    if set(expected) != set(found) {
        return None;
    }
    Some(if options.strict_column_order { Severity::Error } else { Severity::Warning })
}

/// The canonical text of the objects the differences name, from each side: the input for a
/// line diff of just what differs.
pub(crate) fn involved_text(expected: &Catalog, found: &Catalog, differences: &[Difference]) -> (String, String) {
    let keys: BTreeSet<(ObjectKind, &str)> = differences.iter().map(|d| (d.kind, d.object.as_str())).collect();
    let render =
        |catalog: &Catalog| -> String { keys.iter().filter_map(|(kind, name)| catalog.get(*kind, name)).map(Object::render).collect() };
    (render(expected), render(found))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, ty: &str) -> Object {
        let table = name.rsplit_once('.').unwrap().0.to_string();
        Object::new(ObjectKind::Column, name).of_table(table).attr("type", Some(ty.into()))
    }

    fn table(name: &str, columns: &str) -> Object {
        Object::new(ObjectKind::Table, name).attr("column_order", Some(columns.into()))
    }

    fn catalog(objects: Vec<Object>) -> Catalog {
        Catalog::from_objects(None, objects)
    }

    #[test]
    fn equal_catalogs_have_no_differences() {
        let a = catalog(vec![table("public.t", "a, b"), column("public.t.a", "integer")]);
        assert!(compare(&a, &a.clone(), &CompareOptions::default()).is_empty());
    }

    #[test]
    fn attribute_difference_reads_expected_then_found() {
        let expected = catalog(vec![column("public.invoices.amount", "numeric(12,2)")]);
        let found = catalog(vec![column("public.invoices.amount", "numeric")]);
        let diffs = compare(&expected, &found, &CompareOptions::default());
        assert_eq!(diffs.len(), 1);
        assert_eq!(diffs[0].to_string(), "column public.invoices.amount: type numeric(12,2) expected, numeric found");
        assert!(has_errors(&diffs));
    }

    #[test]
    fn missing_and_unexpected_objects() {
        let expected = catalog(vec![Object::new(ObjectKind::Index, "public.i1")]);
        let found = catalog(vec![Object::new(ObjectKind::Index, "public.i2")]);
        let diffs: Vec<String> = compare(&expected, &found, &CompareOptions::default()).iter().map(|d| d.to_string()).collect();
        assert_eq!(diffs, vec!["index public.i1: expected, not found", "index public.i2: not expected, found"]);
    }

    #[test]
    fn a_missing_table_carries_its_columns() {
        let expected = catalog(vec![table("public.t", "a, b"), column("public.t.a", "int"), column("public.t.b", "int")]);
        let diffs = compare(&expected, &catalog(vec![]), &CompareOptions::default());
        assert_eq!(diffs.len(), 1);
        assert_eq!(diffs[0].dependents, 2);
        assert_eq!(diffs[0].to_string(), "table public.t: expected, not found (with 2 dependent objects)");
    }

    #[test]
    fn column_order_is_a_warning_unless_strict() {
        let cols = vec![column("public.t.a", "int"), column("public.t.b", "int")];
        let expected = catalog([vec![table("public.t", "a, b")], cols.clone()].concat());
        let found = catalog([vec![table("public.t", "b, a")], cols].concat());
        let lenient = compare(&expected, &found, &CompareOptions::default());
        assert_eq!(lenient.len(), 1);
        assert!(!has_errors(&lenient));
        let strict = compare(&expected, &found, &CompareOptions { strict_column_order: true });
        assert!(has_errors(&strict));
    }

    #[test]
    fn a_missing_column_is_not_also_an_order_difference() {
        let expected = catalog(vec![table("public.t", "a, b"), column("public.t.a", "int"), column("public.t.b", "int")]);
        let found = catalog(vec![table("public.t", "a"), column("public.t.a", "int")]);
        let diffs: Vec<String> = compare(&expected, &found, &CompareOptions::default()).iter().map(|d| d.to_string()).collect();
        assert_eq!(diffs, vec!["column public.t.b: expected, not found"]);
    }

    #[test]
    fn involved_text_renders_only_differing_objects() {
        let expected = catalog(vec![column("public.t.a", "int"), column("public.t.b", "int")]);
        let found = catalog(vec![column("public.t.a", "int"), column("public.t.b", "text")]);
        let diffs = compare(&expected, &found, &CompareOptions::default());
        let (e, f) = involved_text(&expected, &found, &diffs);
        assert_eq!(e, "column public.t.b\n  type: int\n");
        assert_eq!(f, "column public.t.b\n  type: text\n");
    }
}
