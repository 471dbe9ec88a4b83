//! The castguard binary. `anyhow` lives only here, at the edge; the crates
//! below return typed errors.

mod api_cli;
mod config;
mod demo;
mod log_limit;
mod package;
mod panic_hook;
mod serve;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use config::Parsed;

#[derive(Parser)]
#[command(name = "castguard", version, about = "Self-hosted multi-DRM content protection: package, serve, authorize, deliver keys")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Package an MP4 into CMAF segments with DASH and HLS manifests, clear or encrypted.
    Package(package::PackageArgs),
    /// Run the server: management API (and, as they land, origin, key delivery, STS, player).
    Serve(Box<serve::ServeArgs>),
    /// Test tokens for content key policy options.
    #[command(subcommand)]
    Token(token::TokenCommand),
    #[command(flatten)]
    Api(api_cli::ApiCommand),
}

fn main() -> ExitCode {
    panic_hook::install();
    let result = match config::parse::<Cli>() {
        Ok(Parsed::Run(cli)) => dispatch(cli),
        Ok(Parsed::Printed) => Ok(()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("castguard: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

fn dispatch(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Package(args) => package::run(args),
        Command::Serve(args) => serve::run(*args),
        Command::Token(cmd) => token::run(cmd),
        Command::Api(cmd) => api_cli::run(cmd),
    }
}

/// A failure as the shell sees it: one line and an exit status (2 for a
/// usage error, 1 for bad input or a failed write).
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl std::fmt::Display) -> Self {
        Failure { code: 2, message: message.to_string() }
    }
    pub fn input(message: impl std::fmt::Display) -> Self {
        Failure { code: 1, message: message.to_string() }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        // `{:#}` joins the context chain into one line.
        Failure::input(format!("{e:#}"))
    }
}
