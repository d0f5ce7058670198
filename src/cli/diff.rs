//! `pgconverge diff`: compare two catalogs, each a JSON dump or a project directory.

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use pgconverge::{compare, BackendChoice, Catalog, Error, Status};

use super::dump::{dump_dir, Source};
use super::exit::ErrorStyle;

#[derive(clap::Args)]
pub struct DiffArgs {
    expected: PathBuf,
    found: PathBuf,
    /// For a directory: dump its reference or its migrations.
    #[arg(long, value_enum, default_value_t = Source::Migrations)]
    source: Source,
    #[arg(long, env = "PGCONVERGE_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    #[arg(long, value_enum, default_value_t = DiffFormat::Human)]
    format: DiffFormat,
    /// A column-order difference counts as a difference (otherwise a warning).
    #[arg(long)]
    strict_column_order: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DiffFormat {
    Human,
    Json,
}

impl DiffArgs {
    pub fn error_style(&self) -> ErrorStyle {
        match self.format {
            DiffFormat::Human => ErrorStyle::Human,
            DiffFormat::Json => ErrorStyle::Json,
        }
    }

    /// Converges when the catalogs are equal, a counterexample when they differ.
    pub async fn run(self) -> Result<Status, Error> {
        let url = self.database_url.as_deref();
        let expected = load_catalog(&self.expected, self.source, url).await?;
        let found = load_catalog(&self.found, self.source, url).await?;
        let options = compare::CompareOptions { strict_column_order: self.strict_column_order };
        let differences = compare::compare(&expected, &found, &options);
        match self.format {
            DiffFormat::Json => println!("{}", serde_json::to_string_pretty(&differences).expect("serializable")),
            DiffFormat::Human => {
                for difference in &differences {
                    println!("{difference}");
                }
                if differences.is_empty() {
                    println!("no differences");
                }
            }
        }
        Ok(if compare::has_errors(&differences) { Status::Counterexample } else { Status::Converges })
    }
}

async fn load_catalog(path: &Path, source: Source, url: Option<&str>) -> Result<Catalog, Error> {
    if path.is_dir() {
        return dump_dir(path, source, url, BackendChoice::Auto, None).await;
    }
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadDump { path: path.to_path_buf(), source })?;
    Catalog::from_json(&text).map_err(|source| Error::InvalidDump { path: path.to_path_buf(), source })
}
