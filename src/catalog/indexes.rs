//! Indexes: definition (`pg_get_indexdef`), validity (a failed `CONCURRENTLY` build leaves an
//! invalid index), and the constraint it backs.

use sqlx::postgres::PgConnection;

use super::{col, not_extension_member, text_rows, user_schema, Canonicalizer, Object, ObjectKind};
use crate::runner::RunnerError;

const QUERY: &str = concat!(
    "SELECT n.nspname || '.' || ic.relname, tn.nspname || '.' || c.relname, pg_get_indexdef(i.indexrelid), ",
    "i.indisvalid::text, ",
    "(SELECT co.conname::text FROM pg_constraint co WHERE co.conindid = i.indexrelid AND co.conrelid = i.indrelid ",
    "   AND co.contype IN ('p', 'u', 'x') LIMIT 1), ",
    "i.indisclustered::text ",
    "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace ",
    "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = c.relnamespace WHERE i.indexrelid >= 16384 AND ",
    user_schema!("n"),
    " AND ",
    not_extension_member!("pg_class", "ic.oid")
);

pub(super) async fn dump(conn: &mut PgConnection, canon: &mut Canonicalizer) -> Result<Vec<Object>, RunnerError> {
    let rows = text_rows(conn, QUERY).await?;
    Ok(rows
        .into_iter()
        .map(|mut r| {
            Object::new(ObjectKind::Index, col(&mut r, 0).unwrap_or_default())
                .of_table(col(&mut r, 1).unwrap_or_default())
                .attr("definition", col(&mut r, 2).map(|d| canon.statement(&d)))
                .attr("invalid", col(&mut r, 3).filter(|v| v == "false").map(|_| "true".into()))
                .attr("constraint", col(&mut r, 4))
                .attr("clustered", col(&mut r, 5).filter(|v| v == "true"))
        })
        .collect())
}
