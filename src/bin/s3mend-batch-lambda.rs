//! `s3mend-batch-lambda`: the S3 Batch Operations handler (`s3mend::batch`) as a Lambda function
//! on a custom runtime (`provided.al2023`, the binary named `bootstrap`). Journal lines go to
//! stdout, one JSON object a line, each written before its copy; everything else the function
//! logs goes to stderr. Both end up in the function's CloudWatch log group.

use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use s3mend::batch::{self, Handler, Invocation, Response};
use s3mend::journal::Journal;

fn main() -> std::process::ExitCode {
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(serve()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

async fn serve() -> Result<(), String> {
    batch::check_lambda_environment(|name| std::env::var(name).ok())?;
    let settings = batch::from_env(|name| std::env::var(name).ok())?;
    let journal = Journal::to_log("stdout", std::io::stdout())
        .map_err(|e| format!("cannot start the journal: {e}"))?;
    let handler = Arc::new(Handler::new(settings, Arc::new(journal)));
    let function = service_fn(move |event: LambdaEvent<Invocation>| {
        let handler = handler.clone();
        async move { Ok::<Response, std::convert::Infallible>(handler.handle(event.payload).await) }
    });
    lambda_runtime::run(function)
        .await
        .map_err(|e| format!("the Lambda runtime stopped: {e}"))
}

/// Logs to stderr, so stdout carries journal lines only; `S3MEND_LOG` filters as for the CLI.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("S3MEND_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("s3mend=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .init();
}

fn fail(message: &str) -> std::process::ExitCode {
    eprintln!("s3mend-batch-lambda: error: {message}");
    std::process::ExitCode::from(2)
}
