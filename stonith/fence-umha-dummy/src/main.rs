//! fence_umha_dummy: a real fence agent on stonith-core whose "device" is a
//! directory of state files, one per plug, holding `on` or `off`.
//!
//! It proves the core end to end (options, metadata, exit codes, timing,
//! hooks) and serves the lab as a stand-in for a PDU: the lab's power scripts
//! read and write the same files. Its misbehaviour options reproduce what
//! real devices do to fencing: ignore a power-off, lag behind, say off while
//! the target is on, answer slowly, not answer at all.

mod device;

use std::process::ExitCode;

use stonith_core::spec::common;
use stonith_core::{
    AfterOffHook, Agent, AgentInfo, Capabilities, DeviceError, OptionSpec, OptionTable, Options,
    PlugMode,
};
use umha_common::Deadline;

use device::{MarkerFile, Misbehaviour, StateDir};

struct FenceUmhaDummy;

impl Agent for FenceUmhaDummy {
    type Device = StateDir;

    fn info() -> AgentInfo {
        AgentInfo {
            longdesc: "fence_umha_dummy is a test fence agent for umha. Each plug is a file in \
                       state_dir holding 'on' or 'off'. Options can make it misbehave like a \
                       broken power device. Never use it to fence a real node.",
            version: env!("CARGO_PKG_VERSION"),
            plugs: PlugMode::Multiple,
            capabilities: Capabilities {
                list: true,
                cycle: true,
                diag: false,
                ..Capabilities::default()
            },
            ..AgentInfo::new(
                "fence_umha_dummy",
                "Dummy fence agent backed by state files (tests and lab only)",
            )
        }
    }

    fn options(table: &mut OptionTable) {
        table
            .add(common::username())
            .add(common::password())
            .add(common::password_script())
            .add(
                OptionSpec::string(
                    "state_dir",
                    "Directory with one state file per plug, holding on or off",
                )
                .default("/tmp/fence_umha_dummy")
                .placeholder("dir"),
            )
            .add(OptionSpec::string(
                "expect_password",
                "Refuse the login unless the password (or password_script's output) is this",
            )
            .placeholder("password")
            .secret())
            .add(OptionSpec::flag(
                "ignore_off",
                "Misbehave: accept power off requests and do nothing",
            ))
            .add(OptionSpec::flag(
                "ignore_on",
                "Misbehave: accept power on requests and do nothing",
            ))
            .add(
                OptionSpec::integer(
                    "stale_reads",
                    "Misbehave: after a power change, keep reporting the old state for N reads",
                )
                .default("0"),
            )
            .add(
                OptionSpec::integer(
                    "false_off_reads",
                    "Misbehave: report off for the first N reads while the plug is still on",
                )
                .default("0"),
            )
            .add(
                OptionSpec::seconds(
                    "response_delay",
                    "Misbehave: take X seconds to answer every request",
                )
                .default("0"),
            )
            .add(OptionSpec::flag(
                "unreachable",
                "Misbehave: never answer, as a dead device",
            ))
            .add(
                OptionSpec::integer(
                    "cycle_off_reads",
                    "During a power cycle, report off for N reads, then on (0: too fast to see)",
                )
                .default("2"),
            )
            .add(
                OptionSpec::string(
                    "after_off_file",
                    "Append 'node epoch' to this file once power off is verified (tests the after-off hook)",
                )
                .placeholder("file"),
            );
    }

    fn validate(options: &Options) -> Result<(), String> {
        for name in ["stale_reads", "false_off_reads", "cycle_off_reads"] {
            if options.integer(name).is_some_and(|n| n < 0) {
                return Err(format!("{name} must not be negative"));
            }
        }
        Ok(())
    }

    fn connect(options: &Options, deadline: Deadline) -> Result<StateDir, DeviceError> {
        let count = |name| {
            options
                .integer(name)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0)
        };
        let misbehaviour = Misbehaviour {
            ignore_off: options.flag("ignore_off"),
            ignore_on: options.flag("ignore_on"),
            stale_reads: count("stale_reads"),
            false_off_reads: count("false_off_reads"),
            response_delay: options.seconds("response_delay").unwrap_or_default(),
            unreachable: options.flag("unreachable"),
            cycle_off_reads: count("cycle_off_reads"),
        };
        let dir = options
            .string("state_dir")
            .unwrap_or("/tmp/fence_umha_dummy");
        let device = StateDir::new(dir.into(), misbehaviour);
        device.login(
            options.password(),
            options.secret("expect_password"),
            deadline,
        )?;
        Ok(device)
    }

    fn after_off_hooks(options: &Options) -> Vec<Box<dyn AfterOffHook>> {
        match options.string("after_off_file") {
            Some(path) if !path.is_empty() => vec![Box::new(MarkerFile::new(path.into()))],
            _ => Vec::new(),
        }
    }
}

fn main() -> ExitCode {
    stonith_core::run::<FenceUmhaDummy>()
}
