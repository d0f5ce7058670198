//! The migration frameworks pgconverge drives through a driver of its own (`runner = "rails"`,
//! `runner = "alembic"`): whether their runtime is here, with versions, and why not.

use std::time::Duration;

use serde::Serialize;

/// How long a probe may take: loading ActiveRecord or Alembic takes well under a second.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// What the Rails driver needs, and prints when it has it: Ruby's, ActiveRecord's and the pg gem's
/// versions, one a line.
const RAILS_PROBE: &str = r#"require "active_record"; require "pg"; puts RUBY_VERSION, ActiveRecord.version, PG::VERSION"#;

/// What the Alembic driver needs, and prints when it has it: Python's, Alembic's and SQLAlchemy's
/// versions and the PostgreSQL driver it will use (psycopg 3, else psycopg2), one a line.
const ALEMBIC_PROBE: &str = "import sys, alembic, sqlalchemy
try:
    import psycopg as dbapi
    name = 'psycopg'
except ImportError:
    import psycopg2 as dbapi
    name = 'psycopg2'
print(sys.version.split()[0]); print(alembic.__version__); print(sqlalchemy.__version__)
print(name + ' ' + dbapi.__version__.split()[0])";

/// What `doctor` found for each framework.
#[derive(Debug, Clone, Serialize)]
pub struct FrameworksReport {
    /// `runner = "rails"`: `ruby` with the `activerecord` and `pg` gems.
    pub rails: RailsReport,
    /// `runner = "alembic"`: `python3` with `alembic`, `sqlalchemy` and `psycopg` (or `psycopg2`).
    pub alembic: AlembicReport,
}

/// Whether `runner = "rails"` can run here.
#[derive(Debug, Clone, Serialize)]
pub struct RailsReport {
    /// `ruby` runs and loads ActiveRecord and the pg gem.
    pub usable: bool,
    /// Why not, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_not: Option<String>,
    /// `RUBY_VERSION`, when Ruby loads both gems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ruby: Option<String>,
    /// `ActiveRecord.version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activerecord: Option<String>,
    /// `PG::VERSION`, the pg gem's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pg: Option<String>,
}

/// Whether `runner = "alembic"` can run here.
#[derive(Debug, Clone, Serialize)]
pub struct AlembicReport {
    /// `python3` runs and imports Alembic, SQLAlchemy and a PostgreSQL driver.
    pub usable: bool,
    /// Why not, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_not: Option<String>,
    /// Python's version, when it imports all three.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// `alembic.__version__`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alembic: Option<String>,
    /// `sqlalchemy.__version__`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sqlalchemy: Option<String>,
    /// The PostgreSQL driver and its version (`psycopg 3.2.1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dbapi: Option<String>,
}

/// Probes every framework.
pub(crate) async fn frameworks_report() -> FrameworksReport {
    let (rails, alembic) = tokio::join!(rails_report("ruby"), alembic_report("python3"));
    FrameworksReport { rails, alembic }
}

/// Runs `program args`, which prints one version a line when the framework loads: the lines, or
/// why the framework cannot run (`what` names it, `install` says how to get it).
async fn probe(program: &str, args: &[&str], what: &str, install: &str) -> Result<Vec<String>, String> {
    let mut command = tokio::process::Command::new(program);
    command.args(args).stdin(std::process::Stdio::null()).kill_on_drop(true);
    let output = match tokio::time::timeout(PROBE_TIMEOUT, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::NotFound => return Err(format!("`{program}` is not on PATH ({install})")),
        Ok(Err(error)) => return Err(format!("`{program}` does not run: {error}")),
        Err(_) => return Err(format!("`{program}` did not load {what} within {} s", PROBE_TIMEOUT.as_secs())),
    };
    if !output.status.success() {
        // The first line that names what is missing: Ruby's first (`cannot load such file -- pg`),
        // Python's last (`ModuleNotFoundError: No module named 'alembic'`).
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let first =
            lines.iter().find(|l| l.contains("Error") || l.contains("cannot load")).or(lines.first()).copied().unwrap_or("no message");
        return Err(format!("`{program}` cannot load {what} ({}): {first} ({install})", output.status));
    }
    Ok(String::from_utf8_lossy(&output.stdout).lines().map(|l| l.trim().to_string()).collect())
}

/// Runs `ruby` (the program the Rails runner starts) on [`RAILS_PROBE`].
async fn rails_report(ruby: &str) -> RailsReport {
    match probe(ruby, &["-e", RAILS_PROBE], "ActiveRecord and the pg gem", "Debian: apt-get install ruby-activerecord ruby-pg").await {
        Err(why_not) => RailsReport { usable: false, why_not: Some(why_not), ruby: None, activerecord: None, pg: None },
        Ok(lines) => {
            let mut lines = lines.into_iter();
            RailsReport { usable: true, why_not: None, ruby: lines.next(), activerecord: lines.next(), pg: lines.next() }
        }
    }
}

/// Runs `python3` (the program the Alembic runner starts) on [`ALEMBIC_PROBE`].
async fn alembic_report(python: &str) -> AlembicReport {
    const INSTALL: &str = "pip install 'alembic>=1.13,<2' 'SQLAlchemy>=2,<3' 'psycopg[binary]>=3.1,<4', or scripts/install-python-deps";
    match probe(python, &["-c", ALEMBIC_PROBE], "Alembic, SQLAlchemy and psycopg", INSTALL).await {
        Err(why_not) => AlembicReport { usable: false, why_not: Some(why_not), python: None, alembic: None, sqlalchemy: None, dbapi: None },
        Ok(lines) => {
            let mut lines = lines.into_iter();
            AlembicReport {
                usable: true,
                why_not: None,
                python: lines.next(),
                alembic: lines.next(),
                sqlalchemy: lines.next(),
                dbapi: lines.next(),
            }
        }
    }
}

impl std::fmt::Display for FrameworksReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let version = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
        let (rails, alembic) = (&self.rails, &self.alembic);
        write!(f, "frameworks:\n  {:<10} ", "rails")?;
        match &rails.why_not {
            Some(why) => write!(f, "not usable: {why}")?,
            None => write!(
                f,
                "usable: Ruby {}, ActiveRecord {}, pg {}",
                version(&rails.ruby),
                version(&rails.activerecord),
                version(&rails.pg)
            )?,
        }
        write!(f, "\n  {:<10} ", "alembic")?;
        match &alembic.why_not {
            Some(why) => write!(f, "not usable: {why}"),
            None => write!(
                f,
                "usable: Python {}, Alembic {}, SQLAlchemy {}, {}",
                version(&alembic.python),
                version(&alembic.alembic),
                version(&alembic.sqlalchemy),
                version(&alembic.dbapi)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in interpreter named `name`: a shell script printing `stdout` and `stderr` and
    /// exiting with `code`.
    ///
    /// A shell writes it, not this process: a file this process holds open for writing is
    /// inherited by any child another test forks meanwhile, and running it then fails with
    /// "Text file busy" until that child execs.
    fn fake(dir: &std::path::Path, name: &str, stdout: &str, stderr: &str, code: i32) -> String {
        let path = dir.join(name);
        let script = format!("#!/bin/sh\nprintf '{stdout}'\nprintf '{stderr}' >&2\nexit {code}\n");
        let written = std::process::Command::new("sh")
            .args(["-c", "printf '%s' \"$2\" > \"$1\" && chmod 755 \"$1\"", "sh"])
            .arg(&path)
            .arg(&script)
            .status()
            .unwrap();
        assert!(written.success(), "sh writes {}", path.display());
        path.to_string_lossy().into_owned()
    }

    #[tokio::test]
    async fn says_why_rails_and_alembic_cannot_run() {
        let missing = rails_report("/nonexistent/ruby").await;
        assert!(!missing.usable);
        assert!(missing.why_not.as_deref().unwrap().contains("is not on PATH"), "{missing:?}");

        let dir = tempfile::tempdir().unwrap();
        let without_pg =
            fake(dir.path(), "ruby", "", "<internal:lib/rubygems>: cannot load such file -- pg (LoadError)\\n\\tfrom -e:1\\n", 1);
        let rails = rails_report(&without_pg).await;
        assert!(!rails.usable);
        assert!(rails.why_not.as_deref().unwrap().contains("cannot load such file -- pg (LoadError)"), "{rails:?}");
        assert!(!rails.why_not.as_deref().unwrap().contains("from -e:1"), "only the line that names it: {rails:?}");
        let without_alembic = fake(
            dir.path(),
            "python3",
            "",
            "Traceback (most recent call last):\\n  File \"<string>\", line 1, in <module>\\nModuleNotFoundError: No module named alembic\\n",
            1,
        );
        let alembic = alembic_report(&without_alembic).await;
        assert!(!alembic.usable);
        assert!(alembic.why_not.as_deref().unwrap().contains("ModuleNotFoundError: No module named alembic"), "{alembic:?}");
        let shown = FrameworksReport { rails, alembic }.to_string();
        insta::assert_snapshot!(shown.replace(&without_pg, "ruby").replace(&without_alembic, "python3"));
    }

    #[tokio::test]
    async fn reads_the_versions_ruby_and_python_print() {
        let dir = tempfile::tempdir().unwrap();
        let ruby = fake(dir.path(), "ruby", "3.1.2\\n6.1.7.10\\n1.4.6\\n", "", 0);
        let rails = rails_report(&ruby).await;
        assert!(rails.usable && rails.why_not.is_none(), "{rails:?}");
        assert_eq!(
            (rails.ruby.as_deref(), rails.activerecord.as_deref(), rails.pg.as_deref()),
            (Some("3.1.2"), Some("6.1.7.10"), Some("1.4.6"))
        );
        let python = fake(dir.path(), "python3", "3.11.7\\n1.14.0\\n2.0.36\\npsycopg 3.2.3\\n", "", 0);
        let alembic = alembic_report(&python).await;
        assert!(alembic.usable, "{alembic:?}");
        assert_eq!(
            FrameworksReport { rails, alembic }.to_string(),
            "frameworks:\n  rails      usable: Ruby 3.1.2, ActiveRecord 6.1.7.10, pg 1.4.6\n  \
             alembic    usable: Python 3.11.7, Alembic 1.14.0, SQLAlchemy 2.0.36, psycopg 3.2.3"
        );
    }

    /// The real probe, on this machine's python3 (which the Alembic tier installs into).
    #[cfg(feature = "alembic-tests")]
    #[tokio::test]
    async fn the_alembic_probe_runs_on_this_python() {
        let report = alembic_report("python3").await;
        assert!(report.usable, "{report:?}");
        assert!(report.dbapi.as_deref().is_some_and(|d| d.starts_with("psycopg")), "{report:?}");
    }
}
