//! `pgconverge reap`: remove what killed runs left behind.

use pgconverge::runner::embedded;
use pgconverge::{Error, Status};

pub async fn run() -> Result<Status, Error> {
    let clusters = embedded::reap_stale_clusters(&embedded::cluster_base_dir());
    println!("removed {} leftover embedded cluster directories", clusters.removed);
    for refusal in clusters.refusals() {
        eprintln!("warning: {refusal}");
    }
    #[cfg(feature = "container")]
    {
        let containers = pgconverge::runner::container::reap().await?;
        println!("removed {containers} leftover containers");
    }
    Ok(Status::Converges)
}
