// Patient identity across sources. Patient ids come from business keys
// ("nik|<NIK>" for anyone with a NIK), so SIMPUS, ePuskesmas and a posyandu
// posting the same person produce the same id; but each post carries only its
// own local identifiers and would overwrite the others. Before a batch is
// committed, every Patient write is merged with the stored version (and with
// earlier writes of the same Patient in the batch): identifiers are united,
// other elements come from the newest post. A birthDate or gender that
// contradicts the stored one is a warning on the record, never a silent
// change: the value that agrees with the NIK's embedded facts is kept, and
// when that does not decide, the stored value stays.
//
// Concurrent posts of the same person: every merged write carries the stored
// version it was merged with (0 when none) as if_match_version, checked by
// the store inside the commit; Gateway::ingest merges again when it fails.
#pragma once

#include "ingest/gateway.h"

namespace ilpgw {

// Rewrites the Patient writes of accepted records in `mapped`; adds warnings
// to their records. A store read failure leaves the write as it was (and
// without a precondition).
void mergePatientIdentities(ResourceStore& store, MappedPayload& mapped);

}  // namespace ilpgw
