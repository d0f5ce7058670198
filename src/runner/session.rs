//! What every session that runs or dumps project SQL starts with, whoever opens it (pgconverge,
//! or a project's own migrator): PostgreSQL's default `search_path`. A URL server's role or
//! database may set another (`ALTER ROLE app SET search_path = app`), under which a correct
//! project's unqualified names would land elsewhere, or nowhere.

use sqlx::postgres::PgConnectOptions;

/// PostgreSQL's default `search_path`.
pub(crate) const DEFAULT_SEARCH_PATH: &str = "\"$user\", public";

/// `options` whose sessions start with the default `search_path`: a connection's startup options
/// override what `ALTER ROLE`/`ALTER DATABASE ... SET` give, and come after (so win over) the
/// URL's own `options` and `PGOPTIONS`.
pub(crate) fn with_default_search_path(options: PgConnectOptions) -> PgConnectOptions {
    options.options([("search_path", DEFAULT_SEARCH_PATH)])
}

/// The `PGOPTIONS` for a migrator the project runs itself (libpq reads it): `inherited` (the
/// environment's own), then the default `search_path`, which wins as the later setting.
pub(crate) fn pgoptions_with_default_search_path(inherited: Option<&str>) -> String {
    // libpq's options string separates on spaces; a backslash escapes one.
    let value = DEFAULT_SEARCH_PATH.replace('\\', "\\\\").replace(' ', "\\ ");
    let ours = format!("-c search_path={value}");
    match inherited.map(str::trim).filter(|s| !s.is_empty()) {
        Some(inherited) => format!("{inherited} {ours}"),
        None => ours,
    }
}

/// The environment of a migrator the project runs itself, for sessions as `options` make them:
/// the check's limits and application name (see `limits::libpq_env`), after this process's
/// own `PGOPTIONS`, and the default `search_path` last.
pub(crate) fn migrator_env(options: &PgConnectOptions) -> Vec<(&'static str, String)> {
    let mut env = super::limits::libpq_env(options);
    let limits = env.iter().position(|(name, _)| *name == "PGOPTIONS").map(|i| env.remove(i).1);
    let inherited = std::env::var("PGOPTIONS").ok();
    let joined = [inherited, limits].into_iter().flatten().collect::<Vec<_>>().join(" ");
    env.push(("PGOPTIONS", pgoptions_with_default_search_path(Some(&joined))));
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgoptions_escape_the_space_and_come_last() {
        assert_eq!(pgoptions_with_default_search_path(None), r#"-c search_path="$user",\ public"#);
        assert_eq!(
            pgoptions_with_default_search_path(Some("-c statement_timeout=5s")),
            r#"-c statement_timeout=5s -c search_path="$user",\ public"#
        );
    }

    #[test]
    fn connect_options_carry_the_search_path() {
        let options = with_default_search_path(PgConnectOptions::new_without_pgpass());
        assert!(options.get_options().is_some_and(|o| o.ends_with(r#"-c search_path="$user",\ public"#)), "{:?}", options.get_options());
    }
}
