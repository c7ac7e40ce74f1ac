// The zstd dictionaries stored text is compressed with, compiled in from
// stored_text_<id>.zdict (gateway/CMakeLists.txt). Each frame names the
// dictionary it was written with (its zstd dictionary id, 0 for none), so
// every dictionary ever used stays here for as long as stores hold its frames.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>

namespace ilpgw::stored_text {

struct StoredDictionary {
  std::uint32_t id;  // zstd's dictionary id, also in each frame written with it
  const unsigned char* bytes;
  std::size_t size;
};

extern const std::uint32_t kCurrentDictionary;  // what new frames are written with
extern const StoredDictionary kDictionaries[];
extern const std::size_t kDictionaryCount;

}  // namespace ilpgw::stored_text
