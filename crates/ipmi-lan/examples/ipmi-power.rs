//! Manual check of the client against a BMC:
//! `IPMI_PASSWORD=pw cargo run -p ipmi-lan --example ipmi-power -- HOST PORT USER [lan|C<suite>|auto] [status|on|off|cycle|reset|soft]`
//! The password comes from the environment, never from argv.

use std::time::{Duration, Instant};

use ipmi_lan::{ChassisControl, Config, Session};
use umha_common::{Deadline, Secret};

fn main() -> anyhow::Result<()> {
    umha_common::log::init(umha_common::Logger::from_env(
        "ipmi-power",
        None,
        umha_common::log::StderrPolicy::Always,
    ));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |i: usize, d: &str| args.get(i).cloned().unwrap_or_else(|| d.to_string());
    let mut config = Config::new(
        get(0, "127.0.0.1"),
        get(2, "admin"),
        Secret::new(std::env::var("IPMI_PASSWORD").unwrap_or_default()),
    );
    config.port = get(1, "623").parse()?;
    match get(3, "auto").as_str() {
        "lan" => config.lanplus = false,
        "auto" => {}
        c => config.cipher = Some(c.trim_start_matches('C').parse()?),
    }
    if let Ok(p) = std::env::var("IPMI_PRIVLVL") {
        config.privilege =
            ipmi_lan::Privilege::parse(&p).ok_or_else(|| anyhow::anyhow!("bad privlvl {p}"))?;
    }
    let t0 = Instant::now();
    let mut s = Session::open(&config, Deadline::after(Duration::from_secs(20)))?;
    let action = get(4, "status");
    match action.as_str() {
        "status" => {
            let st = s.chassis_status()?;
            println!(
                "Chassis Power is {}",
                if st.power_on { "on" } else { "off" }
            );
        }
        a => {
            let c = match a {
                "on" => ChassisControl::PowerOn,
                "off" => ChassisControl::PowerOff,
                "cycle" => ChassisControl::PowerCycle,
                "reset" => ChassisControl::HardReset,
                "soft" => ChassisControl::SoftShutdown,
                _ => anyhow::bail!("unknown action {a}"),
            };
            s.chassis_control(c)?;
            println!("Chassis Power Control: {c}");
        }
    }
    let suite = s.cipher_suite();
    let stats = s.stats();
    s.close()?;
    eprintln!(
        "suite {suite:?}, {} exchanges, {} datagrams (+close), {:?}",
        stats.exchanges,
        stats.datagrams_sent,
        t0.elapsed()
    );
    Ok(())
}
