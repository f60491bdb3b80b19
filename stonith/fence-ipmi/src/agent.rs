//! fence_ipmi as a stonith-core agent: who it is, its options, and how a
//! session with the BMC is opened.

use ipmi_lan::Session;
use stonith_core::{
    Action, Agent, AgentInfo, Capabilities, DeviceError, OptionTable, Options, PlugMode,
};
use umha_common::Deadline;

use crate::bmc::{Bmc, device_error};
use crate::config::lan_config;
use crate::options;

/// The agent.
#[derive(Debug)]
pub struct FenceIpmi;

const LONGDESC: &str = "fence_ipmi powers a machine off and on through its BMC over IPMI: \
RMCP+ (lanplus, cipher suites 3 and 17, chosen automatically unless cipher is set) or IPMI 1.5. \
It is a drop-in replacement for fence_ipmilan: it accepts every fence_ipmilan option under the \
same name, letter and default, so a stonith:fence_ipmilan device keeps working when only the \
agent name changes. As in fence_ipmilan, lanplus is off by default; set lanplus=1 for IPMI 2.0. \
Unlike fence_ipmilan it does not run ipmitool: the password never appears on a command line or \
in the log, a status takes milliseconds instead of a tenth of a second, and one deadline below \
Pacemaker's timeout bounds every run, so a dead BMC fails early and the next fencing level gets \
its turn. Power off, and the off part of reboot, succeed only once the BMC reads the power back \
as off after fence_ipmi asked for it: an OFF the BMC reports before that is not believed while \
fencing, and power off is sent anyway (harmless on a machine that is off). \
method=cycle succeeds only if the power is seen off during the cycle. monitor also checks that \
the account may raise its session to privlvl, so a device that could not fence fails its \
monitor. Options that only steer ipmitool (ipmitool_path, ipmitool_timeout, use_sudo, \
sudo_path) are accepted and ignored; target (IPMI bridging) is refused, since without bridging \
the commands would reach the wrong controller.";

impl Agent for FenceIpmi {
    type Device = Bmc;

    fn info() -> AgentInfo {
        AgentInfo {
            longdesc: LONGDESC,
            plugs: PlugMode::Single,
            capabilities: Capabilities {
                list: false,
                cycle: true,
                diag: true,
                ..Capabilities::default()
            },
            ..AgentInfo::new(
                "fence_ipmi",
                "Fence agent for IPMI (drop-in replacement for fence_ipmilan, without ipmitool)",
            )
        }
    }

    fn options(table: &mut OptionTable) {
        options::add(table);
    }

    fn validate(options: &Options) -> Result<(), String> {
        let settings = lan_config(options).map_err(|e| e.to_string())?;
        for note in &settings.notes {
            log::debug!("{note}");
        }
        Ok(())
    }

    fn connect(options: &Options, deadline: Deadline) -> Result<Bmc, DeviceError> {
        let settings = lan_config(options).map_err(|e| DeviceError::AuthFailed(e.to_string()))?;
        let config = &settings.config;
        let mut session = Session::open(config, deadline).map_err(device_error)?;
        log::debug!(
            "IPMI session with {}:{} as '{}' ({}, privilege {})",
            config.host,
            config.port,
            config.username,
            match session.cipher_suite() {
                Some(suite) => format!("RMCP+ cipher suite {suite}"),
                None => "IPMI 1.5".to_owned(),
            },
            config.privilege
        );
        let action = options.action().ok();
        if action == Some(Action::Monitor) {
            // A device whose account cannot reach privlvl could not fence:
            // its monitor should fail now, not the fencing later.
            session.ensure_privilege().map_err(device_error)?;
        }
        Ok(Bmc::new(session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_names_the_replacement_and_cycle_and_diag() {
        let info = FenceIpmi::info();
        let table = stonith_core::option_table::<FenceIpmi>();
        let xml = stonith_core::metadata::render(&info, &table);
        assert!(xml.contains("drop-in replacement for fence_ipmilan"));
        assert!(xml.contains("<action name=\"diag\" />"));
        assert!(xml.contains("<option value=\"cycle\" />"));
        assert!(!xml.contains("name=\"list\""));
    }

    #[test]
    fn validate_reports_config_errors_without_network() {
        let table = stonith_core::option_table::<FenceIpmi>();
        let o = Options::resolve(
            &table,
            PlugMode::Single,
            stonith_core::input::stdin::parse(b"ip=h\nlanplus=1\ncipher=0\n", &table),
        );
        let err = FenceIpmi::validate(&o).unwrap_err();
        assert!(err.contains("cipher suite 0"), "{err}");
    }
}
