//! The command adapter (`runner = "command"`): the project's own migrator runs the migrations
//! (`bin/rails db:migrate:up VERSION={version}`, `alembic upgrade {version}`, ...), with
//! `DATABASE_URL` and `PG*` pointing at each case's scratch database. pgconverge only reads the
//! catalog. Properties that need statement-level control are reported as not applicable.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use sqlx::Connection;

use crate::catalog::{self, Canonicalizer, Catalog, IgnoreRules};
use crate::engine::{CheckError};
use crate::model::{plural, Failure, Property, Report, Status, Verdict, VerdictStatus};
use crate::compare::{self, CompareOptions};
use crate::project::config::{CommandConfig, Config};
use crate::migration::{Location, Script};
use crate::engine::prepare::{Preparation, Purpose};
use crate::project::{read_reference, ProjectError, DEFAULT_MIGRATIONS_DIR, DEFAULT_REFERENCE};
use crate::runner::{self, Backend, PgError, RunnerError, ScratchDatabase};

/// A project whose migrations a command runs.
#[derive(Debug, Clone)]
pub struct CommandProject {
    pub dir: PathBuf,
    pub config: Config,
    pub command: CommandConfig,
    /// Migration versions in canonical order, with the file each came from (if listed from files).
    pub migrations: Vec<(String, Option<PathBuf>)>,
    pub reference: Option<Script>,
}

impl CommandProject {
    pub fn load(dir: &Path, config: Config) -> Result<CommandProject, ProjectError> {
        let command = config.command.clone().ok_or_else(|| ProjectError::Config(crate::project::config::ConfigError::Invalid {
            location: Location { file: dir.join(crate::project::config::CONFIG_FILE), line: 1, column: 1 },
            message: "runner = \"command\" needs a [command] table with at least `up`".into(),
        }))?;
        let migrations = match &command.list {
            Some(list) => list_versions(dir, &command, list)?,
            None => versions_from_files(&dir.join(config.migrations.as_deref().unwrap_or(Path::new(DEFAULT_MIGRATIONS_DIR))))?,
        };
        let reference_path = dir.join(config.reference.as_deref().unwrap_or(Path::new(DEFAULT_REFERENCE)));
        let reference = reference_path.is_file().then(|| read_reference(&reference_path)).transpose()?;
        Ok(CommandProject { dir: dir.to_path_buf(), config, command, migrations, reference })
    }

    fn workdir(&self) -> PathBuf {
        self.dir.join(self.command.workdir.as_deref().unwrap_or(Path::new(".")))
    }
}

/// `<version>_<name>.<any extension>` files, versions in numeric order.
fn versions_from_files(dir: &Path) -> Result<Vec<(String, Option<PathBuf>)>, ProjectError> {
    let entries = std::fs::read_dir(dir).map_err(|source| crate::migration::MigrationError::Io { path: dir.to_path_buf(), source })?;
    let pattern = regex::Regex::new(r"^(\d+)_[^/]+$").expect("valid regex");
    let mut found: Vec<(String, Option<PathBuf>)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version = pattern.captures(&name)?.get(1)?.as_str().to_string();
            Some((version, Some(e.path())))
        })
        .collect();
    found.sort_by(|a, b| crate::migration::version::integer_key(&a.0).cmp(&crate::migration::version::integer_key(&b.0)));
    found.dedup_by(|a, b| a.0 == b.0);
    if found.is_empty() {
        return Err(crate::migration::MigrationError::Empty { path: dir.to_path_buf(), format: crate::migration::Format::Plain }.into());
    }
    Ok(found)
}

fn list_versions(dir: &Path, command: &CommandConfig, list: &str) -> Result<Vec<(String, Option<PathBuf>)>, ProjectError> {
    let workdir = dir.join(command.workdir.as_deref().unwrap_or(Path::new(".")));
    let output = std::process::Command::new("sh").arg("-c").arg(list).current_dir(&workdir).stdin(Stdio::null()).output();
    let invalid = |message: String| {
        ProjectError::Config(crate::project::config::ConfigError::Invalid {
            location: Location { file: dir.join(crate::project::config::CONFIG_FILE), line: 1, column: 1 },
            message,
        })
    };
    let output = output.map_err(|e| invalid(format!("the `list` command `{list}` did not run: {e}")))?;
    if !output.status.success() {
        return Err(invalid(format!("the `list` command `{list}` failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim())));
    }
    let versions: Vec<(String, Option<PathBuf>)> =
        String::from_utf8_lossy(&output.stdout).lines().map(str::trim).filter(|l| !l.is_empty()).map(|v| (v.to_string(), None)).collect();
    if versions.is_empty() {
        return Err(invalid(format!("the `list` command `{list}` printed no versions")));
    }
    Ok(versions)
}

/// The environment that points a command at a database.
fn database_env(backend: &dyn Backend, database: &str) -> Result<Vec<(String, String)>, RunnerError> {
    let options = backend.admin_options();
    let user = options.get_username().to_string();
    let port = options.get_port().to_string();
    let host = match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => options.get_host().to_string(),
    };
    let url = match options.get_socket() {
        Some(socket) => format!("postgresql://{user}@localhost/{database}?host={}&port={port}", socket.display()),
        None => format!("postgresql://{user}@{host}:{port}/{database}"),
    };
    if backend.kind() != "embedded" {
        // The URL and container backends authenticate with a password the commands would need;
        // pgconverge never hands it on.
        return Err(RunnerError::CommandRunnerNeedsEmbedded { backend: backend.kind().to_string() });
    }
    Ok(vec![
        ("DATABASE_URL".into(), url),
        ("PGHOST".into(), host),
        ("PGPORT".into(), port),
        ("PGUSER".into(), user),
        ("PGDATABASE".into(), database.to_string()),
    ])
}

/// Runs one command template; `Some` failure when it exits non-zero.
async fn run_command(
    project: &CommandProject,
    backend: &dyn Backend,
    database: &str,
    template: &str,
    version: Option<&(String, Option<PathBuf>)>,
) -> Result<Option<Failure>, RunnerError> {
    let command = match version {
        Some((v, _)) => template.replace("{version}", v),
        None => template.to_string(),
    };
    let output = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .current_dir(project.workdir())
        .envs(database_env(backend, database)?)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|source| RunnerError::Spawn { program: format!("`{command}`"), source })?;
    if output.status.success() {
        return Ok(None);
    }
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    let tail: Vec<&str> = text.lines().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect();
    let file = version.and_then(|(_, f)| f.clone()).unwrap_or_else(|| project.dir.join(crate::project::config::CONFIG_FILE));
    Ok(Some(Failure::StatementFailed {
        migration: version.map_or_else(|| "load_schema".to_string(), |(v, _)| v.clone()),
        statement: 1,
        location: Location { file, line: 1, column: 1 },
        sql: command,
        error: PgError {
            code: format!("exit {}", output.status.code().map_or("signal".to_string(), |c| c.to_string())),
            message: tail.join("\n"),
            detail: None,
            hint: None,
            context: None,
            position: None,
        },
    }))
}

struct Session<'a> {
    project: &'a CommandProject,
    backend: &'a dyn Backend,
    canon: Canonicalizer,
    ignore: IgnoreRules,
    compare: CompareOptions,
    prep: Preparation,
}

impl Session<'_> {
    async fn database(&self) -> Result<ScratchDatabase, CheckError> {
        let database = ScratchDatabase::create(self.backend).await?;
        let mut conn = database.connect().await?;
        let failure = self.prep.apply(&mut conn, Purpose::Reference).await?;
        let _ = conn.close().await;
        if let Some(failure) = failure {
            database.drop_now().await?;
            return Err(CheckError::Setup { location: failure.location, error: failure.error });
        }
        Ok(database)
    }

    async fn dump(&mut self, database: &ScratchDatabase) -> Result<Catalog, RunnerError> {
        let mut conn = database.connect().await?;
        let catalog = catalog::dump(&mut conn, &mut self.canon, &self.ignore).await;
        let _ = conn.close().await;
        catalog
    }

    /// Runs `up` for each version in order; the first failure.
    async fn ups(&self, database: &ScratchDatabase, versions: &[(String, Option<PathBuf>)]) -> Result<Option<Failure>, RunnerError> {
        for version in versions {
            if let Some(failure) = run_command(self.project, self.backend, database.name(), &self.project.command.up, Some(version)).await? {
                return Ok(Some(failure));
            }
        }
        Ok(None)
    }

    async fn reference(&mut self) -> Result<Option<Catalog>, CheckError> {
        if let Some(script) = &self.project.reference {
            let database = self.database().await?;
            let mut conn = database.connect().await?;
            let applied = crate::engine::apply_reference(&mut conn, script).await;
            let _ = conn.close().await;
            if let Err(error) = applied {
                database.drop_now().await?;
                return Err(error);
            }
            let catalog = self.dump(&database).await?;
            database.drop_now().await?;
            return Ok(Some(catalog));
        }
        Ok(None)
    }
}

fn verdict(property: Property, status: VerdictStatus, summary: String, cases: u64, failure: Option<Failure>) -> Verdict {
    Verdict { property, status, summary, cases, failure, case: None, timing: None, warnings: vec![] }
}

fn diverged(expected: &Catalog, found: &Catalog, options: &CompareOptions, against: &str) -> Option<Failure> {
    let differences = compare::compare(expected, found, options);
    if !compare::has_errors(&differences) {
        return None;
    }
    let (expected_text, found_text) = compare::involved_text(expected, found, &differences);
    Some(Failure::Diverged { expected: against.to_string(), differences, expected_text, found_text })
}

/// Checks a command project: fresh (every `up` in order equals the reference), partial (from
/// every older version, and from a loaded schema), reversible (when `down` is given).
pub async fn check(project: &CommandProject, backend: &dyn Backend, properties: &[Property]) -> Result<Report, CheckError> {
    let wanted = |p: Property| properties.is_empty() || properties.contains(&p);
    let version = runner::server_version(backend).await?;
    let prep = Preparation::load(&crate::project::Project {
        dir: project.dir.clone(),
        config: project.config.clone(),
        migrations: crate::migration::MigrationSet { dir: project.dir.clone(), format: crate::migration::Format::Plain, migrations: vec![], unlisted: vec![], stray: vec![] },
        reference: None,
        reentrant: Default::default(),
    })
    .map_err(ProjectError::from)?;
    let mut session = Session {
        project,
        backend,
        canon: Canonicalizer::new(),
        ignore: IgnoreRules::with_owners(project.config.ignore.clone(), project.config.compare_owners),
        compare: CompareOptions { strict_column_order: project.config.strict_column_order },
        prep,
    };
    let reference = session.reference().await?;
    let against = project.reference.as_ref().map(|r| r.path.display().to_string()).unwrap_or_else(|| "the fresh run".into());
    let n = project.migrations.len();
    let mut verdicts = Vec::new();

    // fresh
    let database = session.database().await?;
    let fresh_failure = session.ups(&database, &project.migrations).await?;
    let fresh_catalog = match &fresh_failure {
        None => Some(session.dump(&database).await?),
        Some(_) => None,
    };
    database.drop_now().await?;
    let expected = reference.clone().or_else(|| fresh_catalog.clone());
    let fresh_verdict = match (fresh_failure, &fresh_catalog, &expected) {
        (Some(failure), _, _) => verdict(Property::Fresh, VerdictStatus::Fail, "a migration command failed on an empty database".into(), 1, Some(failure)),
        (None, Some(found), Some(expected)) => match diverged(expected, found, &session.compare, &against) {
            Some(failure) => verdict(Property::Fresh, VerdictStatus::Fail, format!("{} run in order, but the catalog differs from {against}", plural(n, "migration")), 1, Some(failure)),
            None => verdict(Property::Fresh, VerdictStatus::Pass, format!("{} run in order by the project's migrator; the catalog equals {against}", plural(n, "migration")), 1, None),
        },
        _ => unreachable!("a fresh run without failure has a catalog"),
    };
    let fresh_ok = fresh_verdict.status == VerdictStatus::Pass;
    if wanted(Property::Fresh) {
        verdicts.push(fresh_verdict);
    }
    let not_applicable = |p: Property, why: &str| verdict(p, VerdictStatus::Skipped, format!("not applicable with runner = \"command\": {why}"), 0, None);
    if wanted(Property::Idempotent) {
        verdicts.push(not_applicable(Property::Idempotent, "the migrator records what it ran and will not run it again"));
    }
    if wanted(Property::Partial) {
        verdicts.push(if fresh_ok { session.partial(expected.as_ref().expect("fresh passed")).await? } else { verdict(Property::Partial, VerdictStatus::Skipped, "not run: the fresh property fails, fix that first".into(), 0, None) });
    }
    if wanted(Property::Order) {
        verdicts.push(not_applicable(Property::Order, "dependencies cannot be inferred from the migrator's files"));
    }
    if wanted(Property::Interrupt) {
        verdicts.push(not_applicable(Property::Interrupt, "it needs statement-level control"));
    }
    if wanted(Property::Reversible) {
        verdicts.push(match &project.command.down {
            Some(down) if fresh_ok => session.reversible(down).await?,
            Some(_) => verdict(Property::Reversible, VerdictStatus::Skipped, "not run: the fresh property fails, fix that first".into(), 0, None),
            None => not_applicable(Property::Reversible, "no `down` command in [command]"),
        });
    }
    let status = if verdicts.iter().any(|v| v.status == VerdictStatus::Fail) { Status::Counterexample } else { Status::Converges };
    Ok(Report {
        status,
        project: project.dir.clone(),
        format: "command".into(),
        migrations: n,
        migration_ids: project.migrations.iter().map(|(v, _)| v.clone()).collect(),
        reference: project.reference.as_ref().map(|r| r.path.clone()),
        backend: backend.describe(),
        server_version: version.to_string(),
        major: version.major,
        reference_objects: expected.map_or(0, |c| c.objects.len()),
        seed: None,
        nondeterministic: vec![],
        notes: vec![],
        verdicts,
    })
}

impl Session<'_> {
    /// From every older version (each prefix applied, the rest pending), and from a loaded
    /// schema when `load_schema` is given: exhaustive, no sampling needed.
    async fn partial(&mut self, expected: &Catalog) -> Result<Verdict, CheckError> {
        let versions = &self.project.migrations;
        let mut cases = 0;
        for applied in 0..versions.len() {
            cases += 1;
            let database = self.database().await?;
            let failure = match self.ups(&database, &versions[..applied]).await? {
                Some(_) => None, // the canonical prefix passed in fresh; a failure here is not this property's
                None => match self.ups(&database, &versions[applied..]).await? {
                    Some(failure) => Some(failure),
                    None => diverged(expected, &self.dump(&database).await?, &self.compare, "the reference"),
                },
            };
            database.drop_now().await?;
            if let Some(failure) = failure {
                let summary = format!("with {} applied, migrating the rest fails", plural(applied, "migration"));
                return Ok(verdict(Property::Partial, VerdictStatus::Fail, summary, cases, Some(failure)));
            }
        }
        if let Some(load_schema) = self.project.command.load_schema.clone() {
            cases += 1;
            let database = self.database().await?;
            let failure = match run_command(self.project, self.backend, database.name(), &load_schema, None).await? {
                Some(failure) => Some(failure),
                None => match self.ups(&database, versions).await? {
                    Some(failure) => Some(failure),
                    None => diverged(expected, &self.dump(&database).await?, &self.compare, "the reference"),
                },
            };
            database.drop_now().await?;
            if let Some(failure) = failure {
                let summary = "after load_schema, running every migration does not converge".to_string();
                return Ok(verdict(Property::Partial, VerdictStatus::Fail, summary, cases, Some(failure)));
            }
        }
        let schema = if self.project.command.load_schema.is_some() { " and from a loaded schema" } else { "" };
        Ok(verdict(Property::Partial, VerdictStatus::Pass, format!("{} converged: from every older version{schema}", plural(cases as usize, "case")), cases, None))
    }

    async fn reversible(&mut self, down: &str) -> Result<Verdict, CheckError> {
        let versions = &self.project.migrations;
        let database = self.database().await?;
        let empty = self.dump(&database).await?;
        let mut before = empty.clone();
        let mut cases = 0;
        for version in versions {
            cases += 1;
            let step = async {
                if let Some(f) = run_command(self.project, self.backend, database.name(), &self.project.command.up, Some(version)).await? {
                    return Ok::<_, RunnerError>(Some(f));
                }
                run_command(self.project, self.backend, database.name(), down, Some(version)).await
            };
            if let Some(failure) = step.await? {
                database.drop_now().await?;
                return Ok(verdict(Property::Reversible, VerdictStatus::Fail, format!("{} up then down failed", version.0), cases, Some(failure)));
            }
            let after = self.dump(&database).await?;
            if let Some(failure) = diverged(&before, &after, &self.compare, &format!("the catalog before {}", version.0)) {
                database.drop_now().await?;
                return Ok(verdict(Property::Reversible, VerdictStatus::Fail, format!("{} up then down does not restore the catalog", version.0), cases, Some(failure)));
            }
            if let Some(failure) = run_command(self.project, self.backend, database.name(), &self.project.command.up, Some(version)).await? {
                database.drop_now().await?;
                return Ok(verdict(Property::Reversible, VerdictStatus::Fail, format!("{} failed when re-applied after its down", version.0), cases, Some(failure)));
            }
            before = self.dump(&database).await?;
        }
        for version in versions.iter().rev() {
            if let Some(failure) = run_command(self.project, self.backend, database.name(), down, Some(version)).await? {
                database.drop_now().await?;
                return Ok(verdict(Property::Reversible, VerdictStatus::Fail, "undoing the whole set failed".into(), cases, Some(failure)));
            }
        }
        let after = self.dump(&database).await?;
        database.drop_now().await?;
        if let Some(failure) = diverged(&empty, &after, &self.compare, "an empty database") {
            return Ok(verdict(Property::Reversible, VerdictStatus::Fail, "all downs in reverse do not restore an empty database".into(), cases + 1, Some(failure)));
        }
        Ok(verdict(Property::Reversible, VerdictStatus::Pass, format!("{}: up then down restores the catalog; all downs restore an empty database", plural(versions.len(), "migration")), cases + 1, None))
    }
}
