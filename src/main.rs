//! The `hapki` binary: parse the command line, run the command, print the error once.

use clap::Parser;
use hapki::cli::{CaCommand, Cli, Command, JwtCommand};
use hapki::cmd;

fn main() {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Ca(CaCommand::Init(a)) => cmd::ca::run(a),
        Command::Init(a) => cmd::init::run(a),
        Command::Issue(a) => cmd::issue::run(a),
        Command::Jwt(JwtCommand::Keygen(a)) => cmd::jwt::keygen(a),
        Command::Jwt(JwtCommand::Mint(a)) => cmd::jwt::mint(a),
        Command::Jwt(JwtCommand::Verify(a)) => cmd::jwt::verify(a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Serve(a) => cmd::serve::run(a),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
