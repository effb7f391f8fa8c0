//! What a Kubernetes container runs: `command` and `args` against the
//! image's ENTRYPOINT and CMD, as Kubernetes defines it (kubelet's
//! `kuberuntime` and the "Define a command and arguments" task page), and
//! the `$(VAR)` references in them expanded from the container's
//! environment.

/// The process of a container, split as the container record keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Process {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
}

impl Process {
    /// The whole command line: entrypoint then cmd.
    pub fn argv(&self) -> Vec<String> {
        self.entrypoint.iter().chain(&self.cmd).cloned().collect()
    }
}

/// Kubernetes' rules, where an empty list means "not given":
///
/// | command | args | runs |
/// | --- | --- | --- |
/// | - | - | image ENTRYPOINT + image CMD |
/// | given | - | command (the image's CMD is dropped too) |
/// | - | given | image ENTRYPOINT + args |
/// | given | given | command + args |
pub fn resolve(
    image_entrypoint: &[String],
    image_cmd: &[String],
    command: &[String],
    args: &[String],
) -> Process {
    let entrypoint = if command.is_empty() {
        image_entrypoint
    } else {
        command
    };
    let cmd = match (command.is_empty(), args.is_empty()) {
        (_, false) => args,
        (true, true) => image_cmd,
        (false, true) => &[],
    };
    Process {
        entrypoint: entrypoint.to_vec(),
        cmd: cmd.to_vec(),
    }
}

/// Expands `$(NAME)` in `s` from `env` (name, value) as Kubernetes does for
/// command, args and env values: a defined name is replaced, an undefined
/// reference is left as written, `$$` is one literal `$` (so `$$(X)` stays
/// `$(X)`), and any other `$` is kept. When a name is defined twice the
/// last definition wins, as later env entries override earlier ones.
pub fn expand(s: &str, env: &[(String, String)]) -> String {
    let lookup = |name: &str| env.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v);
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some((name, tail)) = after.strip_prefix('(').and_then(|a| a.split_once(')')) {
            match lookup(name) {
                Some(v) => out.push_str(v),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = tail;
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn nothing_given_runs_the_image_as_built() {
        let p = resolve(&v(&["/ep"]), &v(&["--cmd"]), &[], &[]);
        assert_eq!(p.entrypoint, v(&["/ep"]));
        assert_eq!(p.cmd, v(&["--cmd"]));
        assert_eq!(p.argv(), v(&["/ep", "--cmd"]));
    }

    #[test]
    fn command_overrides_the_entrypoint_and_drops_cmd() {
        let p = resolve(&v(&["/ep"]), &v(&["--cmd"]), &v(&["sleep", "9"]), &[]);
        assert_eq!(p.argv(), v(&["sleep", "9"]));
        assert_eq!(p.entrypoint, v(&["sleep", "9"]));
        assert!(p.cmd.is_empty());
    }

    #[test]
    fn args_only_override_cmd() {
        let p = resolve(&v(&["/ep"]), &v(&["--cmd"]), &[], &v(&["--other"]));
        assert_eq!(p.argv(), v(&["/ep", "--other"]));
        // An image without ENTRYPOINT: args are the whole command line.
        let p = resolve(&[], &v(&["sh"]), &[], &v(&["httpd", "-f"]));
        assert_eq!(p.argv(), v(&["httpd", "-f"]));
    }

    #[test]
    fn command_and_args_replace_both() {
        let p = resolve(
            &v(&["/ep"]),
            &v(&["--cmd"]),
            &v(&["sh", "-c"]),
            &v(&["echo hi"]),
        );
        assert_eq!(p.entrypoint, v(&["sh", "-c"]));
        assert_eq!(p.cmd, v(&["echo hi"]));
    }

    #[test]
    fn references_expand_from_the_environment() {
        let env = vec![
            ("PORT".to_string(), "80".to_string()),
            ("PORT".to_string(), "8080".to_string()),
            ("EMPTY".to_string(), String::new()),
        ];
        assert_eq!(expand("-p $(PORT)", &env), "-p 8080", "the last one wins");
        assert_eq!(expand("$(NOPE)", &env), "$(NOPE)");
        assert_eq!(expand("$$(PORT)", &env), "$(PORT)");
        assert_eq!(expand("$$$(PORT)", &env), "$8080");
        assert_eq!(expand("a$(EMPTY)b", &env), "ab");
        assert_eq!(expand("cost $5 $", &env), "cost $5 $");
        assert_eq!(expand("$(UNCLOSED", &env), "$(UNCLOSED");
        assert_eq!(expand("no refs", &env), "no refs");
    }
}
