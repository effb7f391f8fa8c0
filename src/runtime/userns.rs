//! The long-lived user namespace holder (stub).

use crate::{Context, Result};

pub fn enter(_ctx: &Context) -> Result<()> {
    Ok(())
}

pub fn pause_main() -> Result<i32> {
    Ok(0)
}
