// One accepted connection served to its end under the ConnectionGuard's
// limits, and the worker pool cpp-httplib hands connections to. The server
// subclass (server.cc) overrides cpp-httplib's per-connection loop with
// serveConnection(): the TLS handshake, the keep-alive loop and every socket
// read and write are ours (non-blocking, with whole-head and minimum-rate
// deadlines instead of cpp-httplib's per-read timeout); parsing, routing and
// writing the response stay cpp-httplib's (Server::process_request).
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

#include "http/connection_guard.h"

namespace ilpgw {

struct ConnectionOptions {
  std::chrono::milliseconds read_timeout{10000};   // any single wait for bytes
  std::chrono::milliseconds write_timeout{10000};  // any single wait to send
  std::chrono::milliseconds keep_alive_timeout{5000};
  int keep_alive_max_count = 10000;
};

// process_request of the cpp-httplib server: (stream, close_connection,
// connection_closed, ssl, head_complete) -> keep the connection?
// head_complete must be called from the request set-up callback.
using ProcessRequest =
    std::function<bool(httplib::Stream&, bool, bool&, SSL*, const std::function<void()>& head_complete)>;

// Serves `fd` until the client leaves, a limit closes it, or `listener`
// becomes invalid (server stopping), then closes it. `tls` null: plain HTTP.
void serveConnection(int fd, SSL_CTX* tls, ConnectionGuard& guard, const ConnectionOptions& options,
                     const std::atomic<int>& listener, const ProcessRequest& process_request);

// True on a worker whose current request body arrived too slowly: the error
// handler answers 408 instead of cpp-httplib's 400.
bool requestBodyTooSlow();

// Called by a handler that answers without reading the request body (a
// refusal before routing): the connection ends after this response, and the
// unread body is drained before the socket is closed, so the client reads
// the answer instead of a connection reset. (A body that arrives too slowly
// is not drained: that client is closed at once.)
void closeAfterThisResponse();

// A fixed pool of workers, like httplib::ThreadPool, that also tells the
// guard how many accepted connections wait for a worker.
class WorkerPool final : public httplib::TaskQueue {
 public:
  WorkerPool(size_t threads, ConnectionGuard& guard);
  ~WorkerPool() override;
  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

 private:
  struct Task {
    std::function<void()> fn;
    std::chrono::steady_clock::time_point queued;
  };
  void work();
  size_t waitingForWorker();

  ConnectionGuard& guard_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;
  size_t idle_ = 0;
  bool shutdown_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ilpgw
