//! The `portrait` binary: parse arguments, set up logging, map errors to exit codes.

use clap::Parser;
use portrait::cli::{Cli, LogFormat};
use std::io::IsTerminal;
use std::process::ExitCode;

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc options (read at start; `_RJEM_MALLOC_CONF` in the environment overrides them).
/// polars frees and reallocates column-sized buffers all the time; by default jemalloc serves
/// them from a dedicated arena that hands pages back to the kernel at once, and the kernel
/// zeroes every page again on the next touch. One arena for all sizes, purged by a background
/// thread, trades some peak memory for time (docs/perf/history.md has the figures;
/// `_RJEM_MALLOC_CONF=oversize_threshold:8388608` restores jemalloc's default).
#[cfg(not(target_env = "msvc"))]
#[export_name = "_rjem_malloc_conf"]
pub static MALLOC_CONF: &[u8] = b"oversize_threshold:0,background_thread:true\0";

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    init_logging(cli.log_format);
    portrait::progress::enable(cli.log_format != LogFormat::Json);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let code = e.exit_code();
            // One line, through the logger: human on a terminal, JSON for schedulers.
            tracing::error!(exit_code = code, "{e}");
            ExitCode::from(code)
        }
    }
}

fn run(cli: Cli) -> portrait::Result<ExitCode> {
    let message = portrait::cli::dispatch(cli.command)?;
    println!("{message}");
    Ok(ExitCode::SUCCESS)
}

/// Human lines on a terminal, JSON lines for schedulers (or when asked).
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PORTRAIT_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Human => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().with_current_span(false).init();
    } else {
        builder.init();
    }
}
