//! `pgconverge reap`: remove what killed runs left behind.

use pgconverge::runner::{container, embedded};
use pgconverge::{Error, Status};

pub fn run() -> Result<Status, Error> {
    let clusters = embedded::reap_stale_clusters(&embedded::cluster_base_dir());
    println!("removed {clusters} leftover embedded cluster directories");
    let containers = container::reap()?;
    println!("removed {containers} leftover containers");
    Ok(Status::Converges)
}
