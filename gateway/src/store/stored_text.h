// How the SQLite store keeps its large text (resource bodies, audit events):
// as a zstd frame in a BLOB. A resource of about a kilobyte shrinks to half,
// an audit event to less than half, so a visit takes fewer pages in the
// database, in the write-ahead log and in each checkpoint. Rows written before compression keep their TEXT and are read
// as they are: a column's type says which it is.
#pragma once

#include <string>
#include <string_view>

namespace ilpgw::stored_text {

// A zstd frame of `text` (fast level). Frames laid one after another are a
// stored text too: the texts of a resource's parts, compressed where each is
// known (the request thread compresses the body, the writer only the
// versionId and lastUpdated it adds).
std::string compress(std::string_view text);

// A frame of a short text that would hardly shrink (a resource's head and
// meta, a couple of hundred bytes): zstd's fastest level, about the text's
// size plus a few bytes, in a seventh of compress()'s time.
std::string frameShort(std::string_view text);

// The text of one or more frames made by compress(), joined; throws
// std::runtime_error when a frame is damaged.
std::string decompress(std::string_view frames);

}  // namespace ilpgw::stored_text
