//! `sense-pulse`: every Sense Pulse service in one binary; the first argument picks the role.
//!
//! This file only parses the command line and sets up logging and the async runtime; the work is
//! in the `sense-runtime` library.

mod cli;
mod commands;
mod in_process;
mod logs;
mod redis_url_file;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // REDIS_URL_FILE: runs this binary again with REDIS_URL from the file.
    if let Some(code) = redis_url_file::apply() {
        return code;
    }
    let cli = cli::Cli::parse();
    logs::init(&cli.log_level);
    // One thread is plenty for a source, and keeps a one-shot run small.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            logs::error(&format!(
                "cannot start the async runtime ({e}): the machine may be out of memory or \
                 threads; close something and try again"
            ));
            return ExitCode::from(commands::EXIT_FAILURE);
        }
    };
    ExitCode::from(runtime.block_on(commands::run(cli.command)))
}
