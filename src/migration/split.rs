//! Statement splitting with byte offsets and error positions.
//!
//! `pg_query::split_with_parser` drops the parser's cursor position, which we need to report
//! `file:line:col`; so this calls the same C entry point directly (the static library is linked
//! by the `pg_query` crate) and keeps `cursorpos`.

use std::ffi::{c_char, c_int, CStr, CString};

/// Mirrors `PgQuerySplitStmt` in libpg_query's `pg_query.h`.
#[repr(C)]
struct RawSplitStmt {
    stmt_location: c_int,
    stmt_len: c_int,
}

/// Mirrors `PgQueryError`.
#[repr(C)]
struct RawError {
    message: *mut c_char,
    funcname: *mut c_char,
    filename: *mut c_char,
    lineno: c_int,
    cursorpos: c_int,
    context: *mut c_char,
}

/// Mirrors `PgQuerySplitResult`.
#[repr(C)]
struct RawSplitResult {
    stmts: *mut *mut RawSplitStmt,
    n_stmts: c_int,
    stderr_buffer: *mut c_char,
    error: *mut RawError,
}

extern "C" {
    fn pg_query_split_with_parser(input: *const c_char) -> RawSplitResult;
    fn pg_query_free_split_result(result: RawSplitResult);
}

/// One statement of a SQL text: its byte range in the text it was split from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// A syntax error: the parser's message and the byte offset it points at, when it gives one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) message: String,
    pub(crate) offset: Option<usize>,
}

/// Splits `sql` into statements with the Postgres grammar (handles `$$` bodies, `DO` blocks,
/// comments). Empty statements are dropped; comments before a statement are not part of its span.
pub(crate) fn split_statements(sql: &str) -> Result<Vec<Span>, SyntaxError> {
    let input =
        CString::new(sql).map_err(|e| SyntaxError { message: "the text contains a NUL byte".into(), offset: Some(e.nul_position()) })?;
    // SAFETY: the input is a valid NUL-terminated string; the result is freed exactly once below
    // and only read before that.
    let result = unsafe { pg_query_split_with_parser(input.as_ptr()) };
    let outcome = unsafe {
        if !result.error.is_null() {
            let error = &*result.error;
            let message = CStr::from_ptr(error.message).to_string_lossy().into_owned();
            // cursorpos is a 1-based character position, 0 when unknown.
            let offset = usize::try_from(error.cursorpos).ok().filter(|&p| p > 0).map(|p| char_position_to_byte_offset(sql, p - 1));
            Err(SyntaxError { message, offset })
        } else {
            let mut spans = Vec::with_capacity(result.n_stmts.max(0) as usize);
            for i in 0..result.n_stmts.max(0) as usize {
                let stmt = &**result.stmts.add(i);
                let start = stmt.stmt_location.max(0) as usize;
                let end = (start + stmt.stmt_len.max(0) as usize).min(sql.len());
                spans.push(trim_span(sql, Span { start, end }));
            }
            Ok(spans)
        }
    };
    unsafe { pg_query_free_split_result(result) };
    outcome.map(|spans| spans.into_iter().filter(|s| s.start < s.end).collect())
}

/// libpg_query's spans start right after the previous `;`, so they include the whitespace and
/// comments between statements, and a zero length means "to the end". Narrow each span to the
/// statement itself so line numbers point at its first keyword.
fn trim_span(sql: &str, span: Span) -> Span {
    let end = if span.end <= span.start { sql.len() } else { span.end };
    let text = &sql[span.start..end];
    let lead = leading_trivia_len(text);
    let trimmed = text[lead..].trim_end();
    Span { start: span.start + lead, end: span.start + lead + trimmed.len() }
}

/// Length of whitespace and comments at the start of `text`.
fn leading_trivia_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut i = 0;
    loop {
        while i < bytes.len() && (bytes[i] as char).is_ascii_whitespace() {
            i += 1;
        }
        if text[i..].starts_with("--") {
            i = text[i..].find('\n').map_or(text.len(), |n| i + n + 1);
        } else if text[i..].starts_with("/*") {
            // Nested block comments, as Postgres allows them.
            let mut depth = 0usize;
            let mut j = i;
            while j < bytes.len() {
                if text[j..].starts_with("/*") {
                    depth += 1;
                    j += 2;
                } else if text[j..].starts_with("*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            i = j.min(text.len());
        } else {
            return i;
        }
    }
}

/// Converts a 0-based character index into a byte offset of `text` (clamped to its length).
pub(crate) fn char_position_to_byte_offset(text: &str, chars: usize) -> usize {
    text.char_indices().nth(chars).map_or(text.len(), |(byte, _)| byte)
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}

/// Line and column of increasing byte offsets in one pass over the text: a script's statements
/// are located in order, and [`line_col`] from the start of the file for each would be quadratic
/// (a 100,000-statement seed file took minutes).
pub(crate) struct LineCursor<'t> {
    text: &'t str,
    /// The byte offset located last, its 1-based line, and its 1-based column in characters.
    offset: usize,
    line: usize,
    column: usize,
}

impl<'t> LineCursor<'t> {
    pub(crate) fn new(text: &'t str) -> LineCursor<'t> {
        LineCursor { text, offset: 0, line: 1, column: 1 }
    }

    /// The line and column of `offset` (clamped to the text); an offset before the last one is
    /// located from the start of the text.
    pub(crate) fn locate(&mut self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        if offset < self.offset || !self.text.is_char_boundary(offset) {
            return line_col(self.text, offset);
        }
        let skipped = &self.text[self.offset..offset];
        match skipped.rfind('\n') {
            Some(last) => {
                self.line += skipped.bytes().filter(|&b| b == b'\n').count();
                self.column = skipped[last + 1..].chars().count() + 1;
            }
            None => self.column += skipped.chars().count(),
        }
        self.offset = offset;
        (self.line, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cursor agrees with `line_col` at every character boundary, walked in order, and
    /// falls back to it for an offset behind it.
    #[test]
    fn the_line_cursor_agrees_with_line_col() {
        let text = "SELECT 1;\n\nCREATE TABLE é (x int);\r\n  -- ü\nINSERT INTO é VALUES (1);";
        let mut cursor = LineCursor::new(text);
        for (offset, _) in text.char_indices().chain([(text.len(), ' ')]) {
            assert_eq!(cursor.locate(offset), line_col(text, offset), "at {offset}");
        }
        assert_eq!(cursor.locate(3), line_col(text, 3));
        assert_eq!(cursor.locate(text.len() + 10), line_col(text, text.len()));
    }

    fn texts(sql: &str) -> Vec<&str> {
        split_statements(sql).unwrap().into_iter().map(|s| &sql[s.start..s.end]).collect()
    }

    #[test]
    fn splits_with_dollar_quotes_and_comments() {
        let sql = "-- header\nCREATE TABLE a (id int);\n\n/* c */ DO $$ BEGIN PERFORM 1; END $$;\nSELECT ';'";
        assert_eq!(texts(sql), vec!["CREATE TABLE a (id int)", "DO $$ BEGIN PERFORM 1; END $$", "SELECT ';'"]);
    }

    #[test]
    fn empty_and_comment_only_text_has_no_statements() {
        assert!(texts("").is_empty());
        assert!(texts("-- nothing here\n").is_empty());
        assert!(texts(" ; ;\n").is_empty());
    }

    #[test]
    fn syntax_error_has_position() {
        let sql = "SELECT 1;\nCREATE TABLEX t (id int);";
        let err = split_statements(sql).unwrap_err();
        assert!(err.message.contains("syntax error"), "{}", err.message);
        let offset = err.offset.expect("position");
        assert_eq!(line_col(sql, offset), (2, 8));
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        // `FROMM` parses as a column alias, so the error is at `x`, character 18 of line 2;
        // counting bytes would put it further right, past `é` and `ü`.
        let sql = "SELECT 'é';\nSELECT 'ü' FROMM x;";
        let err = split_statements(sql).unwrap_err();
        let (line, col) = line_col(sql, err.offset.unwrap());
        assert_eq!((line, col), (2, 18));
    }
}
