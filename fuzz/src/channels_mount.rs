//! `crate::channels` as the service has it, reduced to the modules the
//! fuzz targets need. Loaded through a path attribute, so the paths below
//! are relative to this file's directory.

#[path = "../../src/channels/messenger/mod.rs"]
pub mod messenger;
#[path = "../../src/channels/model.rs"]
pub mod model;
#[path = "../../src/channels/parse.rs"]
pub mod parse;
#[path = "../../src/channels/signature.rs"]
pub mod signature;
#[path = "../../src/channels/whatsapp/mod.rs"]
pub mod whatsapp;
