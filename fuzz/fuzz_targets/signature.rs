//! The signature check: never panics on any header or body, accepts what
//! `sign` produced, and refuses the header of another body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ventana_fuzz::channels::signature::{sign, verify_signature};

const SECRET: &[u8] = b"fuzz-app-secret";

fuzz_target!(|data: &[u8]| {
    // The first byte says how many of the next bytes are the header.
    let (length, rest) = data.split_first().map_or((0, &[][..]), |(n, rest)| (*n as usize, rest));
    let (header, body) = rest.split_at(length.min(rest.len()));
    let header = String::from_utf8_lossy(header);
    let _ = verify_signature(SECRET, Some(header.as_ref()), body);
    let signed = sign(SECRET, body);
    assert!(verify_signature(SECRET, Some(&signed), body).is_ok());
    let mut other = body.to_vec();
    other.push(b'x');
    assert!(verify_signature(SECRET, Some(&signed), &other).is_err());
});
