//! `sense-pulse`: every Sense Pulse service in one binary; the first argument picks the role.
//!
//! This file only parses the command line and sets up logging and the async runtime; the work is
//! in the `sense-runtime` library.

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging(&cli.log_level);
    // One thread is plenty for a source, and keeps a one-shot run small.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::from(commands::EXIT_FAILURE);
        }
    };
    ExitCode::from(runtime.block_on(commands::run(cli.command)))
}

/// Logs go to stderr (Docker and journald collect them), at `level` or as `RUST_LOG` says.
fn init_logging(level: &str) {
    let level = std::env::var("RUST_LOG")
        .ok()
        .unwrap_or_else(|| level.to_owned());
    let filter = level
        .parse::<tracing_subscriber::filter::LevelFilter>()
        .unwrap_or_else(|_| {
            // Before logging exists, stderr is the only place to say so.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("warning: unknown log level {level:?}; using info");
            }
            tracing_subscriber::filter::LevelFilter::INFO
        });
    tracing_subscriber::fmt()
        .with_max_level(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
