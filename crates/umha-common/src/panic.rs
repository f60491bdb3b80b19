//! What happens when an agent has a bug.
//!
//! A Rust panic would otherwise abort (release builds use `panic = "abort"`)
//! and Pacemaker would see a signal instead of an exit code. The hook logs the
//! panic through the HA logger and exits with the agent family's generic error
//! code, so Pacemaker records an ordinary, explained failure.

/// Install the hook. `code` is `OCF_ERR_GENERIC` (1) for resource agents and
/// the failure code (1) for fence agents.
pub fn install_hook(code: i32) {
    std::panic::set_hook(Box::new(move |info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        let message = format!("internal error (a bug in umha, please report it): {what}{location}");
        match crate::log::global() {
            Some(logger) => logger.log(crate::Level::Err, &message),
            None => eprintln!("{message}"),
        }
        std::process::exit(code);
    }));
}
