//! Writing and reading node attributes through Pacemaker's tools.
//!
//! * **Transient** attributes (status section, gone when the node leaves)
//!   go through the attribute manager with `attrd_updater`. Dampening
//!   (`--delay`) lets a flapping value settle before it reaches the CIB;
//!   private attributes never reach the CIB at all.
//! * **Persistent** attributes (nodes section, kept across reboots) go
//!   through `crm_attribute --lifetime=forever`.
//!
//! Names and values travel as command-line arguments, where any local user
//! can read them in `/proc`, and they are stored in the CIB, which is
//! replicated and copied into reports. **Never store a secret as a node
//! attribute.** Each argument is passed as one `--option=value` word, so a
//! value that starts with `-` cannot be mistaken for an option.
//!
//! Pass the node name explicitly: on a cluster node the local node name is
//! not `uname -n` (take it from `OCF_RESKEY_CRM_meta_on_node`).

use std::time::Duration;

use umha_common::{Deadline, Output};

use crate::{CibError, tool, xml};

const ATTRD_UPDATER: &str = "attrd_updater";
const CRM_ATTRIBUTE: &str = "crm_attribute";

/// Exit codes meaning "no such attribute": `CRM_EX_NOSUCH` (crm_attribute)
/// and `CRM_EX_CONFIG` (attrd_updater's "attribute does not exist").
const EXIT_NOSUCH: i32 = 105;
const EXIT_CONFIG: i32 = 78;

/// How a transient attribute is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransientOptions {
    /// Wait this long for further changes before writing to the CIB
    /// (`attrd_updater -B --delay`). Whole seconds; rounded up.
    pub dampen: Option<Duration>,
    /// Keep the attribute in the attribute manager only, never in the CIB
    /// (`--private`). Only honoured when the attribute is created.
    pub private: bool,
}

/// Set a transient attribute. `node` `None` means the local node.
pub fn set_transient(
    node: Option<&str>,
    name: &str,
    value: &str,
    options: TransientOptions,
    deadline: Deadline,
) -> Result<(), CibError> {
    let args = transient_set_args(node, name, value, options)?;
    run_write(ATTRD_UPDATER, &args, deadline)
}

/// The attribute manager's current value of a transient attribute (which
/// may not have reached the CIB yet while dampened). `None` when unset or
/// empty.
pub fn query_transient(
    node: Option<&str>,
    name: &str,
    deadline: Deadline,
) -> Result<Option<String>, CibError> {
    let mut args = vec!["--query".to_owned(), arg("name", name)?];
    if let Some(node) = node {
        args.push(arg("node", node)?);
    }
    args.push("--output-as=xml".to_owned());
    run_query(ATTRD_UPDATER, &args, name, node, deadline)
}

/// Delete a transient attribute (`attrd_updater -D`). Deleting an unset one succeeds.
pub fn delete_transient(
    node: Option<&str>,
    name: &str,
    deadline: Deadline,
) -> Result<(), CibError> {
    let mut args = vec!["--delete".to_owned(), arg("name", name)?];
    if let Some(node) = node {
        args.push(arg("node", node)?);
    }
    run_write(ATTRD_UPDATER, &args, deadline)
}

/// Set a persistent attribute of `node`.
pub fn set_persistent(
    node: &str,
    name: &str,
    value: &str,
    deadline: Deadline,
) -> Result<(), CibError> {
    let args = persistent_args(node, name, &[arg("update", value)?])?;
    run_write(CRM_ATTRIBUTE, &args, deadline)
}

/// A persistent attribute of `node`, from the CIB. `None` when unset or empty.
pub fn query_persistent(
    node: &str,
    name: &str,
    deadline: Deadline,
) -> Result<Option<String>, CibError> {
    let args = persistent_args(
        node,
        name,
        &["--query".to_owned(), "--output-as=xml".to_owned()],
    )?;
    run_query(CRM_ATTRIBUTE, &args, name, Some(node), deadline)
}

/// Delete a persistent attribute of `node`. Deleting an unset one succeeds.
pub fn delete_persistent(node: &str, name: &str, deadline: Deadline) -> Result<(), CibError> {
    let args = persistent_args(node, name, &["--delete".to_owned()])?;
    run_write(CRM_ATTRIBUTE, &args, deadline)
}

/// Set cluster property `name` in the property set `set` (created when
/// missing). Tools keep their own state there (the evacuator's hold) so it
/// never mixes with `cib-bootstrap-options`, and an operator removes it with
/// the same command and `--delete`.
pub fn set_property(
    set: &str,
    name: &str,
    value: &str,
    deadline: Deadline,
) -> Result<(), CibError> {
    let args = property_args(set, name, &[arg("update", value)?])?;
    run_write(CRM_ATTRIBUTE, &args, deadline)
}

/// Delete cluster property `name` from `set`. Deleting an unset one succeeds.
pub fn delete_property(set: &str, name: &str, deadline: Deadline) -> Result<(), CibError> {
    let args = property_args(set, name, &["--delete".to_owned()])?;
    run_write(CRM_ATTRIBUTE, &args, deadline)
}

fn property_args(set: &str, name: &str, command: &[String]) -> Result<Vec<String>, CibError> {
    let mut args = vec![
        "--type=crm_config".to_owned(),
        arg("set-name", set)?,
        arg("name", name)?,
    ];
    args.extend_from_slice(command);
    Ok(args)
}

fn transient_set_args(
    node: Option<&str>,
    name: &str,
    value: &str,
    options: TransientOptions,
) -> Result<Vec<String>, CibError> {
    let mut args = vec![arg("name", name)?];
    match options.dampen {
        // -U ignores --delay; -B sets value and dampening together.
        Some(d) => {
            let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
            args.push(arg("update-both", value)?);
            args.push(format!("--delay={secs}"));
        }
        None => args.push(arg("update", value)?),
    }
    if let Some(node) = node {
        args.push(arg("node", node)?);
    }
    if options.private {
        args.push("--private".to_owned());
    }
    Ok(args)
}

fn persistent_args(node: &str, name: &str, command: &[String]) -> Result<Vec<String>, CibError> {
    let mut args = vec![
        arg("node", node)?,
        arg("name", name)?,
        "--lifetime=forever".to_owned(),
    ];
    args.extend_from_slice(command);
    Ok(args)
}

/// `--key=value`, refusing what the tools cannot take.
fn arg(key: &'static str, value: &str) -> Result<String, CibError> {
    if value.contains('\0') {
        return Err(CibError::InvalidInput {
            what: key,
            detail: "contains a NUL byte".to_owned(),
        });
    }
    let must_be_named = matches!(key, "name" | "node" | "set-name");
    if must_be_named && value.trim().is_empty() {
        return Err(CibError::InvalidInput {
            what: key,
            detail: "is empty".to_owned(),
        });
    }
    Ok(format!("--{key}={value}"))
}

fn run_write(program: &str, args: &[String], deadline: Deadline) -> Result<(), CibError> {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    tool::run(program, &refs, deadline).map(|_| ())
}

fn run_query(
    program: &str,
    args: &[String],
    name: &str,
    node: Option<&str>,
    deadline: Deadline,
) -> Result<Option<String>, CibError> {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = tool::run_unchecked(program, &refs, deadline)?;
    if !output.success() {
        return if is_no_such_attribute(&output) {
            Ok(None)
        } else {
            Err(tool::failed(program, &output))
        };
    }
    let text = tool::stdout_text(program, output)?;
    parse_query(&text, name, node)
}

fn is_no_such_attribute(output: &Output) -> bool {
    let code = output.code();
    let message =
        tool::xml_status_message(&output.stdout).unwrap_or_default() + &output.stderr_summary();
    code == EXIT_NOSUCH
        || (code == EXIT_CONFIG && message.contains("does not exist"))
        || message.contains("attribute does not exist")
}

/// The value of `<attribute name=... value=... [host=...]>` in a tool's XML.
fn parse_query(text: &str, name: &str, node: Option<&str>) -> Result<Option<String>, CibError> {
    let doc = xml::parse_document(text, "attribute query output")?;
    let found = xml::children(doc.root_element(), "attribute")
        .filter(|a| a.attribute("name") == Some(name))
        .find(|a| match (node, a.attribute("host")) {
            (Some(wanted), Some(host)) => host.eq_ignore_ascii_case(wanted),
            _ => true,
        });
    Ok(found
        .and_then(|a| a.attribute("value"))
        .filter(|v| !v.is_empty())
        .map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_args() {
        let args = transient_set_args(
            Some("cmp2"),
            "umha-storage",
            "-1",
            TransientOptions::default(),
        )
        .unwrap();
        assert_eq!(args, ["--name=umha-storage", "--update=-1", "--node=cmp2"]);

        let options = TransientOptions {
            dampen: Some(Duration::from_millis(4500)),
            private: true,
        };
        let args = transient_set_args(None, "a", "1", options).unwrap();
        assert_eq!(
            args,
            ["--name=a", "--update-both=1", "--delay=5", "--private"]
        );
    }

    #[test]
    fn property_argv() {
        let args = property_args("umha-evacuator", "umha-hold", &["--delete".to_owned()]).unwrap();
        assert_eq!(
            args,
            [
                "--type=crm_config",
                "--set-name=umha-evacuator",
                "--name=umha-hold",
                "--delete"
            ]
        );
        assert!(property_args("", "x", &[]).is_err());
    }

    #[test]
    fn persistent_argv() {
        let args =
            persistent_args("cmp1", "umha-evacuate", &[arg("update", "yes").unwrap()]).unwrap();
        assert_eq!(
            args,
            [
                "--node=cmp1",
                "--name=umha-evacuate",
                "--lifetime=forever",
                "--update=yes"
            ]
        );
    }

    #[test]
    fn refuses_empty_names_and_nuls() {
        assert!(matches!(
            transient_set_args(None, " ", "1", TransientOptions::default()),
            Err(CibError::InvalidInput { .. })
        ));
        assert!(matches!(
            transient_set_args(None, "a", "x\0y", TransientOptions::default()),
            Err(CibError::InvalidInput { .. })
        ));
        assert!(set_persistent("", "a", "1", Deadline::never()).is_err());
        // An empty value is legal (it is how attrd spells "unset").
        assert!(transient_set_args(None, "a", "", TransientOptions::default()).is_ok());
    }

    #[test]
    fn query_output() {
        let text = r#"<pacemaker-result api-version="2.25" request="attrd_updater -Q">
  <attribute name="umha-test-t" value="7" host="cmp3"/>
  <status code="0" message="OK"/>
</pacemaker-result>"#;
        assert_eq!(
            parse_query(text, "umha-test-t", Some("cmp3")).unwrap(),
            Some("7".into())
        );
        assert_eq!(
            parse_query(text, "umha-test-t", None).unwrap(),
            Some("7".into())
        );
        assert_eq!(
            parse_query(text, "umha-test-t", Some("cmp1")).unwrap(),
            None
        );
        assert_eq!(parse_query(text, "other", None).unwrap(), None);
        let crm = r#"<pacemaker-result><attribute name="umha-test" value="42" scope="nodes" id="nodes-cmp2-umha-test"/><status code="0"/></pacemaker-result>"#;
        assert_eq!(
            parse_query(crm, "umha-test", Some("cmp2")).unwrap(),
            Some("42".into())
        );
        let empty =
            r#"<pacemaker-result><attribute name="a" value="" host="n"/></pacemaker-result>"#;
        assert_eq!(parse_query(empty, "a", Some("n")).unwrap(), None);
    }

    #[test]
    fn missing_attribute_is_none_other_failures_are_errors() {
        // Stand-ins for the tools: the same exits and messages.
        let no_such = r#"echo '<pacemaker-result><status code="105" message="No such object"/></pacemaker-result>'; exit 105"#;
        let out = run_query(
            "sh",
            &["-c".into(), no_such.into()],
            "a",
            None,
            Deadline::never(),
        );
        assert_eq!(out.unwrap(), None);

        let attrd = r#"printf '%s\n' '<pacemaker-result><status code="78" message="Invalid configuration"><errors><error>Could not query value of a: attribute does not exist</error></errors></status></pacemaker-result>'; exit 78"#;
        let out = run_query(
            "sh",
            &["-c".into(), attrd.into()],
            "a",
            None,
            Deadline::never(),
        );
        assert_eq!(out.unwrap(), None);

        let down = r#"echo 'Could not connect to attrd: Connection refused' >&2; exit 102"#;
        let err = run_query(
            "sh",
            &["-c".into(), down.into()],
            "a",
            None,
            Deadline::never(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("Connection refused"), "{err}");
    }

    /// The argument lists work with the real `crm_attribute`, which edits a
    /// CIB file when `CIB_file` is set (no cluster needed). Skipped when
    /// Pacemaker's tools are not installed.
    #[test]
    fn persistent_arguments_work_with_the_real_tool() {
        let dir = std::env::temp_dir().join(format!("cib-attr-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("cib.xml");
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/healthy-cib.xml");
        std::fs::copy(fixture, &file).unwrap();
        let run = |args: Vec<String>| {
            umha_common::Command::new(CRM_ATTRIBUTE)
                .args(&args)
                .env("CIB_file", &file)
                .timeout(Duration::from_secs(30))
                .run()
        };
        let set = persistent_args("cmp2", "umha-test", &[arg("update", "-42").unwrap()]).unwrap();
        match run(set) {
            Err(umha_common::ExecError::NotFound { .. }) => {
                eprintln!("crm_attribute not installed: skipped");
                return;
            }
            other => assert!(other.unwrap().success()),
        }
        let query = |name: &str| {
            let args = persistent_args("cmp2", name, &["--query".into(), "--output-as=xml".into()])
                .unwrap();
            let out = run(args).unwrap();
            if !out.success() {
                assert!(is_no_such_attribute(&out), "{}", out.stderr_summary());
                return None;
            }
            parse_query(&out.stdout_lossy(), name, Some("cmp2")).unwrap()
        };
        assert_eq!(query("umha-test"), Some("-42".to_owned()));
        assert_eq!(query("never-set"), None);
        let cib = crate::Cib::from_file(&file).unwrap();
        assert_eq!(
            cib.node("cmp2").unwrap().persistent_attribute("umha-test"),
            Some("-42")
        );
        assert!(
            run(persistent_args("cmp2", "umha-test", &["--delete".into()]).unwrap())
                .unwrap()
                .success()
        );
        assert_eq!(query("umha-test"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn write_failure_is_typed() {
        let err = run_write(
            "sh",
            &[
                "-c".into(),
                "echo 'Error performing operation: No such device' >&2; exit 105".into(),
            ],
            Deadline::never(),
        )
        .unwrap_err();
        assert!(
            matches!(err, CibError::ToolFailed { code: 105, .. }),
            "{err}"
        );
    }
}
