//! `umha-maas-sim`: the MAAS 2.0 API simulator as a process, for the lab.
//! See the library documentation for what it simulates.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use maas_sim::{MachineSpec, SimConfig, Simulator};

/// A simulator of the MAAS 2.0 API subset fence_maas uses (not a MAAS).
///
/// Control interface (this host only, no key), under /_sim/:
/// GET state; POST fail?count=N&status=503, hang?count=N&seconds=S,
/// garbage?count=N&kind=not-json|wrong-shape|deep|huge|cycle, clear,
/// force?machine=H&state=unknown|error|none, power?machine=H&state=on|off,
/// delay?power=S&query=S.
#[derive(Debug, Parser)]
#[command(name = "umha-maas-sim", version)]
struct Args {
    /// Address to listen on, e.g. 127.0.0.1:5240.
    #[arg(long, default_value = "127.0.0.1:5240")]
    listen: SocketAddr,
    /// File whose first line is the API key consumer_key:token_key:token_secret (never on argv).
    #[arg(long)]
    api_key_file: PathBuf,
    /// A machine as HOSTNAME=SYSTEM_ID; repeat for each.
    #[arg(long = "machine", value_name = "HOSTNAME=SYSTEM_ID", required = true)]
    machines: Vec<String>,
    /// DNS domain of the machines (FQDN = hostname.domain).
    #[arg(long, default_value = "maas")]
    domain: String,
    /// Seconds between an accepted power request and the power change.
    #[arg(long, default_value_t = 2.0)]
    power_delay: f64,
    /// Seconds a query_power_state takes.
    #[arg(long, default_value_t = 0.5)]
    query_latency: f64,
    /// Run PROGRAM <hostname> on|off when a power change takes effect, and
    /// PROGRAM <hostname> status (printing on or off) for each power query.
    #[arg(long, value_name = "PROGRAM")]
    power_cmd: Option<PathBuf>,
}

fn seconds(name: &str, value: f64) -> anyhow::Result<Duration> {
    if !(value.is_finite() && (0.0..=3600.0).contains(&value)) {
        bail!("--{name} must be between 0 and 3600 seconds");
    }
    Ok(Duration::from_secs_f64(value))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    umha_common::log::init(umha_common::log::Logger::from_env(
        "umha-maas-sim",
        None,
        umha_common::log::StderrPolicy::Always,
    ));
    let key = std::fs::read_to_string(&args.api_key_file)
        .with_context(|| format!("reading {}", args.api_key_file.display()))?;
    let key = key.lines().next().unwrap_or("").trim().to_owned();
    let machines = args
        .machines
        .iter()
        .map(|m| match m.split_once('=') {
            Some((host, id)) => Ok(MachineSpec::new(host, id)),
            None => bail!("--machine {m}: expected HOSTNAME=SYSTEM_ID"),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut sim = Simulator::start(SimConfig {
        listen: args.listen,
        api_key: key,
        machines,
        domain: args.domain,
        power_delay: seconds("power-delay", args.power_delay)?,
        query_latency: seconds("query-latency", args.query_latency)?,
        power_cmd: args.power_cmd,
    })?;
    println!("umha-maas-sim: MAAS 2.0 API simulator at {}", sim.url());
    sim.wait();
    Ok(())
}
