//! `hapki verify` (being written).

use crate::cli::VerifyArgs;
use crate::error::{Error, Result};

pub fn run(_args: &VerifyArgs) -> Result<i32> {
    Err(Error::bug("hapki verify is not built yet"))
}
