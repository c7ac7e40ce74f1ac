#include "store/stored_text.h"

#include <zstd.h>

#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "store/stored_text_dictionaries.h"

namespace ilpgw::stored_text {
namespace {

// Level 1 with the dictionary: a resource of about 900 bytes becomes about
// 200 (about 550 without it) in about a third of the time, because the
// dictionary carries the entropy tables a frame this small would otherwise
// build for itself.
constexpr int kLevel = 1;

struct CctxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DctxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};
struct CdictFree {
  void operator()(ZSTD_CDict* c) const { ZSTD_freeCDict(c); }
};
struct DdictFree {
  void operator()(ZSTD_DDict* d) const { ZSTD_freeDDict(d); }
};

// The compiled-in dictionaries, digested once for the process and shared by
// every thread (zstd's digested dictionaries are read-only).
class Dictionaries {
 public:
  static const Dictionaries& get() {
    static const Dictionaries dictionaries;
    return dictionaries;
  }
  const ZSTD_CDict* current() const { return current_.get(); }
  // nullptr when `id` is none of ours.
  const ZSTD_DDict* find(unsigned id) const {
    for (const auto& [known, ddict] : ddicts_) {
      if (known == id) return ddict.get();
    }
    return nullptr;
  }

 private:
  Dictionaries() {
    for (size_t i = 0; i < kDictionaryCount; ++i) {
      const StoredDictionary& d = kDictionaries[i];
      ddicts_.emplace_back(d.id, std::unique_ptr<ZSTD_DDict, DdictFree>(ZSTD_createDDict(d.bytes, d.size)));
      if (d.id == kCurrentDictionary) current_.reset(ZSTD_createCDict(d.bytes, d.size, kLevel));
    }
  }
  std::unique_ptr<ZSTD_CDict, CdictFree> current_;
  std::vector<std::pair<unsigned, std::unique_ptr<ZSTD_DDict, DdictFree>>> ddicts_;
};

// One compression and one decompression context per thread, reused: making
// one costs more than compressing a resource. Every frame carries a checksum
// of its text, so damage on disk is found when the text is read rather than
// passed on.
ZSTD_CCtx* compressor() {
  thread_local std::unique_ptr<ZSTD_CCtx, CctxFree> ctx = [] {
    std::unique_ptr<ZSTD_CCtx, CctxFree> c(ZSTD_createCCtx());
    const ZSTD_CDict* dictionary = Dictionaries::get().current();
    if (c && dictionary != nullptr) {
      ZSTD_CCtx_setParameter(c.get(), ZSTD_c_checksumFlag, 1);
      ZSTD_CCtx_refCDict(c.get(), dictionary);  // kept for every frame of this context
      return c;
    }
    return std::unique_ptr<ZSTD_CCtx, CctxFree>();
  }();
  return ctx.get();
}

ZSTD_DCtx* decompressor() {
  thread_local std::unique_ptr<ZSTD_DCtx, DctxFree> ctx(ZSTD_createDCtx());
  return ctx.get();
}

}  // namespace

std::string compress(std::string_view text) {
  ZSTD_CCtx* ctx = compressor();
  if (ctx == nullptr) throw std::runtime_error("zstd: out of memory");
  std::string frame(ZSTD_compressBound(text.size()), '\0');
  size_t n = ZSTD_compress2(ctx, frame.data(), frame.size(), text.data(), text.size());
  if (ZSTD_isError(n)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(n));
  frame.resize(n);
  return frame;
}

namespace {

// The text size and the compressed length of the frame at the start of
// `rest`; compress() always records the size, so a frame without it is not
// one of ours.
std::pair<unsigned long long, size_t> frameAt(std::string_view rest) {
  unsigned long long size = ZSTD_getFrameContentSize(rest.data(), rest.size());
  size_t bytes = ZSTD_findFrameCompressedSize(rest.data(), rest.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || ZSTD_isError(bytes)) {
    throw std::runtime_error("stored text is damaged (not zstd frames with their sizes)");
  }
  return {size, bytes};
}

}  // namespace

std::string decompress(std::string_view frames) {
  if (frames.empty()) throw std::runtime_error("stored text is damaged (empty)");
  unsigned long long total = 0;  // the text's size, summed over the frames first
  for (std::string_view rest = frames; !rest.empty();) {
    auto [size, bytes] = frameAt(rest);
    total += size;
    if (total > (1ull << 31)) throw std::runtime_error("stored text is damaged (larger than 2 GiB)");
    rest.remove_prefix(bytes);
  }
  ZSTD_DCtx* ctx = decompressor();
  if (ctx == nullptr) throw std::runtime_error("zstd: out of memory");
  std::string text(total, '\0');
  size_t at = 0;
  for (std::string_view rest = frames; !rest.empty();) {
    auto [size, bytes] = frameAt(rest);
    // Frames written before the dictionary name none (id 0).
    unsigned id = ZSTD_getDictID_fromFrame(rest.data(), bytes);
    size_t n = 0;
    if (id == 0) {
      n = ZSTD_decompressDCtx(ctx, text.data() + at, size, rest.data(), bytes);
    } else if (const ZSTD_DDict* dictionary = Dictionaries::get().find(id)) {
      n = ZSTD_decompress_usingDDict(ctx, text.data() + at, size, rest.data(), bytes, dictionary);
    } else {
      throw std::runtime_error("stored text was written with zstd dictionary " + std::to_string(id) +
                               ", which this ilp-gateway does not have; upgrade ilp-gateway");
    }
    if (ZSTD_isError(n) || n != size) {
      throw std::runtime_error(std::string("stored text is damaged: ") +
                               (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "size differs"));
    }
    at += n;
    rest.remove_prefix(bytes);
  }
  return text;
}

}  // namespace ilpgw::stored_text
