// How the SQLite store keeps its large text (resource bodies, audit events):
// as zstd frames in a BLOB, compressed with a dictionary compiled into the
// gateway (stored_text_dictionaries.h): a resource of about a kilobyte
// shrinks to about a fifth, so a visit takes fewer pages in the database, in
// the write-ahead log and in each checkpoint. Rows written before
// compression keep their TEXT and are read as they are (a column's type says
// which it is); frames written before the dictionary are read without one.
#pragma once

#include <string>
#include <string_view>

namespace ilpgw::stored_text {

// A zstd frame of `text` (fast level, with the current dictionary). Frames
// laid one after another are a stored text too: the texts of a resource's
// parts, compressed where each is known (the request thread compresses the
// body, the writer only the head with the versionId and lastUpdated it adds).
std::string compress(std::string_view text);

// The text of one or more frames made by compress(), joined; throws
// std::runtime_error when a frame is damaged or names a dictionary this
// build does not have.
std::string decompress(std::string_view frames);

}  // namespace ilpgw::stored_text
