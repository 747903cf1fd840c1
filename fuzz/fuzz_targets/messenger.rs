//! Any signed body on the Messenger URL: parsing never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ventana_fuzz::channels::model::Channel;
use ventana_fuzz::channels::parse::parse_webhook;

fuzz_target!(|body: &[u8]| {
    let _ = parse_webhook(Channel::Messenger, body);
});
