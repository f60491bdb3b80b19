//! `ocf:umha:umha-evacuator`: see the library for what it does.

fn main() -> std::process::ExitCode {
    umha_evacuator::main()
}
