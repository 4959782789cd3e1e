//! The `passplan` binary: a thin wrapper over [`passplan::run`].

fn main() -> std::process::ExitCode {
    passplan::run(std::env::args_os())
}
