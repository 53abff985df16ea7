//! The `hapki` binary: parse the command line, run the command, print the error once.

use clap::Parser;
use hapki::cli::{CaCommand, Cli, Command, ExportCommand, JwtCommand};
use hapki::cmd;

fn main() {
    let cli = Cli::parse();
    let Some(command) = &cli.command else {
        // `hapki` alone: the help, on stdout, as success (asking for help is not an error).
        let code = match cmd::help::help_of(&[]) {
            Ok(text) => {
                hapki::out::print(&text);
                0
            }
            Err(e) => {
                eprintln!("error: {e}");
                2
            }
        };
        std::process::exit(code);
    };
    let result = match command {
        Command::Ca(CaCommand::Init(a)) => cmd::ca::run(a),
        Command::Ca(CaCommand::Csr(a)) => cmd::ca_offline::csr(a),
        Command::Ca(CaCommand::Sign(a)) => cmd::ca_offline::sign(a),
        Command::Ca(CaCommand::Import(a)) => cmd::ca_offline::import(a),
        Command::Init(a) => cmd::init::run(a),
        Command::Issue(a) => cmd::issue::run(a),
        Command::Jwt(JwtCommand::Keygen(a)) => cmd::jwt::keygen(a),
        Command::Jwt(JwtCommand::Mint(a)) => cmd::jwt::mint(a),
        Command::Jwt(JwtCommand::Verify(a)) => cmd::jwt::verify(a),
        Command::Jwt(JwtCommand::Rotate(a)) => cmd::jwt_rotate::run(a),
        Command::Jwt(JwtCommand::Client(c)) => cmd::jwt_client::run(c),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Lint(a) => cmd::lint::run(a),
        Command::Revoke(a) => cmd::revoke::run(a),
        Command::Crl(a) => cmd::crl::run(a),
        Command::List(a) => cmd::list::run(a),
        Command::Renew(a) => cmd::renew::run(a),
        Command::Export(ExportCommand::P12(a)) => cmd::export::p12(a),
        Command::Export(ExportCommand::Bundle(a)) => cmd::export::bundle(a),
        Command::Completions(a) => cmd::completions::run(a),
        Command::Man(a) => cmd::man::run(a),
        Command::Help(a) => cmd::help::run(a),
        Command::Serve(a) => cmd::serve::run(a),
    };
    // The CA keys' passphrase, if one was read, is zeroized before the process ends.
    hapki::keys::passphrase::forget();
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
