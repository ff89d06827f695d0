//! `kumo`: the server (`kumo serve`) and the command line for people (`deploy`, `invoke`,
//! `ls`, `logs`). This crate only wires the library crates together.

mod bridges;
mod cli;
mod client;
mod serve;

use clap::{Parser, Subcommand};

/// Kumo: a self-hosted, AWS Lambda-compatible serverless platform.
#[derive(Parser)]
#[command(name = "kumo", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: every AWS API on one port.
    Serve(serve::ServeArgs),
    /// Prepare what functions need (boto3 for Python functions) and exit.
    Prepare(serve::PrepareArgs),
    /// Zip a directory and create or update a function from it.
    Deploy(cli::DeployArgs),
    /// Invoke a function and print its response.
    Invoke(cli::InvokeArgs),
    /// List functions.
    Ls(cli::ListArgs),
    /// Print a function's logs.
    Logs(cli::LogsArgs),
    /// Show warm environments, concurrency limits and what runs now.
    Status(cli::StatusArgs),
}

fn main() -> std::process::ExitCode {
    // `kumo sandbox-init` (hidden, started by Kumo itself) sets up an execution environment's
    // sandbox and execs its runtime; it must run before any async runtime or thread exists.
    if kumo_sandbox::launcher::is_launcher_invocation() {
        return kumo_sandbox::launcher::main();
    }
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("kumo: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match args.command {
            Command::Serve(args) => serve::serve(args).await,
            Command::Prepare(args) => serve::prepare(args).await,
            Command::Deploy(args) => cli::deploy(args).await,
            Command::Invoke(args) => cli::invoke(args).await,
            Command::Ls(args) => cli::list(args).await,
            Command::Logs(args) => cli::logs(args).await,
            Command::Status(args) => cli::status(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("kumo: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
