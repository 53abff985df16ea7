//! The `hapki` binary: parse the command line, run the command, print the error once.

use clap::Parser;
use hapki::cli::{CaCommand, Cli, Command};
use hapki::cmd;

fn main() {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Ca(CaCommand::Init(a)) => cmd::ca::run(a),
        Command::Issue(a) => cmd::issue::run(a),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
