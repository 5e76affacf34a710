//! Decode arbitrary bytes, parse them as an ER7 message, touch every value, and read the
//! typed record of every SS-MIX2 data kind. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(decoded) = hl7::decode(data) else {
        return;
    };
    let Ok(msg) = hl7::Message::parse(decoded.text) else {
        return;
    };
    let _ = msg.message_type();
    for seg in msg.segments() {
        let _ = seg.name();
        // One past the last field, to cover the "missing field" path too.
        for f in 0..=seg.field_count() + 1 {
            let field = seg.field(f);
            let _ = (field.is_empty(), field.is_null(), field.value());
            for (r, rep) in field.repetitions().enumerate() {
                let _ = field.repetition(r + 1).value();
                for (c, comp) in rep.components().enumerate() {
                    let _ = rep.component(c + 1).value();
                    let _ = comp.value();
                    let subs = comp.raw().split(msg.delimiters().subcomponent).count();
                    for s in 0..=subs + 1 {
                        let _ = comp.subcomponent(s);
                    }
                }
            }
        }
    }
    for &kind in ssmix2::DataKind::ALL {
        let _ = ssmix2::records::read_record(kind, &msg);
        let _ = ssmix2::clinical_date(kind, &msg);
    }
});
