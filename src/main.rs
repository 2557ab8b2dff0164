//! The `burnwatch` binary: all of it lives in the library; see `burnwatch --help`.

fn main() -> std::process::ExitCode {
    burnwatch::cli::main()
}
