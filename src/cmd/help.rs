//! `hapki help [COMMAND...]`: the long help of hapki or of a command, on stdout. clap's own
//! help verb takes no flags, so `hapki help --help` failed; this one is an ordinary verb.

use super::EXIT_OK;
use crate::cli::Cli;
use crate::error::{Error, Result};
use clap::Args;
use clap::CommandFactory;

pub const HELP_HELP: &str = "EXAMPLES:\n  hapki help\n  hapki help jwt mint\n\nEXIT CODES:\n  0  success\n  2  an unknown command";

#[derive(Args, Debug)]
pub struct HelpArgs {
    /// The command (and subcommand) whose help to print.
    #[arg(value_name = "COMMAND")]
    pub command: Vec<String>,
}

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
