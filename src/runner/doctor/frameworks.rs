//! The migration frameworks pgconverge drives through a driver of its own (`runner = "rails"`):
//! whether their runtime is here, with versions, and why not.

use std::time::Duration;

use serde::Serialize;

/// How long the probe may take: loading ActiveRecord takes well under a second.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// What the Rails driver needs, and prints when it has it: Ruby's, ActiveRecord's and the pg gem's
/// versions, one a line.
const RAILS_PROBE: &str = r#"require "active_record"; require "pg"; puts RUBY_VERSION, ActiveRecord.version, PG::VERSION"#;

/// What `doctor` found for each framework.
#[derive(Debug, Clone, Serialize)]
pub struct FrameworksReport {
    /// `runner = "rails"`: `ruby` with the `activerecord` and `pg` gems.
    pub rails: RailsReport,
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

impl RailsReport {
    fn unusable(why_not: String) -> RailsReport {
        RailsReport { usable: false, why_not: Some(why_not), ruby: None, activerecord: None, pg: None }
    }
}

/// Probes every framework.
pub(crate) async fn frameworks_report() -> FrameworksReport {
    FrameworksReport { rails: rails_report("ruby").await }
}

/// Runs `ruby` (the program the Rails runner starts) on [`RAILS_PROBE`].
async fn rails_report(ruby: &str) -> RailsReport {
    const INSTALL: &str = "Debian: apt-get install ruby-activerecord ruby-pg";
    let mut command = tokio::process::Command::new(ruby);
    command.args(["-e", RAILS_PROBE]).stdin(std::process::Stdio::null()).kill_on_drop(true);
    let output = match tokio::time::timeout(PROBE_TIMEOUT, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::NotFound => {
            return RailsReport::unusable(format!("`{ruby}` is not on PATH ({INSTALL})"));
        }
        Ok(Err(error)) => return RailsReport::unusable(format!("`{ruby}` does not run: {error}")),
        Err(_) => return RailsReport::unusable(format!("`{ruby}` did not load ActiveRecord within {} s", PROBE_TIMEOUT.as_secs())),
    };
    if !output.status.success() {
        // Ruby's first stderr line names the gem it cannot load (`cannot load such file -- pg`).
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim();
        return RailsReport::unusable(format!("`{ruby}` cannot load ActiveRecord and the pg gem ({}): {first} ({INSTALL})", output.status));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines().map(|l| l.trim().to_string());
    RailsReport { usable: true, why_not: None, ruby: lines.next(), activerecord: lines.next(), pg: lines.next() }
}

impl std::fmt::Display for FrameworksReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rails = &self.rails;
        write!(f, "frameworks:\n  {:<10} ", "rails")?;
        match (&rails.why_not, &rails.activerecord) {
            (Some(why), _) => write!(f, "not usable: {why}"),
            (None, activerecord) => write!(
                f,
                "usable: Ruby {}, ActiveRecord {}, pg {}",
                rails.ruby.as_deref().unwrap_or("?"),
                activerecord.as_deref().unwrap_or("?"),
                rails.pg.as_deref().unwrap_or("?")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in `ruby`: a shell script printing `stdout` and `stderr` and exiting with `code`.
    fn fake_ruby(dir: &std::path::Path, stdout: &str, stderr: &str, code: i32) -> String {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("ruby");
        std::fs::write(&path, format!("#!/bin/sh\nprintf '{stdout}'\nprintf '{stderr}' >&2\nexit {code}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.to_string_lossy().into_owned()
    }

    #[tokio::test]
    async fn says_why_rails_cannot_run() {
        let missing = rails_report("/nonexistent/ruby").await;
        assert!(!missing.usable);
        assert!(missing.why_not.as_deref().unwrap().contains("is not on PATH"), "{missing:?}");

        let dir = tempfile::tempdir().unwrap();
        let without_pg = fake_ruby(dir.path(), "", "<internal:lib/rubygems>: cannot load such file -- pg (LoadError)\\n\\tfrom -e:1\\n", 1);
        let report = rails_report(&without_pg).await;
        assert!(!report.usable);
        assert!(report.why_not.as_deref().unwrap().contains("cannot load such file -- pg (LoadError)"), "{report:?}");
        assert!(!report.why_not.as_deref().unwrap().contains("from -e:1"), "only the first line: {report:?}");
        insta::assert_snapshot!(FrameworksReport { rails: report }.to_string().replace(&without_pg, "ruby"));
    }

    #[tokio::test]
    async fn reads_the_versions_ruby_prints() {
        let dir = tempfile::tempdir().unwrap();
        let ruby = fake_ruby(dir.path(), "3.1.2\\n6.1.7.10\\n1.4.6\\n", "", 0);
        let report = rails_report(&ruby).await;
        assert!(report.usable && report.why_not.is_none(), "{report:?}");
        assert_eq!(
            (report.ruby.as_deref(), report.activerecord.as_deref(), report.pg.as_deref()),
            (Some("3.1.2"), Some("6.1.7.10"), Some("1.4.6"))
        );
        assert_eq!(
            FrameworksReport { rails: report }.to_string(),
            "frameworks:\n  rails      usable: Ruby 3.1.2, ActiveRecord 6.1.7.10, pg 1.4.6"
        );
    }
}
