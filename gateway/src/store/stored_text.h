// How the SQLite store keeps its large text (resource bodies, audit events):
// as a zstd frame in a BLOB. A resource of about a kilobyte shrinks to half,
// an audit event to less than half, so a visit takes fewer pages in the
// database, in the write-ahead log and in each checkpoint. Rows written before compression keep their TEXT and are read
// as they are: a column's type says which it is.
#pragma once

#include <string>
#include <string_view>

namespace ilpgw::stored_text {

// A zstd frame of `text` (fast level: the store's one writer pays for it).
std::string compress(std::string_view text);

// The text of a frame made by compress(); throws std::runtime_error when the
// frame is damaged.
std::string decompress(std::string_view frame);

}  // namespace ilpgw::stored_text
