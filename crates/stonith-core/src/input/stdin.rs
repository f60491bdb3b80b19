//! `name=value` lines on stdin, as pacemaker-fenced writes them.
//!
//! What pacemaker-fenced sends (read in Pacemaker's `lib/fencing/st_actions.c`,
//! `make_args()`/`append_config_arg()`, and `lib/services/services_linux.c`,
//! which writes each pair as `key=value\n`, in hash-table order):
//! - `action=<action>`, after substituting `pcmk_<action>_action` if configured;
//! - for an operation against a node: `nodename=<node>`, `nodeid=<id>` when
//!   known, and the target under the device's `pcmk_host_argument`, by default
//!   `plug` if the metadata has a `plug` parameter, else `port`, mapped through
//!   `pcmk_host_map`;
//! - every instance attribute of the stonith device, **except** `action`,
//!   `provides`, `stonith-timeout`, `crm_feature_set`, anything containing
//!   `CRM_meta`, and the Pacemaker-handled `pcmk_*` parameters
//!   (`pcmk_host_list/map/check/argument`, `pcmk_delay_base/max`,
//!   `pcmk_action_limit`, and every `pcmk_<action>_action/_timeout/_retries`).
//!
//! So **no timeout ever reaches the agent**: it cannot learn `pcmk_off_timeout`
//! (60 s by default) and must stay below it by itself; see [`crate::timing`].
//! Pacemaker also retries a failed agent run (`pcmk_<action>_retries`, 2 tries
//! by default) when at least 30 % of its timeout is left, which is one more
//! reason to fail early rather than be killed.
//!
//! Parsing follows fence-agents' `_parse_input_stdin`:
//! - blank lines and lines starting with `#` are skipped (after trimming);
//! - the name is what precedes the first `=`, the value what follows it;
//!   one pair of surrounding double quotes is removed from the value;
//! - a line without `=` is a name with an empty value, as in fence-agents
//!   (umha also warns about it);
//! - unknown names are ignored with a warning; the last occurrence wins;
//! - `-` and `_` spellings and the older names are accepted (the table decides).
//!
//! Where umha differs: blanks around the name are ignored, so `action = off`
//! means off (fence-agents ignores that line and reboots); warnings name the
//! option but never echo the line, which may hold a password; input is capped
//! at [`MAX_STDIN`] bytes; a line that is not UTF-8 is decoded lossily (a
//! mangled password then fails to log in, which says what is wrong).

use std::io::Read;

use super::{Entry, RawInput, RawValue, Source, printable};
use crate::error::UsageError;
use crate::spec::OptionTable;

/// Far above anything Pacemaker sends (a few hundred bytes), far below what
/// could hurt the node.
pub const MAX_STDIN: usize = 1024 * 1024;

/// Read stdin to the end (bounded) and parse it.
pub fn read(mut reader: impl Read, table: &OptionTable) -> Result<RawInput, UsageError> {
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    let mut limited = (&mut reader).take(MAX_STDIN as u64 + 1);
    limited
        .read_to_end(&mut bytes)
        .map_err(|e| UsageError::Read(e.to_string()))?;
    if bytes.len() > MAX_STDIN {
        return Err(UsageError::InputTooLarge { limit: MAX_STDIN });
    }
    Ok(parse(&bytes, table))
}

/// Parse the bytes read from stdin.
pub fn parse(bytes: &[u8], table: &OptionTable) -> RawInput {
    let mut input = RawInput::new(Source::Stdin);
    for (index, raw_line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = index + 1;
        let line = raw_line.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let (name_bytes, value_bytes) = match line.iter().position(|&b| b == b'=') {
            Some(at) => (&line[..at], &line[at + 1..]),
            None => (line, &b""[..]),
        };
        let Ok(name) = std::str::from_utf8(name_bytes.trim_ascii()) else {
            input.warnings.push(format!(
                "Parse error: Ignoring line {line_no}: the option name is not valid UTF-8"
            ));
            continue;
        };
        let Some(spec) = table.lookup(name) else {
            input.warnings.push(format!(
                "Parse error: Ignoring unknown option '{}'",
                printable(name)
            ));
            continue;
        };
        if !line.contains(&b'=') {
            input.warnings.push(format!(
                "Parse error: line {line_no} has no '=': option '{}' gets an empty value",
                spec.name
            ));
        }
        let value = unquote(value_bytes);
        let text = match std::str::from_utf8(value) {
            Ok(text) => text.to_owned(),
            Err(_) => {
                input.warnings.push(format!(
                    "Parse error: the value of '{}' is not valid UTF-8; invalid bytes replaced",
                    spec.name
                ));
                String::from_utf8_lossy(value).into_owned()
            }
        };
        input.entries.push(Entry {
            name: spec.name,
            value: RawValue::text(text),
        });
    }
    input
}

/// fence-agents' `re.sub('^"(.*)"$', '\\1', value)`.
fn unquote(value: &[u8]) -> &[u8] {
    if value.len() >= 2 && value.starts_with(b"\"") && value.ends_with(b"\"") {
        &value[1..value.len() - 1]
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{AgentInfo, PlugMode};
    use crate::fixtures::{add_login, pairs};

    fn table() -> OptionTable {
        let info = AgentInfo {
            plugs: PlugMode::Multiple,
            ..AgentInfo::new("fence_test", "test")
        };
        let mut table = OptionTable::common(&info);
        add_login(&mut table);
        table
    }

    #[test]
    fn pacemaker_style_input() {
        let text =
            "action=off\nnodename=cmp1\nplug=cmp1\nip=10.0.0.1\nusername=admin\npassword=pw\n";
        let input = parse(text.as_bytes(), &table());
        assert_eq!(
            pairs(&input),
            vec![
                ("action", "off".into()),
                ("nodename", "cmp1".into()),
                ("plug", "cmp1".into()),
                ("ip", "10.0.0.1".into()),
                ("username", "admin".into()),
                ("password", "pw".into()),
            ]
        );
        assert!(input.warnings.is_empty(), "{:?}", input.warnings);
    }

    #[test]
    fn comments_blank_lines_and_crlf_are_skipped() {
        let input = parse(
            b"# comment\n\n   \r\n  # indented\r\naction=status\r\n",
            &table(),
        );
        assert_eq!(pairs(&input), vec![("action", "status".into())]);
    }

    #[test]
    fn aliases_and_both_spellings() {
        let text = "ipaddr=h\nlogin=u\npasswd=p\nport=3\npasswd-script=/bin/x\npower-timeout=7\ndebug=/tmp/d\n";
        let input = parse(text.as_bytes(), &table());
        let names: Vec<&str> = input.entries.iter().map(|e| e.name).collect();
        assert_eq!(
            names,
            vec![
                "ip",
                "username",
                "password",
                "plug",
                "password_script",
                "power_timeout",
                "debug_file"
            ]
        );
    }

    #[test]
    fn unknown_names_warn_without_echoing_the_value() {
        let input = parse(b"pcmk_host_list=a b\nsecretish=hunter2\n", &table());
        assert!(input.entries.is_empty());
        assert_eq!(input.warnings.len(), 2);
        assert!(input.warnings.iter().all(|w| !w.contains("hunter2")));
        assert!(input.warnings[0].contains("pcmk_host_list"));
    }

    #[test]
    fn line_without_equals_is_an_empty_value_with_a_warning() {
        let input = parse(b"plug\n", &table());
        assert_eq!(pairs(&input), vec![("plug", String::new())]);
        assert_eq!(input.warnings.len(), 1);
    }

    #[test]
    fn value_keeps_everything_after_the_first_equals_and_loses_one_pair_of_quotes() {
        let input = parse(b"password=a=b\"c\nusername=\"x y\"\n", &table());
        assert_eq!(
            pairs(&input),
            vec![("password", "a=b\"c".into()), ("username", "x y".into())]
        );
    }

    #[test]
    fn blanks_around_the_name_are_ignored() {
        let input = parse(b"action = off\n", &table());
        assert_eq!(pairs(&input), vec![("action", " off".into())]);
    }

    #[test]
    fn duplicates_are_kept_in_order_for_last_wins() {
        let input = parse(b"action=on\naction=off\n", &table());
        assert_eq!(
            pairs(&input),
            vec![("action", "on".into()), ("action", "off".into())]
        );
    }

    #[test]
    fn empty_input_is_fine() {
        let input = parse(b"", &table());
        assert!(input.entries.is_empty() && input.warnings.is_empty());
    }

    #[test]
    fn non_utf8_is_survived() {
        let input = parse(b"\xff\xfe=1\npassword=p\xe9\naction=off\n", &table());
        assert_eq!(input.entries.len(), 2);
        assert_eq!(input.warnings.len(), 2);
        assert_eq!(pairs(&input)[1], ("action", "off".into()));
    }

    #[test]
    fn huge_input_is_refused_without_reading_it_all() {
        let endless = std::io::repeat(b'a');
        let err = read(endless, &table()).unwrap_err();
        assert_eq!(err, UsageError::InputTooLarge { limit: MAX_STDIN });
    }

    #[test]
    fn input_at_the_limit_is_read() {
        let mut text = b"action=status\n".to_vec();
        text.resize(MAX_STDIN, b'#');
        let input = read(&text[..], &table()).unwrap();
        assert_eq!(input.entries.len(), 1);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            let _ = parse(&bytes, &table());
        }

        #[test]
        fn arbitrary_lines_never_panic(lines in proptest::collection::vec("[ -~]{0,40}", 0..30)) {
            let text = lines.join("\n");
            let input = parse(text.as_bytes(), &table());
            proptest::prop_assert!(input.entries.len() <= lines.len());
        }
    }
}
