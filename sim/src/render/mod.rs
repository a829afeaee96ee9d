//! Data in, files out: timelines, plots, the run's `index.html`, the tune reports. Runs no
//! simulation: it draws what `engine` recorded and `orchestration` judged.

pub mod run_report;
pub mod svg;
pub mod timeline_svg;
pub mod tune_report;
