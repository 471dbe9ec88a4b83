//! A TOML configuration file for `castguard serve` (`--config FILE` or
//! `CASTGUARD_CONFIG`), and `--print-config`.
//!
//! Why clap and not figment: the flags already carry their types, value
//! parsers, defaults and environment variables in `serve::ServeArgs`.
//! Writing them a second time as a serde struct would let the two drift
//! apart. Instead the file's keys *are* the long flag names, and each value
//! is fed through the flag's own clap value parser, so a value is accepted in
//! the file exactly when it would be on the command line. Precedence is
//! command-line flag > environment variable > file > built-in default: after
//! a first parse, only arguments whose [`ValueSource`] is the default (or
//! which are absent) take the file's value, appended to argv as `--key=value`
//! for a second parse. A new flag in `ServeArgs` is a new file key with no
//! change here.
//!
//! Values: booleans for switches, integers for numeric flags, strings for
//! the rest, arrays of those for repeatable flags (a single value is taken
//! too). Relative paths (path-typed flags such as `data`, `tls-cert`) are
//! relative to the file's directory, not to the working directory, so a file
//! means the same wherever the server is started from.
//!
//! Errors are one line naming the file and the key, exit status 2 (like any
//! usage error). They never echo a value: the file may hold a database URL
//! with its password.

use crate::Failure;
use clap::builder::ValueParser;
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};
use std::any::TypeId;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The subcommand that reads a configuration file.
const SUBCOMMAND: &str = "serve";
/// Argument ids of `--config` and `--print-config`.
const CONFIG: &str = "config";
const PRINT_CONFIG: &str = "print-config";
/// Arguments that are about the invocation, not the configuration.
const NOT_KEYS: &[&str] = &["help", "version", CONFIG, PRINT_CONFIG];

/// Adds `--config` and `--print-config` to the `serve` subcommand of `cmd`
/// (kept here so `ServeArgs` stays the list of settings).
pub fn augment(cmd: Command) -> Command {
    cmd.mut_subcommand(SUBCOMMAND, |serve| {
        serve
            .arg(
                Arg::new(CONFIG)
                    .long(CONFIG)
                    .env("CASTGUARD_CONFIG")
                    .value_name("FILE")
                    .value_parser(clap::value_parser!(PathBuf))
                    .help(
                        "TOML configuration file: keys are the long flag names \
                         (docs/castguard.example.toml); flags and environment \
                         variables override it",
                    ),
            )
            .arg(
                Arg::new(PRINT_CONFIG)
                    .long(PRINT_CONFIG)
                    .action(ArgAction::SetTrue)
                    .help(
                        "Print the effective configuration as TOML, each value \
                         with its source and secrets masked, and exit",
                    ),
            )
    })
}

/// What the command line asks for once the file is merged in.
pub enum Parsed<T> {
    Run(T),
    /// `serve --print-config`: the configuration was printed; exit 0.
    Printed,
}

/// Parses the process's command line into `T`, merging the configuration
/// file for `serve`. Clap's own errors (and `--help`) exit as usual.
pub fn parse<T: clap::Parser>() -> Result<Parsed<T>, Failure> {
    let cmd = augment(T::command());
    let argv: Vec<OsString> = std::env::args_os().collect();
    let merged = match merge(&cmd, argv) {
        Ok(m) => m,
        Err(Error::Clap(e)) => e.exit(),
        Err(Error::File(message)) => return Err(Failure::usage(message)),
    };
    if let Some(serve) = merged.matches.subcommand_matches(SUBCOMMAND)
        && serve.get_flag(PRINT_CONFIG)
    {
        let serve_cmd = cmd
            .find_subcommand(SUBCOMMAND)
            .ok_or_else(|| Failure::usage("no serve subcommand"))?;
        print!("{}", render(serve_cmd, serve, &merged));
        return Ok(Parsed::Printed);
    }
    T::from_arg_matches(&merged.matches)
        .map(Parsed::Run)
        .map_err(|e| e.exit())
}

enum Error {
    Clap(clap::Error),
    /// One line about the configuration file.
    File(String),
}

/// The command line with the file merged in.
struct Merged {
    matches: ArgMatches,
    /// The configuration file, absolute, when one was read.
    file: Option<PathBuf>,
    /// Ids of the `serve` arguments whose value came from the file.
    from_file: BTreeSet<String>,
}

fn merge(cmd: &Command, mut argv: Vec<OsString>) -> Result<Merged, Error> {
    let first = cmd
        .clone()
        .try_get_matches_from(&argv)
        .map_err(Error::Clap)?;
    let none = |matches| Merged {
        matches,
        file: None,
        from_file: BTreeSet::new(),
    };
    let Some(serve) = first.subcommand_matches(SUBCOMMAND) else {
        return Ok(none(first));
    };
    let Some(path) = serve.get_one::<PathBuf>(CONFIG) else {
        return Ok(none(first));
    };
    let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::File(format!(
            "{}: cannot read the configuration file: {e}",
            path.display()
        ))
    })?;
    let table = parse_toml(&path, &text).map_err(Error::File)?;
    let serve_cmd = cmd
        .find_subcommand(SUBCOMMAND)
        .ok_or_else(|| Error::File("no serve subcommand".into()))?;
    let (extra, from_file) = file_args(serve_cmd, serve, &table, &path).map_err(Error::File)?;
    argv.extend(extra);
    // The first parse passed, so what fails now (a conflict or a missing
    // companion flag) comes from the file: say so, in one line.
    let matches = cmd.clone().try_get_matches_from(&argv).map_err(|e| {
        let rendered = e.render().to_string();
        let why: Vec<&str> = rendered
            .lines()
            .map_while(|l| (!l.trim().is_empty()).then_some(l.trim()))
            .collect();
        let why = why.join(" ");
        let why = why.strip_prefix("error: ").unwrap_or(&why);
        Error::File(format!(
            "{}: {why} (the file's keys count as these flags)",
            path.display()
        ))
    })?;
    Ok(Merged {
        matches,
        file: Some(path),
        from_file,
    })
}

/// The file as a TOML table, or one line with the line and column of the
/// syntax error (toml's own rendering spans several lines).
fn parse_toml(path: &Path, text: &str) -> Result<toml::Table, String> {
    text.parse::<toml::Table>().map_err(|e| {
        let at = e
            .span()
            .map(|span| {
                let before = text.get(..span.start).unwrap_or_default();
                let line = before.matches('\n').count() + 1;
                let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(":{line}:{col}")
            })
            .unwrap_or_default();
        format!(
            "{}{at}: not valid TOML: {}",
            path.display(),
            e.message().trim_end()
        )
    })
}

/// The shape a key's value must have in the file.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Bool,
    Integer,
    Text,
}

impl Kind {
    fn of(arg: &Arg) -> Kind {
        if matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) {
            Kind::Bool
        } else if is_integer(arg.get_value_parser()) {
            Kind::Integer
        } else {
            Kind::Text
        }
    }

    fn expected(self, repeatable: bool) -> &'static str {
        match (self, repeatable) {
            (Kind::Bool, _) => "true or false",
            (Kind::Integer, false) => "an integer",
            (Kind::Text, false) => "a string",
            (Kind::Integer, true) => "an integer or an array of integers",
            (Kind::Text, true) => "a string or an array of strings",
        }
    }
}

fn is_integer(parser: &ValueParser) -> bool {
    let t = parser.type_id();
    [
        TypeId::of::<u8>(),
        TypeId::of::<u16>(),
        TypeId::of::<u32>(),
        TypeId::of::<u64>(),
        TypeId::of::<usize>(),
        TypeId::of::<i8>(),
        TypeId::of::<i16>(),
        TypeId::of::<i32>(),
        TypeId::of::<i64>(),
        TypeId::of::<isize>(),
    ]
    .iter()
    .any(|id| t == *id)
}

/// Arguments of `serve` that the file may set, by long name.
fn keys(serve: &Command) -> impl Iterator<Item = (&str, &Arg)> {
    serve.get_arguments().filter_map(|a| {
        let long = a.get_long()?;
        (!NOT_KEYS.contains(&a.get_id().as_str())).then_some((long, a))
    })
}

/// The `--key=value` arguments the file adds (only where neither a flag nor
/// an environment variable gave a value), and the ids they set.
fn file_args(
    serve: &Command,
    given: &ArgMatches,
    table: &toml::Table,
    path: &Path,
) -> Result<(Vec<OsString>, BTreeSet<String>), String> {
    let file = path.display();
    let base = path.parent().unwrap_or(Path::new(""));
    let mut argv = Vec::new();
    let mut from_file = BTreeSet::new();
    for (key, value) in table {
        let Some((long, arg)) = keys(serve).find(|(long, _)| long == key) else {
            return Err(match suggest(serve, key) {
                Some(near) => format!("{file}: unknown key '{key}' (did you mean '{near}'?)"),
                None => format!("{file}: unknown key '{key}'"),
            });
        };
        let values =
            file_values(arg, value, base).map_err(|why| format!("{file}: key '{key}': {why}"))?;
        let id = arg.get_id().as_str();
        if !matches!(
            given.value_source(id),
            None | Some(ValueSource::DefaultValue)
        ) {
            continue;
        }
        from_file.insert(id.to_owned());
        for v in values {
            argv.push(match v {
                Some(v) => {
                    let mut a = OsString::from(format!("--{long}="));
                    a.push(v);
                    a
                }
                None => OsString::from(format!("--{long}")),
            });
        }
    }
    Ok((argv, from_file))
}

/// A file value as command-line values (`None`: the switch alone; an empty
/// list: nothing to add, e.g. `no-demo = false`), checked by the flag's own
/// value parser.
fn file_values(
    arg: &Arg,
    value: &toml::Value,
    base: &Path,
) -> Result<Vec<Option<OsString>>, String> {
    let kind = Kind::of(arg);
    let repeatable = matches!(arg.get_action(), ArgAction::Append);
    let wrong = |got: &toml::Value| {
        format!(
            "expected {}, found {}",
            kind.expected(repeatable),
            got.type_str()
        )
    };
    if kind == Kind::Bool {
        let on = value.as_bool().ok_or_else(|| wrong(value))?;
        let set = on == matches!(arg.get_action(), ArgAction::SetTrue);
        return Ok(if set { vec![None] } else { Vec::new() });
    }
    let items: Vec<&toml::Value> = match value {
        toml::Value::Array(items) if repeatable => items.iter().collect(),
        other => vec![other],
    };
    let is_path = arg.get_value_parser().type_id() == TypeId::of::<PathBuf>();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let text = match (kind, item) {
            (Kind::Integer, toml::Value::Integer(n)) => OsString::from(n.to_string()),
            (Kind::Text, toml::Value::String(s)) if is_path && !s.is_empty() => {
                base.join(s).into_os_string()
            }
            (Kind::Text, toml::Value::String(s)) => OsString::from(s),
            (_, _) => return Err(wrong(value)),
        };
        out.push(text);
    }
    check(arg, &out)?;
    Ok(out.into_iter().map(Some).collect())
}

/// Runs `values` through `arg`'s value parser alone (without the relations
/// to other flags, which the full parse checks), so that an error can name
/// the key. The reason never includes the value.
fn check(arg: &Arg, values: &[OsString]) -> Result<(), String> {
    let mut probe = Arg::new("v")
        .long("v")
        .action(arg.get_action().clone())
        .value_parser(arg.get_value_parser().clone());
    if let Some(d) = arg.get_value_delimiter() {
        probe = probe.value_delimiter(d);
    }
    let argv = values.iter().map(|v| {
        let mut a = OsString::from("--v=");
        a.push(v);
        a
    });
    Command::new("probe")
        .no_binary_name(true)
        .arg(probe)
        .try_get_matches_from(argv)
        .map(drop)
        .map_err(|e| match std::error::Error::source(&e) {
            Some(why) => format!("invalid value: {why}"),
            None => e.kind().as_str().unwrap_or("invalid value").to_owned(),
        })
}

/// The key nearest to a misspelt one, if near enough to be meant.
fn suggest<'a>(serve: &'a Command, key: &str) -> Option<&'a str> {
    keys(serve)
        .map(|(long, _)| (strsim::levenshtein(long, key), long))
        .filter(|(d, long)| *d <= 2.max(long.len() / 4))
        .min()
        .map(|(_, long)| long)
}

/// The effective configuration as TOML: every key, its value (secrets
/// masked) and where it came from.
fn render(serve: &Command, m: &ArgMatches, merged: &Merged) -> String {
    let mut out = String::from("# castguard serve: effective configuration\n");
    if let Some(file) = &merged.file {
        out += &format!("# configuration file: {}\n", file.display());
    }
    for (long, arg) in keys(serve) {
        let id = arg.get_id().as_str();
        let source = if merged.from_file.contains(id) {
            "file".to_owned()
        } else {
            match m.value_source(id) {
                Some(ValueSource::CommandLine) => "flag".to_owned(),
                Some(ValueSource::EnvVariable) => match arg.get_env() {
                    Some(var) => format!("env {}", var.to_string_lossy()),
                    None => "env".to_owned(),
                },
                _ => "default".to_owned(),
            }
        };
        let raw: Vec<String> = m
            .try_get_raw(id)
            .ok()
            .flatten()
            .map(|vs| vs.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let value = |s: &str| toml_value(arg, &mask(arg, s));
        let repeatable = matches!(arg.get_action(), ArgAction::Append);
        let line = match (repeatable, raw.as_slice()) {
            (true, vs) => {
                let array: toml::value::Array = vs.iter().map(|s| value(s)).collect();
                format!("{long} = {}", toml::Value::Array(array))
            }
            (false, []) => format!("# {long} is not set"),
            (false, [v, ..]) => format!("{long} = {}", value(v)),
        };
        out += &format!("{line}  # {source}\n");
    }
    out
}

/// A value as it is written in the file.
fn toml_value(arg: &Arg, s: &str) -> toml::Value {
    let parsed = match Kind::of(arg) {
        Kind::Bool => s.parse().ok().map(toml::Value::Boolean),
        Kind::Integer => s.parse().ok().map(toml::Value::Integer),
        Kind::Text => None,
    };
    parsed.unwrap_or_else(|| toml::Value::String(s.to_owned()))
}

/// A value fit to print. Flags whose environment value clap hides
/// (`hide_env_values`: the database and Redis URLs, and any secret flag
/// added later) are secrets: a URL keeps all but its password (user info or
/// `password=` parameter), anything else becomes `***`. Other values are
/// printed with any URL password masked all the same. Token and key files
/// are named here, never read.
fn mask(arg: &Arg, value: &str) -> String {
    let url = value.contains("://") || value.starts_with("sqlite:");
    if arg.is_hide_env_values_set() && !url && !value.is_empty() {
        "***".to_owned()
    } else {
        store::redact_url(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    fn cmd() -> Command {
        augment(crate::Cli::command())
    }

    /// `castguard serve ARGS…` with `file` (written to a temporary
    /// directory) as its configuration file.
    fn merged(file: &str, args: &[&str]) -> (Result<Merged, Error>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("castguard.toml");
        std::fs::write(&path, file).unwrap();
        let mut argv: Vec<OsString> = vec![
            "castguard".into(),
            "serve".into(),
            "--config".into(),
            path.into(),
        ];
        argv.extend(args.iter().map(OsString::from));
        (merge(&cmd(), argv), dir)
    }

    fn file_error(file: &str) -> String {
        match merged(file, &[]).0 {
            Err(Error::File(m)) => m,
            Err(Error::Clap(e)) => panic!("clap error instead of a file error: {e}"),
            Ok(_) => panic!("accepted {file:?}"),
        }
    }

    fn serve_matches(m: &Merged) -> &ArgMatches {
        m.matches.subcommand_matches("serve").unwrap()
    }

    #[test]
    fn file_values_fill_what_flags_leave_at_the_default() {
        let (m, dir) = merged(
            "listen = \"0.0.0.0:9000\"\ndata = \"state\"\nno-demo = true\n\
             drain-delay = 7\ntrusted-proxy = [\"10.0.0.0/8\", \"192.168.1.1\"]\n\
             shutdown-timeout = 3\n",
            &["--shutdown-timeout", "9"],
        );
        let m = m.ok().unwrap();
        let s = serve_matches(&m);
        assert_eq!(
            s.get_one::<std::net::SocketAddr>("listen")
                .unwrap()
                .to_string(),
            "0.0.0.0:9000"
        );
        // Relative to the file's directory, not the working directory.
        assert_eq!(
            s.get_one::<PathBuf>("data").unwrap(),
            &dir.path().join("state")
        );
        assert!(s.get_flag("no_demo"));
        assert_eq!(s.get_one::<u64>("drain_delay"), Some(&7));
        assert_eq!(
            s.get_many::<server::forwarded::IpNet>("trusted_proxies")
                .unwrap()
                .count(),
            2
        );
        // The flag wins over the file.
        assert_eq!(s.get_one::<u64>("shutdown_timeout"), Some(&9));
        assert!(!m.from_file.contains("shutdown_timeout"));
        assert!(m.from_file.contains("listen"));
        // The whole thing still turns into the typed arguments.
        let cli = <crate::Cli as clap::FromArgMatches>::from_arg_matches(&m.matches);
        assert!(cli.is_ok());
    }

    #[test]
    fn print_config_shows_sources_and_masks_passwords() {
        let (m, _dir) = merged(
            "database-url = \"postgres://cg:s3cret@db:5432/castguard\"\n\
             redis-url = \"redis://:r3dis@cache:6379/0\"\nlisten = \"127.0.0.1:0\"\n",
            &["--no-demo"],
        );
        let m = m.ok().unwrap();
        let serve = cmd();
        let text = render(
            serve.find_subcommand("serve").unwrap(),
            serve_matches(&m),
            &m,
        );
        assert!(
            !text.contains("s3cret") && !text.contains("r3dis"),
            "{text}"
        );
        let table: toml::Table = text.parse().unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(
            table["database-url"].as_str(),
            Some("postgres://cg:***@db:5432/castguard")
        );
        assert_eq!(
            table["redis-url"].as_str(),
            Some("redis://:***@cache:6379/0")
        );
        assert_eq!(
            table["rate-limit-per-token"].as_str(),
            Some("20/s,burst=100")
        );
        assert_eq!(table["no-demo"].as_bool(), Some(true));
        assert_eq!(table["drain-delay"].as_integer(), Some(0));
        assert_eq!(table["trusted-proxy"].as_array().map(Vec::len), Some(0));
        assert!(
            text.contains("listen = \"127.0.0.1:0\"  # file\n"),
            "{text}"
        );
        assert!(text.contains("no-demo = true  # flag\n"), "{text}");
        assert!(
            text.contains("shutdown-timeout = 30  # default\n"),
            "{text}"
        );
        assert!(
            text.contains("# tls-cert is not set  # default\n"),
            "{text}"
        );
    }

    #[test]
    fn every_serve_flag_is_a_key() {
        let serve = cmd();
        let serve = serve.find_subcommand("serve").unwrap();
        let n = keys(serve).count();
        assert!(n >= 20, "{n} keys");
        assert!(keys(serve).all(|(long, _)| !NOT_KEYS.contains(&long)));
    }

    #[test]
    fn unknown_keys_name_the_file_and_a_near_key() {
        let e = file_error("lisen = \"0.0.0.0:80\"\n");
        assert!(
            e.ends_with("castguard.toml: unknown key 'lisen' (did you mean 'listen'?)"),
            "{e}"
        );
        let e = file_error("tls_cert = \"a.pem\"\n");
        assert!(
            e.ends_with("unknown key 'tls_cert' (did you mean 'tls-cert'?)"),
            "{e}"
        );
        let e = file_error("[serve]\nlisten = \"0.0.0.0:80\"\n");
        assert!(e.ends_with("castguard.toml: unknown key 'serve'"), "{e}");
        assert!(file_error("config = \"x.toml\"\n").contains("unknown key 'config'"));
    }

    #[test]
    fn wrong_types_name_key_file_and_expectation() {
        let cases = [
            (
                "no-demo = \"yes\"\n",
                "key 'no-demo': expected true or false, found string",
            ),
            (
                "drain-delay = \"ten\"\n",
                "key 'drain-delay': expected an integer, found string",
            ),
            (
                "listen = 8080\n",
                "key 'listen': expected a string, found integer",
            ),
            (
                "trusted-proxy = [1]\n",
                "key 'trusted-proxy': expected a string or an array of strings",
            ),
            (
                "listen = \"nowhere\"\n",
                "key 'listen': invalid value: invalid socket address syntax",
            ),
            (
                "request-body-timeout = 0\n",
                "key 'request-body-timeout': invalid value: 0 is not in 1..",
            ),
            (
                "trusted-proxy = [\"10.0.0.0/99\"]\n",
                "key 'trusted-proxy': invalid value",
            ),
        ];
        for (file, want) in cases {
            let e = file_error(file);
            assert!(
                e.contains("castguard.toml: ") && e.contains(want),
                "{file:?}: {e}"
            );
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn relations_between_flags_hold_for_file_keys_too() {
        let e = file_error("tls-cert = \"cert.pem\"\n");
        assert!(
            e.contains("castguard.toml: ") && e.contains("--tls-key"),
            "{e}"
        );
        match merged("demo-public = true\n", &["--no-demo"]).0 {
            Err(Error::File(e)) => {
                assert!(
                    e.contains("'--no-demo' cannot be used with '--demo-public'"),
                    "{e}"
                );
                assert!(!e.contains('\n'), "{e}");
            }
            _ => panic!("a conflict with the file was accepted"),
        }
    }

    #[test]
    fn syntax_errors_and_missing_files_are_one_line() {
        let e = file_error("listen = \"127.0.0.1:0\"\nbroken =\n");
        assert!(
            e.contains("castguard.toml:2:") && e.contains("not valid TOML"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
        let argv = [
            "castguard",
            "serve",
            "--config",
            "/nonexistent/castguard.toml",
        ]
        .map(OsString::from);
        match merge(&cmd(), argv.to_vec()) {
            Err(Error::File(e)) => assert!(
                e.starts_with("/nonexistent/castguard.toml: cannot read the configuration file"),
                "{e}"
            ),
            _ => panic!("a missing file was accepted"),
        }
    }

    #[test]
    fn errors_never_echo_secret_values() {
        let e = file_error("database-url = 42\n");
        assert!(
            e.contains("key 'database-url': expected a string, found integer"),
            "{e}"
        );
        let secret = Arg::new("s").long("s").hide_env_values(true);
        assert_eq!(mask(&secret, "raw-secret-value"), "***");
        assert_eq!(mask(&secret, "redis://u:pw@h/0"), "redis://u:***@h/0");
        assert_eq!(mask(&secret, "sqlite:"), "sqlite:");
        assert_eq!(mask(&secret, ""), "");
        let plain = Arg::new("p").long("p");
        assert_eq!(mask(&plain, "20/s,burst=100"), "20/s,burst=100");
        assert_eq!(mask(&plain, "https://u:pw@h/"), "https://u:***@h/");
    }

    /// docs/castguard.example.toml names every key, and each of its
    /// commented-out values is accepted by its flag.
    #[test]
    fn the_example_file_lists_every_key_with_a_valid_value() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/castguard.example.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let uncommented: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.split_once(" = ").is_some_and(|(k, _)| !k.contains(' ')))
            .map(|l| format!("{l}\n"))
            .collect();
        let table = parse_toml(&path, &uncommented).unwrap();
        let serve = cmd();
        let serve = serve.find_subcommand("serve").unwrap();
        for (long, arg) in keys(serve) {
            let value = table
                .get(long)
                .unwrap_or_else(|| panic!("{long} missing from {}", path.display()));
            if let Err(e) = file_values(arg, value, Path::new("/etc")) {
                panic!("example {long}: {e}");
            }
        }
        assert_eq!(table.len(), keys(serve).count(), "{table:?}");
    }

    #[test]
    fn without_a_file_nothing_changes() {
        let argv = ["castguard", "serve", "--listen", "127.0.0.1:1"].map(OsString::from);
        let m = merge(&cmd(), argv.to_vec()).ok().unwrap();
        assert!(m.file.is_none() && m.from_file.is_empty());
    }
}
