//! Object ACLs as S3 models them: canned ACLs, `x-amz-grant-*` headers and the owner.
//!
//! S3 never copies an ACL: a new object (PUT, COPY, multipart) gets exactly the grants its request
//! carries, or owner FULL_CONTROL when it carries none. This module turns request headers into
//! grants and grants into s3s DTOs.

use s3s::dto;
use s3s::{s3_error, S3Result};

use super::model::{Grant, Grantee};

/// The canonical user id of the lab's only account (the one `LAB_ACCESS_KEY` belongs to).
pub const LAB_OWNER_ID: &str = "5f3c6d1e0b8a4c2d9e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d";
/// Its display name.
pub const LAB_OWNER_NAME: &str = "s3mend-lab";

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

/// A canonical user; only the lab's own account has a display name the lab knows.
fn user(id: &str) -> Grantee {
    Grantee::CanonicalUser {
        id: id.to_owned(),
        display_name: display_name(id),
    }
}

fn display_name(id: &str) -> Option<String> {
    (id == LAB_OWNER_ID).then(|| LAB_OWNER_NAME.to_owned())
}

fn grant(grantee: Grantee, permission: &str) -> Grant {
    Grant {
        grantee,
        permission: permission.to_owned(),
    }
}

/// Owner FULL_CONTROL for the lab's account: what a request naming no ACL gets.
pub fn private() -> Vec<Grant> {
    private_for(LAB_OWNER_ID)
}

/// Owner FULL_CONTROL for any owner.
pub fn private_for(owner_id: &str) -> Vec<Grant> {
    vec![grant(user(owner_id), "FULL_CONTROL")]
}

/// Expands a canned ACL for an object of the lab's account; an unknown name is a 400.
pub fn canned(name: &str) -> S3Result<Vec<Grant>> {
    canned_for(name, LAB_OWNER_ID)
}

/// Expands a canned ACL the way S3 does for an object owned by `owner_id` in a lab bucket.
pub fn canned_for(name: &str, owner_id: &str) -> S3Result<Vec<Grant>> {
    let mut grants = private_for(owner_id);
    let group = |uri: &str| Grantee::Group {
        uri: uri.to_owned(),
    };
    // The bucket owner is the lab's account: the bucket-owner ACLs add it only to a foreign
    // object, since it already has FULL_CONTROL of its own.
    let foreign = owner_id != LAB_OWNER_ID;
    match name {
        "private" | "aws-exec-read" => {}
        "bucket-owner-read" | "bucket-owner-full-control" if !foreign => {}
        "bucket-owner-read" => grants.push(grant(user(LAB_OWNER_ID), "READ")),
        "bucket-owner-full-control" => grants.push(grant(user(LAB_OWNER_ID), "FULL_CONTROL")),
        "public-read" => grants.push(grant(group(ALL_USERS), "READ")),
        "public-read-write" => {
            grants.push(grant(group(ALL_USERS), "READ"));
            grants.push(grant(group(ALL_USERS), "WRITE"));
        }
        "authenticated-read" => grants.push(grant(group(AUTHENTICATED_USERS), "READ")),
        other => return Err(s3_error!(InvalidArgument, "unknown canned ACL: {other}")),
    }
    Ok(grants)
}

/// Parses one `x-amz-grant-*` header: `id="..", uri="..", emailAddress=".."`, comma separated.
pub fn parse_grant_header(value: &str, permission: &str) -> S3Result<Vec<Grant>> {
    let mut grants = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((kind, raw)) = item.split_once('=') else {
            return Err(s3_error!(InvalidArgument, "bad grant: {item}"));
        };
        let val = raw.trim().trim_matches('"').to_owned();
        let grantee = match kind.trim().to_ascii_lowercase().as_str() {
            "id" => user(&val),
            "uri" => Grantee::Group { uri: val },
            "emailaddress" => Grantee::Email { address: val },
            other => return Err(s3_error!(InvalidArgument, "bad grantee type: {other}")),
        };
        grants.push(grant(grantee, permission));
    }
    Ok(grants)
}

/// The grant-related headers of a request, in the order S3 lists them. Kept as text until the
/// bucket's [`AclMode`](super::ownership::AclMode) says whether they count at all.
#[derive(Clone, Debug, Default)]
pub struct AclHeaders {
    pub canned: Option<String>,
    pub full_control: Option<String>,
    pub read: Option<String>,
    pub read_acp: Option<String>,
    pub write: Option<String>,
    pub write_acp: Option<String>,
}

impl AclHeaders {
    pub fn has_grants(&self) -> bool {
        self.full_control.is_some()
            || self.read.is_some()
            || self.read_acp.is_some()
            || self.write.is_some()
            || self.write_acp.is_some()
    }

    /// The grants a new object gets from these headers: `None` when the request names no ACL.
    pub fn grants(&self) -> S3Result<Option<Vec<Grant>>> {
        if self.canned.is_some() && self.has_grants() {
            return Err(s3_error!(
                InvalidRequest,
                "Specifying both Canned ACLs and Header Grants is not allowed"
            ));
        }
        if let Some(name) = &self.canned {
            return canned(name).map(Some);
        }
        if !self.has_grants() {
            return Ok(None);
        }
        let mut grants = Vec::new();
        let headers = [
            (&self.full_control, "FULL_CONTROL"),
            (&self.read, "READ"),
            (&self.read_acp, "READ_ACP"),
            (&self.write, "WRITE"),
            (&self.write_acp, "WRITE_ACP"),
        ];
        for (value, permission) in headers {
            if let Some(value) = value {
                grants.extend(parse_grant_header(value, permission)?);
            }
        }
        Ok(Some(grants))
    }
}

/// The lab owner as an s3s DTO.
pub fn owner_dto() -> dto::Owner {
    owner_dto_for(LAB_OWNER_ID)
}

/// Any owner as an s3s DTO.
pub fn owner_dto_for(id: &str) -> dto::Owner {
    dto::Owner {
        display_name: display_name(id),
        id: Some(id.to_owned()),
    }
}

/// Grants as s3s DTOs (for GetObjectAcl).
pub fn to_dto(grants: &[Grant]) -> Vec<dto::Grant> {
    grants
        .iter()
        .map(|g| {
            let mut grantee = dto::Grantee {
                display_name: None,
                email_address: None,
                id: None,
                type_: dto::Type::from_static(dto::Type::CANONICAL_USER),
                uri: None,
            };
            match &g.grantee {
                Grantee::CanonicalUser { id, display_name } => {
                    grantee.id = Some(id.clone());
                    grantee.display_name = display_name.clone();
                }
                Grantee::Group { uri } => {
                    grantee.type_ = dto::Type::from_static(dto::Type::GROUP);
                    grantee.uri = Some(uri.clone());
                }
                Grantee::Email { address } => {
                    grantee.type_ = dto::Type::from_static(dto::Type::AMAZON_CUSTOMER_BY_EMAIL);
                    grantee.email_address = Some(address.clone());
                }
            }
            dto::Grant {
                grantee: Some(grantee),
                permission: Some(dto::Permission::from(g.permission.clone())),
            }
        })
        .collect()
}

/// Grants from an XML AccessControlPolicy body (PutObjectAcl).
pub fn from_dto(grants: &[dto::Grant]) -> S3Result<Vec<Grant>> {
    let mut out = Vec::new();
    for g in grants {
        let (Some(grantee), Some(permission)) = (&g.grantee, &g.permission) else {
            return Err(s3_error!(
                MalformedACLError,
                "grant without grantee or permission"
            ));
        };
        let grantee = match grantee.type_.as_str() {
            dto::Type::CANONICAL_USER => Grantee::CanonicalUser {
                id: grantee
                    .id
                    .clone()
                    .ok_or_else(|| s3_error!(MalformedACLError, "no ID"))?,
                display_name: grantee.display_name.clone(),
            },
            dto::Type::GROUP => Grantee::Group {
                uri: grantee
                    .uri
                    .clone()
                    .ok_or_else(|| s3_error!(MalformedACLError, "no URI"))?,
            },
            dto::Type::AMAZON_CUSTOMER_BY_EMAIL => Grantee::Email {
                address: grantee
                    .email_address
                    .clone()
                    .ok_or_else(|| s3_error!(MalformedACLError, "no EmailAddress"))?,
            },
            other => return Err(s3_error!(MalformedACLError, "unknown grantee type {other}")),
        };
        out.push(Grant {
            grantee,
            permission: permission.as_str().to_owned(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_read_is_owner_plus_all_users() {
        let grants = canned("public-read").unwrap();
        assert_eq!(grants.len(), 2);
        assert_eq!(
            grants[1].grantee,
            Grantee::Group {
                uri: ALL_USERS.into()
            }
        );
    }

    #[test]
    fn grant_headers_parse_each_grantee() {
        let headers = AclHeaders {
            read: Some(r#"uri="http://acs.amazonaws.com/groups/global/AllUsers", id="abc""#.into()),
            full_control: Some("emailAddress=\"a@b.c\"".into()),
            ..AclHeaders::default()
        };
        let grants = headers.grants().unwrap().unwrap();
        assert_eq!(grants.len(), 3);
        assert_eq!(grants[0].permission, "FULL_CONTROL");
        assert_eq!(
            grants[2].grantee,
            Grantee::CanonicalUser {
                id: "abc".into(),
                display_name: None
            }
        );
    }

    #[test]
    fn bucket_owner_acls_add_the_bucket_owner_to_foreign_objects() {
        assert_eq!(canned("bucket-owner-full-control").unwrap(), private());
        let grants = canned_for("bucket-owner-full-control", "someone-else").unwrap();
        assert_eq!(grants.len(), 2);
        assert_eq!(grants[1].grantee, user(LAB_OWNER_ID));
    }

    #[test]
    fn canned_and_grants_together_are_rejected() {
        let headers = AclHeaders {
            canned: Some("private".into()),
            read: Some("id=\"x\"".into()),
            ..AclHeaders::default()
        };
        assert!(headers.grants().is_err());
    }
}
