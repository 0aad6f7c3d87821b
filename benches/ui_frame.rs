//! Frame time of the terminal UI with 100 Apps and 10,000 resources (issue 6: < 16 ms).
//!
//! `cargo bench --bench ui_frame`. Each iteration renders one full frame into a ratatui
//! `TestBackend` (layout, widgets, buffer diffing is the terminal's job and not included).

#[path = "../tests/ui_fixtures.rs"]
mod fixtures;

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sextant::ui::state::Pane;
use sextant::ui::{State, UiOptions, render};

fn bench(c: &mut Criterion) {
    // 100 Apps × 100 resources = 10,000 resources in the snapshot.
    let many_apps = fixtures::big_snapshot(100, 100);
    // One App holding all 10,000 (the worst case for the Resources tree).
    let one_big = fixtures::big_snapshot(1, 10_000);
    // The same App after a rollout: every pod has a new name.
    let mut rolled = one_big.clone();
    for r in &mut rolled.apps[0].resources {
        if r.key.kind == "Pod" {
            r.key.name.push_str("-r2");
        }
    }
    let mut group = c.benchmark_group("ui_frame");
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        let state = State::new(UiOptions::default(), many_apps.clone(), fixtures::now());
        let mut term = Terminal::new(TestBackend::new(w, h)).expect("backend");
        group.bench_function(format!("apps_100_apps_10k_resources_{w}x{h}"), |b| {
            b.iter(|| {
                term.draw(|f| render(&state, f)).expect("draw");
            })
        });
        let mut state = State::new(UiOptions::default(), one_big.clone(), fixtures::now());
        state.selected = state.snapshot.apps.first().map(|a| a.app.name.clone());
        state.detail.app = state.selected.clone().unwrap_or_default();
        state.detail.pane = Some(Pane::Resources);
        state.detail.res_sel = 5_000;
        state.screen = sextant::ui::state::Screen::Detail;
        group.bench_function(format!("resources_tree_10k_{w}x{h}"), |b| {
            b.iter(|| {
                term.draw(|f| render(&state, f)).expect("draw");
            })
        });
        // A new snapshot arrives in which statuses changed but every resource kept its key and
        // owners (the usual refresh): the owner tree and pod list carry over, the old snapshot
        // is dropped off the UI thread, then a frame is drawn.
        group.bench_function(format!("resources_tree_10k_new_snapshot_{w}x{h}"), |b| {
            let mut n = 0usize;
            b.iter_batched(
                || {
                    n += 1;
                    let mut snap = one_big.clone();
                    let r = &mut snap.apps[0].resources[n % 10_000];
                    r.message = format!("restarted {n} times");
                    snap
                },
                |snap| {
                    sextant::ui::update(&mut state, sextant::ui::Action::Snapshot(snap));
                    term.draw(|f| render(&state, f)).expect("draw");
                },
                criterion::BatchSize::LargeInput,
            )
        });
        // Worst case: every arrival replaces all 9,000 pods (a rollout), so the owner tree and
        // pod list are rebuilt from scratch before the frame.
        group.bench_function(format!("resources_tree_10k_new_pods_{w}x{h}"), |b| {
            let mut flip = false;
            b.iter_batched(
                || {
                    flip = !flip;
                    if flip {
                        rolled.clone()
                    } else {
                        one_big.clone()
                    }
                },
                |snap| {
                    sextant::ui::update(&mut state, sextant::ui::Action::Snapshot(snap));
                    term.draw(|f| render(&state, f)).expect("draw");
                },
                criterion::BatchSize::LargeInput,
            )
        });
        state.detail.pane = Some(Pane::Pods);
        group.bench_function(format!("pods_9k_{w}x{h}"), |b| {
            b.iter(|| {
                term.draw(|f| render(&state, f)).expect("draw");
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
