//! `rename`: a new name for a container, unique among all of them.

use crate::state::container::{find, valid_name};
use crate::{Context, Error, Result};

/// Renames container `name_or_id` to `new_name` (Podman's `rename`). Holds
/// the store lock that `create` holds, so two commands never give the same
/// name, and changes only the name in the current record.
pub fn rename(ctx: &Context, name_or_id: &str, new_name: &str) -> Result<()> {
    if !valid_name(new_name) {
        return Err(Error::msg(format!(
            "invalid container name {new_name:?}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"
        )));
    }
    let store = super::store(ctx);
    let _lock = store.lock()?;
    let all = store.list()?;
    let id = find(&all, name_or_id)?.id.clone();
    if let Some(other) = all.iter().find(|o| o.name == new_name && o.id != id) {
        return Err(Error::msg(format!(
            "the container name \"{new_name}\" is already in use by {}; remove that container to reuse the name",
            &other.id[..12]
        )));
    }
    store.update(&id, |c| {
        c.name = new_name.to_string();
        Ok::<_, Error>(())
    })
}
