//! Roles the project creates (`compare_roles = true`): attributes, settings, memberships and
//! comment. Roles are the server's, not a database's, so only the roles named here are read:
//! the server's other roles (and other runs' sandbox roles) are not the project's result.
//!
//! Left out: passwords (a hash is salted anew each time it is set, and reading it needs a
//! superuser) and who granted a membership (the harness's role, not the migration's choice).

use sqlx::postgres::PgConnection;
use sqlx::Row;

use super::{Object, ObjectKind, TextRow};
use crate::runner::RunnerError;

/// One row per role named in `$1`. Settings are those for every database and those for the
/// database being dumped (a role's settings in other databases belong to other databases);
/// each list is sorted, so the order of `ALTER ROLE ... SET` and `GRANT` does not count.
/// `inherit_option`/`set_option` exist from PostgreSQL 16 on, hence `to_jsonb`.
const QUERY: &str = "SELECT r.rolname::text, r.rolsuper::text, r.rolinherit::text, r.rolcreaterole::text, \
    r.rolcreatedb::text, r.rolcanlogin::text, r.rolreplication::text, r.rolbypassrls::text, \
    NULLIF(r.rolconnlimit, -1)::text, r.rolvaliduntil::text, \
    (SELECT string_agg(CASE WHEN s.setdatabase = 0 THEN 'all databases: ' ELSE 'this database: ' END || c, '; ' \
        ORDER BY s.setdatabase <> 0, c) \
     FROM pg_db_role_setting s, unnest(s.setconfig) c \
     WHERE s.setrole = r.oid AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))), \
    (SELECT string_agg(g.rolname || CASE WHEN m.admin_option THEN ' with admin option' ELSE '' END \
        || CASE WHEN to_jsonb(m) ->> 'inherit_option' = 'false' THEN ' noinherit' ELSE '' END \
        || CASE WHEN to_jsonb(m) ->> 'set_option' = 'false' THEN ' noset' ELSE '' END, ', ' ORDER BY g.rolname) \
     FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), \
    (SELECT string_agg(u.rolname || CASE WHEN m.admin_option THEN ' with admin option' ELSE '' END, ', ' ORDER BY u.rolname) \
     FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member WHERE m.roleid = r.oid), \
    shobj_description(r.oid, 'pg_authid')::text \
    FROM pg_roles r WHERE r.rolname = ANY($1)";

/// The columns [`QUERY`] selects.
const COLUMNS: usize = 14;

const ATTRIBUTES: [&str; 7] = ["superuser", "inherit", "createrole", "createdb", "login", "replication", "bypassrls"];

/// The roles in `names` that exist, as catalog objects.
pub(super) async fn dump(conn: &mut PgConnection, names: &[String]) -> Result<Vec<Object>, RunnerError> {
    let failed = |e| RunnerError::db("read the roles the project creates", e);
    let rows = sqlx::query(QUERY).bind(names).fetch_all(&mut *conn).await.map_err(failed)?;
    rows.iter()
        .map(|row| (0..COLUMNS).map(|i| row.try_get::<Option<String>, _>(i)).collect::<Result<TextRow, _>>().map(object).map_err(failed))
        .collect()
}

fn object(mut row: TextRow) -> Object {
    let mut take = |i: usize| super::col(&mut row, i);
    let name = take(0).unwrap_or_default();
    // `rolinherit` is on by default and the rest off: list the ones that differ from
    // `CREATE ROLE name`, so a dump reads like the statement that made the role.
    let mut differing = Vec::new();
    for (i, attribute) in ATTRIBUTES.iter().enumerate() {
        let on = take(i + 1).as_deref() == Some("true");
        let default_on = *attribute == "inherit";
        if on != default_on {
            differing.push(if on { attribute.to_uppercase() } else { format!("NO{}", attribute.to_uppercase()) });
        }
    }
    Object::new(ObjectKind::Role, name)
        .attr("attributes", Some(differing.join(" ")))
        .attr("connection_limit", take(8))
        .attr("valid_until", take(9))
        .attr("settings", take(10))
        .attr("member_of", take(11))
        .attr("members", take(12))
        .attr("comment", take(13))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_read_like_create_role() {
        let row = |cells: &[Option<&str>]| -> TextRow { cells.iter().map(|c| c.map(str::to_string)).collect() };
        let plain = object(row(&[
            Some("app"),
            Some("false"),
            Some("true"),
            Some("false"),
            Some("false"),
            Some("false"),
            Some("false"),
            Some("false"),
            None,
            None,
            None,
            None,
            None,
            None,
        ]));
        assert_eq!(plain.render(), "role app\n");
        let tuned = object(row(&[
            Some("reporting"),
            Some("false"),
            Some("false"),
            Some("false"),
            Some("false"),
            Some("true"),
            Some("false"),
            Some("false"),
            Some("5"),
            None,
            Some("all databases: statement_timeout=5s"),
            Some("app with admin option"),
            None,
            Some("read-only reports"),
        ]));
        assert_eq!(
            tuned.render(),
            "role reporting\n  attributes: NOINHERIT LOGIN\n  comment: read-only reports\n  connection_limit: 5\n  \
             member_of: app with admin option\n  settings: all databases: statement_timeout=5s\n"
        );
    }
}
