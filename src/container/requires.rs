//! `--requires`: containers that must run before a container starts, as
//! Podman's dependency containers. `create` resolves the names to ids once
//! ([`resolve`]); every start through `launch` starts them first
//! ([`start_requirements`]); `pod start` orders its members by them
//! ([`order`]); `rm` refuses a container that another one requires.

use std::collections::BTreeSet;

use crate::state::container::{Container, Status};
use crate::{Context, Error, Result};

/// The containers `--requires` names (each value a comma-separated list of
/// names or ids, the flag repeatable), as full ids, first mention first.
/// Errors, one line: an unknown container (Podman's "no container with name
/// or ID"), or, for a container joining pod `pod` (full id), one outside it
/// (Podman's message).
pub fn resolve(ctx: &Context, values: &[String], pod: &str) -> Result<Vec<String>> {
    let mut ids: Vec<String> = Vec::new();
    for name in values.iter().flat_map(|v| v.split(',')).map(str::trim) {
        if name.is_empty() {
            continue;
        }
        let dep = super::lookup(ctx, name)?;
        if !pod.is_empty() && dep.config.pod != pod {
            return Err(Error::msg(format!(
                "container has joined pod {pod} and dependency container {} is not a member of the pod",
                dep.id
            )));
        }
        if !ids.contains(&dep.id) {
            ids.push(dep.id);
        }
    }
    Ok(ids)
}

/// The containers among `all` that `c` requires, directly or through
/// others, in the order they must start (a requirement before whatever
/// requires it), `c` itself excluded. Error: a requirement that no longer
/// exists, or a cycle (one line naming it).
pub fn closure<'a>(all: &'a [Container], c: &Container) -> Result<Vec<&'a Container>> {
    let mut out = Vec::new();
    let mut path = vec![c.name.clone()];
    visit(all, c, &mut path, &mut BTreeSet::new(), &mut out)?;
    Ok(out)
}

fn visit<'a>(
    all: &'a [Container],
    c: &Container,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
    out: &mut Vec<&'a Container>,
) -> Result<()> {
    for id in &c.config.requires {
        if done.contains(id) {
            continue;
        }
        let Some(dep) = all.iter().find(|d| &d.id == id) else {
            return Err(Error::msg(format!(
                "container {} requires container {id}, which no longer exists",
                c.name
            )));
        };
        if path.contains(&dep.name) {
            path.push(dep.name.clone());
            return Err(Error::msg(format!(
                "dependency cycle between containers: {}",
                path.join(" -> ")
            )));
        }
        path.push(dep.name.clone());
        visit(all, dep, path, done, out)?;
        path.pop();
        done.insert(dep.id.clone());
        out.push(dep);
    }
    Ok(())
}

/// `members` in start order: each after the containers it requires, and
/// otherwise in the order given (by creation). Error: a cycle among them.
pub fn order<'a>(members: &[&'a Container]) -> Result<Vec<&'a Container>> {
    let all: Vec<Container> = members.iter().map(|c| (*c).clone()).collect();
    let mut out: Vec<&'a Container> = Vec::new();
    for c in members {
        // Requirements outside `members` are started by `launch`.
        let inside: Vec<&Container> = closure(&all, c)?;
        for dep in inside.into_iter().chain(std::iter::once(*c)) {
            if !out.iter().any(|o| o.id == dep.id) {
                if let Some(m) = members.iter().find(|m| m.id == dep.id) {
                    out.push(m);
                }
            }
        }
    }
    Ok(out)
}

/// `ordered` (as [`order`] returns them) in levels that can each start at
/// once: the first holds those that require none of them, each next one
/// those whose requirements among them are all in the levels before.
/// Within a level, the order of `ordered` (creation) is kept.
pub fn levels<'a>(ordered: &[&'a Container]) -> Vec<Vec<&'a Container>> {
    let mut level_of: std::collections::HashMap<&str, usize> = Default::default();
    let mut out: Vec<Vec<&'a Container>> = Vec::new();
    for c in ordered {
        let l = c
            .config
            .requires
            .iter()
            .filter_map(|id| level_of.get(id.as_str()))
            .map(|l| l + 1)
            .max()
            .unwrap_or(0);
        level_of.insert(c.id.as_str(), l);
        if out.len() <= l {
            out.resize_with(l + 1, Vec::new);
        }
        out[l].push(*c);
    }
    out
}

/// Starts, detached, every container `c` requires that does not run yet,
/// requirements first. Error: one that cannot be found or started, or a
/// cycle.
pub fn start_requirements(ctx: &Context, c: &Container) -> Result<()> {
    if c.config.requires.is_empty() {
        return Ok(());
    }
    let all = super::list(ctx)?;
    for dep in closure(&all, c)? {
        if !matches!(
            super::effective_status(dep),
            Status::Running | Status::Paused
        ) {
            crate::pod::start_container(ctx, dep).map_err(|e| {
                Error::msg(format!(
                    "starting container {}, which {} requires: {e}",
                    dep.name, c.name
                ))
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctr(name: &str, requires: &[&str]) -> Container {
        let mut c = Container {
            version: 1,
            id: format!("id-{name}"),
            name: name.to_string(),
            created: chrono::Utc::now(),
            config: Default::default(),
            state: Default::default(),
        };
        c.config.requires = requires.iter().map(|r| format!("id-{r}")).collect();
        c
    }

    fn names(v: &[&Container]) -> Vec<String> {
        v.iter().map(|c| c.name.clone()).collect()
    }

    #[test]
    fn requirements_start_first_then_creation_order() {
        let all = [
            ctr("web", &["db", "cache"]),
            ctr("db", &["vol"]),
            ctr("cache", &[]),
            ctr("vol", &[]),
        ];
        assert_eq!(
            names(&closure(&all, &all[0]).unwrap()),
            ["vol", "db", "cache"]
        );
        let refs: Vec<&Container> = all.iter().collect();
        assert_eq!(names(&order(&refs).unwrap()), ["vol", "db", "cache", "web"]);
        let levels = levels(&order(&refs).unwrap());
        let levels: Vec<Vec<String>> = levels.iter().map(|l| names(l)).collect();
        assert_eq!(levels, [vec!["vol", "cache"], vec!["db"], vec!["web"]]);
    }

    #[test]
    fn a_cycle_and_a_missing_requirement_are_one_line() {
        let all = [ctr("a", &["b"]), ctr("b", &["c"]), ctr("c", &["a"])];
        let e = closure(&all, &all[0]).unwrap_err().to_string();
        assert_eq!(e, "dependency cycle between containers: a -> b -> c -> a");
        let refs: Vec<&Container> = all.iter().collect();
        assert!(order(&refs).is_err());
        let lone = [ctr("x", &["gone"])];
        let e = closure(&lone, &lone[0]).unwrap_err().to_string();
        assert!(
            e.contains("requires container id-gone, which no longer exists"),
            "{e}"
        );
    }
}
