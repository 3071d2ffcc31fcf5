//! `--shard I/N`: which part of a run one process does, so that N processes (a Kubernetes Indexed
//! Job, an AWS Batch array job, or N shells) together cover a bucket exactly once. Pure: what the
//! environment says is handed in.
//!
//! A key belongs to one *unit* and a unit to one shard, by a stable hash of its name:
//! - without an inventory, the unit is the key cut after its second `/` below the scan's prefix
//!   (`site/007/page.html` → `site/007/`), or the key itself when it has fewer: each shard finds
//!   its units with delimiter listings of the two levels, then lists only its own
//!   (`pipeline/shards.rs`);
//! - with an inventory, the unit is a data file (file `i` goes to shard `i mod N`), or, when the
//!   inventory has fewer files than there are shards, the key.
//!
//! The hash is FNV-1a (64 bits) of the unit's UTF-8 bytes, modulo N: the same on every machine
//! and in every s3mend version. Shards of one run must be started by the same s3mend version.

use std::fmt;

/// How deep below the scan's prefix a unit reaches: `a/b/` is one unit, and `a/key` another.
pub const DEPTH: usize = 2;

/// The most shards a run may have (AWS Batch allows array jobs of 10,000).
pub const MAX_SHARDS: u32 = 100_000;

/// This process's part: `index` counts from 0, the command line and reports from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

/// The variable a Kubernetes Indexed Job sets: the pod's index, from 0.
pub const K8S_INDEX: &str = "JOB_COMPLETION_INDEX";
/// The variables AWS Batch sets in a child of an array job: its index from 0, and the array's
/// size.
pub const BATCH_INDEX: &str = "AWS_BATCH_JOB_ARRAY_INDEX";
pub const BATCH_SIZE: &str = "AWS_BATCH_JOB_ARRAY_SIZE";

impl Shard {
    /// `--shard I/N` (I from 1 to N) or `--shard auto` (the index from the environment, `env`),
    /// with `--shard-count`.
    pub fn resolve(
        spec: &str,
        count: Option<u32>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Shard, String> {
        if spec == "auto" {
            return Self::from_env(count, env);
        }
        let bad = || format!("--shard '{spec}' is not I/N (e.g. 1/4, from 1 to N) or auto");
        let (i, n) = spec.split_once('/').ok_or_else(bad)?;
        let i: u32 = number(i).ok_or_else(bad)?;
        let n: u32 = number(n).ok_or_else(bad)?;
        if n == 0 || n > MAX_SHARDS {
            return Err(format!(
                "--shard '{spec}': N must be from 1 to {MAX_SHARDS}"
            ));
        }
        if i == 0 || i > n {
            return Err(format!(
                "--shard '{spec}': I counts from 1 to {n} (shard 1/{n} is the first)"
            ));
        }
        if let Some(count) = count.filter(|&c| c != n) {
            return Err(format!(
                "--shard-count {count} contradicts --shard {spec}: give one of them"
            ));
        }
        Ok(Shard {
            index: i - 1,
            count: n,
        })
    }

    fn from_env(count: Option<u32>, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let k8s = env(K8S_INDEX).filter(|v| !v.is_empty());
        let batch = env(BATCH_INDEX).filter(|v| !v.is_empty());
        let (var, index, total) = match (k8s, batch) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "--shard auto: both {K8S_INDEX} and {BATCH_INDEX} are set; give --shard I/N"
                ))
            }
            (None, None) => {
                return Err(format!(
                    "--shard auto: neither {K8S_INDEX} (a Kubernetes Indexed Job) nor {BATCH_INDEX} (an AWS Batch array job) is set; give --shard I/N"
                ))
            }
            (Some(index), None) => {
                let total = count.ok_or_else(|| {
                    format!("--shard auto with {K8S_INDEX} (a Kubernetes Indexed Job) needs --shard-count N: the Job's completions")
                })?;
                (K8S_INDEX, index, total)
            }
            (None, Some(index)) => {
                let size = env(BATCH_SIZE).filter(|v| !v.is_empty());
                let size = match size {
                    Some(text) => Some(number(&text).ok_or_else(|| {
                        format!("--shard auto: {BATCH_SIZE} '{text}' is not a number")
                    })?),
                    None => None,
                };
                let total = match (count, size) {
                    (Some(c), Some(s)) if c != s => {
                        return Err(format!(
                            "--shard-count {c} contradicts {BATCH_SIZE}={s}: leave --shard-count out"
                        ))
                    }
                    (Some(c), _) | (None, Some(c)) => c,
                    (None, None) => {
                        return Err(format!(
                            "--shard auto with {BATCH_INDEX} needs {BATCH_SIZE} or --shard-count N"
                        ))
                    }
                };
                (BATCH_INDEX, index, total)
            }
        };
        if total == 0 || total > MAX_SHARDS {
            return Err(format!(
                "--shard auto: the shard count must be from 1 to {MAX_SHARDS}, not {total}"
            ));
        }
        let index = number(&index).filter(|&i| i < total).ok_or_else(|| {
            format!(
                "--shard auto: {var} '{index}' is not an index from 0 to {}",
                total - 1
            )
        })?;
        Ok(Shard {
            index,
            count: total,
        })
    }

    /// Whether this shard takes `unit` (a key, or a unit of keys).
    pub fn owns(&self, unit: &str) -> bool {
        self.count <= 1 || stable_hash(unit) % u64::from(self.count) == u64::from(self.index)
    }

    /// Whether this shard takes the inventory's data file number `i` (from 0).
    pub fn owns_file(&self, i: usize) -> bool {
        self.count <= 1 || i % self.count as usize == self.index as usize
    }
}

/// Digits only: no sign, no blanks.
fn number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// FNV-1a, 64 bits: stable across machines and versions (std's hasher is neither).
pub fn stable_hash(text: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    text.bytes().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

/// The unit `key` (under `prefix`) belongs to: the key up to and including its [`DEPTH`]th `/`
/// after the prefix, or the whole key when it has fewer.
pub fn unit_of<'a>(prefix: &str, key: &'a str) -> &'a str {
    let rest = key.strip_prefix(prefix).unwrap_or(key);
    let base = key.len() - rest.len();
    let mut cut = None;
    for (seen, (at, _)) in rest.match_indices('/').enumerate() {
        if seen + 1 == DEPTH {
            cut = Some(base + at + 1);
            break;
        }
    }
    match cut {
        Some(end) => &key[..end],
        None => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn shards_count_from_one_on_the_command_line() {
        let shard = Shard::resolve("1/4", None, no_env).unwrap();
        assert_eq!((shard.index, shard.count), (0, 4));
        assert_eq!(shard.to_string(), "1/4");
        let shard = Shard::resolve("4/4", Some(4), no_env).unwrap();
        assert_eq!((shard.index, shard.count), (3, 4));
        assert_eq!(Shard::resolve("1/1", None, no_env).unwrap().count, 1);
        for (bad, says) in [
            ("0/4", "I counts from 1 to 4"),
            ("5/4", "I counts from 1 to 4"),
            ("1/0", "N must be from 1"),
            ("1/100001", "N must be from 1"),
            ("1", "is not I/N"),
            ("a/4", "is not I/N"),
            ("-1/4", "is not I/N"),
            ("1/ 4", "is not I/N"),
            ("", "is not I/N"),
        ] {
            let err = Shard::resolve(bad, None, no_env).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let err = Shard::resolve("1/4", Some(3), no_env).unwrap_err();
        assert!(
            err.contains("--shard-count 3 contradicts --shard 1/4"),
            "{err}"
        );
    }

    #[test]
    fn auto_reads_kubernetes_and_aws_batch_indexes_from_zero() {
        let k8s = [("JOB_COMPLETION_INDEX", "0")];
        let shard = Shard::resolve("auto", Some(4), env(&k8s)).unwrap();
        assert_eq!(shard.to_string(), "1/4");
        let err = Shard::resolve("auto", None, env(&k8s)).unwrap_err();
        assert!(err.contains("needs --shard-count N"), "{err}");
        let err =
            Shard::resolve("auto", Some(4), env(&[("JOB_COMPLETION_INDEX", "4")])).unwrap_err();
        assert!(err.contains("is not an index from 0 to 3"), "{err}");

        let batch = [
            ("AWS_BATCH_JOB_ARRAY_INDEX", "9"),
            ("AWS_BATCH_JOB_ARRAY_SIZE", "10"),
        ];
        let shard = Shard::resolve("auto", None, env(&batch)).unwrap();
        assert_eq!(shard.to_string(), "10/10");
        assert_eq!(
            Shard::resolve("auto", Some(10), env(&batch)).unwrap(),
            shard
        );
        let err = Shard::resolve("auto", Some(8), env(&batch)).unwrap_err();
        assert!(
            err.contains("contradicts AWS_BATCH_JOB_ARRAY_SIZE=10"),
            "{err}"
        );
        let only_index = [("AWS_BATCH_JOB_ARRAY_INDEX", "2")];
        assert_eq!(
            Shard::resolve("auto", Some(3), env(&only_index))
                .unwrap()
                .to_string(),
            "3/3"
        );
        let err = Shard::resolve("auto", None, env(&only_index)).unwrap_err();
        assert!(
            err.contains("needs AWS_BATCH_JOB_ARRAY_SIZE or --shard-count"),
            "{err}"
        );

        let err = Shard::resolve("auto", Some(4), no_env).unwrap_err();
        assert!(err.contains("neither JOB_COMPLETION_INDEX"), "{err}");
        let both = [
            ("JOB_COMPLETION_INDEX", "1"),
            ("AWS_BATCH_JOB_ARRAY_INDEX", "1"),
        ];
        let err = Shard::resolve("auto", Some(4), env(&both)).unwrap_err();
        assert!(err.contains("both"), "{err}");
        let err =
            Shard::resolve("auto", Some(4), env(&[("JOB_COMPLETION_INDEX", "x")])).unwrap_err();
        assert!(err.contains("'x' is not an index"), "{err}");
    }

    #[test]
    fn the_hash_is_fnv1a_and_never_changes() {
        // Published FNV-1a 64 test vectors: shards of different machines must agree.
        assert_eq!(stable_hash(""), 0xcbf29ce484222325);
        assert_eq!(stable_hash("a"), 0xaf63dc4c8601ec8c);
        assert_eq!(stable_hash("foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn every_unit_has_exactly_one_shard() {
        let units: Vec<String> = (0..10_000).map(|i| format!("site/{i:04}/")).collect();
        let shards: Vec<Shard> = (1..=4)
            .map(|i| Shard::resolve(&format!("{i}/4"), None, no_env).unwrap())
            .collect();
        let mut per_shard = [0usize; 4];
        for unit in &units {
            let owners: Vec<_> = shards.iter().filter(|s| s.owns(unit)).collect();
            assert_eq!(owners.len(), 1, "{unit}");
            per_shard[owners[0].index as usize] += 1;
        }
        // Even within 5 % of 2,500 each.
        for n in per_shard {
            assert!((2375..=2625).contains(&n), "{per_shard:?}");
        }
        for i in 0..10 {
            let owners = shards.iter().filter(|s| s.owns_file(i)).count();
            assert_eq!(owners, 1);
        }
        assert!(shards[1].owns_file(5) && shards[3].owns_file(3));
        let one = Shard { index: 0, count: 1 };
        assert!(one.owns("anything") && one.owns_file(7));
    }

    #[test]
    fn a_unit_is_the_key_up_to_its_second_slash_below_the_prefix() {
        for (prefix, key, unit) in [
            ("", "site/007/page.html", "site/007/"),
            ("", "site/007/", "site/007/"),
            ("", "site/page.html", "site/page.html"),
            ("", "flat.html", "flat.html"),
            ("", "a//b", "a//"),
            ("pre/", "pre/a/b/c", "pre/a/b/"),
            ("pre/", "pre/a/b", "pre/a/b"),
            ("pre", "pre/a/b", "pre/a/"),
            ("pre", "prefix/a/b", "prefix/a/"),
            ("", "unicodé/日本/x", "unicodé/日本/"),
        ] {
            assert_eq!(unit_of(prefix, key), unit, "{prefix} {key}");
        }
    }
}
