//! The real `s3mend-batch-lambda` binary under a stand-in for Lambda's Runtime API on 127.0.0.1:
//! it polls `GET /2018-06-01/runtime/invocation/next`, answers each example event with
//! `POST …/invocation/{id}/response`, writes journal lines to stdout and repairs the lab's object.
//! (Built with `--features lambda`; `.ci/test` runs it.)

use std::collections::VecDeque;
use std::convert::Infallible;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use s3mend_lab::{ObjectSeed, LAB_ACCESS_KEY, LAB_REGION, LAB_SECRET_KEY};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::batch::{example, BUCKET, KEY};
use crate::harness::{s3mend_command, TestEnv};

/// What the function posted back for one invocation.
#[derive(Debug)]
struct Posted {
    request_id: String,
    /// `response` or `error`.
    kind: String,
    body: Value,
}

/// The Runtime API's side: events to hand out, in order, and what came back.
struct RuntimeApi {
    events: Mutex<VecDeque<(String, Value)>>,
    posted: mpsc::UnboundedSender<Posted>,
}

impl RuntimeApi {
    async fn serve(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let path = request.uri().path().to_owned();
        let method = request.method().clone();
        let body = request.into_body().collect().await.map(|b| b.to_bytes());
        let reply = |status: u16, body: Bytes| {
            Response::builder()
                .status(status)
                .body(Full::new(body))
                .unwrap()
        };
        if method == hyper::Method::GET && path == "/2018-06-01/runtime/invocation/next" {
            let next = self.events.lock().unwrap().pop_front();
            let Some((id, event)) = next else {
                // Like Lambda with nothing to do: the poll waits (the test ends first).
                std::future::pending::<()>().await;
                unreachable!()
            };
            let deadline =
                SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(60);
            return Ok(Response::builder()
                .status(200)
                .header("lambda-runtime-aws-request-id", id)
                .header(
                    "lambda-runtime-deadline-ms",
                    deadline.as_millis().to_string(),
                )
                .header(
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:111122223333:function:s3mend-batch",
                )
                .header(
                    "lambda-runtime-trace-id",
                    "Root=1-00000000-000000000000000000000000",
                )
                .body(Full::new(Bytes::from(event.to_string())))
                .unwrap());
        }
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if let ["2018-06-01", "runtime", "invocation", id, kind @ ("response" | "error")] =
            parts[..]
        {
            let body = body.unwrap_or_default();
            let _ = self.posted.send(Posted {
                request_id: id.to_owned(),
                kind: kind.to_owned(),
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            });
            return Ok(reply(202, Bytes::from_static(b"{\"status\":\"OK\"}")));
        }
        let _ = self.posted.send(Posted {
            request_id: String::new(),
            kind: format!("{method} {path}"),
            body: Value::Null,
        });
        Ok(reply(404, Bytes::new()))
    }
}

/// Starts the stand-in on 127.0.0.1; its address, and what the function posts.
async fn runtime_api(events: Vec<(String, Value)>) -> (String, mpsc::UnboundedReceiver<Posted>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (posted, received) = mpsc::unbounded_channel();
    let api = Arc::new(RuntimeApi {
        events: Mutex::new(events.into()),
        posted,
    });
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let api = api.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |r| api.clone().serve(r));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (address, received)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lambda_binary_answers_the_runtime_api_and_repairs() {
    let env = TestEnv::new().await;
    env.lab.create_bucket(BUCKET);
    env.lab.put_object(
        BUCKET,
        KEY,
        ObjectSeed {
            body: bytes::Bytes::from_static(b"<p>menu</p>"),
            content_type: Some("text/html".into()),
            content_encoding: Some("UTF-8".into()),
            ..ObjectSeed::default()
        },
    );
    let (api, mut posted) = runtime_api(vec![
        ("req-scan".into(), example("scan.json")),
        ("req-fix".into(), example("fix.json")),
    ])
    .await;

    // The environment Lambda gives a function, but the endpoint: the lab's.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_s3mend-batch-lambda"));
    for (key, value) in s3mend_command().as_std().get_envs() {
        match value {
            Some(value) => child.env(key, value),
            None => child.env_remove(key),
        };
    }
    let mut child = child
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "s3mend-batch")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_ENDPOINT_URL", env.lab.endpoint())
        .env("AWS_ACCESS_KEY_ID", LAB_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", LAB_SECRET_KEY)
        .env("AWS_REGION", LAB_REGION)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("s3mend-batch-lambda starts");

    let mut answers = Vec::new();
    for _ in 0..2 {
        let answer = tokio::time::timeout(Duration::from_secs(60), posted.recv())
            .await
            .expect("an answer within a minute")
            .expect("the stand-in runs");
        answers.push(answer);
    }
    child.start_kill().unwrap();
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);

    assert_eq!(answers[0].request_id, "req-scan", "{answers:?}\n{stderr}");
    assert_eq!(answers[0].kind, "response", "{answers:?}\n{stderr}");
    assert_eq!(
        answers[0].body["results"][0]["resultString"],
        "findings: Content-Encoding UTF-8 → (remove)"
    );
    assert_eq!(answers[1].request_id, "req-fix");
    assert_eq!(answers[1].kind, "response", "{answers:?}\n{stderr}");
    let fixed = &answers[1].body;
    assert_eq!(fixed["invocationSchemaVersion"], "2.0");
    assert_eq!(fixed["invocationId"], example("fix.json")["invocationId"]);
    assert_eq!(fixed["treatMissingKeysAs"], "PermanentFailure");
    assert_eq!(fixed["results"][0]["taskId"], "dGFza2lkZ29lc2hlcmUK");
    assert_eq!(fixed["results"][0]["resultCode"], "Succeeded");
    assert_eq!(
        fixed["results"][0]["resultString"],
        "fixed: Content-Encoding UTF-8 → (removed)"
    );
    assert_eq!(env.lab.object(BUCKET, KEY).unwrap().content_encoding, None);

    // stdout is the journal and nothing else; the logs are on stderr.
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["planned", "outcome"], "{stdout}");
    assert_eq!(lines[0]["key"], KEY);
    assert!(stderr.contains("task"), "{stderr}");
}

#[tokio::test]
async fn outside_lambda_the_binary_says_so_in_one_line() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_s3mend-batch-lambda"));
    for (key, value) in s3mend_command().as_std().get_envs() {
        match value {
            Some(value) => child.env(key, value),
            None => child.env_remove(key),
        };
    }
    let out = child
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("s3mend-batch-lambda: error: AWS_LAMBDA_RUNTIME_API is not set"),
        "{stderr}"
    );
}
