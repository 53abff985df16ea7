//! `hapki jwt` (being written).

use crate::cli::{JwtKeygenArgs, JwtMintArgs, JwtVerifyArgs};
use crate::error::{Error, Result};

pub fn keygen(_args: &JwtKeygenArgs) -> Result<i32> {
    Err(Error::bug("not built yet"))
}
pub fn mint(_args: &JwtMintArgs) -> Result<i32> {
    Err(Error::bug("not built yet"))
}
pub fn verify(_args: &JwtVerifyArgs) -> Result<i32> {
    Err(Error::bug("not built yet"))
}
