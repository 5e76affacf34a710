//! Arbitrary text as a storage path and as an extended-storage content folder name.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(path) = ssmix2::StoragePath::parse(text) {
        let _ = (path.patient_id(), path.date(), path.condition());
        if let ssmix2::StoragePath::Standard(name) = &path {
            let _ = (name.file_name(), name.relative_path(), name.order_key());
        }
    }
    let _ = ssmix2::naming::ExtendedContentName::parse(text);
    let _ = ssmix2::naming::StandardName::parse(text);
    let _ = ssmix2::naming::prefix_folders(text);
});
