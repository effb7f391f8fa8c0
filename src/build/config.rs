//! The image configuration as a build changes it: the metadata
//! instructions (ENV, CMD, LABEL, ...) applied to an OCI configuration, the
//! history entries, and the Docker-only fields (`Healthcheck`, `OnBuild`,
//! `Shell`) that the OCI types cannot hold, kept beside it.
//!
//! As buildah does: with `--format oci` (the default) HEALTHCHECK, ONBUILD
//! and SHELL are not stored in the image (SHELL still applies to the rest
//! of the build) and a warning says so; with `--format docker` they are.

use chrono::Utc;
use oci_spec::image::{HistoryBuilder, ImageConfiguration};
use serde_json::{json, Map, Value};

use super::instruction::{Command, Healthcheck, Instruction};
use crate::image::change::{self, Change};

/// The default SHELL: `["/bin/sh", "-c"]`.
pub fn default_shell() -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into()]
}

/// Docker config fields the OCI configuration has no place for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extras {
    /// `OnBuild`: trigger instructions, as written.
    pub on_build: Vec<String>,
    /// `Healthcheck`, in Docker's JSON shape.
    pub healthcheck: Option<Value>,
    /// `Shell`.
    pub shell: Option<Vec<String>>,
}

impl Extras {
    /// True when there is nothing to store.
    pub fn is_empty(&self) -> bool {
        self.on_build.is_empty() && self.healthcheck.is_none() && self.shell.is_none()
    }

    /// Reads the fields from an image's raw config JSON.
    pub fn from_config_json(raw: &[u8]) -> Extras {
        let Ok(v) = serde_json::from_slice::<Value>(raw) else {
            return Extras::default();
        };
        let c = &v["config"];
        let strings = |v: &Value| -> Option<Vec<String>> {
            v.as_array().map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
        };
        Extras {
            on_build: strings(&c["OnBuild"]).unwrap_or_default(),
            healthcheck: c.get("Healthcheck").filter(|h| !h.is_null()).cloned(),
            shell: strings(&c["Shell"]).filter(|s| !s.is_empty()),
        }
    }

    /// Adds the fields to a serialised configuration (`config` object).
    pub fn merge_into(&self, v: &mut Value) {
        if self.is_empty() {
            return;
        }
        let obj = v.as_object_mut().expect("an image config is an object");
        let c = obj
            .entry("config")
            .or_insert_with(|| Value::Object(Map::new()));
        if !c.is_object() {
            *c = Value::Object(Map::new());
        }
        let c = c.as_object_mut().expect("made an object above");
        if !self.on_build.is_empty() {
            c.insert("OnBuild".into(), json!(self.on_build));
        }
        if let Some(h) = &self.healthcheck {
            c.insert("Healthcheck".into(), h.clone());
        }
        if let Some(s) = &self.shell {
            c.insert("Shell".into(), json!(s));
        }
    }
}

/// The configuration of a stage while it is built.
#[derive(Debug, Clone)]
pub struct StageConfig {
    pub image: ImageConfiguration,
    pub extras: Extras,
    /// The SHELL in effect for RUN, CMD and ENTRYPOINT in shell form.
    pub shell: Vec<String>,
    /// CMD was set in this stage (an ENTRYPOINT then keeps it; otherwise
    /// ENTRYPOINT clears the CMD inherited from the base, as Docker does).
    pub cmd_set: bool,
}

impl StageConfig {
    /// The stage's starting configuration from its base image's.
    pub fn from_base(image: ImageConfiguration, extras: Extras) -> StageConfig {
        let shell = extras.shell.clone().unwrap_or_else(default_shell);
        StageConfig {
            image,
            extras,
            shell,
            cmd_set: false,
        }
    }

    /// The `Env` list (`K=V`).
    pub fn env(&self) -> Vec<String> {
        self.image
            .config()
            .as_ref()
            .and_then(|c| c.env().clone())
            .unwrap_or_default()
    }

    /// The working directory, `/` when unset.
    pub fn workdir(&self) -> String {
        self.image
            .config()
            .as_ref()
            .and_then(|c| c.working_dir().clone())
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into())
    }

    /// The USER, empty when unset.
    pub fn user(&self) -> String {
        self.image
            .config()
            .as_ref()
            .and_then(|c| c.user().clone())
            .unwrap_or_default()
    }

    /// Applies a metadata instruction. Returns a warning when the
    /// instruction cannot be stored in the image's format.
    pub fn apply(&mut self, ins: &Instruction, docker: bool) -> Option<String> {
        // buildah's words (`what` names the instruction, then its value).
        let not_oci = |what: &str, value: Option<String>| {
            (!docker).then(|| match value {
                Some(v) => format!(
                    "{what} is not supported for OCI image format, {v} will be ignored. Must use `docker` format"
                ),
                None => format!(
                    "{what} is not supported for OCI image format and will be ignored. Must use `docker` format"
                ),
            })
        };
        let ch = match ins {
            Instruction::Cmd(c) => {
                self.cmd_set = true;
                Change::Cmd(c.argv(&self.shell))
            }
            Instruction::Entrypoint(c) => {
                if !self.cmd_set {
                    if let Some(mut c) = self.image.config().clone() {
                        c.set_cmd(None);
                        self.image.set_config(Some(c));
                    }
                }
                Change::Entrypoint(c.argv(&self.shell))
            }
            Instruction::Env(kvs) => Change::Env(kvs.clone()),
            Instruction::Label(kvs) => Change::Label(kvs.clone()),
            Instruction::Expose(ports) => Change::Expose(
                ports
                    .iter()
                    .map(|p| {
                        if p.contains('/') {
                            p.to_ascii_lowercase()
                        } else {
                            format!("{p}/tcp")
                        }
                    })
                    .collect(),
            ),
            Instruction::Volume(v) => Change::Volume(v.clone()),
            Instruction::User(u) => Change::User(u.clone()),
            Instruction::Workdir(w) => Change::Workdir(w.clone()),
            Instruction::StopSignal(s) => Change::StopSignal(s.clone()),
            Instruction::Maintainer(m) => {
                self.image.set_author(Some(m.clone()));
                return None;
            }
            Instruction::Shell(s) => {
                self.shell = s.clone();
                if docker {
                    self.extras.shell = Some(s.clone());
                }
                // Go's %v of a []string, as buildah prints it.
                return not_oci("SHELL", Some(format!("[{}]", s.join(" "))));
            }
            Instruction::Onbuild(t) => {
                if docker {
                    self.extras.on_build.push(t.clone());
                }
                return not_oci("ONBUILD", Some(t.to_string()));
            }
            Instruction::Healthcheck(h) => {
                if docker {
                    self.extras.healthcheck = Some(healthcheck_json(h));
                }
                return not_oci("HEALTHCHECK", None);
            }
            Instruction::From(_)
            | Instruction::Arg(_)
            | Instruction::Run(_)
            | Instruction::Copy(_)
            | Instruction::Add(_) => return None,
        };
        change::apply(&mut self.image, &[ch]);
        None
    }

    /// Appends a history entry and stamps the creation time.
    pub fn add_history(&mut self, created_by: &str, empty_layer: bool) {
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let mut h = HistoryBuilder::default()
            .created(now.clone())
            .created_by(created_by.to_string())
            .build()
            .expect("every history field is optional");
        if empty_layer {
            h.set_empty_layer(Some(true));
        }
        let mut all = self.image.history().clone();
        all.push(h);
        self.image.set_history(all);
        self.image.set_created(Some(now));
    }

    /// The configuration serialised as stored: keys sorted, the Docker
    /// fields added when the format keeps them.
    pub fn to_bytes(&self, docker: bool) -> Result<Vec<u8>, String> {
        let mut v = serde_json::to_value(&self.image).map_err(|e| e.to_string())?;
        if docker {
            self.extras.merge_into(&mut v);
        }
        serde_json::to_vec(&v).map_err(|e| e.to_string())
    }
}

/// A HEALTHCHECK in Docker's config shape (durations in nanoseconds).
fn healthcheck_json(h: &Healthcheck) -> Value {
    match h {
        Healthcheck::None => json!({"Test": ["NONE"]}),
        Healthcheck::Check {
            test,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } => {
            let mut m = Map::new();
            m.insert("Test".into(), json!(test));
            for (k, v) in [
                ("Interval", interval),
                ("Timeout", timeout),
                ("StartPeriod", start_period),
                ("StartInterval", start_interval),
            ] {
                if *v != 0 {
                    m.insert(k.into(), json!(v));
                }
            }
            if *retries != 0 {
                m.insert("Retries".into(), json!(retries));
            }
            Value::Object(m)
        }
    }
}

/// The argument vector of a RUN: exec form as written; shell form through
/// the stage's SHELL. A RUN that is one heredoc (`RUN <<EOF`) runs the
/// heredoc's text as the script; other heredocs are passed on to the shell
/// with their bodies, as BuildKit does.
pub fn run_argv(command: &Command, heredocs: &[super::Heredoc], shell: &[String]) -> Vec<String> {
    match command {
        Command::Exec(v) => v.clone(),
        Command::Shell(s) if heredocs.is_empty() => Command::Shell(s.clone()).argv(shell),
        Command::Shell(s) => {
            let single = heredocs.len() == 1
                && heredocs[0].fd == 0
                && super::parser::heredoc_marker(s.trim())
                    .is_some_and(|m| m.name == heredocs[0].name);
            if single {
                return Command::Shell(heredocs[0].content.clone()).argv(shell);
            }
            let mut script = s.clone();
            for h in heredocs {
                script.push('\n');
                script.push_str(&h.content);
                script.push_str(&h.name);
            }
            script.push('\n');
            Command::Shell(script).argv(shell)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{parse, BuildOptions, Plan};

    fn stage(text: &str, docker: bool) -> (StageConfig, Vec<String>) {
        let p = Plan::new(
            &parse("Containerfile", text).unwrap(),
            &BuildOptions::default(),
        )
        .unwrap();
        let mut base = ImageConfiguration::default();
        change::apply(
            &mut base,
            &[Change::Cmd(vec!["sh".into()]), Change::Workdir("/".into())],
        );
        let mut c = StageConfig::from_base(base, Extras::default());
        let mut warnings = Vec::new();
        for s in p.steps(0, &[], &[]).unwrap().iter().skip(1) {
            warnings.extend(c.apply(&s.instruction, docker));
        }
        (c, warnings)
    }

    #[test]
    fn metadata_instructions() {
        let (c, w) = stage(
            "FROM b\nENV A=1 B=2\nWORKDIR /app\nWORKDIR sub\nUSER web\nEXPOSE 80 53/UDP\n\
             LABEL k=v\nVOLUME /data\nSTOPSIGNAL SIGQUIT\nMAINTAINER me\nENTRYPOINT [\"/run\"]\n",
            false,
        );
        assert!(w.is_empty());
        let cfg = c.image.config().clone().unwrap();
        assert_eq!(cfg.env().clone().unwrap(), ["A=1", "B=2"]);
        assert_eq!(c.workdir(), "/app/sub");
        assert_eq!(c.user(), "web");
        assert_eq!(cfg.exposed_ports().clone().unwrap(), ["80/tcp", "53/udp"]);
        assert_eq!(cfg.labels().clone().unwrap()["k"], "v");
        assert_eq!(cfg.volumes().clone().unwrap(), ["/data"]);
        assert_eq!(cfg.stop_signal().as_deref(), Some("SIGQUIT"));
        assert_eq!(c.image.author().as_deref(), Some("me"));
        assert_eq!(cfg.entrypoint().clone().unwrap(), ["/run"]);
        assert_eq!(
            cfg.cmd().clone(),
            None,
            "ENTRYPOINT drops the base image's CMD"
        );
    }

    #[test]
    fn shell_form_and_docker_only_fields() {
        let text = "FROM b\nSHELL [\"/bin/ash\", \"-e\", \"-c\"]\nCMD echo hi\nONBUILD RUN x\n\
                    HEALTHCHECK --interval=5s CMD true\nENTRYPOINT [\"/e\"]\n";
        let (c, w) = stage(text, false);
        assert_eq!(
            w,
            [
                "SHELL is not supported for OCI image format, [/bin/ash -e -c] will be ignored. Must use `docker` format",
                "ONBUILD is not supported for OCI image format, RUN x will be ignored. Must use `docker` format",
                "HEALTHCHECK is not supported for OCI image format and will be ignored. Must use `docker` format",
            ],
            "buildah's words"
        );
        assert!(c.extras.is_empty());
        let cfg = c.image.config().clone().unwrap();
        assert_eq!(
            cfg.cmd().clone().unwrap(),
            ["/bin/ash", "-e", "-c", "echo hi"]
        );
        assert_eq!(
            cfg.entrypoint().clone().unwrap(),
            ["/e"],
            "CMD set here is kept"
        );

        let (c, w) = stage(text, true);
        assert!(w.is_empty());
        let bytes = c.to_bytes(true).unwrap();
        let back = Extras::from_config_json(&bytes);
        assert_eq!(back.on_build, ["RUN x"]);
        assert_eq!(back.shell.unwrap(), ["/bin/ash", "-e", "-c"]);
        assert_eq!(
            back.healthcheck.unwrap(),
            json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000i64})
        );
    }

    #[test]
    fn heredoc_runs() {
        let p = Plan::new(
            &parse(
                "Containerfile",
                "FROM b\nRUN <<EOF\necho a\nEOF\nRUN cat <<A > /f\nx\nA\n",
            )
            .unwrap(),
            &BuildOptions::default(),
        )
        .unwrap();
        let st = p.steps(0, &[], &[]).unwrap();
        let argv = |i: usize| match &st[i].instruction {
            Instruction::Run(r) => run_argv(&r.command, &r.heredocs, &default_shell()),
            _ => panic!(),
        };
        assert_eq!(argv(1), ["/bin/sh", "-c", "echo a\n"]);
        assert_eq!(argv(2), ["/bin/sh", "-c", "cat <<A > /f\nx\nA\n"]);
    }
}
