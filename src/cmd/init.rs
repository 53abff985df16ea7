//! `hapki init` (being written).

use crate::cli::InitArgs;
use crate::error::{Error, Result};

pub fn run(_args: &InitArgs) -> Result<i32> {
    Err(Error::bug("hapki init is not built yet"))
}
