//! Image commands: import, images, rmi, tag, untag, image inspect/exists.

use clap::{Args, Subcommand};

use crate::{Context, Error, Result};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Tarball path or URL, or - for standard input
    pub source: String,
    /// Name for the new image
    pub reference: Option<String>,
    /// Apply a Containerfile instruction: CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL
    #[arg(short, long = "change")]
    pub change: Vec<String>,
    /// Commit message for the imported image
    #[arg(short, long)]
    pub message: Option<String>,
    /// Suppress output
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    pub all: bool,
    /// Show only image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Do not print column headings
    #[arg(short, long)]
    pub noheading: bool,
    /// Filter output based on conditions given
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Pretty-print images using a Go template, or json
    #[arg(long)]
    pub format: Option<String>,
    /// Image name to list
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Remove all images
    #[arg(short, long)]
    pub all: bool,
    /// Force removal of the image and any containers using it
    #[arg(short, long)]
    pub force: bool,
    /// Images to remove
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    pub image: String,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UntagArgs {
    pub image: String,
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImageInspectArgs {
    /// Format the output using a Go template, or json
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImageExistsArgs {
    pub image: String,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images in local storage
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    /// Remove one or more images from local storage
    Rm(RmiArgs),
    /// Add an additional name to a local image
    Tag(TagArgs),
    /// Remove a name from a local image
    Untag(UntagArgs),
    /// Display the configuration of an image
    Inspect(ImageInspectArgs),
    /// Check if an image exists in local storage
    Exists(ImageExistsArgs),
    /// Import a tarball to create a filesystem image
    Import(ImportArgs),
}

impl ImageCommand {
    pub fn needs_userns(&self) -> bool {
        matches!(self, ImageCommand::Rm(_) | ImageCommand::Import(_))
    }
}

pub fn dispatch(ctx: &Context, c: ImageCommand) -> Result<i32> {
    match c {
        ImageCommand::Ls(a) => images(ctx, a),
        ImageCommand::Rm(a) => rmi(ctx, a),
        ImageCommand::Tag(a) => tag(ctx, a),
        ImageCommand::Untag(a) => untag(ctx, a),
        ImageCommand::Inspect(a) => inspect(ctx, a),
        ImageCommand::Exists(a) => exists(ctx, a),
        ImageCommand::Import(a) => import(ctx, a),
    }
}

fn todo() -> Result<i32> {
    Err(Error::msg("not implemented yet"))
}

pub fn import(_ctx: &Context, _a: ImportArgs) -> Result<i32> {
    todo()
}
pub fn images(_ctx: &Context, _a: ImagesArgs) -> Result<i32> {
    todo()
}
pub fn rmi(_ctx: &Context, _a: RmiArgs) -> Result<i32> {
    todo()
}
pub fn tag(_ctx: &Context, _a: TagArgs) -> Result<i32> {
    todo()
}
pub fn untag(_ctx: &Context, _a: UntagArgs) -> Result<i32> {
    todo()
}
pub fn inspect(_ctx: &Context, _a: ImageInspectArgs) -> Result<i32> {
    todo()
}
pub fn exists(_ctx: &Context, _a: ImageExistsArgs) -> Result<i32> {
    todo()
}
