//! Comments (`COMMENT ON`) on any user object, named by `pg_identify_object`. Built-in objects
//! (OIDs below 16384, FirstNormalObjectId) carry thousands of comments: they are filtered out
//! before `pg_identify_object`, which is slow, except for schemas (`public` has OID 2200).

use super::{col, Canonicalizer, Object, ObjectKind, TextRow};
use crate::runner::owner::is_owner_record;

pub(super) const QUERY: &str = "SELECT o.type, o.identity, d.description, \
    CASE WHEN d.classoid = 'pg_class'::regclass AND d.objsubid <> 0 THEN \
      (SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = d.objoid) END \
    FROM pg_description d, LATERAL pg_identify_object(d.classoid, d.objoid, d.objsubid) o \
    WHERE (d.objoid >= 16384 OR d.classoid = 'pg_namespace'::regclass) \
    AND coalesce(o.schema, '') NOT IN ('pg_catalog', 'information_schema') AND coalesce(o.schema, '') !~ '^pg_(toast|temp_)' \
    AND NOT (o.type = 'schema' AND (o.identity = 'information_schema' OR o.identity ~ '^pg_')) \
    AND o.type NOT IN ('language', 'access method', 'collation', 'foreign-data wrapper') \
    AND NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = d.classoid AND dep.objid = d.objoid AND dep.deptype = 'e') \
    UNION ALL \
    SELECT o.type, o.identity, d.description, NULL FROM pg_shdescription d, LATERAL pg_identify_object(d.classoid, d.objoid, 0) o \
    WHERE d.classoid = 'pg_database'::regclass AND d.objoid = (SELECT oid FROM pg_database WHERE datname = current_database())";

pub(super) fn objects(rows: Vec<TextRow>, _canon: &mut Canonicalizer) -> Vec<Object> {
    rows.into_iter()
        .filter_map(|mut r| {
            let kind = col(&mut r, 0)?;
            let identity = col(&mut r, 1)?;
            let text = col(&mut r, 2);
            // The owner record pgconverge writes on each scratch database is the harness's, not the schema's.
            if kind == "database" && text.as_deref().is_some_and(is_owner_record) {
                return None;
            }
            // A database comment follows the database, whatever its (random, scratch) name.
            let identity = if kind == "database" { "current database".to_string() } else { identity };
            let kind = if kind == "table column" { "column".to_string() } else { kind };
            let mut object =
                Object::new(ObjectKind::Comment, format!("on {kind} {identity}")).attr("on", Some(identity.clone())).attr("text", text);
            let table = col(&mut r, 3).or_else(|| matches!(kind.as_str(), "table" | "view" | "materialized view").then(|| identity));
            if let Some(table) = table {
                object = object.of_table(table);
            }
            Some(object)
        })
        .collect()
}
