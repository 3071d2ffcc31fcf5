//! What the AWS environment and the shared config and credentials files say before the client is
//! built: that a profile named by `--profile` or `AWS_PROFILE` exists (aws-config would fall
//! through to instance metadata and report a failed IMDS token instead), and the retry settings
//! `retry` resolves. The files are read with aws-config's own parser, so the same files and
//! profile are found as the client then uses.

use std::borrow::Cow;
use std::path::PathBuf;

use aws_config::profile::ProfileSet;
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_types::os_shim_internal::{Env, Fs};

use super::retry::Configured;

/// The two files aws-config reads, as the environment names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsFiles {
    pub config: PathBuf,
    pub credentials: PathBuf,
}

impl AwsFiles {
    /// `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/config` and
    /// `~/.aws/credentials`.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> AwsFiles {
        let home = var("HOME").unwrap_or_else(|| "~".to_owned());
        let file = |env: &str, default: &str| {
            var(env)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(&home).join(".aws").join(default))
        };
        AwsFiles {
            config: file("AWS_CONFIG_FILE", "config"),
            credentials: file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
        }
    }
}

/// The one-line error for a profile that is in neither file; `source` says who named it.
pub fn missing_profile(name: &str, source: &str, files: &AwsFiles) -> String {
    format!(
        "profile '{name}' (from {source}) does not exist: it is in neither the AWS config file {} nor the credentials file {}",
        files.config.display(),
        files.credentials.display()
    )
}

/// Checks the profile named by `flag` or `AWS_PROFILE`, and reads the retry settings the
/// environment and that profile configure. Files that cannot be read or parsed are left to
/// aws-config, which reports them as before.
pub async fn read(flag: Option<&str>) -> Result<Configured, String> {
    let env = Env::real();
    let var = |name: &str| env.get(name).ok().filter(|v| !v.is_empty());
    let named = match (flag, var("AWS_PROFILE")) {
        (Some(name), _) => Some((name.to_owned(), "--profile")),
        (None, Some(name)) => Some((name, "AWS_PROFILE")),
        (None, None) => None,
    };
    let profiles = aws_config::profile::load(
        &Fs::real(),
        &env,
        &EnvConfigFiles::default(),
        flag.map(|f| Cow::Owned(f.to_owned())),
    )
    .await
    .ok();
    if let (Some((name, source)), Some(profiles)) = (&named, &profiles) {
        if profiles.get_profile(name).is_none() {
            return Err(missing_profile(name, source, &AwsFiles::from_env(var)));
        }
    }
    let setting = |key: &str| {
        profiles
            .as_ref()
            .and_then(|p: &ProfileSet| p.get_profile(p.selected_profile()))
            .and_then(|p| p.get(key))
            .map(str::to_owned)
    };
    Ok(Configured {
        env_max_attempts: var("AWS_MAX_ATTEMPTS"),
        env_retry_mode: var("AWS_RETRY_MODE"),
        profile_max_attempts: setting("max_attempts"),
        profile_retry_mode: setting("retry_mode"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_are_where_the_environment_says() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let files = AwsFiles::from_env(env(&[("HOME", "/home/me")]));
        assert_eq!(files.config, PathBuf::from("/home/me/.aws/config"));
        assert_eq!(
            files.credentials,
            PathBuf::from("/home/me/.aws/credentials")
        );
        let files = AwsFiles::from_env(env(&[
            ("HOME", "/home/me"),
            ("AWS_CONFIG_FILE", "/etc/aws.conf"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/run/creds"),
        ]));
        assert_eq!(files.config, PathBuf::from("/etc/aws.conf"));
        assert_eq!(files.credentials, PathBuf::from("/run/creds"));
        let message = missing_profile("nosuch", "--profile", &files);
        assert_eq!(
            message,
            "profile 'nosuch' (from --profile) does not exist: it is in neither the AWS config file /etc/aws.conf nor the credentials file /run/creds"
        );
    }
}
