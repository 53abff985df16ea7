//! `hapki inspect` (being written).

use crate::cli::InspectArgs;
use crate::error::{Error, Result};

pub fn run(_args: &InspectArgs) -> Result<i32> {
    Err(Error::bug("hapki inspect is not built yet"))
}
