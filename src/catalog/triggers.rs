//! Triggers (not the internal ones behind foreign keys): definition and enabled state.

use super::{col, user_schema, Canonicalizer, Object, ObjectKind, TextRow};

pub(super) const QUERY: &str = concat!(
    "SELECT n.nspname || '.' || c.relname, t.tgname::text, pg_get_triggerdef(t.oid), t.tgenabled::text ",
    "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace ",
    "WHERE NOT t.tgisinternal AND ",
    user_schema!("n")
);

pub(super) fn objects(rows: Vec<TextRow>, canon: &mut Canonicalizer) -> Vec<Object> {
    rows.into_iter()
        .map(|mut r| {
            let table = col(&mut r, 0).unwrap_or_default();
            let name = format!("{table}.{}", col(&mut r, 1).unwrap_or_default());
            let enabled = match col(&mut r, 3).as_deref() {
                Some("D") => Some("disabled"),
                Some("R") => Some("replica"),
                Some("A") => Some("always"),
                _ => None, // 'O': the default, enabled in origin mode
            };
            Object::new(ObjectKind::Trigger, name)
                .of_table(table)
                .attr("definition", col(&mut r, 2).map(|d| canon.statement(&d)))
                .attr("enabled", enabled.map(str::to_string))
        })
        .collect()
}
