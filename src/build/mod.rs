//! Building images from a Containerfile or Dockerfile.
//!
//! - `parser`: lines, parser directives, continuations, heredocs -> nodes;
//! - `instruction`: each node's arguments -> a typed [`Instruction`];
//! - `substitute`: `$VAR` / `${VAR:-word}` expansion and word splitting;
//! - `plan`: stages, ARG scoping, `--target`, and the per-step
//!   instructions with every variable substituted, which the executor runs;
//! - `ignore`: `.containerignore` / `.dockerignore` patterns;
//! - `executor`: runs the plan (working containers, COPY/ADD through
//!   `transfer`, the configuration in `config`, layers through `commit`,
//!   the step cache in `cache`).
//!
//! Docker's Dockerfile reference is the spec; BuildKit's parser settles the
//! corner cases, and where buildah (what `podman build` runs) differs we
//! follow buildah and say so where it happens.

pub mod cache;
pub mod commit;
pub mod config;
pub mod executor;
pub mod ignore;
pub mod instruction;
pub mod parser;
pub mod plan;
pub mod substitute;
pub mod transfer;

pub use ignore::Ignore;
pub use instruction::{Command, Healthcheck, Instruction, MountKind, RunMount, Transfer};
pub use parser::{parse, Dockerfile, Heredoc, Node};
pub use plan::{Base, BuildOptions, Plan, Stage, Step};

use substitute::SubstError;

/// A build front-end error: one line naming the file, the line and the
/// instruction where there is one (`Containerfile:7: unknown instruction:
/// FOO`, `Containerfile:3: COPY: requires at least two arguments`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Something wrong at a line of the Containerfile.
    #[error("{file}:{line}: {what}")]
    At {
        file: String,
        line: usize,
        what: What,
    },
    /// Nothing but comments and blank lines.
    #[error("{file}: file with no instructions")]
    Empty { file: String },
    /// `--target` names no stage.
    #[error("target stage {target:?} could not be found")]
    UnknownTarget { target: String },
    /// A `.containerignore` / `.dockerignore` line that is not a valid pattern.
    #[error("{file}:{line}: invalid ignore pattern {pattern:?}")]
    IgnorePattern {
        file: String,
        line: usize,
        pattern: String,
    },
}

/// What is wrong at a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum What {
    #[error("unknown instruction: {0}")]
    UnknownInstruction(String),
    #[error("unterminated heredoc")]
    UnterminatedHeredoc,
    #[error("only one {0} parser directive can be used")]
    DuplicateDirective(String),
    #[error("invalid escape token '{0}' does not match ` or \\")]
    BadEscape(String),
    /// An instruction before the first FROM that is not ARG.
    #[error("{0}: no build stage in current context (only ARG may come before the first FROM)")]
    BeforeFrom(String),
    /// Only ARGs, no stage.
    #[error("no FROM instruction: a Containerfile needs at least one stage")]
    NoStage,
    #[error("{instruction}: {reason}")]
    Instruction { instruction: String, reason: Reason },
}

/// Why an instruction's arguments are wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    #[error("unknown flag: --{0}")]
    UnknownFlag(String),
    #[error("duplicate flag specified: --{0}")]
    DuplicateFlag(String),
    #[error("missing a value on flag: --{0}")]
    MissingFlagValue(String),
    #[error("expecting boolean value for flag --{flag}, not: {value}")]
    BadBool { flag: String, value: String },
    #[error("requires at least one argument")]
    NoArguments,
    #[error("requires exactly one argument")]
    NotOneArgument,
    #[error("requires at least two arguments: one or more sources and a destination")]
    NoDestination,
    #[error("when using JSON array syntax, arrays must be comprised of strings only")]
    NotStringArray,
    /// A stage reference (`COPY --from`, `RUN --mount=from=`, `FROM`) that
    /// cannot be used.
    #[error("{0}")]
    Stage(String),
    /// Any other malformed argument; the text names it.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Subst(#[from] SubstError),
}

impl Error {
    /// An instruction error at `line` of `file`.
    pub(crate) fn instruction(file: &str, line: usize, instruction: &str, reason: Reason) -> Self {
        Error::At {
            file: file.to_string(),
            line,
            what: What::Instruction {
                instruction: instruction.to_string(),
                reason,
            },
        }
    }
}
