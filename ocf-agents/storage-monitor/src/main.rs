//! `ocf:umha:storage-monitor`: see the library for what it does.

fn main() -> std::process::ExitCode {
    storage_monitor::main()
}
