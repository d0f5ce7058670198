//! An existing server named by a URL (`--database-url`, `PGCONVERGE_DATABASE_URL`).
//!
//! The harness only ever creates and drops its own `pgconverge_*` databases there; the database
//! named in the URL is used only as the maintenance connection.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

use super::{Backend, RunnerError};

/// A server the harness did not start and never stops, reached by a URL.
pub struct ExistingServer {
    options: PgConnectOptions,
    redacted: String,
}

impl ExistingServer {
    /// The server `url` names (`postgres://user:password@host:port/database?...`). A URL that
    /// does not parse is an input error that shows it without its password. Connects to nothing.
    pub fn from_url(url: &str) -> Result<ExistingServer, RunnerError> {
        let redacted = redact_url(url);
        // sqlx reads any scheme as PostgreSQL's: `mysql://...` would end as an unreachable server.
        let scheme = url.split_once("://").map(|(scheme, _)| scheme);
        if !matches!(scheme, Some("postgres" | "postgresql")) {
            let reason = "not a PostgreSQL URL: it must start with postgres:// or postgresql://".to_string();
            return Err(RunnerError::InvalidDatabaseUrl { url: redacted, reason });
        }
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| RunnerError::InvalidDatabaseUrl { url: redacted.clone(), reason: redact_in(&e.to_string(), url) })?
            .application_name("pgconverge");
        Ok(ExistingServer { options, redacted })
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
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`; also hides `password=` parameters.
pub(crate) fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..].find(['/', '?']).map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest_start + colon + 1..rest_start + at, "***");
            }
        }
    }
    let re = regex::Regex::new(r"(?i)(password=)[^&\s]*").expect("valid regex");
    re.replace_all(&out, "${1}***").into_owned()
}

/// Hides whatever password `url` carries wherever it appears in `text`.
fn redact_in(text: &str, url: &str) -> String {
    match password_of(url) {
        Some(password) if !password.is_empty() => text.replace(&password, "***"),
        _ => text.to_string(),
    }
}

fn password_of(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    Some(userinfo[userinfo.find(':')? + 1..].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("postgres://me:s3cret@db:5432/app"), "postgres://me:***@db:5432/app");
        assert_eq!(redact_url("postgres://me@db/app"), "postgres://me@db/app");
        assert_eq!(redact_url("postgres://db/app?password=s3cret&x=1"), "postgres://db/app?password=***&x=1");
    }

    #[test]
    fn invalid_url_error_hides_password() {
        let err = ExistingServer::from_url("postgres://me:s3cret@db:notaport/app").err().expect("invalid");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
