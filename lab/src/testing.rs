//! The lab's test-only API: race hooks, armed and seeded faults, damaged answers and other
//! stores' quirks, armed through [`LabHandle`] and [`Lab`], and an SDK client for the lab.
//!
//! With these, tests and benchmarks stage what a concurrent writer, S3 under load, a broken proxy
//! or a store other than S3 would do. The demo, and so the release binary, builds the lab without
//! them (the `testing` feature), so none of this code ships in the product.

use std::time::Duration;

use super::damage::ListingDamage;
use super::faults::Faults;
use super::hooks::HookPoint;
use super::inject::{Armed, Arrival};
use super::{Lab, LabHandle};

impl LabHandle {
    /// Runs `hook` once, right before the lab handles the next CopyObject or
    /// CreateMultipartUpload whose destination is `bucket`/`key`: after the injected latency,
    /// before any condition is checked. Hooks for the same destination run one per request, in
    /// the order they were armed.
    pub fn before_next_copy(
        &self,
        bucket: &str,
        key: &str,
        hook: impl FnOnce(&LabHandle) + Send + 'static,
    ) {
        self.hooks.add(HookPoint::Copy, bucket, key, Box::new(hook));
    }

    /// Runs `hook` once, right before the lab handles the next HeadObject of `bucket`/`key`
    /// (after the injected latency): e.g. to delete the object between LIST and HEAD.
    pub fn before_next_head(
        &self,
        bucket: &str,
        key: &str,
        hook: impl FnOnce(&LabHandle) + Send + 'static,
    ) {
        self.hooks.add(HookPoint::Head, bucket, key, Box::new(hook));
    }

    /// Makes the next `count` requests of `operation` (an S3 operation name as in
    /// [`LabStats`](super::LabStats), e.g. "CopyObject") on `key`, in any bucket, fail with 500 InternalError
    /// before they do anything. They are still counted. Replaces any `fail_next` or `stall_next`
    /// still armed for the same operation and key; `count` 0 disarms.
    pub fn fail_next(&self, operation: &str, key: &str, count: u32) {
        self.inject.add_fault(operation, key, count, Armed::Fail);
    }

    /// Makes the next `count` requests of `operation` on `key`, in any bucket, wait `stall`
    /// before they are handled, then answers them normally (for attempt timeouts). A client that
    /// gives up meanwhile closes the connection and the request is never applied. Replaces any
    /// `fail_next` or `stall_next` still armed for the same operation and key; `count` 0 disarms.
    pub fn stall_next(&self, operation: &str, key: &str, count: u32, stall: Duration) {
        self.inject
            .add_fault(operation, key, count, Armed::Stall(stall));
    }

    /// Replaces the seeded random faults; each operation's stream restarts from the seed. See
    /// [`Faults`] for what each fault does. `fail_next` failures still come first.
    pub fn set_faults(&self, faults: Faults) {
        self.inject.set_random(Some(faults));
    }

    /// Removes the random faults (not the `fail_next` ones).
    pub fn clear_faults(&self) {
        self.inject.set_random(None);
    }

    /// Damages the next `count` ListObjectsV2 answers, in any bucket, as [`ListingDamage`]
    /// says; each is counted in [`LabStats::faults`](super::LabStats::faults) as
    /// "ListObjectsV2/" and the damage's name (e.g. "ListObjectsV2/Cut"). Requests that meet a
    /// `fail_next`, `stall_next` or random fault are not damaged and do not use one up. Replaces
    /// what is left of an earlier damage; `count` 0 disarms.
    pub fn damage_listings(&self, damage: ListingDamage, count: u32) {
        self.inject.damages.damage_listings(damage, count);
    }

    /// Sends the next `count` ListObjectsV2 bodies, in any bucket, 16 bytes at a time with
    /// `delay_per_chunk` between them (under their full Content-Length), so that a client's
    /// attempt timeout can fire mid-body. Counted as "ListObjectsV2/Trickle"; a damaged body is
    /// trickled as it is damaged. Replaces an earlier trickle; `count` 0 disarms.
    pub fn trickle_listings(&self, delay_per_chunk: Duration, count: u32) {
        self.inject.damages.trickle_listings(delay_per_chunk, count);
    }

    /// Loses the answer to the next CopyObject onto `bucket`/`key`: the copy is handled as
    /// usual (made, if nothing refuses it), then the connection is reset without a response,
    /// so the client cannot know. Counted as "CopyObject/LostResponse". Each call loses one
    /// more answer.
    pub fn lose_next_copy_response(&self, bucket: &str, key: &str) {
        self.inject.damages.lose_next_copy_response(bucket, key);
    }

    /// Runs the oldest hook armed for this request, if any.
    pub(crate) fn run_hook(&self, point: HookPoint, bucket: &str, key: &str) {
        if let Some(hook) = self.hooks.take(point, bucket, key) {
            hook(self);
        }
    }

    /// Makes CopyObject and UploadPartCopy ignore `x-amz-copy-source-if-*`, as moto does.
    pub fn set_copy_source_conditions_ignored(&self, bucket: &str, ignored: bool) {
        self.store.create_bucket(bucket);
        let _ = self.store.write(bucket, |b| {
            b.quirks.copy_source_conditions_ignored = ignored;
            Ok(())
        });
    }

    /// Makes CopyObject refuse a destination `If-Match` with 501, as stores without that S3
    /// feature (added in 2025) do.
    pub fn set_copy_if_match_supported(&self, bucket: &str, supported: bool) {
        self.store.create_bucket(bucket);
        let _ = self.store.write(bucket, |b| {
            b.quirks.copy_if_match_unsupported = !supported;
            Ok(())
        });
    }
}

impl LabHandle {
    /// Records every request's arrival (operation, key, instant, `x-amz-*` headers) from now on,
    /// dropping what was recorded before; `false` stops. For benchmarks that measure a client's
    /// timing on the server's side, e.g. how long after its last read of an object a client's
    /// copy arrives, and tests that check which headers a client sent and signed.
    pub fn record_arrivals(&self, on: bool) {
        self.inject.record_arrivals(on);
    }

    /// The arrivals recorded since the last call, in order.
    pub fn take_arrivals(&self) -> Vec<Arrival> {
        self.inject.take_arrivals()
    }
}

impl Lab {
    /// See [`LabHandle::record_arrivals`].
    pub fn record_arrivals(&self, on: bool) {
        self.shared.handle.record_arrivals(on);
    }

    /// See [`LabHandle::take_arrivals`].
    pub fn take_arrivals(&self) -> Vec<Arrival> {
        self.shared.handle.take_arrivals()
    }

    /// See [`LabHandle::set_faults`]: seeded random faults per operation, from now on.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.handle.set_faults(faults);
    }

    /// Removes the random faults; `fail_next` ones stay armed.
    pub fn clear_faults(&self) {
        self.shared.handle.clear_faults();
    }

    /// See [`LabHandle::set_copy_source_conditions_ignored`].
    pub fn set_copy_source_conditions_ignored(&self, bucket: &str, ignored: bool) {
        self.shared
            .handle
            .set_copy_source_conditions_ignored(bucket, ignored);
    }

    /// See [`LabHandle::set_copy_if_match_supported`].
    pub fn set_copy_if_match_supported(&self, bucket: &str, supported: bool) {
        self.shared
            .handle
            .set_copy_if_match_supported(bucket, supported);
    }

    /// See [`LabHandle::damage_listings`]: the next `count` ListObjectsV2 answers are damaged.
    pub fn damage_listings(&self, damage: ListingDamage, count: u32) {
        self.shared.handle.damage_listings(damage, count);
    }

    /// See [`LabHandle::trickle_listings`]: the next `count` ListObjectsV2 bodies come slowly.
    pub fn trickle_listings(&self, delay_per_chunk: Duration, count: u32) {
        self.shared.handle.trickle_listings(delay_per_chunk, count);
    }

    /// See [`LabHandle::lose_next_copy_response`]: the copy is made, its answer never comes.
    pub fn lose_next_copy_response(&self, bucket: &str, key: &str) {
        self.shared.handle.lose_next_copy_response(bucket, key);
    }

    /// See [`LabHandle::before_next_copy`]: a concurrent writer between a HEAD and its COPY.
    pub fn before_next_copy(
        &self,
        bucket: &str,
        key: &str,
        hook: impl FnOnce(&LabHandle) + Send + 'static,
    ) {
        self.shared.handle.before_next_copy(bucket, key, hook);
    }

    /// See [`LabHandle::before_next_head`].
    pub fn before_next_head(
        &self,
        bucket: &str,
        key: &str,
        hook: impl FnOnce(&LabHandle) + Send + 'static,
    ) {
        self.shared.handle.before_next_head(bucket, key, hook);
    }

    /// See [`LabHandle::fail_next`]: the next `count` `operation` requests on `key` get a 500.
    pub fn fail_next(&self, operation: &str, key: &str, count: u32) {
        self.shared.handle.fail_next(operation, key, count);
    }

    /// See [`LabHandle::stall_next`]: the next `count` `operation` requests on `key` wait
    /// `stall`, then are answered normally.
    pub fn stall_next(&self, operation: &str, key: &str, count: u32, stall: Duration) {
        self.shared.handle.stall_next(operation, key, count, stall);
    }
}

/// An SDK client for the lab with its key: path style, checksums only when required.
pub fn client(lab: &Lab) -> aws_sdk_s3::Client {
    client_with_keys(lab, super::LAB_ACCESS_KEY, super::LAB_SECRET_KEY)
}

/// An SDK client for the lab with any key (to test authentication failures).
pub fn client_with_keys(lab: &Lab, access_key: &str, secret_key: &str) -> aws_sdk_s3::Client {
    use aws_sdk_s3::config::{
        BehaviorVersion, Credentials, Region, RequestChecksumCalculation,
        ResponseChecksumValidation,
    };
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(lab.endpoint())
        .region(Region::new(super::LAB_REGION))
        .credentials_provider(Credentials::new(
            access_key,
            secret_key,
            None,
            None,
            "s3mend-lab",
        ))
        .force_path_style(true)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ObjectSeed;

    #[test]
    fn a_hook_may_write_and_arm_another() {
        let h = LabHandle::new();
        h.before_next_copy("b", "k", |h| {
            h.put_object("b", "k", ObjectSeed::with_body("w"));
            h.before_next_copy("b", "k", |h| h.fail_next("CopyObject", "k", 1));
        });
        h.run_hook(HookPoint::Copy, "b", "k");
        assert_eq!(&h.object("b", "k").unwrap().body[..], b"w");
        h.run_hook(HookPoint::Copy, "b", "k");
        assert!(h.inject.take_fault("CopyObject", "k").is_some());
        h.run_hook(HookPoint::Copy, "b", "k");
    }
}
