//! Docker credential helpers: `docker-credential-NAME get|store|erase`,
//! named by `credHelpers` (per registry) or `credsStore` in auth.json and
//! Docker's config.json. The protocol is docker-credential-helpers': the
//! server on stdin for `get` and `erase`, a `{ServerURL, Username, Secret}`
//! object for `store` and as `get`'s answer.

use std::io::Write;
use std::process::{Command, Stdio};

use super::auth::Credentials;
use super::error::{Error, Result};

/// What helpers print (with exit 1) when they have nothing for a server.
const NOT_FOUND: &str = "credentials not found";

/// The program a helper name means: `pass` -> `docker-credential-pass`.
pub fn program(name: &str) -> String {
    format!("docker-credential-{name}")
}

/// Runs `docker-credential-NAME ACTION` with `input` on stdin; its stdout
/// on success, `Ok(None)` when it says it has no credentials.
fn run(name: &str, action: &str, server: &str, input: &[u8]) -> Result<Option<Vec<u8>>> {
    let prog = program(name);
    let fail = |reason: String| Error::CredentialHelper {
        helper: prog.clone(),
        action: action.to_string(),
        server: server.to_string(),
        reason,
    };
    tracing::debug!("running {prog} {action} for {server}");
    let mut child = Command::new(&prog)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::CredentialHelperMissing {
                helper: prog.clone(),
                server: server.to_string(),
            },
            _ => fail(crate::error::io_reason(&e)),
        })?;
    let mut stdin = child.stdin.take().expect("stdin was piped");
    // A helper that exits without reading its input is judged by its status.
    let _ = stdin.write_all(input);
    drop(stdin);
    let out = child
        .wait_with_output()
        .map_err(|e| fail(crate::error::io_reason(&e)))?;
    if out.status.success() {
        return Ok(Some(out.stdout));
    }
    let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if said.contains(NOT_FOUND) || err.contains(NOT_FOUND) {
        return Ok(None);
    }
    let why = [said, err]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    let status = match out.status.code() {
        Some(c) => format!("exit status {c}"),
        None => "killed by a signal".to_string(),
    };
    let why = why.lines().next().unwrap_or("").to_string();
    Err(fail(if why.is_empty() {
        status
    } else {
        format!("{status}: {why}")
    }))
}

/// `get`: the helper's credentials for `server`, `None` when it has none.
/// An identity token (`Username` `<token>`) is not something skiff can
/// use yet; it counts as none.
pub fn get(name: &str, server: &str) -> Result<Option<Credentials>> {
    let Some(out) = run(name, "get", server, server.as_bytes())? else {
        return Ok(None);
    };
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "Username", default)]
        username: String,
        #[serde(rename = "Secret", default)]
        secret: String,
    }
    let a: Answer = serde_json::from_slice(&out).map_err(|e| Error::CredentialHelper {
        helper: program(name),
        action: "get".into(),
        server: server.to_string(),
        reason: format!("invalid answer: {e}"),
    })?;
    if a.username == "<token>" {
        tracing::debug!(
            "{}: an identity token for {server} is not supported",
            program(name)
        );
        return Ok(None);
    }
    if a.username.is_empty() && a.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials::new(a.username, a.secret)))
}

/// `store`: hands `credentials` for `server` to the helper.
pub fn store(name: &str, server: &str, credentials: &Credentials) -> Result<()> {
    let input = serde_json::json!({
        "ServerURL": server,
        "Username": credentials.username,
        "Secret": credentials.password,
    });
    run(name, "store", server, input.to_string().as_bytes())?.ok_or_else(|| {
        Error::CredentialHelper {
            helper: program(name),
            action: "store".into(),
            server: server.to_string(),
            reason: "credentials not found".into(),
        }
    })?;
    Ok(())
}

/// `erase`: removes the helper's credentials for `server`; `false` when it
/// had none.
pub fn erase(name: &str, server: &str) -> Result<bool> {
    Ok(run(name, "erase", server, server.as_bytes())?.is_some())
}
