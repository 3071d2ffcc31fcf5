//! An object's ACL, as GetObjectAcl returns it.

use serde::{Deserialize, Serialize};

/// One grant of an object ACL, with the grantee in `x-amz-grant-*` header form
/// (`id="…"`, `uri="…"` or `emailAddress="…"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub grantee: String,
    /// READ, READ_ACP, WRITE_ACP or FULL_CONTROL.
    pub permission: String,
}

/// An object's owner and grants. Journals store it as JSON: the field names are a file format.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectAcl {
    pub owner_id: Option<String>,
    pub grants: Vec<Grant>,
}
