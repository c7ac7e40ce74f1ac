// SQL functions every connection of the SQLite store has, and the C++ side
// of what they convert.
//
// Resource ids in the search-index rows: an id shaped like a lower-case UUID
// (8-4-4-4-12 hex digits, what the adapters derive from a record's business
// key) is kept as its 16 bytes in a BLOB, any other id as its TEXT
// unchanged. A BLOB never equals a TEXT, so the two forms cannot collide,
// and each converts back to exactly the id it came from. Each index row
// names its resource and, for a reference, the target: 36 characters become
// 16 bytes, about 1.8 KB less per visit.
//
// Stored text (stored_text.h) inside SQL: the audit trail's resource lists
// are zstd frames, and an audit search by resource reads them as text.
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>

namespace ilpgw {

// The 16 bytes of a lower-case UUID-shaped id; "" for any other id.
std::string packedId(std::string_view id);
// The same into `out` (its memory reused); false, and `out` empty, for any other id.
bool packId(std::string_view id, std::string& out);

// The id a stored value stands for: the UUID of 16 bytes, or the text itself.
std::string unpackedId(std::string_view stored, bool is_blob);

// Registers, deterministic and innocuous, on `db`:
// - packed_id(text) and unpacked_id(stored), e.g.
//   `c.id IN (SELECT unpacked_id(id) FROM search_token ...)`;
// - stored_text(value): the text of a BLOB of zstd frames, a TEXT as it is.
void registerStoreFunctions(sqlite3* db);

}  // namespace ilpgw
