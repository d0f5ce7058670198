//! Canonical SQL text via pg_query parse + deparse (never `normalize`, which would turn
//! literals into `$1` and hide a changed DEFAULT). Memoized: the same text from the same
//! server recurs in every case.

use std::collections::HashMap;

/// What a piece of SQL text is, which decides how it is wrapped to make it parseable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Shape {
    Expression,
    Statement,
    TableConstraint,
}

/// Turns SQL text from the catalog (defaults, CHECK bodies, view and function definitions) into
/// one spelling, so that two servers' or two orders' spellings of the same thing compare equal.
#[derive(Debug, Default)]
pub struct Canonicalizer {
    memo: HashMap<(Shape, String), String>,
}

const EXPRESSION_PREFIX: &str = "SELECT ";
const CONSTRAINT_PREFIX: &str = "ALTER TABLE t ADD CONSTRAINT c ";

impl Canonicalizer {
    /// An empty canonicalizer (its memo fills as it is used).
    pub fn new() -> Canonicalizer {
        Canonicalizer::default()
    }

    /// A scalar expression (a default, a CHECK body, a policy's USING): `'x'::character varying`
    /// and `'x'::varchar` both become `'x'::varchar`.
    pub(crate) fn expression(&mut self, text: &str) -> String {
        self.canonical(Shape::Expression, text)
    }

    /// A whole statement (`CREATE INDEX ...`, a view's `SELECT ...`, `CREATE FUNCTION ...`).
    pub(crate) fn statement(&mut self, text: &str) -> String {
        self.canonical(Shape::Statement, text)
    }

    /// A table constraint definition as `pg_get_constraintdef` prints it (`CHECK ((a > 0))`).
    pub(crate) fn constraint(&mut self, text: &str) -> String {
        self.canonical(Shape::TableConstraint, text)
    }

    #[cfg(test)]
    pub(crate) fn memoized(&self) -> usize {
        self.memo.len()
    }

    fn canonical(&mut self, shape: Shape, text: &str) -> String {
        let key = (shape, text.to_string());
        if let Some(hit) = self.memo.get(&key) {
            return hit.clone();
        }
        let canonical = deparse(shape, text).unwrap_or_else(|| collapse_whitespace(text));
        self.memo.insert(key, canonical.clone());
        canonical
    }
}

/// Parses and deparses `text` in the wrapper its shape needs, with the spellings Postgres
/// stores differently when it reads them back made one (see [`super::array_casts`]); `None`
/// when pg_query cannot round-trip it (then the server's own text, whitespace-collapsed, is
/// kept).
fn deparse(shape: Shape, text: &str) -> Option<String> {
    let text = text.trim().trim_end_matches(';');
    let (prefix, wrapped) = match shape {
        Shape::Expression => (EXPRESSION_PREFIX, format!("{EXPRESSION_PREFIX}{text}")),
        Shape::Statement => ("", text.to_string()),
        Shape::TableConstraint => (CONSTRAINT_PREFIX, format!("{CONSTRAINT_PREFIX}{text}")),
    };
    let mut tree = pg_query::parse(&wrapped, 0).ok()?.protobuf;
    super::array_casts::push_array_casts_into_elements(&mut tree);
    let deparsed = pg_query::deparse(&tree, Default::default()).ok()?;
    deparsed.strip_prefix(prefix).map(str::to_string)
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_expression_agree() {
        let mut c = Canonicalizer::new();
        assert_eq!(c.expression("'x'::character varying"), c.expression("'x'::varchar"));
        assert_eq!(c.expression("(a   >  0)"), c.expression("a > 0"));
    }

    #[test]
    fn literals_are_kept() {
        let mut c = Canonicalizer::new();
        assert_ne!(c.expression("'active'::text"), c.expression("'inactive'::text"));
        assert_ne!(c.expression("42"), c.expression("43"));
    }

    #[test]
    fn constraints_and_statements() {
        let mut c = Canonicalizer::new();
        assert_eq!(c.constraint("CHECK ((amount > (0)::numeric))"), c.constraint("CHECK (amount > 0::numeric)"));
        assert_eq!(c.statement("CREATE INDEX i ON public.t USING btree (a)"), c.statement("create index i on public.t using btree (a);"));
        assert_eq!(c.memoized(), 4, "one entry per distinct input text");
    }

    /// What Postgres prints for `col IN ('a', 'b')` on a varchar column, and what it stores
    /// and prints after reading that text back from a pg_dump, are one canonical text, in a
    /// constraint, an expression and a statement alike.
    #[test]
    fn a_cast_of_an_array_is_a_cast_of_its_elements() {
        let mut c = Canonicalizer::new();
        let created = "CHECK (((status)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[])))";
        let reloaded = "CHECK (((status)::text = ANY (ARRAY[('a'::character varying)::text, ('b'::character varying)::text])))";
        assert_eq!(c.constraint(created), c.constraint(reloaded));
        assert_eq!(c.constraint(created), "CHECK (status::text = ANY(ARRAY['a'::varchar::text, 'b'::varchar::text]))");
        let created = "((status)::text <> ALL ((ARRAY['x'::character varying])::text[]))";
        let reloaded = "((status)::text <> ALL (ARRAY[('x'::character varying)::text]))";
        assert_eq!(c.expression(created), c.expression(reloaded));
        let created = "CREATE INDEX i ON public.t USING btree (id) WHERE ((status)::text = ANY ((ARRAY['a'::character varying])::text[]))";
        let reloaded = "CREATE INDEX i ON public.t USING btree (id) WHERE ((status)::text = ANY (ARRAY[('a'::character varying)::text]))";
        assert_eq!(c.statement(created), c.statement(reloaded));
        // Untyped elements take the type; an element already of that type gets no second cast.
        assert_eq!(c.expression("ARRAY['a', 'b'::text]::text[]"), c.expression("ARRAY['a'::text, 'b'::text]"));
    }

    /// Only the spelling changes: other values, other types, and the casts whose meaning
    /// depends on the whole array (empty, a type modifier) stay apart.
    #[test]
    fn a_cast_of_an_array_keeps_what_differs() {
        let mut c = Canonicalizer::new();
        assert_ne!(c.expression("ARRAY['a'::varchar]::text[]"), c.expression("ARRAY['b'::varchar::text]"));
        assert_ne!(c.expression("ARRAY[1]::bigint[]"), c.expression("ARRAY[1::integer]"));
        assert_eq!(c.expression("ARRAY[]::text[]"), "ARRAY[]::text[]");
        assert_eq!(c.expression("ARRAY['ab']::varchar(1)[]"), "ARRAY['ab']::varchar(1)[]");
        assert_eq!(c.expression("ARRAY[ARRAY[1]]::bigint[]"), "ARRAY[ARRAY[1]]::bigint[]");
    }

    #[test]
    fn unparseable_text_is_kept() {
        let mut c = Canonicalizer::new();
        assert_eq!(c.expression("not  valid (("), "not valid ((");
    }
}
