//! Records a facility sent that could not be read (quarantined at import and not replaced
//! by a readable version since). A summary built without them must say so: an empty
//! allergy card is only reassuring when nothing of the patient's is missing from it.

use model::FacilityCode;
use serde::Serialize;

use crate::access::Gate;
use crate::Result;

/// "N records from facility X could not be read", for one source of the patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnreadableRecords {
    pub source: FacilityCode,
    pub source_name: String,
    pub count: u64,
}

impl crate::Network {
    /// The unreadable files of every source whose basic information the gate shows (the
    /// count tells which facilities treat the patient, so only where that may be known).
    pub(crate) async fn unreadable_records(
        &self,
        gate: &mut Gate,
    ) -> Result<Vec<UnreadableRecords>> {
        let mut out = Vec::new();
        for i in 0..gate.sources.len() {
            if !gate.allows(i, model::RecordCategory::BasicInfo) {
                continue;
            }
            let s = &gate.sources[i];
            let count = self.store.unreadable_count(s.id, &s.local_id).await?;
            if count > 0 {
                out.push(UnreadableRecords {
                    source: s.facility.clone(),
                    source_name: s.details.name.clone(),
                    count,
                });
            }
        }
        Ok(out)
    }
}
