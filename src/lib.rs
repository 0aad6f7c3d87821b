//! Sextant: a terminal console for GitOps with an embedded reconcile engine.
//!
//! The engine is this library; the TUI and the headless CLI are thin front ends over it.

pub mod app;
pub mod charts;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod demo;
pub mod engine;
pub mod initiator;
pub mod logging;
pub mod paths;
pub mod render;
pub mod resource;
pub mod source;
pub mod ui;
