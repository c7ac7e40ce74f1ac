#include "http/guarded_connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace ilpgw {
namespace {

using Clock = std::chrono::steady_clock;

// A queued connection this young may simply be about to get a worker that
// is finishing (e.g. one that refused a connection over the per-peer cap).
constexpr std::chrono::milliseconds kQueueGrace{5};
// How often a keep-alive wait looks whether the server is stopping.
constexpr std::chrono::milliseconds kStopCheck{100};
constexpr size_t kReadBuffer = 4096;

void addressOf(int fd, bool remote, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  int rc = remote ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                  : ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (rc != 0) return;
  char host[NI_MAXHOST];
  char serv[NI_MAXSERV];
  if (::getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    ip = host;
    port = std::atoi(serv);
  }
}

// The address connections are counted under: an IPv4 client of a dual-stack
// listener counts as its IPv4 address.
std::string peerKey(int fd) {
  std::string ip;
  int port = 0;
  addressOf(fd, true, ip, port);
  if (ip.rfind("::ffff:", 0) == 0 && ip.find('.') != std::string::npos) ip = ip.substr(7);
  return ip;
}

int millisUntil(Clock::time_point limit) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(limit - Clock::now()).count();
  return static_cast<int>(std::max<long long>(0, left + 1));
}

// One connection's socket under its deadlines. Non-blocking throughout: every
// wait is a poll() bounded by the nearer of the per-wait timeout and the
// connection's deadline, so no sequence of small reads can outlast it.
class GuardedStream final : public httplib::Stream {
 public:
  enum class Expired { kNone, kHead, kTooSlow };

  GuardedStream(int fd, const ConnectionOptions& options, ConnectionGuard& guard)
      : fd_(fd), options_(options), limits_(guard.limits()), guard_(guard) {}

  void setSsl(SSL* ssl) { ssl_ = ssl; }
  Expired expired() const { return expired_; }

  // The head (and, on a new connection, the TLS handshake) must be complete
  // by `from` + header_timeout.
  void startHead(Clock::time_point from) {
    in_head_ = true;
    head_deadline_ = from + limits_.header_timeout;
    out_started_ = false;
  }
  void startRequest() {
    in_head_ = false;
    body_start_ = Clock::now();
    body_bytes_ = 0;
  }
  Clock::time_point headDeadline() const { return head_deadline_; }

  bool handshake() {
    for (;;) {
      ERR_clear_error();
      int rc = SSL_accept(ssl_);
      if (rc == 1) return true;
      int err = SSL_get_error(ssl_, rc);
      if (err == SSL_ERROR_WANT_READ) {
        if (!waitReadable()) return false;
      } else if (err == SSL_ERROR_WANT_WRITE) {
        if (!waitWritable()) return false;
      } else {
        return false;
      }
    }
  }

  bool hasBuffered() const { return buffer_off_ < buffer_len_ || (ssl_ != nullptr && SSL_pending(ssl_) > 0); }

  // Keep-alive: true when the next request begins before `limit`.
  bool waitForNextRequest(Clock::time_point limit, const std::atomic<int>& listener) {
    if (hasBuffered()) return true;
    for (;;) {
      if (listener.load() == INVALID_SOCKET) return false;
      auto now = Clock::now();
      if (now >= limit) return false;
      pollfd p{fd_, POLLIN, 0};
      int wait = std::min(millisUntil(limit), static_cast<int>(kStopCheck.count()));
      int rc = ::poll(&p, 1, wait);
      if (rc > 0) return true;
      if (rc < 0 && errno != EINTR) return false;
    }
  }

  bool is_readable() const override {
    if (hasBuffered()) return true;
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(options_.read_timeout.count())) > 0;
  }
  bool is_writable() const override {
    pollfd p{fd_, POLLOUT, 0};
    return ::poll(&p, 1, static_cast<int>(options_.write_timeout.count())) > 0;
  }

  // Small reads are served from a buffer: cpp-httplib reads the request head
  // one byte at a time, and a recv or SSL_read per byte costs more than the
  // rest of a request.
  ssize_t read(char* ptr, size_t size) override {
    if (expired_ != Expired::kNone) return -1;
    ssize_t n;
    if (buffer_off_ < buffer_len_) {
      n = static_cast<ssize_t>(fromBuffer(ptr, size));
    } else if (size >= kReadBuffer) {
      n = readSocket(ptr, size);
    } else {
      n = readSocket(buffer_, kReadBuffer);
      if (n > 0) {
        buffer_len_ = static_cast<size_t>(n);
        buffer_off_ = 0;
        n = static_cast<ssize_t>(fromBuffer(ptr, size));
      }
    }
    if (n > 0 && !in_head_) body_bytes_ += n;
    return n;
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (expired_ == Expired::kHead) return -1;  // no request to answer: close silently
    if (!out_started_) {
      out_started_ = true;
      out_start_ = Clock::now();
      out_bytes_ = 0;
    }
    ssize_t n = ssl_ != nullptr ? writeTls(ptr, size) : writePlain(ptr, size);
    if (n > 0) out_bytes_ += n;
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { addressOf(fd_, true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { addressOf(fd_, false, ip, port); }
  socket_t socket() const override { return fd_; }

 private:
  // The moment by which the next byte of a transfer that began at `start`
  // and has moved `bytes` must move: the average since the grace period
  // ended must stay at least min_bytes_per_s.
  Clock::time_point rateDeadline(Clock::time_point start, long long bytes) const {
    if (limits_.min_bytes_per_s <= 0) return Clock::time_point::max();
    auto allowed = std::chrono::milliseconds(bytes * 1000 / limits_.min_bytes_per_s);
    return start + limits_.rate_grace + allowed;
  }

  // Waits for `events`; false when the wait ended without them (the reason
  // is recorded when a deadline, rather than the per-wait timeout, ended it).
  bool waitFor(short events, bool reading) {
    auto now = Clock::now();
    auto per_wait = reading ? options_.read_timeout : options_.write_timeout;
    Clock::time_point limit = now + per_wait;
    Expired reason = Expired::kNone;
    Clock::time_point deadline = Clock::time_point::max();
    if (in_head_) {
      deadline = head_deadline_;
      reason = Expired::kHead;
    } else if (reading) {
      deadline = rateDeadline(body_start_, body_bytes_);
      reason = Expired::kTooSlow;
    } else if (out_started_) {
      deadline = rateDeadline(out_start_, out_bytes_);
      reason = Expired::kTooSlow;
    }
    if (deadline < limit) limit = deadline;
    for (;;) {
      pollfd p{fd_, events, 0};
      int rc = ::poll(&p, 1, millisUntil(limit));
      if (rc > 0) return true;
      if (rc < 0 && errno == EINTR) continue;
      if (rc == 0 && Clock::now() < limit) continue;
      if (rc == 0 && limit == deadline) expire(reason);
      return false;
    }
  }
  bool waitReadable() { return waitFor(POLLIN, true); }
  bool waitWritable() { return waitFor(POLLOUT, false); }

  void expire(Expired reason) {
    if (expired_ != Expired::kNone) return;
    expired_ = reason;
    if (reason == Expired::kHead) guard_.countHeadDeadline();
    else guard_.countTooSlow();
  }

  size_t fromBuffer(char* ptr, size_t size) {
    size_t n = std::min(size, buffer_len_ - buffer_off_);
    std::memcpy(ptr, buffer_ + buffer_off_, n);
    buffer_off_ += n;
    return n;
  }
  ssize_t readSocket(char* ptr, size_t size) { return ssl_ != nullptr ? readTls(ptr, size) : readPlain(ptr, size); }

  ssize_t readPlain(char* ptr, size_t size) {
    for (;;) {
      ssize_t n = ::recv(fd_, ptr, size, 0);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      if (!waitReadable()) return -1;
    }
  }

  ssize_t readTls(char* ptr, size_t size) {
    int len = static_cast<int>(std::min<size_t>(size, 1 << 30));
    for (;;) {
      ERR_clear_error();
      int n = SSL_read(ssl_, ptr, len);
      if (n > 0) return n;
      int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_ZERO_RETURN) return 0;
      if (err == SSL_ERROR_WANT_READ) {
        if (!waitReadable()) return -1;
      } else if (err == SSL_ERROR_WANT_WRITE) {
        if (!waitWritable()) return -1;
      } else {
        return -1;
      }
    }
  }

  ssize_t writePlain(const char* ptr, size_t size) {
    for (;;) {
      ssize_t n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      if (!waitWritable()) return -1;
    }
  }

  ssize_t writeTls(const char* ptr, size_t size) {
    int len = static_cast<int>(std::min<size_t>(size, 1 << 30));
    for (;;) {
      ERR_clear_error();
      int n = SSL_write(ssl_, ptr, len);
      if (n > 0) return n;
      int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_WANT_WRITE) {
        if (!waitWritable()) return -1;
      } else if (err == SSL_ERROR_WANT_READ) {
        if (!waitReadable()) return -1;
      } else {
        return -1;
      }
    }
  }

  const int fd_;
  SSL* ssl_ = nullptr;
  const ConnectionOptions& options_;
  const ConnectionLimits& limits_;
  ConnectionGuard& guard_;
  Expired expired_ = Expired::kNone;
  bool in_head_ = true;
  Clock::time_point head_deadline_;
  Clock::time_point body_start_;
  long long body_bytes_ = 0;
  bool out_started_ = false;
  Clock::time_point out_start_;
  long long out_bytes_ = 0;
  char buffer_[kReadBuffer];
  size_t buffer_off_ = 0;
  size_t buffer_len_ = 0;
};

thread_local GuardedStream* tl_stream = nullptr;

}  // namespace

bool requestBodyTooSlow() {
  return tl_stream != nullptr && tl_stream->expired() == GuardedStream::Expired::kTooSlow;
}

thread_local bool tl_close_after_response = false;

void closeAfterThisResponse() { tl_close_after_response = true; }

namespace {

// How long, and how much, a closing connection's unread request is drained.
constexpr auto kLingerFor = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 1 << 20;

// Closing a TCP socket with unread bytes, or with bytes still on the way,
// sends a reset, and a reset makes the client's kernel drop the answer it
// has not read yet. So: send FIN, then read and discard what the client
// still sends until it closes, kLingerFor passes or kLingerBytes arrived
// (what web servers call a lingering close).
void lingeringClose(int fd) {
  ::shutdown(fd, SHUT_WR);
  auto until = Clock::now() + kLingerFor;
  size_t drained = 0;
  char buffer[16384];
  while (drained < kLingerBytes) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;  // the client closed (or the connection failed)
    drained += static_cast<size_t>(n);
  }
}

}  // namespace

void serveConnection(int fd, SSL_CTX* tls, ConnectionGuard& guard, const ConnectionOptions& options,
                     const std::atomic<int>& listener, const ProcessRequest& process_request) {
  auto started = Clock::now();
  uint64_t id = listener.load() == INVALID_SOCKET ? 0 : guard.admit(fd, peerKey(fd));
  if (id == 0) {  // over the per-peer cap, or stopping: before any TLS work
    ::close(fd);
    return;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

  auto strm = std::make_unique<GuardedStream>(fd, options, guard);
  strm->startHead(started);
  SSL* ssl = nullptr;
  bool graceful = false;
  bool linger = false;  // the answer was sent without reading the whole request
  bool ready = true;
  if (tls != nullptr) {
    ssl = SSL_new(tls);
    ready = ssl != nullptr && SSL_set_fd(ssl, fd) == 1;
    if (ready) {
      SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
      strm->setSsl(ssl);
      ready = strm->handshake();
    }
  }
  if (ready) {
    tl_stream = strm.get();
    std::function<void()> head_complete = [&] {
      strm->startRequest();
      guard.setPhase(id, ConnectionPhase::kRequest);
    };
    int left = std::max(1, options.keep_alive_max_count);
    bool first = true;
    try {
      while (listener.load() != INVALID_SOCKET && left > 0) {
        if (!first) {
          // Idle: the next head must come within keep_alive_timeout and be
          // complete header_timeout after this response ended.
          auto now = Clock::now();
          strm->startHead(now);
          guard.setPhase(id, ConnectionPhase::kIdle);
          auto limit = std::min(now + options.keep_alive_timeout, strm->headDeadline());
          if (!strm->waitForNextRequest(limit, listener)) break;
          guard.setPhase(id, ConnectionPhase::kHead);
        }
        first = false;
        bool connection_closed = false;
        tl_close_after_response = false;
        graceful = process_request(*strm, left == 1, connection_closed, ssl, head_complete);
        if (tl_close_after_response) {
          linger = graceful;
          break;
        }
        if (!graceful || connection_closed || strm->expired() != GuardedStream::Expired::kNone) break;
        --left;
      }
    } catch (const std::exception& e) {
      logLine(LogLevel::kError, std::string("connection ended by an exception: ") + e.what());
      graceful = false;
    }
    tl_stream = nullptr;
  }
  if (ssl != nullptr && graceful) SSL_shutdown(ssl);  // one non-blocking attempt to send close_notify
  if (linger) lingeringClose(fd);  // still counted against the peer's connections meanwhile
  guard.release(id);  // before close: the guard must never shut down a reused descriptor
  if (ssl != nullptr) SSL_free(ssl);
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

WorkerPool::WorkerPool(size_t threads, ConnectionGuard& guard) : guard_(guard) {
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  guard_.setWaitingProbe([this] { return waitingForWorker(); });
}

WorkerPool::~WorkerPool() {
  guard_.setWaitingProbe(nullptr);
  shutdown();
}

void WorkerPool::enqueue(std::function<void()> fn) {
  bool starved = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks_.push_back(Task{std::move(fn), Clock::now()});
    starved = tasks_.size() > idle_;
  }
  cv_.notify_one();
  if (starved) guard_.wake();
}

void WorkerPool::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shutdown_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

size_t WorkerPool::waitingForWorker() {
  std::lock_guard<std::mutex> lock(mutex_);
  auto cutoff = Clock::now() - kQueueGrace;
  size_t waiting = 0;
  for (const Task& t : tasks_) {
    if (t.queued <= cutoff) ++waiting;
  }
  return waiting > idle_ ? waiting - idle_ : 0;
}

void WorkerPool::work() {
  for (;;) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ++idle_;
      cv_.wait(lock, [this] { return !tasks_.empty() || shutdown_; });
      --idle_;
      if (tasks_.empty()) return;  // shutting down, nothing left
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task.fn();
  }
}

}  // namespace ilpgw
