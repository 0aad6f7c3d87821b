//! Compare benchmark against the real control plane: an App of 1,000 objects and one of 10,000
//! ConfigMaps, full compare on a warm cache. Heavy (it creates 11,000 objects), so it is
//! `#[ignore]`d in normal runs; run it with
//! `cargo test --test engine_bench -- --ignored --nocapture` and record the figures in
//! BENCHMARKS.md. It fails when the warm compare misses its budget or the process's peak RSS
//! (`VmHWM`, this test process only: the control plane runs in other processes) reaches 300 MB.
//!
//! A counting global allocator reports, per phase, the heap still held after the phase and the
//! heap peak during it, so a regression can be traced to the phase (and data) that causes it.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use sextant::app::{App, AppSource, Destination, DirectorySource, SourceKind, SyncPolicy};
use sextant::cluster::kube::KubeCluster;
use sextant::cluster::{ApplyOptions, Cluster};
use sextant::engine::api::SyncStatus;
use sextant::engine::cache::LiveCache;
use sextant::engine::compare::{Comparer, prepare};

/// The system allocator, counting live heap bytes and their high-water mark.
struct Counting;

static HEAP: AtomicUsize = AtomicUsize::new(0);
static HEAP_PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = HEAP.fetch_add(by, Ordering::Relaxed) + by;
    HEAP_PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        HEAP.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                HEAP.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const MB: f64 = 1024.0 * 1024.0;

/// Heap accounting of one phase: starts the phase's high-water mark at the current heap.
struct Phase {
    name: &'static str,
}

impl Phase {
    fn start(name: &'static str) -> Self {
        HEAP_PEAK.store(HEAP.load(Ordering::Relaxed), Ordering::Relaxed);
        Self { name }
    }

    /// Prints the heap held now and the phase's peak; returns the peak in MB.
    fn end(self, bench: &str) -> f64 {
        let peak = HEAP_PEAK.load(Ordering::Relaxed) as f64 / MB;
        println!(
            "HEAP {bench} {:<22} held after {:>6.1} MB, peak during {:>6.1} MB, process peak RSS {:>4.0} MB",
            self.name,
            HEAP.load(Ordering::Relaxed) as f64 / MB,
            peak,
            peak_rss_mb()
        );
        peak
    }
}

fn app(name: &str, ns: &str) -> App {
    App {
        name: name.into(),
        env: name.into(),
        project: "default".into(),
        origin: "bench".into(),
        source: AppSource {
            repo_url: "memory".into(),
            path: "bench".into(),
            target_revision: "HEAD".into(),
            kind: SourceKind::Directory(DirectorySource::default()),
        },
        destination: Destination {
            server: None,
            name: None,
            namespace: ns.into(),
        },
        sync_policy: SyncPolicy::default(),
        revision_history_limit: 10,
        ignore_differences: vec![],
    }
}

fn rv_of(v: &Value) -> String {
    v.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// A mix like a real App: ConfigMaps, Services, Deployments (scaled to 0 to spare the node).
fn objects(n: usize, configmaps_only: bool) -> Vec<Value> {
    (0..n)
        .map(|i| match (configmaps_only, i % 10) {
            (false, 0) => json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": format!("d{i}"), "labels": {"app": format!("d{i}")}},
                "spec": {"replicas": 0, "selector": {"matchLabels": {"app": format!("d{i}")}},
                    "template": {"metadata": {"labels": {"app": format!("d{i}")}},
                        "spec": {"containers": [{"name": "m", "image": "registry.invalid/x:1"}]}}}}),
            (false, 1) => json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": format!("s{i}")},
                "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}}),
            _ => json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("c{i}")},
                "data": {"key": format!("value-{i}"), "other": "x".repeat(64)}}),
        })
        .collect()
}

async fn measure(cluster: Arc<dyn Cluster>, name: &str, n: usize, cm_only: bool, budget: Duration) {
    let ns = support::namespace(name).await;
    let a = app(&format!("{name}-{ns}"), &ns);
    let phase = Phase::start("prepare");
    let prepared = prepare(&a, objects(n, cm_only), cluster.as_ref()).await;
    assert!(prepared.errors.is_empty(), "{:?}", prepared.errors);
    phase.end(name);
    let phase = Phase::start("create (test setup)");
    let t = Instant::now();
    // Only failures are kept: the created objects are the cache's business, and holding 10,000
    // apply responses here would count test set-up against the engine's peak.
    let failures: Vec<String> = futures::stream::iter(prepared.objects.iter().map(|o| {
        let c = cluster.clone();
        let obj = o.obj.clone();
        async move { c.apply(&obj, ApplyOptions::default()).await.err() }
    }))
    .buffer_unordered(16)
    .filter_map(|r| async move { r.map(|e| e.to_string()) })
    .collect()
    .await;
    assert!(failures.is_empty(), "apply failed: {failures:?}");
    let apply_time = t.elapsed();
    phase.end(name);
    let phase = Phase::start("watch list");
    let cache = LiveCache::new(cluster.clone());
    cache.ensure(&prepared.gvks());
    let t = Instant::now();
    cache
        .wait_ready(&prepared.gvks(), Duration::from_secs(120))
        .await
        .expect("cache ready");
    let list_time = t.elapsed();
    phase.end(name);
    let comparer = Comparer::new();
    let phase = Phase::start("cold compare");
    let t = Instant::now();
    let cold = comparer.compare(&a, &prepared, &cache).await;
    let cold_time = t.elapsed();
    assert_eq!(
        cold.sync,
        SyncStatus::Synced,
        "cold compare: {:?}",
        cold.conditions
    );
    phase.end(name);
    // Live versions the cold compare saw: a warm compare re-runs the dry run of an object whose
    // resourceVersion changed since (a controller updated its status), so count those.
    let cold_rvs: std::collections::HashMap<_, _> = cold
        .items
        .iter()
        .map(|i| (i.key.clone(), i.live.as_deref().map(rv_of)))
        .collect();
    drop(cold);
    let phase = Phase::start("warm compare x3");
    let mut warm_times = Vec::new();
    let mut changed = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let warm = comparer.compare(&a, &prepared, &cache).await;
        warm_times.push(t.elapsed());
        assert_eq!(warm.sync, SyncStatus::Synced);
        assert_eq!(warm.items.len(), n);
        changed.push(
            warm.items
                .iter()
                .filter(|i| cold_rvs.get(&i.key) != Some(&i.live.as_deref().map(rv_of)))
                .count(),
        );
    }
    phase.end(name);
    let warm = warm_times.iter().max().copied().unwrap_or_default();
    println!(
        "BENCH {name}: warm compares {warm_times:?}; live objects changed since the cold compare: {changed:?}"
    );
    println!(
        "BENCH {name}: objects={n} apply={apply_time:?} watch-list={list_time:?} cold-compare(dry-run)={cold_time:?} warm-compare(max of 3)={warm:?} cache={} peak-rss={:.0}MB",
        cache.len(),
        peak_rss_mb()
    );
    assert!(
        warm < budget,
        "warm compare {warm:?} over budget {budget:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: creates 11,000 objects; run with --ignored"]
async fn compare_1000_objects_and_10000_configmaps_on_a_warm_cache() {
    let tc = support::cluster();
    let cluster: Arc<dyn Cluster> = Arc::new(
        KubeCluster::connect(Some(tc.kubeconfig_path()), None)
            .await
            .expect("connect"),
    );
    measure(
        cluster.clone(),
        "bench-1k",
        1_000,
        false,
        Duration::from_secs(1),
    )
    .await;
    measure(cluster, "bench-10k", 10_000, true, Duration::from_secs(5)).await;
    let peak = peak_rss_mb();
    println!("BENCH peak RSS of the test process: {peak:.0}MB");
    assert!(peak < 300.0, "peak RSS {peak:.0}MB over 300MB");
}
