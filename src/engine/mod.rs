pub mod api;
pub mod cache;
pub mod compare;
pub mod diff;
pub mod health;
pub mod history;
pub mod ignore;
pub mod lock;
pub mod plan;
pub mod pods;
pub mod promote;
pub mod reconcile;
pub mod static_repo;
pub mod sync;

pub use reconcile::{Engine, EngineOptions};
