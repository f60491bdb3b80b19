//! `ocf:umha:umha-dummy`: see the library for what it does.

fn main() -> std::process::ExitCode {
    agent_core::run(umha_dummy::Dummy)
}
