//! `pgconverge reap`: remove what killed runs left behind.

use std::time::Duration;

use pgconverge::runner::owner::{self, ObjectKind, ReapPolicy};
use pgconverge::runner::{embedded, Backend, ExistingServer};
use pgconverge::{Error, Status};

#[derive(clap::Args)]
pub struct ReapArgs {
    /// Also drop what runs that died left on this server: pgconverge_* databases and roles whose owner record names a process of this host that is gone.
    #[arg(long, env = "PGCONVERGE_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// With --database-url: also drop pgconverge_* databases and roles nobody is connected to that are at least this old (30s, 10m, 2h, 7d): another host's, and databases without an owner record.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "database_url")]
    older_than: Option<Duration>,
}

impl ReapArgs {
    pub async fn run(self) -> Result<Status, Error> {
        // A bad URL is the user's to fix (exit 2) before anything is touched.
        let server = self.database_url.as_deref().map(ExistingServer::from_url).transpose()?;
        let clusters = embedded::reap_stale_clusters(&embedded::cluster_base_dir());
        println!("removed {} leftover embedded cluster directories", clusters.removed);
        for refusal in clusters.refusals() {
            eprintln!("warning: {refusal}");
        }
        let Some(server) = server else {
            #[cfg(feature = "container")]
            {
                let containers = pgconverge::runner::container::reap().await?;
                println!("removed {containers} leftover containers");
            }
            return Ok(Status::Converges);
        };
        #[cfg(feature = "container")]
        if pgconverge::runner::container::engine_available().await {
            let containers = pgconverge::runner::container::reap().await?;
            println!("removed {containers} leftover containers");
        }
        let mut reaped = owner::reap_server(&server.admin_options(), ReapPolicy { older_than: self.older_than }).await?;
        for leftover in &reaped.leftovers {
            println!("{leftover}");
        }
        let (databases, roles, failed) = (reaped.dropped(ObjectKind::Database), reaped.dropped(ObjectKind::Role), reaped.failed());
        let failed = if failed > 0 { format!(", could not drop {failed}") } else { String::new() };
        println!(
            "{}: dropped {}, {}; left alone {}{failed}",
            server.describe(),
            plural(databases, "database"),
            plural(roles, "role"),
            reaped.left_alone(),
        );
        match reaped.take_first_failure() {
            Some(error) => Err(error.into()),
            None => Ok(Status::Converges),
        }
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// `30s`, `10m`, `2h`, `7d`, or a number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 =
        number.parse().map_err(|_| format!("`{text}` is not a duration: write a number and s, m, h or d (30s, 10m, 2h, 7d)"))?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}` is not a duration: the unit is s, m, h or d (30s, 10m, 2h, 7d)")),
    };
    number.checked_mul(seconds).map(Duration::from_secs).ok_or_else(|| format!("`{text}` is too long a duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        for bad in ["", "m", "1w", "1.5h", "-1s", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
