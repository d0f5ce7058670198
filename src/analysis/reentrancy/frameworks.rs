//! Rails and Alembic migrations, read as text: a regex and indentation scan of the `up` (else
//! `change`) method or the `upgrade()` function, not a parse. Each statement at the body's own
//! indentation (with the lines indented under it, a heredoc or a triple-quoted string) must be
//! guarded by one of:
//!
//! - Rails: `return if <x>_exists?` (what follows it), an `unless <x>_exists?` block or
//!   modifier (also `if !<x>_exists?`, and `extension_enabled?`), `if_not_exists: true`,
//!   `if_exists: true`, or `execute` of SQL whose statements are guarded;
//! - Alembic: `if not <inspector>.has_table(...)` (any `has_*` / `get_*` inspector call, also
//!   `... not in inspector.get_table_names()`), `if <inspector check>: return` (what follows),
//!   `if_not_exists=True`, `if_exists=True`, or `op.execute` of SQL whose statements are
//!   guarded.
//!
//! Assignments, `pass`, docstrings, `say` and comments count neither way. A guard further away
//! (in a helper method) is not seen.

use std::sync::LazyLock;

use regex::Regex;

use super::{sql_text, Reentrancy, Tally};

/// `def up` / `def change`, with its indentation.
static RUBY_METHOD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^([ \t]*)def[ \t]+(up|change)\b").expect("valid regex"));
/// `return if <check>` without a negation: what follows runs only when the object is missing.
static RUBY_EARLY_RETURN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^return\s+if\s+(?:\w+\.)?(\w+_exists\?|extension_enabled\?)").expect("valid regex"));
/// `unless <check>` / `if !<check>` / `if not <check>`, as a block or a modifier.
static RUBY_UNLESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|\s)(?:unless\s+|if\s*!\s*|if\s+not\s+)(?:\w+\.)?(\w+_exists\?|extension_enabled\?)").expect("valid regex")
});
/// The opening of a heredoc (`<<~SQL`), with its terminator.
static HEREDOC: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"<<[~-]?['"]?([A-Z_][A-Z0-9_]*)['"]?"#).expect("valid regex"));

/// `def upgrade(`.
static PYTHON_FUNCTION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^def\s+upgrade\s*\(").expect("valid regex"));
/// An inspector call (`.has_table(`, `.get_table_names(`, `.get_indexes(`), or SQL that looks
/// an object up.
static PYTHON_LOOKUP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\.(has_\w+|get_(?:\w+_names|indexes|columns|\w*constraints?|foreign_keys|enums))\s*\(|\b(to_reg\w+|information_schema|pg_catalog)\b")
        .expect("valid regex")
});
/// An assignment (`bind = op.get_bind()`, `inspector: Inspector = ...`), not a comparison.
static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z_][\w.]*\s*(?::[^=]+)?=[^=]").expect("valid regex"));

/// One statement of a method body: its first line (1-based) and its text.
struct Chunk {
    line: usize,
    text: String,
}

impl Chunk {
    fn head(&self) -> &str {
        self.text.lines().next().unwrap_or_default().trim()
    }
}

/// A Rails migration's `up` (else `change`).
pub(super) fn rails(source: &str) -> Reentrancy {
    let lines: Vec<&str> = source.lines().collect();
    let method =
        |name: &str| lines.iter().enumerate().find_map(|(i, l)| RUBY_METHOD.captures(l).filter(|c| &c[2] == name).map(|c| (i, c[1].len())));
    let Some((start, indent)) = method("up").or_else(|| method("change")) else { return Reentrancy::Inert };
    let end =
        (start + 1..lines.len()).find(|&i| indentation(lines[i]) == indent && is_word_end(lines[i].trim(), "end")).unwrap_or(lines.len());
    let chunks = chunks(&lines, start + 1, end, ruby_continues, Some(&HEREDOC));
    let mut tally = Tally::default();
    let mut returned: Option<String> = None;
    for chunk in chunks {
        let head = chunk.head();
        if ASSIGNMENT.is_match(head) || head.starts_with("say ") || head.starts_with("say(") || head.starts_with("puts ") {
            continue;
        }
        if let Some(check) = RUBY_EARLY_RETURN.captures(head) {
            returned.get_or_insert(format!("return if {}", &check[1]));
            continue;
        }
        if head.starts_with("return ") || head == "return" {
            continue;
        }
        if let Some(reason) = &returned {
            tally.guarded(reason);
        } else if let Some(check) = RUBY_UNLESS.captures(head) {
            tally.guarded(&format!("unless {}", &check[1]));
        } else if chunk.text.contains("if_not_exists: true") {
            tally.guarded("if_not_exists: true");
        } else if chunk.text.contains("if_exists: true") {
            tally.guarded("if_exists: true");
        } else if head.starts_with("execute") || head.starts_with("connection.execute") {
            executed_sql(&chunk, &mut tally);
        } else {
            tally.unguarded(chunk.line, head);
        }
    }
    tally.verdict()
}

/// An Alembic revision's `upgrade()`.
pub(super) fn alembic(source: &str) -> Reentrancy {
    let lines: Vec<&str> = source.lines().collect();
    let Some(start) = lines.iter().position(|l| PYTHON_FUNCTION.is_match(l)) else { return Reentrancy::Inert };
    let end = (start + 1..lines.len())
        .find(|&i| {
            let line = lines[i];
            !line.trim().is_empty() && indentation(line) == 0 && !line.starts_with('#') && !line.starts_with(')')
        })
        .unwrap_or(lines.len());
    // The signature may run over several lines: the body starts after the line ending in `:`.
    let body = (start..end).find(|&i| lines[i].trim_end().ends_with(':')).map_or(end, |i| i + 1);
    let mut tally = Tally::default();
    let mut returned: Option<String> = None;
    for chunk in chunks(&lines, body, end, python_continues, None) {
        let head = chunk.head();
        let docstring = ["\"\"\"", "'''", "r\"\"\"", "r'''"].iter().any(|q| head.starts_with(q));
        if docstring || head == "pass" || ASSIGNMENT.is_match(head) {
            continue;
        }
        if let Some(condition) = head.strip_prefix("if ").and_then(|h| h.strip_suffix(':')) {
            let Some(check) = PYTHON_LOOKUP.captures(condition) else {
                tally.unguarded(chunk.line, head);
                continue;
            };
            let check = check.get(1).or(check.get(2)).map_or("", |m| m.as_str()).to_string();
            // `not x.has_table(...)`, `"t" not in x.get_table_names()`.
            let negated = condition.split(|c: char| !c.is_alphanumeric() && c != '_').any(|word| word == "not");
            let body: Vec<&str> = chunk.text.lines().skip(1).map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
            if !negated && !body.is_empty() && body.iter().all(|l| *l == "return" || *l == "return None") {
                returned.get_or_insert(format!("return if {check}"));
            } else if negated {
                tally.guarded(&format!("if not {check}"));
            } else {
                tally.unguarded(chunk.line, head);
            }
            continue;
        }
        if head == "return" || head == "return None" {
            continue;
        }
        if let Some(reason) = &returned {
            tally.guarded(reason);
        } else if chunk.text.contains("if_not_exists=True") {
            tally.guarded("if_not_exists=True");
        } else if chunk.text.contains("if_exists=True") {
            tally.guarded("if_exists=True");
        } else if head.starts_with("op.execute") || head.contains(".execute(") {
            executed_sql(&chunk, &mut tally);
        } else {
            tally.unguarded(chunk.line, head);
        }
    }
    tally.verdict()
}

/// `execute` of SQL: guarded when the SQL's statements are (its first string literal is read;
/// one that is built at run time does not parse, and counts as unguarded).
fn executed_sql(chunk: &Chunk, tally: &mut Tally) {
    let mut own = Tally::default();
    match string_literal(&chunk.text) {
        Some(sql) => sql_text(&sql, chunk.line, &mut own),
        None => own.unguarded(chunk.line, chunk.head()),
    }
    match own.first_unguarded {
        Some(_) => tally.unguarded(chunk.line, chunk.head()),
        // SQL that changes nothing (`SET ...`) adds no reason and counts neither way.
        None => own.reasons.iter().for_each(|r| tally.guarded(r)),
    }
}

/// The first string literal in `text`: a heredoc's body, a triple-quoted string, or a quoted one.
fn string_literal(text: &str) -> Option<String> {
    if let Some(heredoc) = HEREDOC.captures(text) {
        let terminator = heredoc.get(1)?.as_str();
        let after = &text[heredoc.get(0)?.end()..];
        let body: Vec<&str> = after.lines().skip(1).take_while(|l| l.trim() != terminator).collect();
        return Some(body.join("\n"));
    }
    let start = text.find(['"', '\''])?;
    let quote = &text[start..];
    for triple in ["\"\"\"", "'''"] {
        if let Some(rest) = quote.strip_prefix(triple) {
            return rest.find(triple).map(|end| rest[..end].to_string());
        }
    }
    let delimiter = quote.chars().next()?;
    let mut out = String::new();
    let mut chars = quote[1..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            c if c == delimiter => return Some(out),
            c => out.push(c),
        }
    }
    None
}

/// Whether `word` is all of `line`, or followed by a non-word character.
fn is_word_end(line: &str, word: &str) -> bool {
    line.strip_prefix(word).is_some_and(|rest| !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Whether a line at the body's own indentation belongs to the statement before it (Ruby: the
/// `end` of its block, `else`, `rescue`, a closing bracket).
fn ruby_continues(line: &str) -> bool {
    let line = line.trim();
    ["end", "else", "elsif", "rescue", "ensure"].iter().any(|w| is_word_end(line, w)) || line.starts_with([')', ']', '}'])
}

/// Python: `else:`, `elif`, `except`, `finally`, a closing bracket.
fn python_continues(line: &str) -> bool {
    let line = line.trim();
    ["else", "elif", "except", "finally"].iter().any(|w| is_word_end(line, w)) || line.starts_with([')', ']', '}'])
}

/// The statements of the body `lines[start..end]`: a line at the body's indentation starts one;
/// deeper lines, `continues` lines, a heredoc's lines (with `heredoc`) and the lines of a
/// triple-quoted string belong to the statement they follow. Blank lines and comments outside
/// strings are left out.
fn chunks(lines: &[&str], start: usize, end: usize, continues: fn(&str) -> bool, heredoc: Option<&Regex>) -> Vec<Chunk> {
    let is_code = |line: &str| !line.trim().is_empty() && !line.trim_start().starts_with('#');
    let Some(base) = lines[start..end].iter().find(|l| is_code(l)).map(|l| indentation(l)) else { return Vec::new() };
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut heredoc_end: Option<String> = None;
    let mut in_triple_quotes = false;
    for (i, line) in lines.iter().enumerate().take(end).skip(start) {
        let append = |chunks: &mut Vec<Chunk>| {
            if let Some(chunk) = chunks.last_mut() {
                chunk.text.push('\n');
                chunk.text.push_str(line);
            }
        };
        if let Some(terminator) = &heredoc_end {
            if line.trim() == terminator {
                heredoc_end = None;
            }
            append(&mut chunks);
            continue;
        }
        let triple_quotes = line.matches("\"\"\"").count() + line.matches("'''").count();
        if in_triple_quotes {
            in_triple_quotes = triple_quotes % 2 == 0;
            append(&mut chunks);
            continue;
        }
        if !is_code(line) {
            continue;
        }
        if indentation(line) <= base && !continues(line) {
            chunks.push(Chunk { line: i + 1, text: line.to_string() });
        } else {
            append(&mut chunks);
        }
        heredoc_end = heredoc.and_then(|h| h.captures(line)).map(|found| found[1].to_string());
        in_triple_quotes = triple_quotes % 2 == 1;
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::super::tests::render_each;
    use super::*;

    #[test]
    fn rails_examples() {
        let examples = [
            "class CreateA < ActiveRecord::Migration[7.1]\n  def up\n    return if table_exists?(:a)\n\n    create_table :a do |t|\n      t.string :name\n    end\n    add_index :a, :name\n  end\n\n  def down\n    drop_table :a\n  end\nend\n",
            "class CreateA < ActiveRecord::Migration[7.1]\n  def change\n    create_table :a, if_not_exists: true do |t|\n      t.string :name\n    end\n    add_index :a, :name, if_not_exists: true\n    remove_column :a, :old, if_exists: true\n  end\nend\n",
            "class AddB < ActiveRecord::Migration[7.1]\n  def change\n    add_column :a, :b, :integer unless column_exists?(:a, :b)\n    unless index_exists?(:a, :b)\n      add_index :a, :b\n    end\n    enable_extension \"pgcrypto\" unless extension_enabled?(\"pgcrypto\")\n  end\nend\n",
            "class Raw < ActiveRecord::Migration[7.1]\n  def up\n    execute <<~SQL\n      CREATE TABLE IF NOT EXISTS a (id bigint);\n      CREATE INDEX IF NOT EXISTS a_id ON a (id);\n    SQL\n    execute \"COMMENT ON TABLE a IS 'raw'\"\n  end\nend\n",
            "class CreateA < ActiveRecord::Migration[7.1]\n  def change\n    create_table :a do |t|\n      t.string :name\n    end\n  end\nend\n",
            "class CreateA < ActiveRecord::Migration[7.1]\n  def change\n    create_table :a, if_not_exists: true\n    # the index has no guard\n    add_index :a, :b\n  end\nend\n",
            // Returning when the table is missing guards nothing.
            "class AddC < ActiveRecord::Migration[7.1]\n  def up\n    return unless table_exists?(:legacy)\n    add_column :legacy, :c, :integer\n  end\nend\n",
            // The guard in down is not up's.
            "class CreateA < ActiveRecord::Migration[7.1]\n  def down\n    return if table_exists?(:a)\n  end\n\n  def up\n    create_table :a\n  end\nend\n",
            "class Empty < ActiveRecord::Migration[7.1]\nend\n",
        ];
        insta::assert_snapshot!(render_each(&examples, rails));
    }

    #[test]
    fn alembic_examples() {
        let examples = [
            "def upgrade():\n    op.execute(\n        \"\"\"\n        CREATE TABLE IF NOT EXISTS a (\n            id bigint\n        )\n        \"\"\"\n    )\n    op.execute(\"CREATE INDEX IF NOT EXISTS a_id ON a (id)\")\n\n\ndef downgrade():\n    op.drop_table(\"a\")\n",
            "def upgrade() -> None:\n    \"\"\"Create a when it is missing.\n\n    It may have been made by hand.\n    \"\"\"\n    bind = op.get_bind()\n    inspector = sa.inspect(bind)\n    if not inspector.has_table(\"a\"):\n        op.create_table(\"a\", sa.Column(\"id\", sa.Integer))\n    if \"b\" not in inspector.get_table_names():\n        op.create_table(\"b\")\n",
            "def upgrade():\n    op.create_table(\n        \"a\",\n        sa.Column(\"id\", sa.Integer),\n        if_not_exists=True,\n    )\n    op.drop_index(\"old\", if_exists=True)\n",
            "def upgrade():\n    if sa.inspect(op.get_bind()).has_table(\"a\"):\n        return\n    op.create_table(\"a\")\n    op.create_index(\"a_id\", \"a\", [\"id\"])\n",
            "def upgrade():\n    op.add_column(\"a\", sa.Column(\"b\", sa.Integer))\n",
            "def upgrade():\n    op.execute(\"CREATE TABLE IF NOT EXISTS a ()\")\n    op.execute(f\"CREATE TABLE {name} ()\")\n",
            "def upgrade():\n    pass\n",
        ];
        insta::assert_snapshot!(render_each(&examples, alembic));
    }

    #[test]
    fn string_literals_are_read_from_heredocs_and_quotes() {
        assert_eq!(
            string_literal("execute <<~SQL\n  CREATE TABLE IF NOT EXISTS a ();\nSQL\n").as_deref(),
            Some("  CREATE TABLE IF NOT EXISTS a ();")
        );
        assert_eq!(string_literal("op.execute(\"\"\"\nDROP TABLE IF EXISTS a\n\"\"\")").as_deref(), Some("\nDROP TABLE IF EXISTS a\n"));
        assert_eq!(
            string_literal(r#"execute "COMMENT ON TABLE a IS 'it''s \"x\"'""#).as_deref(),
            Some(r#"COMMENT ON TABLE a IS 'it''s "x"'"#)
        );
        assert_eq!(string_literal("op.execute(sql)"), None);
    }
}
