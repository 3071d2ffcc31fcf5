//! The ACL a copy carries: grant headers that reproduce the object's ACL in the copy request
//! itself.

use serde::Serialize;

use crate::model::ObjectAcl;

/// The `x-amz-grant-*` headers that reproduce an ACL in the copy request itself, so a public
/// object is never private in between (s3cmd's copy-then-PUT-?acl leaves that window).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct GrantHeaders {
    pub full_control: Option<String>,
    pub read: Option<String>,
    pub read_acp: Option<String>,
    pub write_acp: Option<String>,
}

/// The grant headers for `acl`, or `None` when it is the owner's FULL_CONTROL alone: a copy is
/// private by default, and sending nothing also suits buckets that refuse ACLs.
pub fn grant_headers(acl: &ObjectAcl) -> Option<GrantHeaders> {
    let owner = acl.owner_id.as_deref().map(|id| format!("id=\"{id}\""));
    let private = acl
        .grants
        .iter()
        .all(|g| g.permission == "FULL_CONTROL" && Some(&g.grantee) == owner.as_ref());
    if private {
        return None;
    }
    let mut headers = GrantHeaders::default();
    for grant in &acl.grants {
        let slot = match grant.permission.as_str() {
            "FULL_CONTROL" => &mut headers.full_control,
            "READ" => &mut headers.read,
            "READ_ACP" => &mut headers.read_acp,
            "WRITE_ACP" => &mut headers.write_acp,
            // WRITE does not apply to objects; S3 never returns it for one.
            _ => continue,
        };
        match slot {
            Some(list) => {
                list.push_str(", ");
                list.push_str(&grant.grantee);
            }
            None => *slot = Some(grant.grantee.clone()),
        }
    }
    Some(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Grant;

    #[test]
    fn grant_headers_reproduce_the_acl_in_the_copy() {
        let owner = "id=\"owner1\"".to_owned();
        let grant = |grantee: &str, permission: &str| Grant {
            grantee: grantee.to_owned(),
            permission: permission.to_owned(),
        };
        let private = ObjectAcl {
            owner_id: Some("owner1".into()),
            grants: vec![grant(&owner, "FULL_CONTROL")],
        };
        assert_eq!(
            grant_headers(&private),
            None,
            "private is the copy's default"
        );

        let all_users = "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"";
        let public = ObjectAcl {
            owner_id: Some("owner1".into()),
            grants: vec![
                grant(&owner, "FULL_CONTROL"),
                grant(all_users, "READ"),
                grant("id=\"other\"", "READ"),
                grant("emailAddress=\"a@b.c\"", "READ_ACP"),
                grant("id=\"other\"", "WRITE_ACP"),
            ],
        };
        assert_eq!(
            grant_headers(&public),
            Some(GrantHeaders {
                full_control: Some(owner.clone()),
                read: Some(format!("{all_users}, id=\"other\"")),
                read_acp: Some("emailAddress=\"a@b.c\"".into()),
                write_acp: Some("id=\"other\"".into()),
            })
        );

        // Without the owner's own grant the copy must not add one either.
        let foreign_only = ObjectAcl {
            owner_id: Some("owner1".into()),
            grants: vec![grant("id=\"other\"", "FULL_CONTROL")],
        };
        assert_eq!(
            grant_headers(&foreign_only)
                .unwrap()
                .full_control
                .as_deref(),
            Some("id=\"other\"")
        );
    }
}
