//! Privilege lists (`aclitem[]`: `relacl`, `attacl`, `proacl`, `nspacl`, `typacl`,
//! `defaclacl`) compared as what they mean: a set of (grantee, grantor, privilege, grant
//! option). Postgres keeps the items in the order the grants were made, so the same grants in
//! another order print differently; the canonical text lists the items sorted by grantee and
//! grantor, each with its privileges in Postgres's own letter order (`arwdDxtXUCTcsAm`), `*`
//! after a privilege that carries the grant option: `{=U/owner,app=r*w/owner,owner=UC/owner}`.
//! Done here rather than in the query: `aclexplode` would cost a subquery per object.

use std::collections::{BTreeMap, BTreeSet};

/// The privilege letters in the order `aclitemout` prints them (`m`, MAINTAIN, is 17's).
const PRIVILEGE_ORDER: &str = "arwdDxtXUCTcsAm";

/// The canonical text of an `aclitem[]`'s text. A list that does not parse is kept as it is.
pub(crate) fn canonical_acl(text: &str) -> String {
    parse(text).map_or_else(|| text.to_string(), |grants| render(&grants))
}

/// A column's privileges: no list and an empty one (left by a grant and its revoke) both mean
/// that the column has no privileges of its own.
pub(crate) fn canonical_column_acl(text: &str) -> Option<String> {
    match parse(text) {
        Some(grants) if grants.is_empty() => None,
        Some(grants) => Some(render(&grants)),
        None => Some(text.to_string()),
    }
}

/// One privilege granted: grantee and grantor as `aclitemout` writes them (quoted where needed,
/// empty for PUBLIC), the privilege letter, and whether it may be granted on.
type Grant = (String, String, char, bool);

fn parse(text: &str) -> Option<BTreeSet<Grant>> {
    let mut grants = BTreeSet::new();
    for item in array_elements(text)? {
        let (grantee, rest) = role(&item)?;
        let rest = rest.strip_prefix('=')?;
        let (privileges, grantor) = rest.split_once('/')?;
        let (grantor, tail) = role(grantor)?;
        if !tail.is_empty() {
            return None;
        }
        let mut letters = privileges.chars().peekable();
        while let Some(letter) = letters.next() {
            if !letter.is_ascii_alphabetic() {
                return None;
            }
            let grant_option = letters.next_if_eq(&'*').is_some();
            grants.insert((grantee.clone(), grantor.clone(), letter, grant_option));
        }
    }
    Some(grants)
}

fn render(grants: &BTreeSet<Grant>) -> String {
    let mut items: BTreeMap<(&str, &str), Vec<(char, bool)>> = BTreeMap::new();
    for (grantee, grantor, letter, grant_option) in grants {
        items.entry((grantee, grantor)).or_default().push((*letter, *grant_option));
    }
    let rendered: Vec<String> = items
        .into_iter()
        .map(|((grantee, grantor), mut privileges)| {
            privileges.sort_by_key(|(letter, grant_option)| (PRIVILEGE_ORDER.find(*letter).unwrap_or(usize::MAX), *letter, *grant_option));
            let letters: String = privileges
                .iter()
                .map(|(letter, grant_option)| if *grant_option { format!("{letter}*") } else { letter.to_string() })
                .collect();
            format!("{grantee}={letters}/{grantor}")
        })
        .collect();
    format!("{{{}}}", rendered.join(","))
}

/// The elements of a one-dimensional array's text (`{a,"b c"}`), unquoted.
fn array_elements(text: &str) -> Option<Vec<String>> {
    let inner = text.strip_prefix('{')?.strip_suffix('}')?;
    let mut elements = Vec::new();
    let mut chars = inner.chars();
    if inner.is_empty() {
        return Some(elements);
    }
    loop {
        let mut element = String::new();
        match chars.clone().next() {
            Some('"') => {
                chars.next();
                loop {
                    match chars.next()? {
                        '\\' => element.push(chars.next()?),
                        '"' => break,
                        c => element.push(c),
                    }
                }
                match chars.next() {
                    None => {
                        elements.push(element);
                        return Some(elements);
                    }
                    Some(',') => {}
                    Some(_) => return None,
                }
            }
            _ => loop {
                match chars.next() {
                    None => {
                        elements.push(element);
                        return Some(elements);
                    }
                    Some(',') => break,
                    Some(c) => element.push(c),
                }
            },
        }
        elements.push(element);
    }
}

/// A role name at the start of `text` as `aclitemout` writes it (double-quoted, with `""` for a
/// quote, when it needs quoting), and the text after it.
fn role(text: &str) -> Option<(String, &str)> {
    let Some(quoted) = text.strip_prefix('"') else {
        let end = text.find(['=', '/']).unwrap_or(text.len());
        return Some((text[..end].to_string(), &text[end..]));
    };
    let mut end = 0;
    let bytes = quoted.as_bytes();
    loop {
        let next = quoted[end..].find('"')? + end;
        if bytes.get(next + 1) == Some(&b'"') {
            end = next + 2;
        } else {
            return Some((text[..next + 2].to_string(), &quoted[next + 1..]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same grants made in another order are one canonical list.
    #[test]
    fn grant_order_does_not_matter() {
        let one = "{postgres=arwdDxt/postgres,app_reader=r/postgres,app_writer=arw/postgres}";
        let other = "{postgres=arwdDxt/postgres,app_writer=arw/postgres,app_reader=r/postgres}";
        assert_eq!(canonical_acl(one), canonical_acl(other));
        assert_eq!(canonical_acl(one), "{app_reader=r/postgres,app_writer=arw/postgres,postgres=arwdDxt/postgres}");
    }

    /// Grantee, grantor, privilege and grant option all count.
    #[test]
    fn every_part_of_a_grant_counts() {
        let base = canonical_acl("{app=r/postgres}");
        for other in ["{app=w/postgres}", "{app=r*/postgres}", "{app=r/owner}", "{other=r/postgres}", "{=r/postgres}", "{}"] {
            assert_ne!(base, canonical_acl(other), "{other}");
        }
    }

    #[test]
    fn public_grants_and_grant_options_read_back() {
        assert_eq!(
            canonical_acl("{pg_database_owner=UC/pg_database_owner,=U/pg_database_owner}"),
            "{=U/pg_database_owner,pg_database_owner=UC/pg_database_owner}"
        );
        assert_eq!(canonical_acl("{app=w*r/postgres}"), "{app=rw*/postgres}");
    }

    /// Quoted role names: in the aclitem (`"my role"`) and, around the whole item, in the array.
    #[test]
    fn quoted_names_are_parsed() {
        let text = r#"{"\"my role\"=r/postgres",postgres=arwdDxt/postgres,"\"a=b\"=r/\"x/y\""}"#;
        assert_eq!(canonical_acl(text), r#"{"a=b"=r/"x/y","my role"=r/postgres,postgres=arwdDxt/postgres}"#);
    }

    /// An empty list on a table means every privilege was revoked; on a column it means none
    /// was ever granted, as no list does.
    #[test]
    fn empty_lists() {
        assert_eq!(canonical_acl("{}"), "{}");
        assert_eq!(canonical_column_acl("{}"), None);
        assert_eq!(canonical_column_acl("{app=r/postgres}").as_deref(), Some("{app=r/postgres}"));
    }

    #[test]
    fn text_that_is_no_acl_is_kept() {
        for text in ["not an acl", "{app}", "{app=r}", "{\"unterminated}", "{app=r/postgres/x}"] {
            assert_eq!(canonical_acl(text), text);
        }
    }
}
