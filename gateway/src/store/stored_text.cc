#include "store/stored_text.h"

#include <zstd.h>

#include <memory>
#include <stdexcept>

namespace ilpgw::stored_text {
namespace {

// Level 1: half the size of a resource of about a kilobyte at a few
// microseconds; higher levels gain little on records this small.
constexpr int kLevel = 1;
// For frameShort(): below 1, zstd trades size for speed; at -5 a frame of a
// 200-byte head costs under a microsecond instead of about seven.
constexpr int kShortLevel = -5;

struct CctxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DctxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// Each kind of frame has one context per thread, reused: making one costs more
// than compressing a resource.
// Every frame carries a checksum of its text, so damage on disk is found
// when the text is read rather than passed on.
std::unique_ptr<ZSTD_CCtx, CctxFree> makeCompressor(int level) {
  std::unique_ptr<ZSTD_CCtx, CctxFree> c(ZSTD_createCCtx());
  if (c) {
    ZSTD_CCtx_setParameter(c.get(), ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(c.get(), ZSTD_c_checksumFlag, 1);
  }
  return c;
}

std::string frameWith(ZSTD_CCtx* ctx, std::string_view text) {
  if (ctx == nullptr) throw std::runtime_error("zstd: out of memory");
  std::string frame(ZSTD_compressBound(text.size()), '\0');
  size_t n = ZSTD_compress2(ctx, frame.data(), frame.size(), text.data(), text.size());
  if (ZSTD_isError(n)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(n));
  frame.resize(n);
  return frame;
}

ZSTD_DCtx* decompressor() {
  thread_local std::unique_ptr<ZSTD_DCtx, DctxFree> ctx(ZSTD_createDCtx());
  return ctx.get();
}

}  // namespace

std::string compress(std::string_view text) {
  thread_local auto ctx = makeCompressor(kLevel);
  return frameWith(ctx.get(), text);
}

std::string frameShort(std::string_view text) {
  thread_local auto ctx = makeCompressor(kShortLevel);
  return frameWith(ctx.get(), text);
}

std::string decompress(std::string_view frames) {
  // The sum over every frame; compress() always records each frame's size, so
  // anything else is not one of ours.
  unsigned long long size = 0;
  for (std::string_view rest = frames; !rest.empty();) {
    unsigned long long one = ZSTD_getFrameContentSize(rest.data(), rest.size());
    size_t frame_bytes = ZSTD_findFrameCompressedSize(rest.data(), rest.size());
    if (one == ZSTD_CONTENTSIZE_ERROR || one == ZSTD_CONTENTSIZE_UNKNOWN || ZSTD_isError(frame_bytes)) {
      throw std::runtime_error("stored text is damaged (not zstd frames with their sizes)");
    }
    size += one;
    if (size > (1ull << 31)) throw std::runtime_error("stored text is damaged (larger than 2 GiB)");
    rest.remove_prefix(frame_bytes);
  }
  if (frames.empty()) throw std::runtime_error("stored text is damaged (empty)");
  ZSTD_DCtx* ctx = decompressor();
  if (ctx == nullptr) throw std::runtime_error("zstd: out of memory");
  std::string text(size, '\0');
  size_t n = ZSTD_decompressDCtx(ctx, text.data(), text.size(), frames.data(), frames.size());
  if (ZSTD_isError(n) || n != size) {
    throw std::runtime_error(std::string("stored text is damaged: ") +
                             (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "size differs"));
  }
  return text;
}

}  // namespace ilpgw::stored_text
