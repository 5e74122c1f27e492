//! `tokenforge`: the library's pipelines from a shell. It reads the same pipeline JSON as
//! `tokenforge_pipeline_from_json`, fetches what a step needs, and uses and fills the
//! pipeline's shared store when it has one. Errors are one line on stderr; the exit status
//! says which kind of failure it was (see `EXIT STATUS` in `--help`).

use base64::Engine;
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use tokenforge::log::{self as tflog, LogLevel};
use tokenforge::pipeline::{from_json, Event, Pipeline};
use tokenforge::{Error, ResultCode, Token};

const AFTER_HELP: &str = "\
EXAMPLES:
  tokenforge get user_token -c pipeline.json
  curl -H \"Authorization: $(tokenforge get api -c pipeline.json --format header)\" https://api.example.com/me
  eval \"$(tokenforge get api -c pipeline.json --format env)\"
  tokenforge exec -c pipeline.json --step api -- sh -c 'curl -H \"Authorization: $TOKENFORGE_AUTHORIZATION\" https://api.example.com/me'
  tokenforge inspect -c pipeline.json --fetch api
  tokenforge check -c pipeline.json
  tokenforge store list -c pipeline.json

The pipeline file may also come from TOKENFORGE_CONFIG. `-v` prints each event of the
pipeline on stderr; TOKENFORGE_LOG=debug does the same from any program using the library.
Colour only on a terminal, never with NO_COLOR set.

EXIT STATUS:
  0 success; 2 bad command line; 10 + the library's result code for a failure:
  11 INVALID_ARGUMENT (such as an unknown step), 12 CONFIG, 13 TRANSPORT, 14 TIMEOUT,
  15 HTTP_STATUS, 16 OAUTH, 17 RESPONSE, 18 DEPENDENCY, 19 CALLBACK, 20 STORAGE, 21 TLS,
  70 PANIC. `exec` exits with the command's status (126: not executable, 127: not found).";

#[derive(Parser)]
#[command(name = "tokenforge", version, about = "Get, inspect and manage authentication tokens", after_help = AFTER_HELP)]
struct Cli {
    /// Print each pipeline event (fetches, retries, cache hits, failures) on stderr.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct Config {
    /// The pipeline JSON file.
    #[arg(short = 'c', long = "config", env = "TOKENFORGE_CONFIG", value_name = "FILE")]
    path: std::path::PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Print a step's token, fetching its dependencies as needed.
    Get {
        /// The step whose token to print.
        step: String,
        #[command(flatten)]
        config: Config,
        /// token: the access token; header: the Authorization value; json: the token with its
        /// type, expiry and scope; env: `export` lines for a shell.
        #[arg(long, value_enum, default_value_t = Format::Token)]
        format: Format,
    },
    /// Run a command with a step's token in its environment (TOKENFORGE_TOKEN,
    /// TOKENFORGE_AUTHORIZATION).
    Exec {
        #[command(flatten)]
        config: Config,
        /// The step whose token the command gets.
        #[arg(long)]
        step: String,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Show the steps, their dependencies, what the store holds (with time to expiry) and
    /// the claims of JWT access tokens (decoded, not verified). Secrets are shortened.
    Inspect {
        /// Only this step.
        step: Option<String>,
        #[command(flatten)]
        config: Config,
        /// Get the tokens (fetching what is needed) and show them too.
        #[arg(long)]
        fetch: bool,
        /// Show whole tokens.
        #[arg(long)]
        reveal: bool,
    },
    /// Drop a step's token, and those of the steps that depend on it, from the store.
    Invalidate {
        step: String,
        #[command(flatten)]
        config: Config,
    },
    /// List or remove what the pipeline's store (file or Redis) holds.
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
    /// Validate the file: every problem, with its step and field.
    Check {
        #[command(flatten)]
        config: Config,
    },
}

#[derive(Subcommand)]
enum StoreAction {
    /// The keys under the pipeline's prefix, with time to expiry.
    List {
        #[command(flatten)]
        config: Config,
    },
    /// Remove keys (as `store list` shows them).
    Rm {
        #[arg(required = true)]
        keys: Vec<String>,
        #[command(flatten)]
        config: Config,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Token,
    Header,
    Json,
    Env,
}

/// Colours for a terminal that wants them.
struct Style {
    on: bool,
}

impl Style {
    fn new(stream_is_terminal: bool) -> Style {
        Style { on: stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let err_style = Style::new(std::io::stderr().is_terminal());
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let mut line = e.message().replace('\n', " ");
            if e.code() == ResultCode::Config && line.starts_with("pipeline JSON has ") {
                line =
                    line.split(": (1) ").next().unwrap_or(&line).to_string() + " (run `tokenforge check` for the list)";
            }
            eprintln!("{} {line} [{}]", err_style.paint("31", "tokenforge: error:"), e.code().name());
            ExitCode::from(exit_status(e.code()))
        }
    }
}

fn exit_status(code: ResultCode) -> u8 {
    match code {
        ResultCode::Ok => 0,
        ResultCode::Panic => 70,
        other => 10 + other as u8,
    }
}

/// Loads the pipeline; with `verbose`, its events go to stderr as they happen.
fn load(config: &Config, verbose: bool) -> Result<Pipeline, Error> {
    let text = std::fs::read_to_string(&config.path)
        .map_err(|e| Error::config(format!("cannot read the pipeline file {}: {e}", config.path.display())))?;
    let mut pipeline = from_json(&text)?;
    if verbose {
        let style = Arc::new(Style::new(std::io::stderr().is_terminal()));
        pipeline.set_event_hook(Arc::new(move |e: &Event<'_>| {
            let level = LogLevel::of(e.kind);
            let line = tflog::line(e, level);
            let code = match level {
                LogLevel::Error => "31",
                LogLevel::Warn => "33",
                LogLevel::Debug => "2",
                _ => "36",
            };
            let (word, rest) = line.split_once(' ').unwrap_or((&line, ""));
            let _ = writeln!(std::io::stderr(), "{} {rest}", style.paint(code, word));
        }))?;
    }
    Ok(pipeline)
}

fn run(cli: Cli) -> Result<ExitCode, Error> {
    let verbose = cli.verbose;
    let out = Style::new(std::io::stdout().is_terminal());
    match cli.command {
        Command::Get { step, config, format } => {
            let p = load(&config, verbose)?;
            let t = p.get(&step)?;
            println!("{}", formatted(&step, &t, format));
        }
        Command::Exec { config, step, command } => {
            let p = load(&config, verbose)?;
            let t = p.get(&step)?;
            return Ok(exec(&command, &t));
        }
        Command::Inspect { step, config, fetch, reveal } => {
            let p = load(&config, verbose)?;
            inspect(&p, step.as_deref(), fetch, reveal, &out)?;
        }
        Command::Invalidate { step, config } => {
            let p = load(&config, verbose)?;
            let mut gone = vec![step.clone()];
            gone.extend(p.dependents(&step)?.iter().map(|d| d.as_str().to_string()));
            p.invalidate(&step)?;
            match p.storage() {
                Some(_) => println!("invalidated {} (cached and stored tokens dropped)", gone.join(", ")),
                None => {
                    println!("invalidated {} (this pipeline has no store: nothing outlives a process)", gone.join(", "))
                }
            }
        }
        Command::Store { action } => match action {
            StoreAction::List { config } => {
                let p = load(&config, verbose)?;
                let (storage, prefix) = store_of(&p)?;
                let keys = storage.keys(&format!("{prefix}:"))?;
                if keys.is_empty() {
                    println!("the store holds no token under \"{prefix}:\"");
                }
                for key in keys {
                    match storage.retrieve(&key) {
                        Ok(Some(t)) => println!("{key}  {}", expiry(&t)),
                        Ok(None) => println!("{key}  (expired)"),
                        Err(e) => println!("{key}  unreadable: {}", e.message()),
                    }
                }
            }
            StoreAction::Rm { keys, config } => {
                let p = load(&config, verbose)?;
                let (storage, _) = store_of(&p)?;
                for key in keys {
                    storage.delete(&key)?;
                    println!("removed {key}");
                }
            }
        },
        Command::Check { config } => {
            let text = std::fs::read_to_string(&config.path)
                .map_err(|e| Error::config(format!("cannot read the pipeline file {}: {e}", config.path.display())))?;
            match from_json(&text) {
                Ok(p) => {
                    let steps: Vec<String> = p.steps().iter().map(|s| s.as_str().to_string()).collect();
                    println!("{}: {} steps ({}), no problems", config.path.display(), steps.len(), steps.join(", "));
                }
                Err(e) => {
                    let list = problems(e.message());
                    let style = Style::new(std::io::stderr().is_terminal());
                    eprintln!("{}: {} problem(s):", config.path.display(), list.len());
                    for problem in list {
                        eprintln!("  {} {problem}", style.paint("31", "-"));
                    }
                    return Ok(ExitCode::from(exit_status(e.code())));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The problems a load error lists (one when it is not a list).
fn problems(message: &str) -> Vec<String> {
    match message.split_once(" problems: (1) ") {
        Some((_, list)) => list
            .split("; (")
            .map(|p| {
                p.split_once(") ").map_or(p, |(n, rest)| if n.bytes().all(|b| b.is_ascii_digit()) { rest } else { p })
            })
            .map(str::to_string)
            .collect(),
        None => vec![message.to_string()],
    }
}

fn formatted(step: &str, t: &Token, format: Format) -> String {
    match format {
        Format::Token => t.access_token().as_str().to_string(),
        Format::Header => t.authorization().as_str().to_string(),
        Format::Env => format!(
            "export TOKENFORGE_TOKEN={}\nexport TOKENFORGE_AUTHORIZATION={}",
            shell_quote(t.access_token().as_str()),
            shell_quote(t.authorization().as_str())
        ),
        Format::Json => {
            let mut o = serde_json::Map::new();
            o.insert("step".into(), step.into());
            o.insert("token_type".into(), t.token_type().as_str().into());
            o.insert("access_token".into(), t.access_token().as_str().into());
            if let Some(at) = t.expires_at_ms() {
                o.insert("expires_at_ms".into(), at.into());
                o.insert("expires_in_s".into(), ((at - tokenforge::token::now_ms()) / 1000).into());
            }
            if let Some(scope) = t.scope() {
                o.insert("scope".into(), scope.as_str().into());
            }
            serde_json::Value::Object(o).to_string()
        }
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Replaces this process with `command`, the token in its environment.
fn exec(command: &[String], t: &Token) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(&command[0])
        .args(&command[1..])
        .env("TOKENFORGE_TOKEN", t.access_token().as_str())
        .env("TOKENFORGE_AUTHORIZATION", t.authorization().as_str())
        .exec();
    let status = if err.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
    eprintln!("tokenforge: error: cannot run {}: {err}", command[0]);
    ExitCode::from(status)
}

fn store_of(p: &Pipeline) -> Result<(Arc<dyn tokenforge::TokenStorage>, String), Error> {
    p.storage().ok_or_else(|| Error::config("the pipeline has no \"storage\": there is no store to look at"))
}

fn expiry(t: &Token) -> String {
    match t.expires_at_ms() {
        None => "no expiry known".to_string(),
        Some(at) => {
            let left = (at - tokenforge::token::now_ms()) / 1000;
            if left <= 0 {
                format!("expired {} ago", span(-left))
            } else {
                format!("expires in {}", span(left))
            }
        }
    }
}

fn span(s: i64) -> String {
    match s {
        s if s >= 86_400 => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m {}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// A token as shown: whole with `--reveal`, else its first characters.
fn shown(secret: &str, reveal: bool) -> String {
    if reveal {
        return secret.to_string();
    }
    // At most a quarter of it, and never more than 4 characters.
    let n = secret.chars().count();
    let head: String = secret.chars().take((n / 4).min(4)).collect();
    format!("{head}… ({n} characters; --reveal shows it)")
}

/// The claims of a JWT access token, decoded (never verified).
fn claims(token: &str) -> Option<serde_json::Value> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes).ok().filter(serde_json::Value::is_object)
}

fn show_token(label: &str, t: &Token, reveal: bool) {
    println!("    {label}: {} {}, {}", t.token_type().as_str(), shown(t.access_token().as_str(), reveal), expiry(t));
    if let Some(scope) = t.scope() {
        println!("      scope: {}", scope.as_str());
    }
    if t.refresh_token().is_some() {
        println!("      refresh token: held{}", if reveal { "" } else { " (not shown)" });
    }
    if let Some(c) = claims(t.access_token().as_str()) {
        let text = serde_json::to_string(&c).unwrap_or_default();
        println!("      JWT claims (decoded, NOT verified): {text}");
    }
}

fn inspect(p: &Pipeline, only: Option<&str>, fetch: bool, reveal: bool, out: &Style) -> Result<(), Error> {
    let steps: Vec<String> = match only {
        Some(step) => {
            p.dependencies(step)?;
            vec![step.to_string()]
        }
        None => p.steps().iter().map(|s| s.as_str().to_string()).collect(),
    };
    match p.storage() {
        Some((_, prefix)) => println!("store: shared, keys \"{prefix}:<step>\""),
        None => println!("store: none (tokens live in each process's memory only)"),
    }
    println!("steps ({}):", steps.len());
    for step in &steps {
        let deps = p.dependencies(step)?;
        let deps: Vec<&str> = deps.iter().map(|d| d.as_str()).collect();
        let after = if deps.is_empty() { String::new() } else { format!("  <- needs {}", deps.join(", ")) };
        println!("  {}{after}", out.paint("1", step));
        if let (Some((storage, _)), Some(key)) = (p.storage(), p.storage_key(step)) {
            match storage.retrieve(&key) {
                Ok(Some(t)) => show_token("stored", &t, reveal),
                Ok(None) => println!("    stored: nothing"),
                Err(e) => println!("    stored: unreadable ({})", e.message()),
            }
        }
        if fetch {
            match p.get(step) {
                Ok(t) => show_token("got", &t, reveal),
                Err(e) => println!("    got: {} [{}]", e.message(), e.code().name()),
            }
        }
    }
    Ok(())
}
