//! User collations (`CREATE COLLATION`): provider, locale, determinism, ICU rules, encoding.
//! Never their version, which is the ICU or libc library's. The columns differ between majors
//! (17 renamed `colliculocale` to `colllocale`, 16 added `collicurules`), so the row is read as
//! JSON and picked apart here.

use super::{col, not_extension_member, user_schema, Canonicalizer, Object, ObjectKind, TextRow};

pub(super) const QUERY: &str = concat!(
    "SELECT n.nspname || '.' || co.collname, to_jsonb(co)::text, pg_encoding_to_char(co.collencoding)::text, ",
    "pg_get_userbyid(co.collowner)::text ",
    "FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace WHERE co.oid >= 16384 AND ",
    user_schema!("n"),
    " AND ",
    not_extension_member!("pg_collation", "co.oid")
);

pub(super) fn objects(rows: Vec<TextRow>, _canon: &mut Canonicalizer) -> Vec<Object> {
    rows.into_iter()
        .map(|mut r| {
            let name = col(&mut r, 0).unwrap_or_default();
            let row: serde_json::Value = col(&mut r, 1).and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default();
            let text = |key: &str| row.get(key).and_then(serde_json::Value::as_str).map(str::to_string);
            let provider = match text("collprovider").as_deref() {
                Some("c") => "libc".to_string(),
                Some("i") => "icu".to_string(),
                Some("b") => "builtin".to_string(),
                Some("d") => "default".to_string(),
                other => other.unwrap_or("unknown").to_string(),
            };
            let deterministic = row.get("collisdeterministic").and_then(serde_json::Value::as_bool);
            Object::new(ObjectKind::Collation, name)
                .attr("provider", Some(provider))
                .attr("lc_collate", text("collcollate"))
                .attr("lc_ctype", text("collctype"))
                .attr("locale", text("colliculocale").or_else(|| text("colllocale")))
                .attr("icu_rules", text("collicurules"))
                .attr("deterministic", (deterministic == Some(false)).then(|| "false".to_string()))
                .attr("encoding", col(&mut r, 2))
                .attr("owner", col(&mut r, 3))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collation(json: &str) -> Object {
        let row: TextRow = vec![Some("public.ci".into()), Some(json.into()), Some(String::new()), Some("app".into())];
        objects(vec![row], &mut Canonicalizer::new()).remove(0)
    }

    /// 15 and 16 name the ICU locale `colliculocale`, 17 `colllocale`: one attribute either way.
    /// The library's version is never compared.
    #[test]
    fn icu_collations_read_alike_on_every_major() {
        let on_15 = collation(
            r#"{"collprovider": "i", "colliculocale": "und-u-ks-level2", "collisdeterministic": false, "collversion": "153.120"}"#,
        );
        let on_17 =
            collation(r#"{"collprovider": "i", "colllocale": "und-u-ks-level2", "collisdeterministic": false, "collversion": "155.1"}"#);
        assert_eq!(on_15, on_17);
        assert_eq!(
            on_15.render(),
            "collation public.ci\n  deterministic: false\n  locale: und-u-ks-level2\n  owner: app\n  provider: icu\n"
        );
    }

    #[test]
    fn every_part_of_a_definition_counts() {
        let base = collation(r#"{"collprovider": "c", "collcollate": "C", "collctype": "C", "collisdeterministic": true}"#);
        for other in [
            r#"{"collprovider": "c", "collcollate": "C", "collctype": "POSIX", "collisdeterministic": true}"#,
            r#"{"collprovider": "c", "collcollate": "POSIX", "collctype": "C", "collisdeterministic": true}"#,
            r#"{"collprovider": "i", "colliculocale": "C", "collisdeterministic": true}"#,
            r#"{"collprovider": "c", "collcollate": "C", "collctype": "C", "collisdeterministic": false}"#,
            r#"{"collprovider": "c", "collcollate": "C", "collctype": "C", "collisdeterministic": true, "collicurules": "&a < b"}"#,
        ] {
            assert_ne!(base, collation(other), "{other}");
        }
    }
}
