//! The repair's GetObjectAcl around the SDK's pipeline: `GET ?acl`, signed and sent as the HEADs
//! are, its `AccessControlPolicy` read as the SDK reads it and reduced to the model's
//! [`ObjectAcl`] as [`crate::s3::write::object_acl`] reduces the SDK's output. Only a 200 that
//! reads so is kept; anything else (a 501 from a server without ACLs, a 404, a 5xx) goes to
//! the SDK, whose answer is then the one the repair judges.

use aws_smithy_runtime_api::client::http::SharedHttpConnector;
use aws_smithy_xml::decode::{try_data, Document, ScopedDecoder};
use futures::future::BoxFuture;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::copy::exchange;
use super::template::Template;
use super::{object_url, Attempt, Heads};
use crate::model::{Grant, ObjectAcl, S3Failure};
use crate::s3::write::object_acl_with;

/// A query value, encoded as the SDK encodes one (`aws_smithy_http::query::fmt_string`): all but
/// RFC 3986's unreserved characters.
pub(super) const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

impl Heads {
    /// The ACL of a version of `key` (the current one if `None`), as
    /// [`crate::s3::write::object_acl`] reads it.
    pub(crate) async fn acl(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectAcl, S3Failure> {
        let client = &self.0.client;
        let sdk = |attempts| -> BoxFuture<'_, Result<ObjectAcl, S3Failure>> {
            Box::pin(object_acl_with(client, bucket, key, version_id, attempts))
        };
        let Some((template, connector)) = self.ready(bucket) else {
            return sdk(None).await;
        };
        let attempt = self.acl_attempt(template, connector, key, version_id);
        self.around(attempt, false, sdk).await
    }

    async fn acl_attempt(
        &self,
        template: &Template,
        connector: &SharedHttpConnector,
        key: &str,
        version_id: Option<&str>,
    ) -> Attempt<ObjectAcl> {
        let uri = acl_url(template, key, version_id);
        let conventions = &self.0.conventions.acl;
        let Some(request) = self.signed(template, "GET", &uri, conventions, &[]).await else {
            return Attempt::Unsent;
        };
        match tokio::time::timeout(self.0.attempt_timeout, exchange(connector, request)).await {
            Ok(Some((response, body))) if response.status().as_u16() == 200 => {
                match parse_acl(&body) {
                    Some(acl) => Attempt::Answered(acl),
                    None => Attempt::Unparsed,
                }
            }
            Ok(Some((response, _))) => Attempt::Failed(Some(response.status().as_u16())),
            Ok(None) | Err(_) => Attempt::Failed(None),
        }
    }
}

/// The URL of a version's `?acl`, as the SDK writes it.
pub(super) fn acl_url(template: &Template, key: &str, version_id: Option<&str>) -> String {
    let mut uri = object_url(template, key);
    uri.push_str("?acl");
    if let Some(version) = version_id {
        uri.push_str("&versionId=");
        uri.extend(utf8_percent_encode(version, QUERY));
    }
    uri
}

/// An `AccessControlPolicy` as the SDK's deserialiser reads it (the last `Owner` and
/// `AccessControlList` count, and within them the last of each field), reduced as
/// `write::object_acl` reduces it: grantees by type (`CanonicalUser` by id, `Group` by URI,
/// `AmazonCustomerByEmail` by address), others and grants without a grantee or permission left
/// out. `None` where the SDK would fail: not XML, another root, or a grantee without `xsi:type`.
pub(super) fn parse_acl(body: &[u8]) -> Option<ObjectAcl> {
    let mut doc = Document::try_from(body).ok()?;
    let mut root = doc.root_element().ok()?;
    if !root.start_el().matches("AccessControlPolicy") {
        return None;
    }
    let mut acl = ObjectAcl::default();
    while let Some(mut tag) = root.next_tag() {
        if tag.start_el().matches("Owner") {
            acl.owner_id = None;
            while let Some(mut field) = tag.next_tag() {
                if field.start_el().matches("ID") {
                    acl.owner_id = Some(try_data(&mut field).ok()?.into_owned());
                }
            }
        } else if tag.start_el().matches("AccessControlList") {
            acl.grants.clear();
            while let Some(mut grant) = tag.next_tag() {
                if grant.start_el().matches("Grant") {
                    if let Some(grant) = read_grant(&mut grant)? {
                        acl.grants.push(grant);
                    }
                }
            }
        }
    }
    Some(acl)
}

/// One `Grant`: `None` where the SDK would fail, `Some(None)` for a grant `object_acl` leaves out.
fn read_grant(grant: &mut ScopedDecoder<'_, '_>) -> Option<Option<Grant>> {
    let (mut grantee, mut permission) = (None, None);
    while let Some(mut tag) = grant.next_tag() {
        if tag.start_el().matches("Grantee") {
            grantee = Some(read_grantee(&mut tag)?);
        } else if tag.start_el().matches("Permission") {
            permission = Some(try_data(&mut tag).ok()?.into_owned());
        }
    }
    Some(
        grantee
            .flatten()
            .zip(permission)
            .map(|(grantee, permission)| Grant {
                grantee,
                permission,
            }),
    )
}

/// A `Grantee` in the form `object_acl` gives it (`id="…"`, `uri="…"`, `emailAddress="…"`);
/// `Some(None)` for one it leaves out, `None` where the SDK would fail.
fn read_grantee(tag: &mut ScopedDecoder<'_, '_>) -> Option<Option<String>> {
    let kind = tag.start_el().attr("xsi:type")?.to_owned();
    let (mut id, mut uri, mut email) = (None, None, None);
    while let Some(mut field) = tag.next_tag() {
        let slot = match field.start_el().local() {
            "ID" => &mut id,
            "URI" => &mut uri,
            "EmailAddress" => &mut email,
            "DisplayName" => {
                try_data(&mut field).ok()?;
                continue;
            }
            _ => continue,
        };
        *slot = Some(try_data(&mut field).ok()?.into_owned());
    }
    Some(match kind.as_str() {
        "CanonicalUser" => id.map(|id| format!("id=\"{id}\"")),
        "Group" => uri.map(|uri| format!("uri=\"{uri}\"")),
        "AmazonCustomerByEmail" => email.map(|email| format!("emailAddress=\"{email}\"")),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_acl_is_read_as_the_sdk_reads_it() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Owner><ID>owner&amp;1</ID><DisplayName>me</DisplayName></Owner>
  <AccessControlList>
    <Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>owner&amp;1</ID><DisplayName>me</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant>
    <Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant>
    <Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="AmazonCustomerByEmail"><EmailAddress>a@example.com</EmailAddress></Grantee><Permission>READ_ACP</Permission></Grant>
    <Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Someday"><ID>x</ID></Grantee><Permission>READ</Permission></Grant>
    <Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"></Grantee><Permission>READ</Permission></Grant>
    <Grant><Permission>READ</Permission></Grant>
  </AccessControlList>
</AccessControlPolicy>"#;
        let acl = parse_acl(body.as_bytes()).unwrap();
        assert_eq!(acl.owner_id.as_deref(), Some("owner&1"));
        let grants: Vec<_> = acl
            .grants
            .iter()
            .map(|g| (g.grantee.as_str(), g.permission.as_str()))
            .collect();
        assert_eq!(
            grants,
            [
                ("id=\"owner&1\"", "FULL_CONTROL"),
                (
                    "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"",
                    "READ"
                ),
                ("emailAddress=\"a@example.com\"", "READ_ACP"),
            ]
        );
        let empty = parse_acl(b"<AccessControlPolicy></AccessControlPolicy>").unwrap();
        assert_eq!(empty, ObjectAcl::default());
    }

    #[test]
    fn an_acl_the_sdk_would_reject_is_left_to_it() {
        for body in [
            "",
            "not xml",
            "<Error><Code>NoSuchKey</Code></Error>",
            "<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>x</ID></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>",
            "<AccessControlPolicy><Owner><ID>&bogus;</ID></Owner></AccessControlPolicy>",
        ] {
            assert_eq!(parse_acl(body.as_bytes()), None, "{body}");
        }
    }
}
