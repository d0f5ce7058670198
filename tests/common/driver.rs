//! A framework driver (`src/engine/executor/drivers/*`) started by hand and spoken to in JSON
//! lines, for the tests of the drivers themselves; and a fresh database for it on the shared server.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{json, Value};

/// A fresh database on the shared server, and the URL that names it.
pub fn scratch_database(name: &str) -> String {
    let admin = super::shared_server_url();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut conn).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
    });
    admin.replacen("/postgres?", &format!("/{name}?"), 1)
}

/// A driver process speaking JSON lines; its script lives in a temporary directory.
pub struct Driver {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    _script: tempfile::TempDir,
}

impl Driver {
    /// Writes `source` to `<tmp>/<file_name>` and starts `interpreter` on it, with `env` set.
    pub fn start(interpreter: &str, file_name: &str, source: &str, env: &[(&str, &std::path::Path)], url: &str) -> Driver {
        let script = tempfile::tempdir().unwrap();
        std::fs::write(script.path().join(file_name), source).unwrap();
        let mut command = Command::new(interpreter);
        command
            .arg(script.path().join(file_name))
            .env("PGCONVERGE_DATABASE_URL", url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap_or_else(|e| panic!("{interpreter} runs: {e}"));
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Driver { child, stdin, stdout, _script: script }
    }

    /// Sends one command; the answer line must be one JSON object.
    pub fn send(&mut self, command: Value) -> Value {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("answer to {command} is not JSON ({e}): {line:?}"))
    }

    /// Sends `up` or `down` for `version`, which must succeed: whether the framework ran it (it
    /// skips what it has recorded as applied, or not applied), and the SQL it recorded sending.
    pub fn step(&mut self, cmd: &str, version: &str) -> (bool, Vec<String>) {
        let answer = self.send(json!({"cmd": cmd, "version": version}));
        assert_eq!(answer["ok"], true, "{cmd} {version}: {answer}");
        let sql = answer["sql"].as_array().unwrap_or_else(|| panic!("no sql: {answer}"));
        (answer["ran"].as_bool().unwrap(), sql.iter().map(|s| s.as_str().unwrap().to_string()).collect())
    }

    /// Asks the driver to quit; it must exit 0.
    pub fn quit(mut self) {
        assert_eq!(self.send(json!({"cmd": "quit"}))["ok"], true);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}");
    }
}

/// `pgconverge check DIR --format json --no-persist EXTRA` on an embedded cluster of its own (a
/// framework driver connects without a password, so framework runners need one): exit code and report.
pub fn check_embedded_json(project: &std::path::Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let project = project.to_str().unwrap();
    let mut args = vec!["check", project, "--format", "json", "--no-persist"];
    args.extend_from_slice(extra);
    let run = super::pgconverge_embedded(&args);
    let report = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not a JSON report ({e}): {}\n{}", run.stdout, run.stderr));
    (run.code, report)
}

/// The verdict of `property` in a JSON report.
pub fn verdict<'a>(report: &'a serde_json::Value, property: &str) -> &'a serde_json::Value {
    report["verdicts"].as_array().unwrap().iter().find(|v| v["property"] == property).unwrap_or_else(|| panic!("no {property}: {report}"))
}
