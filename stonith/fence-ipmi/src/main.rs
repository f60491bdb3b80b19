//! `fence_ipmi`: see the library documentation.

fn main() -> std::process::ExitCode {
    stonith_core::run::<fence_ipmi::FenceIpmi>()
}
