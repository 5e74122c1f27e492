//! The real `tokenforge` binary against the loopback token server (and a real redis-server):
//! every command, each class of error with its exit status, and no secret in any output
//! without `--reveal`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tokenforge_testserver::fleet::{Redis, TempDir};
use tokenforge_testserver::Server;

const SECRET: &str = "app-secret";
static TLS: std::sync::OnceLock<Server> = std::sync::OnceLock::new();

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn tokenforge(args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenforge"));
    cmd.args(args).env_remove("TOKENFORGE_LOG").env_remove("TOKENFORGE_CONFIG").env("APP_SECRET", SECRET);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let Output { status, stdout, stderr } = cmd.output().expect("runs");
    Run {
        status: status.code().unwrap_or(-1),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

/// A pipeline file in `dir`: app (client credentials, its secret from the environment), user
/// (needs app), jwt (a JWT-shaped token), with `storage` (a JSON object or "").
fn pipeline(dir: &Path, url: &str, storage: &str) -> PathBuf {
    let storage = if storage.is_empty() { String::new() } else { format!(r#""storage": {storage},"#) };
    // An HTTPS server whose certificate no trust store here knows: a TLS error.
    let tls = TLS.get_or_init(|| Server::start_tls().expect("TLS server")).url();
    let json = format!(
        r#"{{ {storage} "steps": [
          {{"name":"app","kind":"client_credentials","token_url":"{url}/oauth/token","client_id":"app",
            "client_secret":"${{env:APP_SECRET}}","scope":"read"}},
          {{"name":"user","kind":"body","base_url":"{url}","endpoint":"/user/auth","depends_on":["app","device"],
            "request_headers":{{"Authorization":"{{{{app.authorization}}}}","X-Device-Token":"{{{{device.access_token}}}}"}}}},
          {{"name":"device","kind":"header","base_url":"{url}","endpoint":"/device/register",
            "request_headers":{{"X-Device-ID":"d1"}},"token_header":"X-Device-Token"}},
          {{"name":"jwt","kind":"body","base_url":"{url}","endpoint":"/jwt-token"}},
          {{"name":"refused","kind":"body","base_url":"{url}","endpoint":"/oauth-error/400/invalid_client"}},
          {{"name":"down","kind":"body","base_url":"{url}","endpoint":"/status/503","retry":{{"max_attempts":1}}}},
          {{"name":"nowhere","kind":"body","base_url":"http://127.0.0.1:9","endpoint":"/x","timeout_ms":2000}},
          {{"name":"slow","kind":"body","base_url":"{url}","endpoint":"/slow/3000","timeout_ms":300,"retry":{{"max_attempts":1}}}},
          {{"name":"tls","kind":"body","base_url":"{tls}","endpoint":"/oauth/token","retry":{{"max_attempts":1}}}}
        ]}}"#
    );
    let path = dir.join("pipeline.json");
    std::fs::write(&path, json).unwrap();
    path
}

fn no_secret(r: &Run, secrets: &[&str]) {
    for s in secrets {
        assert!(!r.stdout.contains(s) && !r.stderr.contains(s), "secret {s:?} shown:\n{}\n{}", r.stdout, r.stderr);
    }
}

#[test]
fn get_prints_the_token_in_each_format() {
    let s = Server::start().unwrap();
    let dir = TempDir::new("cli-get");
    let file = pipeline(dir.path(), &s.url(), "");
    let c = file.to_str().unwrap();
    let r = tokenforge(&["get", "user", "-c", c], &[]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.trim().starts_with("user-"), "{}", r.stdout);
    assert_eq!(s.hits("/oauth/token"), 1, "the dependencies were fetched");
    let r = tokenforge(&["get", "app", "-c", c, "--format", "header"], &[]);
    assert!(r.stdout.starts_with("Bearer cc-"), "{}", r.stdout);
    let r = tokenforge(&["get", "app", "-c", c, "--format", "json"], &[]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!((v["step"].as_str(), v["scope"].as_str()), (Some("app"), Some("read")));
    assert!(v["expires_in_s"].as_i64().unwrap() > 3500 && v["access_token"].as_str().unwrap().starts_with("cc-"));
    let r = tokenforge(&["get", "app", "-c", c, "--format", "env"], &[]);
    assert!(
        r.stdout.contains("export TOKENFORGE_TOKEN='cc-")
            && r.stdout.contains("export TOKENFORGE_AUTHORIZATION='Bearer cc-")
    );
    // TOKENFORGE_CONFIG instead of -c.
    let r = tokenforge(&["get", "device"], &[("TOKENFORGE_CONFIG", c)]);
    assert!(r.stdout.starts_with("dev-"), "{}", r.stderr);
}

#[test]
fn exec_runs_the_command_with_the_token() {
    let s = Server::start().unwrap();
    let dir = TempDir::new("cli-exec");
    let file = pipeline(dir.path(), &s.url(), "");
    let c = file.to_str().unwrap();
    let r = tokenforge(
        &["exec", "-c", c, "--step", "app", "--", "sh", "-c", "echo \"$TOKENFORGE_AUTHORIZATION\"; exit 7"],
        &[],
    );
    assert_eq!(r.status, 7, "the command's status: {}", r.stderr);
    assert!(r.stdout.starts_with("Bearer cc-"), "{}", r.stdout);
    let r = tokenforge(&["exec", "-c", c, "--step", "app", "--", "/nonexistent/command"], &[]);
    assert_eq!(r.status, 127, "{}", r.stderr);
}

#[test]
fn each_error_class_has_its_exit_status_and_one_line() {
    let s = Server::start().unwrap();
    let dir = TempDir::new("cli-errors");
    let file = pipeline(dir.path(), &s.url(), "");
    let c = file.to_str().unwrap();
    for (step, status, code) in [
        ("nope", 11, "INVALID_ARGUMENT"),
        ("refused", 16, "OAUTH"),
        ("down", 15, "HTTP_STATUS"),
        ("nowhere", 13, "TRANSPORT"),
        ("slow", 14, "TIMEOUT"),
        ("tls", 21, "TLS"),
    ] {
        let r = tokenforge(&["get", step, "-c", c], &[]);
        assert_eq!(r.status, status, "{step}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{step}: one line: {}", r.stderr);
        assert!(r.stderr.starts_with("tokenforge: error: ") && r.stderr.contains(&format!("[{code}]")), "{}", r.stderr);
        assert!(!r.stderr.contains('\x1b'), "no colour off a terminal: {}", r.stderr);
        no_secret(&r, &[SECRET]);
    }
    let r = tokenforge(&["get", "app", "-c", "/nonexistent.json"], &[]);
    assert_eq!(r.status, 12, "{}", r.stderr);
    let r = tokenforge(&["get"], &[]);
    assert_eq!(r.status, 2, "usage error");
    // A missing variable is a CONFIG error that names it.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenforge"));
    let out = cmd.args(["get", "app", "-c", c]).env_remove("APP_SECRET").output().unwrap();
    assert_eq!(out.status.code(), Some(12));
    assert!(String::from_utf8_lossy(&out.stderr).contains("APP_SECRET"));
}

#[test]
fn check_names_every_problem() {
    let dir = TempDir::new("cli-check");
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"steps":[{"name":"a","kind":"bdy","base_url":"http://h"},
                     {"name":"b","kind":"body","base_url":"http://h","depends_on":["c"],"tokn_field":"x"}]}"#,
    )
    .unwrap();
    let r = tokenforge(&["check", "-c", bad.to_str().unwrap()], &[]);
    assert_eq!(r.status, 12, "{}", r.stderr);
    assert!(r.stderr.contains("3 problem(s)"), "{}", r.stderr);
    for part in [r#"did you mean "body""#, r#"depends on "c""#, r#"did you mean "token_field""#] {
        assert!(r.stderr.contains(part), "{part}: {}", r.stderr);
    }
    let s = Server::start().unwrap();
    let good = pipeline(dir.path(), &s.url(), "");
    let r = tokenforge(&["check", "-c", good.to_str().unwrap()], &[]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.contains("9 steps") && r.stdout.contains("no problems"), "{}", r.stdout);
    assert_eq!(s.hits("/oauth/token"), 0, "check fetches nothing");
}

#[test]
fn inspect_shows_the_graph_store_and_claims_but_no_secret() {
    let s = Server::start().unwrap();
    let dir = TempDir::new("cli-inspect");
    let store = dir.path().join("store");
    let file = pipeline(dir.path(), &s.url(), &format!(r#"{{"kind":"file","dir":"{}"}}"#, store.display()));
    let c = file.to_str().unwrap();
    let token = tokenforge(&["get", "jwt", "-c", c], &[]).stdout.trim().to_string();
    let app = tokenforge(&["get", "app", "-c", c], &[]).stdout.trim().to_string();
    assert!(token.split('.').count() == 3 && app.starts_with("cc-"), "{token} {app}");
    let r = tokenforge(&["inspect", "-c", c], &[]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.contains("user  <- needs app, device"), "{}", r.stdout);
    assert!(
        r.stdout.contains("JWT claims (decoded, NOT verified)") && r.stdout.contains(r#""sub":"user-1""#),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("expires in 59m") || r.stdout.contains("expires in 1h"), "{}", r.stdout);
    assert!(r.stdout.contains("stored: nothing"), "{}", r.stdout);
    no_secret(&r, &[&token, &app, SECRET]);
    let r = tokenforge(&["inspect", "jwt", "-c", c, "--reveal"], &[]);
    assert!(r.stdout.contains(&token), "--reveal shows it: {}", r.stdout);
    let r = tokenforge(&["inspect", "nope", "-c", c], &[]);
    assert_eq!(r.status, 11);
}

#[test]
fn store_list_rm_and_invalidate_on_the_file_store_and_redis() {
    let s = Server::start().unwrap();
    let dir = TempDir::new("cli-store");
    let store = dir.path().join("store");
    let mut redis = Redis::start();
    for storage in [
        format!(r#"{{"kind":"file","dir":"{}"}}"#, store.display()),
        format!(r#"{{"kind":"redis","url":"{}"}}"#, redis.url()),
    ] {
        let file = pipeline(dir.path(), &s.url(), &storage);
        let c = file.to_str().unwrap();
        let before = s.hits("/oauth/token");
        let first = tokenforge(&["get", "user", "-c", c], &[]).stdout;
        // Another process takes the tokens from the store: nothing is fetched.
        assert_eq!(tokenforge(&["get", "user", "-c", c], &[]).stdout, first, "{storage}");
        assert_eq!(s.hits("/oauth/token"), before + 1, "{storage}");
        let r = tokenforge(&["store", "list", "-c", c], &[]);
        assert_eq!(r.status, 0, "{}", r.stderr);
        for key in ["tokenforge:app", "tokenforge:device", "tokenforge:user"] {
            assert!(r.stdout.contains(&format!("{key}  expires in")), "{storage} {key}: {}", r.stdout);
        }
        no_secret(&r, &[first.trim()]);
        // Invalidating app drops user too; device stays.
        let r = tokenforge(&["invalidate", "app", "-c", c], &[]);
        assert!(r.stdout.contains("invalidated app, user"), "{}", r.stdout);
        let r = tokenforge(&["store", "list", "-c", c], &[]);
        assert!(r.stdout.contains("tokenforge:device") && !r.stdout.contains("tokenforge:app"), "{}", r.stdout);
        let r = tokenforge(&["store", "rm", "tokenforge:device", "-c", c], &[]);
        assert_eq!(r.status, 0, "{}", r.stderr);
        let r = tokenforge(&["store", "list", "-c", c], &[]);
        assert!(r.stdout.contains("holds no token"), "{}", r.stdout);
    }
    // Redis down: a STORAGE error (the pipeline file is the Redis one, written last).
    redis.stop();
    let r = tokenforge(&["store", "list", "-c", dir.path().join("pipeline.json").to_str().unwrap()], &[]);
    assert_eq!(r.status, 20, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("[STORAGE]"), "{}", r.stderr);
    let plain = pipeline(dir.path(), &s.url(), "");
    let r = tokenforge(&["store", "list", "-c", plain.to_str().unwrap()], &[]);
    assert_eq!(r.status, 12, "no store: {}", r.stderr);
}

#[test]
fn verbose_and_tokenforge_log_print_events_without_secrets() {
    let s = Server::start().unwrap();
    let dir = TempDir::new("cli-log");
    let file = pipeline(dir.path(), &s.url(), "");
    let c = file.to_str().unwrap();
    let r = tokenforge(&["-v", "get", "user", "-c", c], &[]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    for part in [
        "info step=app event=fetch_started",
        "info step=app event=fetch_succeeded took_ms=",
        "step=user event=fetch_succeeded",
    ] {
        assert!(r.stderr.contains(part), "{part}: {}", r.stderr);
    }
    no_secret(&r, &[SECRET, "cc-1"]);
    // TOKENFORGE_LOG from the library itself (what any program linking it gets).
    let r = tokenforge(&["get", "refused", "-c", c], &[("TOKENFORGE_LOG", "info")]);
    assert!(
        r.stderr.contains("tokenforge: error step=refused event=fetch_failed")
            && r.stderr.contains("code=OAUTH status=400 oauth_error=invalid_client"),
        "{}",
        r.stderr
    );
    let r = tokenforge(&["get", "app", "-c", c], &[("TOKENFORGE_LOG", "warn")]);
    assert!(!r.stderr.contains("event="), "info lines are off at warn: {}", r.stderr);
    no_secret(&r, &[SECRET]);
}

/// Colour on a terminal (a pseudo-terminal from util-linux `script`), none with NO_COLOR.
#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let run_on_tty = |no_color: bool| {
        let cmd = format!("{} get nope -c /nonexistent.json", env!("CARGO_BIN_EXE_tokenforge"));
        let mut c = Command::new("script");
        c.args(["-qec", &cmd, "/dev/null"]).env_remove("NO_COLOR");
        if no_color {
            c.env("NO_COLOR", "1");
        }
        let out = c.output().expect("util-linux script runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = run_on_tty(false);
    assert!(coloured.contains("\x1b[31mtokenforge: error:\x1b[0m"), "{coloured:?}");
    let plain = run_on_tty(true);
    assert!(plain.contains("tokenforge: error:") && !plain.contains('\x1b'), "{plain:?}");
}
