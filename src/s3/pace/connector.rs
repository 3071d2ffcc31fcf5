//! The SDK's HTTP client with the pacing around each attempt.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;
use tracing::Instrument;

use super::Pace;

/// The SDK's HTTP client with [`Pace`] around each connector call. Connection pooling, TLS and
/// timeouts stay the inner client's.
#[derive(Debug)]
pub(super) struct PacedClient {
    pub(super) inner: SharedHttpClient,
    pub(super) pace: Arc<Pace>,
    pub(super) run_settings: HttpConnectorSettings,
}

/// Whether two settings get the same connection pool: the SDK's HTTP client keeps one per
/// connect and read timeout.
fn same_pool(a: &HttpConnectorSettings, b: &HttpConnectorSettings) -> bool {
    a.connect_timeout() == b.connect_timeout() && a.read_timeout() == b.read_timeout()
}

impl HttpClient for PacedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let connector = SharedHttpConnector::new(PacedConnector {
            inner: self.inner.http_connector(settings, components),
            pace: self.pace.clone(),
        });
        if same_pool(settings, &self.run_settings) {
            let _ = self.pace.run_connector.set(connector.clone());
        }
        connector
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner
            .validate_base_client_config(runtime_components, cfg)
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    pub(super) pace: Arc<Pace>,
}

impl HttpConnector for PacedConnector {
    /// The attempt runs as a task of its own, so that its slot comes back as soon as the answer
    /// does, whether or not the caller is polling: a fix's scan stage is polled only while its
    /// repair stage has room, and answered HEADs waiting there must not hold the slots the
    /// repairs need (which would deadlock). Dropping the returned future aborts the task, which
    /// cancels the request as before.
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let pace = self.pace.clone();
        let attempt = async move {
            let turn = pace.turn().await;
            let result = inner.call(request).await;
            turn.finish(result.as_ref().ok().map(|r| r.status().as_u16()));
            result
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return HttpConnectorFuture::new(attempt);
        };
        let task = AbortOnDrop(runtime.spawn(attempt.instrument(tracing::Span::current())));
        HttpConnectorFuture::new(async move {
            match task.await {
                Ok(result) => result,
                Err(failed) => match failed.try_into_panic() {
                    Ok(panic) => std::panic::resume_unwind(panic),
                    Err(failed) => Err(ConnectorError::other(failed.into(), None)),
                },
            }
        })
    }
}

/// A task handle that aborts the task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::metrics::RequestStats;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use std::time::Duration;

    #[derive(Debug)]
    struct Answers(u16);

    impl HttpConnector for Answers {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            let status = StatusCode::try_from(self.0).expect("a status code");
            HttpConnectorFuture::new(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok(HttpResponse::new(status, SdkBody::empty()))
            })
        }
    }

    #[tokio::test]
    async fn a_caller_that_stops_polling_does_not_keep_its_slot() {
        // A fix's scan stage is polled only while its repair stage has room: an answered HEAD
        // there must not hold a slot that the repairs wait for.
        let pace = Pace::new(1, None, Arc::new(RequestStats::default()));
        let connector = PacedConnector {
            inner: SharedHttpConnector::new(Answers(200)),
            pace: pace.clone(),
        };
        let mut stalled = connector.call(HttpRequest::empty());
        assert!(futures::poll!(&mut stalled).is_pending());
        let next =
            tokio::time::timeout(Duration::from_secs(5), connector.call(HttpRequest::empty()))
                .await
                .expect("the slot came back without the first caller polling");
        assert_eq!(next.unwrap().status().as_u16(), 200);
        assert_eq!(stalled.await.unwrap().status().as_u16(), 200);
        assert_eq!(pace.slots.available_permits(), 1);
    }

    #[tokio::test]
    async fn an_abandoned_attempt_gives_its_slot_back() {
        #[derive(Debug)]
        struct Never;
        impl HttpConnector for Never {
            fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
                HttpConnectorFuture::new(std::future::pending())
            }
        }
        let pace = Pace::new(1, None, Arc::new(RequestStats::default()));
        let connector = PacedConnector {
            inner: SharedHttpConnector::new(Never),
            pace: pace.clone(),
        };
        let attempt = tokio::time::timeout(
            Duration::from_millis(10),
            connector.call(HttpRequest::empty()),
        );
        assert!(attempt.await.is_err(), "timed out");
        tokio::time::timeout(Duration::from_secs(10), async {
            while pace.slots.available_permits() == 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the slot is free again");
    }
}
