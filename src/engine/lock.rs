//! One operation per App across operators: a `coordination.k8s.io/v1` Lease
//! `sextant-op-<app>` in [`STATE_NAMESPACE`].
//!
//! The holder identity is `user@host <operation> #<token>`: the token makes two terminals of the
//! same operator distinct. A held lease is renewed every [`RENEW_EVERY`]; a lease not renewed for
//! [`LEASE_SECONDS`] (the holder crashed or lost the cluster) may be taken over.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::history::{MANAGED_BY, STATE_NAMESPACE, ensure_state_namespace};
use crate::cluster::{Cluster, ClusterError, Gvk, Propagation};

pub const LEASE_SECONDS: i64 = 60;
pub const RENEW_EVERY: Duration = Duration::from_secs(15);

fn lease_gvk() -> Gvk {
    Gvk::new("coordination.k8s.io", "v1", "Lease")
}

pub fn lease_name(app: &str) -> String {
    format!("sextant-op-{app}")
}

/// Why a lock could not be taken.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum LockError {
    #[error("{}", held_message(holder, since, *silent_secs))]
    Held {
        holder: String,
        since: String,
        /// Seconds since the holder last renewed the lease, when that is longer than two
        /// renewal periods: its process has most likely stopped.
        silent_secs: Option<i64>,
    },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// A held lease; release it with [`OperationLock::release`]. Dropping it stops renewal (the
/// lease then expires on its own).
pub struct OperationLock {
    cluster: Arc<dyn Cluster>,
    app: String,
    identity: String,
    renew: tokio::task::JoinHandle<()>,
}

/// Renewals a live holder never misses: silence longer than this means its process is gone.
const SILENCE_SECONDS: i64 = 2 * RENEW_EVERY.as_secs() as i64;

fn held_message(holder: &str, since: &str, silent_secs: Option<i64>) -> String {
    match silent_secs {
        Some(silent) => format!(
            "sync in progress by {holder} since {since}, but its lease has not been renewed for {silent}s: the process running it has most likely stopped (quit or lost the cluster)\n  the lease expires in {}s; sync again then to take over (the interrupted operation is recorded as Error)",
            (LEASE_SECONDS - silent).max(0)
        ),
        None => format!(
            "sync in progress by {holder} since {since}\n  wait for it to finish (or, if it crashed, for the lease to expire after {LEASE_SECONDS}s)"
        ),
    }
}

/// Seconds since the lease was last renewed, when longer than [`SILENCE_SECONDS`].
fn silence(renew: &str) -> Option<i64> {
    let t = renew.parse::<k8s_openapi::jiff::Timestamp>().ok()?;
    let age = k8s_openapi::jiff::Timestamp::now()
        .duration_since(t)
        .as_secs();
    (age > SILENCE_SECONDS).then_some(age)
}

fn micro_time_now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S.%6fZ")
        .to_string()
}

fn holder_of(lease: &Value) -> (String, String, String, bool) {
    let spec = lease.get("spec");
    let s = |k: &str| {
        spec.and_then(|s| s.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let identity = s("holderIdentity");
    let acquire = s("acquireTime");
    let renew = s("renewTime");
    let duration = spec
        .and_then(|s| s.get("leaseDurationSeconds"))
        .and_then(Value::as_i64)
        .unwrap_or(LEASE_SECONDS);
    let expired = renew
        .parse::<k8s_openapi::jiff::Timestamp>()
        .map(|t| {
            let age = k8s_openapi::jiff::Timestamp::now().duration_since(t);
            age.as_secs() > duration
        })
        .unwrap_or(true);
    let free = identity_free(&identity) || expired;
    (identity, acquire, renew, free)
}

fn identity_free(identity: &str) -> bool {
    identity.is_empty()
}

/// `user@host sync` out of `user@host sync #token`.
pub fn display_holder(identity: &str) -> String {
    identity
        .rsplit_once(" #")
        .map(|(h, _)| h.to_string())
        .unwrap_or_else(|| identity.to_string())
}

fn lease_object(app: &str, identity: &str, acquire: &str, rv: Option<&Value>) -> Value {
    let now = micro_time_now();
    let mut obj = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": lease_name(app),
            "namespace": STATE_NAMESPACE,
            "labels": {MANAGED_BY.0: MANAGED_BY.1},
        },
        "spec": {
            "holderIdentity": identity,
            "leaseDurationSeconds": LEASE_SECONDS,
            "acquireTime": if acquire.is_empty() { now.clone() } else { acquire.to_string() },
            "renewTime": now,
        }
    });
    if let Some(rv) = rv {
        obj["metadata"]["resourceVersion"] = rv.clone();
    }
    obj
}

/// Take the App's operation lease for `who` (`user@host`) doing `what` (`sync`, `rollback`).
pub async fn acquire(
    cluster: Arc<dyn Cluster>,
    app: &str,
    who: &str,
    what: &str,
) -> Result<OperationLock, LockError> {
    ensure_state_namespace(cluster.as_ref()).await?;
    let identity = format!("{who} {what} #{:016x}", fastrand_u64());
    let current = cluster
        .get(&lease_gvk(), STATE_NAMESPACE, &lease_name(app))
        .await?;
    let result = match current {
        None => {
            cluster
                .create(&lease_object(app, &identity, "", None))
                .await
        }
        Some(lease) => {
            let (holder, acquired, renewed, free) = holder_of(&lease);
            if !free {
                return Err(LockError::Held {
                    holder: display_holder(&holder),
                    since: acquired,
                    silent_secs: silence(&renewed),
                });
            }
            cluster
                .replace(&lease_object(
                    app,
                    &identity,
                    "",
                    lease.pointer("/metadata/resourceVersion"),
                ))
                .await
        }
    };
    match result {
        Ok(_) => {}
        // Someone else created or took it between our read and write.
        Err(ClusterError::AlreadyExists { .. }) => {
            let lease = cluster
                .get(&lease_gvk(), STATE_NAMESPACE, &lease_name(app))
                .await?
                .unwrap_or(Value::Null);
            let (holder, acquired, renewed, _) = holder_of(&lease);
            return Err(LockError::Held {
                holder: display_holder(&holder),
                since: acquired,
                silent_secs: silence(&renewed),
            });
        }
        Err(e) => return Err(e.into()),
    }
    let renew = {
        let cluster = cluster.clone();
        let app = app.to_string();
        let identity = identity.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                let Ok(Some(lease)) = cluster
                    .get(&lease_gvk(), STATE_NAMESPACE, &lease_name(&app))
                    .await
                else {
                    continue;
                };
                let (holder, acquired, _, _) = holder_of(&lease);
                if holder != identity {
                    return;
                }
                let _ = cluster
                    .replace(&lease_object(
                        &app,
                        &identity,
                        &acquired,
                        lease.pointer("/metadata/resourceVersion"),
                    ))
                    .await;
            }
        })
    };
    Ok(OperationLock {
        cluster,
        app: app.to_string(),
        identity,
        renew,
    })
}

/// Who holds the App's lease right now (display form and since), if anyone.
pub async fn holder(
    cluster: &dyn Cluster,
    app: &str,
) -> Result<Option<(String, String)>, ClusterError> {
    match cluster
        .get(&lease_gvk(), STATE_NAMESPACE, &lease_name(app))
        .await
    {
        Ok(Some(lease)) => {
            let (h, since, _, free) = holder_of(&lease);
            Ok((!free).then(|| (display_holder(&h), since)))
        }
        Ok(None) => Ok(None),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The raw identity (`user@host what #token`) and acquire time of the App's lease holder, when
/// the lease is held and not expired.
pub async fn holder_identity(
    cluster: &dyn Cluster,
    app: &str,
) -> Result<Option<(String, String)>, ClusterError> {
    Ok(holder_with_silence(cluster, app)
        .await?
        .map(|(h, since, _)| (h, since)))
}

/// [`holder_identity`] with the seconds since the holder last renewed, when it has been silent
/// for more than two renewal periods (its process has most likely stopped).
pub async fn holder_with_silence(
    cluster: &dyn Cluster,
    app: &str,
) -> Result<Option<(String, String, Option<i64>)>, ClusterError> {
    match cluster
        .get(&lease_gvk(), STATE_NAMESPACE, &lease_name(app))
        .await
    {
        Ok(Some(lease)) => {
            let (h, since, renewed, free) = holder_of(&lease);
            Ok((!free).then(|| (h, since, silence(&renewed))))
        }
        Ok(None) => Ok(None),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// What a reader of a running operation is told when its holder fell silent.
pub fn silent_holder_note(silent_secs: i64) -> String {
    format!(
        "its lease has not been renewed for {silent_secs}s: the process running it has most likely stopped; a sync takes over once the lease expires in {}s",
        (LEASE_SECONDS - silent_secs).max(0)
    )
}

/// `(user@host, operation)` out of a holder identity `user@host operation #token`.
pub fn split_identity(identity: &str) -> (String, String) {
    let shown = display_holder(identity);
    match shown.rsplit_once(' ') {
        Some((who, what)) => (who.to_string(), what.to_string()),
        None => (shown, String::new()),
    }
}

impl OperationLock {
    /// Release the lease if we still hold it. When the cluster cannot be reached (e.g. the
    /// operation failed because the apiserver went away), keep trying in the background for
    /// the lease's lifetime, so a retry after the outage is not refused by our own stale lease.
    pub async fn release(self) -> Result<(), ClusterError> {
        self.renew.abort();
        let first = release_once(self.cluster.as_ref(), &self.app, &self.identity).await;
        if let Err(e) = &first
            && e.is_transient()
        {
            let (cluster, app, identity) = (
                self.cluster.clone(),
                self.app.clone(),
                self.identity.clone(),
            );
            tokio::spawn(async move {
                let deadline =
                    tokio::time::Instant::now() + Duration::from_secs(LEASE_SECONDS as u64);
                while tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if release_once(cluster.as_ref(), &app, &identity)
                        .await
                        .is_ok()
                    {
                        return;
                    }
                }
            });
        }
        first
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }
}

async fn release_once(
    cluster: &dyn Cluster,
    app: &str,
    identity: &str,
) -> Result<(), ClusterError> {
    let current = cluster
        .get(&lease_gvk(), STATE_NAMESPACE, &lease_name(app))
        .await?;
    if let Some(lease) = current {
        let (holder, _, _, _) = holder_of(&lease);
        if holder == identity {
            cluster
                .delete(
                    &lease_gvk(),
                    STATE_NAMESPACE,
                    &lease_name(app),
                    Propagation::Background,
                )
                .await?;
        }
    }
    Ok(())
}

impl Drop for OperationLock {
    fn drop(&mut self) {
        self.renew.abort();
    }
}

fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded per process from the OS; mixing in time and a counter makes each
    // call distinct without another dependency.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_expiry_and_display() {
        let fresh = lease_object("a", "me@h sync #00ff", "", None);
        let (id, _, _, free) = holder_of(&fresh);
        assert_eq!(id, "me@h sync #00ff");
        assert!(!free);
        assert_eq!(display_holder(&id), "me@h sync");
        let mut old = fresh.clone();
        old["spec"]["renewTime"] = json!("2020-01-01T00:00:00.000000Z");
        assert!(holder_of(&old).3, "an old lease is free");
        let mut empty = fresh;
        empty["spec"]["holderIdentity"] = json!("");
        assert!(holder_of(&empty).3);
    }

    #[test]
    fn identity_splits_into_user_and_operation() {
        assert_eq!(
            split_identity("alice@laptop auto-sync #00ff"),
            ("alice@laptop".to_string(), "auto-sync".to_string())
        );
        assert_eq!(
            split_identity("alice@laptop"),
            ("alice@laptop".to_string(), String::new())
        );
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(fastrand_u64(), fastrand_u64());
    }
}
