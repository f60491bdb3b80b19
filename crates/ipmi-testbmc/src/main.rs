//! `umha-test-bmc`: run the test BMC by hand or from a lab script.
//!
//! ```text
//! umha-test-bmc [--listen 127.0.0.1:9200] [--user NAME:PASSWORD:PRIV]... [--suites 3,17]
//!               [--power on|off] [--kg HEX] [--drop RATIO] [--seed N] [--delay-ms N]
//!               [--ignore-off] [--lie-off N] [--off-after N] [--close-after N]
//!               [--fail NETFN:CMD:CC[:TIMES]]... [--no-cipher-query] [--lenient-role]
//! ```
//! Test passwords only: they are on the command line. Prints `listening on
//! ADDR` once ready and serves until killed.
//!
//! `umha-test-bmc relay --listen ADDR --to ADDR --out FILE [--idle-exit-ms N]
//! [--drop RATIO] [--seed N]` relays one client to a BMC and writes every
//! datagram as a hex line (`C>S …` / `S>C …`) to FILE once the exchange has
//! been idle for N ms (default 1500; at most 60 s in all). Fixtures of the
//! known-answer tests are made with it.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use ipmi_lan::Privilege;
use ipmi_testbmc::{BmcConfig, CcFault, Relay, TestBmc, User};

fn parse_u8(s: &str) -> anyhow::Result<u8> {
    let s = s.trim();
    Ok(
        match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            Some(hex) => u8::from_str_radix(hex, 16)?,
            None => s.parse()?,
        },
    )
}

fn parse_args(args: &[String]) -> anyhow::Result<BmcConfig> {
    let mut cfg = BmcConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 9200)),
        users: Vec::new(),
        ..BmcConfig::default()
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => cfg.bind = value()?.parse().context("--listen ADDR:PORT")?,
            "--user" => {
                let v = value()?;
                let mut parts = v.splitn(3, ':');
                let (Some(name), Some(pw), Some(p)) = (parts.next(), parts.next(), parts.next())
                else {
                    bail!("--user NAME:PASSWORD:PRIVILEGE");
                };
                let privilege =
                    Privilege::parse(p).with_context(|| format!("unknown privilege {p}"))?;
                cfg.users.push(User::new(name, pw, privilege));
            }
            "--suites" => {
                cfg.suites = value()?
                    .split(',')
                    .map(|s| s.trim().parse::<u8>())
                    .collect::<Result<_, _>>()
                    .context("--suites 3,17")?;
            }
            "--power" => cfg.power_on = value()? == "on",
            "--kg" => {
                let hex = value()?;
                let bytes = hex
                    .as_bytes()
                    .chunks(2)
                    .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap_or("x"), 16))
                    .collect::<Result<Vec<u8>, _>>()
                    .context("--kg HEX")?;
                cfg.kg = Some(bytes);
            }
            "--drop" => cfg.faults.drop_ratio = value()?.parse()?,
            "--seed" => cfg.faults.seed = value()?.parse()?,
            "--delay-ms" => cfg.faults.delay = Duration::from_millis(value()?.parse()?),
            "--ignore-off" => cfg.faults.ignore_power_off = true,
            "--lie-off" => cfg.faults.lie_off_reads = value()?.parse()?,
            "--off-after" => cfg.faults.off_after_reads = value()?.parse()?,
            "--close-after" => cfg.faults.close_session_after = Some(value()?.parse()?),
            "--no-cipher-query" => cfg.faults.no_cipher_suites_answer = true,
            "--lenient-role" => cfg.faults.lenient_role = true,
            "--fail" => {
                let v = value()?;
                let parts: Vec<&str> = v.split(':').collect();
                let (Some(n), Some(c), Some(cc)) = (parts.first(), parts.get(1), parts.get(2))
                else {
                    bail!("--fail NETFN:CMD:CC[:TIMES]");
                };
                cfg.faults.completion_codes.push(CcFault {
                    net_fn: parse_u8(n)?,
                    cmd: parse_u8(c)?,
                    code: parse_u8(cc)?,
                    times: parts.get(3).map(|t| t.parse()).transpose()?,
                });
            }
            "-h" | "--help" => {
                println!(
                    "{}",
                    include_str!("main.rs")
                        .lines()
                        .skip(2)
                        .take(6)
                        .map(|l| l.trim_start_matches("//! ").trim_start_matches("//!"))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other} (try --help)"),
        }
    }
    if cfg.users.is_empty() {
        cfg.users = BmcConfig::default().users;
    }
    Ok(cfg)
}

fn relay(args: &[String]) -> anyhow::Result<()> {
    let mut listen: Option<SocketAddr> = None;
    let mut to: Option<SocketAddr> = None;
    let mut out: Option<String> = None;
    let mut idle = Duration::from_millis(1500);
    let mut drop_ratio = 0.0;
    let mut seed = 0;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => listen = Some(value()?.parse()?),
            "--to" => to = Some(value()?.parse()?),
            "--out" => out = Some(value()?.clone()),
            "--idle-exit-ms" => idle = Duration::from_millis(value()?.parse()?),
            "--drop" => drop_ratio = value()?.parse()?,
            "--seed" => seed = value()?.parse()?,
            other => bail!("unknown relay argument {other}"),
        }
    }
    let (Some(listen), Some(to), Some(out)) = (listen, to, out) else {
        bail!("relay needs --listen, --to and --out");
    };
    let mut r = Relay::start(listen, to, drop_ratio, seed)?;
    println!("relaying {} -> {to}", r.addr());
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
        if r.idle_for().is_some_and(|d| d >= idle) {
            break;
        }
    }
    r.stop();
    let mut text = String::new();
    for c in r.captured() {
        if c.dropped {
            text.push_str("# dropped: ");
        }
        text.push_str(c.direction.tag());
        text.push(' ');
        for b in &c.bytes {
            text.push_str(&format!("{b:02x}"));
        }
        text.push('\n');
    }
    std::fs::write(&out, text).with_context(|| format!("writing {out}"))?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "relay") {
        return relay(args.get(1..).unwrap_or(&[]));
    }
    let cfg = parse_args(&args)?;
    let bmc = TestBmc::start(cfg).context("starting the test BMC")?;
    println!("listening on {}", bmc.addr());
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_flags() {
        let c = parse_args(&args(
            "--listen 127.0.0.1:0 --user op:pw:operator --suites 17 --drop 0.3 --seed 5 --fail 0:2:0xff:1 --ignore-off",
        ))
        .unwrap();
        assert_eq!(c.users, vec![User::new("op", "pw", Privilege::Operator)]);
        assert_eq!(c.suites, vec![17]);
        assert!(c.faults.ignore_power_off);
        assert_eq!(c.faults.completion_codes[0].code, 0xff);
        assert_eq!(c.faults.completion_codes[0].times, Some(1));
        assert!(parse_args(&args("--bogus")).is_err());
        assert!(parse_args(&args("--user x")).is_err());
    }
}
