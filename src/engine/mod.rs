pub mod diff;
pub mod health;
pub mod plan;
pub mod api;
