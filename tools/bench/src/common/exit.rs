//! How the project's binaries end.

use std::process::ExitCode;

/// Ends a run with one line on error (the project's rule for its binaries), never a backtrace.
pub fn exit_code(program: &str, result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{program}: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
