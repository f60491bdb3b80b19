//! The mail settings as OCF parameters, for agents that take them (the
//! evacuator lists these in its meta-data, so `crm ra info` and its man
//! page document them where the administrator sets them).

use agent_core::ParamSpec;

pub const MAIL_TO: ParamSpec = ParamSpec::list(
    "mail_to",
    "Mail alerts to",
    "Receivers of alert mails, separated by commas or blanks. Empty (the default): no mail; \
alerts still go to the log and the evacuation history.",
);
pub const MAIL_FROM: ParamSpec = ParamSpec::string(
    "mail_from",
    "Sender of alert mails",
    "The From address. Default: umha@ and this node's host name.",
);
pub const SMTP_SERVER: ParamSpec = ParamSpec::string(
    "smtp_server",
    "SMTP server",
    "HOST or HOST:PORT ([v6]:PORT) of the mail server. The port defaults to 587 with \
starttls, 465 with tls and 25 with none.",
);
pub const SMTP_TLS: ParamSpec = ParamSpec::string(
    "smtp_tls",
    "TLS to the SMTP server",
    "starttls (required, not opportunistic), tls (TLS from the first byte) or none. none is \
refused together with smtp_user.",
)
.default("starttls")
.choices(&["starttls", "tls", "none"]);
pub const SMTP_USER: ParamSpec = ParamSpec::string(
    "smtp_user",
    "SMTP user",
    "The user for SMTP AUTH; needs smtp_password_file.",
);
pub const SMTP_PASSWORD_FILE: ParamSpec = ParamSpec::string(
    "smtp_password_file",
    "File with the SMTP password",
    "A file whose first line is the SMTP password, readable only by the agent's user: root \
for the evacuator, hacluster for umha-alert (root:haclient 0640). The password itself is never \
a parameter, so it never shows in the CIB, ps or the logs.",
);
pub const SMTP_CA_FILE: ParamSpec = ParamSpec::string(
    "smtp_ca_file",
    "Extra CA certificates",
    "PEM file of CA certificates trusted for the SMTP server, in addition to the system's \
bundle.",
);
pub const SMTP_TLS_VERIFY: ParamSpec = ParamSpec::boolean(
    "smtp_tls_verify",
    "Verify the SMTP server's certificate",
    "Set to false only for a test server: the certificate is then not checked at all.",
)
.default("true");
pub const MAIL_SUBJECT_PREFIX: ParamSpec = ParamSpec::string(
    "mail_subject_prefix",
    "Subject prefix",
    "Put before every alert mail's subject, for mail filters.",
)
.default("[umha]");
pub const SEND_INTERVAL: ParamSpec = ParamSpec::duration(
    "send_interval",
    "At most one mail per",
    "UMHA's send_interval_hours: after a mail, the next one waits this long. Alerts in \
between are gathered into it, never dropped.",
)
.default("3h");
pub const MAIL_BATCH_DELAY: ParamSpec = ParamSpec::duration(
    "mail_batch_delay",
    "Gather a burst for",
    "A mail waits this long after its first alert, so a burst of alerts (a node lost, \
fenced, evacuated) is one mail.",
)
.default("10s");
pub const MAIL_SPOOL: ParamSpec = ParamSpec::string(
    "mail_spool",
    "Mail spool directory",
    "Alerts wait here until a mail server accepted them; the rate limit is kept per spool. \
umha-alert, which Pacemaker runs as hacluster, uses /var/lib/pacemaker/umha-alert-spool \
unless its mail_spool is set.",
)
.default("/var/lib/umha/mail-spool");

/// Every mail parameter, in the order the evacuator lists them (for man
/// pages and checks; a `&'static [ParamSpec]` literal cannot splice a
/// slice, so agents name the constants one by one).
pub const ALL: &[ParamSpec] = &[
    MAIL_TO,
    MAIL_FROM,
    SMTP_SERVER,
    SMTP_TLS,
    SMTP_USER,
    SMTP_PASSWORD_FILE,
    SMTP_CA_FILE,
    SMTP_TLS_VERIFY,
    MAIL_SUBJECT_PREFIX,
    SEND_INTERVAL,
    MAIL_BATCH_DELAY,
    MAIL_SPOOL,
];

#[cfg(test)]
mod tests {
    /// The metadata documents exactly the settings the parser reads.
    #[test]
    fn documented_names_are_the_parsed_ones() {
        let names: Vec<&str> = super::ALL.iter().map(|p| p.name).collect();
        assert_eq!(names, crate::config::SETTINGS);
        for p in super::ALL {
            if let Some(d) = p.default_value() {
                p.check(d).unwrap();
            }
        }
    }
}
