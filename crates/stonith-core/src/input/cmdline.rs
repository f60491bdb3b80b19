//! The command line, with fence-agents' getopt names (Python's `gnu_getopt`).
//!
//! Accepted forms: `--ip=h`, `--ip h`, `-ah`, `-a h`, clustered flags
//! (`-vvv`, `-vo status`), unique prefixes of long names (`--power-t=5`, as
//! Python's getopt allows), options and operands in any order, and `--` to end
//! the options. An unknown option, a missing value, or a value given to a flag
//! is an error (exit 1); leftover operands only draw a warning, as in
//! fence-agents.

use std::ffi::OsString;

use super::{Entry, RawInput, RawValue, Source, printable};
use crate::error::UsageError;
use crate::spec::{LongMatch, OptionTable};

/// Parse `args` (without the program name).
pub fn parse(args: &[OsString], table: &OptionTable) -> Result<RawInput, UsageError> {
    let mut input = RawInput::new(Source::CommandLine);
    let mut operands = Vec::new();
    let mut index = 0;
    while index < args.len() {
        let arg = args[index].to_str().ok_or(UsageError::NotUtf8(index + 1))?;
        index += 1;
        if arg == "--" {
            operands.extend(
                args[index..]
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned()),
            );
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (long, None),
            };
            let spec = table.by_long(name).map_err(|why| match why {
                LongMatch::Unknown => UsageError::UnknownOption(format!("--{}", printable(name))),
                LongMatch::Ambiguous => {
                    UsageError::AmbiguousOption(format!("--{}", printable(name)))
                }
            })?;
            let shown = format!("--{}", spec.long.as_deref().unwrap_or(spec.name));
            let value = if spec.value.takes_value() {
                match inline {
                    Some(value) => RawValue::text(value),
                    None => RawValue::text(next_value(args, &mut index, &shown)?),
                }
            } else {
                if inline.is_some() {
                    return Err(UsageError::UnexpectedArgument(shown));
                }
                RawValue::Present
            };
            input.entries.push(Entry {
                name: spec.name,
                value,
            });
        } else if arg.len() > 1 && arg.starts_with('-') {
            let cluster = &arg[1..];
            for (at, letter) in cluster.char_indices() {
                let spec = table.by_short(letter).ok_or_else(|| {
                    UsageError::UnknownOption(format!("-{}", printable(&letter.to_string())))
                })?;
                if spec.value.takes_value() {
                    let rest = &cluster[at + letter.len_utf8()..];
                    let value = if rest.is_empty() {
                        next_value(args, &mut index, &format!("-{letter}"))?
                    } else {
                        rest.to_owned()
                    };
                    input.entries.push(Entry {
                        name: spec.name,
                        value: RawValue::text(value),
                    });
                    break;
                }
                input.entries.push(Entry {
                    name: spec.name,
                    value: RawValue::Present,
                });
            }
        } else {
            operands.push(arg.to_owned());
        }
    }
    if !operands.is_empty() {
        input.warnings.push(format!(
            "Unused arguments on command line: {}",
            operands
                .iter()
                .map(|o| printable(o))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    Ok(input)
}

fn next_value(args: &[OsString], index: &mut usize, shown: &str) -> Result<String, UsageError> {
    let value = args
        .get(*index)
        .ok_or_else(|| UsageError::MissingArgument(shown.to_owned()))?
        .to_str()
        .ok_or(UsageError::NotUtf8(*index + 1))?
        .to_owned();
    *index += 1;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{AgentInfo, Capabilities, PlugMode};
    use crate::fixtures::{add_login, pairs};
    use crate::spec::OptionSpec;

    fn table() -> OptionTable {
        let info = AgentInfo {
            plugs: PlugMode::Multiple,
            capabilities: Capabilities {
                cycle: true,
                ..Capabilities::default()
            },
            ..AgentInfo::new("fence_test", "test")
        };
        let mut table = OptionTable::common(&info);
        add_login(&mut table).add(OptionSpec::flag("lanplus", "Use Lanplus").short('P'));
        table
    }

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn every_value_form() {
        let input = parse(
            &args(&[
                "--ip=h1",
                "--username",
                "admin",
                "-ooff",
                "-n",
                "3",
                "-p",
                "-dash-first",
                "--power-timeout=9",
            ]),
            &table(),
        )
        .unwrap();
        assert_eq!(
            pairs(&input),
            vec![
                ("ip", "h1".into()),
                ("username", "admin".into()),
                ("action", "off".into()),
                ("plug", "3".into()),
                ("password", "-dash-first".into()),
                ("power_timeout", "9".into()),
            ]
        );
    }

    #[test]
    fn flags_cluster_and_count() {
        let input = parse(&args(&["-vvP", "-vo", "status"]), &table()).unwrap();
        assert_eq!(
            pairs(&input),
            vec![
                ("verbose", "+".into()),
                ("verbose", "+".into()),
                ("lanplus", "+".into()),
                ("verbose", "+".into()),
                ("action", "status".into()),
            ]
        );
    }

    #[test]
    fn unique_long_prefixes_work() {
        let input = parse(&args(&["--power-t=5", "--lanp"]), &table()).unwrap();
        assert_eq!(
            pairs(&input),
            vec![("power_timeout", "5".into()), ("lanplus", "+".into())]
        );
        assert_eq!(
            parse(&args(&["--pass=x"]), &table()).unwrap_err(),
            UsageError::AmbiguousOption("--pass".into())
        );
    }

    #[test]
    fn errors_as_getopt() {
        let t = table();
        assert_eq!(
            parse(&args(&["--bogus"]), &t).unwrap_err(),
            UsageError::UnknownOption("--bogus".into())
        );
        assert_eq!(
            parse(&args(&["-Z"]), &t).unwrap_err(),
            UsageError::UnknownOption("-Z".into())
        );
        assert_eq!(
            parse(&args(&["--ip"]), &t).unwrap_err(),
            UsageError::MissingArgument("--ip".into())
        );
        assert_eq!(
            parse(&args(&["-o"]), &t).unwrap_err(),
            UsageError::MissingArgument("-o".into())
        );
        assert_eq!(
            parse(&args(&["--lanplus=1"]), &t).unwrap_err(),
            UsageError::UnexpectedArgument("--lanplus".into())
        );
    }

    #[test]
    fn operands_warn_and_double_dash_ends_options() {
        let input = parse(&args(&["extra", "-o", "status", "--", "-v"]), &table()).unwrap();
        assert_eq!(pairs(&input), vec![("action", "status".into())]);
        assert_eq!(input.warnings.len(), 1);
        assert!(input.warnings[0].contains("extra") && input.warnings[0].contains("-v"));
    }

    #[test]
    fn single_dash_is_an_operand() {
        let input = parse(&args(&["-"]), &table()).unwrap();
        assert!(input.entries.is_empty());
        assert_eq!(input.warnings.len(), 1);
    }

    #[test]
    fn hidden_stdin_only_options_are_not_on_the_command_line() {
        assert!(parse(&args(&["--nodename=x"]), &table()).is_err());
        assert!(parse(&args(&["--option=off"]), &table()).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_argv_never_panics(list in proptest::collection::vec("[-=a-zA-Z0-9 ]{0,12}", 0..12)) {
            let argv: Vec<OsString> = list.iter().map(OsString::from).collect();
            let _ = parse(&argv, &table());
        }
    }
}
