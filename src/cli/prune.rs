//! `image prune`: removes dangling images (or, with `-a`, every image no
//! container uses), then the layers and blobs only they used.

use std::collections::HashSet;
use std::io::BufRead;

use clap::Args;

use crate::image::ImageStore;
use crate::state::container::Containers;
use crate::{Context, Error, Result};

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all images not in use by containers, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

pub fn prune(ctx: &Context, a: PruneArgs) -> Result<i32> {
    if !a.force {
        let what = if a.all {
            "all images not used by a container"
        } else {
            "all dangling images"
        };
        eprint!("WARNING! This command removes {what}.\nAre you sure you want to continue? [y/N] ");
        let stdin = std::io::stdin();
        let mut answer = String::new();
        let _ = stdin.lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let store = ImageStore::new(ctx);
    let containers = Containers::new(ctx.containers_dir());
    let _clock = containers.lock()?;
    let used: HashSet<String> = containers
        .list()?
        .into_iter()
        .map(|c| c.config.image_id)
        .collect();
    // Removing images can make others dangling only through names, which
    // prune never touches: one pass is enough.
    let mut errors = Vec::new();
    for rec in store.records()? {
        if used.contains(&rec.id) || (!a.all && !rec.names.is_empty()) {
            continue;
        }
        match store.remove_image(&rec.id) {
            Ok(_) => println!("{}", rec.id),
            Err(e) => errors.push(Error::from(e)),
        }
    }
    match errors.pop() {
        Some(e) => {
            for other in &errors {
                crate::cli::report(other);
            }
            Err(e)
        }
        None => Ok(0),
    }
}
