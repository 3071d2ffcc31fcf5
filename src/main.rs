//! The `s3mend` binary: parse, run, map the outcome to an exit code.

use std::io::{self, IsTerminal};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio_util::sync::CancellationToken;

use s3mend::cli::{Cli, ColorWhen, Command, LogFormat, PolicyCommand};
use s3mend::color::{self, ColorEnv};
use s3mend::config::{ApplyConfig, FixConfig, MergeConfig, ScanConfig, UndoConfig};
use s3mend::exit_codes::ExitCode;
use s3mend::{app, command, demo, shell};

// The SDK makes ~400 small allocations per request; mimalloc measured ~15 % less client CPU per
// scanned object than glibc malloc (benches/scan.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    let asked = color::requested(&args, std::env::var_os("S3MEND_COLOR").as_ref());
    let cli = command::parse(clap_color(asked));
    let env = ColorEnv::from_process();
    console::set_colors_enabled(cli.color.enabled(io::stdout().is_terminal(), &env));
    let stderr_color = cli.color.enabled(io::stderr().is_terminal(), &env);
    console::set_colors_enabled_stderr(stderr_color);
    init_logging(cli.verbose, cli.log_format, stderr_color);
    let verbose = cli.verbose;
    install_panic_hook(verbose);
    let outcome = run(cli);
    match outcome {
        Ok(code) => code.into(),
        Err(err) if is_broken_pipe(&err) => ExitCode::Clean.into(),
        Err(err) => {
            eprintln!("s3mend: error: {}", error_text(&err, verbose > 0));
            ExitCode::Error.into()
        }
    }
}

/// Clap's own choice for its help and usage errors: in auto it applies the same conventions
/// (NO_COLOR, CLICOLOR_FORCE) to the stream it writes to.
fn clap_color(when: ColorWhen) -> clap::ColorChoice {
    match when {
        ColorWhen::Auto => clap::ColorChoice::Auto,
        ColorWhen::Always => clap::ColorChoice::Always,
        ColorWhen::Never => clap::ColorChoice::Never,
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async move {
        let cancel = CancellationToken::new();
        let terminated = Arc::new(AtomicBool::new(false));
        tokio::spawn(watch_signals(cancel.clone(), terminated.clone()));
        let outcome = match cli.command {
            Command::Scan(args) => {
                let cfg = ScanConfig::from_args(&args).map_err(anyhow::Error::msg)?;
                app::scan(cfg, cancel).await
            }
            Command::Fix(args) => {
                let cfg = FixConfig::from_args(&args).map_err(anyhow::Error::msg)?;
                app::fix(cfg, cancel).await
            }
            Command::Undo(args) => {
                let cfg = UndoConfig::from_args(&args).map_err(anyhow::Error::msg)?;
                app::undo(cfg, cancel).await
            }
            Command::Apply(args) => {
                let cfg = ApplyConfig::from_args(&args).map_err(anyhow::Error::msg)?;
                app::apply(cfg, cancel).await
            }
            Command::Merge(args) => {
                let cfg = MergeConfig::from_args(&args).map_err(anyhow::Error::msg)?;
                app::merge(cfg)
            }
            Command::Demo(args) => demo::run(&args, cancel).await,
            Command::Policy(PolicyCommand::Check { file }) => {
                app::policy::check(&file, &mut io::stdout())
            }
            Command::Policy(PolicyCommand::Explain { file, keys }) => {
                app::policy::explain(&file, &keys, &mut io::stdout())
            }
            Command::Completions { shell } => {
                let cmd = command::command(clap::ColorChoice::Never);
                shell::completions(shell, cmd, &mut io::stdout().lock()).map(|()| ExitCode::Clean)
            }
            Command::Man { command } => {
                let cmd = command::command(clap::ColorChoice::Never);
                shell::man(cmd, &command, &mut io::stdout().lock()).map(|()| ExitCode::Clean)
            }
        };
        outcome.map(|code| code.by_signal(terminated.load(Ordering::Relaxed)))
    });
    // Dropping the runtime would wait for its blocking threads, and a DNS lookup the client
    // gave up on (getaddrinfo cannot be cancelled) can take 20 s more against a resolver that
    // does not answer. Nothing else of ours runs there: the run is over, do not wait.
    runtime.shutdown_background();
    outcome
}

/// The first SIGINT or SIGTERM stops gracefully: no new objects, in-flight requests finish, the
/// journal and report are written. A second signal does not wait.
async fn watch_signals(cancel: CancellationToken, terminated: Arc<AtomicBool>) {
    let mut term = signal(SignalKind::terminate()).ok();
    let first = next_signal(&mut term).await;
    terminated.store(first, Ordering::Relaxed);
    cancel.cancel();
    let second = next_signal(&mut term).await;
    eprintln!("s3mend: interrupted again, exiting at once");
    std::process::exit(ExitCode::Interrupted.by_signal(first || second) as i32);
}

/// Waits for SIGINT (false) or SIGTERM (true).
async fn next_signal(term: &mut Option<Signal>) -> bool {
    let terminate = async {
        match term {
            Some(term) => term.recv().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => false,
        _ = terminate => true,
    }
}

/// A bug must still end as a documented one-line error (exit 2), not a backtrace, unless -v.
fn install_panic_hook(verbose: u8) {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if verbose > 0 {
            default(info);
        } else {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let place = info
                .location()
                .map(|l| format!(" at {l}"))
                .unwrap_or_default();
            eprintln!("s3mend: error: internal error{place}: {message} (please report this; rerun with -v for details)");
        }
        std::process::exit(ExitCode::Error as i32);
    }));
}

fn init_logging(verbose: u8, format: LogFormat, color: bool) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // Our own crates at the chosen level. Without -v nothing else: s3mend reports what matters
    // itself, and the SDK's warnings (each credential provider it tries, a slow body) and the
    // demo's embedded server are noise in a cron mail. With -v the SDK's errors too; -vv all.
    let default = match verbose {
        0 => "s3mend=warn,s3mend_lab=warn".to_owned(),
        1 => format!("{level},aws_config=error,aws_smithy_runtime=error,aws_runtime=error,aws_sdk_s3=error,hyper=warn"),
        _ => format!("{level},aws_smithy_runtime=info,hyper=info"),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("S3MEND_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(color);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// The error as printed: one line, its causes joined by `: `; with -v, each cause on a line of
/// its own. Never a backtrace: anyhow captures one when RUST_BACKTRACE is set, and `{:?}` would
/// print it, so the message would change with the environment.
fn error_text(err: &anyhow::Error, verbose: bool) -> String {
    if !verbose {
        return format!("{err:#}");
    }
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    text
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
