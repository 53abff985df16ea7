//! `hapki help [COMMAND...]`: the long help of hapki or of a command, on stdout. clap's own
//! help verb takes no flags, so `hapki help --help` failed; this one is an ordinary verb.

use super::EXIT_OK;
use crate::cli::{Cli, HelpArgs};
use crate::error::{Error, Result};
use clap::CommandFactory;

pub fn run(args: &HelpArgs) -> Result<i32> {
    crate::out::print(&help_of(&args.command)?);
    Ok(EXIT_OK)
}

/// The long help of the command at `path` (the top level when empty).
pub fn help_of(path: &[String]) -> Result<String> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut at = &mut cmd;
    for name in path {
        let names: Vec<String> = at
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        at = at.find_subcommand_mut(name).ok_or_else(|| {
            Error::input(format!(
                "`{name}` is not a hapki command; the commands here are: {}",
                names.join(", ")
            ))
        })?;
    }
    Ok(at.render_long_help().to_string())
}
