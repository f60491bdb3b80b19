fn main() -> std::process::ExitCode {
    umha_cli::main()
}
