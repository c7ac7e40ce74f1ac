#include "store/sqlite_functions.h"

#include <stdexcept>

#include "store/stored_text.h"

namespace ilpgw {
namespace {

constexpr size_t kUuidLength = 36;

bool isDash(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

int lowerHexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

void packedIdFunction(sqlite3_context* context, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    sqlite3_result_value(context, argv[0]);
    return;
  }
  std::string_view id(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])),
                      static_cast<size_t>(sqlite3_value_bytes(argv[0])));
  std::string packed = packedId(id);
  if (packed.empty()) {
    sqlite3_result_value(context, argv[0]);
  } else {
    sqlite3_result_blob(context, packed.data(), static_cast<int>(packed.size()), SQLITE_TRANSIENT);
  }
}

void unpackedIdFunction(sqlite3_context* context, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) != SQLITE_BLOB) {
    sqlite3_result_value(context, argv[0]);
    return;
  }
  std::string_view stored(static_cast<const char*>(sqlite3_value_blob(argv[0])),
                          static_cast<size_t>(sqlite3_value_bytes(argv[0])));
  if (stored.size() != 16) {
    sqlite3_result_error(context, "unpacked_id: a packed id is 16 bytes", -1);
    return;
  }
  std::string id = unpackedId(stored, true);
  sqlite3_result_text(context, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
}

void storedTextFunction(sqlite3_context* context, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) != SQLITE_BLOB) {
    sqlite3_result_value(context, argv[0]);
    return;
  }
  try {
    std::string text = stored_text::decompress(std::string_view(static_cast<const char*>(sqlite3_value_blob(argv[0])),
                                                                static_cast<size_t>(sqlite3_value_bytes(argv[0]))));
    sqlite3_result_text(context, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  } catch (const std::exception& e) {
    sqlite3_result_error(context, e.what(), -1);
  }
}

}  // namespace

bool packId(std::string_view id, std::string& out) {
  out.clear();
  if (id.size() != kUuidLength) return false;
  int high = -1;
  for (size_t i = 0; i < id.size(); ++i) {
    if (isDash(i)) {
      if (id[i] != '-') break;
      continue;
    }
    int digit = lowerHexDigit(id[i]);
    if (digit < 0) break;
    if (high < 0) {
      high = digit;
    } else {
      out.push_back(static_cast<char>((high << 4) | digit));
      high = -1;
    }
  }
  if (out.size() == 16) return true;
  out.clear();
  return false;
}

std::string packedId(std::string_view id) {
  std::string packed;
  packId(id, packed);
  return packed;
}

std::string unpackedId(std::string_view stored, bool is_blob) {
  if (!is_blob) return std::string(stored);
  if (stored.size() != 16) throw std::runtime_error("a packed id is not 16 bytes");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(kUuidLength);
  for (size_t i = 0; i < stored.size(); ++i) {
    if (id.size() == 8 || id.size() == 13 || id.size() == 18 || id.size() == 23) id.push_back('-');
    auto byte = static_cast<unsigned char>(stored[i]);
    id.push_back(kHex[byte >> 4]);
    id.push_back(kHex[byte & 0x0F]);
  }
  return id;
}

void registerStoreFunctions(sqlite3* db) {
  constexpr int kFlags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  if (sqlite3_create_function_v2(db, "packed_id", 1, kFlags, nullptr, packedIdFunction, nullptr, nullptr, nullptr) !=
          SQLITE_OK ||
      sqlite3_create_function_v2(db, "unpacked_id", 1, kFlags, nullptr, unpackedIdFunction, nullptr, nullptr,
                                 nullptr) != SQLITE_OK ||
      sqlite3_create_function_v2(db, "stored_text", 1, kFlags, nullptr, storedTextFunction, nullptr, nullptr,
                                 nullptr) != SQLITE_OK) {
    throw std::runtime_error(std::string("cannot register the store's SQL functions: ") + sqlite3_errmsg(db));
  }
}

}  // namespace ilpgw
