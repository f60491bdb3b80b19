//! `fence_maas`: see the library documentation.

fn main() -> std::process::ExitCode {
    stonith_core::run::<fence_maas::FenceMaas>()
}
