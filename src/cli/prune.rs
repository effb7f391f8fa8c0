//! `image prune`: removes dangling images (or, with `-a`, every image no
//! container uses), then the layers and blobs only they used.

use std::io::BufRead;

use clap::Args;

use crate::{Context, Result};

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
    let mut errors = Vec::new();
    for id in crate::container::prune::prune_images(ctx, a.all, &mut |e| errors.push(e))? {
        println!("{id}");
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
