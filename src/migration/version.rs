//! Sort keys for migration versions: numeric where numeric, so `2` sorts before `10`.

/// One component of a version: a run of digits (compared by value, any length) or other text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Part {
    /// Digits without leading zeros; `len` first so a longer number is a larger one.
    Num {
        len: usize,
        digits: String,
    },
    Text(String),
}

impl Part {
    /// A number part from ASCII digits (leading zeros do not count: `007` equals `7`).
    pub(crate) fn number(digits: &str) -> Part {
        let digits = digits.trim_start_matches('0').to_string();
        Part::Num { len: digits.len(), digits }
    }
}

/// Where a migration sorts in its set. Versioned migrations come first, by version; Flyway
/// repeatable ones after them, by description. Two migrations with equal keys are duplicates.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SortKey {
    Versioned(Vec<Part>),
    Repeatable(String),
}

/// A single integer version (`0042` equals `42`).
pub(crate) fn integer_key(digits: &str) -> SortKey {
    SortKey::Versioned(vec![Part::number(digits)])
}

/// Natural order of a text: digit runs compare by value, the rest as text (`a2` < `a10`).
pub(crate) fn natural_parts(text: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(first) = rest.chars().next() {
        let is_digit = first.is_ascii_digit();
        let end = rest.find(|c: char| c.is_ascii_digit() != is_digit).unwrap_or(rest.len());
        let (run, tail) = rest.split_at(end);
        parts.push(if is_digit { Part::number(run) } else { Part::Text(run.to_string()) });
        rest = tail;
    }
    parts
}

/// A dotted version (`1.2.10`), compared component-wise; trailing zero components do not count,
/// as in Flyway, where `1` and `1.0` are the same version.
pub(crate) fn dotted_key(version: &str) -> SortKey {
    let mut parts: Vec<Part> = version.split('.').map(Part::number).collect();
    while parts.len() > 1 && parts.last() == Some(&Part::number("0")) {
        parts.pop();
    }
    SortKey::Versioned(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_compare_by_value() {
        assert!(integer_key("2") < integer_key("10"));
        assert_eq!(integer_key("007"), integer_key("7"));
        assert!(integer_key("99999999999999999999999") > integer_key("9"));
    }

    #[test]
    fn dotted_versions_compare_component_wise() {
        assert!(dotted_key("1.2") < dotted_key("1.10"));
        assert!(dotted_key("1.9.9") < dotted_key("2"));
        assert_eq!(dotted_key("1.0"), dotted_key("1"));
        assert!(dotted_key("1") < dotted_key("1.1"));
    }

    #[test]
    fn natural_order_mixes_digits_and_text() {
        assert!(natural_parts("a2") < natural_parts("a10"));
        assert!(natural_parts("2_b") < natural_parts("10_a"));
        assert_eq!(natural_parts("x1y"), vec![Part::Text("x".into()), Part::number("1"), Part::Text("y".into())]);
    }

    #[test]
    fn repeatable_sorts_after_versioned() {
        assert!(integer_key("999999") < SortKey::Repeatable("a".into()));
        assert!(SortKey::Repeatable("a".into()) < SortKey::Repeatable("b".into()));
    }
}
