//! An existing server named by a URL (`--database-url`, `PGCONVERGE_DATABASE_URL`), and the one
//! place a database URL is redacted for display ([`RedactedUrl`]).
//!
//! The harness only ever creates and drops its own `pgconverge_*` databases there; the database
//! named in the URL is used only as the maintenance connection.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};
use regex::Regex;
use sqlx::postgres::PgConnectOptions;

use super::{Backend, RunnerError};

/// A server the harness did not start and never stops, reached by a URL.
pub struct ExistingServer {
    options: PgConnectOptions,
    redacted: RedactedUrl,
    /// What [`ExistingServer::reap_leftovers`] dropped, for the report.
    notes: Vec<String>,
}

impl ExistingServer {
    /// The server `url` names (`postgres://user:password@host:port/database?...`, with
    /// `sslmode` and `sslrootcert` as libpq reads them). A URL that does not parse is an input
    /// error that shows it without its password. Connects to nothing.
    pub fn from_url(url: &str) -> Result<ExistingServer, RunnerError> {
        let redacted = RedactedUrl::new(url);
        // sqlx reads any scheme as PostgreSQL's: `mysql://...` would end as an unreachable server.
        let scheme = url.split_once("://").map(|(scheme, _)| scheme);
        if !matches!(scheme, Some("postgres" | "postgresql")) {
            let reason = "not a PostgreSQL URL: it must start with postgres:// or postgresql://".to_string();
            return Err(RunnerError::InvalidDatabaseUrl { url: redacted.to_string(), reason });
        }
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| RunnerError::InvalidDatabaseUrl { url: redacted.to_string(), reason: redacted.hide(&e.to_string()) })?
            .application_name("pgconverge");
        Ok(ExistingServer { options, redacted, notes: Vec::new() })
    }

    /// Drops what runs of this host that died left on the server (`pgconverge_*` databases and
    /// roles whose owner record names a process here that is gone), as a run does at its start;
    /// the report's notes say what was dropped. Never fails: a server that cannot be reached
    /// fails the run's own first connection.
    pub async fn reap_leftovers(&mut self) {
        self.notes = super::owner::reap_at_start(&self.options).await;
    }
}

impl Backend for ExistingServer {
    fn admin_options(&self) -> PgConnectOptions {
        self.options.clone()
    }

    fn describe(&self) -> String {
        format!("server at {}", self.redacted)
    }

    fn kind(&self) -> &'static str {
        "url"
    }

    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }
}

/// What may be shown of a database URL: the URL with its password replaced by `***`, and the
/// password's spellings, to hide from any other text the URL reaches (a parser's or a server's
/// error). Every display of a database URL goes through it.
///
/// A password may hold any character, written unencoded (`/ ? # @ % :`) where a URL parser
/// would end the userinfo early: then the url crate (and sqlx) read part of the password as
/// the host, port or path. So the password is taken as widely as a userinfo can reach, from
/// the first `:` after `://` to the last `@`, as well as the url crate reads it. When the two
/// agree the URL is shown as the url crate reads it, with its password replaced; when they do
/// not (or it does not parse), everything between `://` and the last `@` is replaced.
#[derive(Clone)]
pub(crate) struct RedactedUrl {
    shown: String,
    /// Longest first, so that a password is hidden whole before any part of it is.
    secrets: Vec<String>,
}

/// `password=` (sqlx reads it) and `sslpassword=` parameters, in a URL's query or a
/// `key=value` string: the value runs to the next `&` or space, `#` included.
static PASSWORD_PARAMETER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)((?:^|[?&\s])(?:ssl)?password=)([^&\s]*)").expect("valid regex"));

impl RedactedUrl {
    pub(crate) fn new(url: &str) -> RedactedUrl {
        let mut secrets: Vec<String> = PASSWORD_PARAMETER.captures_iter(url).map(|c| c[2].to_string()).collect();
        let hide_parameters = |text: &str| PASSWORD_PARAMETER.replace_all(text, "${1}***").into_owned();
        let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
            // No authority, so no userinfo: only parameters can carry a password.
            return RedactedUrl::with_secrets(hide_parameters(url), secrets);
        };
        let rest = &url[scheme_end..];
        let Some(last_at) = rest.rfind('@') else {
            return RedactedUrl::with_secrets(hide_parameters(url), secrets);
        };
        let widest = rest[..last_at].split_once(':').map(|(_, password)| password.to_string());
        let parsed = ::url::Url::parse(url).ok();
        let read = parsed.as_ref().and_then(|u| u.password()).map(str::to_string);
        secrets.extend(widest.iter().chain(read.iter()).cloned());
        let agree = parsed.is_some() && widest.as_deref().map(decoded) == read.as_deref().map(decoded);
        let shown = match parsed {
            Some(mut parsed) if agree => {
                if read.is_some() {
                    // Cannot fail: a URL with a password has a host.
                    let _ = parsed.set_password(Some("***"));
                }
                hide_parameters(parsed.as_str())
            }
            _ => format!("{}***@{}", &url[..scheme_end], hide_parameters(&rest[last_at + 1..])),
        };
        RedactedUrl::with_secrets(shown, secrets)
    }

    /// `secrets` with their percent-decoded and percent-encoded spellings (sqlx decodes a
    /// URL's password and encodes it again when it writes a URL).
    fn with_secrets(shown: String, secrets: Vec<String>) -> RedactedUrl {
        let mut spellings: Vec<String> = secrets
            .iter()
            .flat_map(|secret| {
                let plain = decoded(secret);
                let encoded = utf8_percent_encode(&plain, NON_ALPHANUMERIC).to_string();
                [secret.clone(), plain, encoded]
            })
            .filter(|s| !s.is_empty())
            .collect();
        spellings.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        spellings.dedup();
        RedactedUrl { shown, secrets: spellings }
    }

    /// `text` with every spelling of the URL's password replaced by `***`.
    pub(crate) fn hide(&self, text: &str) -> String {
        hide_secrets(text, &self.secrets)
    }
}

impl fmt::Display for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

fn decoded(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// `text` with each of `secrets` (none empty) replaced by `***`.
pub(crate) fn hide_secrets(text: &str, secrets: &[String]) -> String {
    secrets.iter().filter(|s| !s.is_empty()).fold(text.to_string(), |text, secret| text.replace(secret.as_str(), "***"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(url: &str) -> String {
        RedactedUrl::new(url).to_string()
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(shown("postgres://me:s3cret@db:5432/app"), "postgres://me:***@db:5432/app");
        assert_eq!(shown("postgres://me@db/app"), "postgres://me@db/app");
        assert_eq!(shown("postgres://db/app?password=s3cret&x=1"), "postgres://db/app?password=***&x=1");
        assert_eq!(shown("postgres:///app?host=/run/pg&password=s3cret#x"), "postgres:///app?host=/run/pg&password=***");
        assert_eq!(shown("host=db password=s3cret"), "host=db password=***");
    }

    #[test]
    fn redacts_passwords_whatever_they_hold() {
        // Each character, unencoded and encoded: nothing of the password is left.
        for c in ["/", "?", "@", "#", "%", ":", "%2F", "%3F", "%40", "%23", "%25", "%3A", "12/", "/"] {
            let password = format!("Qz8vKw{c}Jx5mRt");
            let url = format!("postgresql://me:{password}@db.example:5432/app?sslmode=require");
            let redaction = RedactedUrl::new(&url);
            let shown = redaction.to_string();
            assert!(!shown.contains("Qz8vKw") && !shown.contains("Jx5mRt"), "{url} shown as {shown}");
            assert!(shown.ends_with("@db.example:5432/app?sslmode=require"), "{url} shown as {shown}");
            let message = format!("could not parse {url}: {}", utf8_percent_encode(&decoded(&password), NON_ALPHANUMERIC));
            let hidden = redaction.hide(&message);
            assert!(!hidden.contains("Qz8vKw") && !hidden.contains("Jx5mRt"), "{hidden}");
        }
    }

    #[test]
    fn shows_the_parsed_url_when_nothing_is_ambiguous() {
        assert_eq!(shown("postgres://me:p@ss@db/app"), "postgres://me:***@db/app");
        assert_eq!(shown("postgres://me:a:b@db/app"), "postgres://me:***@db/app");
        // An `@` after the path could close a password that holds a `/`: all of it goes.
        assert_eq!(shown("postgres://db:5432/app?user=me@corp"), "postgres://***@corp");
        assert_eq!(shown("postgres://me:12/x@db/app"), "postgres://***@db/app");
    }

    #[test]
    fn invalid_url_error_hides_password() {
        for url in ["postgres://me:s3cret@db:notaport/app", "postgres://me:s3/cret@db/app", "postgres://me:s3?cret@db/app"] {
            let err = ExistingServer::from_url(url).err().expect("invalid");
            assert!(!err.to_string().contains("s3"), "{err}");
            assert!(!err.to_string().contains("cret"), "{err}");
        }
    }
}
