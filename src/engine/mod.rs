pub mod api;
pub mod diff;
pub mod health;
pub mod plan;
