//! ventana's webhook parsers and signature check, compiled from the
//! service's own source files (not copies) for the fuzz targets: these
//! modules depend on nothing else of the service.

#[path = "channels_mount.rs"]
pub mod channels;
