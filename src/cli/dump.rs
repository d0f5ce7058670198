//! `pgconverge dump`: the canonical catalog of a project's reference or migrations, or of an
//! existing database.

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use pgconverge::{BackendChoice, Catalog, DumpSource, Error, Status};

use super::exit::ErrorStyle;

#[derive(clap::Args)]
pub struct DumpArgs {
    /// The project directory.
    #[arg(required_unless_present = "from_database")]
    dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Source::Reference)]
    source: Source,
    /// Read this existing database (read-only) instead of a project.
    #[arg(long, conflicts_with = "dir")]
    from_database: Option<String>,
    #[arg(long, env = "PGCONVERGE_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    #[arg(long, value_enum, default_value_t = DumpFormat::Text)]
    format: DumpFormat,
    /// Dump on this PostgreSQL major (embedded or container, see --backend).
    #[arg(long = "pg")]
    major: Option<u32>,
    #[arg(long, value_enum, env = "PGCONVERGE_BACKEND", default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DumpFormat {
    Text,
    Json,
}

/// Which catalog of a project directory: its reference schema or its migrations.
#[derive(Clone, Copy, ValueEnum)]
pub enum Source {
    Reference,
    Migrations,
}

impl From<Source> for DumpSource {
    fn from(source: Source) -> DumpSource {
        match source {
            Source::Reference => DumpSource::Reference,
            Source::Migrations => DumpSource::Migrations,
        }
    }
}

impl DumpArgs {
    pub fn error_style(&self) -> ErrorStyle {
        match self.format {
            DumpFormat::Text => ErrorStyle::Human,
            DumpFormat::Json => ErrorStyle::Json,
        }
    }

    pub async fn run(self) -> Result<Status, Error> {
        let catalog = match (&self.from_database, &self.dir) {
            (Some(url), _) => pgconverge::dump_url(url).await?,
            (None, Some(dir)) => dump_dir(dir, self.source, self.database_url.as_deref(), self.backend, self.major).await?,
            (None, None) => unreachable!("clap requires one of them"),
        };
        match self.format {
            DumpFormat::Text => print!("{}", catalog.render()),
            DumpFormat::Json => println!("{}", catalog.to_json()),
        }
        Ok(Status::Converges)
    }
}

/// A project's catalog, on a scratch database of the chosen backend.
pub async fn dump_dir(dir: &Path, source: Source, url: Option<&str>, backend: BackendChoice, major: Option<u32>) -> Result<Catalog, Error> {
    let backend = pgconverge::start_backend_for(backend, url, major, None).await?;
    let catalog = pgconverge::dump_project(dir, source.into(), backend.as_ref()).await;
    backend.shutdown().await;
    catalog
}
